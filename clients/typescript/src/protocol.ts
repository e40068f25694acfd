// The methods of `indexer serve` (registered in server/*_methods.cpp; `indexer methods` lists them), their params and
// results, as the server sends them. Lines and columns are 1-based; columns count UTF-8 bytes.
// Paths are relative to the served root.

/** LSP SymbolKind names in lower case, plus `macro` and `typealias`. */
export type SymbolKind =
  | 'file' | 'module' | 'namespace' | 'package' | 'class' | 'method' | 'property' | 'field'
  | 'constructor' | 'enum' | 'interface' | 'function' | 'variable' | 'constant' | 'string'
  | 'number' | 'boolean' | 'array' | 'object' | 'key' | 'null' | 'enummember' | 'struct' | 'event'
  | 'operator' | 'typeparameter' | 'macro' | 'typealias';

/** Language names; the server also takes aliases (`py`, `ts`, `c++`, `sh`, ...). */
export type Language =
  | 'python' | 'javascript' | 'typescript' | 'tsx' | 'go' | 'rust' | 'c' | 'cpp' | 'java'
  | 'csharp' | 'ruby' | 'php' | 'bash';

export interface SymbolInfo {
  name: string;
  kind: SymbolKind;
  /** The container chain, `pkg.Class` or `ns::Type`; empty at the top level. */
  container: string;
  language: Language;
  path: string;
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  /** Where the name itself starts. */
  selection_line: number;
  selection_column: number;
  /** The definition up to its body, whitespace collapsed. */
  signature: string;
}

export type MatchTier = 'exact' | 'prefix' | 'substring' | 'fuzzy' | 'scattered';

export interface SearchHit extends SymbolInfo {
  score: number;
  match: MatchTier;
}

export interface OutlineNode extends SymbolInfo {
  children: OutlineNode[];
}

export interface IndexStatus {
  root: string;
  files: number;
  symbols: number;
  memory_bytes: number;
  unsaved_changes: boolean;
}

export interface InitializeResult {
  server: string;
  version: string;
  methods: string[];
  /** `{status: "indexing"}` while the first index is being built. */
  index: IndexStatus | { status: 'indexing' };
}

export interface RefreshParams {
  /** Paths relative to the root; without them, a rescan of the whole tree. */
  paths?: string[];
}
export interface RefreshResult {
  changes: number;
  milliseconds: number;
}
export interface SnapshotResult {
  milliseconds: number;
}

export interface SearchParams {
  /** A name, maybe qualified (`Class.method`, `ns::fn`, `dir/file.py:name`) or several words. */
  pattern: string;
  /** One kind, a comma-separated list, or an array. */
  kind?: SymbolKind | SymbolKind[] | string;
  lang?: Language | Language[] | string;
  /** A glob over paths, `.gitignore` syntax. */
  path?: string;
  /** Default 50, at most 10,000. */
  limit?: number;
}

export interface OutlineParams {
  path: string;
}

/** By name, or the identifier at a position of a file (1-based, UTF-8 byte column). */
export type DefinitionParams = { name: string } | { path: string; line: number; column: number };

export interface GraphNodeParams {
  /** A file of the tree, or an external module (`react`, `external:net/http`). */
  path: string;
}
export interface GraphDepthParams extends GraphNodeParams {
  /** 1: direct only; unlimited by default. */
  depth?: number;
}
export interface GraphPathParams {
  from: string;
  to: string;
}

export interface ImportEdge {
  path: string;
  external: boolean;
  /** The line of the first import. */
  line: number;
}
export interface DependencyNode {
  path: string;
  external: boolean;
  depth: number;
}
export interface ImportCycle {
  files: string[];
  /** One loop through the first file, ending where it starts. */
  example: string[];
}

export interface AuthenticateParams {
  token: string;
}

/** The tokenizers: OpenAI's encodings, ids identical to tiktoken's (o200k_base is the default). */
export type TokenEncoding = 'o200k_base' | 'cl100k_base';
export interface TokensTextParams {
  /** At most 16 MiB. Special tokens such as `<|endoftext|>` count as the plain text they are. */
  text: string;
  encoding?: TokenEncoding;
}
export interface TokensCountResult {
  count: number;
  encoding: TokenEncoding;
}
export interface TokensEncodeResult {
  tokens: number[];
  encoding: TokenEncoding;
}
export interface TokensDecodeParams {
  tokens: number[];
  encoding?: TokenEncoding;
}
export interface TokensDecodeResult {
  /** Ids that end inside a character give U+FFFD there, and `valid_utf8` false. */
  text: string;
  valid_utf8: boolean;
}
export interface TokensSplitParams extends TokensTextParams {
  /** Each chunk counts at most this many tokens on its own (at least 1). */
  max_tokens: number;
}
export interface TokenChunk {
  text: string;
  tokens: number;
  /** UTF-8 byte offsets into the text. */
  begin: number;
  end: number;
}
export interface TokensSplitResult {
  chunks: TokenChunk[];
  encoding: TokenEncoding;
}

