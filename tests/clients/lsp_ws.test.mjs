// LSP over indexer serve's /lsp, driven by vscode-ws-jsonrpc (the transport monaco-languageclient
// uses: one message per text frame) over a WebSocket from `ws`: the LSP lifecycle per connection,
// the methods an editor calls, buffers shared with the port's other clients, and the hostile
// cases (no token, a foreign Origin, frames that are not JSON-RPC, a client gone mid-call).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { toSocket, createWebSocketConnection, ConsoleLogger } from 'vscode-ws-jsonrpc';
import WebSocket from 'ws';
import { tree } from './tree.mjs';
import { serve } from './serve.mjs';



function socket(url, options) {
  const ws = new WebSocket(url, options);
  const opened = new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
  const closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
  return { ws, opened, closed };
}

// As monaco-languageclient's examples connect: vscode-ws-jsonrpc's socket and MessageConnection.
async function lsp(url, options) {
  const { ws, opened, closed } = socket(url, options);
  await opened;
  const connection = createWebSocketConnection(toSocket(ws), new ConsoleLogger());
  connection.listen();
  return { ws, connection, closed };
}

// Raw frames, for what a library would not send; answers collected in order.
async function raw(url, options) {
  const { ws, opened, closed } = socket(url, options);
  await opened;
  const answers = [];
  let wake = null;
  ws.on('message', (data) => {
    answers.push(JSON.parse(data.toString()));
    if (wake) wake();
  });
  const next = async () => {
    while (!answers.length) await new Promise((r) => (wake = r));
    return answers.shift();
  };
  return { ws, closed, next };
}

const files = {
  'app/__init__.py': '',
  'app/server.py': 'from app import util\n\nclass Server:\n    def start(self):\n        return util.helper()\n',
  'app/util.py': 'def helper():\n    """Helps."""\n    return 42\n',
  'web/main.ts': "import { greet } from './greet';\n\nexport function main(): string {\n  return greet('x');\n}\n",
  'web/greet.ts': 'export function greet(name: string): string {\n  return `hi ${name}`;\n}\n',
};

const initParams = (root) => ({
  processId: process.pid,
  rootUri: pathToFileURL(root).href,
  capabilities: { window: { workDoneProgress: true } },
  workspaceFolders: [{ uri: pathToFileURL(root).href, name: 'root' }],
});

