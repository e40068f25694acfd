// Token counting side by side, one command: ours (build/indexer_tokens_bench, compress/tokens.h)
// and the Node tokenizers from npm (installed by the build into tests/clients/node_modules,
// pinned by its package-lock.json): tiktoken (OpenAI's Rust core as WASM), tiktoken-node (the
// Rust core as a native addon; cl100k_base only), gpt-tokenizer and ai-tokenizer.
//
//   cmake --build build --target indexer_tokens_bench client_deps
//   node bench/tokens_bench.mjs [--skip-slow]    (--skip-slow: peers skip the 80,000-letter run)
//
// Each figure is the best wall time of repeated runs (0.5 s or 200 runs, at least 3) on a warm
// tokenizer, and beside it the best CPU time (ours: the thread's; Node's: the process's), which a
// machine shared with other jobs disturbs less; ms per 10,000 tokens divides by the tokens tiktoken
// counts. Ours, gpt-tokenizer and ai-tokenizer cache merges, so repeated runs find them warm;
// "first run" is ours before its cache has seen the file (one run, wall time).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modules = join(root, 'tests', 'clients', 'node_modules');
const require = createRequire(join(modules, 'x.js'));
const skipSlow = process.argv.includes('--skip-slow');
const { proseCases, pathologicalCases } = await import(pathToFileURL(join(root, 'tests', 'clients', 'token_corpus.mjs')));

// ---- corpora --------------------------------------------------------------------------------------

function sources(dirs, extensions) {
  let out = '';
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (extensions.some((e) => name.endsWith(e))) out += readFileSync(path, 'utf8');
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

const corpora = [
  ['code (this repository\'s C++)', sources(['indexer', 'query', 'server', 'compress'], ['.cpp', '.h'])],
  ['prose (README.md, English)', readFileSync(join(root, 'README.md'), 'utf8')],
  ['prose (19 scripts)', proseCases().map(([, t]) => t).join('\n').repeat(30)],
];
const [[, letters80k], [, run80k]] = pathologicalCases();  // 80,000 random letters; 80,000 times 'a' 
const scratch = mkdtempSync(join(tmpdir(), 'tokens-bench-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const files = [...corpora, ['80,000 random letters, one word', letters80k], ['80,000 times a', run80k]].map(([name, text], i) => {
  const file = join(scratch, `${i}.txt`);
  writeFileSync(file, text);
  return { name, text, file };
});

// ---- timing ---------------------------------------------------------------------------------------

// Best wall time and best CPU time of the process (user + system: Node's own threads included).
function best(fn, single) {
  let low = Infinity, lowCpu = Infinity, result;
  const began = performance.now();
  for (let run = 0; run < (single ? 1 : 200) && (single || run < 3 || performance.now() - began < 500); run++) {
    const t = performance.now();
    const c = process.cpuUsage();
    result = fn();
    const used = process.cpuUsage(c);
    low = Math.min(low, performance.now() - t);
    lowCpu = Math.min(lowCpu, (used.user + used.system) / 1000);
  }
  return { ms: low, cpu: lowCpu, tokens: result };
}

function ours(encoding) {
  const out = execFileSync(join(root, 'build', 'indexer_tokens_bench'), [encoding, ...files.map((f) => f.file)]).toString();
  const lines = out.trim().split('\n').map((l) => JSON.parse(l));
  return { load: lines[0].load_ms, byFile: lines.slice(1) };
}

function peers(encoding) {
  const list = [];
  const { get_encoding } = require('tiktoken');
  const wasm = get_encoding(encoding);
  list.push(['tiktoken (WASM)', (t) => wasm.encode_ordinary(t).length]);
  if (encoding === 'cl100k_base') {
    const native = require('tiktoken-node').getEncoding('cl100k_base');
    list.push(['tiktoken-node (native Rust)', (t) => native.encode(t).length]);
  }
  const gpt = require(`gpt-tokenizer/cjs/encoding/${encoding}`);
  const ordinary = { disallowedSpecial: new Set() };  // special tokens as plain text, as encode_ordinary
  list.push(['gpt-tokenizer', (t) => gpt.countTokens(t, ordinary)]);
  const ai = require('ai-tokenizer');
  const aiEncoding = require(`ai-tokenizer/encoding/${encoding}`);
  const aiTokenizer = new ai.default(aiEncoding);
  list.push(['ai-tokenizer', (t) => aiTokenizer.encode(t, [], []).length]);
  return list;
}

const pad = (s, n) => String(s).padEnd(n);
const num = (x, digits = 2) => x.toFixed(digits);

for (const encoding of ['o200k_base', 'cl100k_base']) {
  const mine = ours(encoding);
  console.log(`\n${encoding}  (ours: first use loads the vocabulary in ${num(mine.load, 2)} ms)`);
  console.log(`${pad('text', 34)}${pad('tokenizer', 38)}${pad('tokens', 9)}${pad('ms', 11)}${pad('ms/10k tok', 12)}${pad('cpu ms/10k', 12)}M tok/s`);
  const others = peers(encoding);
  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    const slow = f >= corpora.length;
    const mineFile = mine.byFile[f];
    const rows = [['ours (count)', mineFile.count_ms, mineFile.tokens, mineFile.count_cpu_ms],
      ['ours (count, first run)', mineFile.count_first_ms, mineFile.tokens, NaN], ['ours (encode)', mineFile.encode_ms, mineFile.tokens, NaN]];
    for (const [name, fn] of others) {
      if (slow && skipSlow) continue;
      const r = best(() => fn(file.text), slow);
      rows.push([name + (slow ? ' (1 run)' : ''), r.ms, r.tokens, r.cpu]);
    }
    const reference = rows.find(([n]) => n.startsWith('tiktoken (WASM)'))?.[2] ?? mineFile.tokens;
    for (const [name, ms, tokens, cpu] of rows) {
      const note = tokens === reference ? '' : `  (counts ${tokens}, tiktoken ${reference})`;
      const cpuPer10k = Number.isNaN(cpu) ? '' : num((cpu * 10000) / reference, 3);
      console.log(`${pad(file.name, 34)}${pad(name, 38)}${pad(tokens, 9)}${pad(num(ms, 3), 11)}${pad(num((ms * 10000) / reference, 3), 12)}${pad(cpuPer10k, 12)}${num(reference / ms / 1000, 2)}${note}`);
    }
  }
}
