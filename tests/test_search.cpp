// Ranking through the real builder and search, on a small hand-made index.
#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "helpers.h"
#include "indexer/indexer.h"
#include "query/query.h"

using query::Kind;
using query::Language;

namespace {

struct Sym {
  std::string name;
  Kind kind;
  std::string container = "";
  uint32_t line = 0;
};

std::unique_ptr<query::Index> build(const std::vector<std::pair<std::string, std::vector<Sym>>>& files,
                                    Language lang = Language::TypeScript) {
  query::IndexBuilder b;
  for (const auto& [path, syms] : files) {
    std::vector<query::SymbolInput> in;
    for (const auto& s : syms) in.push_back({s.name, s.container, "", s.kind, {{s.line, 0}, {s.line + 1, 0}}, {{s.line, 0}, {s.line, 1}}});
    query::FileInput f;
    f.path = path;
    f.language = lang;
    f.symbols = in;
    b.add(f);
  }
  return b.finish();
}

std::vector<std::string> names(const query::Index& index, const query::SearchRequest& req) {
  std::vector<std::string> out;
  for (const auto& h : query::search(index, req)) {
    auto s = index.symbol(h.symbol);
    out.push_back(s.container.empty() ? std::string(s.name) : std::string(s.container) + "." + std::string(s.name));
  }
  return out;
}

std::vector<std::string> names(const query::Index& index, std::string_view pattern, size_t limit = 50) {
  query::SearchRequest req;
  req.pattern = pattern;
  req.limit = limit;
  return names(index, req);
}

}  // namespace

TEST_CASE("search: exact beats prefix beats substring beats fuzzy", "[search]") {
  auto index = build({{"a.ts",
                       {{"getResponseStatus", Kind::Function},
                        {"status", Kind::Function},
                        {"statusBar", Kind::Function},
                        {"httpStatus", Kind::Function},
                        {"sTaTuS", Kind::Variable},
                        {"someThingAtUs", Kind::Function}}}});
  auto got = names(*index, "status");
  REQUIRE(got.size() >= 5);
  // Exact (case-insensitive) first, the one with the typed case ahead.
  CHECK(got[0] == "status");
  CHECK(got[1] == "sTaTuS");
  CHECK(got[2] == "statusBar");
  // Substring matches next, the shorter name first.
  CHECK(got[3] == "httpStatus");
  CHECK(got[4] == "getResponseStatus");
}

TEST_CASE("search: camel-hump queries", "[search]") {
  auto index = build({{"a.ts",
                       {{"getResponseStatus", Kind::Method},
                        {"getRawSocket", Kind::Method},
                        {"GreaterThanRightShift", Kind::Class},
                        {"unrelated", Kind::Function}}}});
  auto got = names(*index, "gRS");
  REQUIRE(!got.empty());
  CHECK(got.size() == 3);
  CHECK(std::find(got.begin(), got.end(), "unrelated") == got.end());
  CHECK(names(*index, "getRespStat") == std::vector<std::string>{"getResponseStatus"});
}

TEST_CASE("search: qualified queries match the container or the path", "[search]") {
  auto index = build({{"src/server/http.ts", {{"Server", Kind::Class}, {"start", Kind::Method, "Server", 3}}},
                      {"src/client/conn.ts", {{"Client", Kind::Class}, {"start", Kind::Method, "Client", 5}}},
                      {"src/jobs.ts", {{"start", Kind::Function, "", 9}}}});
  CHECK(names(*index, "Server.start") == std::vector<std::string>{"Server.start"});
  CHECK(names(*index, "Cli.start") == std::vector<std::string>{"Client.start"});
  CHECK(names(*index, "Client::start") == std::vector<std::string>{"Client.start"});
  CHECK(names(*index, "server/start") == std::vector<std::string>{"Server.start"});
  CHECK(names(*index, "jobs.ts:start") == std::vector<std::string>{"start"});
  // A trailing separator lists the container's members.
  CHECK(names(*index, "Client.") == std::vector<std::string>{"Client.start"});
}

