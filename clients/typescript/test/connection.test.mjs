// The connection side of @indexer/client against the real binary: requests waiting for the first
// index, timeouts and AbortSignal cancellation mapped to $/cancelRequest (-32800 on the wire),
// progress, the in-flight cap, reconnect with re-subscription, token auth, connect failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { AbortError, connect, ConnectionError, ErrorCodes, RpcError, TimeoutError } from '../dist/index.js';
import { bigTree, Server, tree, waitFor, write } from './server.mjs';

// Every message on the wire, parsed, for checking what the client sent and the server answered.
function wire() {
  const sent = [], received = [];
  const trace = (direction, text) => (direction === 'send' ? sent : received).push(JSON.parse(text));
  return { sent, received, trace };
}

const small = { 'app/util.py': 'def helper():\n    return 42\n' };

test('while the first index builds: waiting requests, timeout, abort, progress, the in-flight cap', async (t) => {
  const root = bigTree();
  const server = await Server.start(root, { args: ['--no-snapshot'] });
  const w = wire();
  const progress = [];
  const client = await connect(server.url, { trace: w.trace });
  client.onProgress((p) => progress.push(p));
  t.after(async () => {
    await client.close();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  // The handshake's initialize came back while the tree was still being indexed: what follows
  // relies on requests waiting for it.
  assert.deepEqual(client.server.index, { status: 'indexing' }, 'the tree was indexed before the client connected: make bigTree() larger');

  // A timeout: the promise rejects with TimeoutError and the request is cancelled on the server.
  const timedOut = client.search({ pattern: 'f1_1' }, { timeout: 50 });
  const timedOutId = w.sent.at(-1).id;
  await assert.rejects(timedOut, (e) => e instanceof TimeoutError && e.method === 'symbols/search' && e.timeoutMs === 50);
  assert.deepEqual(w.sent.at(-1), { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: timedOutId } });

  // An abort: AbortError at once, $/cancelRequest on the wire, and the server's -32800 for it.
  const controller = new AbortController();
  const aborted = client.search({ pattern: 'C5999' }, { signal: controller.signal, timeout: 0 });
  const abortedId = w.sent.at(-1).id;
  controller.abort(new Error('the user moved on'));
  await assert.rejects(aborted, (e) => e instanceof AbortError && e.name === 'AbortError' && e.cause.message === 'the user moved on');
  assert.deepEqual(w.sent.at(-1), { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: abortedId } });

  // An already aborted signal: rejected without sending anything.
  const before = w.sent.length;
  await assert.rejects(client.status({ signal: AbortSignal.abort() }), AbortError);
  assert.equal(w.sent.length, before);

  // 300 requests at once while the index builds: the server holds 256 pending per connection
  // (answering more with -32001); the client keeps the rest queued, so all of them succeed.
  const many = Array.from({ length: 300 }, (_, i) => client.search({ pattern: `C${i}`, limit: 1 }));
  const waiting = client.search('C5999');
  const hits = await Promise.all(many);
  assert.deepEqual(hits.map((h) => h[0]?.name), Array.from({ length: 300 }, (_, i) => `C${i}`));
  assert.equal((await waiting)[0].path, 'pkg/m5999.py');
  assert.ok(w.received.every((m) => m.error?.code !== ErrorCodes.TooManyPending), 'no request was refused as too many');

  // The server answered both cancelled requests with -32800 (the client had dropped them).
  for (const id of [timedOutId, abortedId]) {
    const answer = w.received.find((m) => m.id === id);
    assert.ok(answer, `an answer for request ${id}`);
    assert.equal(answer.error.code, ErrorCodes.RequestCancelled, JSON.stringify(answer));
  }
  // Progress reached the client, and ended.
  assert.ok(progress.length > 0 && progress.every((p) => p.token === 'indexing'), JSON.stringify(progress));
  if (!progress.some((p) => p.value.kind === 'end'))
    await waitFor((cb) => client.onProgress(cb), (p) => (p.value.kind === 'end' ? true : undefined), 20_000, 'progress end');
  assert.equal(progress.at(-1).value.kind, 'end', JSON.stringify(progress.slice(-3)));
  assert.ok(progress.filter((p) => p.value.kind === 'report').every((p) => p.value.percentage >= 0 && p.value.percentage <= 100));
});

test('a request on the wire when the connection drops fails with ConnectionError', async (t) => {
  const root = bigTree();
  const server = await Server.start(root, { args: ['--no-snapshot'] });
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const states = [];
  const client = await connect(server.url, { reconnect: false });
  client.onStateChange((s) => states.push(s));
  assert.deepEqual(client.server.index, { status: 'indexing' }, 'the tree was indexed before the client connected: make bigTree() larger');
  const pending = assert.rejects(client.search('C1'), (e) => e instanceof ConnectionError && /closed before the answer/.test(e.message));
  await server.stop('SIGKILL');  // while the search waits for the index
  await pending;
  assert.deepEqual(states, ['closed']);  // reconnect: false
  await assert.rejects(client.status(), ConnectionError);
});

