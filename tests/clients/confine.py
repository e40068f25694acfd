#!/usr/bin/python3
"""Confinement through the real stdio surfaces: `indexer lsp` and `indexer mcp` are sent URIs and
paths through links to a directory outside the root (absolute and relative links, a link inside
pointing out, `..` through a link, absolute paths), then a link swapped in and out while MCP
requests run. No byte of the outside file may come back, and each surface still answers a normal
request afterwards. Usage: confine.py INDEXER_BINARY"""
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

SECRET = "OUTSIDE_BYTES_7f3a"
binary = sys.argv[1]
base = tempfile.mkdtemp(prefix="indexer-confine-")
root = os.path.join(base, "root")
outside = os.path.join(base, "outside")
os.makedirs(os.path.join(root, "inside"))
os.makedirs(outside)
with open(os.path.join(outside, "secret.py"), "w") as f:
    f.write(f"def outside_secret_fn():\n    return '{SECRET}'\n")
with open(os.path.join(outside, "passwd"), "w") as f:
    f.write(f"root:x:0:0:{SECRET}\n" * 3)
with open(os.path.join(root, "a.py"), "w") as f:
    f.write("def alpha():\n    pass\n")
with open(os.path.join(root, "inside", "real.py"), "w") as f:
    f.write("def inside_real():\n    pass\n")
os.symlink(outside, os.path.join(root, "etc_link"))
os.symlink("../outside", os.path.join(root, "out"))
os.symlink(os.path.join(outside, "secret.py"), os.path.join(root, "file_link.py"))
os.symlink("../../outside", os.path.join(root, "inside", "up"))

HOSTILE = ["out/secret.py", "etc_link/secret.py", "etc_link/passwd", "file_link.py", "inside/up/secret.py",
           "out/../out/secret.py", "inside/../out/secret.py", "../outside/secret.py", os.path.join(outside, "secret.py")]


def uri(rel):
    return "file://" + (rel if rel.startswith("/") else root + "/" + rel)


def clean(what, obj):
    text = json.dumps(obj)
    assert SECRET not in text and "outside_secret_fn" not in text and "root:x" not in text, (what, text)
    return obj


