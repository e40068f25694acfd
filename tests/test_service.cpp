// The method table (server/service.h) over a real live tree.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "server/service.h"

namespace {

std::unique_ptr<indexer::LiveTree> open(const test::TempDir& t) {
  std::string warning;
  auto tree = indexer::LiveTree::open(t.path(), {}, indexer::default_snapshot_path(t.path()), {}, warning);
  REQUIRE(tree.ok());
  return std::move(*tree);
}

}  // namespace

TEST_CASE("service: symbols/search written directly gives the bytes nlohmann would", "[service]") {
  test::TempDir t;
  // Names and signatures with every kind of character a JSON writer must escape or replace.
  t.write("odd.py", "def quote(a='\"', b='\\\\', c='\t'):\n    pass\n\ndef caf\xc3\xa9():\n    pass\n\n"
                    "def bad(x='\xff\xfe', y='\xed\xa0\x80', z='\xc0\xaf', w='\xf8\x80\x80', v='\xff\x80\x80'):\n    pass\n\ndef ctl(x='\x01\x1f'):\n    pass\n");
  for (int i = 0; i < 30; ++i) t.write("m/f" + std::to_string(i) + ".py", "class K" + std::to_string(i) + ":\n    def run(self):\n        pass\n");
  auto tree = open(t);
  server::Service service(*tree);
  for (const char* pattern : {"quote", "caf", "bad", "ctl", "run", "K.run", "", "zzz"}) {
    for (nlohmann::json params : {nlohmann::json{{"pattern", pattern}}, nlohmann::json{{"pattern", pattern}, {"limit", 3}, {"kind", "method"}}}) {
      INFO(params.dump());
      std::string slow = service.call("symbols/search", params).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      server::Result fast = service.call_fast("symbols/search", params);
      REQUIRE(std::holds_alternative<server::RawJson>(fast));
      CHECK(std::get<server::RawJson>(fast).text == slow);
    }
  }
  CHECK_THROWS_AS(service.call_fast("symbols/search", nlohmann::json::object()), server::RpcError);
}

TEST_CASE("service: index/refresh refuses an empty path with -32602, and goes on", "[service]") {
  test::TempDir t;
  t.write("a.py", "def alpha():\n    pass\n");
  auto tree = open(t);
  server::Service service(*tree);
  for (nlohmann::json paths : {nlohmann::json::array({""}), nlohmann::json::array({"a.py", ""}), nlohmann::json("")}) {
    INFO(paths.dump());
    try {
      service.call("index/refresh", {{"paths", paths}});
      FAIL("an empty path was taken");
    } catch (const server::RpcError& e) {
      CHECK(e.code == server::kInvalidParams);
      CHECK(e.message.find("empty path") != std::string::npos);
    }
  }
  t.write("b.py", "def beta():\n    pass\n");
  CHECK(service.call("index/refresh", {{"paths", {"b.py"}}})["changes"] == 1);
  CHECK(service.call("symbols/search", {{"pattern", "beta"}}).size() == 1);
}
