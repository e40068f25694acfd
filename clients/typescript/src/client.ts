// A client of `indexer serve`: JSON-RPC 2.0 over one WebSocket, one message per text frame, on
// TCP (ws://HOST:PORT) or a Unix socket (unix:/path, a server started with --listen unix:PATH).
//
// Each connection starts with a handshake (authenticate when the token goes as a message, then
// initialize, then index/subscribe when someone listens for changes), so a wrong token or a
// server that is not indexer fails connect() at once. When an open connection drops, the client
// reconnects with jittered exponential backoff and repeats the handshake.
//
// Requests are queued and sent while the connection is open, at most `maxInFlight` unanswered at
// a time (the server answers the 257th pending one with -32001). A request issued while
// disconnected waits in the queue for the reconnect, bounded by its own timeout; a request already
// sent when the connection dropped fails with ConnectionError, since its answer is lost (every
// method is safe to call again). A timeout or an abort rejects the promise at once and, if the
// request was sent, sends `$/cancelRequest`; the server's -32800 answer is then dropped.
import { connect as netConnect } from 'node:net';

import WebSocket from 'ws';

import { AbortError, ConnectionError, RpcError, TimeoutError } from './errors.js';
import { ErrorCodes } from './protocol.js';
import type {
  AuthenticateParams,
  DefinitionParams,
  DependencyNode,
  DidChangeEvent,
  DiffTextParams,
  DiffTextResult,
  ExecCancelResult,
  ExecOutput,
  ExecResult,
  ExecRunParams,
  GraphDepthParams,
  GraphNodeParams,
  GraphPathParams,
  ImportCycle,
  ImportEdge,
  IndexStatus,
  InitializeResult,
  MethodName,
  Methods,
  OutlineNode,
  OutlineParams,
  ProgressEvent,
  RefreshParams,
  RefreshResult,
  SearchHit,
  SearchParams,
  SnapshotResult,
  SymbolInfo,
  TokensCountResult,
  TokensDecodeParams,
  TokensDecodeResult,
  TokensEncodeResult,
  TokensSplitParams,
  TokensSplitResult,
  TokensTextParams,
  CompactParams,
  CompactResult,
  ExpandResult,
  RepoMapParams,
  RepoMapResult,
  SandboxCheckParams,
  SandboxCheckResult,
  SandboxPolicyResult,
  SandboxViolationsParams,
  SandboxViolationsResult,
} from './protocol.js';

export interface ReconnectOptions {
  /** The first delay, in ms (default 100). */
  initialDelay?: number;
  /** The cap on any delay, in ms (default 5000). */
  maxDelay?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Failed attempts in a row before giving up and closing the client (default: never give up). */
  maxAttempts?: number;
}

export interface ConnectOptions {
  /** For a server started with --token. */
  token?: string;
  /** How the token is sent: an `Authorization: Bearer` header (default) or an `authenticate` message. */
  tokenVia?: 'header' | 'message';
  /** Reconnect after an open connection drops (default true). */
  reconnect?: boolean | ReconnectOptions;
  /** The default per-request timeout in ms (default 10,000; 0: none). */
  timeout?: number;
  /** The bound on each connection attempt, open and handshake, in ms (default 10,000). */
  connectTimeout?: number;
  /** Unanswered requests on the wire at once (default 256, the server's per-connection limit). */
  maxInFlight?: number;
  /** Extra headers for the upgrade request. */
  headers?: Record<string, string>;
  /** Sees every message sent and received, as text. */
  trace?: (direction: 'send' | 'receive', message: string) => void;
}

export interface CallOptions {
  /** Overrides the client's default timeout, in ms; 0: none. */
  timeout?: number;
  /** Aborting rejects the call with AbortError and cancels it on the server. */
  signal?: AbortSignal;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface Disposable {
  dispose(): void;
}

export interface Subscription {
  /** Settles once the server has acknowledged index/subscribe on the current connection. */
  readonly ready: Promise<void>;
  /** Stops the callback; the last one to go sends index/unsubscribe. */
  dispose(): Promise<void>;
}

interface Call {
  id: number;
  method: string;
  params: unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  settled: boolean;
  socket?: WebSocket;  // the one it was sent on
  handshake: boolean;
  timer?: NodeJS.Timeout;
  cleanup?: () => void;
}

type Incoming = { jsonrpc?: string; id?: number | string | null; method?: string; params?: any; result?: unknown; error?: { code: number; message: string; data?: unknown } };

export class IndexerClient {
  private ws?: WebSocket;
  private stateValue: ConnectionState = 'connecting';
  private nextId = 1;
  private readonly queue: Call[] = [];
  private readonly inFlight = new Map<number, Call>();
  private readonly changeListeners = new Set<(e: DidChangeEvent) => void>();
  private readonly progressListeners = new Set<(e: ProgressEvent) => void>();
  private readonly outputListeners = new Map<string, (o: ExecOutput) => void>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private subscribed?: Promise<void>;
  private attempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private closedError?: Error;
  private serverInfo?: InitializeResult;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxInFlight: number;
  private readonly reconnect: Required<ReconnectOptions> | null;

