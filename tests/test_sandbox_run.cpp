// The sandbox engine through real processes: the escape checklist of issue 15 that namespaces,
// the minimal root, capabilities and rlimits cover, each blocked with its reason, and the work an
// agent does (cc, a Python test suite, git) still running. No timings asserted.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "helpers.h"
#include "sandbox_helpers.h"
#include "sandbox/sandbox.h"

namespace {

using sandbox::Outcome;
using K = sandbox::Outcome::Kind;

using test::workspace_policy;

Outcome sh(const test::TempDir& ws, const std::string& script, const sandbox::Policy& p = workspace_policy(),
           std::string stdin_data = {}) {
  sandbox::Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.workspace = ws.path().string();
  c.stdin_data = std::move(stdin_data);
  return test::ran(sandbox::run(p, c));
}

}  // namespace

TEST_CASE("sandbox: exit status, stdin, a missing command, a signal", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto r = sh(ws, "cat; echo err >&2; exit 3", workspace_policy(), "from stdin\n");
  CHECK(r.kind == K::Exited);
  CHECK(r.code == 3);
  CHECK(r.out == "from stdin\n");
  CHECK(r.err == "err\n");
  CHECK(r.reason == "exited with 3");

  sandbox::Command c;
  c.argv = {"no-such-command-here"};
  c.workspace = ws.path().string();
  auto missing = sandbox::run(workspace_policy(), c);
  REQUIRE(missing.ok());
  CHECK(missing->kind == K::Exited);
  CHECK(missing->code == 127);
  CHECK(missing->reason == "cannot run no-such-command-here: command not found");

  auto killed = sh(ws, "kill -SEGV $$");
  CHECK(killed.kind == K::Signaled);
  CHECK(killed.code == SIGSEGV);
  CHECK(killed.reason.find("SIGSEGV") != std::string::npos);
}

TEST_CASE("sandbox: the allowed work runs: cc, a Python test suite, git status", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  ws.write("hello.c", "#include <stdio.h>\nint main(void) { puts(\"hello from c\"); return 0; }\n");
  auto c = sh(ws, "cc -O1 -o hello hello.c && ./hello");
  CHECK(c.kind == K::Exited);
  CHECK(c.code == 0);
  CHECK(c.out == "hello from c\n");
  // What the sandbox wrote is ours on the host (the workspace is idmapped), not an unknown uid's.
  struct stat st;
  REQUIRE(::stat((ws / "hello").c_str(), &st) == 0);
  CHECK(st.st_uid == ::geteuid());

  ws.write("test_calc.py",
           "import unittest\n"
           "class Calc(unittest.TestCase):\n"
           "    def test_add(self): self.assertEqual(1 + 1, 2)\n"
           "    def test_tmp(self):\n"
           "        import tempfile\n"
           "        with tempfile.NamedTemporaryFile() as f: f.write(b'x')\n");
  auto py = sh(ws, "python3 -m unittest -v test_calc 2>&1");
  CHECK(py.code == 0);
  CHECK(py.out.find("Ran 2 tests") != std::string::npos);
  CHECK(py.out.find("OK") != std::string::npos);

  REQUIRE(std::system(("git -C " + ws.path().string() + " init -q && git -C " + ws.path().string() +
                       " -c user.email=t@t -c user.name=t commit -q --allow-empty -m init")
                          .c_str()) == 0);
  auto git = sh(ws, "git status --short --branch && git log --oneline | wc -l");
  CHECK(git.code == 0);
  CHECK(git.out.find("## ") != std::string::npos);
  CHECK(git.out.find("?? hello.c") != std::string::npos);
  // Metadata that runs code later is read-only even in a writable workspace.
  auto hooks = sh(ws, "echo 'touch /tmp/pwned' > .git/hooks/post-checkout && echo wrote");
  CHECK(hooks.code != 0);
  CHECK(hooks.out.empty());
  CHECK(hooks.err.find("Read-only file system") != std::string::npos);
}

