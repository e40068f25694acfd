// `indexer executor` as an orchestrator sees it: the round trip of a task over stdio, beside doing
// the same thing plainly in the orchestrator's own process, in one run.
//
//   cmake --build build --target indexer_cli && node bench/executor_bench.mjs
//
// fs.read of a 4 KiB file (preflight, openat2, JSON both ways) beside Node's readFileSync;
// cmd.run of /bin/true in the sandbox (all layers) beside spawnSync('/bin/true') unsandboxed;
// and fs.read throughput with 256 tasks in flight. Round trips are sequential: one task, its
// Result, the next. p50 and p99 in ms.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const binary = process.env.INDEXER_BINARY ?? path.join(root, 'build', 'indexer');
const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-executor-bench-')));
fs.writeFileSync(path.join(ws, 'file.txt'), 'x'.repeat(4095) + '\n');

const child = spawn(binary, ['executor', '--workspace', ws], { stdio: ['pipe', 'pipe', 'inherit'] });
const pending = new Map();
let buf = '';
child.stdout.on('data', (d) => {
  buf += d;
  for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
    const m = JSON.parse(buf.slice(0, nl));
    if ((m.type === 'Result' || m.type === 'Error') && pending.has(m.run_id)) {
      pending.get(m.run_id)(m);
      pending.delete(m.run_id);
    }
  }
});
let next = 0;
function task(op, args) {
  const id = String(next++);
  return new Promise((resolve) => {
    pending.set(id, resolve);
    child.stdin.write(JSON.stringify({ type: 'Task', run_id: id, op, args }) + '\n');
  });
}

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
const row = (name, xs) => console.log(`| ${name} | ${pct(xs, 50).toFixed(3)} | ${pct(xs, 99).toFixed(3)} |`);
async function time(n, f) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await f();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

for (let i = 0; i < 50; i++) await task('fs.read', { path: 'file.txt' });  // warm
console.log('| what | p50 ms | p99 ms |\n|---|---|---|');
row('fs.read 4 KiB through the executor', await time(2000, async () => {
  const r = await task('fs.read', { path: 'file.txt' });
  if (r.type !== 'Result') throw new Error(JSON.stringify(r));
}));
row('readFileSync 4 KiB in Node (baseline)', await time(2000, async () => fs.readFileSync(path.join(ws, 'file.txt'), 'utf8')));
row('cmd.run /bin/true through the executor (sandboxed)', await time(200, async () => {
  const r = await task('cmd.run', { argv: ['/bin/true'], stream: false });
  if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
}));
row('spawnSync /bin/true in Node (baseline, no sandbox)', await time(200, async () => spawnSync('/bin/true')));
const n = 20000, t0 = process.hrtime.bigint();
for (let i = 0; i < n; i += 256) await Promise.all(Array.from({ length: Math.min(256, n - i) }, () => task('fs.read', { path: 'file.txt' })));
console.log(`\nfs.read throughput, 256 in flight: ${Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9))} tasks/s`);
child.stdin.end();
await new Promise((resolve) => child.on('exit', resolve));
fs.rmSync(ws, { recursive: true, force: true });
