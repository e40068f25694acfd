// `indexer graph ...`, run as a user runs it, on a small Python tree:
//   app/main.py -> app/api.py -> app/db.py -> app/api.py (a cycle), app/db.py -> sqlite3.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "helpers.h"

using nlohmann::json;
using test::run_indexer;

namespace {
void write_tree(const test::TempDir& t) {
  t.write("app/__init__.py", "");
  t.write("app/main.py", "import os\nfrom app import api\n");
  t.write("app/api.py", "from . import db\n");
  t.write("app/db.py", "import sqlite3\nfrom .api import handler\n");
  t.write("tools/lonely.py", "x = 1\n");
}
}  // namespace

TEST_CASE("cli graph: imports and importers, as a table and as JSON", "[cli][graph]") {
  test::TempDir t;
  write_tree(t);
  auto r = run_indexer({"graph", "imports", "app/main.py", t.path().string(), "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out) == json::parse(R"([
    {"path": "app/__init__.py", "external": false, "line": 2},
    {"path": "app/api.py", "external": false, "line": 2},
    {"path": "os", "external": true, "line": 1}])"));

  auto text = run_indexer({"graph", "importers", "app/api.py", t.path().string()});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out == "app/db.py:2\napp/main.py:2\n");

  // An external module by name: who imports sqlite3?
  auto ext = run_indexer({"graph", "importers", "sqlite3", t.path().string()});
  CHECK(ext.out == "app/db.py:1\n");
}

TEST_CASE("cli graph: deps and dependents with a depth limit", "[cli][graph]") {
  test::TempDir t;
  write_tree(t);
  auto deps = run_indexer({"graph", "deps", "app/main.py", t.path().string()});
  REQUIRE(deps.exit_code == 0);
  CHECK(deps.out ==
        "1  app/__init__.py\n"
        "1  app/api.py\n"
        "1  external:os\n"
        "2  app/db.py\n"
        "3  external:sqlite3\n");
  auto near = run_indexer({"graph", "dependents", "app/db.py", t.path().string(), "--depth", "1", "--json"});
  REQUIRE(near.exit_code == 0);
  CHECK(json::parse(near.out) == json::parse(R"([{"path": "app/api.py", "external": false, "depth": 1}])"));
  auto all = run_indexer({"graph", "dependents", "app/db.py", t.path().string(), "--json"});
  CHECK(json::parse(all.out).size() == 2);  // api.py, then main.py
  auto none = run_indexer({"graph", "deps", "tools/lonely.py", t.path().string()});
  CHECK(none.exit_code == 0);
  CHECK(none.out.empty());
  CHECK(none.err == "tools/lonely.py depends on nothing\n");
}

TEST_CASE("cli graph: cycles and the shortest path", "[cli][graph]") {
  test::TempDir t;
  write_tree(t);
  auto cycles = run_indexer({"graph", "cycles", t.path().string()});
  REQUIRE(cycles.exit_code == 0);
  CHECK(cycles.out ==
        "cycle 1: 2 files, e.g. app/api.py -> app/db.py -> app/api.py\n"
        "  app/api.py\n"
        "  app/db.py\n");
  auto j = run_indexer({"graph", "cycles", t.path().string(), "--json"});
  CHECK(json::parse(j.out) == json::parse(R"([{"files": ["app/api.py", "app/db.py"],
                                                "example": ["app/api.py", "app/db.py", "app/api.py"]}])"));

  auto path = run_indexer({"graph", "path", "app/main.py", "sqlite3", t.path().string()});
  REQUIRE(path.exit_code == 0);
  CHECK(path.out == "app/main.py\n  -> app/api.py\n  -> app/db.py\n  -> external:sqlite3\n");
  auto none = run_indexer({"graph", "path", "app/db.py", "app/main.py", t.path().string(), "--json"});
  CHECK(none.exit_code == 1);
  CHECK(none.out == "null\n");
}

TEST_CASE("cli graph: FILE may be a path from the current directory", "[cli][graph]") {
  test::TempDir t;
  write_tree(t);
  auto r = run_indexer({"graph", "imports", "api.py", "..", "--json"}, t / "app");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = json::parse(r.out);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["path"] == "app/__init__.py");
  CHECK(j[1]["path"] == "app/db.py");
}

TEST_CASE("cli graph: wrong commands, files and depths fail clearly", "[cli][graph]") {
  test::TempDir t;
  write_tree(t);
  auto bare = run_indexer({"graph"});
  CHECK(bare.exit_code == 2);
  CHECK(bare.err.find("graph needs imports, importers, deps, dependents, path or cycles") != std::string::npos);
  CHECK(run_indexer({"graph", "bogus", t.path().string()}).exit_code == 2);
  CHECK(run_indexer({"graph", "path", "app/main.py"}).exit_code == 2);
  CHECK(run_indexer({"graph", "deps", "app/main.py", t.path().string(), "--depth", "0"}).exit_code == 2);
  auto missing = run_indexer({"graph", "imports", "nope.py", t.path().string()});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("nope.py: not a file of the indexed tree") != std::string::npos);
}