export type MessageKind = 'system' | 'instruction' | 'user' | 'assistant' | 'tool_call' | 'tool_output' | 'file' | 'other';
export interface ContextMessage {
  role: string;
  content: string;
  /** Else from the role (`tool` is `tool_output`). System messages, instructions and pinned ones are never touched. */
  kind?: MessageKind;
  pinned?: boolean;
  /** For `file`: which file it holds (two reads of one file make the older a diff or a marker). */
  path?: string;
}
export interface CompactParams {
  messages: ContextMessage[];
  /** Tokens the answer may count (the sum of its contents), exactly. */
  budget: number;
  encoding?: TokenEncoding;
}
export interface CompactChange {
  /** The index of the input message. */
  message: number;
  strategy: 'repeat' | 'fold' | 'reread' | 'outline' | 'cut' | 'drop';
  /** `context/expand {handle}` gives the removed bytes back. */
  handle: string;
  /** Lines removed under this handle: a step that elided several spans has an entry for each. */
  lines: number;
  /** The message's tokens before and after the step, the same on each entry of one step. */
  tokens_before: number;
  tokens_after: number;
}
export interface CompactResult {
  messages: (ContextMessage & { kind: MessageKind })[];
  manifest: CompactChange[];
  tokens_before: number;
  tokens_after: number;
}
export interface ExpandResult {
  text: string;
  valid_utf8: boolean;
}
export interface RepoMapParams {
  /** Tokens, default 2048. */
  budget?: number;
  encoding?: TokenEncoding;
  /** Paths or symbol names to lead with. */
  focus?: string[];
}
export interface RepoMapResult {
  text: string;
  tokens: number;
  files: number;
  symbols: number;
}
export interface DiffTextParams {
  old: string;
  new: string;
  /** Unchanged lines around each change (default 3). */
  context?: number;
  /** Fill each hunk's `words` with the changed byte ranges of its changed line pairs. */
  words?: boolean;
  /** The names on the `---` and `+++` lines (default "old" and "new"; git apply wants a/... and b/...). */
  old_name?: string;
  new_name?: string;
}
/** Bytes [begin, end) of a line, from its first byte; never its terminator. */
export type ByteRange = [begin: number, end: number];
export interface WordChange {
  old_line: number;
  new_line: number;
  old: ByteRange[];
  new: ByteRange[];
}
export interface DiffHunk {
  /** As the @@ header writes them: 1-based, or the line before when the count is 0. */
  old_start: number;
  old_lines: number;
  new_start: number;
  new_lines: number;
  words?: WordChange[];
}
export interface DiffTextResult {
  /** What patch and git apply take; "" when identical. */
  unified: string;
  hunks: DiffHunk[];
  identical: boolean;
  /** The time budget ran out: some region is replaced whole (still exact). */
  coarse: boolean;
  stats: { added: number; removed: number };
}

/** sandbox/check: exactly one of a path (with its access), a URL or a command line. */
export type SandboxCheckParams =
  | { path: string; access?: 'read' | 'write' }
  | { url: string; method?: string }
  | { command: string };
export type ViolationKind = 'path' | 'url' | 'command' | 'network' | 'limit' | 'run';
export interface SandboxCheckResult {
  allowed: boolean;
  /** Always said, allowed or not. */
  reason: string;
  kind: ViolationKind;
}
export interface SandboxPolicyResult {
  name: string;
  /** The served root: relative paths are judged from it. */
  workspace: string;
  /** Every field of the policy, as `indexer policy show` prints it. */
  policy: Record<string, unknown>;
}
export interface SandboxViolationsParams {
  /** 1 to 1000; default 100. */
  limit?: number;
  /** The last `seq` already read: only later ones are answered. */
  since?: number;
}
export interface Violation {
  seq: number;
  time_ms: number;
  kind: ViolationKind;
  subject: string;
  reason: string;
  /** Who refused: `sandbox/check`, `proxy`, `executor`, `exec/run` ... */
  source: string;
}
export interface SandboxViolationsResult {
  violations: Violation[];
  /** The newest seq so far: pass it as `since` to read only what comes after. */
  last: number;
  /** Refusals after `since` that fell off the bounded log before this read. */
  dropped: number;
  counts: Record<ViolationKind, number>;
}

/** exec/run: code in a language, or a command line, run in the server's sandbox. */
export interface ExecRunParams {
  /** python, javascript, c, cpp, rust, bash (or a Judge0 `language_id`). */
  language?: string;
  language_id?: number;
  source_code?: string;
  /** A command line run by bash in the job's workspace, under the server's policy. */
  command?: string;
  stdin?: string;
  args?: string[];
  /** Files beside the source: relative path to content. */
  files?: Record<string, string>;
  /** Seconds. */
  cpu_time_limit?: number;
  wall_time_limit?: number;
  /** Kilobytes, as Judge0. */
  memory_limit?: number;
  policy?: string;
  /** The job's id (made by the client when absent, so its output can be told apart). */
  id?: string;
}
export type ExecStatus =
  | 'queued' | 'running' | 'completed' | 'compile_error' | 'runtime_error' | 'timeout'
  | 'memory_limit' | 'output_limit' | 'cancelled' | 'internal_error';