  /** Use connect(), which also opens the first connection. */
  constructor(
    readonly url: string,
    private readonly options: ConnectOptions = {},
  ) {
    this.timeoutMs = options.timeout ?? 10_000;
    this.connectTimeoutMs = options.connectTimeout ?? 10_000;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 256);
    const r = options.reconnect ?? true;
    this.reconnect = r === false ? null : {
      initialDelay: 100, maxDelay: 5000, factor: 2, maxAttempts: Infinity, ...(r === true ? {} : r),
    };
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** What the last handshake's initialize answered. */
  get server(): InitializeResult | undefined {
    return this.serverInfo;
  }

  /** Opens the first connection; rejects when it cannot be made (no retry for the first one). */
  async start(): Promise<this> {
    try {
      await this.establish();
    } catch (e) {
      this.shutdown(e instanceof Error ? e : new ConnectionError(String(e)));
      throw e;
    }
    return this;
  }

  // The typed methods.
  initialize(options?: CallOptions): Promise<InitializeResult> {
    return this.request('initialize', {}, options);
  }
  status(options?: CallOptions): Promise<IndexStatus> {
    return this.request('index/status', {}, options);
  }
  refresh(params: RefreshParams = {}, options?: CallOptions): Promise<RefreshResult> {
    return this.request('index/refresh', params, options);
  }
  snapshot(options?: CallOptions): Promise<SnapshotResult> {
    return this.request('index/snapshot', {}, options);
  }
  search(params: SearchParams | string, options?: CallOptions): Promise<SearchHit[]> {
    return this.request('symbols/search', typeof params === 'string' ? { pattern: params } : params, options);
  }
  outline(params: OutlineParams, options?: CallOptions): Promise<OutlineNode[]> {
    return this.request('symbols/outline', params, options);
  }
  definition(params: DefinitionParams, options?: CallOptions): Promise<SymbolInfo[]> {
    return this.request('symbols/definition', params, options);
  }
  imports(params: GraphNodeParams, options?: CallOptions): Promise<ImportEdge[]> {
    return this.request('graph/imports', params, options);
  }
  importers(params: GraphNodeParams, options?: CallOptions): Promise<ImportEdge[]> {
    return this.request('graph/importers', params, options);
  }
  deps(params: GraphDepthParams, options?: CallOptions): Promise<DependencyNode[]> {
    return this.request('graph/deps', params, options);
  }
  dependents(params: GraphDepthParams, options?: CallOptions): Promise<DependencyNode[]> {
    return this.request('graph/dependents', params, options);
  }
  path(params: GraphPathParams, options?: CallOptions): Promise<string[] | null> {
    return this.request('graph/path', params, options);
  }
  cycles(options?: CallOptions): Promise<ImportCycle[]> {
    return this.request('graph/cycles', {}, options);
  }
  /** Tokens as tiktoken counts them; answered while the index is still being built. */
  countTokens(params: TokensTextParams | string, options?: CallOptions): Promise<TokensCountResult> {
    return this.request('tokens/count', typeof params === 'string' ? { text: params } : params, options);
  }
  encodeTokens(params: TokensTextParams | string, options?: CallOptions): Promise<TokensEncodeResult> {
    return this.request('tokens/encode', typeof params === 'string' ? { text: params } : params, options);
  }
  decodeTokens(params: TokensDecodeParams, options?: CallOptions): Promise<TokensDecodeResult> {
    return this.request('tokens/decode', params, options);
  }
  splitTokens(params: TokensSplitParams, options?: CallOptions): Promise<TokensSplitResult> {
    return this.request('tokens/split', params, options);
  }
  /** The messages made to fit `budget` tokens; what is elided stays retrievable with expand(). */
  compact(params: CompactParams, options?: CallOptions): Promise<CompactResult> {
    return this.request('context/compact', params, options);
  }
  expand(handle: string, options?: CallOptions): Promise<ExpandResult> {
    return this.request('context/expand', { handle }, options);
  }
  repoMap(params: RepoMapParams = {}, options?: CallOptions): Promise<RepoMapResult> {
    return this.request('context/repoMap', params, options);
  }
  /** The server's sandbox policy on one file access, URL or command line, before acting on it. */
  checkSandbox(params: SandboxCheckParams, options?: CallOptions): Promise<SandboxCheckResult> {
    return this.request('sandbox/check', params, options);
  }
  /** checkFileAccess, checkNetworkRequest and checkCommand, as agent runtimes' policy layers name them. */
  checkFileAccess(path: string, access: 'read' | 'write' = 'read', options?: CallOptions): Promise<SandboxCheckResult> {
    return this.checkSandbox({ path, access }, options);
  }
  checkNetworkRequest(url: string, method?: string, options?: CallOptions): Promise<SandboxCheckResult> {
    return this.checkSandbox(method === undefined ? { url } : { url, method }, options);
  }
  checkCommand(command: string, options?: CallOptions): Promise<SandboxCheckResult> {
    return this.checkSandbox({ command }, options);
  }
  sandboxPolicy(options?: CallOptions): Promise<SandboxPolicyResult> {
    return this.request('sandbox/policy', {}, options);
  }
  /** The refusals the server answered (bounded log), oldest first after `since`. */
  violations(params: SandboxViolationsParams = {}, options?: CallOptions): Promise<SandboxViolationsResult> {
    return this.request('sandbox/violations', params, options);
  }
  /**
   * Runs code (or a command line) in the server's sandbox: `output` yields each exec/output as it
   * arrives and ends when the run does; `result` is the run's answer. Aborting the signal kills the
   * run ($/cancelRequest). The default timeout is the run's own wall time plus a margin.
   */
  run(params: ExecRunParams, options: CallOptions = {}): { id: string; output: AsyncIterable<ExecOutput>; result: Promise<ExecResult> } {
    const id = params.id ?? `ts-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const pending: ExecOutput[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    this.outputListeners.set(id, (o) => {
      pending.push(o);
      wake?.();
    });
    const timeout = options.timeout ?? ((params.wall_time_limit ?? 120) * 1000 + 30_000);
    const result = this.request('exec/run', { ...params, id }, { ...options, timeout }).finally(() => {
      ended = true;
      this.outputListeners.delete(id);
      wake?.();
    });
    result.catch(() => undefined);  // the caller sees it through `result`; an unread one is not unhandled
    const output: AsyncIterable<ExecOutput> = {
      async *[Symbol.asyncIterator]() {
        for (;;) {
          while (pending.length) yield pending.shift()!;
          if (ended) return;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
    };
    return { id, output, result };
  }
  execStatus(id: string, options?: CallOptions): Promise<ExecResult> {
    return this.request('exec/status', { id }, options);
  }
  execCancel(id: string, options?: CallOptions): Promise<ExecCancelResult> {
    return this.request('exec/cancel', { id }, options);
  }
  /** A line diff of two texts: `unified` is what patch and git apply take. Needs no index. */
  diff(params: DiffTextParams, options?: CallOptions): Promise<DiffTextResult> {
    return this.request('diff/text', params, options);
  }
  /** Only needed by hand on a connection opened without a token; connect() sends it itself. */
  authenticate(params: AuthenticateParams, options?: CallOptions): Promise<true> {
    return this.request('authenticate', params, options);
  }

  /** Any method of the Methods table by name, with its params and result types. */
  request<M extends MethodName>(method: M, params: Methods[M]['params'], options?: CallOptions): Promise<Methods[M]['result']> {
    return this.rawRequest(method, params, options) as Promise<Methods[M]['result']>;
  }

  /** Any method at all, untyped: for methods newer than this client. */
  rawRequest(method: string, params: unknown = {}, options: CallOptions = {}): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(new ConnectionError(`${method}: the client is closed`, { cause: this.closedError }));
      const signal = options.signal;
      if (signal?.aborted) return reject(new AbortError(`${method}: aborted`, { cause: signal.reason }));
      const call: Call = { id: this.nextId++, method, params, resolve, reject, settled: false, handshake: false };
      const timeout = options.timeout ?? this.timeoutMs;
      if (timeout > 0) call.timer = setTimeout(() => this.giveUp(call, new TimeoutError(method, timeout)), timeout);
      if (signal) {
        const onAbort = () => this.giveUp(call, new AbortError(`${method}: aborted`, { cause: signal.reason }));
        signal.addEventListener('abort', onAbort, { once: true });
        call.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(call);
      this.pump();
    });
  }

  /**
   * Calls `listener` with each `index/didChange` (files re-indexed, removed or skipped). The first
   * listener sends index/subscribe; every reconnect subscribes again while any listener is left.
   */
  onDidChange(listener: (event: DidChangeEvent) => void): Subscription {
    this.changeListeners.add(listener);
    if (!this.subscribed) {
      const p = this.request('index/subscribe', {}).then(() => undefined);
      this.subscribed = p;
      p.catch(() => {
        if (this.subscribed === p) this.subscribed = undefined;
      });
    }
    const ready = this.subscribed;
    let disposed = false;
    return {
      ready,
      dispose: async () => {
        if (disposed) return;
        disposed = true;
        this.changeListeners.delete(listener);
        if (this.changeListeners.size > 0 || this.closedError) return;
        this.subscribed = undefined;
        await this.request('index/unsubscribe', {}).catch(() => undefined);
      },
    };
  }

  /** `$/progress` while the server builds its first index (sent to every connection then). */
  onProgress(listener: (event: ProgressEvent) => void): Disposable {
    this.progressListeners.add(listener);
    return { dispose: () => void this.progressListeners.delete(listener) };
  }

  onStateChange(listener: (state: ConnectionState) => void): Disposable {
    this.stateListeners.add(listener);
    return { dispose: () => void this.stateListeners.delete(listener) };
  }

  /** Stops reconnecting, fails what is pending with ConnectionError and closes the socket. */
  async close(): Promise<void> {
    const ws = this.ws;
    this.shutdown(new ConnectionError('the client was closed'));
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => ws.terminate(), 1000);
      ws.once('close', () => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  // Connections.

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const l of [...this.stateListeners]) l(state);
  }

  private async establish(): Promise<void> {
    const ws = await this.openSocket();
    try {
      this.serverInfo = await this.handshake(ws);
    } catch (e) {
      ws.terminate();
      throw e;
    }
    if (this.closedError) {
      ws.close();
      return;
    }
    this.ws = ws;
    this.attempt = 0;
    this.setState('open');
    this.pump();
  }

  private openSocket(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...this.options.headers };
      if (this.options.token && this.options.tokenVia !== 'message') headers.Authorization = `Bearer ${this.options.token}`;
      const options: WebSocket.ClientOptions = { headers, handshakeTimeout: this.connectTimeoutMs, perMessageDeflate: false };
      // unix:PATH: the upgrade goes over a connection to the socket. Not ws's own ws+unix: URL,
      // which reads the path back out of a URL (percent-encoded, and cut at its first ':').
      const socketPath = this.url.startsWith('unix:') ? this.url.slice('unix:'.length) : undefined;
      if (socketPath !== undefined) options.createConnection = () => netConnect({ path: socketPath });
      const ws = new WebSocket(socketPath === undefined ? this.url : 'ws://localhost/', options);
      const fail = (err: Error) => {
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(new ConnectionError(`cannot connect to ${this.url}: ${err.message}`, { cause: err }));
      };
      ws.once('error', fail);
      ws.once('close', () => fail(new Error('closed during the upgrade')));
      ws.once('open', () => {
        ws.removeAllListeners();
        ws.on('message', (data: WebSocket.RawData) => this.onMessage(ws, data.toString()));
        ws.on('close', () => this.onSocketClose(ws));
        ws.on('error', () => {});  // a 'close' follows every error
        resolve(ws);
      });
    });
  }

  private async handshake(ws: WebSocket): Promise<InitializeResult> {
    if (this.options.token && this.options.tokenVia === 'message') {
      // A connection that needs no token (a server without one, or the header sufficed) takes
      // `authenticate` as an unknown method: that is no failure.
      await this.direct(ws, 'authenticate', { token: this.options.token }).catch((e: unknown) => {
        if (!(e instanceof RpcError && e.code === ErrorCodes.MethodNotFound)) throw e;
      });
    }
    const info = (await this.direct(ws, 'initialize', {})) as InitializeResult;
    if (this.changeListeners.size > 0) await this.direct(ws, 'index/subscribe', {});
    return info;
  }

  // A handshake request: sent at once on `ws`, ahead of the queue.
  private direct(ws: WebSocket, method: string, params: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const call: Call = { id: this.nextId++, method, params, resolve, reject, settled: false, handshake: true };
      call.timer = setTimeout(() => this.giveUp(call, new TimeoutError(method, this.connectTimeoutMs)), this.connectTimeoutMs);
      this.send(ws, call);
    });
  }

  private onSocketClose(ws: WebSocket): void {
    for (const call of [...this.inFlight.values()]) {
      if (call.socket !== ws) continue;
      this.inFlight.delete(call.id);
      this.settle(call, new ConnectionError(`${call.method}: the connection closed before the answer came`));
    }
    if (ws !== this.ws) return;
    this.ws = undefined;
    if (this.closedError) return;
    if (!this.reconnect) return this.shutdown(new ConnectionError('the connection closed'));
    this.setState('reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const r = this.reconnect!;
    // Equal jitter: half the capped exponential delay, plus a random part of the other half.
    const base = Math.min(r.maxDelay, r.initialDelay * r.factor ** this.attempt);
    const delay = base / 2 + Math.random() * (base / 2);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.establish().catch((e: unknown) => {
        if (this.closedError) return;
        // The server refused the token (or the handshake): trying again cannot help.
        if (e instanceof RpcError) return this.shutdown(e);
        if (this.attempt >= r.maxAttempts)
          return this.shutdown(new ConnectionError(`gave up reconnecting to ${this.url} after ${this.attempt} attempts`, { cause: e }));
        this.scheduleReconnect();
      });
    }, delay);
  }

  private shutdown(error: Error): void {
    if (this.closedError) return;
    this.closedError = error;
    clearTimeout(this.reconnectTimer);
    for (const call of this.queue.splice(0)) this.settle(call, error);
    for (const call of this.inFlight.values()) this.settle(call, error);
    this.inFlight.clear();
    this.ws?.close();
    this.ws = undefined;
    this.setState('closed');
  }

  // Calls.

  private pump(): void {
    while (this.ws && this.stateValue === 'open' && this.queue.length > 0 && this.inFlight.size < this.maxInFlight) {
      const call = this.queue.shift()!;
      if (!call.settled) this.send(this.ws, call);
    }
  }

  private send(ws: WebSocket, call: Call): void {
    call.socket = ws;
    this.inFlight.set(call.id, call);
    this.write(ws, { jsonrpc: '2.0', id: call.id, method: call.method, params: call.params });
  }

  private write(ws: WebSocket, message: object): void {
    const text = JSON.stringify(message);
    this.options.trace?.('send', text);
    // A failed write is followed by 'close', which fails the calls sent on that socket.
    ws.send(text, () => {});
  }

  // A timeout or an abort: the promise rejects now; a request on the wire is cancelled there too.
  // It stays in flight until the server answers it, so the count of pending requests stays true.
  private giveUp(call: Call, error: Error): void {
    if (call.settled) return;
    this.settle(call, error);
    if (call.socket && this.inFlight.has(call.id) && call.socket.readyState === WebSocket.OPEN)
      this.write(call.socket, { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: call.id } });
  }

  private settle(call: Call, error: unknown, result?: unknown): void {
    if (call.settled) return;
    call.settled = true;
    clearTimeout(call.timer);
    call.cleanup?.();
    if (error !== undefined) call.reject(error);
    else call.resolve(result);
  }

  private onMessage(ws: WebSocket, text: string): void {
    this.options.trace?.('receive', text);
    let parsed: Incoming | Incoming[];
    try {
      parsed = JSON.parse(text);
    } catch {
      return;  // not JSON: nothing can be matched to it
    }
    for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!m || typeof m !== 'object') continue;
      if (typeof m.method === 'string' && m.id === undefined) this.onNotification(m.method, m.params);
      else if ('result' in m || 'error' in m) this.onResponse(ws, m);
    }
    this.pump();
  }

  private onResponse(ws: WebSocket, m: Incoming): void {
    const error = m.error ? new RpcError(m.error.code, m.error.message, m.error.data) : undefined;
    if (m.id === null || m.id === undefined) {
      // An answer to no request: the server refusing the connection (-32000, not authenticated)
      // before it closes. It fails the handshake under way on that socket.
      for (const call of this.inFlight.values())
        if (call.socket === ws && call.handshake && error) {
          this.inFlight.delete(call.id);
          this.settle(call, error);
        }
      return;
    }
    const call = this.inFlight.get(Number(m.id));
    if (!call || call.socket !== ws) return;
    this.inFlight.delete(call.id);
    this.settle(call, error, m.result);
  }

  private onNotification(method: string, params: any): void {
    if (method === 'index/didChange') for (const l of [...this.changeListeners]) l(params as DidChangeEvent);
    else if (method === '$/progress') for (const l of [...this.progressListeners]) l(params as ProgressEvent);
    else if (method === 'exec/output' && params && typeof params.id === 'string') this.outputListeners.get(params.id)?.(params as ExecOutput);
  }
}

/**
 * Connects to `indexer serve` and completes the handshake: `ws://127.0.0.1:PORT`, or `unix:/path`
 * for a server started with `--listen unix:PATH` (no token needed: the socket's mode decides).
 */
export function connect(url: string, options: ConnectOptions = {}): Promise<IndexerClient> {
  return new IndexerClient(url, options).start();
}
