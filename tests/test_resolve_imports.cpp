// Import resolution fixtures: tests/fixtures/imports/<language>/ is a small real tree (with its
// go.mod, tsconfig.json, compile_commands.json or composer.json) and edges.expected lists every
// edge of its import graph, "from -> to" or "from -> external:NAME", in any order.
#include <catch2/catch.hpp>

#include <algorithm>

#include "helpers.h"
#include "indexer/indexer.h"
#include "indexer/resolve_imports.h"
#include "indexer/workspaces.h"

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
TEST_CASE("imports: cargo workspace members by glob and exclude, package names and [lib] name and path", "[imports][workspace]") {
  check_fixture("cargo_workspace");
}
TEST_CASE("imports: npm workspaces with scoped names, exports maps, patterns and build directories", "[imports][workspace]") {
  check_fixture("npm_workspace");
}
TEST_CASE("imports: pnpm-workspace.yaml with ** and ! globs", "[imports][workspace]") { check_fixture("pnpm_workspace"); }
TEST_CASE("imports: yarn workspaces {packages} and exports conditions", "[imports][workspace]") { check_fixture("yarn_workspace"); }
TEST_CASE("imports: go.work modules, and the one it uses of two with one path", "[imports][workspace]") { check_fixture("go_work"); }

TEST_CASE("imports: the importers of a workspace package's entry file, through the graph", "[imports][workspace]") {
  test::fs::path dir = test::fs::path(FIXTURES_DIR) / "imports" / "npm_workspace";
  auto r = indexer::index_tree(dir, {});
  REQUIRE(r.index);
  indexer::ImportResolver resolver(dir, *r.index);
  auto graph = indexer::build_import_graph(resolver, *r.index);
  auto node = graph.find_file("packages/core/src/utils/index.ts");
  REQUIRE(node);
  std::vector<std::string> importers;
  for (const auto& e : graph.importers(*node)) importers.push_back(std::string(graph.name(e.from)) + ":" + std::to_string(e.line));
  CHECK(importers == std::vector<std::string>{"apps/web/src/main.ts:1", "packages/core/src/index.ts:0", "packages/ui/src/ui.tsx:0"});
  std::vector<std::string> dependents;
  for (const auto& d : graph.dependents(*node)) dependents.push_back(std::string(graph.name(d.node)) + "@" + std::to_string(d.depth));
  CHECK(dependents == std::vector<std::string>{"apps/web/src/main.ts@1", "packages/core/src/index.ts@1", "packages/ui/src/ui.tsx@1",
                                               "packages/core/test/core.test.ts@2"});
}

TEST_CASE("imports: malformed workspace manifests are warnings, never a crash, and are left out", "[imports][workspace]") {
  test::TempDir t;
  t.write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\",\n");  // an unterminated array
  t.write("crates/a/Cargo.toml", "[package]\nname = \"a\n");          // an unterminated string
  t.write("crates/a/src/lib.rs", "pub fn f() {}\n");
  t.write("crates/b/Cargo.toml", "[package]\nname = \"b\"\n");
  t.write("crates/b/src/lib.rs", "use a::f;\nuse b::g;\n");
  t.write("crates/b/src/g.rs", "pub fn g() {}\n");
  t.write("web/pnpm-workspace.yaml", "packages:\n  - 'pkgs/*\n");  // an unterminated quote
  t.write("web/pkgs/p/package.json", "{\"name\": \"p\"");          // unterminated JSON
  t.write("web/pkgs/p/index.ts", "export const p = 1;\n");
  t.write("web/pkgs/q/package.json", "{\"name\": \"q\"}");
  t.write("web/pkgs/q/index.ts", "export const q = 1;\n");
  t.write("web/app.ts", "import { p } from \"p\";\nimport { q } from \"q\";\n");
  auto got = resolve_tree(t.path());
  // q and b are packages of the tree by their own manifests, which are fine.
  CHECK(got.edges == std::vector<std::string>{"crates/b/src/lib.rs -> crates/b/src/g.rs", "crates/b/src/lib.rs -> external:a",
                                              "web/app.ts -> external:p", "web/app.ts -> web/pkgs/q/index.ts"});
  std::sort(got.warnings.begin(), got.warnings.end());
  CHECK(got.warnings == std::vector<std::string>{"Cargo.toml: line 3: unterminated array",
                                                 "crates/a/Cargo.toml: line 2: unterminated string; read as a package of no name",
                                                 "web/pkgs/p/package.json: line 1: expected ',' or '}'",
                                                 "web/pnpm-workspace.yaml: line 2: unterminated quote"});
}