export interface ExecResult {
  id: string;
  status: ExecStatus;
  language?: string;
  stdout?: string;
  stderr?: string;
  compile_output?: string;
  exit_code?: number | null;
  signal?: number | null;
  /** CPU seconds. */
  time?: number;
  wall_time?: number;
  /** Peak kilobytes. */
  memory?: number;
  message?: string;
  created_at?: number;
  finished_at?: number;
}
/** exec/output: a run's output as it arrives, in order, never split inside a UTF-8 sequence. */
export interface ExecOutput {
  id: string;
  stream: 'stdout' | 'stderr';
  data: string;
}
export interface ExecCancelResult {
  id: string;
  cancelled: boolean;
  status: ExecStatus;
}

/** Every request method: its params and its result. */
export interface Methods {
  initialize: { params: Record<string, never>; result: InitializeResult };
  'index/status': { params: Record<string, never>; result: IndexStatus };
  'index/refresh': { params: RefreshParams; result: RefreshResult };
  'index/snapshot': { params: Record<string, never>; result: SnapshotResult };
  'symbols/search': { params: SearchParams; result: SearchHit[] };
  'symbols/outline': { params: OutlineParams; result: OutlineNode[] };
  'symbols/definition': { params: DefinitionParams; result: SymbolInfo[] };
  'graph/imports': { params: GraphNodeParams; result: ImportEdge[] };
  'graph/importers': { params: GraphNodeParams; result: ImportEdge[] };
  'graph/deps': { params: GraphDepthParams; result: DependencyNode[] };
  'graph/dependents': { params: GraphDepthParams; result: DependencyNode[] };
  /** Node names, externals prefixed `external:`; null when there is no chain. */
  'graph/path': { params: GraphPathParams; result: string[] | null };
  'graph/cycles': { params: Record<string, never>; result: ImportCycle[] };
  'index/subscribe': { params: Record<string, never>; result: true };
  'index/unsubscribe': { params: Record<string, never>; result: true };
  authenticate: { params: AuthenticateParams; result: true };
  'tokens/count': { params: TokensTextParams; result: TokensCountResult };
  'tokens/encode': { params: TokensTextParams; result: TokensEncodeResult };
  'tokens/decode': { params: TokensDecodeParams; result: TokensDecodeResult };
  'tokens/split': { params: TokensSplitParams; result: TokensSplitResult };
  'context/compact': { params: CompactParams; result: CompactResult };
  'context/expand': { params: { handle: string }; result: ExpandResult };
  'context/repoMap': { params: RepoMapParams; result: RepoMapResult };
  'diff/text': { params: DiffTextParams; result: DiffTextResult };
  'exec/run': { params: ExecRunParams; result: ExecResult };
  'exec/status': { params: { id: string }; result: ExecResult };
  'exec/cancel': { params: { id: string }; result: ExecCancelResult };
  'sandbox/check': { params: SandboxCheckParams; result: SandboxCheckResult };
  'sandbox/policy': { params: Record<string, never>; result: SandboxPolicyResult };
  'sandbox/violations': { params: SandboxViolationsParams; result: SandboxViolationsResult };
}
export type MethodName = keyof Methods;

/**
 * Every method of the table, at run time. `tsc` fails when this list and `Methods` differ, and a
 * test fails when the server registers a method this client lacks, or the other way round.
 */
export const methodNames = [
  'initialize', 'index/status', 'index/refresh', 'index/snapshot', 'symbols/search', 'symbols/outline',
  'symbols/definition', 'graph/imports', 'graph/importers', 'graph/deps', 'graph/dependents', 'graph/path',
  'graph/cycles', 'index/subscribe', 'index/unsubscribe', 'authenticate',
  'tokens/count', 'tokens/encode', 'tokens/decode', 'tokens/split',
  'context/compact', 'context/expand', 'context/repoMap',
  'diff/text',
  'exec/run', 'exec/status', 'exec/cancel',
  'sandbox/check', 'sandbox/policy', 'sandbox/violations',
] as const satisfies readonly MethodName[];
type Unlisted = Exclude<MethodName, (typeof methodNames)[number]>;
const everyMethodListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyMethodListed;

export interface FileChange {
  path: string;
  change: 'indexed' | 'removed' | 'skipped';
  /** For `indexed`. */
  symbols?: number;
  /** For `skipped`: binary, too-large, minified, unreadable, vanished, symlink, special, ... */
  reason?: string;
}

/** The params of `index/didChange`, sent to subscribed connections after each re-index. */
export interface DidChangeEvent {
  changes: FileChange[];
  milliseconds: number;
}

/** The value of `$/progress` {token: "indexing"} while the first index is built. */
export interface ProgressValue {
  kind: 'report' | 'end';
  percentage?: number;
  message?: string;
}
export interface ProgressEvent {
  token: string;
  value: ProgressValue;
}

/** JSON-RPC and server error codes. */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Not authenticated: `authenticate {token}` first (the server then closes the connection). */
  Unauthenticated: -32000,
  /** More than 256 requests pending on one connection. */
  TooManyPending: -32001,
  ServerNotReady: -32002,
  RequestCancelled: -32800,
} as const;
