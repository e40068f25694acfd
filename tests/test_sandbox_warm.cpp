// Warm templates (sandbox.h: Template) through real processes: a run forked from a template's
// zygote behaves as a cold run does, and leaves nothing the next run of the same template can see.
// No timings asserted.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "helpers.h"
#include "sandbox_helpers.h"
#include "sandbox/proxy.h"
#include "sandbox/sandbox.h"

namespace {

using sandbox::Outcome;
using K = sandbox::Outcome::Kind;

using test::workspace_policy;

std::unique_ptr<sandbox::Template> make_template(const test::TempDir& ws, const sandbox::Policy& p = workspace_policy(),
                                                 sandbox::Template::Options o = {}) {
  sandbox::Command base;
  base.workspace = ws.path().string();
  auto t = sandbox::Template::create(p, base, o);
  INFO((t ? std::string() : t.error()));
  REQUIRE(t.ok());
  return std::move(*t);
}

Outcome sh(sandbox::Template& t, const std::string& script, std::vector<std::string> env = {}) {
  sandbox::Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.env = std::move(env);
  return test::ran(t.run(c));
}

}  // namespace

TEST_CASE("warm template: a run behaves as a cold run (status, output, stdin, layers)", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  ws.write("hello.txt", "hi\n");
  auto t = make_template(ws);
  auto r = sh(*t, "cat hello.txt; echo err >&2; pwd; id -u; exit 3");
  INFO(r.reason);
  CHECK(r.kind == K::Exited);
  CHECK(r.code == 3);
  CHECK(r.out == "hi\n" + ws.path().string() + "\n0\n");
  CHECK(r.err == "err\n");
  CHECK(std::find(r.layers.begin(), r.layers.end(), "seccomp filter") != r.layers.end());
  if (sandbox::probe().landlock_abi > 0)  // built by the spare ahead of the run (warm.cpp)
    CHECK(std::find_if(r.layers.begin(), r.layers.end(), [](const std::string& l) { return l.starts_with("landlock (ABI "); }) !=
          r.layers.end());
  CHECK(std::find_if(r.layers.begin(), r.layers.end(), [](const std::string& l) { return l.starts_with("warm template"); }) !=
        r.layers.end());
  CHECK(t->zygotes_started() == 1);
  auto again = sh(*t, "echo again");
  CHECK(again.out == "again\n");
  CHECK(t->zygotes_started() == 1);
}

TEST_CASE("warm template: what a run leaves behind, the next run of the template cannot see", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.open_files = 512;
  auto t = make_template(ws, p);
  // Run 1: writes /tmp and every place outside the workspace it can reach, makes a SysV shared memory
  // segment and a message queue (they outlive processes in an ipc namespace), changes its cwd,
  // environment, umask and rlimits, and leaves a daemon that ticks into the workspace.
  auto first = sh(*t,
                  "echo secret > /tmp/left; mkdir /tmp/dir; echo x > /dev/shm/shm-left;"
                  "for f in /left /dev/left /run/left /etc/left /proc/left /usr/left; do"
                  "  (echo x > $f) 2>/dev/null && echo \"wrote $f\"; done;"
                  "ipcmk -M 4096 >/dev/null && ipcmk -Q >/dev/null && echo ipc-made;"
                  "cd /tmp; export LEFT=1; umask 077; ulimit -n 64;"
                  "setsid sh -c 'while :; do echo tick >> " + ws.path().string() + "/ticks; sleep 0.02; done' </dev/null >/dev/null 2>&1 &"
                  "sleep 0.2; echo done",
                  {"FIRST=1"});
  CHECK(first.kind == K::Exited);
  CHECK(first.out == "ipc-made\ndone\n");  // nothing outside /tmp and the workspace was writable
  // The daemon is gone with the run: the workspace file stops growing.
  auto size = [&] { return std::filesystem::file_size(ws.path() / "ticks"); };
  REQUIRE(std::filesystem::exists(ws.path() / "ticks"));
  auto before = size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(size() == before);

  // Run 2, same template (the same zygote): none of it.
  auto second = sh(*t,
                   "ls -A /tmp; ls /dev/shm/ 2>&1; ls /left /dev/left /run/left 2>/dev/null; pwd; echo \"env:$LEFT$FIRST\";"
                   "umask; ulimit -n; ipcs -m | grep -c '^0x' ; ipcs -q | grep -c '^0x'; ps -e -o pid=,comm= | sort -n");
  CHECK(second.kind == K::Exited);
  CHECK(t->zygotes_started() == 1);
  // /tmp holds nothing but the workspace's mount point (the test's workspace is under the host's /tmp).
  const std::string name = ws.path().filename().string();
  CHECK(second.out.starts_with(name + "\n" + name + "\n" + ws.path().string() + "\nenv:\n0022\n512\n0\n0\n      1 "));
  CHECK(second.out.find("\n      2 sh\n") != std::string::npos);
  CHECK(second.out.find("left") == std::string::npos);
  CHECK(second.out.find("tick") == std::string::npos);
  // Processes: only this run's shell (pid 1 is the run's init, pid 2 the command) and ps itself.
  CHECK(second.out.find("ps\n") != std::string::npos);
}

