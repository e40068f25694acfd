// The import graph's queries on small literal graphs, written "a -> b c" per file.
#include <catch2/catch.hpp>

#include <sstream>

#include "query/import_graph.h"

namespace {

using query::ImportGraph;

// "a -> b c !x" : file a imports files b and c and the external module x (line = position).
ImportGraph graph(std::initializer_list<const char*> spec) {
  std::vector<query::FileImports> files;
  for (const char* line : spec) {
    std::istringstream in(line);
    query::FileImports f;
    std::string arrow, target;
    in >> f.path >> arrow;
    for (uint32_t i = 0; in >> target; ++i) {
      bool external = target[0] == '!';
      f.targets.push_back({external ? target.substr(1) : target, external, i});
    }
    files.push_back(std::move(f));
  }
  return ImportGraph::build(files);
}

ImportGraph::NodeId id(const ImportGraph& g, const char* name) {
  auto n = g.find_file(name);
  if (!n) n = g.find_external(name);
  REQUIRE(n);
  return *n;
}

// "name:depth" for each node reached, in result order.
std::string reached(const ImportGraph& g, const std::vector<ImportGraph::Reached>& r) {
  std::string s;
  for (const auto& x : r) s += (s.empty() ? "" : " ") + std::string(g.name(x.node)) + ":" + std::to_string(x.depth);
  return s;
}

std::string names(const ImportGraph& g, const std::vector<ImportGraph::NodeId>& nodes) {
  std::string s;
  for (auto n : nodes) s += (s.empty() ? "" : " ") + std::string(g.name(n));
  return s;
}

}  // namespace

TEST_CASE("graph: nodes are files by path, then externals by name, one edge per pair", "[graph]") {
  auto g = graph({"b -> a !react a", "a -> !fs", "c ->"});
  CHECK(g.file_count() == 3);
  CHECK(g.node_count() == 5);
  CHECK(names(g, {0, 1, 2, 3, 4}) == "a b c fs react");
  CHECK(g.is_external(id(g, "react")));
  CHECK(!g.find_file("react"));
  auto out = g.imports(id(g, "b"));
  REQUIRE(out.size() == 2);  // "a" twice is one edge, at its first line
  CHECK(g.name(out[0].to) == "a");
  CHECK(out[0].line == 0);
  CHECK(g.name(out[1].to) == "react");
  auto in = g.importers(id(g, "a"));
  REQUIRE(in.size() == 1);
  CHECK(g.name(in[0].from) == "b");
  CHECK(g.imports(id(g, "c")).empty());
}

TEST_CASE("graph: dependencies and dependents by depth, nearest first", "[graph]") {
  // app -> api -> db -> driver, app -> ui -> api; db also uses !sql.
  auto g = graph({"app -> ui api", "ui -> api", "api -> db", "db -> driver !sql", "driver ->", "tool -> db"});
  CHECK(reached(g, g.dependencies(id(g, "app"))) == "api:1 ui:1 db:2 driver:3 sql:3");
  CHECK(reached(g, g.dependencies(id(g, "app"), 2)) == "api:1 ui:1 db:2");
  CHECK(reached(g, g.dependencies(id(g, "app"), 0)) == "");
  CHECK(reached(g, g.dependents(id(g, "driver"))) == "db:1 api:2 tool:2 app:3 ui:3");
  CHECK(reached(g, g.dependents(id(g, "sql"), 1)) == "db:1");
  CHECK(reached(g, g.dependents(id(g, "app"))) == "");
}

TEST_CASE("graph: cycles are components of several files, and self-imports", "[graph]") {
  auto g = graph({"a -> b", "b -> c", "c -> a d", "d -> e", "e -> d", "f -> f", "g -> a !x"});
  auto cycles = g.cycles();
  REQUIRE(cycles.size() == 3);
  CHECK(names(g, cycles[0]) == "a b c");
  CHECK(names(g, cycles[1]) == "d e");
  CHECK(names(g, cycles[2]) == "f");
  CHECK(graph({"a -> b", "b -> c"}).cycles().empty());
}

TEST_CASE("graph: cycles on a 200k-file chain need no deep recursion", "[graph]") {
  std::vector<query::FileImports> files;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    char name[16], next[16];
    std::snprintf(name, sizeof name, "f%06d", i);
    std::snprintf(next, sizeof next, "f%06d", (i + 1) % n);
    files.push_back({name, {{next, false, 0}}});
  }
  auto g = ImportGraph::build(files);
  auto cycles = g.cycles();
  REQUIRE(cycles.size() == 1);
  CHECK(cycles[0].size() == size_t(n));
  CHECK(g.dependents(0).size() == size_t(n - 1));
}

TEST_CASE("graph: a shortest import path", "[graph]") {
  auto g = graph({"a -> b c", "b -> d", "c -> e", "d -> e", "e -> !x", "f -> a"});
  auto p = g.shortest_path(id(g, "a"), id(g, "e"));
  REQUIRE(p);
  CHECK(names(g, *p) == "a c e");
  CHECK(names(g, *g.shortest_path(id(g, "f"), id(g, "x"))) == "f a c e x");
  CHECK(names(g, *g.shortest_path(id(g, "d"), id(g, "d"))) == "d");
  CHECK(!g.shortest_path(id(g, "e"), id(g, "a")));
}