TEST_CASE("search: filters by kind, language and path glob", "[search]") {
  query::IndexBuilder b;
  auto add = [&](std::string path, Language lang, std::vector<query::SymbolInput> syms) {
    query::FileInput f;
    f.path = path;
    f.language = lang;
    f.symbols = syms;
    b.add(f);
  };
  add("py/app.py", Language::Python, {{"handler", "", "", Kind::Function, {}, {}}, {"Handler", "", "", Kind::Class, {}, {}}});
  add("go/app.go", Language::Go, {{"handler", "", "", Kind::Function, {}, {}}});
  add("go/app_test.go", Language::Go, {{"handlerTest", "", "", Kind::Function, {}, {}}});
  auto index = b.finish();

  query::SearchRequest req;
  req.pattern = "handler";
  req.kinds = query::kind_bit(Kind::Class);
  CHECK(names(*index, req) == std::vector<std::string>{"Handler"});

  req.kinds = 0;
  req.languages = 1u << uint32_t(Language::Go);
  CHECK(names(*index, req) == std::vector<std::string>{"handler", "handlerTest"});

  req.path_glob = "*_test.go";
  CHECK(names(*index, req) == std::vector<std::string>{"handlerTest"});

  req.languages = 0;
  req.path_glob = "py/**";
  CHECK(names(*index, req).size() == 2);
  req.path_glob = "py";
  CHECK(names(*index, req).size() == 2);
}

TEST_CASE("search: ties break by kind, length, then path and line", "[search]") {
  auto index = build({{"b.ts", {{"run", Kind::Variable, "", 1}, {"run", Kind::Function, "", 2}}},
                      {"a.ts", {{"run", Kind::Function, "", 7}, {"run", Kind::Function, "", 3}}}});
  auto hits = query::search(*index, {"run", 10});
  REQUIRE(hits.size() == 4);
  std::vector<std::string> where;
  for (auto& h : hits) {
    auto s = index->symbol(h.symbol);
    where.push_back(std::string(s.path) + ":" + std::to_string(s.range.start.line) + ":" + std::string(query::kind_name(s.kind)));
  }
  CHECK(where == std::vector<std::string>{"a.ts:3:function", "a.ts:7:function", "b.ts:2:function", "b.ts:1:variable"});
  // The same query twice gives the same order.
  auto again = query::search(*index, {"run", 10});
  for (size_t i = 0; i < hits.size(); ++i) CHECK(again[i].symbol == hits[i].symbol);
}

TEST_CASE("search: limit and top-k keep the best", "[search]") {
  std::vector<Sym> syms;
  for (int i = 0; i < 500; ++i) syms.push_back({"item" + std::to_string(i), Kind::Variable});
  syms.push_back({"item", Kind::Class});
  auto index = build({{"x.ts", syms}});
  auto got = names(*index, "item", 3);
  REQUIRE(got.size() == 3);
  CHECK(got[0] == "item");
}

TEST_CASE("index: names are stored once and exact lookup finds every symbol", "[index]") {
  auto index = build({{"a.ts", {{"dup", Kind::Function}, {"dup", Kind::Variable, "X"}}}, {"b.ts", {{"dup", Kind::Class}}}});
  CHECK(index->symbol_count() == 3);
  CHECK(index->name_count() == 1);
  CHECK(index->find_exact("dup").size() == 3);
  CHECK(index->find_exact("Dup").empty());
  CHECK(index->find_file("b.ts").has_value());
  CHECK_FALSE(index->find_file("c.ts").has_value());
}

TEST_CASE("glob: wildmatch with FNM_PATHNAME", "[glob]") {
  using query::glob_match;
  CHECK(glob_match("*.ts", "a.ts"));
  CHECK_FALSE(glob_match("*.ts", "src/a.ts"));
  CHECK(glob_match("src/**/*.ts", "src/a.ts"));
  CHECK(glob_match("src/**/*.ts", "src/x/y/a.ts"));
  CHECK(glob_match("**/test", "a/b/test"));
  CHECK(glob_match("src/**", "src/a/b"));
  CHECK(glob_match("a?c", "abc"));
  CHECK_FALSE(glob_match("a?c", "a/c"));
  CHECK(glob_match("[a-c]x", "bx"));
  CHECK_FALSE(glob_match("[!a-c]x", "bx"));
  CHECK(glob_match("\\*", "*"));
}