TEST_CASE("sandbox: strict keeps the workspace read-only", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  ws.write("a.txt", "content\n");
  auto p = sandbox::preset("strict");
  REQUIRE(p.ok());
  auto r = sh(ws, "cat a.txt && echo x > b.txt", *p);
  CHECK(r.out == "content\n");
  CHECK(r.code != 0);
  CHECK(r.err.find("Read-only file system") != std::string::npos);
  CHECK(!test::fs::exists(ws / "b.txt"));
}

TEST_CASE("sandbox: traversal, symlink and hard-link escapes out of the workspace", "[sandbox]") {
  NEED_USERNS();
  test::TempDir outer;
  outer.write("secret.txt", "host secret\n");
  outer.write("ws/inside.txt", "inside\n");
  test::fs::create_symlink(outer / "secret.txt", outer / "ws/link-out");
  test::fs::create_symlink("../secret.txt", outer / "ws/rel-out");
  sandbox::Command c;
  c.workspace = (outer / "ws").string();
  auto run = [&](const std::string& script) {
    c.argv = {"/bin/sh", "-c", script};
    auto r = sandbox::run(workspace_policy(), c);
    REQUIRE(r.ok());
    return *r;
  };
  const std::string secret = (outer / "secret.txt").string();
  auto r = run("cat inside.txt; cat ../secret.txt; cat " + secret + "; cat link-out; cat rel-out; "
               "ln -s " + secret + " new-link && cat new-link; ln " + secret + " hard; ln /etc/passwd hard2; "
               "cd ../../../../../.. && cat ." + secret + "; true");
  CHECK(r.out == "inside\n");  // nothing of the secret, by any of the seven ways
  CHECK(r.err.find("No such file or directory") != std::string::npos);
  CHECK(r.err.find("Invalid cross-device link") != std::string::npos);  // /etc/passwd: another mount
  CHECK(!test::fs::exists(outer / "ws/hard"));
  CHECK(!test::fs::exists(outer / "ws/hard2"));
}

TEST_CASE("sandbox: the host's secrets and our environment stay out", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws, home;
  home.write(".ssh/id_ed25519", "PRIVATE KEY\n");
  home.write(".aws/credentials", "aws_secret_access_key=abc\n");
  home.write("notes.txt", "visible\n");
  const char* old_home = std::getenv("HOME");
  std::string saved = old_home ? old_home : "";
  ::setenv("HOME", home.path().c_str(), 1);
  ::setenv("INDEXER_TEST_TOKEN", "tok-5f3a9c", 1);
  auto p = workspace_policy();
  p.filesystem.allowed_paths = {home.path().string()};
  const std::string h = home.path().string();
  auto r = sh(ws, "cat " + h + "/notes.txt; cat " + h + "/.ssh/id_ed25519; cat " + h + "/.aws/credentials; ls -A " + h +
                      "/.ssh; env; cat /proc/1/environ; cat /proc/self/environ | tr '\\0' '\\n' | grep TOKEN; "
                      "head -c 16 /proc/1/mem; true",
              p);
  INFO(r.reason << "\n" << r.err);
  if (old_home) ::setenv("HOME", saved.c_str(), 1);
  ::unsetenv("INDEXER_TEST_TOKEN");
  CHECK(r.out.find("visible") != std::string::npos);
  CHECK(r.out.find("PRIVATE KEY") == std::string::npos);
  CHECK(r.out.find("aws_secret") == std::string::npos);
  CHECK(r.out.find("tok-5f3a9c") == std::string::npos);
  CHECK(r.err.find("tok-5f3a9c") == std::string::npos);
  CHECK(r.out.find("HOME=/tmp") != std::string::npos);
  CHECK(r.err.find("/proc/1/environ: Permission denied") != std::string::npos);
}

TEST_CASE("sandbox: host processes are neither visible nor signalled", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  pid_t host = ::fork();
  if (host == 0) {
    ::execl("/bin/sleep", "sleep", "60", nullptr);
    _exit(127);
  }
  REQUIRE(host > 0);
  const std::string pid = std::to_string(host);
  auto r = sh(ws, "ls /proc/" + pid + "/ && echo visible; kill -9 " + pid + " && echo killed; ps -e -o pid= | wc -l");
  CHECK(r.out.find("visible") == std::string::npos);
  CHECK(r.out.find("killed") == std::string::npos);
  CHECK(::kill(host, 0) == 0);  // still alive
  ::kill(host, SIGKILL);
  ::waitpid(host, nullptr, 0);
}

