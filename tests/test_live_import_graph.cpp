// The live tree's import graph (indexer/live_import_graph.h) against a fresh full resolve, after
// every step of seeded random edits to a tree on disk in eight languages: files edited, added,
// removed and renamed, and their configuration (tsconfig.json paths, go.mod's module, go.work,
// Cargo.toml, package.json workspaces and names, pnpm-workspace.yaml, composer.json's psr-4,
// compile_commands.json's include directories) rewritten or deleted.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "helpers.h"
#include "indexer/indexer.h"
#include "indexer/live_tree.h"
#include "indexer/resolve_imports.h"
#include "query/import_graph.h"

namespace {

using Graph = query::ImportGraph;

// Everything the graph answers, by name: each node's edges both ways with their lines, what every
// file reaches and is reached from, the cycles, and the paths between some files.
std::vector<std::string> answers(const Graph& g) {
  std::vector<std::string> out;
  auto name = [&](Graph::NodeId n) { return (g.is_external(n) ? "ext:" : "") + std::string(g.name(n)); };
  out.push_back("files " + std::to_string(g.file_count()) + " nodes " + std::to_string(g.node_count()) + " edges " +
                std::to_string(g.edge_count()));
  for (Graph::NodeId n = 0; n < g.node_count(); ++n) {
    std::string line = name(n) + " imports";
    for (const auto& e : g.imports(n)) line += " " + name(e.to) + ":" + std::to_string(e.line);
    line += " | importers";
    for (const auto& e : g.importers(n)) line += " " + name(e.from) + ":" + std::to_string(e.line);
    out.push_back(line);
    if (g.is_external(n)) continue;
    line = name(n) + " deps";
    for (const auto& r : g.dependencies(n)) line += " " + name(r.node) + "@" + std::to_string(r.depth);
    line += " | dependents";
    for (const auto& r : g.dependents(n)) line += " " + name(r.node) + "@" + std::to_string(r.depth);
    out.push_back(line);
  }
  for (const auto& c : g.cycles()) {
    std::string line = "cycle";
    for (auto n : c) line += " " + name(n);
    out.push_back(line);
  }
  for (Graph::NodeId a = 0; a < g.file_count(); a += 3)
    for (Graph::NodeId b = 1; b < g.node_count(); b += 5) {
      auto path = g.shortest_path(a, b);
      std::string line = "path " + name(a) + " " + name(b) + ":";
      if (path)
        for (auto n : *path) line += " " + name(n);
      out.push_back(line);
    }
  return out;
}

// The graph a fresh resolver makes of the same index view.
Graph fresh(const std::filesystem::path& root, const query::Index& index) {
  indexer::ImportResolver resolver(root, index);
  return indexer::build_import_graph(resolver, index);
}

// The files each language may have, and the imports (whole lines) they may pick from.
struct Lang {
  std::vector<std::string> paths;
  std::vector<std::string> imports;
  std::string (*body)(std::mt19937&, const std::string& path);
};

std::string plain(std::mt19937& rng, const std::string&) { return "\n// body " + std::to_string(rng() % 1000) + "\n"; }
std::string py_body(std::mt19937& rng, const std::string&) { return "\ndef f" + std::to_string(rng() % 100) + "():\n    pass\n"; }
std::string go_body(std::mt19937& rng, const std::string&) { return "\nfunc F" + std::to_string(rng() % 100) + "() {}\n"; }
std::string rs_body(std::mt19937& rng, const std::string&) { return "\npub fn f" + std::to_string(rng() % 100) + "() {}\n"; }
std::string cs_body(std::mt19937& rng, const std::string&) {
  const char* ns[] = {"Shop", "Shop.Model", "Util"};
  const char* type[] = {"Cart", "Item", "Helper", "Order"};
  return "\nnamespace " + std::string(ns[rng() % 3]) + " { class " + type[rng() % 4] + " {} }\n";
}
std::string php_body(std::mt19937& rng, const std::string&) {
  const char* ns[] = {"App\\Model", "App", "Lib"};
  const char* type[] = {"User", "Post", "Repo"};
  return "\nnamespace " + std::string(ns[rng() % 3]) + ";\nclass " + type[rng() % 3] + " {}\n";
}
std::string java_body(std::mt19937& rng, const std::string& path) {
  std::string cls = path.substr(path.rfind('/') + 1);
  cls = cls.substr(0, cls.find('.'));
  return "\nclass " + cls + " { int f" + std::to_string(rng() % 100) + "; }\n";
}

const std::vector<Lang>& langs() {
  static const std::vector<Lang> all = {
      {{"web/src/a.ts", "web/src/b.ts", "web/src/lib/index.ts", "web/src/lib/util.ts", "web/shared/x.ts", "web/shared/y.tsx",
        "web/src/c.js"},
       {"import { a } from './a';", "import { b } from './b';", "import * as l from './lib';", "import { u } from '@app/util';",
        "import { x } from '../shared/x';", "import { y } from '@shared/y';", "import React from 'react';", "import { z } from 'lib/util';",
        "import { c } from './c.js';", "import { s } from 'sh/x';"},
       plain},
      {{"py/pkg/__init__.py", "py/pkg/m1.py", "py/pkg/m2.py", "py/pkg/sub/__init__.py", "py/pkg/sub/m3.py", "py/main.py", "py/m1.py"},
       {"import pkg.m1", "from pkg import m2", "from . import m1", "from .sub import m3", "import os", "from .. import m2",
        "import m1", "from pkg.sub import m3"},
       py_body},
      {{"go/main.go", "go/util/u1.go", "go/util/u2.go", "go/util/u_test.go", "go/api/api.go", "go/sub/go.go"},
       {"import \"example.com/app/util\"", "import \"example.com/app/api\"", "import \"fmt\"", "import \"example.com/other/util\"",
        "import \"github.com/x/y/z/w\""},
       go_body},
      {{"rs/src/lib.rs", "rs/src/a.rs", "rs/src/b/mod.rs", "rs/src/b/c.rs", "rs/src/main.rs"},
       {"mod a;", "mod b;", "mod c;", "use crate::a::X;", "use crate::b::c::Y;", "use super::a;", "use std::io;", "use self::c::Z;", "use r::b::c::Y;"},
       rs_body},
      {{"c/src/main.c", "c/src/util.h", "c/include/api.h", "c/lib/api.h", "c/lib/util.h"},
       {"#include \"util.h\"", "#include <api.h>", "#include \"api.h\"", "#include <util.h>", "#include \"../include/api.h\"",
        "#include <stdio.h>"},
       plain},
      {{"php/src/Model/User.php", "php/src/Model/Post.php", "php/src/Main.php", "php/lib/Model/User.php", "php/helpers.php"},
       {"use App\\Model\\User;", "use App\\Model\\Post;", "use App\\Repo;", "use Lib\\User;", "require 'helpers.php';",
        "require_once __DIR__ . '/x.php';"},
       php_body},
      {{"cs/A.cs", "cs/B.cs", "cs/Model/C.cs", "cs/D.cs"},
       {"using Shop;", "using Shop.Model;", "using Util;", "using System;", "using static Shop.Cart;", "using I = Shop.Model.Item;"},
       cs_body},
      {{"java/com/x/A.java", "java/com/x/B.java", "java/com/y/C.java", "src/com/y/C.java"},
       {"import com.x.A;", "import com.x.B;", "import com.y.C;", "import com.y.*;", "import java.util.List;"},
       java_body},
  };
  return all;
}

// Every variant of each configuration file; "" deletes it.
const std::vector<std::pair<std::string, std::vector<std::string>>>& configs() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> all = {
      {"web/tsconfig.json",
       {"{\"compilerOptions\": {\"baseUrl\": \".\", \"paths\": {\"@app/*\": [\"src/lib/*\"], \"@shared/*\": [\"shared/*\"]}}}",
        "{\"compilerOptions\": {\"paths\": {\"@app/*\": [\"shared/*\"]}}}", "{\"compilerOptions\": {\"baseUrl\": \"src\"}}",
        "{ not json", ""}},
      {"web/src/jsconfig.json", {"{\"compilerOptions\": {\"baseUrl\": \".\"}}", ""}},
      {"go/go.mod", {"module example.com/app\n", "module example.com/other\n\nrequire github.com/x/y v1.0.0\n", ""}},
      {"go/sub/go.mod", {"module example.com/app/util\n", ""}},
      {"go.work", {"use ./go\n", "use (\n\t./go/sub\n)\n", ""}},
      {"rs/Cargo.toml", {"[package]\nname = \"r\"\n", "[package]\nname = \"r\"\n[lib]\npath = \"src/main.rs\"\n", "[workspace\n", ""}},
      {"web/package.json", {"{\"workspaces\": [\"shared\", \"src/*\"]}", "{\"name\": \"web\"}", ""}},
      {"web/shared/package.json",
       {"{\"name\": \"sh\", \"exports\": {\"./*\": \"./*.ts\"}}", "{\"name\": \"@shared/y\", \"main\": \"y.tsx\"}", ""}},
      {"web/pnpm-workspace.yaml", {"packages: [shared]\n", ""}},
      {"php/composer.json",
       {"{\"autoload\": {\"psr-4\": {\"App\\\\\": \"src/\"}}}", "{\"autoload\": {\"psr-4\": {\"App\\\\\": \"lib/\", \"Lib\\\\\": \"lib/\"}}}",
        ""}},
      {"compile_commands.json",
       {"[{\"directory\": \".\", \"command\": \"cc -Ic/include -c c/src/main.c\", \"file\": \"c/src/main.c\"}]",
        "[{\"directory\": \".\", \"arguments\": [\"cc\", \"-Ic/lib\", \"-Ic/include\", \"c/src/main.c\"], \"file\": \"c/src/main.c\"}]", ""}},
      {"build/compile_commands.json", {"[{\"directory\": \"..\", \"command\": \"cc -I c/lib -c c/src/main.c\"}]", ""}},
  };
  return all;
}

