// The indexer binary, run as a user runs it.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "helpers.h"

using nlohmann::json;
using test::run_indexer;
namespace fs = std::filesystem;

namespace {
void write_project(const test::TempDir& t) {
  t.write("src/shapes.py",
          "class Shape:\n"
          "    def area(self):\n"
          "        return 0\n"
          "\n"
          "def get_response_status(code):\n"
          "    return code\n");
  t.write("web/app.ts",
          "export class HttpServer {\n"
          "  listen(port: number): void {}\n"
          "}\n"
          "export const getResponseStatus = (r: Response) => r.status;\n");
}
}  // namespace

TEST_CASE("cli: index prints a summary", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"index", t.path().string()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("indexed 2 files") != std::string::npos);
  CHECK(r.out.find("symbols") != std::string::npos);
  CHECK(r.out.find("MB/s") != std::string::npos);
}

TEST_CASE("cli: query --json has the documented fields, 1-based positions", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"query", "gRS", t.path().string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  for (const auto& hit : j)
    for (const char* key : {"name", "kind", "container", "language", "path", "line", "column", "end_line", "signature", "score"})
      CHECK(hit.contains(key));
  std::set<std::string> names{j[0]["name"], j[1]["name"]};
  CHECK(names == std::set<std::string>{"getResponseStatus", "get_response_status"});
  for (const auto& hit : j) {
    if (hit["name"] == "getResponseStatus") {
      CHECK(hit["path"] == "web/app.ts");
      CHECK(hit["line"] == 4);
      CHECK(hit["kind"] == "function");
      CHECK(hit["language"] == "typescript");
    } else {
      CHECK(hit["path"] == "src/shapes.py");
      CHECK(hit["line"] == 5);
      CHECK(hit["column"] == 1);
      CHECK(hit["signature"] == "def get_response_status(code)");
    }
  }
}

TEST_CASE("cli: query table, filters and qualified names", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"query", "Shape.area", t.path().string()});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("method") != std::string::npos);
  CHECK(r.out.find("Shape.area") != std::string::npos);
  CHECK(r.out.find("src/shapes.py:2") != std::string::npos);

  auto k = run_indexer({"query", "s", t.path().string(), "--kind", "class", "--json"});
  REQUIRE(k.exit_code == 0);
  for (const auto& hit : json::parse(k.out)) CHECK(hit["kind"] == "class");

  auto l = run_indexer({"query", "status", t.path().string(), "--lang", "python", "--json"});
  REQUIRE(l.exit_code == 0);
  auto lj = json::parse(l.out);
  REQUIRE(lj.size() == 1);
  CHECK(lj[0]["language"] == "python");

  auto p = run_indexer({"query", "status", t.path().string(), "--path", "web/**", "--json", "--limit", "1"});
  REQUIRE(p.exit_code == 0);
  auto pj = json::parse(p.out);
  REQUIRE(pj.size() == 1);
  CHECK(pj[0]["path"] == "web/app.ts");
}

TEST_CASE("cli: wrong flags, missing paths and bad values fail clearly", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto flag = run_indexer({"query", "x", t.path().string(), "--bogus"});
  CHECK(flag.exit_code == 2);
  CHECK(flag.err.find("unknown option --bogus") != std::string::npos);
  auto nopattern = run_indexer({"query"});
  CHECK(nopattern.exit_code == 2);
  CHECK(nopattern.err.find("PATTERN") != std::string::npos);
  auto missing = run_indexer({"index", (t / "missing").string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("No such file or directory") != std::string::npos);
  auto kind = run_indexer({"query", "x", t.path().string(), "--kind", "blob"});
  CHECK(kind.exit_code == 2);
  CHECK(kind.err.find("unknown kind 'blob'") != std::string::npos);
  auto limit = run_indexer({"query", "x", t.path().string(), "--limit", "ten"});
  CHECK(limit.exit_code == 2);
  auto cmd = run_indexer({"frobnicate"});
  CHECK(cmd.exit_code == 2);
  auto none = run_indexer({"query", "zzzzqqq", t.path().string()});
  CHECK(none.exit_code == 1);
  CHECK(none.err.find("no symbol matches") != std::string::npos);
}

TEST_CASE("cli: outline prints the file's symbols as a tree", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"outline", (t / "web/app.ts").string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["name"] == "HttpServer");
  REQUIRE(j[0]["children"].size() == 1);
  CHECK(j[0]["children"][0]["name"] == "listen");
  CHECK(j[0]["children"][0]["kind"] == "method");
  CHECK(j[1]["name"] == "getResponseStatus");
  auto text = run_indexer({"outline", (t / "web/app.ts").string()});
  CHECK(text.out.find("class HttpServer") != std::string::npos);
  CHECK(text.out.find("  method listen") != std::string::npos);
}

