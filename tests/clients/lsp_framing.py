#!/usr/bin/python3
"""indexer lsp's Content-Length framing under hostile reads: a message split into single bytes,
several messages in one write, headers in any case and with extra fields, a frame without a
length, malformed JSON, and a frame cut off at exit. Usage: lsp_framing.py INDEXER_BINARY"""
import json
import os
import subprocess
import sys
import tempfile
import time

root = tempfile.mkdtemp(prefix="indexer-framing-")
with open(os.path.join(root, "a.py"), "w") as f:
    f.write("def alpha():\n    pass\n\nclass Beta:\n    pass\n")
proc = subprocess.Popen([sys.argv[1], "lsp", root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def frame(obj, header="Content-Length"):
    body = json.dumps(obj).encode()
    return f"{header}: {len(body)}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n".encode() + body


def read_message():
    headers = b""
    while not headers.endswith(b"\r\n\r\n"):
        c = proc.stdout.read(1)
        assert c, "the server closed its output"
        headers += c
    length = int([h for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1])
    return json.loads(proc.stdout.read(length))


def answers(ids):
    got = {}
    while set(got) != set(ids):
        m = read_message()
        if "id" in m and "method" not in m:
            got[m["id"]] = m
    return got


# initialize, one byte per write.
for b in frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"rootUri": "file://" + root, "capabilities": {}}}):
    proc.stdin.write(bytes([b]))
    proc.stdin.flush()
assert answers([1])[1]["result"]["capabilities"]["workspaceSymbolProvider"] is True

# Three requests in one write, one header in lower case.
batch = (frame({"jsonrpc": "2.0", "id": 2, "method": "workspace/symbol", "params": {"query": "alpha"}})
         + frame({"jsonrpc": "2.0", "id": 3, "method": "workspace/symbol", "params": {"query": "Beta"}}, header="content-length")
         + frame({"jsonrpc": "2.0", "id": 4, "method": "no/such", "params": {}}))
proc.stdin.write(batch)
proc.stdin.flush()
got = answers([2, 3, 4])
assert got[2]["result"][0]["name"] == "alpha" and got[3]["result"][0]["name"] == "Beta", got
assert got[4]["error"]["code"] == -32601

# Headers without a length are dropped; malformed JSON is a parse error; the stream goes on.
proc.stdin.write(b"X-Nothing: 1\r\n\r\n")
body = b"{not json"
proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
proc.stdin.write(frame({"jsonrpc": "2.0", "id": 5, "method": "workspace/symbol", "params": {"query": "alp"}}))
proc.stdin.flush()
parse_error = read_message()
assert parse_error["id"] is None and parse_error["error"]["code"] == -32700, parse_error
assert answers([5])[5]["result"][0]["name"] == "alpha"

# A message split across writes with a pause between them.
m = frame({"jsonrpc": "2.0", "id": 6, "method": "shutdown"})
proc.stdin.write(m[:7])
proc.stdin.flush()
time.sleep(0.2)
proc.stdin.write(m[7:])
proc.stdin.flush()
assert answers([6])[6]["result"] is None
proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}) + b"Content-Length: 100\r\n\r\n{\"cut")
proc.stdin.flush()
proc.stdin.close()
assert proc.wait(10) == 0
print("lsp framing: all checks passed")