TEST_CASE("warm template: concurrent runs each see only their own /tmp and processes", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  auto t = make_template(ws);
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::vector<std::string> why;
  std::vector<std::thread> pool;
  for (int i = 0; i < 8; ++i)
    pool.emplace_back([&, i] {
      for (int j = 0; j < 4; ++j) {
        sandbox::Command c;
        std::string me = std::to_string(i) + "-" + std::to_string(j);
        // pid 1, the shell and ls: nothing of the other runs.
        c.argv = {"/bin/sh", "-c", "echo " + me + " > /tmp/mine; sleep 0.05; ls /tmp | grep -v indexer-test; cat /tmp/mine; ls /proc > /tmp/procs; grep -c '^[0-9]' /tmp/procs"};
        auto r = t->run(c);
        if (r && r->kind == K::Exited && r->code == 0 && r->out == "mine\n" + me + "\n3\n") {
          ok++;
        } else {
          failed++;
          std::lock_guard lock(mu);
          why.push_back(r ? r->reason + ": " + r->out + r->err : r.error());
        }
      }
    });
  for (auto& th : pool) th.join();
  CHECK(why == std::vector<std::string>{});
  CHECK(failed == 0);
  CHECK(ok == 32);
  CHECK(t->zygotes_started() == 1);
}