TEST_CASE("sandbox: no privileges: setuid, capabilities, mount, new user namespaces", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto r = sh(ws,
              "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status; "
              "su -c 'echo su-ran' root; mount -t tmpfs none /tmp && echo mounted; "
              "unshare -U true && echo unshared; unshare -m true && echo unshared-mount; true");
  for (const char* cap : {"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000", "CapEff:\t0000000000000000",
                          "CapBnd:\t0000000000000000", "CapAmb:\t0000000000000000", "NoNewPrivs:\t1"})
    CHECK(r.out.find(cap) != std::string::npos);
  CHECK(r.out.find("su-ran") == std::string::npos);
  CHECK(r.out.find("mounted") == std::string::npos);
  CHECK(r.out.find("unshared") == std::string::npos);
}

TEST_CASE("sandbox: no network: TCP, UDP, DNS, and a host's abstract Unix socket", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  // A listener on the host, in the abstract namespace (which a network namespace separates).
  int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string name = "indexer-sandbox-test-" + std::to_string(::getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::listen(l, 4) == 0);
  ws.write("net.py",
           "import socket, sys\n"
           "def attempt(label, f):\n"
           "    try:\n"
           "        f(); print(label, 'reached')\n"
           "    except OSError as e:\n"
           "        print(label, 'blocked:', e)\n"
           "def tcp():\n"
           "    s = socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
           "def udp():\n"
           "    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('8.8.8.8', 53))\n"
           "def dns():\n"
           "    socket.getaddrinfo('example.com', 443)\n"
           "def abstract():\n"
           "    s = socket.socket(socket.AF_UNIX); s.connect('\\0' + sys.argv[1])\n"
           "def loopback():\n"
           "    a = socket.socket(); a.bind(('127.0.0.1', 0)); a.listen(); socket.create_connection(a.getsockname())\n"
           "for label, f in [('tcp', tcp), ('udp', udp), ('dns', dns), ('abstract', abstract), ('loopback', loopback)]:\n"
           "    attempt(label, f)\n");
  auto r = sh(ws, "python3 net.py " + name);
  ::close(l);
  CHECK(r.out.find("tcp blocked: [Errno 101] Network is unreachable") != std::string::npos);
  CHECK(r.out.find("udp blocked: [Errno 101] Network is unreachable") != std::string::npos);
  CHECK(r.out.find("dns blocked") != std::string::npos);
  CHECK(r.out.find("abstract blocked: [Errno 111] Connection refused") != std::string::npos);
  CHECK(r.out.find("loopback reached") != std::string::npos);  // the sandbox's own lo is up
}

TEST_CASE("sandbox: back-to-back runs each get a network namespace of their own; /etc and /dev stay read-only", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  // Several runs in a row: as root the later ones take namespaces made ahead (prepared.h), and the
  // system part comes from the tree every run copies; neither may carry anything from run to run.
  // A namespace's inode number is reused once it is freed, so freshness is shown by what a run
  // leaves behind: its loopback connection stays in TIME_WAIT for a minute, in its namespace only.
  const std::string script =
      "readlink /proc/self/ns/net; echo tcp-entries $(tail -n +2 /proc/net/tcp | wc -l); "
      "python3 -c 'import socket; a = socket.socket(); a.bind((\"127.0.0.1\", 0)); a.listen(); "
      "c = socket.create_connection(a.getsockname()); s, _ = a.accept(); s.close(); c.close(); print(\"lo works\")'; "
      "ls /etc/left /dev/left 2>/dev/null; echo x > /dev/null && echo null-ok; "
      "(echo x > /etc/left) 2>/dev/null && echo wrote-etc; (echo x > /dev/left) 2>/dev/null && echo wrote-dev; "
      "ip link set lo down 2>/dev/null && echo lo-down; true";
  // The system tree (root only) holds a read-only /dev; without it each run's /dev is its own tmpfs.
  const char* prepare = std::getenv("INDEXER_SANDBOX_PREPARE");
  const bool shared_dev = ::geteuid() == 0 && !(prepare && std::string(prepare) == "0");
  char host[64] = {};
  REQUIRE(::readlink("/proc/self/ns/net", host, sizeof host - 1) > 0);
  for (int i = 0; i < 6; ++i) {
    auto r = sh(ws, script);
    INFO(r.out << r.err);
    REQUIRE(r.kind == K::Exited);
    const std::string ns = r.out.substr(0, r.out.find('\n'));
    CHECK(ns.starts_with("net:["));
    CHECK(ns != host);
    CHECK(r.out.find("tcp-entries 0\n") != std::string::npos);
    CHECK(r.out.find("lo works") != std::string::npos);
    CHECK(r.out.find("null-ok") != std::string::npos);
    CHECK(r.out.find("wrote-etc") == std::string::npos);
    if (shared_dev) CHECK(r.out.find("wrote-dev") == std::string::npos);
    CHECK(r.out.find("/left") == std::string::npos);  // nothing a run wrote is there for the next
    CHECK(r.out.find("lo-down") == std::string::npos);
  }
}

