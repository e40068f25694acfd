// The registered methods (server/registry.h, index_methods.h) over a real live tree.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "server/index_methods.h"
#include "server/registry.h"
#include "server/service.h"

namespace {

std::unique_ptr<indexer::LiveTree> open(const test::TempDir& t) {
  std::string warning;
  auto tree = indexer::LiveTree::open(t.path(), {}, indexer::default_snapshot_path(t.path()), {}, warning);
  REQUIRE(tree.ok());
  return std::move(*tree);
}

}  // namespace

TEST_CASE("service: symbols/search's JSON holds what the index holds, escaped as nlohmann would", "[service]") {
  test::TempDir t;
  // Names and signatures with every kind of character a JSON writer must escape or replace.
  t.write("odd.py", "def quote(a='\"', b='\\\\', c='\t'):\n    pass\n\ndef caf\xc3\xa9():\n    pass\n\n"
                    "def bad(x='\xff\xfe', y='\xed\xa0\x80', z='\xc0\xaf', w='\xf8\x80\x80', v='\xff\x80\x80'):\n    pass\n\ndef ctl(x='\x01\x1f'):\n    pass\n");
  for (int i = 0; i < 30; ++i) t.write("m/f" + std::to_string(i) + ".py", "class K" + std::to_string(i) + ":\n    def run(self):\n        pass\n");
  auto tree = open(t);
  server::Service service(*tree);
  server::ReadyHost host(service);
  server::CancelFlag never{false};
  server::Context c{host, &service, never};
  using nlohmann::json;
  for (const char* pattern : {"quote", "caf", "bad", "ctl", "run", "K.run", "", "zzz"}) {
    for (json params : {json{{"pattern", pattern}}, json{{"pattern", pattern}, {"limit", 3}, {"kind", "method"}}}) {
      INFO(params.dump());
      json written = server::call_json(service, "symbols/search", params);  // parsed strictly: valid JSON
      server::index::SearchParams p{pattern, "", params.contains("kind") ? server::index::kinds_from({"method"}) : 0, 0,
                                    params.contains("limit") ? 3u : 50u};
      server::index::Hits typed = server::index::search(c, p);
      REQUIRE(written.size() == typed.hits.size());
      for (size_t i = 0; i < typed.hits.size(); ++i) {
        query::Symbol s = typed.view->symbol(typed.hits[i].symbol);
        json expected = {{"name", s.name}, {"kind", query::kind_name(s.kind)}, {"container", s.container},
                         {"language", grammars::spec(s.language).name}, {"path", s.path}, {"line", s.range.start.line + 1},
                         {"column", s.range.start.column + 1}, {"end_line", s.range.end.line + 1}, {"end_column", s.range.end.column + 1},
                         {"selection_line", s.selection.start.line + 1}, {"selection_column", s.selection.start.column + 1},
                         {"signature", s.signature}, {"score", typed.hits[i].score}, {"match", query::tier_name(typed.hits[i].tier)}};
        auto text = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
        CHECK(text(written[i]) == text(expected));
      }
    }
  }
  CHECK_THROWS_AS(server::call_json(service, "symbols/search", json::object()), server::RpcError);
}

TEST_CASE("service: index/refresh refuses an empty path with -32602, and goes on", "[service]") {
  test::TempDir t;
  t.write("a.py", "def alpha():\n    pass\n");
  auto tree = open(t);
  server::Service service(*tree);
  for (nlohmann::json paths : {nlohmann::json::array({""}), nlohmann::json::array({"a.py", ""}), nlohmann::json("")}) {
    INFO(paths.dump());
    try {
      server::call_json(service, "index/refresh", {{"paths", paths}});
      FAIL("an empty path was taken");
    } catch (const server::RpcError& e) {
      CHECK(e.code == server::kInvalidParams);
      CHECK(e.message.find("empty path") != std::string::npos);
    }
  }
  t.write("b.py", "def beta():\n    pass\n");
  CHECK(server::call_json(service, "index/refresh", {{"paths", {"b.py"}}})["changes"] == 1);
  CHECK(server::call_json(service, "symbols/search", {{"pattern", "beta"}}).size() == 1);
}