// A live tree over `root`, as the server opens one.
std::unique_ptr<indexer::LiveTree> open_live(const std::filesystem::path& root) {
  std::string warning;
  auto opened = indexer::LiveTree::open(root, {}, indexer::default_snapshot_path(root), {}, warning);
  REQUIRE(opened.ok());
  return std::move(*opened);
}

struct RandomTree {
  test::TempDir dir;
  std::mt19937 rng;
  std::map<std::string, size_t> files;  // path -> language
  std::unique_ptr<indexer::LiveTree> tree;

  explicit RandomTree(uint32_t seed) : rng(seed) {
    for (size_t l = 0; l < langs().size(); ++l)
      for (const auto& p : langs()[l].paths)
        if (rng() % 3 != 0) write_file(p, l);
    for (const auto& [path, variants] : configs())
      if (rng() % 2) write_config(path, variants[rng() % variants.size()]);
    std::string warning;
    auto opened = indexer::LiveTree::open(dir.path(), {}, indexer::default_snapshot_path(dir.path()), {}, warning);
    REQUIRE(opened.ok());
    tree = std::move(*opened);
  }

  std::string contents(size_t l, const std::string& path) {
    const Lang& lang = langs()[l];
    std::string text = lang.body == php_body ? "<?php\n" : "";
    for (const auto& imp : lang.imports)
      if (rng() % 3 == 0) text += imp + "\n";
    return text + lang.body(rng, path);
  }
  void write_file(const std::string& path, size_t l) {
    dir.write(path, contents(l, path));
    files[path] = l;
  }
  void write_config(const std::string& path, const std::string& text) {
    if (text.empty()) std::filesystem::remove(dir / path);
    else dir.write(path, text);
  }
  template <class C>
  auto pick(const C& c) {
    auto it = c.begin();
    std::advance(it, rng() % c.size());
    return *it;
  }

