// The real `indexer serve`, for the tests: a tree in a temporary directory, the server spawned on
// it, the port read from its first stdout line ("listening on ws://127.0.0.1:PORT ..."), or on a
// Unix socket (`socket`: "listening on unix:PATH ...").
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.INDEXER_BINARY ?? path.resolve(here, '../../../build/indexer');
assert.ok(fs.existsSync(binary), `no indexer binary at ${binary}: build it, or set INDEXER_BINARY`);

export function tree(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-ts-'));
  write(root, files);
  return root;
}

// Each file appears whole (written beside the tree, then renamed in), as editors save: a plain
// write could be seen by the watcher while still empty.
export function write(root, files) {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    const tmp = path.join(path.dirname(root), `.${path.basename(root)}-${process.pid}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(root, rel));
  }
}

// Enough files that the first index takes a while, so requests sent at once wait for it.
export function bigTree(count = 6000) {
  const files = {};
  for (let i = 0; i < count; i++) {
    let text = '';
    for (let j = 0; j < 10; j++) text += `def f${i}_${j}(a, b):\n    return a + b + ${j}\n\n`;
    files[`pkg/m${i}.py`] = text + `class C${i}:\n    pass\n`;
  }
  return tree(files);
}

export class Server {
  static async start(root, { port = 0, socket, args = [] } = {}) {
    const s = new Server();
    s.root = root;
    const listen = socket === undefined ? `127.0.0.1:${port}` : `unix:${socket}`;
    s.child = spawn(binary, ['serve', root, '--listen', listen, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    s.stderr = '';
    s.child.stderr.on('data', (d) => (s.stderr += d));
    s.exited = new Promise((resolve) => s.child.on('exit', (code, signal) => resolve(code ?? signal)));
    const line = await new Promise((resolve, reject) => {
      let out = '';
      const onData = (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          s.child.stdout.off('data', onData);
          resolve(out.slice(0, nl));
        }
      };
      s.child.stdout.on('data', onData);
      s.exited.then((code) => reject(new Error(`indexer serve exited (${code}) before listening: ${s.stderr}`)));
    });
    s.child.stdout.resume();
    if (socket !== undefined) {
      assert.ok(line.startsWith(`listening on unix:${socket} `), `not on the socket: ${JSON.stringify(line)}`);
      s.url = `unix:${socket}`;
      return s;
    }
    const m = /ws:\/\/([\d.]+):(\d+)/.exec(line);
    assert.ok(m, `no address in ${JSON.stringify(line)}`);
    s.port = Number(m[2]);
    s.url = `ws://127.0.0.1:${s.port}`;
    return s;
  }

  async stop(signal = 'SIGTERM') {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

// Resolves with the first value `pick` returns that is not undefined, from events pushed to
// `register`'s callback; rejects after `ms` so a test that would hang fails instead.
export function waitFor(register, pick, ms = 20_000, what = 'an event') {
  return new Promise((resolve, reject) => {
    let handle;
    const timer = setTimeout(() => {
      handle?.dispose();
      reject(new Error(`no ${what} within ${ms} ms`));
    }, ms);
    handle = register((e) => {
      const v = pick(e);
      if (v === undefined) return;
      clearTimeout(timer);
      handle.dispose();
      resolve(v);
    });
  });
}