TEST_CASE("imports: a package installed in node_modules stays external, a package of the tree resolves", "[imports][workspace]") {
  test::TempDir t;
  t.write("node_modules/react/package.json", "{\"name\": \"react\", \"main\": \"index.js\"}");
  t.write("node_modules/react/index.js", "module.exports = {};\n");
  t.write("tools/lint/package.json", "{\"name\": \"@me/lint\", \"main\": \"./dist/index.js\"}");
  t.write("tools/lint/src/index.ts", "export const lint = 1;\n");
  t.write("app.ts", "import React from \"react\";\nimport { lint } from \"@me/lint\";\n");
  auto got = resolve_tree(t.path());
  CHECK(got.edges == std::vector<std::string>{"app.ts -> external:react", "app.ts -> tools/lint/src/index.ts"});
}

TEST_CASE("imports: workspace manifest readers on literal input", "[imports][workspace]") {
  using namespace indexer::detail;
  auto cargo = read_cargo_toml(
      "# c\n[package]\nname = \"my-crate\" # the name\nversion = '0.1'\ndescription = \"\"\"a\n[fake]\n\"\"\"\n"
      "[lib]\npath = \"src/my.rs\"\n[workspace]\nmembers = [\"a/*\", { x = \"no\" }, ['n'],\n  'b', # c\n]\nexclude=[ \"a/old\" ]\n"
      "[[bin]]\nname = \"tool\"\n");
  CHECK(cargo.error.empty());
  CHECK(cargo.package_name == "my-crate");
  CHECK(cargo.lib_path == "src/my.rs");
  CHECK(cargo.lib_name.empty());
  CHECK(cargo.members == std::vector<std::string>{"a/*", "b"});
  CHECK(cargo.exclude == std::vector<std::string>{"a/old"});
  CHECK(read_cargo_toml("[package\nname = 1\n").error == "line 1: expected ']'");
  CHECK(read_cargo_toml("name = \"x\n").error == "line 1: unterminated string");

  std::string error;
  CHECK(read_pnpm_workspace("packages: ['a/*', \"b\",\n  '!c']\nother: 1\n", error) == std::vector<std::string>{"a/*", "b", "!c"});
  CHECK(error.empty());
  CHECK(read_pnpm_workspace("other:\n  - x\npackages:\n- it's\n- 'q''s' # c\nnext: 2\n", error) == std::vector<std::string>{"it's", "q's"});
  CHECK(error.empty());
  CHECK(read_pnpm_workspace("packages: nope\n", error).empty());
  CHECK(error == "line 1: packages: expected a list");

  CHECK(read_go_work("go 1.22\nuse ./a // one\nuse (\n\t./b\n\t\"./c d\"\n)\nuser x\n") == std::vector<std::string>{"./a", "./b", "./c"});

  auto exports = parse_json(R"({".": {"import": {"types": "./t.d.ts", "default": "./i.js"}, "node": "./n.js", "require": "./r.cjs"},
                                "./a/*.js": "./src/a/*.ts", "./a/*": "./lib/a/*", "./f/": "./folder/", "./x": null})");
  REQUIRE(exports.value);
  CHECK(export_targets(*exports.value, ".") == std::vector<std::string>{"./t.d.ts", "./i.js", "./r.cjs", "./n.js"});
  CHECK(export_targets(*exports.value, "./a/b/c.js") == std::vector<std::string>{"./src/a/b/c.ts"});
  CHECK(export_targets(*exports.value, "./a/b") == std::vector<std::string>{"./lib/a/b"});
  CHECK(export_targets(*exports.value, "./f/g.js") == std::vector<std::string>{"./folder/g.js"});
  CHECK(export_targets(*exports.value, "./x").empty());
  CHECK(export_targets(*exports.value, "./y").empty());

  CHECK(dir_glob_match("packages/*", "packages/a"));
  CHECK(!dir_glob_match("packages/*", "packages/a/b"));
  CHECK(dir_glob_match("packages/**", "packages/a/b"));
  CHECK(dir_glob_match("**/test/**", "x/test"));
  CHECK(dir_glob_match("./apps/web-*", "apps/web-admin"));
  CHECK(!dir_glob_match("apps/*", "apps/.hidden"));
}

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

