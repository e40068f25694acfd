// `indexer serve ROOT` on a free loopback port, for the client tests: its address once it
// listens, and stop() (SIGTERM; resolves to the exit code).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

export async function serve(root, ...args) {
  const binary = process.env.INDEXER_BINARY;
  assert.ok(binary, 'INDEXER_BINARY names the indexer binary');
  const child = spawn(binary, ['serve', root, '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const line = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    exited.then((code) => reject(new Error(`indexer serve exited with ${code} before listening`)));
  });
  const m = /ws:\/\/([\d.]+):(\d+)/.exec(line);
  assert.ok(m, `no address in ${JSON.stringify(line)}`);
  return { port: Number(m[2]), url: `ws://127.0.0.1:${m[2]}`, stop: () => (child.kill('SIGTERM'), exited) };
}
