// Import resolution fixtures: tests/fixtures/imports/<language>/ is a small real tree (with its
// go.mod, tsconfig.json, compile_commands.json or composer.json) and edges.expected lists every
// edge of its import graph, "from -> to" or "from -> external:NAME", in any order.
#include <catch2/catch.hpp>

#include <algorithm>

#include "helpers.h"
#include "indexer/indexer.h"
#include "indexer/resolve_imports.h"

namespace {

struct Resolved {
  std::unique_ptr<query::Index> index;
  std::vector<std::string> edges;
  std::vector<std::string> warnings;
};

Resolved resolve_tree(const test::fs::path& root) {
  auto r = indexer::index_tree(root, {});
  REQUIRE(r.index);
  indexer::ImportResolver resolver(root, *r.index);
  auto graph = indexer::build_import_graph(resolver, *r.index);
  Resolved out{std::move(r.index), {}, resolver.warnings()};
  for (uint32_t n = 0; n < graph.file_count(); ++n)
    for (const auto& e : graph.imports(n))
      out.edges.push_back(std::string(graph.name(e.from)) + " -> " + (graph.is_external(e.to) ? "external:" : "") +
                          std::string(graph.name(e.to)));
  std::sort(out.edges.begin(), out.edges.end());
  return out;
}

void check_fixture(const std::string& language) {
  test::fs::path dir = test::fs::path(FIXTURES_DIR) / "imports" / language;
  REQUIRE(test::fs::exists(dir / "edges.expected"));
  auto want = test::content_lines(test::read_file(dir / "edges.expected"));
  std::sort(want.begin(), want.end());
  auto got = resolve_tree(dir);
  INFO("expected:\n" << test::indented(want) << "got:\n" << test::indented(got.edges));
  CHECK(got.warnings.empty());
  CHECK(got.edges == want);
}

}  // namespace

TEST_CASE("imports: typescript relative, index files, .js for .ts, tsconfig paths and baseUrl", "[imports]") { check_fixture("typescript"); }
TEST_CASE("imports: python absolute, relative, packages and src roots", "[imports]") { check_fixture("python"); }
TEST_CASE("imports: go packages through go.mod", "[imports]") { check_fixture("go"); }
TEST_CASE("imports: rust mod and use crate, self, super", "[imports]") { check_fixture("rust"); }
TEST_CASE("imports: c includes through compile_commands.json", "[imports]") { check_fixture("c"); }
TEST_CASE("imports: java packages to files", "[imports]") { check_fixture("java"); }
TEST_CASE("imports: csharp namespaces to files", "[imports]") { check_fixture("csharp"); }
TEST_CASE("imports: ruby require and require_relative", "[imports]") { check_fixture("ruby"); }
TEST_CASE("imports: php require and use through composer psr-4", "[imports]") { check_fixture("php"); }
TEST_CASE("imports: bash source", "[imports]") { check_fixture("bash"); }

TEST_CASE("imports: a broken tsconfig.json is a warning, and bare imports stay external", "[imports]") {
  test::TempDir t;
  t.write("tsconfig.json", "{ \"compilerOptions\": { \"baseUrl\": \".\" \"paths\": {} } }");
  t.write("a.ts", "import { b } from \"b\";\n");
  t.write("b.ts", "export const b = 1;\n");
  auto got = resolve_tree(t.path());
  REQUIRE(got.warnings.size() == 1);
  CHECK(got.warnings[0] == "tsconfig.json: line 1: expected ',' or '}'");
  CHECK(got.edges == std::vector<std::string>{"a.ts -> external:b"});
}

TEST_CASE("imports: without compile_commands.json, the root and include/ are include directories", "[imports]") {
  test::TempDir t;
  t.write("include/lib/api.h", "int api(void);\n");
  t.write("src/lib/impl.h", "int impl(void);\n");
  t.write("src/main.c", "#include <lib/api.h>\n#include \"src/lib/impl.h\"\n#include <lib/impl.h>\n");
  auto got = resolve_tree(t.path());
  CHECK(got.edges == std::vector<std::string>{"src/main.c -> external:lib/impl.h", "src/main.c -> include/lib/api.h",
                                              "src/main.c -> src/lib/impl.h"});
}

TEST_CASE("imports: one file resolves alone, in import order", "[imports]") {
  test::fs::path dir = test::fs::path(FIXTURES_DIR) / "imports" / "python";
  auto r = indexer::index_tree(dir, {});
  REQUIRE(r.index);
  indexer::ImportResolver resolver(dir, *r.index);
  auto file = r.index->find_file("app/models.py");
  REQUIRE(file);
  auto imports = resolver.resolve(*file);
  CHECK(imports.path == "app/models.py");
  REQUIRE(imports.targets.size() == 2);
  CHECK(imports.targets[0].name == "os");
  CHECK(imports.targets[0].external);
  CHECK(imports.targets[0].line == 0);
  CHECK(imports.targets[1].name == "app/db.py");
  CHECK(!imports.targets[1].external);
  CHECK(imports.targets[1].line == 1);
}
