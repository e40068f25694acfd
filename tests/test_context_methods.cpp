// The context/* methods (server/context_methods.cpp) through the registry, with the real tokenizer:
// the budget holds by tiktoken's count, needles survive, and context/expand gives back every byte.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "compress/compact.h"
#include "compress/tokens.h"
#include "helpers.h"
#include "server/registry.h"

using nlohmann::json;

TEST_CASE("context methods: compact to a budget by tiktoken's count, expand every handle back", "[context]") {
  test::TempDir t;
  t.write("app/core.py", "class Engine:\n    def run(self):\n        return 1\n");
  t.write("app/db.py", "from app import core\n\ndef connect(url):\n    return core.Engine()\n");
  std::string warning;
  auto tree = indexer::LiveTree::open(t.path(), {}, indexer::default_snapshot_path(t.path()), {}, warning);
  REQUIRE(tree.ok());
  server::Service service(**tree);

  json messages = json::array();
  messages.push_back({{"role", "system"}, {"content", "You are a careful coding agent.\n"}});
  messages.push_back({{"role", "user"}, {"content", "Always run the tests before you commit.\n"}, {"kind", "instruction"}, {"pinned", true}});
  for (int turn = 0; turn < 60; ++turn) {
    messages.push_back({{"role", "user"}, {"content", "step " + std::to_string(turn) + ": build it\n"}});
    std::string log;
    for (int l = 0; l < 300; ++l) {
      if (turn == 30 && l == 150) log += "src/parse.c:88: error: 'token' undeclared (first use in this function)\n";
      log += "  CC src/module_" + std::to_string(l) + ".o (" + std::to_string(l * 37 % 1000) + " ms)\n";
    }
    messages.push_back({{"role", "tool"}, {"content", log}});
    messages.push_back({{"role", "tool"}, {"content", "def handler_" + std::to_string(turn) + "(request):\n    return respond(request)\n"},
                        {"kind", "file"}, {"path", "app/h" + std::to_string(turn % 5) + ".py"}});
  }
  // Text of the input that looks like markers (a conversation quoting an earlier compaction):
  // restoring leaves it as it was.
  messages.push_back({{"role", "assistant"}, {"content", "[[elided z0123456789abcdef0123456789abcdef: a group of 3 old messages, 9 tokens]]"}});
  messages.push_back({{"role", "tool"}, {"content", "see [[elided zfedcba9876543210fedcba9876543210: 2 lines, 4 tokens of cut]] and [[elided zzz]]\n"}});
  messages.push_back({{"role", "user"}, {"content", "Why does the build fail?\n"}});
  const auto& tokenizer = compress::tokens::tokenizer(compress::tokens::Encoding::O200k);
  size_t before = 0;
  for (const auto& m : messages) before += tokenizer.count(m["content"].get<std::string>());

  for (size_t budget : {size_t(20000), size_t(4000)}) {
    INFO("budget " << budget << " of " << before);
    json out = server::call_json(service, "context/compact", {{"messages", messages}, {"budget", budget}});
    size_t after = 0;
    std::string all;
    std::vector<compress::Message> compacted;
    for (const auto& m : out["messages"]) {
      after += tokenizer.count(m["content"].get<std::string>());
      all += m["content"].get<std::string>();
      compacted.push_back({m["role"], m["content"], compress::kind_from_name(m["kind"].get<std::string>()).value(), m.value("pinned", false),
                           m.value("path", std::string())});
    }
    CHECK(out["tokens_before"] == before);
    CHECK(out["tokens_after"] == after);
    CHECK(after <= budget);
    CHECK(after >= size_t(0.97 * double(budget)));
    CHECK(all.find("src/parse.c:88: error: 'token' undeclared") != std::string::npos);
    CHECK(all.find("Always run the tests before you commit.\n") != std::string::npos);
    // Expanded through the method, the conversation is the input, byte for byte.
    compress::Fetch fetch = [&](std::string_view handle) -> std::optional<std::string> {
      try {
        return server::call_json(service, "context/expand", {{"handle", handle}})["text"].get<std::string>();
      } catch (const server::RpcError&) {
        return std::nullopt;  // not a handle of this server's
      }
    };
    REQUIRE(compress::restore(compacted, fetch));
    REQUIRE(compacted.size() == messages.size());
    for (size_t i = 0; i < compacted.size(); ++i) CHECK(compacted[i].content == messages[i]["content"].get<std::string>());
  }
  try {
    server::call_json(service, "context/expand", {{"handle", "z0123456789abcdef0123456789abcdef"}});
    FAIL("an unknown handle expanded");
  } catch (const server::RpcError& e) {
    CHECK(e.code == server::kInvalidParams);
    CHECK(e.message.find("no span with handle") != std::string::npos);
  }
  // Malformed params, each refused with -32602 naming what is wrong; the server goes on.
  json one = {{"role", "user"}, {"content", "hi"}};
  auto with = [&](const char* key, json value) {
    json m = one;
    m[key] = std::move(value);
    return json{{"messages", {m}}, {"budget", 10}};
  };
  struct Bad {
    json params;
    const char* says;
  };
  for (const Bad& bad : {Bad{{{"budget", 10}}, "param 'messages'"}, Bad{{{"messages", json::array()}}, "missing param 'budget'"},
                         Bad{{{"messages", json::array()}, {"budget", 0}}, "param 'budget'"},
                         Bad{{{"messages", json::array()}, {"budget", 20'000'000}}, "param 'budget'"},
                         Bad{{{"messages", "text"}, {"budget", 10}}, "param 'messages' must be a list"},
                         Bad{{{"messages", {5}}, {"budget", 10}}, "messages[0] must be an object"},
                         Bad{{{"messages", {{{"role", "user"}}}}, {"budget", 10}}, "messages[0].content must be a string"},
                         Bad{with("content", 7), "messages[0].content must be a string"},
                         Bad{with("role", nullptr), "messages[0].role must be a string"},
                         Bad{with("kind", 3), "messages[0].kind must be a string"},
                         Bad{with("kind", "wizard"), "messages[0].kind 'wizard' is none of"},
                         Bad{with("pinned", "yes"), "messages[0].pinned must be true or false"},
                         Bad{with("path", json::array()), "messages[0].path must be a string"},
                         Bad{{{"messages", json::array()}, {"budget", 10}, {"encoding", "p50k"}}, "unknown encoding 'p50k'"},
                         Bad{{{"messages", json::array()}, {"budget", 10}, {"encoding", 5}}, "param 'encoding' must be a string"}}) {
    INFO(bad.params.dump());
    try {
      server::call_json(service, "context/compact", bad.params);
      FAIL("accepted");
    } catch (const server::RpcError& e) {
      CHECK(e.code == server::kInvalidParams);
      CHECK(e.message.find(bad.says) != std::string::npos);
    }
  }
  json many = json::array();
  for (int i = 0; i < 100001; ++i) many.push_back(one);
  CHECK_THROWS_AS(server::call_json(service, "context/compact", {{"messages", many}, {"budget", 10}}), server::RpcError);
  for (json handle : {json(5), json("z0123"), json(std::string(1 << 20, 'z'))}) CHECK_THROWS_AS(server::call_json(service, "context/expand", {{"handle", handle}}), server::RpcError);
  CHECK(server::call_json(service, "context/compact", {{"messages", {one}}, {"budget", 10}})["tokens_after"] == 1);

  json map = server::call_json(service, "context/repoMap", {{"budget", 30}});
  CHECK(map["tokens"].get<size_t>() <= 30);
  CHECK(tokenizer.count(map["text"].get<std::string>()) == map["tokens"].get<size_t>());
  CHECK(map["text"].get<std::string>().starts_with("app/core.py:\n"));
  json focused = server::call_json(service, "context/repoMap", {{"budget", 30}, {"focus", {"connect"}}});
  CHECK(focused["text"].get<std::string>().starts_with("app/db.py:\n"));
}