TEST_CASE("search: space-separated words each start a segment, in any order", "[search]") {
  auto index = build({{"a.ts",
                       {{"getResponseStatus", Kind::Method},
                        {"status_of_response", Kind::Function},
                        {"responseTime", Kind::Field},
                        {"irresponsibleStatus", Kind::Variable}}}});
  auto got = names(*index, "response status");
  std::sort(got.begin(), got.end());
  // "irresponsible" contains "respons" but no segment starts with it.
  CHECK(got == std::vector<std::string>{"getResponseStatus", "status_of_response"});
  CHECK(names(*index, "  resp  stat ").size() == 2);
  CHECK(names(*index, "response nothing").empty());
}

TEST_CASE("index: ranges round-trip, and the selection ends after the name", "[index]") {
  query::IndexBuilder b;
  std::vector<query::SymbolInput> in = {
      {"area", "Shape", "def area(self)", Kind::Method, {{11, 4}, {13, 20}}, {{12, 8}, {12, 12}}}};
  query::FileInput f;
  f.path = "s.py";
  f.language = Language::Python;
  f.symbols = in;
  b.add(f);
  auto index = b.finish();
  auto s = index->symbol(0);
  CHECK(s.range.start.line == 11);
  CHECK(s.range.start.column == 4);
  CHECK(s.range.end.line == 13);
  CHECK(s.range.end.column == 20);
  CHECK(s.selection.start.line == 12);
  CHECK(s.selection.start.column == 8);
  CHECK(s.selection.end.line == 12);
  CHECK(s.selection.end.column == 12);
  CHECK(s.signature == "def area(self)");
  CHECK(s.container == "Shape");
}

TEST_CASE("search: edge cases from review", "[search]") {
  std::string long_name = std::string(140, 'a') + "Needle";
  std::string y = "VeryLongIdentifierNameThatGoesOnAndOnPastTheSixtyThreeByteFuzzyPatternLimit";
  std::string x = y.substr(0, 63);
  auto index = build({{"a.ts",
                       {{long_name, Kind::Variable},
                        {y, Kind::Function},
                        {x, Kind::Function},
                        {"getName", Kind::Method},
                        {"valid", Kind::Variable}}},
                      {"docs/hosts.py", {{"path", Kind::Function}}},
                      {"lib/os.py", {{"path", Kind::Function}}}});
  // A name longer than the walk limit is still found by a substring past it.
  CHECK(names(*index, "needle") == std::vector<std::string>{long_name});
  // A pattern longer than the fuzzy limit is compared whole in the exact tier.
  auto hits = query::search(*index, {y, 5});
  REQUIRE(hits.size() == 1);
  CHECK(index->symbol(hits[0].symbol).name == y);
  CHECK(hits[0].tier == query::MatchTier::Exact);
  // Separators in the pattern do not have to appear in the name. (The long names hold g-e-t-n-a-m-e
  // scattered from "Goes" on: found too, below.)
  CHECK(names(*index, "get_name") == std::vector<std::string>{"getName", x, y});
  // A module-like qualifier must start a path component.
  CHECK(names(*index, "os.path") == std::vector<std::string>{"path"});
  auto os = query::search(*index, {"os.path", 5});
  REQUIRE(os.size() == 1);
  CHECK(index->symbol(os[0].symbol).path == "lib/os.py");
  // Separators alone name nothing; a huge limit is fine.
  CHECK(names(*index, "::").empty());
  CHECK(query::search(*index, {"getName", size_t(1) << 40}).size() == 3);
}

TEST_CASE("search: path globs behave as in .gitignore", "[search]") {
  auto index = build({{"src/build/gen.ts", {{"gen", Kind::Function}}},
                      {"build/out.ts", {{"gen", Kind::Function}}},
                      {"src/app.ts", {{"gen", Kind::Function}}}});
  auto paths = [&](std::string glob) {
    query::SearchRequest req;
    req.pattern = "gen";
    req.path_glob = glob;
    std::vector<std::string> out;
    for (auto& h : query::search(*index, req)) out.emplace_back(index->symbol(h.symbol).path);
    std::sort(out.begin(), out.end());
    return out;
  };
  CHECK(paths("build/") == std::vector<std::string>{"build/out.ts", "src/build/gen.ts"});
  CHECK(paths("/build/") == std::vector<std::string>{"build/out.ts"});
  CHECK(paths("/src/**") == std::vector<std::string>{"src/app.ts", "src/build/gen.ts"});
  CHECK(paths("src") == std::vector<std::string>{"src/app.ts", "src/build/gen.ts"});
  CHECK(paths("*.ts").size() == 3);
}

