#!/usr/bin/python3
"""indexer serve, driven by Python's websockets (Debian's python3-websockets) and plain HTTP:
JSON-RPC 2.0 exactly, progress while indexing, change subscriptions, cancellation, Origin and
token checks, limits, clients vanishing mid-request, and a bounded load test of 64 clients with
malformed traffic in between. Usage: ws_python.py INDEXER_BINARY"""
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websockets

BINARY = sys.argv[1]


def make_tree(files):
    root = tempfile.mkdtemp(prefix="indexer-ws-")
    for rel, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        with open(os.path.join(root, rel), "w") as f:
            f.write(text)
    return root


class Server:
    def __init__(self, root, *args):
        self.root = root
        self.proc = subprocess.Popen([BINARY, "serve", root, "--listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"ws://([\d.]+):(\d+)", line)
        assert m, f"no address in {line!r}: {self.proc.stderr.read()}"
        self.port = int(m.group(2))
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(10) == 0


def get(url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


async def call(ws, method, params=None, id=1):
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params or {}}))
    while True:
        m = json.loads(await ws.recv())
        if m.get("id") == id:
            return m


async def raw(ws, text):
    await ws.send(text)
    return json.loads(await ws.recv())


async def exact_jsonrpc(srv):
    async with websockets.connect(srv.ws) as ws:
        init = await call(ws, "initialize")
        assert "symbols/search" in init["result"]["methods"], init
        hits = (await call(ws, "symbols/search", {"pattern": "Server.start"}))["result"]
        assert [h["name"] for h in hits] == ["start"] and hits[0]["path"] == "app/server.py", hits
        assert (await call(ws, "symbols/search", {"pattern": "hand", "kind": "function", "limit": 3}))["result"][0]["kind"] == "function"

        r = await raw(ws, "{not json")
        assert r == {"jsonrpc": "2.0", "id": None, "error": r["error"]} and r["error"]["code"] == -32700, r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 7}')
        assert r["id"] == 7 and r["error"]["code"] == -32600, r
        r = await raw(ws, '{"jsonrpc": "1.0", "id": "x", "method": "index/status"}')
        assert r["id"] == "x" and r["error"]["code"] == -32600, r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 1.5, "method": "index/status"}')
        assert r["id"] is None and r["error"]["code"] == -32600, r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 1e400, "method": "index/status"}')
        assert r["error"]["code"] in (-32700, -32600), r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": "s-1", "method": "no/such"}')
        assert r["id"] == "s-1" and r["error"]["code"] == -32601, r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 12345678901234567, "method": "symbols/search", "params": {}}')
        assert r["id"] == 12345678901234567 and r["error"]["code"] == -32602 and "pattern" in r["error"]["message"], r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 2, "method": "symbols/search", "params": {"pattern": "a", "limit": "9"}}')
        assert r["error"]["code"] == -32602, r
        r = await raw(ws, "[]")
        assert r["error"]["code"] == -32600 and r["id"] is None, r
        r = await raw(ws, "[" * 5000 + "]" * 5000)
        assert r["error"]["code"] == -32700, r
        r = await raw(ws, '{"jsonrpc": "2.0", "id": 3, "method": "symbols/search", "params": {"pattern": "caf\\udc80"}}')
        assert "error" in r or "result" in r, r  # a lone surrogate: refused or searched, never a crash
        # A batch: answers for requests and invalid members, none for notifications.
        batch = [{"jsonrpc": "2.0", "id": "a", "method": "index/status"},
                 {"jsonrpc": "2.0", "method": "index/status"},
                 1,
                 {"jsonrpc": "2.0", "id": "b", "method": "no/such"}]
        r = await raw(ws, json.dumps(batch))
        assert isinstance(r, list) and len(r) == 3, r
        assert r[0]["id"] == "a" and "result" in r[0] and r[1]["error"]["code"] == -32600 and r[2]["error"]["code"] == -32601, r
        # A batch of notifications only is answered with nothing: the next answer is the next request's.
        await ws.send(json.dumps([{"jsonrpc": "2.0", "method": "index/status"}]))
        assert (await call(ws, "index/status", id=99))["id"] == 99
        # Binary frames are not JSON-RPC.
        await ws.send(b'{"jsonrpc": "2.0", "id": 1, "method": "index/status"}')
        r = json.loads(await ws.recv())
        assert r["error"]["code"] == -32600, r
        # Graph and outline methods.
        assert (await call(ws, "graph/importers", {"path": "app/util.py"}))["result"] == [{"path": "app/server.py", "external": False, "line": 1}]
        outline = (await call(ws, "symbols/outline", {"path": "app/server.py"}))["result"]
        assert outline[0]["name"] == "Server" and outline[0]["children"][0]["name"] == "start", outline
        assert (await call(ws, "symbols/definition", {"name": "helper"}))["result"][0]["path"] == "app/util.py"


