#!/usr/bin/python3
"""indexer lsp's Content-Length framing under hostile reads: a message split into single bytes,
several messages in one write, headers in any case and with extra fields, a frame without a
length, malformed JSON, lengths that are no length (-1, 2^64-1, twenty nines, hex, a sign), a
body over the limit, a header that never ends, 2 MiB of lengths with no end of header, requests after shutdown, and a frame cut off at
exit; after each, a normal request is answered. Usage: lsp_framing.py INDEXER_BINARY"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

root = tempfile.mkdtemp(prefix="indexer-framing-")
with open(os.path.join(root, "a.py"), "w") as f:
    f.write("def alpha():\n    pass\n\nclass Beta:\n    pass\n")
proc = subprocess.Popen([sys.argv[1], "lsp", root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
next_id = 100


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



def unsolicited_error():
    """The next message, which must be an error answering no request (id null)."""
    m = read_message()
    assert "error" in m and m["id"] is None, m
    return m["error"]


def still_answers():
    """A normal request after the hostile input gets its normal answer."""
    global next_id
    next_id += 1
    proc.stdin.write(frame({"jsonrpc": "2.0", "id": next_id, "method": "workspace/symbol", "params": {"query": "alp"}}))
    proc.stdin.flush()
    got = answers([next_id])[next_id]
    assert got["result"][0]["name"] == "alpha", got


# Headers without a length are dropped (said, with no id); malformed JSON is a parse error; the
# stream goes on.
proc.stdin.write(b"X-Nothing: 1\r\n\r\n")
body = b"{not json"
proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
proc.stdin.write(frame({"jsonrpc": "2.0", "id": 5, "method": "workspace/symbol", "params": {"query": "alp"}}))
proc.stdin.flush()
assert "without Content-Length" in unsolicited_error()["message"]
parse_error = read_message()
assert parse_error["id"] is None and parse_error["error"]["code"] == -32700, parse_error
assert answers([5])[5]["result"][0]["name"] == "alpha"

# Lengths that are no length: each is a parse error naming it, its body is skipped up to the next
# header, and the frame after it is read. -1 and 2^64-1 wrapped a pointer sum once (the server
# never answered again); twenty nines overflow 64 bits.
body = json.dumps({"jsonrpc": "2.0", "id": 50, "method": "workspace/symbol", "params": {"query": "Beta"}}).encode()
for bad in [b"-1", b"18446744073709551615", b"99999999999999999999", b"0x10", b"+5", b"5 5", b"", b"\xff", b"1" * 5000]:
    proc.stdin.write(b"Content-Length: " + bad + b"\r\n\r\n" + body)
    proc.stdin.flush()
    error = unsolicited_error()
    if bad == b"18446744073709551615":  # a number, just too large
        assert error["code"] == -32600 and "18446744073709551615 bytes is over the limit" in error["message"], error
    else:
        assert error["code"] == -32700 and "invalid Content-Length" in error["message"], (bad, error)
    still_answers()
# Two lengths in one header: which one is meant cannot be known.
proc.stdin.write(b"Content-Length: 3\r\nContent-Length: 3\r\n\r\n{}}")
proc.stdin.flush()
assert "second Content-Length" in unsolicited_error()["message"]
still_answers()
# The same bad lengths split across writes, byte by byte.
for b in b"Content-Length: -1\r\n\r\n" + body:
    proc.stdin.write(bytes([b]))
    proc.stdin.flush()
assert unsolicited_error()["code"] == -32700
still_answers()
# A header that never ends: 70 KiB of it, then a good frame.
proc.stdin.write(b"X-Junk: " + b"a" * 70000)
proc.stdin.flush()
assert "64 KiB" in unsolicited_error()["message"]
still_answers()
# 2 MiB of lengths that never reach an end of header: one error for the run, not one per header
# (before: 110k errors, each after a rescan of 64 KiB), then a good frame that is answered. Written
# from a thread, so that whatever comes back is read while it goes in.
junk = b"Content-Length: x\r\n" * (2 * 1024 * 1024 // 19)
next_id += 1
good = frame({"jsonrpc": "2.0", "id": next_id, "method": "workspace/symbol", "params": {"query": "alp"}})
writer = threading.Thread(target=lambda: (proc.stdin.write(junk + good), proc.stdin.flush()))
writer.start()
errors = []
while True:
    m = read_message()
    if m.get("id") is None and "error" in m:
        errors.append(m["error"]["message"])
    elif m.get("id") == next_id:
        assert m["result"][0]["name"] == "alpha", m
        break
writer.join()
assert 1 <= len(errors) <= 5, (len(errors), errors[:5])
still_answers()

# A body over the limit (64 MiB) is refused as it arrives, without holding it.
big = 64 * 1024 * 1024 + 1
proc.stdin.write(b"Content-Length: %d\r\n\r\n" % big)
chunk = b" " * (1 << 20)
for _ in range(big // len(chunk)):
    proc.stdin.write(chunk)
proc.stdin.write(b" " * (big % len(chunk)))
proc.stdin.flush()
error = unsolicited_error()
assert error["code"] == -32600 and "over the limit" in error["message"], error
still_answers()

# A message split across writes with a pause between them.
m = frame({"jsonrpc": "2.0", "id": 6, "method": "shutdown"})
proc.stdin.write(m[:7])
proc.stdin.flush()
time.sleep(0.2)
proc.stdin.write(m[7:])
proc.stdin.flush()
assert answers([6])[6]["result"] is None
# After shutdown every request but exit is InvalidRequest (LSP 3.17), a second shutdown too;
# notifications are not answered.
proc.stdin.write(frame({"jsonrpc": "2.0", "method": "textDocument/didClose", "params": {"textDocument": {"uri": "file://" + root + "/a.py"}}})
                 + frame({"jsonrpc": "2.0", "id": 7, "method": "workspace/symbol", "params": {"query": "alpha"}})
                 + frame({"jsonrpc": "2.0", "id": 8, "method": "shutdown"}))
proc.stdin.flush()
got = answers([7, 8])
assert got[7]["error"]["code"] == -32600 and got[8]["error"]["code"] == -32600, got
proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}) + b"Content-Length: 100\r\n\r\n{\"cut")
proc.stdin.flush()
proc.stdin.close()
assert proc.wait(10) == 0
print("lsp framing: all checks passed")
