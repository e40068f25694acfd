// indexer mcp, driven by the official MCP TypeScript SDK client over stdio: the handshake, the
// tool list with its schemas, each tool, bounded answers and tool errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { get_encoding } from 'tiktoken';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { tree } from './tree.mjs';

const binary = process.env.INDEXER_BINARY;
assert.ok(binary, 'INDEXER_BINARY names the indexer binary');


async function connect(root) {
  const client = new Client({ name: 'indexer-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: binary, args: ['mcp', root], stderr: 'inherit' }));
  return client;
}

const text = (result) => result.content.map((c) => c.text).join('');

test('tools over the official SDK client', async () => {
  const files = {
    'app/server.py': 'from app import util\n\nclass Server:\n    def start(self):\n        return util.helper()\n',
    'app/util.py': 'def helper():\n    return 42\n',
    'app/__init__.py': '',
  };
  for (let i = 0; i < 400; ++i) files[`gen/g${i}.py`] = `def handler_${i}():\n    return ${i}\n`;
  const root = tree(files);
  const client = await connect(root);
  assert.equal(client.getServerVersion().name, 'indexer');

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['count_tokens', 'definition', 'dependencies', 'expand', 'find_symbols', 'importers', 'index_status', 'outline', 'refresh', 'repo_map', 'run', 'sandbox_check']);
  // tools/list is the registry's: every method registered with a tool, with its schema.
  const registered = JSON.parse(execFileSync(binary, ['methods', '--json'], { encoding: 'utf8' })).filter((m) => m.tool);
  // Each also takes max_tokens, its answer's budget, which mcp.cpp adds and takes off.
  const withoutBudget = (schema) => ({ ...schema, properties: Object.fromEntries(Object.entries(schema.properties).filter(([k]) => k !== 'max_tokens')) });
  assert.deepEqual(tools.map((t) => ({ name: t.name, description: t.description, inputSchema: withoutBudget(t.inputSchema) })),
    registered.map((m) => m.tool));
  const find = tools.find((t) => t.name === 'find_symbols');
  assert.deepEqual(find.inputSchema.required, ['pattern']);
  assert.ok(find.description.length > 20);

  const found = await client.callTool({ name: 'find_symbols', arguments: { pattern: 'Server.start', include_body: true } });
  assert.match(text(found), /^method Server\.start {2}app\/server\.py:4/);
  assert.match(text(found), /5\| +return util\.helper\(\)/);

  assert.equal(text(await client.callTool({ name: 'outline', arguments: { path: 'app/server.py' } })), 'class Server  :3\n  method start  :4\n');
  assert.match(text(await client.callTool({ name: 'definition', arguments: { name: 'helper' } })), /^function helper {2}app\/util\.py:1/);
  assert.equal(text(await client.callTool({ name: 'importers', arguments: { path: 'app/util.py' } })), 'app/server.py:1\n');
  assert.match(text(await client.callTool({ name: 'dependencies', arguments: { path: 'app/util.py', direction: 'dependents' } })), /^1 app\/server\.py/);
  assert.match(text(await client.callTool({ name: 'index_status', arguments: {} })), /^files: 403$/m);
  // sandbox_check judges by the workspace preset over the served root.
  assert.match(text(await client.callTool({ name: 'sandbox_check', arguments: { path: 'app/util.py', access: 'write' } })), /^allowed: /);
  assert.match(text(await client.callTool({ name: 'sandbox_check', arguments: { path: '.git/hooks/pre-commit', access: 'write' } })), /^refused: .*hooks/);
  assert.match(text(await client.callTool({ name: 'sandbox_check', arguments: { command: 'make && sudo make install' } })), /^refused: .*sudo/);
  assert.equal(text(await client.callTool({ name: 'count_tokens', arguments: { text: "Hello world, it's", encoding: 'cl100k_base' } })),
    '5 tokens (cl100k_base)\n');

  // run: code in the sandbox, its long output cut to the budget with the failure line kept and the
  // rest behind a handle that expand gives back.
  const src = 'import sys\nfor i in range(3000):\n    print("ok line", i)\n    if i == 1500: print("Traceback (most recent call last): boom")\nsys.exit(2)';
  const ran = text(await client.callTool({ name: 'run', arguments: { language: 'python', source_code: src, max_tokens: 300 } }));
  assert.match(ran, /^status: runtime_error, exit 2/);
  assert.match(ran, /^Traceback \(most recent call last\): boom$/m);
  assert.match(ran, /^ok line 2999$/m);
  const handle = ran.match(/\[\[elided (z[0-9a-f]+)/)[1];
  assert.match(text(await client.callTool({ name: 'expand', arguments: { handle } })), /^ok line 7$/m);
  // Bounded: a limit, and a note saying how much more there was (400 handlers match).
  const many = text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'handler', limit: 5 } }));
  assert.equal(many.split('\n').filter((l) => l.startsWith('function handler_')).length, 5);
  assert.match(many, /\(output cut: 395 more; /);
  // A limit that is no limit is said to be one, by name; the server goes on.
  for (const limit of [-1, 0, 201, 1e300, 2.5, '5', 2 ** 64]) {
    const bad = await client.callTool({ name: 'find_symbols', arguments: { pattern: 'handler', limit } });
    assert.equal(bad.isError, true, `limit ${limit}`);
    assert.match(text(bad), /param 'limit' must be an integer from 1 to 200/);
  }
  assert.match(text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'handler_7', limit: 1 } })), /^function handler_7 /);
  // An empty path to refresh names nothing: refused, not silently ignored.
  const empty = await client.callTool({ name: 'refresh', arguments: { paths: [''] } });
  assert.equal(empty.isError, true);
  assert.match(text(empty), /empty path/);
  assert.match(text(await client.callTool({ name: 'index_status', arguments: {} })), /^files: 403$/m);
  // Tool errors come back as results the model can read.
  const missing = await client.callTool({ name: 'outline', arguments: { path: 'nope.py' } });
  assert.equal(missing.isError, true);
  assert.match(text(missing), /not an indexed file/);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /no tool/);

  // The index follows the disk; refresh makes it immediate.
  fs.writeFileSync(path.join(root, 'app/late.py'), 'def arrived_late():\n    pass\n');
  await client.callTool({ name: 'refresh', arguments: { paths: ['app/late.py'] } });
  assert.match(text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'arrived_late' } })), /app\/late\.py:1/);

  await client.close();
  fs.rmSync(root, { recursive: true, force: true });
});