// Both plans of a qualified query must return the same hits; generated from every container of
// the real fixtures: member queries, abbreviated ones, fuzzy ones, path-qualified module ones.
TEST_CASE("search: a qualified query gives the same hits from names or from its qualifier", "[search]") {
  auto r = indexer::index_tree(FIXTURES_DIR "/symbols", {});
  REQUIRE(r.index);
  const query::Index& index = *r.index;
  std::set<std::string> patterns;
  auto last_part = [](std::string_view c) {
    size_t cut = c.find_last_of(".:#\\/");
    return std::string(cut == std::string_view::npos ? c : c.substr(cut + 1));
  };
  for (uint32_t id = 0; id < index.symbol_count(); ++id) {
    query::Symbol s = index.symbol(id);
    std::string name(s.name), stem = std::filesystem::path(std::string(s.path)).stem().string();
    patterns.insert(stem + "." + name.substr(0, 2));
    if (s.container.empty()) continue;
    std::string part = last_part(s.container);
    patterns.insert(part + "." + name);
    patterns.insert(part + "::" + name.substr(0, 1));
    patterns.insert(std::string(s.container) + "." + name);
    patterns.insert(part.substr(0, 2) + "." + name.substr(0, 3));
    patterns.insert(part + ".");
    if (name.size() > 3) patterns.insert(part + "." + name.substr(0, 1) + name.substr(2));  // fuzzy
    if (name.size() > 4) patterns.insert(part + "." + name.substr(0, 1) + name.substr(2, 1) + name.substr(4, 1));  // scattered
  }
  REQUIRE(patterns.size() > 500);
  size_t nonempty = 0;
  for (const std::string& p : patterns) {
    for (size_t limit : {size_t(3), size_t(50)}) {
      query::SearchRequest by_name;
      by_name.pattern = p;
      by_name.limit = limit;
      by_name.plan = query::SearchRequest::Plan::ByName;
      query::SearchRequest by_qualifier = by_name;
      by_qualifier.plan = query::SearchRequest::Plan::ByQualifier;
      auto a = query::search(index, by_name), b = query::search(index, by_qualifier);
      INFO(p << " limit " << limit);
      REQUIRE(a.size() == b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].symbol == b[i].symbol);
        CHECK(a[i].score == b[i].score);
        CHECK(a[i].tier == b[i].tier);
      }
      nonempty += !a.empty();
    }
  }
  CHECK(nonempty > patterns.size());  // most patterns find something, so the comparison bites
}

TEST_CASE("search: letters scattered inside words find abbreviations, below every segment-aware hit", "[search]") {
  auto index = build({{"a.ts",
                       {{"LoggerWithFormatter", Kind::Class},
                        {"BackgroundCompaction", Kind::Function},
                        {"ConfigManager", Kind::Class},
                        {"CfgReader", Kind::Class},
                        {"reconfigure", Kind::Function},
                        {"MessageQueue", Kind::Class}}}});
  auto tiers = [&](std::string_view pattern) {
    query::SearchRequest req;
    req.pattern = pattern;
    std::vector<std::string> out;
    for (const auto& h : query::search(*index, req))
      out.push_back(std::string(index->symbol(h.symbol).name) + " " + std::string(query::tier_name(h.tier)));
    return out;
  };
  CHECK(tiers("LoggerWithFmt") == std::vector<std::string>{"LoggerWithFormatter scattered"});
  CHECK(tiers("bgcompaction") == std::vector<std::string>{"BackgroundCompaction scattered"});
  // The prefix hit first; then the scattered ones, a word start (Config) before a word's inside
  // (reconfigure's c is no segment start, so it is no candidate at all).
  CHECK(tiers("Cfg") == std::vector<std::string>{"CfgReader prefix", "ConfigManager scattered"});
  CHECK(tiers("Mgr") == std::vector<std::string>{"ConfigManager scattered"});
  CHECK(tiers("Msg") == std::vector<std::string>{"MessageQueue scattered"});
  // Qualified, through either plan (the qualified-query test compares them on every fixture).
  CHECK(names(*index, "a.Fmt") == std::vector<std::string>{"LoggerWithFormatter"});
  CHECK(tiers("xyz").empty());
  CHECK(tiers("gfc").empty());  // letters all there, out of order
}

