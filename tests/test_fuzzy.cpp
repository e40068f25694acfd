#include <catch2/catch.hpp>

#include "query/fuzzy_match.h"
#include "query/trigram.h"

using query::FuzzyMatcher;

namespace {
int score(std::string_view pattern, std::string_view word) {
  FuzzyMatcher m(pattern);
  auto s = m.match(word);
  REQUIRE(s.has_value());
  return *s;
}
bool matches(std::string_view pattern, std::string_view word) { return FuzzyMatcher(pattern).match(word).has_value(); }
}  // namespace

TEST_CASE("fuzzy: the pattern must be a subsequence, case-insensitively", "[fuzzy]") {
  CHECK(matches("gRS", "getResponseStatus"));
  CHECK(matches("grs", "getResponseStatus"));
  CHECK(matches("rsp", "response"));
  CHECK_FALSE(matches("xyz", "getResponseStatus"));
  CHECK_FALSE(matches("statusget", "getStatus"));
  CHECK(matches("", "anything"));
}

TEST_CASE("fuzzy: segment starts beat scattered letters", "[fuzzy]") {
  // g-R-S on humps, against the same letters buried mid-word.
  CHECK(score("gRS", "getResponseStatus") > score("gRS", "gorgeousrunsstuff"));
  CHECK(score("fb", "foo_bar") > score("fb", "fabric"));
  CHECK(score("http", "HTTPServer") > score("http", "ahttpb"));
}

TEST_CASE("fuzzy: consecutive runs and matching case earn more", "[fuzzy]") {
  CHECK(score("resp", "getResponse") > score("resp", "getRaceEventSetPlan"));
  CHECK(score("Foo", "Foo") > score("Foo", "foo"));
  CHECK(score("fOO", "fOO") > score("fOO", "foo"));
  // A pattern all in lower case says nothing about case.
  CHECK(score("foo", "foo") == score("foo", "FOO"));
}

TEST_CASE("fuzzy: strict case keeps only alignments the typed case agrees with", "[fuzzy]") {
  auto strict = [](std::string_view pattern, std::string_view word) { return FuzzyMatcher(pattern).match(word, true).has_value(); };
  // Small r and l typed: not on the R and L humps.
  CHECK_FALSE(strict("TestSrl", "TestSingleRequestLookup"));
  CHECK(strict("TestSrl", "TestSerialization"));
  // A capital on a small letter inside a word contradicts; on a snake_case word's start it does not.
  CHECK_FALSE(strict("ISL", "islink"));
  CHECK(strict("ASH", "add_set_handler"));
  // A pattern in lower case says nothing about case.
  CHECK(strict("testsrl", "TestSingleRequestLookup"));
}

TEST_CASE("fuzzy: long words are matched on their first kMaxWord characters", "[fuzzy]") {
  std::string long_word(300, 'a');
  CHECK(matches("aaa", long_word));
  CHECK_FALSE(matches("b", long_word + "b"));
}

TEST_CASE("roles: humps, snake words, digits", "[fuzzy]") {
  std::string word = "getHTTPServer_v2x";
  query::CharRole roles[32];
  query::char_roles(word, roles, sizeof roles);
  std::string heads;
  for (size_t i = 0; i < word.size(); ++i)
    if (roles[i] == query::CharRole::Head) heads += word[i];
  CHECK(heads == "gHSv2x");
}

TEST_CASE("trigrams: query tokens are a subset of the identifier's for hump abbreviations", "[trigram]") {
  auto subset = [](std::string_view q, std::string_view id) {
    std::vector<query::Token> qt, it;
    query::query_tokens(q, qt);
    query::identifier_tokens(id, it);
    return std::includes(it.begin(), it.end(), qt.begin(), qt.end());
  };
  CHECK(subset("grs", "getResponseStatus"));
  CHECK(subset("respstat", "getResponseStatus"));
  CHECK(subset("sponse", "getResponseStatus"));
  CHECK(subset("get_name", "getName"));
  CHECK(subset("gs", "getStatus"));
  CHECK(subset("s", "getStatus"));
  CHECK_FALSE(subset("xyz", "getResponseStatus"));
  CHECK_FALSE(subset("et", "getStatus"));  // two-letter queries start at a segment
}