  // One random change on disk; the paths to refresh.
  std::vector<std::string> step(std::string& what) {
    unsigned r = rng() % 100;
    if (r < 35 && !files.empty()) {
      auto [path, l] = pick(files);
      write_file(path, l);
      what = "edit " + path;
      return {path};
    }
    size_t l = rng() % langs().size();
    std::vector<std::string> absent;
    for (const auto& p : langs()[l].paths)
      if (!files.count(p)) absent.push_back(p);
    if (r < 55 && !absent.empty()) {
      std::string path = pick(absent);
      write_file(path, l);
      what = "add " + path;
      return {path};
    }
    if (r < 70 && !files.empty()) {
      auto [path, _] = pick(files);
      std::filesystem::remove(dir / path);
      files.erase(path);
      what = "remove " + path;
      return {path};
    }
    if (r < 80 && !absent.empty()) {
      std::vector<std::string> present;
      for (const auto& p : langs()[l].paths)
        if (files.count(p)) present.push_back(p);
      if (!present.empty()) {
        std::string from = pick(present), to = pick(absent);
        std::filesystem::create_directories((dir / to).parent_path());
        std::filesystem::rename(dir / from, dir / to);
        files.erase(from);
        files[to] = l;
        what = "rename " + from + " " + to;
        return {from, to};
      }
    }
    if (r < 85) {
      // A directory that goes away with its files (and any configuration in it).
      const char* dirs[] = {"web/shared", "py/pkg/sub", "go/util", "rs/src/b", "c/lib", "php/src/Model", "cs/Model", "java/com/y"};
      std::string d = dirs[rng() % 8];
      std::filesystem::remove_all(dir / d);
      std::erase_if(files, [&](const auto& f) { return f.first.starts_with(d + "/"); });
      what = "remove dir " + d;
      return {d};
    }
    auto [path, variants] = pick(configs());
    std::string text = variants[rng() % variants.size()];
    write_config(path, text);
    what = "config " + path + (text.empty() ? " deleted" : " = " + text);
    return {path};
  }
};

}  // namespace

