#!/usr/bin/python3
"""indexer serve --listen unix:PATH, driven by real processes over a real Unix socket: the socket
is 0600 (whatever umask the server inherits, and at every moment it is seen), /health, POST /rpc and a WebSocket work over it
without a token (the server has one) while a foreign Origin is still refused, server.json names
it, `indexer query` is answered through it (the server's request count moves); a second server
on the path is refused while the first lives, a stale socket (kill -9) is replaced, a regular
file, a directory or a symlink at the path is refused and left as it was, a path too long for
sun_path is refused with a clear error, and the socket goes on a clean exit.
Usage: unix_socket.py INDEXER_BINARY"""
import asyncio
import http.client
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import websockets

BINARY = os.path.abspath(sys.argv[1])


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def request(path, method, target, body=None, headers=None):
    c = UnixHTTPConnection(path)
    try:
        c.request(method, target, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read().decode()
    finally:
        c.close()


def rpc(path, method, params, headers=None):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    return request(path, "POST", "/rpc", body, {"Content-Type": "application/json", **(headers or {})})


def searched(path):
    """The server's count of symbols/search requests, from /metrics."""
    status, text = request(path, "GET", "/metrics")
    assert status == 200, (status, text)
    m = re.search(r'^indexer_requests_total\{method="symbols/search"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0


def start(root, sock, *args, umask=None):
    """The server and its first line; the caller checks it."""
    proc = subprocess.Popen([BINARY, "serve", root, "--listen", f"unix:{sock}", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
    return proc, proc.stdout.readline()


def refused(root, sock):
    """A server that must not start: its exit code and stderr."""
    proc, line = start(root, sock)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"a server started on {sock}: {line!r}")
    assert line == "", f"it said it listens: {line!r}"
    assert "Sanitizer" not in err, err  # a refusal is a clean exit, under ASan too
    return proc.returncode, err


def wait_ready(sock):
    deadline = time.time() + 30
    while True:
        status, body = request(sock, "GET", "/health")
        if status == 200 and json.loads(body)["status"] == "ok":
            return
        assert time.time() < deadline, body
        time.sleep(0.05)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, proc.stderr.read()


async def websocket_requests(sock):
    async with websockets.unix_connect(sock, "ws://localhost/") as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}))
        init = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "symbols/search" in init["result"]["methods"], init
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "symbols/search", "params": {"pattern": "helper"}}))
        while True:  # $/progress may come first
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if m.get("id") == 2:
                break
        assert [(h["name"], h["path"]) for h in m["result"]] == [("helper", "app/util.py")], m
    # A browser page of another site may not upgrade, on this socket as on TCP.
    try:
        async with websockets.unix_connect(sock, "ws://localhost/", origin="http://evil.example"):
            raise AssertionError("a foreign Origin was accepted")
    except websockets.InvalidStatusCode as e:
        assert e.status_code == 403, e


