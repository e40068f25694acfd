// Every method of `indexer serve` through @indexer/client, against the real binary: typed results
// as the server sends them, errors as RpcError, and change subscriptions.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { connect, ConnectionError, ErrorCodes, methodNames, RpcError } from '../dist/index.js';
import { Server, tree, waitFor, write } from './server.mjs';

const files = {
  'app/__init__.py': '',
  'app/server.py': 'from app import util\n\nclass Server:\n    def start(self):\n        return util.helper()\n',
  'app/util.py': 'def helper():\n    return 42\n',
  // a.py and b.py import each other: one cycle.
  'loop/a.py': 'from loop import b\n\ndef in_a():\n    pass\n',
  'loop/b.py': 'from loop import a\nimport json\n\ndef in_b():\n    pass\n',
  'loop/__init__.py': '',
  'web/main.ts': "import { api } from './api';\nexport function render(): void { api(); }\n",
  'web/api.ts': 'export function api(): number { return 1; }\n',
};

let root, server, client;
before(async () => {
  root = tree(files);
  server = await Server.start(root);
  client = await connect(server.url);
});
after(async () => {
  await client?.close();
  assert.equal(await server?.stop(), 0, server?.stderr);
  fs.rmSync(root, { recursive: true, force: true });
});

test('initialize and index/status', async () => {
  // The handshake already ran initialize; it is also a method.
  assert.equal(client.server.server, 'indexer');
  const init = await client.initialize();
  assert.equal(init.server, 'indexer');
  assert.match(init.version, /^\d+\.\d+\.\d+/);
  // The server's registry and this client's typed table agree, both ways.
  assert.deepEqual([...init.methods].sort(), [...methodNames].sort());
  const status = await client.status();
  assert.equal(fs.realpathSync(status.root), fs.realpathSync(root));
  assert.equal(status.files, Object.keys(files).length);
  assert.equal(status.symbols, 7, JSON.stringify(status));  // in_a in_b helper Server start render api
  assert.ok(status.memory_bytes > 0);
  assert.equal(status.unsaved_changes, false);
});

test('symbols/search with every filter', async () => {
  const hits = await client.search('Server.start');
  assert.deepEqual(hits.map((h) => [h.name, h.kind, h.container, h.path]), [['start', 'method', 'Server', 'app/server.py']]);
  const [start] = hits;
  assert.deepEqual([start.line, start.column, start.selection_line, start.selection_column], [4, 5, 4, 9]);
  assert.equal(start.end_line, 5);
  assert.equal(start.language, 'python');
  assert.equal(start.signature, 'def start(self)');
  assert.equal(start.match, 'exact');
  assert.equal(typeof start.score, 'number');

  const fns = await client.search({ pattern: 'in', kind: 'function', lang: ['python'], path: 'loop/**', limit: 5 });
  assert.deepEqual(fns.map((h) => h.name).sort(), ['in_a', 'in_b']);
  assert.ok(fns.every((h) => h.match === 'prefix'));
  assert.deepEqual((await client.search({ pattern: 'api', lang: 'typescript' })).map((h) => h.path), ['web/api.ts']);
  assert.equal((await client.search({ pattern: 'in', limit: 1 })).length, 1);
  assert.deepEqual(await client.search({ pattern: 'helper', kind: 'class' }), []);
  // The generic, typed request reaches the same method.
  assert.deepEqual(await client.request('symbols/search', { pattern: 'helper' }), await client.search('helper'));
});

test('symbols/outline and symbols/definition', async () => {
  const outline = await client.outline({ path: 'app/server.py' });
  assert.deepEqual(outline.map((n) => n.name), ['Server']);
  assert.deepEqual(outline[0].children.map((n) => [n.name, n.kind, n.children.length]), [['start', 'method', 0]]);

  const byName = await client.definition({ name: 'helper' });
  assert.deepEqual(byName.map((s) => [s.path, s.line]), [['app/util.py', 1]]);
  // "helper" in `return util.helper()`, line 5, column 21.
  const atUse = await client.definition({ path: 'app/server.py', line: 5, column: 21 });
  assert.deepEqual(atUse.map((s) => s.name), ['helper']);
  assert.deepEqual(await client.definition({ path: 'app/server.py', line: 2, column: 1 }), []);
});