test('an LSP conversation on /lsp: lifecycle, symbols, outline, definition, hover, links, buffers shared with the port', async (t) => {
  const root = tree(files);
  const server = await serve(root);
  t.after(async () => {
    assert.equal(await server.stop(), 0);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const uri = (rel) => pathToFileURL(path.join(root, rel)).href;
  const { connection, closed } = await lsp(`${server.url}/lsp`);
  connection.onRequest('window/workDoneProgress/create', () => null);

  const statuses = [];
  const ready = new Promise((resolve) =>
    connection.onNotification('indexer/status', (s) => {
      statuses.push(s);
      if (s.state === 'ready') resolve(s);
    }),
  );
  const init = await connection.sendRequest('initialize', { ...initParams(root), initializationOptions: { statusNotifications: true } });
  assert.equal(init.serverInfo.name, 'indexer');
  const caps = init.capabilities;
  assert.equal(caps.workspaceSymbolProvider, true);
  assert.equal(caps.documentSymbolProvider, true);
  assert.equal(caps.definitionProvider, true);
  assert.equal(caps.hoverProvider, true);
  assert.ok(caps.documentLinkProvider);
  connection.sendNotification('initialized', {});
  // Asked for, the index's state comes as indexer/status (an editor's status bar).
  assert.deepEqual(await ready, { state: 'ready', files: 5, symbols: 5 });
  assert.ok(statuses.every((s) => s.state === 'indexing' || s.state === 'ready'), JSON.stringify(statuses));

  const symbols = await connection.sendRequest('workspace/symbol', { query: 'Server.start' });
  assert.deepEqual(symbols.map((s) => [s.name, s.containerName, s.location.uri, s.location.range.start]), [
    ['start', 'Server', uri('app/server.py'), { line: 3, character: 8 }],
  ]);
  const outline = await connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri: uri('app/server.py') } });
  assert.deepEqual(outline.map((s) => [s.name, s.children.map((c) => c.name)]), [['Server', ['start']]]);
  const defs = await connection.sendRequest('textDocument/definition', { textDocument: { uri: uri('app/server.py') }, position: { line: 4, character: 22 } });
  assert.deepEqual(defs.map((d) => [d.uri, d.range.start.line]), [[uri('app/util.py'), 0]]);

  const hover = await connection.sendRequest('textDocument/hover', { textDocument: { uri: uri('app/server.py') }, position: { line: 3, character: 10 } });
  assert.equal(hover.contents.kind, 'markdown');
  assert.match(hover.contents.value, /def start\(self\)/);
  assert.match(hover.contents.value, /method in `Server`/);
  assert.match(hover.contents.value, /app\/server\.py:4/);
  assert.equal(await connection.sendRequest('textDocument/hover', { textDocument: { uri: uri('app/server.py') }, position: { line: 1, character: 0 } }), null);

  // Every import specifier that resolved to a file of the tree is a link to it.
  const links = await connection.sendRequest('textDocument/documentLink', { textDocument: { uri: uri('web/main.ts') } });
  assert.deepEqual(links.map((l) => [l.range, l.target]), [
    [{ start: { line: 0, character: 23 }, end: { line: 0, character: 30 } }, uri('web/greet.ts')],
  ]);

  // The registry's methods are served too: an editor's custom requests.
  assert.deepEqual(await connection.sendRequest('graph/importers', { path: 'web/greet.ts' }), [{ path: 'web/main.ts', external: false, line: 1 }]);
  assert.equal((await connection.sendRequest('index/status', {})).files, 5);
  assert.equal(typeof (await connection.sendRequest('index/refresh', {})).changes, 'number');

  // An unsaved buffer is indexed in the server's one tree: the port's JSON-RPC clients see it
  // while the editor has it open, and no longer once the editor has gone.
  const { connection: plain } = await lsp(server.url);
  const search = (pattern) => plain.sendRequest('symbols/search', { pattern });
  connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri: uri('app/util.py'), languageId: 'python', version: 1, text: 'def helper():\n    return 42\n\ndef unsaved_idea():\n    pass\n' },
  });
  assert.deepEqual((await connection.sendRequest('workspace/symbol', { query: 'unsaved_idea' })).map((s) => s.name), ['unsaved_idea']);
  assert.deepEqual((await search('unsaved_idea')).map((h) => h.path), ['app/util.py']);
  connection.sendNotification('textDocument/didChange', {
    textDocument: { uri: uri('app/util.py'), version: 2 },
    contentChanges: [{ range: { start: { line: 3, character: 4 }, end: { line: 3, character: 16 } }, text: 'renamed_idea' }],
  });
  assert.deepEqual((await connection.sendRequest('workspace/symbol', { query: 'renamed_idea' })).map((s) => s.name), ['renamed_idea']);

  // shutdown, then every request but exit is refused; exit closes the connection normally.
  assert.equal(await connection.sendRequest('shutdown'), null);
  await assert.rejects(connection.sendRequest('workspace/symbol', { query: 'helper' }), (e) => e.code === -32600);
  connection.sendNotification('exit');
  assert.equal(await closed, 1000);
  // The buffer went with its editor; the port and its index go on.
  for (let i = 0; i < 100 && (await search('renamed_idea')).length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(await search('renamed_idea'), []);
  assert.deepEqual((await search('helper')).map((h) => h.path), ['app/util.py']);

  // Each connection has its own lifecycle: a new one initializes again on the same index.
  const again = await lsp(`${server.url}/lsp?x=1`);
  assert.equal((await again.connection.sendRequest('initialize', initParams(root))).serverInfo.name, 'indexer');
  assert.equal((await again.connection.sendRequest('workspace/symbol', { query: 'greet' }))[0].name, 'greet');
  again.ws.close();
});

