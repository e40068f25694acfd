// `indexer executor` driven as a child process, the way a TypeScript orchestration layer drives
// it: one JSON object a line on its stdin, Log/Progress/Result/Error lines read from its stdout.
// Every op, every refusal kind, tasks at once, a Cancel that stops exactly its run, malformed and
// oversized lines, a link swapped in while reads run, and stdin's end.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.INDEXER_BINARY ?? path.resolve(here, '../../build/indexer');

class Executor {
  constructor(workspace, args = []) {
    this.child = spawn(binary, ['executor', '--workspace', workspace, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.messages = [];
    this.waiters = [];
    this.stderr = '';
    let buf = '';
    this.child.stdout.on('data', (d) => {
      buf += d;
      for (let nl; (nl = buf.indexOf('\n')) >= 0; buf = buf.slice(nl + 1)) {
        const m = JSON.parse(buf.slice(0, nl));  // every line the executor writes is one JSON object
        this.messages.push(m);
        this.waiters = this.waiters.filter((w) => !w(m));
      }
    });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve(code ?? signal)));
  }
  send(obj) {
    this.child.stdin.write((typeof obj === 'string' ? obj : JSON.stringify(obj)) + '\n');
  }
  // The first message (already seen or to come) that matches.
  waitFor(match, what = 'a message') {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within 60 s; got ${JSON.stringify(this.messages.slice(-5))}`)), 60_000);
      this.waiters.push((m) => (match(m) ? (clearTimeout(timer), resolve(m), true) : false));
    });
  }
  // A task's end: its Result or its Error.
  end(runId) {
    return this.waitFor((m) => m.run_id === runId && (m.type === 'Result' || m.type === 'Error'), `end of ${runId}`);
  }
  async task(runId, op, args = {}, context) {
    this.send({ type: 'Task', run_id: runId, op, args, ...(context ? { context } : {}) });
    return this.end(runId);
  }
  async close() {
    this.child.stdin.end();
    return this.exited;
  }
}

let ws, outside, ex;
before(() => {
  ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-executor-')));
  outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'indexer-outside-')));
  fs.writeFileSync(path.join(outside, 'secret.txt'), 'OUTSIDE\n');
  fs.mkdirSync(path.join(ws, 'src'));
  fs.mkdirSync(path.join(ws, '.git/hooks'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'src/a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(ws, '.env'), 'TOKEN=1\n');
  fs.writeFileSync(path.join(ws, 'package.json'), JSON.stringify({ scripts: { test: 'echo "[ 40%]" && echo all passed', lint: 'echo lint ok' } }));
  fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(ws, 'link-out'));
  fs.symlinkSync('src/a.txt', path.join(ws, 'link-in'));
  ex = new Executor(ws, ['--max-tasks', '4']);
});
after(async () => {
  if (ex) assert.equal(await ex.close(), 0, ex.stderr);
  fs.rmSync(ws, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

test('Hello names the protocol, the ops and the policy', async () => {
  ex.send({ type: 'Hello' });
  const h = await ex.waitFor((m) => m.type === 'Hello');
  assert.equal(h.protocol, 1);
  assert.deepEqual(h.ops, ['fs.read', 'fs.write', 'fs.list', 'cmd.run', 'test.run', 'lint.run']);
  assert.equal(h.policy, 'workspace');
  assert.equal(h.workspace, ws);
});

test('fs.write, fs.read (text and bytes) and fs.list', async () => {
  let r = await ex.task('w1', 'fs.write', { path: 'src/new/deep.txt', content: 'héllo\n', create_dirs: true });
  assert.equal(r.type, 'Result', JSON.stringify(r));
  assert.deepEqual(r.data, { path: `${ws}/src/new/deep.txt`, bytes: 7, created: true });
  assert.equal(fs.readFileSync(path.join(ws, 'src/new/deep.txt'), 'utf8'), 'héllo\n');
  r = await ex.task('w2', 'fs.write', { path: 'src/new/deep.txt', content: 'again\n' });
  assert.equal(r.data.created, false);
  r = await ex.task('r1', 'fs.read', { path: 'src/new/deep.txt' });
  assert.equal(r.status, 'succeeded');
  assert.deepEqual(r.data, { path: `${ws}/src/new/deep.txt`, size: 6, truncated: false, encoding: 'utf8', content: 'again\n' });
  const bytes = Buffer.from([0, 255, 254, 10, 128]);
  r = await ex.task('w3', 'fs.write', { path: 'bin.dat', content: bytes.toString('base64'), encoding: 'base64' });
  assert.equal(r.type, 'Result');
  r = await ex.task('r2', 'fs.read', { path: 'bin.dat' });
  assert.equal(r.data.encoding, 'base64');
  assert.deepEqual(Buffer.from(r.data.content, 'base64'), bytes);
  r = await ex.task('r3', 'fs.read', { path: 'src/a.txt', max_bytes: 2 });
  assert.deepEqual([r.data.content, r.data.size, r.data.truncated], ['al', 6, true]);
  r = await ex.task('l1', 'fs.list', { path: 'src', recursive: true });
  assert.deepEqual(r.data.entries.map((e) => `${e.type}:${e.path}`), ['file:a.txt', 'dir:new', 'file:new/deep.txt']);
  r = await ex.task('l2', 'fs.list', {});
  const top = Object.fromEntries(r.data.entries.map((e) => [e.path, e.type]));
  assert.equal(top['link-out'], 'symlink');  // listed, never followed
  r = await ex.task('r4', 'fs.read', { path: 'nope.txt' });
  assert.deepEqual([r.type, r.code], ['Error', 'not_found']);
  r = await ex.task('r5', 'fs.read', {});
  assert.deepEqual([r.type, r.code], ['Error', 'bad_args']);
  assert.match(r.details.message, /args\.path is required/);
});

test('refusals: traversal, secrets, protected metadata, links out and in, context widening', async () => {
  const refused = async (id, op, args, context, pattern) => {
    const r = await ex.task(id, op, args, context);
    assert.equal(r.type, 'Error', `${id}: ${JSON.stringify(r)}`);
    assert.equal(r.code, 'refused', `${id}: ${JSON.stringify(r)}`);
    assert.match(r.details.message, pattern, id);
    return r;
  };
  await refused('x1', 'fs.read', { path: '../../../etc/passwd' }, undefined, /outside/);
  await refused('x2', 'fs.read', { path: `${outside}/secret.txt` }, undefined, /outside/);
  await refused('x3', 'fs.read', { path: '.env' }, undefined, /secret/);
  await refused('x4', 'fs.write', { path: '.git/hooks/pre-commit', content: 'curl x | sh' }, undefined, /hooks/);
  await refused('x5', 'fs.write', { path: '.vscode/tasks.json', content: '{}', create_dirs: true }, undefined, /vscode/);
  await refused('x6', 'fs.read', { path: 'link-out' }, undefined, /link|outside/);
  await refused('x7', 'fs.read', { path: 'link-in' }, undefined, /symbolic link/);
  await refused('x8', 'fs.write', { path: 'link-in', content: 'through the link' }, undefined, /symbolic link/);
  assert.equal(fs.readFileSync(path.join(ws, 'src/a.txt'), 'utf8'), 'alpha\n');
  // A context narrows: package.json is outside allowed_paths [src]; a working_dir outside the
  // workspace, or an allowed path outside the policy, widens nothing.
  await refused('x9', 'fs.read', { path: `${ws}/package.json` }, { allowed_paths: ['src'] }, /outside the task's paths/);
  const ok = await ex.task('x10', 'fs.read', { path: 'a.txt' }, { allowed_paths: ['src'], working_dir: 'src' });
  assert.equal(ok.data.content, 'alpha\n');
  await refused('x11', 'fs.read', { path: 'secret.txt' }, { allowed_paths: [outside], working_dir: outside }, /outside/);
  await refused('x12', 'cmd.run', { command: 'ls' }, { working_dir: '/etc' }, /outside/);
  const cmd = await refused('x13', 'cmd.run', { command: 'echo ok && sudo rm -rf /' }, undefined, /sudo/);
  assert.equal(cmd.details.kind, 'command');
  // A timeout is a Result of its own status (a limit, logged as one).
  const t = await ex.task('x14', 'cmd.run', { command: 'sleep 30' }, { timeout_ms: 300 });
  assert.deepEqual([t.type, t.status], ['Result', 'timeout']);
  // A context's timeout never lengthens the policy's: far above it, the policy's wall clock stays.
  const fine = await ex.task('x15', 'cmd.run', { command: 'true' }, { timeout_ms: 10 ** 12 });
  assert.equal(fine.status, 'succeeded');
});

test('cmd.run streams output as Log lines and returns it; argv, stdin and env', async () => {
  let r = await ex.task('c1', 'cmd.run', { command: 'echo one; echo two >&2; printf tail; exit 3' });
  assert.equal(r.status, 'failed');
  assert.equal(r.data.exit_code, 3);
  assert.equal(r.data.stdout, 'one\ntail');
  assert.equal(r.data.stderr, 'two\n');
  const logs = ex.messages.filter((m) => m.type === 'Log' && m.run_id === 'c1').map((m) => `${m.level}:${m.message}`);
  assert.deepEqual(logs.sort(), ['stderr:two', 'stdout:one', 'stdout:tail']);
  r = await ex.task('c2', 'cmd.run', { argv: ['sh', '-c', 'cat; echo "$GREETING"'], stdin: 'from stdin\n', stream: false }, { env: { GREETING: 'hi' } });
  assert.equal(r.data.stdout, 'from stdin\nhi\n');
  assert.equal(ex.messages.filter((m) => m.type === 'Log' && m.run_id === 'c2').length, 0);
  r = await ex.task('c3', 'cmd.run', { command: 'pwd' }, { working_dir: 'src' });
  assert.equal(r.data.stdout, `${ws}/src\n`);
  // A narrowed workspace is all a run sees of it.
  r = await ex.task('c4', 'cmd.run', { command: 'cat ../package.json' }, { allowed_paths: ['src'], working_dir: 'src' });
  assert.equal(r.status, 'failed');
});

test('test.run and lint.run find the workspace\'s commands, with progress', async () => {
  let r = await ex.task('t1', 'test.run');
  assert.equal(r.status, 'succeeded', JSON.stringify(r));
  assert.equal(r.data.command, 'npm test');
  assert.equal(r.data.from, 'package.json');
  assert.match(r.data.stdout, /all passed/);
  const progress = ex.messages.filter((m) => m.type === 'Progress' && m.run_id === 't1').map((m) => m.percent);
  assert.deepEqual(progress, [0, 40, 100]);
  r = await ex.task('t2', 'lint.run');
  assert.equal(r.data.command, 'npm run lint');
  assert.match(r.data.stdout, /lint ok/);
  fs.mkdirSync(path.join(ws, 'proj'));
  fs.writeFileSync(path.join(ws, 'proj/Makefile'), 'lint:\n\t@echo made lint\ntest:\n\t@echo made test\n');
  r = await ex.task('t3', 'lint.run', {}, { working_dir: 'proj' });
  assert.deepEqual([r.data.command, r.data.from, r.data.stdout], ['make lint', 'Makefile', 'made lint\n']);
  fs.writeFileSync(path.join(ws, 'proj/go.mod'), 'module x\n');
  fs.mkdirSync(path.join(ws, 'empty'));
  r = await ex.task('t4', 'test.run', {}, { working_dir: 'empty' });
  assert.deepEqual([r.type, r.code], ['Error', 'no_command']);
  r = await ex.task('t5', 'test.run', { command: 'echo given' }, { working_dir: 'empty' });
  assert.deepEqual([r.data.command, r.data.from, r.data.stdout], ['echo given', 'given', 'given\n']);
  r = await ex.task('t6', 'test.run', { command: 'sudo make test' }, { working_dir: 'empty' });
  assert.equal(r.code, 'refused');
});

test('tasks run at once: two runs that each wait for the other both finish', async () => {
  const wait = (mine, theirs) => `touch ${mine}; i=0; while [ ! -f ${theirs} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; test -f ${theirs} && echo met`;
  ex.send({ type: 'Task', run_id: 'p1', op: 'cmd.run', args: { command: wait('flag1', 'flag2') } });
  ex.send({ type: 'Task', run_id: 'p2', op: 'cmd.run', args: { command: wait('flag2', 'flag1') } });
  const [a, b] = await Promise.all([ex.end('p1'), ex.end('p2')]);
  assert.equal(a.data.stdout, 'met\n');
  assert.equal(b.data.stdout, 'met\n');
});

test('Cancel stops exactly its run', async () => {
  const script = 'echo started; while [ ! -f go ]; do sleep 0.05; done; echo finished';
  ex.send({ type: 'Task', run_id: 'k1', op: 'cmd.run', args: { command: script } });
  ex.send({ type: 'Task', run_id: 'k2', op: 'cmd.run', args: { command: script } });
  await ex.waitFor((m) => m.run_id === 'k1' && m.message === 'started');
  await ex.waitFor((m) => m.run_id === 'k2' && m.message === 'started');
  ex.send({ type: 'Cancel', run_id: 'k1' });
  const k1 = await ex.end('k1');
  assert.deepEqual([k1.type, k1.status], ['Result', 'cancelled']);
  assert.equal(ex.messages.find((m) => m.run_id === 'k2' && m.type !== 'Log'), undefined, 'k2 still runs');
  fs.writeFileSync(path.join(ws, 'go'), '');
  const k2 = await ex.end('k2');
  assert.equal(k2.status, 'succeeded');
  assert.equal(k2.data.stdout, 'started\nfinished\n');
  ex.send({ type: 'Cancel', run_id: 'k1' });
  const late = await ex.waitFor((m) => m.type === 'Error' && m.run_id === 'k1');
  assert.equal(late.code, 'unknown_run');
});

test('malformed and oversized lines get an Error each, and the executor keeps going', async () => {
  const before = ex.messages.length;
  ex.send('not json');
  ex.send('[1, 2]');
  ex.send('{"type": "Task", "op": "fs.read"}');
  ex.send('{"type": "Task", "run_id": "m1"}');
  ex.send('{"type": "Task", "run_id": "m2", "op": "fs.delete"}');
  ex.send('{"type": "Launch", "run_id": "m3"}');
  ex.send('{"type": "Task", "run_id": "m4", "op": "fs.read", "args": []}');
  ex.send('{"type": "Task", "run_id": "m5", "op": "fs.read", "args": {"path": 7}}');
  ex.send('['.repeat(100_000));
  ex.child.stdin.write(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]));  // {"\xff\xfe"}
  ex.send('{"type": "Task", "run_id": "' + 'x'.repeat(300) + '", "op": "fs.read"}');
  ex.send('{"type": "Task", "run_id": "big", "op": "fs.write", "args": {"path": "big.txt", "content": "' + 'a'.repeat(25 << 20) + '"}}');
  const r = await ex.task('m6', 'fs.read', { path: 'src/a.txt' });
  assert.equal(r.data.content, 'alpha\n');
  const errors = ex.messages.slice(before).filter((m) => m.type === 'Error');
  // The reader answers what it cannot queue at once; a task's bad args are answered by the worker
  // that runs it, so only the set is fixed, not the order between the two.
  assert.deepEqual(errors.map((e) => `${e.run_id}:${e.code}`).sort(), [
    'm1:invalid_message', 'm2:unknown_op', 'm3:unknown_type', 'm4:invalid_message', 'm5:bad_args',
    'null:invalid_message', 'null:invalid_message', 'null:invalid_message',
    'null:parse_error', 'null:parse_error', 'null:parse_error', 'null:too_large',
  ]);
  assert.ok(!fs.existsSync(path.join(ws, 'big.txt')));
  // A run_id already running is refused; the first goes on.
  ex.send({ type: 'Task', run_id: 'd1', op: 'cmd.run', args: { command: 'echo started; while [ ! -f go2 ]; do sleep 0.05; done' } });
  await ex.waitFor((m) => m.run_id === 'd1' && m.message === 'started');
  ex.send({ type: 'Task', run_id: 'd1', op: 'fs.read', args: { path: 'src/a.txt' } });
  const dup = await ex.waitFor((m) => m.run_id === 'd1' && m.type === 'Error');
  assert.equal(dup.code, 'duplicate_run_id');
  fs.writeFileSync(path.join(ws, 'go2'), '');
  assert.equal((await ex.waitFor((m) => m.run_id === 'd1' && m.type === 'Result')).status, 'succeeded');
});

test('a link swapped in while reads run never lets one through', async () => {
  fs.mkdirSync(path.join(ws, 'swap'));
  fs.writeFileSync(path.join(ws, 'swap/secret.txt'), 'inside\n');
  fs.mkdirSync(path.join(ws, 'real'));
  fs.writeFileSync(path.join(ws, 'real/secret.txt'), 'inside\n');
  fs.symlinkSync(outside, path.join(ws, 'evil'));
  // Another process swaps `swap` between the real directory and a link to `outside`, atomically,
  // until told to stop; it says "swapping" once it has begun.
  const swapper = spawn('/usr/bin/python3', ['-c', `
import os, sys, time
ws = ${JSON.stringify(ws)}
end = time.time() + 120
first = True
while time.time() < end and not os.path.exists(ws + '/stop'):
    os.rename(ws + '/swap', ws + '/real2'); os.rename(ws + '/evil', ws + '/swap')
    if first: print('swapping', flush=True); first = False
    os.rename(ws + '/swap', ws + '/evil'); os.rename(ws + '/real2', ws + '/swap')
`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => swapper.stdout.once('data', resolve));
  // Rounds of reads and listings until both sides of the race were seen (or 20 rounds).
  const ends = [];
  for (let round = 0; round < 20; round++) {
    const ids = [];
    for (let i = 0; i < 200; i++) {
      const id = `s${round}-${i}`;
      ids.push(id);
      ex.send({ type: 'Task', run_id: id, op: i % 2 ? 'fs.read' : 'fs.list', args: { path: i % 2 ? 'swap/secret.txt' : 'swap' } });
    }
    ends.push(...(await Promise.all(ids.map((id) => ex.end(id)))));
    if (ends.some((m) => m.type === 'Error') && ends.some((m) => m.type === 'Result' && m.data.content === 'inside\n')) break;
  }
  fs.writeFileSync(path.join(ws, 'stop'), '');
  await new Promise((resolve) => swapper.on('exit', resolve));
  const leaked = ends.filter((m) => JSON.stringify(m).includes('OUTSIDE') || (m.type === 'Result' && m.data.entries?.some((e) => e.path === 'secret.txt' && e.size === 8)));
  assert.deepEqual(leaked, []);
  // Both sides of the race happened: reads that got the real file, and reads refused or not
  // found while the link was there.
  assert.ok(ends.some((m) => m.type === 'Result' && m.data.content === 'inside\n'));
  assert.ok(ends.some((m) => m.type === 'Error'), 'the race was never seen');
  for (const m of ends) if (m.type === 'Error') assert.ok(['refused', 'not_found'].includes(m.code), JSON.stringify(m));
});

test('a Cancel of a task still queued answers it at once, while the runs ahead go on', async () => {
  const one = new Executor(ws, ['--max-tasks', '1']);
  one.send({ type: 'Task', run_id: 'q1', op: 'cmd.run', args: { command: 'echo started; while [ ! -f go3 ]; do sleep 0.05; done' } });
  await one.waitFor((m) => m.run_id === 'q1' && m.message === 'started');
  one.send({ type: 'Task', run_id: 'q2', op: 'fs.read', args: { path: 'src/a.txt' } });
  one.send({ type: 'Cancel', run_id: 'q2' });
  const q2 = await one.end('q2');
  assert.deepEqual([q2.type, q2.status], ['Result', 'cancelled']);
  assert.equal(one.messages.find((m) => m.run_id === 'q1' && m.type !== 'Log'), undefined, 'q1 still runs');
  fs.writeFileSync(path.join(ws, 'go3'), '');
  assert.equal((await one.end('q1')).status, 'succeeded');
  assert.equal(await one.close(), 0, one.stderr);
});

test('stdin\'s end lets a running task finish, then the executor exits 0', async () => {
  const last = new Executor(ws);
  last.send({ type: 'Task', run_id: 'e1', op: 'cmd.run', args: { command: 'sleep 0.5; echo done' } });
  await last.waitFor((m) => m.type === 'Log' || m.type === 'Result', 'output of e1').catch(() => {});
  assert.equal(await last.close(), 0, last.stderr);
  const r = last.messages.find((m) => m.run_id === 'e1' && m.type === 'Result');
  assert.equal(r?.data.stdout, 'done\n');
});
