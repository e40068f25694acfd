// The real vscode-languageclient (9, inside monaco-languageclient 10.7) on monaco-vscode-api's
// extended service set, in Debian's headless Chromium driven by playwright-core (no browser
// download), connected to indexer serve's /lsp through the extension's web transport with a
// token and an allowed Origin: workspace symbols through VS Code's own provider path, the
// outline, definition, hover and document links on a real tree; then the extension's own web
// entry point activated on that page's API in place of the wrapper's client, and one of its
// commands. One page, one server. Saves
// screenshots for clients/vscode/README.md when SCREENSHOTS names a directory. With BENCH set, a
// second test times the browser client next to a stdio client (bench/editor_lsp.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { serve as serveRoot } from '../clients/serve.mjs';

const binary = process.env.INDEXER_BINARY;
assert.ok(binary, 'INDEXER_BINARY names the indexer binary');
const here = import.meta.dirname;
const dist = path.join(here, 'dist');
// The /lsp WebSocket of indexer serve on ROOT.
async function serve(root, ...args) {
  const s = await serveRoot(root, ...args);
  return { url: `${s.url}/lsp`, stop: s.stop };
}
assert.ok(fs.existsSync(path.join(dist, 'index.html')), 'the page is built (npx vite build in tests/browser)');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.ttf': 'font/ttf', '.wasm': 'application/wasm' };
function servePage() {
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(dist, rel);
    if (!file.startsWith(dist + path.sep) || !fs.existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}


// A real tree: this repository's TypeScript client (its sources import each other).
const clientSrc = path.resolve(here, '../../clients/typescript/src');
function realTree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-browser-'));
  fs.cpSync(clientSrc, path.join(root, 'src'), { recursive: true });
  fs.writeFileSync(path.join(root, 'src/app.ts'), "import { IndexerClient } from './client';\n\nexport async function firstSymbol(url: string) {\n  const client = new IndexerClient(url);\n  return client.search({ pattern: 'main' });\n}\n");
  fs.writeFileSync(path.join(root, 'src/cli.ts'), "import { firstSymbol } from './app';\n\nvoid firstSymbol(process.argv[2]);\n");
  return root;
}

test('monaco-languageclient in headless Chromium over /lsp: symbols, outline, definition, hover, links; then the extension\'s web entry point', async (t) => {
  const root = realTree();
  const page_ = await servePage();
  const origin = `http://127.0.0.1:${page_.address().port}`;
  const server = await serve(root, '--token', 'browser-token', '--allow-origin', origin);
  const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox'] });
  t.after(async () => {
    await browser.close();
    page_.close();
    assert.equal(await server.stop(), 0);
    fs.rmSync(root, { recursive: true, force: true });
  });
  const page = await browser.newPage({ viewport: { width: 1000, height: 560 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => window.ide !== undefined, null, { timeout: 60000 });

  const text = fs.readFileSync(path.join(root, 'src/app.ts'), 'utf8');
  await page.evaluate((s) => window.ide.start(s), { url: server.url, token: 'browser-token', root, file: 'src/app.ts', text });
  const fileUri = (rel) => `file://${root}/${rel}`;

  // Workspace symbols through vscode.executeWorkspaceSymbolProvider: VS Code's registry of
  // providers, which the language client filled.
  const symbols = await page.evaluate(() => window.ide.symbols('IndexerClient'));
  const cls = symbols.find((s) => s.name === 'IndexerClient');
  assert.ok(cls, JSON.stringify(symbols));
  assert.equal(cls.uri, fileUri('src/client.ts'));

  const outline = await page.evaluate((r) => window.ide.outline(r, 'src/app.ts'), root);
  assert.deepEqual(outline, [{ name: 'firstSymbol', children: [] }]);

  // IndexerClient on line 3 (0-based) of app.ts: defined in client.ts, which app.ts imports.
  const col = text.split('\n')[3].indexOf('IndexerClient') + 2;
  const defs = await page.evaluate(([r, c]) => window.ide.definition(r, 'src/app.ts', 3, c), [root, col]);
  assert.deepEqual(defs.map((d) => [d.uri, d.line]), [[fileUri('src/client.ts'), cls.line]]);

  const hover = await page.evaluate(([r, c]) => window.ide.hover(r, 'src/app.ts', 3, c), [root, col]);
  assert.ok(hover.some((h) => /class IndexerClient/.test(h) && /src\/client\.ts:/.test(h)), JSON.stringify(hover));

  const links = await page.evaluate((r) => window.ide.links(r, 'src/app.ts'), root);
  assert.deepEqual(links, [{ line: 0, start: 31, end: 39, target: fileUri('src/client.ts') }]);

  if (process.env.SCREENSHOTS) {
    fs.mkdirSync(process.env.SCREENSHOTS, { recursive: true });
    await page.evaluate(([c]) => window.ide.showHover(3, c), [col]);
    await page.waitForSelector('.monaco-hover-content', { timeout: 10000 }).catch(() => undefined);
    await page.screenshot({ path: path.join(process.env.SCREENSHOTS, 'hover.png') });
    await page.keyboard.press('Escape');
    await page.evaluate(() => window.ide.showSymbols('Client'));
    await page.waitForSelector('.quick-input-widget .monaco-list-row', { timeout: 10000 }).catch(() => undefined);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(process.env.SCREENSHOTS, 'workspace-symbols.png') });
  }

  // The extension's web entry point, activated on the page's VS Code API: one client for the
  // workspace folder (the wrapper's is gone: one answer, not two), and "Show importers of this
  // file" listing them in VS Code's quick pick.
  assert.deepEqual(await page.evaluate(() => window.ide.activateExtension()), [`file://${root}`]);
  const again = await page.evaluate(() => window.ide.symbols('IndexerClient'));
  assert.deepEqual(again.filter((s) => s.name === 'IndexerClient').map((s) => s.uri), [fileUri('src/client.ts')]);
  await page.evaluate(() => window.ide.runCommand('indexer.showImporters'));
  const rows = await page.waitForSelector('.quick-input-widget .monaco-list-row', { timeout: 20000 }).then(() =>
    page.$$eval('.quick-input-widget .monaco-list-row', (r) => r.map((e) => e.textContent)),
  );
  assert.deepEqual(rows, ['src/cli.tsline 1']);
  if (process.env.SCREENSHOTS) await page.screenshot({ path: path.join(process.env.SCREENSHOTS, 'importers.png') });
  assert.deepEqual(errors, []);
});