async def subscriptions(srv, root):
    async with websockets.connect(srv.ws) as ws:
        assert (await call(ws, "index/subscribe"))["result"] is True
        with open(os.path.join(root, "app/late.py"), "w") as f:
            f.write("def arrived_late():\n    pass\n")
        # The watcher may catch the file between its creation and the write (an empty file, no
        # symbols), and report it again once written: wait for the report of the whole file.
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("method") != "index/didChange":
                continue
            assert any(c["path"] == "app/late.py" and c["change"] == "indexed" for c in m["params"]["changes"]), m
            if {"path": "app/late.py", "change": "indexed", "symbols": 1} in m["params"]["changes"]:
                break
        assert (await call(ws, "symbols/search", {"pattern": "arrived_late"}))["result"][0]["path"] == "app/late.py"


async def limits_and_vanishing(srv):
    # A frame over the limit closes that connection only.
    async with websockets.connect(srv.ws, max_size=None) as ws:
        try:
            await ws.send("x" * (17 << 20))
            await asyncio.wait_for(ws.recv(), 10)
            assert False, "a 17 MB frame was answered"
        except websockets.ConnectionClosed as e:
            assert e.code in (1009, 1006), e.code
    # Clients that vanish mid-request.
    for _ in range(20):
        ws = await websockets.connect(srv.ws)
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "symbols/search", "params": {"pattern": "h"}}))
        ws.transport.abort()
    # A browser page of another site may not connect.
    try:
        async with websockets.connect(srv.ws, origin="http://evil.example"):
            assert False, "a foreign Origin was accepted"
    except websockets.InvalidStatusCode as e:
        assert e.status_code == 403
    async with websockets.connect(srv.ws) as ws:
        assert "result" in await call(ws, "index/status")


async def load(srv):
    # 64 clients at once, each with many requests in flight and malformed messages in between:
    # every request answered once, with its own id, and no error but the expected ones.
    per_client = 300

    async def client(n):
        async with websockets.connect(srv.ws) as ws:
            ids, parse_errors, sent, window = set(), 0, 0, 32

            async def send_next():
                nonlocal sent
                i = sent
                sent += 1
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": f"{n}-{i}", "method": "symbols/search",
                                          "params": {"pattern": ["hand", "Server", "help", "h", "start"][i % 5], "limit": 5}}))
                if i % 50 == 0:
                    await ws.send("{malformed")

            while sent < min(window, per_client):
                await send_next()
            while len(ids) < per_client or parse_errors < per_client // 50:
                m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if m.get("id") is None:
                    assert m["error"]["code"] == -32700, m
                    parse_errors += 1
                    continue
                assert "result" in m, m
                assert m["id"] not in ids, f"duplicate answer {m['id']}"
                ids.add(m["id"])
                if sent < per_client:
                    await send_next()
            assert ids == {f"{n}-{i}" for i in range(per_client)}
            assert parse_errors == per_client // 50

    await asyncio.gather(*(client(n) for n in range(64)))


async def progress_and_cancel():
    files = {f"pkg/m{i}.py": f"def f{i}():\n    return {i}\n\nclass C{i}:\n    pass\n" for i in range(4000)}
    root = make_tree(files)
    srv = Server(root)
    try:
        async with websockets.connect(srv.ws) as ws:
            # A request while indexing waits for the index; cancelled, it is answered with -32800.
            await ws.send(json.dumps({"jsonrpc": "2.0", "id": "slow", "method": "symbols/search", "params": {"pattern": "f1"}}))
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": "slow"}}))
            kinds, cancelled = [], None
            while "end" not in kinds or cancelled is None:
                m = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if m.get("method") == "$/progress":
                    kinds.append(m["params"]["value"]["kind"])
                elif m.get("id") == "slow":
                    cancelled = m
            assert cancelled["error"]["code"] == -32800, cancelled
            assert kinds[-1] == "end", kinds
            assert (await call(ws, "symbols/search", {"pattern": "C3999"}))["result"][0]["name"] == "C3999"
    finally:
        srv.stop()
        shutil.rmtree(root)


async def tokens(root):
    code = subprocess.run([BINARY, "serve", root, "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=30)
    assert code.returncode == 2 and "--token" in code.stderr, code
    srv = Server(root, "--token", "s3cret")
    try:
        assert get(srv.http + "/health")[0] == 200
        assert get(srv.http + "/stats")[0] == 401
        assert get(srv.http + "/stats", headers={"Authorization": "Bearer s3cret"})[0] == 200
        async with websockets.connect(srv.ws, extra_headers={"Authorization": "Bearer s3cret"}) as ws:
            assert "result" in await call(ws, "index/status")
        async with websockets.connect(srv.ws) as ws:
            assert (await call(ws, "authenticate", {"token": "s3cret"}))["result"] is True
            assert "result" in await call(ws, "index/status", id=2)
        async with websockets.connect(srv.ws) as ws:
            r = await raw(ws, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "index/status"}))
            assert r["error"]["code"] == -32000, r
            try:
                await asyncio.wait_for(ws.recv(), 10)
                assert False, "the connection stayed open without a token"
            except websockets.ConnectionClosed:
                pass
    finally:
        srv.stop()