TEST_CASE("cli: export jsonl has one symbol per line", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"export", t.path().string(), "--format", "jsonl"});
  REQUIRE(r.exit_code == 0);
  size_t lines = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line); ++lines) CHECK(json::parse(line).contains("name"));
  CHECK(lines == 6);  // Shape, area, get_response_status, HttpServer, listen, getResponseStatus
}

TEST_CASE("cli: export ctags is a sorted tags file readtags accepts", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"export", t.path().string(), "--format", "ctags", "-o", (t / "tags").string()});
  REQUIRE(r.exit_code == 0);
  REQUIRE(std::system("command -v readtags >/dev/null") == 0);
  // readtags does a binary search, so it only finds these if the file is sorted.
  std::string cmd = "cd '" + t.path().string() + "' && readtags -t tags -e - HttpServer listen get_response_status > out.txt";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string out = test::read_file(t / "out.txt");
  CHECK(out.find("HttpServer\tweb/app.ts\t/^export class HttpServer {$/;\"\tkind:c") != std::string::npos);
  CHECK(out.find("listen\tweb/app.ts") != std::string::npos);
  CHECK(out.find("scope:HttpServer") != std::string::npos);
  CHECK(out.find("get_response_status\tsrc/shapes.py") != std::string::npos);
}

TEST_CASE("cli: stats reports files, symbols and memory", "[cli]") {
  test::TempDir t;
  write_project(t);
  auto r = run_indexer({"stats", t.path().string(), "--json"});
  REQUIRE(r.exit_code == 0);
  json j = json::parse(r.out);
  CHECK(j["files"] == 2);
  CHECK(j["symbols"] == 6);
  CHECK(j["memory"]["total"].get<size_t>() > 0);
}

TEST_CASE("cli: ctags paths are relative to the tags file, lines are the name's", "[cli]") {
  test::TempDir t;
  t.write("proj/A.java",
          "class A {\n"
          "    @Override\n"
          "    public String toString() { return \"\"; }\n"
          "    @Override\n"
          "    public int hashCode() { return 0; }\n"
          "}\n");
  auto r = run_indexer({"export", (t / "proj").string(), "--format", "ctags", "-o", (t / "tags").string()});
  REQUIRE(r.exit_code == 0);
  std::string tags = test::read_file(t / "tags");
  // Each method is found by its own line, not by the shared "@Override" line above it.
  CHECK(tags.find("hashCode\tproj/A.java\t/^    public int hashCode() { return 0; }$/;\"\tm\tline:5") != std::string::npos);
  CHECK(tags.find("@Override") == std::string::npos);
}

TEST_CASE("cli: a write that fails is an error, and --version and bad numbers", "[cli]") {
  test::TempDir t;
  write_project(t);
  if (test::fs::exists("/dev/full")) {
    auto full = run_indexer({"export", t.path().string(), "--format", "jsonl", "-o", "/dev/full"});
    CHECK(full.exit_code == 1);
    CHECK(full.err.find("could not write /dev/full") != std::string::npos);
  }
  auto v = run_indexer({"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.out.starts_with("indexer "));
  CHECK(run_indexer({"query", "x", t.path().string(), "--limit", "0"}).exit_code == 2);
  CHECK(run_indexer({"index", t.path().string(), "--threads", "4294967297"}).exit_code == 2);
}

TEST_CASE("cli: --exclude wins over .gitignore, and a parent repository .gitignore applies", "[cli]") {
  test::TempDir t;
  REQUIRE(std::system(("git init -q '" + t.path().string() + "'").c_str()) == 0);
  t.write(".gitignore", "build/\n");
  t.write("sub/.gitignore", "*.py\n!keep.py\n");
  t.write("sub/keep.py", "def keep(): pass\n");
  t.write("sub/drop.py", "def drop(): pass\n");
  t.write("sub/build/gen.py", "def generated(): pass\n");
  t.write("sub/app.ts", "export function app() {}\n");
  auto names_of = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"export", (t / "sub").string(), "--format", "jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = run_indexer(args);
    std::set<std::string> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) out.insert(json::parse(line)["name"].get<std::string>());
    return out;
  };
  // Indexing sub/ alone: the top-level "build/" still hides sub/build, as git does.
  CHECK(names_of({}) == std::set<std::string>{"keep", "app"});
  CHECK(names_of({"--exclude", "keep.py"}) == std::set<std::string>{"app"});
}

