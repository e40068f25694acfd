// exec/run through @indexer/client against the real binary: output streamed through the async
// iterator as it arrives and equal to the result, a compile error as a result, an abort that kills
// the run, exec/status and exec/cancel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import { connect, ErrorCodes, RpcError } from '../dist/index.js';
import { Server, tree } from './server.mjs';

let root, server, client;
before(async () => {
  root = tree({ 'a.py': 'x = 1\n' });
  server = await Server.start(root);
  client = await connect(server.url);
});
after(async () => {
  await client?.close();
  assert.equal(await server?.stop(), 0, server?.stderr);
  fs.rmSync(root, { recursive: true, force: true });
});

test('exec/run streams output through the async iterator, in order', async () => {
  const src = 'import time\nfor i in range(4):\n    print("line", i, flush=True)\n    time.sleep(0.05)\n';
  const run = client.run({ language: 'python', source_code: src });
  const seen = [];
  for await (const o of run.output) {
    assert.equal(o.id, run.id);
    seen.push(o);
  }
  const result = await run.result;
  assert.equal(result.status, 'completed');
  assert.equal(seen.filter((o) => o.stream === 'stdout').map((o) => o.data).join(''), result.stdout);
  assert.equal(result.stdout, 'line 0\nline 1\nline 2\nline 3\n');
  assert.ok(seen.length >= 2, `streamed in pieces: ${seen.length}`);
});

test('a compile error is a result; a command line runs under the policy', async () => {
  const bad = await client.run({ language: 'c', source_code: 'int main(void) { return nope; }' }).result;
  assert.equal(bad.status, 'compile_error');
  assert.match(bad.compile_output, /nope/);
  const cmd = await client.run({ command: 'echo hi | tr a-z A-Z' }).result;
  assert.equal(cmd.stdout, 'HI\n');
  await assert.rejects(client.run({ language: 'cobol', source_code: 'x' }).result,
    (e) => e instanceof RpcError && e.code === ErrorCodes.InvalidParams);
});

test('aborting kills the run; exec/status and exec/cancel', async () => {
  const controller = new AbortController();
  const run = client.run({ language: 'bash', source_code: 'sleep 60' }, { signal: controller.signal });
  for (let i = 0; i < 200 && (await client.execStatus(run.id).catch(() => ({ status: 'unknown' }))).status !== 'running'; i++)
    await new Promise((r) => setTimeout(r, 20));
  controller.abort();
  await assert.rejects(run.result, (e) => e.name === 'AbortError');
  let status;
  for (let i = 0; i < 250 && (status = (await client.execStatus(run.id)).status) !== 'cancelled'; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(status, 'cancelled');
  const gone = await client.execCancel(run.id);
  assert.equal(gone.cancelled, false);
});
