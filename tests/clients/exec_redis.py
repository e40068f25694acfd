#!/usr/bin/python3
"""Two `indexer serve` processes sharing one execution queue through a real redis-server (Debian's,
started here on a free loopback port): `--exec-queue redis://127.0.0.1:PORT/0`. Over REST (Python's
http.client, exec_rest.py's helpers): a job submitted to one is read from the other; a duplicate id
is refused by the other; `?wait=true` answered by the submitter wherever the job ran; a cancel sent
to one stops a job the other may hold; the shared bound answers 429; 1,000 jobs submitted to both
from 16 threads, one server killed with kill -9 midway, and every id answered exactly once, right,
from the survivor (what the dead one held is run again after its lease); Redis unreachable at start
is a clear error and exit 2; Redis lost while serving answers 503 and the index is still served.
Usage: exec_redis.py INDEXER_BINARY (skipped, exit 77, when /usr/bin/redis-server is missing)"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REDIS = "/usr/bin/redis-server"
if not os.path.exists(REDIS):
    print(f"skipped: {REDIS} is not installed (Debian's redis-server package)", flush=True)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exec_rest  # noqa: E402  (Server, check, failures; its main() runs only as a script)
from exec_rest import BINARY, Server, check  # noqa: E402

STREAM = "indexer:exec:stream"
FINISHED = {"completed", "compile_error", "runtime_error", "timeout", "memory_limit", "output_limit", "cancelled", "internal_error"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command(port, *args):
    """One command in RESP; its reply as Python values (int, str, None, list)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a), a) for a in args)).encode())
        f = s.makefile("rb")

        def reply():
            line = f.readline().decode().rstrip("\r\n")
            kind, rest = line[0], line[1:]
            if kind in "+-":
                return rest
            if kind == ":":
                return int(rest)
            if kind == "$":
                return None if rest == "-1" else f.read(int(rest) + 2)[:-2].decode()
            return None if rest == "-1" else [reply() for _ in range(int(rest))]

        return reply()


class Redis:
    def __init__(self, tmp):
        for _ in range(5):
            self.port = free_port()
            self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                          "--dir", tmp, "--loglevel", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(200):
                try:
                    if redis_command(self.port, "PING") == "PONG":
                        return
                except OSError:
                    pass
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            self.stop()
        raise AssertionError("redis-server did not start")

    def url(self, db=0):
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def wait_result(s, job, deadline=120):
    end = time.time() + deadline
    while time.time() < end:
        status, a, _ = s.request("GET", f"/result/{job}")
        if status == 200 and a["status"] in FINISHED:
            return a
        time.sleep(0.05)
    raise AssertionError(f"{job}: no result in {deadline} s")


def startup_errors(tmp):
    closed = free_port()
    for url, said in ((f"redis://127.0.0.1:{closed}/0", "cannot reach Redis at 127.0.0.1"), ("http://127.0.0.1/0", "starts with redis://"),
                      ("redis://127.0.0.1:6379/99", "database must be 0 to 15")):
        p = subprocess.run([BINARY, "serve", tmp, "--listen", "127.0.0.1:0", "--exec-queue", url], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and "--exec-queue" in p.stderr and said in p.stderr, f"{url}: exit {p.returncode} {p.stderr!r}")


def across(a, b):
    # Submitted to one, read from the other; the same id refused by the other.
    status, r, _ = a.request("POST", "/execute", {"id": "across-1", "language": "bash", "source_code": "echo across"})
    check(status == 201, f"submit to A: {status} {r}")
    status, r, _ = b.request("POST", "/execute", {"id": "across-1", "language": "bash", "source_code": "echo again"})
    check(status == 400 and "duplicate" in r["error"], f"a duplicate id through B: {status} {r}")
    r = wait_result(b, "across-1")
    check(r["status"] == "completed" and r["stdout"] == "across\n", f"A's job read from B: {r}")
    status, r, _ = a.request("GET", "/status/across-1")
    check(status == 200 and r["status"] == "completed", f"and from A: {status} {r}")
    status, r, _ = b.request("GET", "/result/never-submitted")
    check(status == 404, f"unknown id: {status}")
    # ?wait=true: the submitter answers when the result is in Redis, wherever the job ran.
    answers = []

    def waited(i):
        answers.append(a.run({"id": f"wait-{i}", "language": "python", "source_code": f"print({i} * 2)"}))

    threads = [threading.Thread(target=waited, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(sorted(r["stdout"] for r in answers) == sorted(f"{i * 2}\n" for i in range(8)), f"?wait=true through A: {answers}")
    # JSON-RPC exec/run (over POST /rpc, no notifications) goes through the shared queue too.
    status, r, _ = b.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 7, "method": "exec/run", "params": {"id": "rpc-1", "command": "echo rpc"}})
    check(status == 200 and r.get("result", {}).get("stdout") == "rpc\n", f"exec/run: {status} {r}")
    check(wait_result(a, "rpc-1")["stdout"] == "rpc\n", "exec/run's job read from A")
    # Cancel through B of a job submitted to A, running on either.
    status, r, _ = a.request("POST", "/execute", {"id": "long-1", "language": "bash", "source_code": "sleep 60"})
    check(b.wait_status("long-1", {"running"}) == "running", "long-1 runs")
    t = time.time()
    status, r, _ = b.request("DELETE", "/cancel/long-1")
    check(status == 200 and r["cancelled"], f"cancel through B: {status} {r}")
    r = wait_result(a, "long-1", 30)
    check(r["status"] == "cancelled" and time.time() - t < 10, f"cancelled across servers: {r}")
    status, r, _ = a.request("DELETE", "/cancel/long-1")
    check(status == 409, f"cancel of a finished job: {status} {r}")