TEST_CASE("sandbox: fork, memory, disk and descriptor bombs hit their limits", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.processes = 16;
  p.limits.open_files = 64;
  p.limits.file_size_bytes = 1 << 20;
  p.limits.memory_bytes = uint64_t(256) << 20;
  auto forks = sh(ws,
                  "python3 -c '\nimport os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
                  "            time.sleep(60); os._exit(0)\n        n += 1\nexcept OSError as e:\n"
                  "    print(\"fork blocked after\", n, e)\n'",
                  p);
  CHECK(forks.out.find("fork blocked after") != std::string::npos);
  CHECK(forks.out.find("Resource temporarily unavailable") != std::string::npos);

  auto fds = sh(ws, "python3 -c '\nfs = []\ntry:\n    while True: fs.append(open(\"/dev/null\"))\nexcept OSError as e:\n"
                    "    print(\"open blocked after\", len(fs), e)\n'",
                p);
  CHECK(fds.out.find("Too many open files") != std::string::npos);

  auto disk = sh(ws, "exec head -c 4194304 /dev/zero > big", p);
  CHECK(disk.kind == K::FileSize);
  CHECK(disk.reason == "killed: file size limit of 1048576 bytes exceeded");
  CHECK(test::fs::file_size(ws / "big") <= (1u << 20));

  auto mem = sh(ws, "python3 -c 'b = bytearray(1 << 30); print(\"allocated\")'", p);
  CHECK(mem.out.find("allocated") == std::string::npos);
  if (::geteuid() == 0 && sandbox::probe().cgroup_v1_memory) {  // the whole tree's memory, by the cgroup
    CHECK(mem.kind == K::Memory);
    CHECK(mem.reason == "killed: memory limit of 268435456 bytes exceeded");
  } else {  // RLIMIT_DATA per process
    CHECK(mem.err.find("MemoryError") != std::string::npos);
  }
}

TEST_CASE("sandbox: cpu time and an output flood", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.cpu_ms = 1000;
  p.limits.output_bytes = 64 << 10;
  auto cpu = sh(ws, "while :; do :; done", p);
  CHECK(cpu.kind == K::Cpu);
  CHECK(cpu.reason == "killed: cpu time limit of 1 s exceeded");

  auto flood = sh(ws, "head -c 10000000 /dev/zero | tr '\\0' a; echo done >&2", p);
  CHECK(flood.kind == K::Exited);
  CHECK(flood.code == 0);
  CHECK(flood.out_truncated);
  CHECK(!flood.err_truncated);
  CHECK(flood.err == "done\n");
  CHECK(flood.out.size() < (64 << 10) + 100);
  CHECK(flood.out.find("[indexer: output truncated at 65536 bytes]") != std::string::npos);
}

namespace {
// Host processes whose command line holds `token`.
int host_processes_with(const std::string& token) {
  int n = 0;
  for (const auto& e : test::fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string cmdline = test::read_file(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(token) != std::string::npos) ++n;
  }
  return n;
}
}  // namespace

