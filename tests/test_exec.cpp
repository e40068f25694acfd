// The execution service (exec/exec.h) through real sandboxed processes and a real SQLite file: a
// dead server's jobs recovered, a store of another format refused, output streamed whole and
// bounded, round robin between clients, cancel while queued and while running.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "exec/exec.h"
#include "exec/store.h"
#include "helpers.h"
#include "sandbox/sandbox.h"

namespace fs = std::filesystem;
using test::TempDir;

namespace {

exec::Settings settings_for(const fs::path& root, unsigned workers = 1) {
  exec::Settings s;
  s.root = root;
  s.workers = workers;
  s.policy = *sandbox::preset("workspace");
  return s;
}

std::unique_ptr<exec::Service> started(exec::Settings s) {
  auto svc = exec::Service::start(std::move(s));
  REQUIRE(svc);
  return std::move(*svc);
}

// Submits and waits for the result.
struct Waited {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<exec::JobResult> done;
  exec::Hooks hooks() {
    exec::Hooks h;
    h.done = [this](const exec::JobResult& r) {
      std::lock_guard lock(mu);
      done.push_back(r);
      cv.notify_all();
    };
    return h;
  }
  void wait_for(size_t n) {
    std::unique_lock lock(mu);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return done.size() >= n; }));
  }
};

exec::Request bash(std::string id, std::string src, std::string client = "") {
  exec::Request r;
  r.id = std::move(id), r.language = exec::find_language("bash"), r.source = std::move(src), r.client = std::move(client);
  return r;
}

}  // namespace

TEST_CASE("exec: a job a dead server left running reads internal_error; finished ones stay", "[exec]") {
  TempDir dir;
  {
    auto store = exec::Store::open(dir.path());
    REQUIRE(store);
    REQUIRE((*store)->add("ran", "bash", 1));
    exec::JobResult r;
    // Finished now: rows past the retention time (a day by default) are deleted at start.
    r.id = "ran", r.status = exec::Status::Completed, r.out = "kept\n";
    r.finished_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    (*store)->finish(r);
    REQUIRE((*store)->add("mid", "python", 1));
    (*store)->running("mid");
    REQUIRE((*store)->add("waiting", "c", 1));
    CHECK_FALSE((*store)->add("waiting", "c", 1));  // a duplicate id
  }  // closed as a killed server leaves it: nothing more written
  auto svc = started(settings_for(dir.path()));
  auto mid = svc->result("mid");
  REQUIRE(mid);
  CHECK(mid->status == exec::Status::InternalError);
  CHECK(mid->message.find("stopped while the job ran") != std::string::npos);
  CHECK(svc->result("waiting")->message.find("before the job ran") != std::string::npos);
  CHECK(svc->result("ran")->out == "kept\n");
  CHECK(svc->submit(bash("ran", "true")).refused == exec::Service::Refused::Invalid);
}