test('answers stay within their token budget, the note included', async () => {
  const o200k = get_encoding('o200k_base');
  const tokens = (s) => o200k.encode_ordinary(s).length;
  const body = Array.from({ length: 58 }, (_, i) => `    value_${i} = "${'x'.repeat(90)}"`).join('\n');
  const files = {};
  for (let i = 0; i < 60; ++i) files[`long/l${i}.py`] = `def long_function_${i}():\n${body}\n    return 0\n`;
  const root = tree(files);
  const client = await connect(root);
  const { tools } = await client.listTools();
  assert.ok(tools.every((t) => t.inputSchema.properties.max_tokens?.maximum === 100000), 'every tool takes max_tokens');
  // 60 functions of 60 lines: far over the default 20,000 tokens.
  const found = text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'long_function', limit: 200, include_body: true } }));
  assert.ok(tokens(found) <= 20000, `${tokens(found)} tokens`);
  const shown = found.split('\n').filter((l) => l.startsWith('function long_function_')).length;
  assert.ok(shown > 0 && shown < 60, `${shown} shown`);
  assert.match(found, new RegExp(`\\(output cut: ${60 - shown} more; `));
  // A smaller budget, asked for: fewer shown, still within it.
  const small = text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'long_function', limit: 200, include_body: true, max_tokens: 2000 } }));
  assert.ok(tokens(small) <= 2000, `${tokens(small)} tokens`);
  const fewer = small.split('\n').filter((l) => l.startsWith('function long_function_')).length;
  assert.ok(fewer > 0 && fewer < shown, `${fewer} of ${shown}`);
  // A tool error that quotes its input is held to the budget too.
  const quoted = await client.callTool({ name: 'outline', arguments: { path: 'q '.repeat(50000), max_tokens: 500 } });
  assert.equal(quoted.isError, true);
  assert.ok(tokens(text(quoted)) <= 500, `${tokens(text(quoted))} tokens`);
  assert.match(text(quoted), /\(cut at 500 tokens\)$/);
  for (const max_tokens of [50, 100001, '5', 2.5]) {
    const bad = await client.callTool({ name: 'index_status', arguments: { max_tokens } });
    assert.equal(bad.isError, true, `max_tokens ${max_tokens}`);
    assert.match(text(bad), /param 'max_tokens' must be an integer from 100 to 100000/);
  }
  assert.match(text(await client.callTool({ name: 'find_symbols', arguments: { pattern: 'long_function_1', limit: 1 } })), /^function long_function_1 /);
  o200k.free();
  await client.close();
  fs.rmSync(root, { recursive: true, force: true });
});