TEST_CASE("sandbox: a timeout kills a tree that ignores SIGTERM, cancel does too", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.wall_ms = 1500;
  auto r = sh(ws,
              "trap '' TERM HUP; for i in 1 2 3; do (trap '' TERM HUP; setsid sleep 7351 & sleep 7351) & done; "
              "echo started; sleep 7351",
              p);
  CHECK(r.kind == K::Timeout);
  CHECK(r.reason == "killed: wall clock of 1500 ms exceeded");
  CHECK(r.out == "started\n");
  CHECK(host_processes_with("sleep 7351") == 0);  // nothing of the tree outlives run()

  std::atomic<bool> cancel{false};
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel = true;
  });
  sandbox::Command c;
  c.argv = {"sh", "-c", "trap '' TERM; sleep 7352 & sleep 7352"};
  c.workspace = ws.path().string();
  sandbox::RunOptions o;
  o.cancel = &cancel;
  auto rc = sandbox::run(workspace_policy(), c, o);
  t.join();
  REQUIRE(rc.ok());
  CHECK(rc->kind == K::Cancelled);
  CHECK(host_processes_with("sleep 7352") == 0);
}

TEST_CASE("sandbox: bad input is an error, not a run", "[sandbox]") {
  sandbox::Command c;
  c.workspace = "/";
  CHECK(sandbox::run(workspace_policy(), c).error() == "no command to run");
  c.argv = {"true"};
  c.workspace = "relative/dir";
  CHECK(sandbox::run(workspace_policy(), c).error() == "the workspace must be an absolute path");
  c.workspace = "/no/such/workspace";
  CHECK(sandbox::run(workspace_policy(), c).error() == "/no/such/workspace: not a directory");
  c.workspace = "/tmp";
  c.env = {"NOEQUALS"};
  CHECK(sandbox::run(workspace_policy(), c).error() == "environment entry 'NOEQUALS' is not KEY=VALUE");
}

TEST_CASE("sandbox: indexer exec exits with the command's status, 124 on timeout", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  auto ok = test::run_indexer({"exec", "--workspace", ws.path().string(), "--", "sh", "-c", "echo out; exit 7"});
  CHECK(ok.exit_code == 7);
  CHECK(ok.out == "out\n");
  auto slow = test::run_indexer({"exec", "--workspace", ws.path().string(), "--timeout", "0.5", "--", "sleep", "30"});
  CHECK(slow.exit_code == 124);
  CHECK(slow.err == "indexer exec: killed: wall clock of 500 ms exceeded\n");
  auto big = test::run_indexer({"exec", "--workspace", ws.path().string(), "--", "sh", "-c", "ulimit -f 1; exec head -c 9999 /dev/zero > f"});
  CHECK(big.exit_code == 137);
  auto flood = test::run_indexer({"exec", "--workspace", ws.path().string(), "--", "sh", "-c", "head -c 3000000 /dev/zero; echo e >&2"});
  CHECK(flood.exit_code == 0);
  CHECK(flood.out.size() == (1u << 20) + std::string("\n[indexer: output truncated at 1048576 bytes]\n").size());
  CHECK(flood.out.ends_with("\n[indexer: output truncated at 1048576 bytes]\n"));
  CHECK(flood.err == "e\n");
  auto bad = test::run_indexer({"exec", "--policy", "nonesuch", "--", "true"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("nonesuch: No such file or directory (a policy is strict, workspace, permissive or a JSON file)") != std::string::npos);
  auto none = test::run_indexer({"exec", "--workspace", ws.path().string()});
  CHECK(none.exit_code == 2);
  CHECK(none.err.find("no command after --") != std::string::npos);
}

TEST_CASE("sandbox: with a proxy socket, 127.0.0.1:3128 inside is relayed to it, and nothing else goes out", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws, sock_dir;
  // The proxy's stand-in: a Unix-socket server of our own that answers each connection with
  // "echo:" and what it read, until the client shuts its side.
  const std::string path = (sock_dir / "proxy.sock").string();
  int l = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(l, 8) == 0);
  std::atomic<int> served{0};
  std::thread server([&] {
    for (;;) {
      int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::string got;
      char buf[4096];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof buf)) > 0) got.append(buf, size_t(n));
      std::string reply = "echo:" + got;
      (void)!::write(c, reply.data(), reply.size());
      ::close(c);
      served.fetch_add(1);
    }
  });
  ws.write("client.py",
           "import os, socket\n"
           "print(os.environ['HTTPS_PROXY'], os.environ['http_proxy'])\n"
           "for i in range(3):\n"
           "    s = socket.create_connection(('127.0.0.1', 3128), timeout=10)\n"
           "    s.sendall(b'CONNECT example.com:443 #%d' % i); s.shutdown(socket.SHUT_WR)\n"
           "    data = b''\n"
           "    while chunk := s.recv(4096): data += chunk\n"
           "    print(data.decode())\n"
           "try:\n"
           "    socket.create_connection(('1.1.1.1', 443), timeout=3)\n"
           "except OSError as e:\n"
           "    print('direct blocked:', e)\n");
  sandbox::Command c;
  c.argv = {"python3", "client.py"};
  c.workspace = ws.path().string();
  c.proxy_socket = path;
  auto r = sandbox::run(workspace_policy(), c);
  ::shutdown(l, SHUT_RDWR);
  ::close(l);
  server.join();
  REQUIRE(r.ok());
  INFO(r->reason << "\n" << r->err);
  CHECK(r->kind == K::Exited);
  CHECK(r->code == 0);
  CHECK(r->out == "http://127.0.0.1:3128 http://127.0.0.1:3128\n"
                  "echo:CONNECT example.com:443 #0\necho:CONNECT example.com:443 #1\necho:CONNECT example.com:443 #2\n"
                  "direct blocked: [Errno 101] Network is unreachable\n");
  CHECK(served.load() == 3);

  c.proxy_socket = (sock_dir / "not-a-socket").string();
  sock_dir.write("not-a-socket", "");
  auto bad = sandbox::run(workspace_policy(), c);
  REQUIRE(!bad.ok());
  CHECK(bad.error() == "proxy socket " + c.proxy_socket + ": not a Unix socket");
}