// BENCH=1 (bench/editor_lsp.sh): open-to-first-workspace-symbol and workspace/symbol latency
// through the browser client (VS Code's provider command, the language client, /lsp) next to
// the same through a stdio client (vscode-languageserver-protocol over `indexer lsp`), one run,
// one tree (BENCH_TREE, else the test's), both cold (--no-snapshot).
test('bench: the browser client next to the stdio client', { skip: !process.env.BENCH }, async (t) => {
  const { default: lsp } = await import('vscode-languageserver-protocol/node.js');
  const root = process.env.BENCH_TREE ? path.resolve(process.env.BENCH_TREE) : realTree();
  const query = process.env.BENCH_QUERY ?? 'Client';
  const runs = 200;
  const stats = (times) => {
    times.sort((a, b) => a - b);
    const q = (p) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
    return `p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`;
  };
  t.after(() => {
    if (!process.env.BENCH_TREE) fs.rmSync(root, { recursive: true, force: true });
  });

  // stdio: from spawning the server to the first answer.
  let t0 = performance.now();
  // indexer lsp has no --no-snapshot: a snapshot path that does not exist yet is as cold.
  const snapshot = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-bench-')), 'snapshot');
  const child = spawn(binary, ['lsp', root, '--snapshot', snapshot], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = lsp.createProtocolConnection(new lsp.StreamMessageReader(child.stdout), new lsp.StreamMessageWriter(child.stdin));
  connection.listen();
  await connection.sendRequest('initialize', { processId: process.pid, rootUri: `file://${root}`, capabilities: {} });
  connection.sendNotification('initialized', {});
  const first = await connection.sendRequest('workspace/symbol', { query });
  const stdioFirst = performance.now() - t0;
  const stdioTimes = [];
  for (let i = 0; i < runs; i++) {
    const t1 = performance.now();
    await connection.sendRequest('workspace/symbol', { query });
    stdioTimes.push(performance.now() - t1);
  }
  await connection.sendRequest('shutdown');
  connection.sendNotification('exit');
  connection.dispose();
  fs.rmSync(path.dirname(snapshot), { recursive: true, force: true });

  // browser: from starting the server and loading the page to the first answer.
  const pageServer = await servePage();
  const origin = `http://127.0.0.1:${pageServer.address().port}`;
  const browser = await chromium.launch({ executablePath: browserPath, headless: true, args: ['--no-sandbox'] });
  t0 = performance.now();
  const server = await serve(root, '--no-snapshot', '--allow-origin', origin);
  const page = await browser.newPage();
  await page.goto(`${origin}/index.html`);
  await page.waitForFunction(() => window.ide !== undefined, null, { timeout: 60000 });
  // The editor opens the first result's file, with its text (an empty buffer would be indexed as the file).
  const file = first.length ? decodeURIComponent(first[0].location.uri.slice(`file://${root}/`.length)) : 'untitled.txt';
  const text = first.length ? fs.readFileSync(path.join(root, file), 'utf8') : '';
  await page.evaluate((s) => window.ide.start(s), { url: server.url, token: '', root, file, text });
  const answered = await page.evaluate((q) => window.ide.symbols(q), query);
  const browserFirst = performance.now() - t0;
  assert.equal(answered.length, first.length);
  const browserTimes = await page.evaluate(([q, n]) => window.ide.timeSymbols(q, n), [query, runs]);
  await browser.close();
  pageServer.close();
  await server.stop();
  console.log(`tree ${root}, query "${query}" (${first.length} results), ${runs} runs each`);
  console.log(`open to first workspace/symbol: stdio ${stdioFirst.toFixed(0)} ms, browser ${browserFirst.toFixed(0)} ms`);
  console.log(`workspace/symbol: stdio ${stats(stdioTimes)}; browser ${stats(browserTimes)}`);
});
