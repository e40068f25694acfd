// indexer lsp, driven by Microsoft's own LSP client library (vscode-languageserver-protocol) over
// stdio: the handshake with work-done progress, workspace and document symbols, definitions,
// unsaved buffers with incremental edits, UTF-16 columns, cancellation, shutdown and exit; buffers
// too large or too dense to index. The server is started as VS Code starts it, with --stdio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import lsp from 'vscode-languageserver-protocol/node';
import { tree } from './tree.mjs';

const binary = process.env.INDEXER_BINARY;
assert.ok(binary, 'INDEXER_BINARY names the indexer binary');


function start(root) {
  const child = spawn(binary, ['lsp', root, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = lsp.createProtocolConnection(new lsp.StreamMessageReader(child.stdout), new lsp.StreamMessageWriter(child.stdin));
  const progress = [];
  connection.onRequest(lsp.WorkDoneProgressCreateRequest.type, () => null);
  connection.onProgress(lsp.WorkDoneProgress.type, 'indexer/indexing', (value) => progress.push(value.kind));
  connection.listen();
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, connection, progress, exited };
}

const uri = (root, rel) => pathToFileURL(path.join(root, rel)).href;

// shutdown, exit with 0, and the tree removed.
async function shutdown(connection, exited, root) {
  await connection.sendRequest(lsp.ShutdownRequest.type);
  await connection.sendNotification(lsp.ExitNotification.type);
  assert.equal(await exited, 0);
  connection.dispose();
  fs.rmSync(root, { recursive: true, force: true });
}

async function initialize(connection, root) {
  return connection.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(root).href,
    capabilities: { window: { workDoneProgress: true } },
    workspaceFolders: null,
  });
}

test('handshake, symbols, definitions, buffers, UTF-16, shutdown', async () => {
  const root = tree({
    'src/shapes.py': 'class Shape:\n    def area(self):\n        return 0\n\ndef make_shape():\n    return Shape()\n',
    // A line with characters outside the BMP: UTF-16 columns differ from bytes and code points.
    'src/emoji.py': 's = "😀😀"; ok = 1\ndef after_emoji():\n    pass\n',
    'src/use.py': 'from shapes import make_shape\n\nvalue = make_shape()\n',
  });
  const { connection, progress, exited } = start(root);
  const init = await initialize(connection, root);
  assert.equal(init.capabilities.workspaceSymbolProvider, true);
  assert.equal(init.capabilities.positionEncoding, 'utf-16');
  await connection.sendNotification(lsp.InitializedNotification.type, {});

  const found = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'makSha' });
  assert.deepEqual(found.map((s) => s.name), ['make_shape']);
  assert.equal(found[0].kind, lsp.SymbolKind.Function);
  assert.equal(found[0].location.uri, uri(root, 'src/shapes.py'));
  assert.deepEqual(found[0].location.range.start, { line: 4, character: 4 });

  const outline = await connection.sendRequest(lsp.DocumentSymbolRequest.type, { textDocument: { uri: uri(root, 'src/shapes.py') } });
  assert.deepEqual(outline.map((s) => s.name), ['Shape', 'make_shape']);
  assert.deepEqual(outline[0].children.map((s) => s.name), ['area']);
  assert.equal(outline[0].children[0].kind, lsp.SymbolKind.Method);

  // "ok" sits after two emoji: byte column 18, UTF-16 column 12.
  const emoji = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'ok' });
  const ok = emoji.find((s) => s.name === 'ok');
  assert.ok(ok, JSON.stringify(emoji));
  assert.deepEqual(ok.location.range.start, { line: 0, character: 12 });

  // Definition from a use site: make_shape( on line 3 of use.py.
  const defs = await connection.sendRequest(lsp.DefinitionRequest.type, {
    textDocument: { uri: uri(root, 'src/use.py') },
    position: { line: 2, character: 10 },
  });
  assert.equal(defs[0].uri, uri(root, 'src/shapes.py'));
  assert.deepEqual(defs[0].range.start, { line: 4, character: 4 });

  // An unsaved buffer, edited by ranges, is what the index answers from; closing it returns to disk.
  const doc = uri(root, 'src/emoji.py');
  await connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri: doc, languageId: 'python', version: 1, text: fs.readFileSync(path.join(root, 'src/emoji.py'), 'utf8') },
  });
  await connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: doc, version: 2 },
    // Rename "ok" (UTF-16 columns 12-14 on line 0) and append a function.
    contentChanges: [
      { range: { start: { line: 0, character: 12 }, end: { line: 0, character: 14 } }, text: 'renamed_in_buffer' },
      { range: { start: { line: 3, character: 0 }, end: { line: 3, character: 0 } }, text: 'def typed_not_saved():\n    pass\n' },
    ],
  });
  const typed = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'typed_not_saved' });
  assert.deepEqual(typed.map((s) => s.name), ['typed_not_saved']);
  const renamed = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'renamed_in_buffer' });
  assert.deepEqual(renamed[0].location.range.start, { line: 0, character: 12 });
  await connection.sendNotification(lsp.DidCloseTextDocumentNotification.type, { textDocument: { uri: doc } });
  assert.deepEqual(await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'typed_not_saved' }), []);

  // A file changed on disk, reported by the client.
  fs.writeFileSync(path.join(root, 'src/new.py'), 'def reported_by_client():\n    pass\n');
  await connection.sendNotification(lsp.DidChangeWatchedFilesNotification.type, {
    changes: [{ uri: uri(root, 'src/new.py'), type: lsp.FileChangeType.Created }],
  });
  const reported = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'reported_by_client' });
  assert.equal(reported.length, 1);

  // An unknown method is an error; the server goes on.
  await assert.rejects(connection.sendRequest('textDocument/noSuchThing', {}), (e) => e.code === lsp.ErrorCodes.MethodNotFound);
  for (let i = 0; i < 100 && progress.at(-1) !== 'end'; ++i) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual([progress[0], progress.at(-1)], ['begin', 'end'], `progress: ${progress}`);

  await shutdown(connection, exited, root);
});