TEST_CASE("sandbox: the guards are applied: seccomp refuses io_uring, ptrace and TIOCSTI, Landlock and cgroups listed", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  ws.write("guards.py",
           "import ctypes, errno, fcntl, os, termios\n"
           "libc = ctypes.CDLL(None, use_errno=True)\n"
           "def sys(label, *args):\n"
           "    r = libc.syscall(*args)\n"
           "    print(label, 'refused' if r == -1 else 'allowed', errno.errorcode.get(ctypes.get_errno(), ''))\n"
           "sys('io_uring_setup', 425, 1, ctypes.c_void_p(0))\n"
           "sys('ptrace', 101, 0, 1, 0, 0)\n"          // PTRACE_ATTACH to our init
           "sys('bpf', 321, 0, 0, 0)\n"
           "fd = os.open('/dev/ptmx', os.O_RDWR)\n"
           "try:\n"
           "    fcntl.ioctl(fd, termios.TIOCSTI, b'x'); print('TIOCSTI allowed')\n"
           "except OSError as e:\n"
           "    print('TIOCSTI refused', errno.errorcode[e.errno])\n");
  auto r = sh(ws, "python3 guards.py");
  CHECK(r.code == 0);
  CHECK(r.out.find("io_uring_setup refused EPERM") != std::string::npos);
  CHECK(r.out.find("ptrace refused EPERM") != std::string::npos);
  CHECK(r.out.find("bpf refused EPERM") != std::string::npos);
  CHECK(r.out.find("TIOCSTI refused EPERM") != std::string::npos);
  auto has = [&](const std::string& layer) {
    return std::find(r.layers.begin(), r.layers.end(), layer) != r.layers.end();
  };
  CHECK(has("seccomp filter"));
  if (sandbox::probe().landlock_abi > 0) CHECK(has("landlock (ABI " + std::to_string(sandbox::probe().landlock_abi) + ")"));
  if (::geteuid() == 0 && sandbox::probe().cgroup_v1_memory) CHECK(has("cgroup v1 memory"));
  if (::geteuid() == 0 && sandbox::probe().cgroup_v1_pids) CHECK(has("cgroup v1 pids"));
}