test('reconnect: backoff while the server is down, queued requests wait, subscriptions come back', async (t) => {
  const root = tree(small);
  let server = await Server.start(root);
  const port = server.port;
  const w = wire();
  const states = [];
  const client = await connect(server.url, { reconnect: { initialDelay: 20, maxDelay: 200 }, trace: w.trace });
  client.onStateChange((s) => states.push(s));
  t.after(async () => {
    await client.close();
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  const changes = [];
  const sub = client.onDidChange((e) => changes.push(...e.changes));
  await sub.ready;

  const down = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'reconnecting' ? s : undefined), 10_000, 'reconnecting');
  assert.equal(await server.stop(), 0);
  await down;
  // Issued while disconnected: the first waits for the reconnect, the second times out before it
  // and is never sent.
  const waits = client.search('helper', { timeout: 30_000 });
  const sentBefore = w.sent.length;
  await assert.rejects(client.status({ timeout: 100 }), TimeoutError);
  assert.equal(w.sent.length, sentBefore, 'nothing is sent while disconnected');

  const up = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'open' ? s : undefined), 20_000, 'open again');
  server = await Server.start(root, { port });
  await up;
  assert.deepEqual(states, ['reconnecting', 'open']);
  assert.equal((await waits)[0].path, 'app/util.py');
  // The handshake subscribed again: a file written now is announced.
  const subscribes = w.sent.filter((m) => m.method === 'index/subscribe');
  assert.equal(subscribes.length, 2, JSON.stringify(subscribes));
  const seen = waitFor((cb) => client.onDidChange(cb), (e) => e.changes.find((c) => c.path === 'app/after.py'), 20_000, 'didChange after the reconnect');
  write(root, { 'app/after.py': 'def after_restart():\n    pass\n' });
  assert.deepEqual(await seen, { path: 'app/after.py', change: 'indexed', symbols: 1 });
  assert.ok(changes.some((c) => c.path === 'app/after.py'));
});

test('reconnect gives up after maxAttempts and fails what waits', async (t) => {
  const root = tree(small);
  const server = await Server.start(root);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const client = await connect(server.url, { reconnect: { initialDelay: 50, maxDelay: 100, maxAttempts: 3 } });
  const closed = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'closed' ? s : undefined), 20_000, 'closed');
  const reconnecting = waitFor((cb) => client.onStateChange(cb), (s) => (s === 'reconnecting' ? s : undefined), 20_000, 'reconnecting');
  const stopped = server.stop();
  // Asked while the client tries again (not after it gave up, which a slow server's stop can outlast).
  await reconnecting;
  const waiting = assert.rejects(client.status({ timeout: 0 }), (e) => e instanceof ConnectionError && /after 3 attempts/.test(e.message));
  await stopped;
  await closed;
  await waiting;
});

test('token auth: header, authenticate message, wrong and missing tokens', async (t) => {
  const root = tree(small);
  const server = await Server.start(root, { args: ['--token', 's3cret'] });
  t.after(async () => {
    await server.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });
  for (const tokenVia of ['header', 'message']) {
    const w = wire();
    const client = await connect(server.url, { token: 's3cret', tokenVia, trace: w.trace });
    assert.equal((await client.search('helper'))[0].name, 'helper', tokenVia);
    assert.equal(w.sent[0].method, tokenVia === 'message' ? 'authenticate' : 'initialize');
    await client.close();
  }
  // A token sent as a message to a server that needs none is no error.
  const openRoot = tree(small);
  const open = await Server.start(openRoot);
  const relaxed = await connect(open.url, { token: 'unneeded', tokenVia: 'message' });
  assert.equal((await relaxed.status()).files, 1);
  await relaxed.close();
  await open.stop();
  fs.rmSync(openRoot, { recursive: true, force: true });
  for (const options of [{ token: 'wrong' }, { token: 'wrong', tokenVia: 'message' }, {}]) {
    // Refused at connect, with the server's error, and not retried.
    await assert.rejects(connect(server.url, options), (e) => {
      assert.ok(e instanceof RpcError, `${e}`);
      assert.equal(e.code, ErrorCodes.Unauthenticated);
      assert.match(e.message, /authenticate/);
      return true;
    });
  }
});

test('connect fails with ConnectionError when nothing listens or the Origin is refused', async (t) => {
  const root = tree(small);
  const server = await Server.start(root);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  await assert.rejects(connect(server.url, { headers: { Origin: 'http://evil.example' } }), (e) => e instanceof ConnectionError && /403/.test(e.message));
  await server.stop();
  await assert.rejects(connect(server.url), (e) => e instanceof ConnectionError && /ECONNREFUSED/.test(e.message));
});
