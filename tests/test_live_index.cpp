// The live index (query/live_index.h) through real extraction: edits, removals, compaction, the
// answers of a fresh index after every step, readers running during updates, memory under churn.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <thread>

#include "indexer/indexer.h"
#include "query/live_index.h"
#include "query/query.h"

using query::Language;

namespace {

using Tree = std::map<std::string, std::string>;  // path -> Python source

// FileInputs for some files of a tree, and the extractions their views point into.
struct Inputs {
  std::vector<indexer::Extraction> extractions;
  std::vector<query::FileInput> files;
};

Inputs inputs(const Tree& tree, const std::vector<std::string>& paths) {
  Inputs out;
  out.extractions.reserve(paths.size());
  for (const auto& p : paths) out.extractions.push_back(indexer::extract(Language::Python, tree.at(p)));
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto& ex = out.extractions[i];
    query::FileInput f;
    f.path = paths[i];
    f.language = Language::Python;
    f.size = tree.at(paths[i]).size();
    f.symbols = ex.symbols;
    f.imports = ex.imports;
    out.files.push_back(f);
  }
  return out;
}

std::shared_ptr<const query::Index> fresh(const Tree& tree) {
  std::vector<std::string> paths;
  for (const auto& [p, _] : tree) paths.push_back(p);
  Inputs in = inputs(tree, paths);
  query::IndexBuilder b;
  for (const auto& f : in.files) b.add(f);
  return b.finish();
}

void edit(query::LiveIndex& live, const Tree& tree, const std::vector<std::string>& changed,
          const std::vector<std::string>& removed = {}) {
  Inputs in = inputs(tree, changed);
  live.update(in.files, removed);
}

// Hits as "tier name container path:line", best first.
std::vector<std::string> hits(const query::Index& index, const query::SearchRequest& req) {
  std::vector<std::string> out;
  for (const auto& h : query::search(index, req)) {
    query::Symbol s = index.symbol(h.symbol);
    out.push_back(std::string(query::tier_name(h.tier)) + " " + std::string(s.name) + " " + std::string(s.container) + " " +
                  std::string(s.path) + ":" + std::to_string(s.range.start.line + 1) + " " + std::to_string(h.score));
  }
  return out;
}

