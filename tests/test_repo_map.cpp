// The repo map (compress/repo_map.h) over a real indexed tree and its import graph.
#include <catch2/catch.hpp>

#include "compress/repo_map.h"
#include "helpers.h"
#include "indexer/indexer.h"
#include "indexer/resolve_imports.h"

namespace {

size_t count_words(std::string_view text) {
  size_t n = 0;
  bool in = false;
  for (char c : text) {
    bool word = !std::isspace(static_cast<unsigned char>(c));
    n += word && !in;
    in = word;
  }
  return n;
}

struct Tree {
  test::TempDir t;
  std::unique_ptr<query::Index> index;
  query::ImportGraph graph;
  Tree() {
    // db.py is imported by twenty files, core.py by db.py alone (so by all of them through it),
    // the leaves and tools/lonely.py by none.
    t.write("app/core.py", "class Engine:\n    def run(self):\n        pass\n\ndef start_engine():\n    pass\n");
    t.write("app/db.py", "from app import core\n\nclass Database:\n    def query(self, sql):\n        pass\n");
    for (int i = 0; i < 20; ++i)
      t.write("app/leaf" + std::to_string(i) + ".py", "from app import db\n\ndef leaf_helper_" + std::to_string(i) + "(x):\n    return x\n");
    t.write("tools/lonely.py", "def lonely_tool():\n    pass\n");
    auto r = indexer::index_tree(t.path(), {}, {});
    index = std::move(r.index);
    indexer::ImportResolver resolver(t.path(), *index);
    graph = indexer::build_import_graph(resolver, *index);
  }
};

}  // namespace

TEST_CASE("repo map: the most imported files first, filled to the budget, the same every time", "[repo_map]") {
  Tree tree;
  compress::RepoMapOptions o;
  o.count = count_words;
  for (size_t budget : {size_t(10), size_t(40), size_t(100), size_t(10000)}) {
    INFO("budget " << budget);
    o.budget = budget;
    compress::RepoMap map = compress::repo_map(*tree.index, tree.graph, o);
    CHECK(map.tokens == count_words(map.text));
    CHECK(map.tokens <= budget);
    if (map.symbols < tree.index->symbol_count()) {
      // One more symbol would not fit: filled.
      CHECK(map.tokens + 8 > budget);
    }
    if (budget >= 10) CHECK(map.text.starts_with("app/db.py:\n"));
    CHECK(compress::repo_map(*tree.index, tree.graph, o).text == map.text);
  }
  o.budget = 10000;
  compress::RepoMap all = compress::repo_map(*tree.index, tree.graph, o);
  CHECK(all.symbols == tree.index->symbol_count());
  CHECK(all.text.find("app/core.py:\n") < all.text.find("app/leaf0.py:\n"));
  CHECK(all.text.find("app/core.py:\n  1: class Engine\n    2: def run(self)\n  5: def start_engine()\n") != std::string::npos);
}

TEST_CASE("repo map: a focus on a path or a name brings its file forward", "[repo_map]") {
  Tree tree;
  compress::RepoMapOptions o;
  o.count = count_words;
  o.budget = 12;
  CHECK(compress::repo_map(*tree.index, tree.graph, o).text.find("lonely") == std::string::npos);
  o.focus = {"tools/lonely.py"};
  CHECK(compress::repo_map(*tree.index, tree.graph, o).text.starts_with("tools/lonely.py:\n"));
  o.focus = {"leaf_helper_7"};
  CHECK(compress::repo_map(*tree.index, tree.graph, o).text.starts_with("app/leaf7.py:\n"));
  auto ranks = compress::file_ranks(*tree.index, tree.graph, {});
  double sum = 0;
  for (double r : ranks) sum += r;
  CHECK(sum == Approx(1.0));
}