TEST_CASE("live import graph: equals a fresh full resolve after every random edit", "[imports][live]") {
  for (uint32_t seed : {1u, 2u, 3u, 4u}) {
    RandomTree t(seed);
    auto first = t.tree->graph();
    REQUIRE(answers(*first->imports) == answers(fresh(t.dir.path(), *first->index)));
    for (int i = 0; i < 150; ++i) {
      std::string what;
      std::vector<std::string> paths = t.step(what);
      INFO("seed " << seed << " step " << i << ": " << what);
      t.tree->refresh(paths);
      auto g = t.tree->graph();
      REQUIRE(g->index->file_count() == t.files.size());
      REQUIRE(g->index->file_count() == t.tree->index()->file_count());
      REQUIRE(answers(*g->imports) == answers(fresh(t.dir.path(), *g->index)));
    }
  }
}

TEST_CASE("live import graph: a reader always sees a graph of its own index view", "[imports][live]") {
  RandomTree t(5);
  t.tree->graph();
  std::atomic<bool> done{false};
  std::atomic<size_t> reads{0}, mismatches{0};
  std::thread reader([&] {
    while (!done) {
      auto g = t.tree->graph();
      // The graph's files are its view's files, one for one.
      bool same = g->imports->file_count() == g->index->file_count();
      for (uint32_t f = 0; same && f < g->index->file_count(); ++f) same = g->imports->find_file(g->index->file(f).path).has_value();
      if (!same) ++mismatches;
      ++reads;
    }
  });
  for (int i = 0; i < 60; ++i) {
    std::string what;
    t.tree->refresh(t.step(what));
  }
  done = true;
  reader.join();
  CHECK(reads > 0);
  CHECK(mismatches == 0);
}