// Every file with its symbols, as the outline and export see them.
std::vector<std::string> contents(const query::Index& index) {
  std::vector<std::string> out;
  for (uint32_t f = 0; f < index.file_count(); ++f) {
    query::FileInfo info = index.file(f);
    REQUIRE(info.id == f);
    REQUIRE(index.find_file(info.path) == f);
    auto [begin, end] = index.file_symbols(f);
    REQUIRE(end - begin == info.symbol_count);
    std::string line(info.path);
    for (uint32_t id = begin; id < end; ++id) {
      query::Symbol s = index.symbol(id);
      REQUIRE(s.id == id);
      REQUIRE(s.file == f);
      REQUIRE(s.path == info.path);
      line += " " + std::string(s.name) + "@" + std::to_string(s.range.start.line + 1);
    }
    for (const auto& imp : index.file_imports(f)) line += " import:" + std::string(imp.specifier);
    out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> names_of(const query::Index& index, const std::vector<uint32_t>& ids) {
  std::vector<std::string> out;
  for (uint32_t id : ids) {
    query::Symbol s = index.symbol(id);
    out.push_back(std::string(s.path) + ":" + std::to_string(s.range.start.line + 1));
  }
  return out;
}

}  // namespace

TEST_CASE("live index: an edit replaces the file's symbols in one step, older views stay as they were") {
  Tree tree{{"a.py", "def alpha():\n    pass\n"}, {"b.py", "import os\n\ndef beta():\n    pass\n"}};
  query::LiveIndex live(fresh(tree));
  auto before = live.view();

  tree["a.py"] = "class Gamma:\n    def start(self):\n        pass\n";
  edit(live, tree, {"a.py"});
  auto view = live.view();
  CHECK(hits(*view, {"alpha"}).empty());
  CHECK(hits(*view, {"Gamma"}) == std::vector<std::string>{"exact Gamma  a.py:1 5"});
  CHECK(hits(*view, {"Gamma.start"}) == std::vector<std::string>{"exact start Gamma a.py:2 0"});
  CHECK(contents(*view) == std::vector<std::string>{"a.py Gamma@1 start@2", "b.py beta@3 import:os"});
  CHECK(names_of(*view, view->find_exact("beta")) == std::vector<std::string>{"b.py:3"});

  // A query that took the view before the update still sees the old file, whole.
  CHECK(hits(*before, {"alpha"}) == std::vector<std::string>{"exact alpha  a.py:1 0"});
  CHECK(contents(*before) == std::vector<std::string>{"a.py alpha@1", "b.py beta@3 import:os"});
}

TEST_CASE("live index: files are added and removed, and a removed file can come back") {
  Tree tree{{"a.py", "def alpha():\n    pass\n"}, {"b.py", "def beta():\n    pass\n"}};
  query::LiveIndex live(fresh(tree));
  tree["c/new.py"] = "def alphabet():\n    pass\n";
  edit(live, tree, {"c/new.py"}, {"b.py"});
  tree.erase("b.py");
  CHECK(contents(*live.view()) == std::vector<std::string>{"a.py alpha@1", "c/new.py alphabet@1"});
  // A prefix's score (query/search.cpp, prefix_score): 2^14 when the query ends a segment, less
  // the name's length, so the shorter of two names ranks first.
  CHECK(hits(*live.view(), {"alp"}) == std::vector<std::string>{"prefix alpha  a.py:1 -5", "prefix alphabet  c/new.py:1 -8"});
  CHECK(hits(*live.view(), {"beta"}).empty());

  tree["b.py"] = "def beta_again():\n    pass\n";
  edit(live, tree, {"b.py"});
  CHECK(hits(*live.view(), {"beta"}) == std::vector<std::string>{"prefix beta_again  b.py:1 16374"});
  // Removing an unknown path changes nothing; a path both changed and removed is removed.
  edit(live, tree, {"b.py"}, {"b.py", "nowhere.py"});
  tree.erase("b.py");
  CHECK(contents(*live.view()) == contents(*fresh(tree)));
}

TEST_CASE("live index: after every step of random edits and compactions, answers equal a fresh index") {
  const std::vector<std::string> words = {"get", "response", "status", "server", "start", "handler", "parse", "node", "http", "value"};
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return size_t(rng() % n); };
  auto random_source = [&] {
    std::string src;
    size_t defs = 1 + pick(4);
    for (size_t i = 0; i < defs; ++i) {
      std::string a = words[pick(words.size())], b = words[pick(words.size())];
      b[0] = char(std::toupper(b[0]));
      if (pick(3) == 0) src += "class " + b + a + ":\n    def " + a + "_" + words[pick(words.size())] + "(self):\n        pass\n";
      else src += "def " + a + b + "():\n    pass\n";
      if (pick(4) == 0) src += "import " + words[pick(words.size())] + "\n";
    }
    return src;
  };
  Tree tree;
  for (int i = 0; i < 20; ++i) tree["pkg" + std::to_string(i % 3) + "/m" + std::to_string(i) + ".py"] = random_source();
  query::LiveIndex live(fresh(tree));

  const std::vector<query::SearchRequest> requests = {
      {"get"}, {"gRS"}, {"response"}, {"Resp", 3}, {"response status"}, {"Serverstart."}, {"pkg1/"},
      {"m1.py:get"}, {"http", 50, query::kind_bit(query::Kind::Class)}, {"st", 5, 0, 0, "pkg2/**"}, {"", 7}};
  for (int step = 0; step < 120; ++step) {
    std::vector<std::string> changed, removed;
    for (size_t n = 1 + pick(3); n > 0; --n) {
      std::string path = "pkg" + std::to_string(pick(3)) + "/m" + std::to_string(pick(30)) + ".py";
      if (pick(5) == 0 && tree.count(path)) {
        tree.erase(path);
        removed.push_back(path);
        changed.erase(std::remove(changed.begin(), changed.end(), path), changed.end());
      } else {
        tree[path] = random_source();
        if (std::find(changed.begin(), changed.end(), path) == changed.end()) changed.push_back(path);
        removed.erase(std::remove(removed.begin(), removed.end(), path), removed.end());
      }
    }
    edit(live, tree, changed, removed);
    if (step % 40 == 39) live.compact();
    auto view = live.view();
    auto expected = fresh(tree);
    INFO("step " << step);
    REQUIRE(contents(*view) == contents(*expected));
    for (const auto& req : requests) {
      INFO("query '" << req.pattern << "'");
      REQUIRE(hits(*view, req) == hits(*expected, req));
    }
    for (const auto& w : {"getStatus", "start"})
      REQUIRE(names_of(*view, view->find_exact(w)) == names_of(*expected, expected->find_exact(w)));
  }
}