test('graph methods', async () => {
  // `from app import util` imports the package too.
  assert.deepEqual(await client.imports({ path: 'app/server.py' }), [
    { path: 'app/__init__.py', external: false, line: 1 },
    { path: 'app/util.py', external: false, line: 1 },
  ]);
  assert.deepEqual(await client.importers({ path: 'app/util.py' }), [{ path: 'app/server.py', external: false, line: 1 }]);
  assert.deepEqual(await client.importers({ path: 'web/api.ts' }), [{ path: 'web/main.ts', external: false, line: 1 }]);
  assert.deepEqual(await client.imports({ path: 'loop/b.py' }), [
    { path: 'loop/__init__.py', external: false, line: 1 },
    { path: 'loop/a.py', external: false, line: 1 },
    { path: 'json', external: true, line: 2 },
  ]);
  const deps = await client.deps({ path: 'loop/a.py' });
  assert.deepEqual(deps, [
    { path: 'loop/__init__.py', external: false, depth: 1 },
    { path: 'loop/b.py', external: false, depth: 1 },
    { path: 'json', external: true, depth: 2 },
  ]);
  assert.deepEqual((await client.deps({ path: 'loop/a.py', depth: 1 })).map((d) => d.path), ['loop/__init__.py', 'loop/b.py']);
  assert.deepEqual(await client.dependents({ path: 'json' }), [
    { path: 'loop/b.py', external: false, depth: 1 },
    { path: 'loop/a.py', external: false, depth: 2 },
  ]);
  assert.deepEqual(await client.dependents({ path: 'external:json', depth: 1 }), [{ path: 'loop/b.py', external: false, depth: 1 }]);
  assert.deepEqual(await client.path({ from: 'loop/a.py', to: 'json' }), ['loop/a.py', 'loop/b.py', 'external:json']);
  assert.equal(await client.path({ from: 'app/util.py', to: 'app/server.py' }), null);
  assert.deepEqual(await client.cycles(), [{ files: ['loop/a.py', 'loop/b.py'], example: ['loop/a.py', 'loop/b.py', 'loop/a.py'] }]);
});

test('index/refresh and index/snapshot', async () => {
  write(root, { 'app/fresh.py': 'def freshly_written():\n    pass\n' });
  const r = await client.refresh({ paths: ['app/fresh.py'] });
  // 1, or 0 when the watcher was first: either way the file is in the index once refresh answers.
  assert.ok(r.changes === 0 || r.changes === 1, JSON.stringify(r));
  assert.equal(typeof r.milliseconds, 'number');
  assert.deepEqual((await client.search('freshly_written')).map((h) => h.path), ['app/fresh.py']);
  const rescan = await client.refresh();
  assert.equal(typeof rescan.changes, 'number');

  fs.rmSync(path.join(root, '.indexer/snapshot'), { force: true });
  const s = await client.snapshot();
  assert.equal(typeof s.milliseconds, 'number');
  assert.ok(fs.statSync(path.join(root, '.indexer/snapshot')).size > 0, 'index/snapshot wrote the snapshot');
});

test('server errors are RpcError with code and message', async () => {
  const cases = [
    [() => client.rawRequest('no/such', {}), ErrorCodes.MethodNotFound, /no\/such/],
    [() => client.request('symbols/search', {}), ErrorCodes.InvalidParams, /pattern/],
    [() => client.search({ pattern: 'a', limit: '9' }), ErrorCodes.InvalidParams, /limit/],
    [() => client.search({ pattern: 'a', kind: 'gadget' }), ErrorCodes.InvalidParams, /gadget/],
    [() => client.outline({ path: 'app/missing.py' }), ErrorCodes.InvalidParams, /not an indexed file/],
    [() => client.importers({ path: 'nowhere/at/all' }), ErrorCodes.InvalidParams, /nowhere/],
    [() => client.definition({ path: 'app/util.py' }), ErrorCodes.InvalidParams, /line/],
  ];
  for (const [call, code, message] of cases) {
    await assert.rejects(call(), (e) => {
      assert.ok(e instanceof RpcError, `${e}`);
      assert.equal(e.name, 'RpcError');
      assert.equal(e.code, code, e.message);
      assert.match(e.message, message);
      return true;
    });
  }
  // The connection goes on after errors.
  assert.equal((await client.search('helper'))[0].name, 'helper');
});

