#!/usr/bin/python3
"""The execution service of `indexer serve`, driven by real clients over real sockets: Python's
http.client for the REST API (each language's hello world, a compile error, a runtime error, a
timeout, a memory limit, an output flood, stdin, files, cancel while queued and while running,
the 400s and the 429, fairness between clients, 1,000 submissions at once each answered exactly
once, a server killed with kill -9 mid-run and restarted), and Python websockets for exec/run with
its exec/output notifications ($/cancelRequest kills the run).
Usage: exec_rest.py INDEXER_BINARY"""
import asyncio
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

import websockets

BINARY = os.path.abspath(sys.argv[1])
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)


class Server:
    def __init__(self, root, *args):
        self.proc = subprocess.Popen([BINARY, "serve", root, "--listen", "127.0.0.1:0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
        assert m, f"no address in {line!r}: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def request(self, method, target, body=None, headers=None, timeout=60):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body) if isinstance(body, (dict, list)) else body
            c.request(method, target, body=data, headers=headers or {})
            r = c.getresponse()
            text = r.read().decode()
            return r.status, (json.loads(text) if text and r.getheader("Content-Type", "").startswith("application/json") else text), r
        finally:
            c.close()

    def run(self, body, **kw):
        status, answer, _ = self.request("POST", "/execute?wait=true", body, **kw)
        assert status == 200, (status, answer)
        return answer

    def wait_status(self, job, wanted, deadline=30):
        end = time.time() + deadline
        while time.time() < end:
            status, answer, _ = self.request("GET", f"/status/{job}")
            if status == 200 and answer["status"] in wanted:
                return answer["status"]
            time.sleep(0.02)
        raise AssertionError(f"{job} never reached {wanted}")

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


def languages_and_results(s):
    status, langs, _ = s.request("GET", "/languages")
    check(status == 200 and {l["id"] for l in langs} >= {71, 63, 50, 54, 73, 46}, f"/languages: {langs}")
    check(all(l["version"] for l in langs), "every language has a version")
    hello = {
        "python": 'print("hello from python")',
        "javascript": 'console.log("hello from javascript")',
        "c": '#include <stdio.h>\nint main(void) { puts("hello from c"); return 0; }',
        "cpp": '#include <iostream>\nint main() { std::cout << "hello from cpp" << std::endl; }',
        "rust": 'fn main() { println!("hello from rust"); }',
        "bash": 'echo "hello from bash"',
    }
    for lang, src in hello.items():
        r = s.run({"language": lang, "source_code": src})
        check(r["status"] == "completed" and r["stdout"] == f"hello from {lang}\n" and r["exit_code"] == 0, f"{lang} hello: {r}")
    # Judge0's ids are accepted as language_id.
    r = s.run({"language_id": 71, "source_code": "print(6 * 7)"})
    check(r["stdout"] == "42\n" and r["language"] == "python", f"language_id 71: {r}")
    # A compile error is a result with the compiler's words; a cached compile gives the same program.
    for lang, src in (("c", "int main(void) { return undeclared; }"), ("cpp", "int main() { nope(); }"), ("rust", "fn main() { let x: u8 = \"s\"; }")):
        r = s.run({"language": lang, "source_code": src})
        check(r["status"] == "compile_error" and "error" in r["compile_output"] and r["exit_code"] is None, f"{lang} compile error: {r}")
    src = '#include <stdio.h>\nint main(void) { int n; scanf("%d", &n); printf("%d\\n", n * 2); }'
    a = s.run({"language": "c", "source_code": src, "stdin": "21\n"})
    b = s.run({"language": "c", "source_code": src, "stdin": "50\n"})
    check(a["stdout"] == "42\n" and b["stdout"] == "100\n", f"c stdin, then cached: {a} {b}")
    _, stats, _ = s.request("GET", "/stats")
    check(stats["exec"]["compile_cache"]["hits"] >= 1, f"the second compile of the same source is a cache hit: {stats['exec']}")
    # Runtime errors: an exit status, a signal, an exception.
    r = s.run({"language": "python", "source_code": "import sys\nprint('before')\nsys.exit(3)"})
    check(r["status"] == "runtime_error" and r["exit_code"] == 3 and r["stdout"] == "before\n", f"exit 3: {r}")
    r = s.run({"language": "c", "source_code": "int main(void) { int *p = 0; return *p; }"})
    check(r["status"] == "runtime_error" and r["signal"] == 11, f"segfault: {r}")
    r = s.run({"language": "javascript", "source_code": "throw new Error('boom')"})
    check(r["status"] == "runtime_error" and "boom" in r["stderr"], f"js throw: {r}")
    # Limits.
    r = s.run({"language": "python", "source_code": "while True: pass", "cpu_time_limit": 1})
    check(r["status"] == "timeout" and "cpu" in r["message"], f"cpu timeout: {r}")
    r = s.run({"language": "bash", "source_code": "sleep 30", "wall_time_limit": 0.5})
    check(r["status"] == "timeout" and "wall" in r["message"] and r["wall_time"] < 10, f"wall timeout: {r}")
    r = s.run({"language": "python", "source_code": "x = bytearray(400 << 20)\nprint(len(x))", "memory_limit": 64 * 1024})
    check(r["status"] == "memory_limit", f"memory limit: {r}")
    r = s.run({"language": "c", "source_code": '#include <stdio.h>\nint main(void) { for (;;) fputs("flood flood flood\\n", stdout); }'})
    check(r["status"] == "output_limit" and len(r["stdout"]) <= (1 << 20) + 200 and r["wall_time"] < 10, f"flood: {r['status']} {len(r['stdout'])}")
    r = s.run({"language": "python", "source_code": "import sys\nprint(sys.stdin.read().upper(), end='')", "stdin": "héllo\n"})
    check(r["stdout"] == "HÉLLO\n", f"stdin: {r}")
    r = s.run({"language": "python", "source_code": "import sys, helper\nprint(helper.value, sys.argv[1:])", "files": {"helper.py": "value = 7\n"},
               "args": ["a", "b c"]})
    check(r["stdout"] == "7 ['a', 'b c']\n", f"files and args: {r}")
    # What the job wrote is gone afterwards: each job has a fresh workspace.
    r = s.run({"language": "bash", "source_code": "ls"})
    check(r["stdout"] == "main.sh\n", f"a fresh workspace: {r}")
    # Each job sees only its own workspace in the directory they are made in, and nothing another
    # left in /tmp (warm templates as root, cold runs otherwise: the same isolation).
    for _ in range(2):
        r = s.run({"language": "bash", "source_code": "ls .. | wc -l; ls /tmp | grep -c left; echo x > /tmp/left"})
        check(r["stdout"] == "1\n0\n", f"isolated workspaces: {r}")
    _, stats, _ = s.request("GET", "/stats")
    runs = stats["exec"]["sandbox_runs"]
    if os.geteuid() == 0:
        check(runs["warm"] >= 20 and runs["cold"] == 0, f"runs and compiles from warm templates: {runs}")
    else:
        check(runs["warm"] == 0 and runs["cold"] >= 20, f"not root: every run cold: {runs}")
    # /metrics has the histograms by language.
    _, metrics, _ = s.request("GET", "/metrics")
    check('indexer_exec_seconds_bucket{language="python"' in metrics and 'indexer_exec_jobs_total{status="completed"}' in metrics and
          "indexer_exec_memory_bytes_count" in metrics and 'indexer_exec_sandbox_runs_total{kind="warm"}' in metrics, "metrics")


def refusals(s):
    status, a, _ = s.request("POST", "/execute", {"language": "cobol", "source_code": "x"})
    check(status == 400 and "unknown language" in a["error"], f"unknown language: {status} {a}")
    status, a, _ = s.request("POST", "/execute", {"language_id": 999, "source_code": "x"})
    check(status == 400 and "999" in a["error"], f"unknown language_id: {status} {a}")
    status, a, _ = s.request("POST", "/execute", {"language": "python", "source_code": "x", "cpu_time_limit": 100000})
    check(status == 400 and "maximum" in a["error"], f"limit over the max: {status} {a}")
    status, a, _ = s.request("POST", "/execute", {"language": "python", "source_code": "x", "memory_limit": 1 << 40})
    check(status == 400 and "memory_limit" in a["error"], f"memory over the max: {status} {a}")
    status, a, _ = s.request("POST", "/execute", '{"language": "python", "source_code": "' + "x" * (9 << 20) + '"}')
    check(status == 400 and "over the limit" in a["error"], f"body over the limit: {status} {str(a)[:200]}")
    status, a, _ = s.request("POST", "/execute", "{not json")
    check(status == 400, f"not JSON: {status}")
    status, a, _ = s.request("POST", "/execute", {"language": "python", "source_code": "x", "files": {"../escape": "x"}})
    check(status == 400 and "files" in a["error"], f"a file out of the workspace: {status} {a}")
    status, a, _ = s.request("POST", "/execute", {"id": "dup-1", "language": "bash", "source_code": "true"})
    check(status == 201 and a["id"] == "dup-1", f"first of a duplicate id: {status} {a}")
    status, a, _ = s.request("POST", "/execute", {"id": "dup-1", "language": "bash", "source_code": "true"})
    check(status == 400 and "duplicate" in a["error"], f"duplicate id: {status} {a}")
    s.wait_status("dup-1", {"completed"})
    status, a, _ = s.request("POST", "/execute", {"id": "dup-1", "language": "bash", "source_code": "true"})
    check(status == 400 and "duplicate" in a["error"], f"duplicate of a finished id: {status} {a}")
    status, a, _ = s.request("GET", "/result/never-seen")
    check(status == 404, f"unknown id: {status}")
    status, a, _ = s.request("POST", "/execute", {"language": "python", "source_code": "x", "policy": "permissive"})
    check(status == 400 and "policy" in a["error"], f"a wider policy: {status} {a}")
    # Still serving after all of it.
    check(s.run({"language": "bash", "source_code": "echo ok"})["stdout"] == "ok\n", "serving after refusals")


def queue_cancel_fairness(tmp):
    s = Server(tmp, "--exec-workers", "1", "--exec-queue-limit", "3")
    try:
        # Cancel while running: the sandbox kills it within its poll.
        status, a, _ = s.request("POST", "/execute", {"id": "long", "language": "bash", "source_code": "sleep 30"})
        s.wait_status("long", {"running"})
        for i in range(3):
            status, a, _ = s.request("POST", "/execute", {"id": f"q{i}", "language": "bash", "source_code": f"echo {i}"})
            check(status == 201, f"queued {i}: {status} {a}")
        status, a, r = s.request("POST", "/execute", {"language": "bash", "source_code": "echo over"})
        check(status == 429 and r.getheader("Retry-After") == "1" and "queue is full" in a["error"], f"429: {status} {a}")
        status, a, _ = s.request("DELETE", "/cancel/q1")
        check(status == 200 and a["cancelled"], f"cancel queued: {status} {a}")
        status, a, _ = s.request("GET", "/result/q1")
        check(a["status"] == "cancelled", f"cancelled while queued: {a}")
        t = time.time()
        status, a, _ = s.request("POST", "/cancel/long")
        check(status == 200 and a["cancelled"], f"cancel running: {status} {a}")
        check(s.wait_status("long", {"cancelled"}) == "cancelled" and time.time() - t < 5, "cancelled while running, at once")
        for i in (0, 2):
            s.wait_status(f"q{i}", {"completed"})
        status, a, _ = s.request("DELETE", "/cancel/q0")
        check(status == 409 and a["status"] == "completed", f"cancel of a finished job: {status} {a}")
        # Fairness: one worker busy, client A queues 3 jobs, then client B 1; B's runs second.
        s.request("POST", "/execute", {"id": "block", "language": "bash", "source_code": "sleep 0.5"}, {"X-Client-Id": "Z"})
        s.wait_status("block", {"running"})
        for i in range(2):
            s.request("POST", "/execute", {"id": f"a{i}", "language": "bash", "source_code": "true"}, {"X-Client-Id": "A"})
        s.request("POST", "/execute", {"id": "b0", "language": "bash", "source_code": "true"}, {"X-Client-Id": "B"})
        for j in ("a0", "a1", "b0"):
            s.wait_status(j, {"completed"})
        fin = {j: s.request("GET", f"/result/{j}")[1]["finished_at"] for j in ("a0", "a1", "b0")}
        check(fin["a0"] <= fin["b0"] <= fin["a1"], f"round robin between clients: {fin}")
    finally:
        s.stop()


def thousand(s):
    n = 1000
    ids = [f"k{i}" for i in range(n)]
    refused = []
    lock = threading.Lock()

    def submit(chunk):
        for i in chunk:
            status, a, _ = s.request("POST", "/execute", {"id": ids[i], "language": "bash", "source_code": f"echo {i}"})
            if status != 201:
                with lock:
                    refused.append((i, status, a))

    _, before, _ = s.request("GET", "/stats")
    threads = [threading.Thread(target=submit, args=(range(k, n, 16),)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not refused, f"1000 submissions accepted: {refused[:3]}")
    end = time.time() + 300
    while time.time() < end:
        _, st, _ = s.request("GET", "/stats")
        if st["exec"]["queued"] == 0 and st["exec"]["running"] == 0:
            break
        time.sleep(0.2)
    wrong = []
    for i, j in enumerate(ids):
        status, a, _ = s.request("GET", f"/result/{j}")
        if status != 200 or a["status"] != "completed" or a["stdout"] != f"{i}\n":
            wrong.append((j, status, a))
    check(not wrong, f"every result once and right: {wrong[:3]}")
    _, after, _ = s.request("GET", "/stats")
    done = sum(after["exec"]["finished"].values()) - sum(before["exec"]["finished"].values())
    check(done == n, f"finished exactly {n} jobs, counted {done}")


def killed_and_restarted(tmp):
    s = Server(tmp)
    kept = s.run({"id": "kept", "language": "python", "source_code": "print('kept')"})
    check(kept["status"] == "completed", f"kept: {kept}")
    s.request("POST", "/execute", {"id": "mid-run", "language": "bash", "source_code": "sleep 60"})
    s.wait_status("mid-run", {"running"})
    s.stop(signal.SIGKILL)
    check(os.path.isfile(os.path.join(tmp, ".indexer", "exec.db")), "the store is under .indexer")
    s = Server(tmp)
    try:
        status, a, _ = s.request("GET", "/result/mid-run")
        check(status == 200 and a["status"] == "internal_error" and "stopped while the job ran" in a["message"], f"after kill -9: {status} {a}")
        status, a, _ = s.request("GET", "/result/kept")
        check(status == 200 and a["stdout"] == "kept\n", f"finished result survives: {a}")
        status, a, _ = s.request("POST", "/execute", {"id": "kept", "language": "bash", "source_code": "true"})
        check(status == 400, "a kept id is still a duplicate after the restart")
    finally:
        s.stop()
    # A link planted at .indexer is never followed: the results stay in memory, said so.
    other = tempfile.mkdtemp()
    os.symlink(other, os.path.join(tmp, "linked"))
    os.makedirs(os.path.join(tmp, "r2"))
    os.symlink(other, os.path.join(tmp, "r2", ".indexer"))
    s = Server(os.path.join(tmp, "r2"))
    try:
        check(s.run({"language": "bash", "source_code": "echo x"})["stdout"] == "x\n", "serving with .indexer a link")
        check(not os.path.exists(os.path.join(other, "exec.db")), "nothing written through the link")
    finally:
        s.stop()


def bad_options(tmp):
    for args, said in ((["--exec-workers", "0"], "--exec-workers takes a whole number from 1 to 256"),
                       (["--exec-queue-limit", "x"], "--exec-queue-limit takes a whole number"),
                       (["--exec-policy", "nosuch"], "--exec-policy: nosuch")):
        p = subprocess.run([BINARY, "serve", tmp, "--listen", "127.0.0.1:0", *args], capture_output=True, text=True, timeout=30)
        check(p.returncode == 2 and said in p.stderr, f"{args}: {p.returncode} {p.stderr!r}")


def security(tmp):
    s = Server(tmp, "--token", "sekrit")
    try:
        status, a, _ = s.request("POST", "/execute", {"language": "bash", "source_code": "echo x"})
        check(status == 401, f"no token: {status}")
        auth = {"Authorization": "Bearer sekrit"}
        status, a, _ = s.request("POST", "/execute", {"language": "bash", "source_code": "echo x"}, {**auth, "Origin": "http://evil.example"})
        check(status == 403, f"foreign origin: {status}")
        status, a, _ = s.request("GET", "/languages", None, auth)
        check(status == 200, f"with the token: {status}")
    finally:
        s.stop()


async def websocket(s):
    async with websockets.connect(f"ws://127.0.0.1:{s.port}", max_size=None) as ws:
        # Output streamed as it comes, in order, never split inside a UTF-8 sequence.
        src = ("import sys, time\n"
               "for i in range(5):\n    print('line', i, flush=True)\n    time.sleep(0.02)\n"
               "sys.stdout.buffer.write(b'\\xc3'); sys.stdout.flush(); time.sleep(0.1)\n"
               "sys.stdout.buffer.write(b'\\xa9 done\\n'); sys.stdout.flush()\n"
               "print('to stderr', file=sys.stderr)\n")
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "exec/run", "params": {"id": "ws-1", "language": "python", "source_code": src}}))
        chunks = {"stdout": [], "stderr": []}
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m.get("method") == "exec/output":
                check(m["params"]["id"] == "ws-1", f"output id: {m}")
                chunks[m["params"]["stream"]].append(m["params"]["data"])
            elif m.get("id") == 1:
                result = m["result"]
                break
        out = "".join(chunks["stdout"])
        check(result["status"] == "completed" and out == result["stdout"], f"streamed == result: {out!r} vs {result.get('stdout')!r}")
        check(out.endswith("é done\n") and all("\ufffd" not in c for c in chunks["stdout"]), f"utf-8 kept whole: {chunks['stdout']}")
        check(len(chunks["stdout"]) >= 3, f"streamed in pieces: {len(chunks['stdout'])}")
        check("".join(chunks["stderr"]) == "to stderr\n", f"stderr streamed: {chunks['stderr']}")
        # A command line under the server's policy; one the policy refuses.
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "exec/run", "params": {"command": "echo $((6*7)) && ls"}}))
        m = await next_answer(ws, 2)
        check(m["result"]["stdout"] == "42\n", f"command: {m}")
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 3, "method": "exec/run", "params": {"command": "sudo rm -rf /"}}))
        m = await next_answer(ws, 3)
        check(m.get("error", {}).get("code") == -32602 and "sudo" in m["error"]["message"], f"refused command: {m}")
        # $/cancelRequest kills the run.
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 4, "method": "exec/run", "params": {"id": "ws-cancel", "language": "bash", "source_code": "sleep 60"}}))
        s.wait_status("ws-cancel", {"running"})
        t = time.time()
        await ws.send(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 4}}))
        m = await next_answer(ws, 4)
        check(m.get("error", {}).get("code") == -32800 and time.time() - t < 5, f"cancelRequest: {m}")
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 5, "method": "exec/status", "params": {"id": "ws-cancel"}}))
        m = await next_answer(ws, 5)
        check(m["result"]["status"] == "cancelled", f"exec/status after cancel: {m}")
        # Two runs sent together each get their own wait: the second is answered while the first runs.
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 10, "method": "exec/run", "params": {"id": "ws-long", "language": "bash", "source_code": "sleep 60"}}))
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 11, "method": "exec/run", "params": {"command": "echo second"}}))
        m = await next_answer(ws, 11)
        check(m["result"]["stdout"] == "second\n", f"second run: {m}")
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 12, "method": "exec/status", "params": {"id": "ws-long"}}))
        m = await next_answer(ws, 12)
        check(m["result"]["status"] in ("queued", "running"), f"the first still runs: {m}")
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 13, "method": "exec/cancel", "params": {"id": "ws-long"}}))
        m = await next_answer(ws, 10)
        check(m["result"]["status"] == "cancelled", f"the first, cancelled: {m}")
        # exec/cancel of a REST job.
        s.request("POST", "/execute", {"id": "rest-long", "language": "bash", "source_code": "sleep 60"})
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 6, "method": "exec/cancel", "params": {"id": "rest-long"}}))
        m = await next_answer(ws, 6)
        check(m["result"]["cancelled"] is True, f"exec/cancel: {m}")
        check(s.wait_status("rest-long", {"cancelled"}) == "cancelled", "exec/cancel ends the job")


async def next_answer(ws, id):
    while True:
        m = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if m.get("id") == id:
            return m


def main():
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        s = Server(root)
        try:
            languages_and_results(s)
            refusals(s)
            asyncio.run(websocket(s))
            thousand(s)
        finally:
            s.stop()
        for name, case in (("queue", queue_cancel_fairness), ("restart", killed_and_restarted), ("security", security), ("options", bad_options)):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            case(d)
    if failures:
        print(f"{len(failures)} failed", flush=True)
        sys.exit(1)
    print("ok", flush=True)


if __name__ == "__main__":  # exec_redis.py reuses Server and check
    main()
