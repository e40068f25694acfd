// Reading JSON without a tree (server/json_scan.h), checked against nlohmann on the same texts.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "server/json_scan.h"

namespace scan = server::json_scan;

TEST_CASE("json_scan: accepts what nlohmann accepts, and only that", "[json_scan]") {
  const std::vector<std::string> texts = {
      "0", "-0", "12", "-3.5e+7", "1E2", "true", "false", "null", "\"\"", "\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\"",
      "[]", "{}", " [ 1 , {\"a\" : [ null ] } ] ", "{\"a\":1,\"b\":{\"c\":\"d\"}}",
      // and not
      "", " ", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"a\tb\"",
      "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[", "]", "{\"a\":1}}", "1 2", "[1]x"};
  for (const auto& t : texts) {
    INFO(t);
    CHECK(scan::whole(t) == nlohmann::json::accept(t));
  }
}

TEST_CASE("json_scan: agrees with nlohmann on an answer with bytes changed, dropped and repeated", "[json_scan]") {
  const std::string answer =
      R"j({"id":1,"jsonrpc":"2.0","result":[{"column":1,"container":"A\"b","end_line":51,"kind":"function",)j"
      R"j("line":33,"name":"parse","path":"py/ast.py","score":-5.25e+2,"signature":"def parse(s='\u00e9\n')","x":[true,false,null,{}]}]})j";
  const std::string alphabet = "{}[]:,\"\\ntu0123456789-+.eE abc\t";
  std::mt19937 rng(12345);
  for (int round = 0; round < 20000; ++round) {
    std::string t = answer;
    for (int edits = 1 + int(rng() % 3); edits > 0; --edits) {
      size_t at = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: t.erase(at, 1 + rng() % 3); break;
        default: {
          const std::string repeated = t.substr(at, 1 + rng() % 4);
          t.insert(at, repeated);
        }
      }
      if (t.empty()) t.push_back('x');
    }
    INFO(t);
    REQUIRE(scan::whole(t) == nlohmann::json::accept(t));
    if (!scan::whole(t)) continue;
    // What the CLI reads of an answer that is well-formed: the same as nlohmann's tree.
    auto tree = nlohmann::json::parse(t);
    std::string_view result = scan::member(t, "result");
    REQUIRE(result.empty() == !(tree.is_object() && tree.contains("result")));
    if (result.empty() || !tree["result"].is_array()) continue;
    scan::Items hits(result);
    for (const auto& hit : tree["result"]) {
      std::string_view h;
      REQUIRE(hits.next(h));
      if (!hit.is_object() || !hit.contains("name") || !hit["name"].is_string()) continue;
      CHECK(scan::string_value(scan::member(h, "name")) == hit["name"].get<std::string>());
    }
  }
}

TEST_CASE("json_scan: nesting deeper than kMaxDepth is refused, not recursed into", "[json_scan]") {
  auto nested = [](int depth) { return std::string(size_t(depth), '[') + std::string(size_t(depth), ']'); };
  CHECK(scan::whole(nested(scan::kMaxDepth)));
  CHECK_FALSE(scan::whole(nested(scan::kMaxDepth + 1)));
  CHECK_FALSE(scan::whole(std::string(100000, '[')));
}

TEST_CASE("json_scan: members and elements are spans of the text", "[json_scan]") {
  std::string text = R"({"id":1, "result" : [{"name":"parse","line":33},{"name":"a\"b","line":7}], "x":null})";
  REQUIRE(scan::whole(text));
  CHECK(scan::member(text, "id") == "1");
  CHECK(scan::member(text, "x") == "null");
  CHECK(scan::member(text, "nothing").empty());
  CHECK(scan::member("[1,2]", "").empty());  // an array has no members
  std::string_view result = scan::member(text, "result");
  std::vector<std::string> names;
  std::vector<uint64_t> lines;
  scan::Items items(result);
  for (std::string_view hit; items.next(hit);) {
    names.push_back(scan::string_value(scan::member(hit, "name")).value_or("?"));
    lines.push_back(scan::unsigned_value(scan::member(hit, "line")).value_or(0));
  }
  CHECK(names == std::vector<std::string>{"parse", "a\"b"});
  CHECK(lines == std::vector<uint64_t>{33, 7});
  scan::Items empty("[ ]");
  std::string_view v;
  CHECK_FALSE(empty.next(v));
}

TEST_CASE("json_scan: strings decode as nlohmann decodes them", "[json_scan]") {
  for (std::string t : {R"("plain")", R"("tab\tquote\"slash\/back\\")", R"("\u00e9\u4e2d")", R"("\ud83d\ude00 pair")",
                        "\"caf\xc3\xa9 raw\"", R"("\u0000nul")"}) {
    INFO(t);
    CHECK(scan::string_value(t) == nlohmann::json::parse(t).get<std::string>());
  }
  // nlohmann refuses a lone surrogate; a reader of a server's answer shows U+FFFD instead.
  CHECK(scan::string_value(R"("a\ud800b")") == "a\xef\xbf\xbd" "b");
  CHECK(scan::string_value(R"("\udc00")") == "\xef\xbf\xbd");
  CHECK_FALSE(scan::string_value("12"));
  CHECK_FALSE(scan::string_value(R"("open)"));
}

TEST_CASE("json_scan: unsigned numbers only", "[json_scan]") {
  CHECK(scan::unsigned_value("0") == 0u);
  CHECK(scan::unsigned_value("18446744073709551615") == UINT64_MAX);
  for (const char* bad : {"-1", "1.5", "1e3", "18446744073709551616", "\"1\"", "", "01"}) {
    INFO(bad);
    CHECK_FALSE(scan::unsigned_value(bad));
  }
}