TEST_CASE("exec: a store of another format version is refused and results stay in memory", "[exec]") {
  TempDir dir;
  fs::create_directories(dir.path() / ".indexer");
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((dir.path() / ".indexer" / "exec.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "PRAGMA user_version=7", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto svc = started(settings_for(dir.path()));
  CHECK(svc->store_warning().find("format version 7, this server reads version 1") != std::string::npos);
  Waited w;
  REQUIRE(svc->submit(bash("x", "echo in memory"), w.hooks()).refused == exec::Service::Refused::No);
  w.wait_for(1);
  CHECK(svc->result("x")->out == "in memory\n");
}

TEST_CASE("exec: a link at .indexer is never followed", "[exec]") {
  TempDir dir, elsewhere;
  fs::create_directory_symlink(elsewhere.path(), dir.path() / ".indexer");
  auto svc = started(settings_for(dir.path()));
  CHECK(svc->store_warning().find("symlink") != std::string::npos);
  CHECK_FALSE(fs::exists(elsewhere.path() / "exec.db"));
}

TEST_CASE("exec: output is streamed in order, never split inside a UTF-8 sequence, and bounded", "[exec]") {
  TempDir dir;
  auto svc = started(settings_for(dir.path()));
  std::mutex mu;
  std::vector<std::string> chunks;
  Waited w;
  exec::Hooks hooks = w.hooks();
  hooks.output = [&](int stream, std::string_view data) {
    std::lock_guard lock(mu);
    if (stream == 1) chunks.emplace_back(data);
  };
  // "é" is written a byte at a time with a pause between: two reads of the pipe.
  exec::Request r = bash("utf8", "printf 'a\\303'; sleep 0.2; printf '\\251b\\n'");
  REQUIRE(svc->submit(std::move(r), hooks).refused == exec::Service::Refused::No);
  w.wait_for(1);
  std::string joined;
  for (const auto& c : chunks) {
    CHECK((c.empty() || (static_cast<unsigned char>(c.back()) & 0xC0) != 0xC0));  // no lead byte last
    joined += c;
  }
  CHECK(joined == "a\xc3\xa9" "b\n");
  CHECK(chunks.size() >= 2);
  CHECK(w.done[0].out == joined);

  // A flood is killed at the limit, and no more than the limit is passed on.
  size_t streamed = 0;
  exec::Hooks flood = w.hooks();
  flood.output = [&](int, std::string_view data) { streamed += data.size(); };
  REQUIRE(svc->submit(bash("flood", "yes 'é flood'"), flood).refused == exec::Service::Refused::No);
  w.wait_for(2);
  CHECK(w.done[1].status == exec::Status::OutputLimit);
  CHECK(streamed <= (1u << 20));
  CHECK(streamed > (1u << 19));
}

TEST_CASE("exec: jobs are taken round robin between clients; cancel while queued and while running", "[exec]") {
  TempDir dir;
  auto s = settings_for(dir.path(), 1);
  s.queue = 4;
  auto svc = started(s);
  Waited w;
  REQUIRE(svc->submit(bash("block", "sleep 30", "Z"), w.hooks()).refused == exec::Service::Refused::No);
  for (int i = 0; i < 200 && svc->result("block")->status != exec::Status::Running; ++i) usleep(10'000);
  REQUIRE(svc->result("block")->status == exec::Status::Running);
  for (const char* id : {"a0", "a1", "a2"}) REQUIRE(svc->submit(bash(id, "true", "A"), w.hooks()).refused == exec::Service::Refused::No);
  REQUIRE(svc->submit(bash("b0", "true", "B"), w.hooks()).refused == exec::Service::Refused::No);
  auto full = svc->submit(bash("over", "true", "C"));
  CHECK(full.refused == exec::Service::Refused::Full);
  CHECK(full.message.find("queue is full") != std::string::npos);
  CHECK(svc->cancel("a2"));  // queued: finished at once
  CHECK(svc->result("a2")->status == exec::Status::Cancelled);
  CHECK(svc->cancel("block"));  // running: killed
  w.wait_for(5);
  std::vector<std::string> order;
  for (const auto& r : w.done) order.push_back(r.id);
  CHECK(order == std::vector<std::string>{"a2", "block", "a0", "b0", "a1"});
  CHECK(w.done[1].status == exec::Status::Cancelled);
  CHECK_FALSE(svc->cancel("a0"));  // finished
  exec::Counters c = svc->counters();
  CHECK(c.finished[size_t(exec::Status::Cancelled)] == 2);
  CHECK(c.finished[size_t(exec::Status::Completed)] == 3);
  CHECK(c.queued == 0);
  CHECK(c.running == 0);
}

TEST_CASE("exec: bad requests are refused with the reason", "[exec]") {
  TempDir dir;
  auto svc = started(settings_for(dir.path()));
  auto refused = [&](exec::Request r) { return svc->submit(std::move(r)).message; };
  exec::Request r = bash("bad id!", "true");
  CHECK(refused(r).find("id:") == 0);
  r = bash("", "true");
  r.cpu_ms = 10'000'000;
  CHECK(refused(r).find("server's maximum") != std::string::npos);
  r = bash("", "true");
  r.files = {{"../x", ""}};
  CHECK(refused(r).find("files:") == 0);
  exec::Request cmd;
  cmd.command = "sudo id";
  CHECK(refused(cmd).find("refused by policy") != std::string::npos);
  CHECK(exec::find_language(71)->name == "python");
  CHECK(exec::find_language("node")->name == "javascript");
  CHECK(exec::find_language("cobol") == nullptr);
}

TEST_CASE("exec: results are kept for the retention time, then deleted", "[exec]") {
  TempDir dir;
  {
    auto s = settings_for(dir.path());
    auto svc = started(s);
    Waited w;
    REQUIRE(svc->submit(bash("old", "echo old"), w.hooks()).refused == exec::Service::Refused::No);
    w.wait_for(1);
  }
  {
    auto svc = started(settings_for(dir.path()));  // a day's retention: still there
    REQUIRE(svc->result("old"));
    CHECK(svc->result("old")->out == "old\n");
  }
  usleep(1'100'000);
  auto s = settings_for(dir.path());
  s.retention = std::chrono::seconds(1);
  auto svc = started(s);
  CHECK_FALSE(svc->result("old"));
}

TEST_CASE("exec: runs and compiles come from warm templates, each job in its own workspace; strict jobs run cold", "[exec]") {
  if (::geteuid() != 0 || !sandbox::probe().user_namespaces) {
    WARN("warm templates with per-run workspaces need root and user namespaces: every job runs cold here");
    return;
  }
  TempDir dir;
  auto svc = started(settings_for(dir.path(), 2));
  Waited w;
  // Each job writes into its workspace and /tmp, then lists the directory the workspaces are made
  // in: only its own is there, and nothing another job left in /tmp.
  for (int i = 0; i < 6; ++i) {
    exec::Request r = bash("iso" + std::to_string(i), "echo mine > here; echo x > /tmp/left-" + std::to_string(i) +
                                                        "; ls ..; ls /tmp | grep -c left-; basename $PWD | cut -c1-4");
    REQUIRE(svc->submit(std::move(r), w.hooks()).refused == exec::Service::Refused::No);
  }
  w.wait_for(6);
  for (const auto& r : w.done) {
    INFO(r.id << ": " << r.message << "\n" << r.out << r.err);
    CHECK(r.status == exec::Status::Completed);
    const std::string job = r.out.substr(0, r.out.find('\n'));
    CHECK(r.out == job + "\n1\njob-\n");
  }
  // A compiled language: the compile and the runs, warm, the cache hit the second time; limits per job.
  exec::Request c;
  c.id = "c1", c.language = exec::find_language("c");
  if (!c.language || c.language->version.empty()) {
    WARN("no C compiler here");
    return;
  }
  c.source = "#include <stdio.h>\n#include <sys/resource.h>\nint main(void){struct rlimit r; getrlimit(RLIMIT_CPU,&r); printf(\"cpu %ld\\n\",(long)r.rlim_cur); return 0;}\n";
  exec::Request c2 = c;
  c2.id = "c2", c2.cpu_ms = 2'000;
  REQUIRE(svc->submit(std::move(c), w.hooks()).refused == exec::Service::Refused::No);
  w.wait_for(7);
  REQUIRE(svc->submit(std::move(c2), w.hooks()).refused == exec::Service::Refused::No);
  w.wait_for(8);
  CHECK(w.done[6].out == "cpu 5\n");  // the service's default, 5 s
  CHECK(w.done[7].out == "cpu 2\n");
  exec::Counters k = svc->counters();
  CHECK(k.cache_hits == 1);
  CHECK(k.warm_runs == 6 + 3);  // six scripts, one compile, two runs
  CHECK(k.cold_runs == 0);
  // A strict job on a workspace-policy server: another policy, run cold.
  exec::Request strict = bash("strict", "echo strict");
  strict.strict = true;
  REQUIRE(svc->submit(std::move(strict), w.hooks()).refused == exec::Service::Refused::No);
  w.wait_for(9);
  CHECK(w.done[8].out == "strict\n");
  CHECK(svc->counters().cold_runs == 1);
  CHECK(svc->counters().warm_runs == 9);
}