TEST_CASE("live index: editing one file 10,000 times keeps one copy of it") {
  Tree tree;
  for (int i = 0; i < 50; ++i) tree["lib/m" + std::to_string(i) + ".py"] = "def stable" + std::to_string(i) + "():\n    pass\n";
  tree["hot.py"] = "def hot0():\n    pass\n";
  query::LiveIndex live(fresh(tree));
  edit(live, tree, {"hot.py"});
  size_t first = live.view()->memory().total();
  for (int i = 1; i <= 10000; ++i) {
    tree["hot.py"] = "def hot" + std::to_string(i) + "():\n    pass\n";
    edit(live, tree, {"hot.py"});
  }
  auto view = live.view();
  CHECK(live.overlay_files() == 1);
  CHECK(view->symbol_count() == 51);
  CHECK(hits(*view, {"hot10000"}) == std::vector<std::string>{"exact hot10000  hot.py:1 0"});
  CHECK(hits(*view, {"hot9999"}).empty());
  CHECK(view->memory().total() < first + 1024);  // the name grew by a digit or two, nothing more
  live.compact();
  CHECK(live.overlay_files() == 0);
  CHECK(contents(*live.view()) == contents(*fresh(tree)));
}

TEST_CASE("live index: queries during updates and compactions see each file whole") {
  // Every version of a file defines v<N>_first and v<N>_second; a reader must never see two
  // versions in one view, nor a version without both.
  Tree tree;
  for (int i = 0; i < 40; ++i) tree["f" + std::to_string(i) + ".py"] = "def v0_first():\n    pass\n\ndef v0_second():\n    pass\n";
  query::LiveIndex live(fresh(tree));
  std::atomic<bool> done{false};
  std::atomic<size_t> checked{0}, torn{0};
  auto reader = [&] {
    while (!done.load()) {
      auto view = live.view();
      if (view->file_count() != 40) ++torn;
      for (uint32_t f = 0; f < view->file_count(); f += 7) {
        auto [begin, end] = view->file_symbols(f);
        if (end - begin != 2) {
          ++torn;
          continue;
        }
        std::string a(view->symbol(begin).name), b(view->symbol(begin + 1).name);
        if (a.substr(0, a.find('_')) != b.substr(0, b.find('_')) || !a.ends_with("_first") || !b.ends_with("_second")) ++torn;
      }
      for (const auto& h : query::search(*view, {"first", 5})) {
        query::Symbol s = view->symbol(h.symbol);
        auto [begin, end] = view->file_symbols(s.file);
        if (h.symbol < begin || h.symbol >= end) ++torn;
      }
      ++checked;
    }
  };
  std::thread r1(reader), r2(reader);
  std::thread compactor([&] {
    while (!done.load()) {
      live.compact();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  for (int v = 1; v <= 600; ++v) {
    std::string path = "f" + std::to_string(v % 40) + ".py";
    std::string n = "v" + std::to_string(v);
    tree[path] = "def " + n + "_first():\n    pass\n\ndef " + n + "_second():\n    pass\n";
    edit(live, tree, {path});
  }
  done = true;
  r1.join(), r2.join(), compactor.join();
  CHECK(checked.load() > 0);
  CHECK(torn.load() == 0);
  live.compact();
  CHECK(contents(*live.view()) == contents(*fresh(tree)));
}