TEST_CASE("live import graph: unsaved buffers and rescans are followed", "[imports][live]") {
  RandomTree t(7);
  t.tree->graph();
  for (int i = 0; i < 40; ++i) {
    auto [path, l] = t.pick(t.files);
    INFO("step " << i << ": buffer " << path);
    t.tree->set_buffer(path, t.contents(l, path));
    auto g = t.tree->graph();
    REQUIRE(answers(*g->imports) == answers(fresh(t.dir.path(), *g->index)));
    if (i % 3 == 0) {
      t.tree->close_buffer(path);
      g = t.tree->graph();
      REQUIRE(answers(*g->imports) == answers(fresh(t.dir.path(), *g->index)));
    }
    if (i % 10 == 9) {
      auto [cpath, variants] = t.pick(configs());
      t.write_config(cpath, variants[t.rng() % variants.size()]);
      t.tree->rescan();
      g = t.tree->graph();
      REQUIRE(answers(*g->imports) == answers(fresh(t.dir.path(), *g->index)));
    }
  }
}

TEST_CASE("live import graph: an edit that keeps a file's imports keeps the graph", "[imports][live]") {
  test::TempDir t;
  t.write("a.py", "import b\n\ndef f():\n    pass\n");
  t.write("b.py", "import os\n");
  auto tree = open_live(t.path());
  auto before = tree->graph();
  t.write("a.py", "import b\n\ndef g():\n    return 1\n");
  tree->refresh({"a.py"});
  auto after = tree->graph();
  CHECK(after->imports == before->imports);  // the same object: nothing was rebuilt
  CHECK(after->index != before->index);
  CHECK(after->index->find_exact("g").size() == 1);

  t.write("a.py", "import os\nimport b\n");
  tree->refresh({"a.py"});
  auto moved = tree->graph();
  CHECK(moved->imports != before->imports);
  const Graph& g = *moved->imports;
  std::vector<std::string> a_imports;
  for (const auto& e : g.imports(*g.find_file("a.py"))) a_imports.push_back(std::string(g.name(e.to)) + ":" + std::to_string(e.line));
  CHECK(a_imports == std::vector<std::string>{"b.py:1", "os:0"});
}

TEST_CASE("import graph: replace_files equals build for files replaced, added and removed", "[imports][live][graph]") {
  std::mt19937 rng(11);
  const std::vector<std::string> pool = {"a.py", "b.py", "c/d.py", "c/e.py", "f.py", "g/h.py", "i.py", "j.py"};
  const std::vector<std::string> externals = {"os", "sys", "json", "re"};
  std::map<std::string, query::FileImports> files;
  auto targets = [&](const std::string& path) {
    query::FileImports f{path, {}};
    for (uint32_t line = 0; line < 4; ++line) {
      if (rng() % 2) f.targets.push_back({externals[rng() % externals.size()], true, line});
      else if (!files.empty()) {
        auto it = files.begin();
        std::advance(it, rng() % files.size());
        f.targets.push_back({it->first, false, line});
      }
    }
    return f;
  };
  for (size_t i = 0; i < 4; ++i) files[pool[i]] = targets(pool[i]);
  auto all = [&] {
    std::vector<query::FileImports> v;
    for (const auto& [_, f] : files) v.push_back(f);
    return v;
  };
  Graph g = Graph::build(all());
  size_t patched = 0;
  for (int step = 0; step < 300; ++step) {
    std::vector<query::FileImports> given;
    std::vector<std::string> removed;
    unsigned r = rng() % 3;
    std::string path = pool[rng() % pool.size()];
    if (r == 0 && files.count(path) && files.size() > 1) {
      files.erase(path);
      removed.push_back(path);
      // Its importers resolve again (elsewhere): the live graph's probers do the same.
      for (auto& [p, f] : files)
        if (std::any_of(f.targets.begin(), f.targets.end(), [&](const auto& t) { return !t.external && t.name == path; })) {
          f = targets(p);
          given.push_back(f);
        }
    } else {
      files[path] = targets(path);
      given.push_back(files[path]);
    }
    INFO("step " << step);
    auto next = Graph::replace_files(g, given, removed);
    Graph expected = Graph::build(all());
    if (next) {
      ++patched;
      REQUIRE(answers(*next) == answers(expected));
      g = std::move(*next);
    } else {
      g = std::move(expected);
    }
  }
  CHECK(patched > 250);  // nullopt only when a replacement names a file that is being removed
}