test('tokens methods: count, encode, decode and split, typed', async () => {
  assert.deepEqual(await client.countTokens("Hello world, it's"), { count: 4, encoding: 'o200k_base' });
  const encoded = await client.encodeTokens({ text: "Hello world, it's", encoding: 'cl100k_base' });
  assert.deepEqual(encoded, { tokens: [9906, 1917, 11, 433, 596], encoding: 'cl100k_base' });
  assert.deepEqual(await client.decodeTokens({ tokens: encoded.tokens, encoding: 'cl100k_base' }), { text: "Hello world, it's", valid_utf8: true });
  const { chunks } = await client.splitTokens({ text: 'one\ntwo\nthree\n', max_tokens: 2 });
  assert.deepEqual(chunks.map((c) => [c.text, c.tokens]), [['one\n', 2], ['two\n', 2], ['three\n', 2]]);
  await assert.rejects(client.countTokens({ text: 'x', encoding: 'p50k_base' }),
    (e) => e instanceof RpcError && e.code === ErrorCodes.InvalidParams && /param 'encoding'/.test(e.message));
});

test('diff/text: a unified diff, its hunks and word highlights; binary refused', async () => {
  const d = await client.request('diff/text', { old: 'a\nkeep\nold value\n', new: 'a\nkeep\nnew value\nend', words: true, old_name: 'a/f', new_name: 'b/f' });
  assert.equal(d.unified, '--- a/f\n+++ b/f\n@@ -1,3 +1,4 @@\n a\n keep\n-old value\n+new value\n+end\n\\ No newline at end of file\n');
  assert.deepEqual(d.stats, { added: 2, removed: 1 });
  assert.equal(d.identical, false);
  assert.deepEqual(d.hunks, [{ old_start: 1, old_lines: 3, new_start: 1, new_lines: 4, words: [{ old_line: 3, new_line: 3, old: [[0, 3]], new: [[0, 3]] }] }]);
  assert.deepEqual(await client.diff({ old: 'same\n', new: 'same\n' }), { unified: '', identical: true, coarse: false, stats: { added: 0, removed: 0 }, hunks: [] });
  await assert.rejects(client.request('diff/text', { old: 'a\u0000b', new: 'a' }), (e) => e.code === ErrorCodes.InvalidParams && /binary/.test(e.message));
});

test('change subscriptions: index/didChange for files written and removed', async () => {
  const events = [];
  const sub = client.onDidChange((e) => events.push(e));
  await sub.ready;
  const indexed = waitFor((cb) => client.onDidChange(cb), (e) => e.changes.find((c) => c.path === 'app/late.py' && c.change === 'indexed'), 20_000, 'didChange for app/late.py');
  write(root, { 'app/late.py': 'def arrived_late():\n    pass\n' });
  assert.deepEqual(await indexed, { path: 'app/late.py', change: 'indexed', symbols: 1 });
  assert.ok(events.some((e) => e.changes.some((c) => c.path === 'app/late.py') && typeof e.milliseconds === 'number'));
  assert.equal((await client.search('arrived_late'))[0].path, 'app/late.py');

  const removed = waitFor((cb) => client.onDidChange(cb), (e) => e.changes.find((c) => c.path === 'app/late.py' && c.change === 'removed'), 20_000, 'didChange removing app/late.py');
  fs.rmSync(path.join(root, 'app/late.py'));
  assert.deepEqual(await removed, { path: 'app/late.py', change: 'removed' });

  const skipped = waitFor((cb) => client.onDidChange(cb), (e) => e.changes.find((c) => c.path === 'app/blob.py'), 20_000, 'didChange for app/blob.py');
  write(root, { 'app/blob.py': 'x = 1\0binary\n' });
  assert.deepEqual(await skipped, { path: 'app/blob.py', change: 'skipped', reason: 'binary' });
  await sub.dispose();
});

test('close() fails later calls with ConnectionError', async () => {
  const other = await connect(server.url);
  await other.close();
  assert.equal(other.state, 'closed');
  await assert.rejects(other.search('helper'), ConnectionError);
});