TEST_CASE("imports: a tree named N is the N/ of an include directory: <N/x.hpp> is its x.hpp", "[imports]") {
  test::TempDir t;
  t.write("mylib/core.hpp", "#include <mylib/detail/impl.hpp>\n#include <mylib/none.hpp>\n#include <other/x.hpp>\n#include <mylib/../escape.hpp>\n");
  t.write("mylib/detail/impl.hpp", "#include \"mylib/core.hpp\"\n");
  t.write("escape.hpp", "\n");
  auto got = resolve_tree(t.path() / "mylib");
  CHECK(got.edges == std::vector<std::string>{"core.hpp -> detail/impl.hpp", "core.hpp -> external:mylib/../escape.hpp",
                                              "core.hpp -> external:mylib/none.hpp", "core.hpp -> external:other/x.hpp",
                                              "detail/impl.hpp -> core.hpp"});
}

TEST_CASE("imports: go's own source: module std packages and vendor/ directories", "[imports]") {
  test::TempDir t;
  t.write("src/go.mod", "module std\n\ngo 1.19\n");
  t.write("src/fmt/print.go", "package fmt\n");
  t.write("src/fmt/print_test.go", "package fmt\n");
  t.write("src/vendor/golang.org/x/net/dns/dns.go", "package dns\n");
  t.write("src/net/net.go", "package net\n\nimport (\n\t\"fmt\"\n\t\"golang.org/x/net/dns\"\n\t\"golang.org/x/text/none\"\n\t\"nothing/here\"\n)\n");
  t.write("src/cmd/go.mod", "module cmd\n");
  t.write("src/cmd/vendor/golang.org/x/mod/semver/semver.go", "package semver\n");
  t.write("src/cmd/go/main.go", "package main\n\nimport (\n\t\"fmt\"\n\t\"golang.org/x/mod/semver\"\n\t\"golang.org/x/net/dns\"\n)\n");
  auto got = resolve_tree(t.path());
  CHECK(got.edges == std::vector<std::string>{"src/cmd/go/main.go -> external:golang.org/x/net", "src/cmd/go/main.go -> src/cmd/vendor/golang.org/x/mod/semver/semver.go",
                                              "src/cmd/go/main.go -> src/fmt/print.go", "src/net/net.go -> external:golang.org/x/text",
                                              "src/net/net.go -> external:nothing/here", "src/net/net.go -> src/fmt/print.go",
                                              "src/net/net.go -> src/vendor/golang.org/x/net/dns/dns.go"});
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

// A cloned repository writes its own configuration: sizes that made resolution quadratic (over
// 30 s) or slow answer the same, and what is capped is named in a warning.
TEST_CASE("imports: compile_commands.json with 100k entries or 100k -I arguments resolves the same", "[imports]") {
  auto tree = [](test::TempDir& t) {
    t.write("src/a.c", "#include \"b.h\"\n#include <lib/api.h>\n#include <none.h>\n#include <../src/a.h>\n");
    t.write("src/b.h", "#include \"a.h\"\n");
    t.write("src/a.h", "#include \"b.h\"\n");
    t.write("zz/lib/api.h", "int api(void);\n");
  };
  const std::vector<std::string> want{"src/a.c -> external:none.h", "src/a.c -> src/a.h", "src/a.c -> src/b.h",
                                      "src/a.c -> zz/lib/api.h", "src/a.h -> src/b.h", "src/b.h -> src/a.h"};
  {
    test::TempDir t;
    tree(t);
    std::string db = "[";
    for (int i = 0; i < 100000; ++i)
      db += "{\"directory\": \".\", \"file\": \"src/f" + std::to_string(i) + ".c\", \"command\": \"cc -Igen/d" + std::to_string(i) +
            " -Izz -c src/f" + std::to_string(i) + ".c\"},";
    db.back() = ']';
    t.write("compile_commands.json", db);
    auto got = resolve_tree(t.path());
    INFO(test::indented(got.edges));
    CHECK(got.edges == want);
    REQUIRE(got.warnings.size() == 1);
    CHECK(got.warnings[0] == "compile_commands.json: 100001 include directories; an include that climbs with \"..\" is looked up in the first 10000");
  }
  {
    test::TempDir t;
    tree(t);
    std::string args;
    for (int i = 0; i < 100000; ++i) args += "\"-Idir" + std::to_string(i) + "\", ";
    t.write("compile_commands.json", "[{\"directory\": \".\", \"file\": \"src/a.c\", \"arguments\": [\"cc\", \"-Isrc/..\", " + args +
                                         "\"-I\", \"zz\", \"-c\", \"src/a.c\"]}]");
    auto got = resolve_tree(t.path());
    INFO(test::indented(got.edges));
    CHECK(got.edges == want);  // the root (-Isrc/..) comes first: ../src/a.h climbs from it
    CHECK(got.warnings.size() == 1);
  }
}

TEST_CASE("imports: a tsconfig.json with 20k paths patterns is capped with a warning, the first ones still apply", "[imports]") {
  test::TempDir t;
  std::string paths = "\"@app/*\": [\"src/app/*\"]";
  for (int i = 0; i < 20000; ++i) paths += ", \"@p" + std::to_string(i) + "/*\": [\"lib" + std::to_string(i) + "/*\"]";
  t.write("tsconfig.json", "{\"compilerOptions\": {\"baseUrl\": \".\", \"paths\": {" + paths + "}}}");
  t.write("src/app/util.ts", "export const u = 1;\n");
  t.write("lib7/x.ts", "export const x = 1;\n");
  t.write("lib19999/y.ts", "export const y = 1;\n");
  t.write("src/main.ts", "import { u } from \"@app/util\";\nimport { x } from \"@p7/x\";\nimport { y } from \"@p19999/y\";\nimport r from \"react\";\n");
  auto got = resolve_tree(t.path());
  INFO(test::indented(got.edges));
  // @p19999 is past the cap: as if it were not listed, a bare import of the npm package "@p19999/y".
  CHECK(got.edges == std::vector<std::string>{"src/main.ts -> external:@p19999/y", "src/main.ts -> external:react",
                                              "src/main.ts -> lib7/x.ts", "src/main.ts -> src/app/util.ts"});
  REQUIRE(got.warnings.size() == 1);
  CHECK(got.warnings[0] == "tsconfig.json: 40002 compilerOptions.paths patterns and substitutions; only the first 2000 are used");
}

TEST_CASE("imports: composer.json with 3k psr-4 directories for one prefix finds the file in the first that has it", "[imports]") {
  test::TempDir t;
  std::string psr4;
  for (int i = 0; i < 3000; ++i) psr4 += "\"App\\\\\": \"lib" + std::to_string(i) + "/\", ";  // a duplicate key each time
  t.write("composer.json", "{\"autoload\": {\"psr-4\": {" + psr4 + "\"App\\\\\": [\"src/\", \"lib2999/\"]}}}");
  t.write("src/Models/User.php", "<?php\nnamespace App\\Models;\nclass User {}\n");
  t.write("lib2999/Models/User.php", "<?php\nnamespace App\\Models;\nclass User {}\n");
  t.write("lib1500/Http/Kernel.php", "<?php\nnamespace App\\Http;\nclass Kernel {}\n");
  t.write("src/C.php", "<?php\nnamespace App;\nuse App\\Models\\User;\nuse App\\Http\\Kernel;\nuse Other\\Thing;\n");
  auto got = resolve_tree(t.path());
  INFO(test::indented(got.edges));
  CHECK(got.warnings.empty());
  CHECK(got.edges == std::vector<std::string>{"src/C.php -> external:Other", "src/C.php -> lib1500/Http/Kernel.php",
                                              "src/C.php -> lib2999/Models/User.php"});
}

TEST_CASE("imports: a configuration file over 256 MiB is not read: a warning, and the rest resolves", "[imports]") {
  test::TempDir t;
  t.write("a.ts", "import { b } from \"./b\";\nimport r from \"react\";\n");
  t.write("b.ts", "export const b = 1;\n");
  t.write("go/main.go", "package main\n\nimport \"fmt\"\n");
  // Sparse: a repository can carry such files at no cost to itself; reading them would take all memory.
  for (const char* rel : {"tsconfig.json", "go/go.mod"}) {
    FILE* f = std::fopen((t.path() / rel).c_str(), "w");
    REQUIRE(f);
    REQUIRE(::ftruncate(::fileno(f), off_t(300) << 20) == 0);
    std::fclose(f);
  }
  auto got = resolve_tree(t.path());
  CHECK(got.edges == std::vector<std::string>{"a.ts -> b.ts", "a.ts -> external:react", "go/main.go -> external:fmt"});
  std::sort(got.warnings.begin(), got.warnings.end());
  CHECK(got.warnings == std::vector<std::string>{"go/go.mod: over 256 MiB, not read", "tsconfig.json: over 256 MiB, not read"});
}