// Workspace manifests are followed as they change: an npm member renamed, a member added as a new
// directory, a Cargo member renamed, a go.work switching modules. Each step is checked against the
// edges expected and against a fresh full resolve.
TEST_CASE("live import graph: workspace manifests changing re-resolve their importers", "[imports][live][workspace]") {
  test::TempDir t;
  t.write("package.json", "{\"private\": true, \"workspaces\": [\"packages/*\"]}");
  t.write("packages/core/package.json", "{\"name\": \"@acme/core\", \"exports\": {\".\": \"./dist/index.js\"}}");
  t.write("packages/core/src/index.ts", "export const c = 1;\n");
  t.write("app/main.ts", "import { c } from \"@acme/core\";\nimport { n } from \"@acme/new\";\n");
  t.write("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n");
  t.write("crates/core/Cargo.toml", "[package]\nname = \"my-core\"\n");
  t.write("crates/core/src/lib.rs", "pub fn f() {}\n");
  t.write("crates/app/Cargo.toml", "[package]\nname = \"app\"\n");
  t.write("crates/app/src/main.rs", "use my_core::f;\n");
  t.write("go.work", "use ./a\n");
  t.write("a/go.mod", "module example.com/lib\n");
  t.write("a/x.go", "package lib\n");
  t.write("b/go.mod", "module example.com/lib\n");
  t.write("b/x.go", "package lib\n");
  t.write("main/go.mod", "module example.com/main\n");
  t.write("main/main.go", "package main\n\nimport \"example.com/lib\"\n");
  auto tree = open_live(t.path());
  auto edges = [&](const char* from) {
    auto g = tree->graph();
    REQUIRE(answers(*g->imports) == answers(fresh(t.path(), *g->index)));
    const Graph& graph = *g->imports;
    std::vector<std::string> out;
    auto node = graph.find_file(from);
    REQUIRE(node);
    for (const auto& e : graph.imports(*node)) out.push_back((graph.is_external(e.to) ? "ext:" : "") + std::string(graph.name(e.to)));
    return out;
  };
  CHECK(edges("app/main.ts") == std::vector<std::string>{"packages/core/src/index.ts", "ext:@acme/new"});
  CHECK(edges("crates/app/src/main.rs") == std::vector<std::string>{"crates/core/src/lib.rs"});
  CHECK(edges("main/main.go") == std::vector<std::string>{"a/x.go"});

  t.write("packages/core/package.json", "{\"name\": \"@acme/core2\", \"main\": \"./src/index.ts\"}");
  tree->refresh({"packages/core/package.json"});
  CHECK(edges("app/main.ts") == std::vector<std::string>{"ext:@acme/core", "ext:@acme/new"});

  t.write("packages/new/package.json", "{\"name\": \"@acme/new\"}");
  t.write("packages/new/src/index.ts", "export const n = 1;\n");
  tree->refresh({"packages/new"});
  CHECK(edges("app/main.ts") == std::vector<std::string>{"packages/new/src/index.ts", "ext:@acme/core"});

  t.write("crates/core/Cargo.toml", "[package]\nname = \"core2\"\n");
  tree->refresh({"crates/core/Cargo.toml"});
  CHECK(edges("crates/app/src/main.rs") == std::vector<std::string>{"ext:my_core"});

  t.write("go.work", "use (\n  ./b\n  ./main\n)\n");
  tree->refresh({"go.work"});
  CHECK(edges("main/main.go") == std::vector<std::string>{"b/x.go"});
}