TEST_CASE("search: an acronym in the name's case beats a substring inside a word", "[search]") {
  auto index = build({{"a.java",
                       {{"testSkipObjectAfterPeek", Kind::Method},
                        {"RTAF_GSON", Kind::Constant},
                        {"TypeAdapterFactory", Kind::Interface},
                        {"DocumentHighlight", Kind::Class},
                        {"TypeHierarchyItem", Kind::Class},
                        {"MyTafParser", Kind::Class}}}});
  auto taf = names(*index, "TAF", 4);
  REQUIRE(taf.size() == 4);
  CHECK(taf[0] == "TypeAdapterFactory");
  CHECK(taf[1] == "MyTafParser");  // a substring at a segment start, then those inside words
  CHECK(names(*index, "THI", 1) == std::vector<std::string>{"TypeHierarchyItem"});
  // In lower case an acronym is evidence as good as a substring at a segment start (the matcher
  // then prefers three segment starts), and both beat substrings inside words.
  auto lower = names(*index, "taf", 4);
  REQUIRE(lower.size() == 4);
  CHECK(lower[0] == "TypeAdapterFactory");
  CHECK(lower[1] == "MyTafParser");
  // So does an acronym of a snake_case name typed in capitals.
  auto snake = build({{"a.py", {{"add_set_handler", Kind::Function}, {"SLASH", Kind::Constant}, {"flash", Kind::Function}}}});
  CHECK(names(*snake, "ASH", 1) == std::vector<std::string>{"add_set_handler"});
}

TEST_CASE("search: among equals, code before tests and public names before private ones", "[search]") {
  auto index = build({{"src/__tests__/client.test.ts", {{"Client", Kind::Class}}},
                      {"src/client.spec.ts", {{"Client", Kind::Class}}},
                      {"tests/helpers.ts", {{"Client", Kind::Class}}},
                      {"src/client.ts", {{"Client", Kind::Class}, {"_parse", Kind::Function}}},
                      {"src/parse.ts", {{"parse", Kind::Function}, {"__init__", Kind::Function}}}});
  auto first_path = [&](std::string_view pattern) {
    auto hits = query::search(*index, {pattern, 4});
    return hits.empty() ? std::string() : std::string(index->symbol(hits[0].symbol).path);
  };
  CHECK(first_path("Client") == "src/client.ts");
  CHECK(query::search(*index, {"Client", 10}).size() == 4);  // the others still listed
  CHECK(names(*index, "parse", 2) == std::vector<std::string>{"parse", "_parse"});
}

TEST_CASE("search: a prefix that ends a segment first, then the shorter name", "[search]") {
  auto index = build({{"a.py",
                       {{"optionxform", Kind::Function},
                        {"option_parser_for_everything", Kind::Function},
                        {"optional", Kind::Function},
                        {"OptionGroup", Kind::Class},
                        {"GeneratorType", Kind::Class},
                        {"generate_tokens", Kind::Function},
                        {"Generator", Kind::Class}}}});
  // `option` is a whole word of OptionGroup and option_parser_...; it stops inside optional.
  CHECK(names(*index, "option") == std::vector<std::string>{"OptionGroup", "option_parser_for_everything", "optional", "optionxform"});
  // No name ends a segment there: the shorter first, as fzf lists them.
  CHECK(names(*index, "generat") == std::vector<std::string>{"Generator", "GeneratorType", "generate_tokens"});
  // A prefix in all but the underscores ranks by the same rules.
  CHECK(names(*index, "optionparser", 1) == std::vector<std::string>{"option_parser_for_everything"});
}