TEST_CASE("sandbox: permissive shows the host read-only, workspace does not show it", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  const std::string readme = std::string(SOURCE_DIR) + "/README.md";
  auto p = sandbox::preset("permissive");
  REQUIRE(p.ok());
  auto wide = sh(ws, "head -c 9 " + readme + "; echo; echo x >> " + readme + " || echo refused; echo ok > mine.txt", *p);
  CHECK(wide.out == "# indexer\nrefused\n");
  CHECK((wide.err.find("Read-only file system") != std::string::npos || wide.err.find("Permission denied") != std::string::npos));
  CHECK(test::read_file(ws / "mine.txt") == "ok\n");
  auto narrow = sh(ws, "head -c 9 " + readme + " || echo hidden");
  CHECK(narrow.out == "hidden\n");
}

TEST_CASE("sandbox: an OOM kill in a run never chooses the caller, however big", "[sandbox]") {
  NEED_USERNS();
  if (::geteuid() != 0 || !sandbox::probe().cgroup_v1_memory) return;  // the RLIMIT_DATA fallback kills nothing
  // pid 1 of a run shares our memory: were it in the run's memory cgroup, the OOM killer would pick
  // it for this heap and kill every process sharing it, this one too.
  std::vector<char> heap(size_t(512) << 20);
  for (size_t i = 0; i < heap.size(); i += 4096) heap[i] = char(i);
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.memory_bytes = uint64_t(64) << 20;
  auto r = sh(ws, "python3 -c 'b = bytearray(256 << 20); print(\"allocated\")'", p);
  CHECK(r.kind == K::Memory);
  CHECK(heap[4096] == char(4096));  // and we are still here
}

TEST_CASE("sandbox: a run the sandbox cannot set up is refused with the step that failed", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  sandbox::Command c;
  c.argv = {"true"};
  c.workspace = ws.path().string();
  c.cwd = "/no/such/dir";
  auto r = sandbox::run(workspace_policy(), c);
  REQUIRE(r.ok());
  CHECK(r->kind == K::Refused);
  CHECK(r->reason == "refused: sandbox setup failed: enter the working directory /no/such/dir: No such file or directory");
}

