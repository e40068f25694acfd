// Compaction handles outlive the process (server/elided.h): a real server compacts, is stopped and
// started again, and expands every handle byte for byte from <root>/.indexer/elided/; the CLI does
// the same in-process across runs; a link planted at .indexer/elided is never written through.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "compress/compact.h"
#include "helpers.h"

using nlohmann::json;

namespace {

namespace fs = std::filesystem;

// `indexer serve ROOT [extra]` in the background, until stop(); started() once server.json is there.
class Server {
 public:
  Server(const fs::path& root, std::vector<std::string> extra = {}) : root_(root), err_(root.parent_path() / (root.filename().string() + ".serve.err")) {
    std::vector<std::string> args = {INDEXER_BINARY, "serve", root.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::fflush(stdout);
    std::fflush(stderr);
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* o = std::freopen("/dev/null", "w", stdout);
      FILE* e = std::freopen(err_.c_str(), "w", stderr);
      (void)o, (void)e;
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Server() { stop(); }
  bool started() const {
    for (int i = 0; i < 600; ++i) {  // a generous bound, only to detect a hang
      if (fs::exists(root_ / ".indexer" / "server.json")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    std::string err = test::read_file(err_);
    fs::remove(err_);
    return err;
  }

 private:
  fs::path root_, err_;
  pid_t pid_ = -1;
};

// A build log long enough to be cut, a file read, and the question.
json conversation(const std::string& tag) {
  std::string log;
  for (int l = 0; l < 2000; ++l) {
    if (l == 1000) log += "src/" + tag + ".c:12: error: 'x' undeclared\n";
    log += "  CC src/" + tag + "_" + std::to_string(l) + ".o in " + std::to_string(l * 37 % 1000) + " ms\n";
  }
  return json::array({{{"role", "system"}, {"content", "You are a coding agent.\n"}},
                      {{"role", "user"}, {"content", "build " + tag + "\n"}},
                      {{"role", "tool"}, {"content", log}},
                      {{"role", "user"}, {"content", "Why does " + tag + " fail?\n"}}});
}

std::vector<compress::Message> messages_of(const json& list) {
  std::vector<compress::Message> out;
  for (const auto& m : list)
    out.push_back({m["role"], m["content"], compress::kind_from_name(m.value("kind", std::string("other"))).value_or(compress::Kind::Other), false, ""});
  return out;
}

// `indexer compact` of `input`, asked of ROOT's server when one runs; the answer as JSON.
json compact(const test::TempDir& scratch, const fs::path& root, const json& input, std::vector<std::string> extra = {}) {
  static int n = 0;
  fs::path file = scratch / ("messages" + std::to_string(n++) + ".json");
  std::ofstream(file) << input.dump();
  std::vector<std::string> args = {"compact", file.string(), root.string(), "--tokens", "300"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = test::run_indexer(args);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out);
}

// Expanding every marker through `indexer expand HANDLE ROOT` gives back the input byte for byte.
bool restores(const json& out, const json& input, const fs::path& root) {
  auto ms = messages_of(out["messages"]);
  compress::Fetch fetch = [&](std::string_view handle) -> std::optional<std::string> {
    auto r = test::run_indexer({"expand", std::string(handle), root.string()});
    if (r.exit_code != 0) return std::nullopt;
    return r.out;
  };
  if (!compress::restore(ms, fetch)) return false;
  auto want = messages_of(input);
  if (ms.size() != want.size()) return false;
  for (size_t i = 0; i < ms.size(); ++i)
    if (ms[i].content != want[i].content) return false;
  return true;
}

size_t files_in(const fs::path& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
  return n;
}

}  // namespace

TEST_CASE("elided: a handle from a server outlives its restart, --no-persist-elided keeps it in memory only", "[context][elided]") {
  test::TempDir scratch;
  test::TempDir t;
  t.write("app/main.py", "def main():\n    return 0\n");
  json input = conversation("alpha");
  json out;
  {
    Server server(t.path());
    REQUIRE(server.started());
    out = compact(scratch, t.path(), input);
    REQUIRE_FALSE(out["manifest"].empty());
    server.stop();
  }
  CHECK_FALSE(fs::exists(t / ".indexer/server.json"));  // stopped: expand below asks the new server
  CHECK(files_in(t / ".indexer/elided") >= out["manifest"].size());
  {
    Server server(t.path());
    REQUIRE(server.started());
    CHECK(restores(out, input, t.path()));
    // Not persisted by a server asked not to: after its restart the handle is unknown (had the CLI
    // answered in-process instead, it would have persisted it, and expand would find it).
    server.stop();
  }
  json other = conversation("beta");
  json gone;
  {
    Server server(t.path(), {"--no-persist-elided"});
    REQUIRE(server.started());
    gone = compact(scratch, t.path(), other);
    CHECK(restores(gone, other, t.path()));  // in memory, while it runs
    server.stop();
  }
  Server server(t.path());
  REQUIRE(server.started());
  std::string handle = gone["manifest"][0]["handle"];
  auto r = test::run_indexer({"expand", handle, t.path().string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("no span with handle " + handle) != std::string::npos);
  CHECK(restores(out, input, t.path()));  // the first one's still there
}

TEST_CASE("elided: the CLI in-process keeps handles for the next run under PATH/.indexer/elided", "[context][elided]") {
  test::TempDir scratch;
  test::TempDir t;
  json input = conversation("gamma");
  json out = compact(scratch, t.path(), input);
  REQUIRE_FALSE(out["manifest"].empty());
  CHECK(files_in(t / ".indexer/elided") >= out["manifest"].size());
  CHECK(restores(out, input, t.path()));  // each expand a new process
  // Asked not to, the next run cannot find them.
  test::TempDir u;
  out = compact(scratch, u.path(), conversation("delta"), {"--no-persist-elided"});
  CHECK_FALSE(fs::exists(u / ".indexer/elided"));
  auto r = test::run_indexer({"expand", out["manifest"][0]["handle"], u.path().string()});
  CHECK(r.exit_code == 1);
}

TEST_CASE("elided: a link planted at .indexer/elided is not followed, spans stay in memory and the server says so", "[context][elided]") {
  test::TempDir scratch, t, victim;
  fs::create_directories(t / ".indexer");
  fs::create_symlink(victim.path(), t / ".indexer/elided");
  json input = conversation("epsilon");
  {
    Server server(t.path());
    REQUIRE(server.started());
    json out = compact(scratch, t.path(), input);
    REQUIRE_FALSE(out["manifest"].empty());
    CHECK(restores(out, input, t.path()));  // from memory
    std::string err = server.stop();
    CHECK(err.find("compaction handles will not outlive this server") != std::string::npos);
    CHECK(err.find(".indexer/elided") != std::string::npos);
  }
  CHECK(files_in(victim.path()) == 0);
  CHECK(fs::is_symlink(t / ".indexer/elided"));
  // In-process too: nothing written there, and expand says why it cannot find a handle.
  json out = compact(scratch, t.path(), conversation("zeta"));
  CHECK(files_in(victim.path()) == 0);
  auto r = test::run_indexer({"expand", out["manifest"][0]["handle"], t.path().string()});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("kept in memory only") != std::string::npos);
  // A link .indexer itself is refused the same way.
  test::TempDir u;
  fs::create_symlink(victim.path(), u / ".indexer");
  compact(scratch, u.path(), conversation("eta"));
  CHECK(files_in(victim.path()) == 0);
}