TEST_CASE("cli: query answers from the snapshot and follows edits made since", "[cli][snapshot]") {
  test::TempDir t;
  write_project(t);
  REQUIRE(run_indexer({"index", t.path().string()}).exit_code == 0);
  REQUIRE(fs::exists(t / ".indexer/snapshot"));
  t.write("src/extra.py", "def freshly_added():\n    pass\n");
  auto r = run_indexer({"query", "freshly_added", t.path().string()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.err.empty());
  CHECK(r.out.find("src/extra.py:1") != std::string::npos);
  // A damaged snapshot: one line on stderr, and still the right answer.
  std::string bytes = test::read_file(t / ".indexer/snapshot");
  bytes.resize(bytes.size() / 2);
  std::ofstream(t / ".indexer/snapshot", std::ios::binary | std::ios::trunc) << bytes;
  r = run_indexer({"query", "freshly_added", t.path().string()});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("warning") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.out.find("src/extra.py:1") != std::string::npos);
  // --no-snapshot neither reads nor writes one.
  test::TempDir u;
  write_project(u);
  CHECK(run_indexer({"query", "Shape", u.path().string(), "--no-snapshot"}).exit_code == 0);
  CHECK_FALSE(fs::exists(u / ".indexer"));
}

TEST_CASE("cli: kill -9 while writing the snapshot leaves the old one or the new one", "[cli][snapshot]") {
  test::TempDir t;
  for (int i = 0; i < 400; ++i)
    t.write("pkg/m" + std::to_string(i) + ".py", "class C" + std::to_string(i) + ":\n    def method_" + std::to_string(i) + "(self):\n        pass\n");
  auto expected = run_indexer({"query", "method_12", t.path().string(), "--json", "--no-snapshot"});
  REQUIRE(expected.exit_code == 0);
  unsigned seed = 12345;
  for (int round = 0; round < 30; ++round) {
    pid_t pid = ::fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      std::string bin = INDEXER_BINARY, cmd = "index", root = t.path().string();
      char* argv[] = {bin.data(), cmd.data(), root.data(), nullptr};
      ::execv(bin.c_str(), argv);
      _exit(127);
    }
    seed = seed * 1103515245 + 12345;
    ::usleep(useconds_t(2000 + (seed >> 8) % 120000));  // somewhere in its walk, parse or write
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    auto r = run_indexer({"query", "method_12", t.path().string(), "--json"});
    INFO("round " << round << ": " << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());  // never a corrupt snapshot to warn about
    CHECK(json::parse(r.out) == json::parse(expected.out));
  }
  // Killed writers' temporary files are cleaned up by the next save.
  REQUIRE(run_indexer({"index", t.path().string()}).exit_code == 0);
  size_t leftovers = 0;
  for (const auto& e : fs::directory_iterator(t / ".indexer")) leftovers += e.path().filename() != "snapshot";
  CHECK(leftovers == 0);
}

TEST_CASE("cli: a file too dense to parse within the tree budget is skipped, the run goes on", "[cli][budget]") {
  // The worst legal file: 4 MiB of `x = 1` (its parse tree alone would be 600 MB), beside a
  // smaller dense file that fits the budget and an ordinary one.
  test::TempDir t;
  std::string line = "x = 1\n", dense, fits;
  while (dense.size() + line.size() <= (4u << 20)) dense += line;
  while (fits.size() + line.size() <= (256u << 10)) fits += line;
  t.write("dense.py", dense);
  t.write("fits.py", fits);
  t.write("ok.py", "def still_indexed():\n    pass\n");
  auto r = run_indexer({"index", t.path().string()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("indexed 2 files") != std::string::npos);
  CHECK(r.out.find("1 too-dense") != std::string::npos);
  // The snapshot keeps the verdict, and queries answer.
  auto q = run_indexer({"query", "still_indexed", t.path().string(), "--json"});
  INFO(q.err);
  REQUIRE(q.exit_code == 0);
  CHECK(json::parse(q.out).size() == 1);
  auto s = run_indexer({"index", t.path().string()});
  REQUIRE(s.exit_code == 0);
  CHECK(s.out.find("1 too-dense") != std::string::npos);
}