TEST_CASE("search: an acronym of every segment ranks with the prefixes", "[search]") {
  auto index = build({{"a.py",
                       {{"islink", Kind::Function},
                        {"is_site_local", Kind::Function},
                        {"isl_config", Kind::Function},
                        {"is_something_else_long", Kind::Function}}},
                      {"b.java", {{"TypeAdapterFactoryBuilder", Kind::Class}, {"TypeAdapterFactory", Kind::Interface}}}});
  // A prefix that ends a word, then the whole acronym, then a prefix inside a word; an acronym
  // of some segments only (i-s-l skips `else`) ranks with the substrings.
  CHECK(names(*index, "isl") == std::vector<std::string>{"isl_config", "is_site_local", "islink", "is_something_else_long"});
  CHECK(names(*index, "TAF", 1) == std::vector<std::string>{"TypeAdapterFactory"});
  // Two letters are too few to read as an acronym: `is` is a prefix of all four.
  CHECK(names(*index, "is", 4).size() == 4);
}

TEST_CASE("search: typed capitals that a name contradicts rank lower", "[search]") {
  auto index = build({{"a.go",
                       {{"isl_config", Kind::Function},
                        {"is_site_local", Kind::Function},
                        {"TestSingleRequestLookup", Kind::Function},
                        {"TestSerialization", Kind::Function}}}});
  // `ISL` puts capitals on isl_config's small letters inside a word (fzf would not list it); the
  // acronym's segment starts have no case to contradict.
  CHECK(names(*index, "ISL") == std::vector<std::string>{"is_site_local", "isl_config"});
  CHECK(names(*index, "isl") == std::vector<std::string>{"isl_config", "is_site_local"});
  // `TestSrl`: the small r and l say "inside a word", so TestSingleRequestLookup's R and L humps
  // are no better than Serialization's scattered letters, where the matcher prefers the latter.
  auto tiers = [&](std::string_view pattern) {
    std::vector<std::string> out;
    for (const auto& h : query::search(*index, {pattern, 10}))
      out.push_back(std::string(index->symbol(h.symbol).name) + " " + std::string(query::tier_name(h.tier)));
    return out;
  };
  CHECK(tiers("TestSrl") == std::vector<std::string>{"TestSerialization scattered", "TestSingleRequestLookup scattered"});
  CHECK(tiers("testsrl").front() == "TestSingleRequestLookup fuzzy");  // in lower case, humps are fair game
}

TEST_CASE("search: words in any order; a word that is a whole segment ranks first", "[search]") {
  auto index = build({{"a.py",
                       {{"InvalidStateError", Kind::Class},
                        {"INVALID_MODIFICATION_ERR", Kind::Constant},
                        {"cache_clear", Kind::Function},
                        {"clear_cache", Kind::Function},
                        {"clear_extension_cache", Kind::Function}}}});
  CHECK(names(*index, "err invalid", 1) == std::vector<std::string>{"INVALID_MODIFICATION_ERR"});
  // A name that starts with any of the words is a prefix match, whichever word was typed first.
  auto hits = query::search(*index, {"cache clear", 10});
  REQUIRE(hits.size() == 3);
  CHECK(hits[0].tier == query::MatchTier::Prefix);
  CHECK(hits[1].tier == query::MatchTier::Prefix);
  CHECK(index->symbol(hits[2].symbol).name == "clear_extension_cache");
}

TEST_CASE("search: a C or C++ file's static definitions after the public ones", "[search]") {
  test::TempDir dir;
  dir.write("a/local.c", "static inline int parse_config(const char *s) { return 0; }\n");
  dir.write("b/api.c", "int parse_config(const char *s) { return 1; }\n");
  dir.write("c/config.hpp", "class Config {\n public:\n  static int parse_config(const char *s);\n};\n");
  auto r = indexer::index_tree(dir.path().string(), {});
  REQUIRE(r.index);
  std::vector<std::string> where;
  for (const auto& h : query::search(*r.index, {"parse_config", 10})) where.push_back(std::string(r.index->symbol(h.symbol).path));
  // The static member of a class is public API; the file-static function is not.
  CHECK(where == std::vector<std::string>{"b/api.c", "c/config.hpp", "a/local.c"});
}