TEST_CASE("warm template: a zygote that died is started again, an idle one exits, the Template takes its own", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  sandbox::Template::Options o;
  o.idle_timeout_ms = 300;
  auto t = make_template(ws, workspace_policy(), o);
  CHECK(t->zygote_pid() == -1);  // started by the first run
  CHECK(sh(*t, "echo one").out == "one\n");
  int first = t->zygote_pid();
  REQUIRE(first > 0);
  // Killed from outside: the next run starts another, transparently.
  REQUIRE(::kill(first, SIGKILL) == 0);
  // Its death is seen once its pid namespace is gone (spares included); a run started before that is
  // one whose zygote died under it (refused, not run again), which is not what this checks.
  for (int i = 0; i < 1000 && t->zygote_pid() != -1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(sh(*t, "echo two").out == "two\n");
  CHECK(t->zygotes_started() == 2);
  int second = t->zygote_pid();
  CHECK((second > 0 && second != first));
  // Idle past its timeout: it exits by itself; the next run starts another.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (t->zygote_pid() != -1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(t->zygote_pid() == -1);
  CHECK(sh(*t, "echo three").out == "three\n");
  CHECK(t->zygotes_started() == 3);
  // The Template gone: its zygote is killed and reaped.
  int third = t->zygote_pid();
  REQUIRE(third > 0);
  t.reset();
  CHECK(::kill(third, 0) != 0);
}

TEST_CASE("warm template: the wall clock kills a run's tree, and the template serves the next run", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.wall_ms = 500;
  auto t = make_template(ws, p);
  auto r = sh(*t, "trap '' TERM; (trap '' TERM; sleep 100) & sleep 100");
  CHECK(r.kind == K::Timeout);
  CHECK(r.reason == "killed: wall clock of 500 ms exceeded");
  auto next = sh(*t, "ps -e -o comm= | grep -c sleep");
  CHECK(next.out == "0\n");
  CHECK(t->zygotes_started() == 1);
}

TEST_CASE("warm template: a workspace elsewhere is refused, a refused command is reported as cold runs report it", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws, other;
  auto t = make_template(ws);
  sandbox::Command c;
  c.argv = {"/bin/true"};
  c.workspace = other.path().string();
  auto r = t->run(c);
  REQUIRE(!r);
  CHECK(r.error().find("the template's workspace is") == 0);
  c.workspace.clear();
  c.argv = {"no-such-command-here"};
  auto missing = t->run(c);
  REQUIRE(missing.ok());
  CHECK(missing->code == 127);
  CHECK(missing->reason == "cannot run no-such-command-here: command not found");
}

TEST_CASE("warm template and pooled cgroups: a run killed by a limit leaves the next run its whole budget", "[sandbox][warm]") {
  NEED_USERNS();
  if (::geteuid() != 0 || !sandbox::probe().cgroup_v1_memory || !sandbox::probe().cgroup_v1_pids) {
    WARN("cgroups need root and the v1 memory and pids hierarchies; the pool is not exercised here");
    return;
  }
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.memory_bytes = 256u << 20;
  p.limits.processes = 32;
  auto t = make_template(ws, p);
  sandbox::Command c;
  c.workspace = ws.path().string();
  // Cold and warm take their groups from the same pool: each pair below reuses a group, reset.
  for (bool warm : {false, true}) {
    INFO((warm ? "warm" : "cold"));
    auto run = [&](const std::string& script) {
      c.argv = {"/bin/sh", "-c", script};
      auto r = warm ? t->run(c) : sandbox::run(p, c);
      REQUIRE(r.ok());
      return *r;
    };
    auto oom = run("python3 -c 'b = bytearray(1 << 30)'");
    CHECK(oom.kind == K::Memory);
    auto after = run("python3 -c 'b = bytearray(64 << 20); print(\"ok\")'");
    CHECK(after.kind == K::Exited);  // the OOM count was taken as the new zero
    CHECK(after.out == "ok\n");
    // A fork bomb stopped by pids.max, then 20 processes at once in the same group.
    auto bomb = run("for i in $(seq 64); do sleep 5 & done 2>/dev/null; wait");
    CHECK(bomb.kind == K::Exited);
    auto twenty = run("for i in $(seq 20); do sleep 0.2 & done; wait && echo all");
    CHECK(twenty.out == "all\n");
  }
}

TEST_CASE("warm template with a proxy socket: each run has its own relay, concurrent runs reach the origin", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws, dir;
  // An origin on the host's loopback, answering every connection.
  int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  std::atomic<int> served{0};
  std::thread origin([&] {
    for (int c; (c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
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
  sandbox::Proxy::Options po;
  po.socket_path = (dir.path() / "proxy.sock").string();
  po.allow_loopback = true;
  po.decide = [](std::string_view, uint16_t, bool) { return sandbox::Decision{true, "allowed"}; };
  auto proxy = sandbox::Proxy::start(std::move(po));
  REQUIRE(proxy.ok());
  auto p = workspace_policy();
  p.network.enabled = true;
  sandbox::Command base;
  base.workspace = ws.path().string();
  base.proxy_socket = (dir.path() / "proxy.sock").string();
  auto t = sandbox::Template::create(p, base);
  REQUIRE(t.ok());
  std::vector<std::thread> pool;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i)
    pool.emplace_back([&] {
      for (int j = 0; j < 2; ++j) {
        sandbox::Command c;
        c.argv = {"curl", "-s", "-S", "--max-time", "20", "http://127.0.0.1:" + port + "/x"};
        auto r = (*t)->run(c);
        if (r && r->kind == K::Exited && r->code == 0 && r->out == "from origin\n") ok++;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(ok == 8);
  CHECK(served == 8);
  CHECK((*t)->zygotes_started() == 1);
  ::shutdown(listener, SHUT_RDWR);
  origin.join();
  ::close(listener);
}

// ---- Per-run workspaces and limits (Template::Options::workspaces, run(command, limits)) ----

// Per-run workspaces need root (open_tree): elsewhere these cases say so and stop.
#define NEED_PER_RUN_WORKSPACES()                                          \
  NEED_USERNS();                                                           \
  if (::geteuid() != 0) {                                                  \
    WARN("per-run workspaces need root (open_tree); not exercised here"); \
    return;                                                                \
  }

namespace {

std::unique_ptr<sandbox::Template> per_run_template(const test::TempDir& root, const sandbox::Policy& p = workspace_policy(),
                                                    unsigned spares = 1) {
  sandbox::Template::Options o;
  o.spares = spares;
  o.workspaces = std::filesystem::canonical(root.path()).string();
  auto t = sandbox::Template::create(p, {}, o);
  INFO((t ? std::string() : t.error()));
  REQUIRE(t.ok());
  return std::move(*t);
}

Outcome sh_in(sandbox::Template& t, const std::filesystem::path& ws, const std::string& script) {
  sandbox::Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.workspace = ws.string();
  return test::ran(t.run(c));
}

}  // namespace

TEST_CASE("warm template, per-run workspaces: a run sees its own workspace only, and none of another run's leftovers", "[sandbox][warm]") {
  NEED_PER_RUN_WORKSPACES();
  test::TempDir root;
  const auto base = std::filesystem::canonical(root.path());
  root.write("a/a.txt", "A\n");
  root.write("b/b.txt", "B\n");
  root.write("other.txt", "not for runs\n");
  auto t = per_run_template(root);
  // Run 1 in a: reads its file, lists the directory the workspaces live in (only its own is there),
  // writes into its workspace and /tmp, leaves a daemon.
  auto first = sh_in(*t, base / "a",
                     "cat a.txt; pwd; ls " + base.string() + "; echo made > new.txt; echo left > /tmp/left;"
                     "setsid sh -c 'sleep 30' </dev/null >/dev/null 2>&1 & echo ok");
  CHECK(first.kind == K::Exited);
  CHECK(first.out == "A\n" + (base / "a").string() + "\na\nok\n");
  CHECK(std::filesystem::exists(base / "a" / "new.txt"));
  struct stat st{};
  REQUIRE(::stat((base / "a" / "new.txt").c_str(), &st) == 0);
  CHECK(st.st_uid == ::geteuid());  // idmapped: what the run wrote is ours on disk
  // Run 2 in b, same zygote: neither a's workspace, nor the directory's other files, nor /tmp/left,
  // nor the daemon.
  auto second = sh_in(*t, base / "b",
                      "pwd; ls " + base.string() + "; cat b.txt; cat ../a/a.txt ../other.txt 2>&1 | sed 's/.*: //';"
                      "ls -A /tmp | grep -c left; ps -e -o comm= | grep -c sleep");
  CHECK(second.kind == K::Exited);
  CHECK(second.out == (base / "b").string() + "\nb\nB\nNo such file or directory\nNo such file or directory\n0\n0\n");
  CHECK(t->zygotes_started() == 1);
  // And back in a: its own file, still.
  CHECK(sh_in(*t, base / "a", "cat new.txt").out == "made\n");
}

TEST_CASE("warm template, per-run workspaces: concurrent runs each see their own workspace", "[sandbox][warm]") {
  NEED_PER_RUN_WORKSPACES();
  test::TempDir root;
  const auto base = std::filesystem::canonical(root.path());
  auto t = per_run_template(root, workspace_policy(), 3);  // three spares kept ready
  std::mutex mu;
  std::vector<std::string> why;
  std::vector<std::thread> pool;
  for (int i = 0; i < 6; ++i)
    pool.emplace_back([&, i] {
      for (int j = 0; j < 3; ++j) {
        std::string me = "job-" + std::to_string(i) + "-" + std::to_string(j);
        std::filesystem::create_directory(base / me);
        sandbox::Command c;
        c.argv = {"/bin/sh", "-c", "echo " + me + " > mine; sleep 0.02; ls " + base.string() + "; cat mine"};
        c.workspace = (base / me).string();
        auto r = t->run(c);
        if (!r || r->kind != K::Exited || r->out != me + "\n" + me + "\n") {
          std::lock_guard lock(mu);
          why.push_back(r ? r->reason + ": " + r->out + r->err : r.error());
        }
      }
    });
  for (auto& th : pool) th.join();
  CHECK(why == std::vector<std::string>{});
  CHECK(t->zygotes_started() == 1);
}

TEST_CASE("warm template, per-run workspaces: paths that would escape are refused before anything runs", "[sandbox][warm]") {
  NEED_PER_RUN_WORKSPACES();
  test::TempDir root, outside;
  const std::filesystem::path base = std::filesystem::canonical(root.path());
  std::filesystem::create_directories(base / "ok" / "inner");
  std::filesystem::create_directory_symlink(outside.path(), base / "link");
  std::filesystem::create_directory_symlink(base / "ok", base / "link-in");
  auto t = per_run_template(root);
  auto refused = [&](const std::string& ws) {
    sandbox::Command c;
    c.argv = {"/bin/true"};
    c.workspace = ws;
    auto r = t->run(c);
    INFO(ws);
    REQUIRE(!r);
    return r.error();
  };
  CHECK(refused(outside.path().string()).find("is not beneath the template's workspaces directory") != std::string::npos);
  CHECK(refused(base.string()).find("is not beneath") != std::string::npos);
  CHECK(refused((base / "ok" / ".." / ".." / "x").string()).find("plain components") != std::string::npos);
  CHECK(refused(base.string() + "//ok").find("plain components") != std::string::npos);
  CHECK(refused((base / "link").string()).find("a symlink on the way (not followed)") != std::string::npos);
  CHECK(refused((base / "link-in" / "inner").string()).find("a symlink on the way") != std::string::npos);
  CHECK(refused((base / "missing").string()).find("No such file") != std::string::npos);
  sandbox::Command none;
  none.argv = {"/bin/true"};
  CHECK(t->run(none).error() == "the run's workspace is missing (the template takes one per run)");
  // A workspace beneath another workspace is a workspace too: it sees only itself.
  CHECK(sh_in(*t, base / "ok" / "inner", "pwd; ls ..").out == (base / "ok" / "inner").string() + "\ninner\n");
  // Making such a template: the directory must be canonical, and the template has no workspace of its own.
  sandbox::Template::Options o;
  o.workspaces = (base / "link").string();
  CHECK(!sandbox::Template::create(workspace_policy(), {}, o));
  o.workspaces = base.string() + "/ok/..";
  CHECK(!sandbox::Template::create(workspace_policy(), {}, o));
  o.workspaces = base.string();
  sandbox::Command with_ws;
  with_ws.workspace = outside.path().string();
  CHECK(!sandbox::Template::create(workspace_policy(), with_ws, o));
}

TEST_CASE("warm template, per-run workspaces: protected metadata stays read-only, a strict policy's workspace too", "[sandbox][warm]") {
  NEED_PER_RUN_WORKSPACES();
  test::TempDir root;
  const auto base = std::filesystem::canonical(root.path());
  root.write("g/.git/hooks/pre-commit", "#!/bin/sh\n");
  root.write("g/.git/config", "[core]\n");
  root.write("s/file", "x\n");
  auto t = per_run_template(root);
  auto g = sh_in(*t, base / "g",
                 "echo evil > .git/hooks/pre-commit 2>/dev/null || echo hooks-ro; echo x >> .git/config 2>/dev/null || echo config-ro;"
                 "echo fine > mine && echo ws-rw");
  CHECK(g.out == "hooks-ro\nconfig-ro\nws-rw\n");
  auto strict = sandbox::preset("strict");
  REQUIRE(strict.ok());
  auto ts = per_run_template(root, *strict);
  auto s = sh_in(*ts, base / "s", "cat file; echo y > file 2>/dev/null || echo ro");
  CHECK(s.out == "x\nro\n");
}

TEST_CASE("warm template: limits per run (rlimits, wall clock, memory cgroup), each run its own", "[sandbox][warm]") {
  NEED_USERNS();
  test::TempDir ws;
  auto p = workspace_policy();
  p.limits.open_files = 512;
  auto t = make_template(ws, p);
  sandbox::Command c;
  c.argv = {"/bin/sh", "-c", "ulimit -n; ulimit -t"};
  sandbox::Limits small = p.limits;
  small.open_files = 100;
  small.cpu_ms = 3'000;
  CHECK(test::ran(t->run(c, small)).out == "100\n3\n");
  CHECK(test::ran(t->run(c)).out == "512\n60\n");  // the policy's, again
  sandbox::Limits quick = p.limits;
  quick.wall_ms = 300;
  c.argv = {"/bin/sh", "-c", "sleep 20"};
  auto slow = test::ran(t->run(c, quick));
  CHECK(slow.kind == K::Timeout);
  CHECK(slow.reason == "killed: wall clock of 300 ms exceeded");
  sandbox::Limits zero = p.limits;
  zero.processes = 0;
  CHECK(!t->run(c, zero));
  CHECK(t->zygotes_started() == 1);
  if (::geteuid() != 0 || !sandbox::probe().cgroup_v1_memory) {
    WARN("the memory cgroup needs root and cgroup v1 memory");
    return;
  }
  sandbox::Limits tight = p.limits;
  tight.memory_bytes = 64u << 20;
  c.argv = {"python3", "-c", "b = bytearray(160 << 20); print('ok')"};
  CHECK(test::ran(t->run(c, tight)).kind == K::Memory);
  sandbox::Limits roomy = p.limits;
  roomy.memory_bytes = 512u << 20;
  CHECK(test::ran(t->run(c, roomy)).out == "ok\n");
}

TEST_CASE("warm template, per-run workspaces outside /tmp: the directory is the run's own there too", "[sandbox][warm]") {
  NEED_PER_RUN_WORKSPACES();
  // /var/tmp is not bound by the workspace preset: the template makes the mount point in its root,
  // and each spare mounts its own tmpfs over it (under /tmp, the spare's fresh /tmp holds it).
  char tmpl[] = "/var/tmp/indexer-test-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    WARN("no writable /var/tmp here");
    return;
  }
  const std::filesystem::path base = tmpl;
  struct Remove {
    std::filesystem::path p;
    ~Remove() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } remove{base};
  std::filesystem::create_directories(base / "one");
  std::filesystem::create_directories(base / "two");
  { std::ofstream(base / "secret.txt") << "no\n"; }
  sandbox::Template::Options o;
  o.workspaces = base.string();
  auto made = sandbox::Template::create(workspace_policy(), {}, o);
  REQUIRE(made.ok());
  auto& t = **made;
  auto one = sh_in(t, base / "one", "echo 1 > f; ls " + base.string() + "; ls /var/tmp | grep -c indexer-test");
  CHECK(one.out == "one\n1\n");
  auto two = sh_in(t, base / "two", "ls " + base.string() + "; cat ../one/f ../secret.txt 2>&1 | sed 's/.*: //'; touch ../mine 2>&1 | sed 's/.*: //'");
  CHECK(two.out == "two\nNo such file or directory\nNo such file or directory\nPermission denied\n");
  CHECK(!std::filesystem::exists(base / "mine"));
  CHECK(t.zygotes_started() == 1);
}