test('the same login and Origin rules as the rest of the port', async (t) => {
  const root = tree(files);
  const server = await serve(root, '--token', 's3cret', '--allow-origin', 'https://ide.example');
  t.after(async () => {
    assert.equal(await server.stop(), 0);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const url = `${server.url}/lsp`;

  // No token: the first message must be authenticate; anything else is refused and the socket closed.
  const anon = await raw(url);
  anon.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams(root) }));
  const refused = await anon.next();
  assert.equal(refused.error.code, -32000);
  assert.match(refused.error.message, /authenticate/);
  assert.equal(await anon.closed, 1008);

  const wrong = await raw(url);
  wrong.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'authenticate', params: { token: 'guess' } }));
  assert.match((await wrong.next()).error.message, /wrong token/);
  assert.equal(await wrong.closed, 1008);

  // As a browser must (it cannot set headers on a WebSocket): authenticate, then LSP.
  const browser = await raw(url, { origin: 'https://ide.example' });
  browser.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'authenticate', params: { token: 's3cret' } }));
  assert.equal((await browser.next()).result, true);
  browser.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: initParams(root) }));
  assert.equal((await browser.next()).result.serverInfo.name, 'indexer');
  browser.ws.close();

  // A program with the header.
  const program = await lsp(url, { headers: { Authorization: 'Bearer s3cret' } });
  assert.equal((await program.connection.sendRequest('initialize', initParams(root))).serverInfo.name, 'indexer');
  program.ws.close();

  // A page from elsewhere is refused before the upgrade, token or not.
  await assert.rejects(socket(url, { origin: 'https://evil.example', headers: { Authorization: 'Bearer s3cret' } }).opened, /HTTP 403/);
});

test('frames that are not JSON-RPC are answered and the conversation goes on; a client gone mid-call leaves the server serving', async (t) => {
  const many = {};
  for (let i = 0; i < 4000; i++) many[`pkg/m${i}.py`] = `def f${i}(a):\n    return a\n\nclass C${i}:\n    pass\n`;
  const root = tree({ ...files, ...many });
  const server = await serve(root, '--no-snapshot');
  t.after(async () => {
    assert.equal(await server.stop(), 0);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const url = `${server.url}/lsp`;

  // Gone mid-call: requests that wait for the index, then the socket closes under them.
  for (let i = 0; i < 4; i++) {
    const c = await raw(url);
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: initParams(root) }));
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'workspace/symbol', params: { query: 'C3999' } }));
    c.ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'textDocument/didOpen', params: { textDocument: { uri: pathToFileURL(path.join(root, 'app/util.py')).href, languageId: 'python', version: 1, text: 'def opened_then_gone():\n    pass\n' } } }));
    if (i % 2) c.ws.terminate();
    else c.ws.close();
  }

  const c = await raw(url);
  c.ws.send('{"jsonrpc": "2.0", "id": 1, "method": ');
  assert.equal((await c.next()).error.code, -32700);
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal((await c.next()).error.code, -32600);
  c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'textDocument/definition', params: { textDocument: { uri: 42 }, position: {} } }));
  const bad = await c.next();
  assert.equal(bad.id, 2);
  assert.equal(bad.error.code, -32602);
  c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'no/such/method' }));
  assert.equal((await c.next()).error.code, -32601);
  c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'initialize', params: initParams(root) }));
  assert.equal((await c.next()).id, 4);
  c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'workspace/symbol', params: { query: 'C3999' } }));
  let answer = await c.next();
  while (answer.method) answer = await c.next();  // progress, if any
  assert.deepEqual(answer.result.map((s) => s.name), ['C3999']);
  // The buffers of the clients that went are not in the index.
  c.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'workspace/symbol', params: { query: 'opened_then_gone' } }));
  assert.deepEqual((await c.next()).result, []);
  c.ws.close();
});
