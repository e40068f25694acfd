// The desktop entry point's choice of binary (src/binary.ts, bundled by esbuild as the extension
// is) on real files: the setting when it names an executable, else the first `indexer` on PATH
// that is an executable file, else none (the extension then says so and offers the setting).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';

const here = path.resolve(import.meta.dirname, '..');
const built = await esbuild.build({ entryPoints: [path.join(here, 'src/binary.ts')], bundle: true, platform: 'node', format: 'esm', write: false });
const { findBinary } = await import(`data:text/javascript;base64,${Buffer.from(built.outputFiles[0].text).toString('base64')}`);

test('indexer.path, else the first executable indexer on PATH, else none', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-binary-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const [notExecutable, aDirectory, good, named] = ['a', 'b', 'c', 'd'].map((d) => path.join(dir, d));
  for (const d of [notExecutable, aDirectory, good, named]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(notExecutable, 'indexer'), '#!/bin/sh\n', { mode: 0o644 });
  fs.mkdirSync(path.join(aDirectory, 'indexer'));
  fs.writeFileSync(path.join(good, 'indexer'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(named, 'my-indexer'), '#!/bin/sh\n', { mode: 0o755 });

  const PATH = [notExecutable, '', aDirectory, good].join(path.delimiter);
  assert.equal(findBinary('', PATH), path.join(good, 'indexer'));
  assert.equal(findBinary(path.join(named, 'my-indexer'), PATH), path.join(named, 'my-indexer'));
  // A setting that names nothing runnable is not silently replaced by PATH's.
  assert.equal(findBinary(path.join(named, 'missing'), PATH), undefined);
  assert.equal(findBinary(path.join(notExecutable, 'indexer'), PATH), undefined);
  assert.equal(findBinary('', [notExecutable, aDirectory].join(path.delimiter)), undefined);
  assert.equal(findBinary('', ''), undefined);
});