def main():
    root = tempfile.mkdtemp(prefix="indexer-unix-")
    tree = os.path.join(root, "tree")
    for rel, text in {"app/util.py": "def helper():\n    return 42\n", "app/main.py": "from app import util\n"}.items():
        os.makedirs(os.path.dirname(os.path.join(tree, rel)), exist_ok=True)
        with open(os.path.join(tree, rel), "w") as f:
            f.write(text)
    sock = os.path.join(root, "indexer.sock")
    discovery = os.path.join(tree, ".indexer", "server.json")
    try:
        # Serving: a token is set, and the socket needs none; umask 0 would make a plain bind 0777.
        # Watched from its first moment: a chmod after bind would show as another mode, sometimes.
        modes, watching = set(), [True]

        def watch():
            while watching[0]:
                try:
                    modes.add(stat.S_IMODE(os.lstat(sock).st_mode))
                except FileNotFoundError:
                    pass

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            proc, line = start(tree, sock, "--token", "s3cret", umask=0)
        finally:
            watching[0] = False
            watcher.join()
        assert modes <= {0o600}, [oct(m) for m in modes]
        assert line.startswith(f"listening on unix:{sock} "), (line, proc.stderr.read() if proc.poll() is not None else "")
        st = os.lstat(sock)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        wait_ready(sock)
        with open(discovery) as f:
            named = json.load(f)
        assert named["unix"] == sock and named["pid"] == proc.pid, named
        assert "port" not in named and "address" not in named and "token" not in named, named  # older clients see no TCP server
        status, body = rpc(sock, "symbols/search", {"pattern": "helper"})
        assert status == 200 and json.loads(body)["result"][0]["path"] == "app/util.py", (status, body)
        status, body = rpc(sock, "symbols/search", {"pattern": "helper"}, {"Origin": "http://evil.example"})
        assert status == 403, (status, body)
        status, body = request(sock, "GET", "/stats")
        assert status == 200 and json.loads(body)["files"] == 2, (status, body)
        asyncio.run(websocket_requests(sock))
        print("served over the socket: 0600, /health, /stats, POST /rpc, WebSocket, Origin refused")

        # indexer query finds the server in server.json and is answered through the socket.
        before = searched(sock)
        out = subprocess.run([BINARY, "query", "helper", tree], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and "app/util.py:1" in out.stdout, out
        assert searched(sock) == before + 1, (before, searched(sock))
        print("indexer query answered through the socket")

        # A second server on the same path: refused while the first lives, which goes on serving.
        code, err = refused(tree, sock)
        assert code == 1 and "another server is listening on this socket" in err, (code, err)
        assert request(sock, "GET", "/health")[0] == 200
        assert os.lstat(sock).st_ino == st.st_ino
        print("a second server on the path: refused")

        # A clean exit takes the socket and server.json with it.
        stop(proc)
        assert not os.path.lexists(sock) and not os.path.lexists(discovery), os.listdir(root)
        print("clean exit: socket removed")

        # A stale socket, left by a server killed with SIGKILL, is replaced.
        proc, line = start(tree, sock)
        assert line.startswith("listening on unix:"), line
        wait_ready(sock)
        proc.kill()
        proc.wait(10)
        assert stat.S_ISSOCK(os.lstat(sock).st_mode), "the killed server's socket is gone: nothing stale to replace"
        try:
            socket.socket(socket.AF_UNIX).connect(sock)
            raise AssertionError("the stale socket accepted a connection")
        except ConnectionRefusedError:
            pass
        proc, line = start(tree, sock)
        assert line.startswith(f"listening on unix:{sock} "), (line, proc.stderr.read() if proc.poll() is not None else "")
        wait_ready(sock)
        status, body = rpc(sock, "symbols/search", {"pattern": "helper"})
        assert status == 200 and "app/util.py" in body, (status, body)
        stop(proc)
        assert not os.path.lexists(sock)
        print("a stale socket (kill -9): replaced")

        # What is not a socket is never replaced, followed or deleted.
        victim = os.path.join(root, "victim.txt")
        with open(victim, "w") as f:
            f.write("keep me\n")
        with open(sock, "w") as f:
            f.write("not a socket\n")
        code, err = refused(tree, sock)
        assert code == 1 and "is a regular file, not a socket: not replaced" in err, (code, err)
        with open(sock) as f:
            assert f.read() == "not a socket\n"
        os.unlink(sock)
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # someone else's live socket
        other.bind(os.path.join(root, "other.sock"))
        other.listen()
        # A link to a file, a dangling one, and one to a socket that refuses nothing.
        for target in (victim, os.path.join(root, "nowhere"), os.path.join(root, "other.sock")):
            os.symlink(target, sock)
            code, err = refused(tree, sock)
            assert code == 1 and "is a symlink, not a socket: not replaced" in err, (code, err)
            assert os.readlink(sock) == target and not os.path.exists(os.path.join(root, "nowhere"))
            os.unlink(sock)
        with open(victim) as f:
            assert f.read() == "keep me\n"
        assert stat.S_ISSOCK(os.lstat(os.path.join(root, "other.sock")).st_mode)
        other.close()
        os.mkdir(sock)
        code, err = refused(tree, sock)
        assert code == 1 and "is a directory, not a socket: not replaced" in err, (code, err)
        os.rmdir(sock)
        print("a regular file, a symlink (to a file, dangling, to a socket), a directory: refused, left as they were")

        # sun_path holds 107 bytes and a NUL: a path of 107 is served, one of 108 is refused clearly.
        deep = os.path.join(root, "d" * 40)
        os.makedirs(deep)
        longest = os.path.join(deep, "s" * (107 - len(deep) - 1))
        assert len(longest.encode()) == 107
        proc, line = start(tree, longest)
        assert line.startswith(f"listening on unix:{longest} "), (line, proc.stderr.read() if proc.poll() is not None else "")
        wait_ready(longest)
        stop(proc)
        code, err = refused(tree, longest + "x")
        assert code == 1 and "108 bytes, longer than a Unix socket's path may be (107 bytes, sun_path)" in err, (code, err)
        assert not os.path.lexists(longest + "x")
        print("sun_path: 107 bytes served, 108 refused")

        # A relative path is made absolute, since server.json gives it to clients elsewhere.
        proc = subprocess.Popen([BINARY, "serve", tree, "--listen", "unix:rel.sock"], cwd=root, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        rel = os.path.join(root, "rel.sock")
        assert line.startswith(f"listening on unix:{rel} "), line
        wait_ready(rel)
        with open(discovery) as f:
            assert json.load(f)["unix"] == rel
        stop(proc)
        print("a relative path: made absolute")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
