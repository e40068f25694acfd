// connect('unix:/path') against `indexer serve --listen unix:PATH`: requests and change
// notifications over the socket with no token (the server has one), reconnect when the server
// comes back on the same path, and a ConnectionError naming the path when nothing listens there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { connect, ConnectionError } from '../dist/index.js';
import { Server, tree, waitFor, write } from './server.mjs';

const small = { 'app/util.py': 'def helper():\n    return 42\n' };

test('unix:/path: requests, subscriptions and reconnect over a Unix socket, no token', async (t) => {
  const root = tree(small);
  // A space and a colon in the path: ws's own ws+unix: URLs would mangle or cut it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer ts:'));
  const socket = path.join(dir, 'indexer.sock');
  let server = await Server.start(root, { socket, args: ['--token', 's3cret'] });
  assert.equal(fs.lstatSync(socket).mode & 0o777, 0o600);
  const states = [];
  const client = await connect(`unix:${socket}`, { reconnect: { initialDelay: 20, maxDelay: 200 } });
  client.onStateChange((s) => states.push(s));
  t.after(async () => {
    await client.close();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(client.url, `unix:${socket}`);
  assert.ok(client.server.methods.includes('symbols/search'), JSON.stringify(client.server));
  assert.equal((await client.search('helper'))[0].path, 'app/util.py');

  const sub = client.onDidChange(() => {});
  await sub.ready;
  const seen = waitFor((cb) => client.onDidChange(cb), (e) => e.changes.find((c) => c.path === 'app/late.py'), 20_000, 'didChange');
  write(root, { 'app/late.py': 'def arrived_late():\n    pass\n' });
  assert.deepEqual(await seen, { path: 'app/late.py', change: 'indexed', symbols: 1 });

  // The server goes (its socket with it) and comes back on the same path: the client reconnects.
  const down = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'reconnecting' ? s : undefined), 10_000, 'reconnecting');
  assert.equal(await server.stop(), 0);
  await down;
  assert.equal(fs.existsSync(socket), false, 'the socket outlived its server');
  const up = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'open' ? s : undefined), 20_000, 'open again');
  server = await Server.start(root, { socket });
  await up;
  assert.deepEqual(states, ['reconnecting', 'open']);
  assert.equal((await client.search('arrived_late'))[0].path, 'app/late.py');
});

test('unix:/path where nothing listens: ConnectionError naming the path', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-ts-'));
  const socket = path.join(dir, 'none.sock');
  try {
    await assert.rejects(connect(`unix:${socket}`, { reconnect: false }), (e) => {
      assert.ok(e instanceof ConnectionError, `${e}`);
      assert.match(e.message, /ENOENT/);
      assert.ok(e.message.includes(`unix:${socket}`), e.message);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
