// `indexer tokens` against the npm `tiktoken` package (OpenAI's Rust core compiled to WASM): the
// same ids for every case of a generated corpus, in both encodings, and the same ids for invalid
// UTF-8 once each maximal invalid subpart is U+FFFD (what TextDecoder does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { get_encoding } from 'tiktoken';
import { corpus } from './token_corpus.mjs';

const binary = process.env.INDEXER_BINARY;
const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const scratch = mkdtempSync(join(tmpdir(), 'indexer-tokens-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

function indexer(args, input) {
  return execFileSync(binary, ['tokens', ...args], { input, maxBuffer: 1 << 28 });
}

function ours(encoding, bytes) {
  const file = join(scratch, 'case');
  writeFileSync(file, bytes);
  const out = indexer(['--encoding', encoding, '--encode', file]).toString().trim();
  return out ? out.split(' ').map(Number) : [];
}

// Where two id lists part, with the text around it, for a message a person can act on.
function firstDifference(enc, got, want) {
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  const around = new TextDecoder().decode(enc.decode(new Uint32Array(want.slice(Math.max(0, i - 3), i + 3))));
  return `ids differ at token ${i} of ${want.length}: ours ${got.slice(i, i + 4)}, tiktoken ${want.slice(i, i + 4)}, near ${JSON.stringify(around)}`;
}

const cases = corpus(fixtures);

for (const encoding of ['cl100k_base', 'o200k_base']) {
  test(`${encoding}: ids identical to tiktoken on ${cases.length} generated cases`, () => {
    const enc = get_encoding(encoding);
    try {
      assert.ok(cases.length > 100, 'the corpus holds every fixture and the generated cases');
      for (const [name, text] of cases) {
        const want = Array.from(enc.encode_ordinary(text));
        const got = ours(encoding, Buffer.from(text, 'utf8'));
        if (got.length !== want.length || got.some((id, i) => id !== want[i])) assert.fail(`${name}: ${firstDifference(enc, got, want)}`);
      }
    } finally {
      enc.free();
    }
  });

  test(`${encoding}: invalid UTF-8 is tokenized as its U+FFFD replacement`, () => {
    const enc = get_encoding(encoding);
    try {
      const bad = [
        [0x61, 0xc3, 0x28, 0x62],                    // a lead byte without its continuation
        [0x78, 0xe2, 0x82],                           // a sequence cut by the end
        [0xf0, 0x9f, 0x98, 0x20, 0xf0, 0x9f, 0x98, 0x80], // a cut emoji, then a whole one
        [0xff, 0xfe, 0x41],                           // bytes UTF-8 never has
        [0xed, 0xa0, 0x80, 0x41],                     // an encoded surrogate
        [0xc0, 0xaf, 0x20, 0xe0, 0x80, 0xaf],         // overlong forms
        [0x20, 0x80, 0x80, 0x80, 0x27, 0x73],         // stray continuations before a contraction
      ];
      for (const bytes of bad) {
        const buffer = Buffer.from(bytes);
        const text = new TextDecoder().decode(buffer);  // WHATWG: each maximal subpart -> U+FFFD
        const want = Array.from(enc.encode_ordinary(text));
        assert.deepEqual(ours(encoding, buffer), want, `bytes ${buffer.toString('hex')}`);
        // The count agrees with the ids.
        assert.equal(Number(indexer(['--encoding', encoding, '--count', '-'], buffer).toString()), want.length);
      }
    } finally {
      enc.free();
    }
  });
}

test('--decode gives back the bytes of --encode; an unknown id is refused', () => {
  const text = 'Größe 👍🏽 it\'s\n\tdone';
  for (const encoding of ['cl100k_base', 'o200k_base']) {
    const ids = indexer(['--encoding', encoding, '--encode', '-'], text).toString();
    assert.equal(indexer(['--encoding', encoding, '--decode', '-'], ids).toString(), text);
  }
  assert.throws(() => indexer(['--decode', '-'], '1 2 999999999'), (e) => /token id 999999999 is not in o200k_base/.test(e.stderr.toString()));
  assert.throws(() => indexer(['--encoding', 'p50k_base']), (e) => e.status === 2 && /--encoding is o200k_base or cl100k_base/.test(e.stderr.toString()));
  assert.throws(() => indexer([scratch]), (e) => e.status === 1 && /is a directory; tokens reads a file/.test(e.stderr.toString()));
  assert.throws(() => indexer([join(scratch, 'missing')]), (e) => e.status === 1 && /cannot read/.test(e.stderr.toString()));
  assert.equal(indexer(['--count'], '').toString(), '0\n');
});
