// Reading JSON without a tree (server/json_scan.h), checked against nlohmann on the same texts.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

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