def http_checks(srv):
    status, body = get(srv.http + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok", body
    stats = json.loads(get(srv.http + "/stats")[1])
    assert stats["files"] >= 403 and stats["symbols"] > 0, stats
    metrics = get(srv.http + "/metrics")[1]
    assert re.search(r'^indexer_requests_total\{method="symbols/search"\} \d+$', metrics, re.M), metrics
    assert re.search(r'^indexer_request_seconds_bucket\{method="symbols/search",le="\+Inf"\} \d+$', metrics, re.M)
    assert re.search(r"^indexer_symbols \d+$", metrics, re.M)
    # The labels are the registry's methods, every one listed from the start; any other name a
    # client sends is counted as "(other)", so clients cannot grow the table.
    registered = [m["name"] for m in json.loads(subprocess.run([BINARY, "methods", "--json"], capture_output=True, text=True, check=True).stdout)]
    for i in range(100):
        get(srv.http + "/rpc", data=json.dumps({"jsonrpc": "2.0", "id": i, "method": f"made/up{i}"}).encode())
    labels = set(re.findall(r'^indexer_requests_total\{method="([^"]*)"\} \d+$', get(srv.http + "/metrics")[1], re.M))
    assert labels == set(registered) | {"(other)"}, labels ^ (set(registered) | {"(other)"})
    assert re.search(r'^indexer_requests_total\{method="\(other\)"\} (\d{3,})$', get(srv.http + "/metrics")[1], re.M)
    status, body = get(srv.http + "/rpc", data=b'{"jsonrpc":"2.0","id":5,"method":"symbols/search","params":{"pattern":"helper"}}')
    assert status == 200 and json.loads(body)["result"][0]["name"] == "helper", body
    assert get(srv.http + "/rpc", data=b'{"jsonrpc":"2.0","method":"index/status"}')[0] == 204
    assert get(srv.http + "/rpc", data=b"{}", headers={"Origin": "http://evil.example"})[0] == 403
    assert get(srv.http + "/nowhere")[0] == 404
    cli_through_server(srv)


def searches_served(srv):
    m = re.search(r'^indexer_requests_total\{method="symbols/search"\} (\d+)$', get(srv.http + "/metrics")[1], re.M)
    return int(m.group(1)) if m else 0


def cli_through_server(srv):
    """indexer query in the served root is answered by the server (its count of searches moves by one),
    with the same hits a local run gives."""
    before = searches_served(srv)
    served = subprocess.run([BINARY, "query", "helper", srv.root, "--json"], capture_output=True, text=True, timeout=30)
    assert served.returncode == 0, served.stderr
    assert searches_served(srv) == before + 1, "indexer query did not ask the running server"
    local = subprocess.run([BINARY, "query", "helper", srv.root, "--json", "--no-server", "--no-snapshot"], capture_output=True, text=True, timeout=60)
    assert json.loads(served.stdout) == json.loads(local.stdout) and json.loads(served.stdout)[0]["name"] == "helper", served.stdout
    assert served.stdout == local.stdout, "the server's answer is printed as it came: the same bytes"
    # The table too, read from the answer as it came (server/json_scan.h), with filters passed on.
    for pattern, extra in (("helper", []), ("helper", ["--kind", "function,method", "--lang", "py", "--path", "app/**"]),
                           ("Server.start", ["--limit", "3"])):
        args = [BINARY, "query", pattern, srv.root, *extra]
        before = searches_served(srv)
        served = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert searches_served(srv) == before + 1, f"{args}: not asked of the running server"
        local = subprocess.run(args + ["--no-server", "--no-snapshot"], capture_output=True, text=True, timeout=60)
        assert served.returncode == local.returncode == 0 and served.stdout == local.stdout and served.stdout, (served, local)


async def main():
    files = {
        "app/server.py": "from app import util\n\nclass Server:\n    def start(self):\n        return util.helper()\n",
        "app/util.py": "def helper():\n    return 42\n",
        "app/__init__.py": "",
    }
    for i in range(400):
        files[f"gen/g{i}.py"] = f"def handler_{i}():\n    return {i}\n"
    root = make_tree(files)
    srv = Server(root)
    try:
        await asyncio.sleep(0.5)
        for step in (exact_jsonrpc(srv), subscriptions(srv, root), limits_and_vanishing(srv), load(srv)):
            t = time.time()
            await step
            print(f"{step.__name__}: {time.time() - t:.1f} s")
        http_checks(srv)
        assert srv.proc.poll() is None, "the server died"
    finally:
        srv.stop()
    t = time.time()
    await progress_and_cancel()
    print(f"progress_and_cancel: {time.time() - t:.1f} s")
    await tokens(root)
    shutil.rmtree(root)
    print("python websockets: all checks passed")


if __name__ == "__main__":  # ws_hostile.py borrows its server and helpers
    asyncio.run(main())