TEST_CASE("sandbox: indexer exec judges the command line first, reads policy files, and goes out only through the proxy", "[sandbox]") {
  NEED_USERNS();
  test::TempDir ws;
  // Preflight: refused by what it would run, with the rule; nothing starts.
  ws.write("marker", "");
  auto sudo = test::run_indexer({"exec", "--workspace", ws.path().string(), "--", "sh", "-c", "echo ok && sudo rm marker"});
  CHECK(sudo.exit_code == 126);
  CHECK(sudo.err.find("refused by policy 'workspace'") != std::string::npos);
  CHECK(sudo.err.find("sudo") != std::string::npos);
  CHECK(sudo.out.empty());
  // An origin on the host's loopback, which only the proxy can reach from inside.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  REQUIRE(::listen(listener, 8) == 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  std::atomic<int> served{0};
  std::thread origin([&] {
    for (int k = 0; k < 2; ++k) {
      pollfd p{listener, POLLIN, 0};
      if (::poll(&p, 1, 20000) <= 0) return;
      int c = ::accept(listener, nullptr, nullptr);
      if (c < 0) return;
      char buf[4096];
      std::string head;
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, size_t(n));
      }
      std::string answer = "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nfrom origin\n";
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
      ++served;
    }
  });
  ws.write("net.json", R"({"name": "net", "network": {"enabled": true, "allow_http": true, "allow_localhost": true,
                           "allowed_domains": ["127.0.0.1:)" + port + R"("]}})");
  auto fetched = test::run_indexer({"exec", "--policy", (ws.path() / "net.json").string(), "--workspace", ws.path().string(),
                                    "--", "curl", "-s", "-S", "http://127.0.0.1:" + port + "/x"});
  CHECK(fetched.exit_code == 0);
  CHECK(fetched.out == "from origin\n");
  // A host the list does not name: the proxy answers 403 with the rule before resolving it.
  auto other = test::run_indexer({"exec", "--policy", (ws.path() / "net.json").string(), "--workspace", ws.path().string(),
                                  "--verbose", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://example.invalid/x"});
  CHECK(other.out == "403");
  CHECK(other.err.find("network: example.invalid:80 refused (example.invalid:80 is not in network.allowed_domains)") != std::string::npos);
  // Without the network, curl reaches nothing at all.
  auto off = test::run_indexer({"exec", "--workspace", ws.path().string(), "--", "curl", "-s", "-S", "--max-time", "5",
                                "http://127.0.0.1:" + port + "/x"});
  CHECK(off.exit_code != 0);
  CHECK(off.out.empty());
  ::shutdown(listener, SHUT_RDWR);
  origin.join();
  ::close(listener);
  CHECK(served == 1);
}

namespace {

// `indexer exec ARGS` in a real environment without user namespaces: a child that enters a user
// namespace of its own (root mapped to root) and sets max_user_namespaces to 0 there (the limit is
// per user namespace), then execs the indexer, which probes afresh and finds none.
test::RunResult exec_without_userns(const std::vector<std::string>& args) {
  return test::run_indexer(args, std::filesystem::current_path(), [] {
    std::string uid = "0 " + std::to_string(::geteuid()) + " 1\n", gid = "0 " + std::to_string(::getegid()) + " 1\n";
    if (::unshare(CLONE_NEWUSER) != 0) _exit(121);
    auto put = [](const char* path, const std::string& text) {
      int fd = ::open(path, O_WRONLY);
      bool ok = fd >= 0 && ::write(fd, text.data(), text.size()) == ssize_t(text.size());
      if (fd >= 0) ::close(fd);
      return ok;
    };
    if (::geteuid() != 0) (void)put("/proc/self/setgroups", "deny");
    if (!put("/proc/self/uid_map", uid) || !put("/proc/self/gid_map", gid)) _exit(122);
    if (!put("/proc/sys/user/max_user_namespaces", "0\n")) _exit(123);
    ::setenv("INDEXER_TEST_SECRET", "s3cret", 1);
  });
}

}  // namespace

TEST_CASE("sandbox: without user namespaces, Required refuses with the reason and BestEffort runs weaker and says so",
          "[sandbox]") {
  NEED_USERNS();  // to take them away below
  test::TempDir ws;
  auto probe = exec_without_userns({"exec", "--probe"});
  INFO(probe.out << probe.err);
  REQUIRE(probe.exit_code == 0);
  CHECK(probe.out.starts_with("user namespaces: no;"));

  // Required (the presets' default): refused before anything runs, exit 126, the reason on stderr.
  ws.write("marker", "");
  auto required = exec_without_userns({"exec", "--workspace", ws.path().string(), "--", "rm", ws.path().string() + "/marker"});
  INFO(required.err);
  CHECK(required.exit_code == 126);
  CHECK(required.err ==
        "indexer exec: refused: this kernel does not allow user namespaces, and the policy requires isolation\n");
  CHECK(std::filesystem::exists(ws.path() / "marker"));

  // BestEffort: the command runs, with what still applies (no capabilities, no_new_privs, seccomp,
  // the scrubbed environment) and each missing layer named under weakened; none claimed.
  ws.write("be.json", R"({"name": "be", "isolation": "best_effort"})");
  auto best = exec_without_userns({"exec", "--verbose", "--policy", (ws.path() / "be.json").string(), "--workspace",
                                   ws.path().string(), "--", "sh", "-c",
                                   "echo \"ran:$INDEXER_TEST_SECRET\"; grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status"});
  INFO(best.err);
  CHECK(best.exit_code == 0);
  CHECK(best.out == "ran:\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
  CHECK(best.err.find("weakened: namespaces: this kernel does not allow user namespaces; the host's filesystem, "
                      "network and processes are visible") != std::string::npos);
  CHECK(best.err.find("weakened: landlock: not applied without the run's own mount namespace") != std::string::npos);
  CHECK(best.err.find("weakened: processes: not bounded") != std::string::npos);
  const auto layers_at = best.err.find("indexer exec: layers: ");
  REQUIRE(layers_at != std::string::npos);
  const std::string layers = best.err.substr(layers_at, best.err.find('\n', layers_at) - layers_at);
  CHECK(layers.find("namespace") == std::string::npos);
  CHECK(layers.find("landlock") == std::string::npos);
  CHECK(layers.find("seccomp filter") != std::string::npos);
  CHECK(layers.find("capabilities dropped") != std::string::npos);
}