class Lsp:
    def __init__(self):
        self.p = subprocess.Popen([binary, "lsp", root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next = 0

    def send(self, method, params, id=None):
        m = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            m["params"] = params
        if id is not None:
            m["id"] = id
        body = json.dumps(m).encode()
        self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.p.stdin.flush()

    def read(self):
        headers = b""
        while not headers.endswith(b"\r\n\r\n"):
            c = self.p.stdout.read(1)
            assert c, "the LSP server closed its output"
            headers += c
        length = int([h for h in headers.split(b"\r\n") if h.lower().startswith(b"content-length:")][0].split(b":")[1])
        return json.loads(self.p.stdout.read(length))

    def call(self, method, params):
        self.next += 1
        self.send(method, params, self.next)
        while True:
            m = self.read()
            if m.get("id") == self.next and "method" not in m:
                return clean(method, m)


def lsp_checks():
    s = Lsp()
    s.call("initialize", {"rootUri": "file://" + root, "capabilities": {}})
    s.send("initialized", {})
    assert [x["name"] for x in s.call("workspace/symbol", {"query": "alpha"})["result"]] == ["alpha"]
    for rel in HOSTILE:
        doc = {"uri": uri(rel), "languageId": "python", "version": 1, "text": "def buffer_through_link():\n    pass\n"}
        s.send("textDocument/didOpen", {"textDocument": doc})
        s.send("textDocument/didChange", {"textDocument": {"uri": uri(rel), "version": 2},
                                          "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": "#\n"}]})
        s.send("textDocument/didClose", {"textDocument": {"uri": uri(rel)}})
        s.send("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri(rel), "type": 2}]})
        for line in (0, 1, 2):
            s.call("textDocument/definition", {"textDocument": {"uri": uri(rel)}, "position": {"line": line, "character": 6}})
        s.call("textDocument/documentSymbol", {"textDocument": {"uri": uri(rel)}})
        for q in ("outside_secret", "buffer_through_link"):
            assert s.call("workspace/symbol", {"query": q})["result"] == [], (rel, q)
    # Still serving: a buffer of a real file of the tree is indexed, and a definition answers.
    s.send("textDocument/didOpen", {"textDocument": {"uri": uri("b.py"), "languageId": "python", "version": 1,
                                                     "text": "from a import alpha\n\ndef beta():\n    alpha()\n"}})
    assert [x["name"] for x in s.call("workspace/symbol", {"query": "beta"})["result"]] == ["beta"]
    found = s.call("textDocument/definition", {"textDocument": {"uri": uri("b.py")}, "position": {"line": 3, "character": 5}})["result"]
    assert found and found[0]["uri"] == uri("a.py"), found
    s.call("shutdown", None)
    s.send("exit", None)
    s.p.stdin.close()
    code = s.p.wait(10)
    assert code == 0, code


class Mcp:
    def __init__(self):
        self.p = subprocess.Popen([binary, "mcp", root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.next = 0

    def call(self, method, params):
        self.next += 1
        self.p.stdin.write((json.dumps({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}) + "\n").encode())
        self.p.stdin.flush()
        while True:
            line = self.p.stdout.readline()
            assert line, "the MCP server closed its output"
            m = json.loads(line)
            if m.get("id") == self.next:
                return m

    def tool(self, name, args):
        m = self.call("tools/call", {"name": name, "arguments": args})
        return clean((name, args), m["result"]["content"][0]["text"])


def mcp_checks():
    s = Mcp()
    s.call("initialize", {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "confine", "version": "1"}})
    s.p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    assert "alpha" in s.tool("find_symbols", {"pattern": "alpha"})
    s.tool("refresh", {"paths": HOSTILE})
    assert s.tool("find_symbols", {"pattern": "outside_secret", "include_body": True}).startswith("no symbol matches")
    for rel in HOSTILE:
        s.tool("outline", {"path": rel})
        for line in (1, 2, 3, 500):
            got = s.tool("definition", {"path": rel, "line": line, "column": 5})
            # The same answer a missing file gets: neither its words nor its length.
            want = s.tool("definition", {"path": "no-such-file.py", "line": line, "column": 5})
            assert got.replace(rel, "P") == want.replace("no-such-file.py", "P"), (rel, line, got, want)

    # A directory of the tree and a link out exchange names over and over while requests run.
    os.makedirs(os.path.join(root, "flip"))
    with open(os.path.join(root, "flip", "secret.py"), "w") as f:
        f.write("def inside_flip():\n    return 'inside, and longer than the outside file'\n")
    os.symlink(outside, os.path.join(root, "flop"))
    libc = ctypes.CDLL(None, use_errno=True)
    stop = threading.Event()
    swaps = [0]

    def flip():
        a, b = os.path.join(root, "flip").encode(), os.path.join(root, "flop").encode()
        while not stop.is_set():
            if libc.renameat2(-100, a, -100, b, 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
                swaps[0] += 1

    t = threading.Thread(target=flip)
    t.start()
    inside_seen = 0
    try:
        for _ in range(300):
            for rel in ("flip/secret.py", "flop/secret.py"):
                s.tool("refresh", {"paths": [rel]})
                s.tool("definition", {"path": rel, "line": 2, "column": 13})
            inside_seen += "inside_flip" in s.tool("find_symbols", {"pattern": "inside_flip", "include_body": True})
            s.tool("find_symbols", {"pattern": "secret", "include_body": True})
    finally:
        stop.set()
        t.join()
    assert swaps[0] > 0 and inside_seen > 0, (swaps, inside_seen)
    s.tool("refresh", {})
    assert "alpha" in s.tool("find_symbols", {"pattern": "alpha", "include_body": True})
    s.p.stdin.close()
    assert s.p.wait(10) == 0


try:
    lsp_checks()
    mcp_checks()
finally:
    shutil.rmtree(base, ignore_errors=True)
print("confinement over LSP and MCP: all checks passed")