def bound(tmp, redis):
    # The bound counts the shared stream (queued and running): database 1, one worker, a bound of 1.
    c = Server(tmp, "--exec-queue", redis.url(1), "--exec-workers", "1", "--exec-queue-limit", "1")
    try:
        status, r, _ = c.request("POST", "/execute", {"id": "busy", "language": "bash", "source_code": "sleep 60"})
        check(status == 201, f"first: {status} {r}")
        status, r, h = c.request("POST", "/execute", {"language": "bash", "source_code": "true"})
        check(status == 429 and h.getheader("Retry-After") == "1" and "full" in r["error"], f"429: {status} {r}")
        c.request("DELETE", "/cancel/busy")
    finally:
        c.stop()


def thousand(a, b, redis):
    n = 1000
    accepted, lock = [0], threading.Lock()
    wrong = []
    killed = threading.Event()

    def submit(chunk):
        for i in chunk:
            body = {"id": f"k{i}", "language": "bash", "source_code": f"echo {i}"}
            target = a if i % 2 == 0 and not killed.is_set() else b
            try:
                status, r, _ = target.request("POST", "/execute", body, timeout=30)
            except OSError:  # A was killed under this request: the id goes to B (a duplicate if A took it)
                status, r, _ = b.request("POST", "/execute", body, timeout=30)
                if status == 400 and "duplicate" in r["error"]:
                    status = 201
            if status != 201:
                with lock:
                    wrong.append((i, status, r))
            with lock:
                accepted[0] += 1
                if accepted[0] == n // 2:
                    midway.set()

    held = []

    def killer():
        # Midway, and while A holds claimed jobs (its consumer's pending entries): those are the
        # ones its lease must give back.
        midway.wait()
        consumer = f"{socket.gethostname()}:{a.proc.pid}"
        end = time.time() + 30
        while time.time() < end and not held:
            for entry, *_ in redis_command(redis.port, "XPENDING", STREAM, "workers", "-", "+", "100", consumer) or []:
                for _, fields in redis_command(redis.port, "XRANGE", STREAM, entry, entry):
                    held.append(fields[fields.index("id") + 1])
        a.proc.send_signal(signal.SIGKILL)
        killed.set()

    midway = threading.Event()
    t0 = time.time()
    threads = [threading.Thread(target=submit, args=(range(k, n, 16),)) for k in range(16)] + [threading.Thread(target=killer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    a.proc.wait()
    check(not wrong, f"1000 submissions accepted: {wrong[:3]}")
    bad = []
    for i in range(n):
        r = wait_result(b, f"k{i}")
        if r["status"] != "completed" or r["stdout"] != f"{i}\n":
            bad.append(r)
    check(not bad, f"every id answered once and right by the survivor: {bad[:3]}")
    # Nothing left behind: the stream is empty (finished entries are acknowledged and deleted).
    end = time.time() + 30
    while redis_command(redis.port, "XLEN", STREAM) != 0 and time.time() < end:
        time.sleep(0.1)
    check(redis_command(redis.port, "XLEN", STREAM) == 0, "the stream is empty at the end")
    check(held and all(wait_result(b, j)["stdout"] == f"{j[1:]}\n" for j in held), f"what the dead server held was run again: {held}")
    print(f"1,000 jobs through two servers, one killed holding {len(held)}: {time.time() - t0:.1f} s", flush=True)


def redis_lost(b, redis):
    redis.stop()
    status, r, _ = b.request("POST", "/execute", {"language": "bash", "source_code": "echo x"})
    check(status == 503 and "cannot be reached" in r["error"], f"submit with Redis gone: {status} {r}")
    status, r, _ = b.request("GET", "/result/k1")
    check(status == 503, f"result with Redis gone: {status} {r}")
    status, r, _ = b.request("GET", "/health")
    check(status == 200, f"the index is still served: {status}")
    status, r, _ = b.request("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "exec/run", "params": {"language": "bash", "source_code": "true"}})
    check(status == 200 and r.get("error", {}).get("code") == -32003, f"exec/run with Redis gone: {status} {r}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        startup_errors(tmp)
        redis = Redis(tmp)
        roots = []
        for name in ("a", "b", "c"):
            roots.append(os.path.join(tmp, name))
            os.makedirs(roots[-1])
        flags = ["--exec-queue", redis.url(0), "--exec-lease", "2", "--exec-workers", "4"]
        a = Server(roots[0], *flags)
        b = Server(roots[1], *flags)
        try:
            across(a, b)
            bound(roots[2], redis)
            thousand(a, b, redis)
            redis_lost(b, redis)
        finally:
            if a.proc.poll() is None:
                a.stop(signal.SIGKILL)
            b.stop()
            redis.stop()
    if exec_rest.failures:
        print(f"{len(exec_rest.failures)} failed", flush=True)
        sys.exit(1)
    print("ok", flush=True)


main()