test('a request cancelled while the first index is built gets RequestCancelled', async () => {
  const files = {};
  for (let i = 0; i < 3000; ++i) files[`pkg/m${i}.py`] = `def f${i}():\n    return ${i}\n\nclass C${i}:\n    pass\n`;
  const root = tree(files);
  const { connection, exited } = start(root);
  await initialize(connection, root);
  const source = new lsp.CancellationTokenSource();
  const pending = connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'f1' }, source.token);
  source.cancel();
  await assert.rejects(pending, (e) => e.code === lsp.LSPErrorCodes.RequestCancelled);
  // And a request that is not cancelled is answered once the index is there.
  const found = await connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query: 'C2999' });
  assert.equal(found[0].name, 'C2999');
  await shutdown(connection, exited, root);
});

test('exit without shutdown exits with 1', async () => {
  const root = tree({ 'a.py': 'x = 1\n' });
  const { connection, exited } = start(root);
  await initialize(connection, root);
  await connection.sendNotification(lsp.ExitNotification.type);
  assert.equal(await exited, 1);
  connection.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

test('buffers over --max-file-size or too dense are not indexed, the editor is told, and the server answers', async () => {
  const root = tree({ 'big.py': 'def big_on_disk():\n    pass\n', 'dense.py': 'def dense_file_on_disk():\n    pass\n' });
  const { connection, exited } = start(root);
  const shown = [];
  connection.onNotification(lsp.ShowMessageNotification.type, (m) => shown.push(m));
  await initialize(connection, root);
  await connection.sendNotification(lsp.InitializedNotification.type, {});
  const search = (query) => connection.sendRequest(lsp.WorkspaceSymbolRequest.type, { query });
  assert.equal((await search('big_on_disk')).length, 1);

  // 5.4 MB: over the 4 MiB default. Not parsed; the file has no symbols while it is open so.
  const head = 'def typed_in_big():\n    pass\n';
  const lines = 900000;
  const open = (rel, text) => connection.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
    textDocument: { uri: uri(root, rel), languageId: 'python', version: 1, text },
  });
  await open('big.py', head + 'x = 1\n'.repeat(lines));
  // The message goes out while the didOpen is handled, before this request is read.
  assert.deepEqual(await search('typed_in_big'), []);
  assert.deepEqual(await search('big_on_disk'), []);
  assert.equal(shown.length, 1, JSON.stringify(shown));
  assert.equal(shown[0].type, lsp.MessageType.Warning);
  assert.match(shown[0].message, /big\.py is 5400029 bytes, over the limit of 4194304 \(--max-file-size\)/);
  // An edit by range to the text kept for it brings it under the limit: indexed again.
  await connection.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
    textDocument: { uri: uri(root, 'big.py'), version: 2 },
    contentChanges: [{ range: { start: { line: 2, character: 0 }, end: { line: 2 + lines, character: 0 } }, text: '' }],
  });
  assert.deepEqual((await search('typed_in_big')).map((s) => s.location.range.start), [{ line: 0, character: 4 }]);

  // 4.1 MB of `x = 1`, within the size limit: its parse tree passes the budget (256 MiB) and stops.
  await open('dense.py', 'x = 1\n'.repeat(690000));
  assert.equal((await search('typed_in_big')).length, 1);
  assert.equal(shown.length, 2, JSON.stringify(shown));
  assert.match(shown[1].message, /dense\.py is too dense to index: its parse tree passed 256 MiB/);
  await connection.sendNotification(lsp.DidCloseTextDocumentNotification.type, { textDocument: { uri: uri(root, 'dense.py') } });
  assert.equal((await search('dense_file_on_disk')).length, 1);
  await shutdown(connection, exited, root);
});

// Eglot's way: initialize, shutdown and exit written at once (with "params": null), before the
// tree has opened: the server exits with 0 (it aborted, leaving the opener's thread unjoined).
test('shutdown and exit right after initialize, params null: exit code 0', async () => {
  const root = tree({ 'a.py': 'def f():\n    pass\n' });
  for (let i = 0; i < 5; i++) {
    const child = spawn(binary, ['lsp', root], { stdio: ['pipe', 'ignore', 'inherit'] });
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    for (const m of [
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { processId: null, rootUri: null, capabilities: {} } },
      { jsonrpc: '2.0', id: 2, method: 'shutdown', params: null },
      { jsonrpc: '2.0', method: 'exit', params: null },
    ]) {
      const body = JSON.stringify(m);
      child.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
    assert.equal(await exited, 0);
  }
  fs.rmSync(root, { recursive: true, force: true });
});
