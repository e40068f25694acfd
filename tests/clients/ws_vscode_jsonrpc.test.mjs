// indexer serve, driven by Microsoft's JSON-RPC library (vscode-jsonrpc) over a WebSocket from
// `ws`: a MessageConnection on a small reader/writer adapter (one message per text frame), typed
// and untyped requests, errors as ResponseError, a change subscription, and cancellation with a
// CancellationTokenSource while the first index is built (answered with -32800).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import rpc from 'vscode-jsonrpc/node';
import WebSocket from 'ws';
import { tree } from './tree.mjs';
import { serve } from './serve.mjs';




// Each text frame is one message; frames that came before listen() are kept for it.
class WebSocketReader extends rpc.AbstractMessageReader {
  constructor(ws) {
    super();
    this.early = [];
    ws.on('message', (data, binary) => {
      if (binary) return this.fireError(new Error('a binary frame'));
      let message;
      try {
        message = JSON.parse(data.toString());
      } catch (e) {
        return this.fireError(e);
      }
      if (this.callback) this.callback(message);
      else this.early.push(message);
    });
    ws.on('error', (e) => this.fireError(e));
    ws.on('close', () => this.fireClose());
  }

  listen(callback) {
    this.callback = callback;
    for (const m of this.early.splice(0)) callback(m);
    return { dispose: () => (this.callback = undefined) };
  }
}

class WebSocketWriter extends rpc.AbstractMessageWriter {
  constructor(ws) {
    super();
    this.ws = ws;
    this.errors = 0;
    ws.on('close', () => this.fireClose());
  }

  write(message) {
    return new Promise((resolve, reject) => {
      this.ws.send(JSON.stringify(message), (err) => {
        if (!err) return resolve();
        this.fireError(err, message, ++this.errors);
        reject(err);
      });
    });
  }

  end() {}
}

async function open(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const connection = rpc.createMessageConnection(new WebSocketReader(ws), new WebSocketWriter(ws));
  connection.listen();
  return { ws, connection, close: () => (connection.dispose(), ws.close()) };
}

const Search = new rpc.RequestType('symbols/search');
const DidChange = new rpc.NotificationType('index/didChange');

async function rejectsWith(promise, code, message) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof rpc.ResponseError, `${e}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('requests, errors and a change subscription through a vscode-jsonrpc MessageConnection', async (t) => {
  const root = tree({
    'app/__init__.py': '',
    'app/server.py': 'from app import util\n\nclass Server:\n    def start(self):\n        return util.helper()\n',
    'app/util.py': 'def helper():\n    return 42\n',
  });
  const server = await serve(root);
  const { connection, close } = await open(server.url);
  t.after(async () => {
    close();
    assert.equal(await server.stop(), 0);
    fs.rmSync(root, { recursive: true, force: true });
  });

  const init = await connection.sendRequest('initialize', {});
  assert.equal(init.server, 'indexer');
  assert.ok(init.methods.includes('symbols/search'), JSON.stringify(init.methods));

  const hits = await connection.sendRequest(Search, { pattern: 'Server.start' });
  assert.deepEqual(hits.map((h) => [h.name, h.kind, h.container, h.path, h.line, h.match]), [['start', 'method', 'Server', 'app/server.py', 4, 'exact']]);

  // One request after another, each answered in turn.
  const status = await connection.sendRequest('index/status', {});
  assert.equal(status.files, 3);
  const outline = await connection.sendRequest('symbols/outline', { path: 'app/server.py' });
  assert.deepEqual(outline.map((n) => [n.name, n.children.map((c) => c.name)]), [['Server', ['start']]]);
  const defs = await connection.sendRequest('symbols/definition', { path: 'app/server.py', line: 5, column: 21 });
  assert.deepEqual(defs.map((d) => [d.name, d.path]), [['helper', 'app/util.py']]);
  assert.deepEqual(await connection.sendRequest('graph/importers', { path: 'app/util.py' }), [{ path: 'app/server.py', external: false, line: 1 }]);
  assert.deepEqual(await connection.sendRequest('graph/path', { from: 'app/server.py', to: 'app/util.py' }), ['app/server.py', 'app/util.py']);
  assert.deepEqual(await connection.sendRequest('graph/cycles', {}), []);
  // A notification is never answered: the next answer is the next request's.
  await connection.sendNotification('index/status', {});
  assert.equal((await connection.sendRequest('index/status', {})).files, 3);

  await rejectsWith(connection.sendRequest('no/such', {}), -32601, /no\/such/);
  await rejectsWith(connection.sendRequest(Search, {}), -32602, /pattern/);
  await rejectsWith(connection.sendRequest(Search, { pattern: 'x', limit: 0 }), -32602, /limit/);

  // Subscribed, a file that appears is announced once it is indexed.
  const seen = new Promise((resolve) => {
    connection.onNotification(DidChange, (params) => {
      const c = params.changes.find((c) => c.path === 'app/late.py' && c.change === 'indexed' && c.symbols === 1);
      if (c) resolve(params);
    });
  });
  assert.equal(await connection.sendRequest('index/subscribe', {}), true);
  const tmp = path.join(os.tmpdir(), `indexer-vsjsonrpc-${process.pid}.tmp`);
  fs.writeFileSync(tmp, 'def arrived_late():\n    pass\n');
  fs.renameSync(tmp, path.join(root, 'app/late.py'));
  const change = await seen;
  assert.equal(typeof change.milliseconds, 'number');
  assert.equal((await connection.sendRequest(Search, { pattern: 'arrived_late' }))[0].path, 'app/late.py');
  assert.equal(await connection.sendRequest('index/unsubscribe', {}), true);
});

test('cancellation with a CancellationTokenSource while the first index builds: -32800', async (t) => {
  const files = {};
  for (let i = 0; i < 6000; i++) {
    let text = '';
    for (let j = 0; j < 10; j++) text += `def f${i}_${j}(a, b):\n    return a + b + ${j}\n\n`;
    files[`pkg/m${i}.py`] = text + `class C${i}:\n    pass\n`;
  }
  const root = tree(files);
  const server = await serve(root, '--no-snapshot');
  const { connection, close } = await open(server.url);
  t.after(async () => {
    close();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const progress = [];
  const ended = new Promise((resolve) => {
    connection.onNotification('$/progress', (p) => {
      progress.push(p);
      if (p.value.kind === 'end') resolve();
    });
  });
  const init = await connection.sendRequest('initialize', {});
  assert.deepEqual(init.index, { status: 'indexing' }, 'the tree was indexed before the client asked: make it larger');

  // The search waits for the index; cancelled, the server answers it with RequestCancelled.
  const source = new rpc.CancellationTokenSource();
  const search = connection.sendRequest(Search, { pattern: 'C5999' }, source.token);
  source.cancel();
  await rejectsWith(search, -32800, /cancel/i);

  await ended;
  assert.ok(progress.every((p) => p.token === 'indexing'), JSON.stringify(progress.slice(0, 3)));
  const hits = await connection.sendRequest(Search, { pattern: 'C5999' });
  assert.equal(hits[0].path, 'pkg/m5999.py');
});
