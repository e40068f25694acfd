// `vsce package` on the built extension, and what the .vsix carries: the manifest VS Code reads
// (activation events, both entry points, the commands and settings the README documents) and the
// two bundles it names. Run by ctest from clients/vscode after `npm ci` and `npm run build`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = path.resolve(import.meta.dirname, '..');
const vsce = path.join(here, 'node_modules', '.bin', 'vsce');

test('vsce packages the extension with both entry points, its commands and settings', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-vsix-'));
  const vsix = path.join(out, 'indexer.vsix');
  try {
    execFileSync(vsce, ['package', '--no-dependencies', '--skip-license', '--no-rewrite-relative-links', '--out', vsix], { cwd: here, stdio: ['ignore', 'pipe', 'inherit'] });
    const listing = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['[Content_Types].xml', 'extension.vsixmanifest', 'extension/dist/extension.js', 'extension/dist/web.js', 'extension/package.json', 'extension/readme.md',
      'extension/screenshots/hover.png', 'extension/screenshots/importers.png', 'extension/screenshots/workspace-symbols.png']);
    const manifest = JSON.parse(execFileSync('unzip', ['-p', vsix, 'extension/package.json'], { encoding: 'utf8' }));
    assert.equal(manifest.main, './dist/extension.js');
    assert.equal(manifest.browser, './dist/web.js');
    assert.deepEqual(manifest.activationEvents, ['onStartupFinished']);
    assert.deepEqual(
      manifest.contributes.commands.map((c) => [c.command, c.title]),
      [
        ['indexer.showImporters', 'Show importers of this file'],
        ['indexer.showDependents', 'Show dependents of this file'],
        ['indexer.reindex', 'Re-index'],
      ],
    );
    const settings = manifest.contributes.configuration.properties;
    assert.deepEqual(Object.keys(settings), ['indexer.path', 'indexer.serverUrl', 'indexer.token', 'indexer.trace.server']);
    // Every setting is documented in the extension's README, which the package carries.
    const readme = execFileSync('unzip', ['-p', vsix, 'extension/readme.md'], { encoding: 'utf8' });
    for (const key of Object.keys(settings)) assert.ok(readme.includes('`' + key + '`'), `${key} is not in the README`);
    for (const c of manifest.contributes.commands) assert.ok(readme.includes(c.title), `${c.title} is not in the README`);
    // Its images are packaged beside it (relative links, read from the installed extension).
    for (const m of readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(listing.includes(`extension/${m[1]}`), `${m[1]} is not packaged`);
    // Each bundle is whole: vscode-languageclient inside, only `vscode` left to the host.
    const vsixManifest = execFileSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' });
    assert.match(vsixManifest, /<Identity [^>]*Id="indexer-vscode"/);
    for (const bundle of ['extension.js', 'web.js']) {
      const code = execFileSync('unzip', ['-p', vsix, `extension/dist/${bundle}`], { encoding: 'utf8' });
      const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((m) => !m.startsWith('node:'));
      const expected = bundle === 'web.js' ? ['vscode'] : ['vscode', 'child_process', 'crypto', 'fs', 'net', 'os', 'path', 'url', 'util'];
      for (const r of new Set(required)) assert.ok(expected.includes(r), `${bundle} requires ${r}`);
      assert.ok(required.includes('vscode'), `${bundle} does not use vscode`);
      assert.match(code, /workspace\/symbol|textDocument\/documentLink/, `${bundle} carries no language client`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
