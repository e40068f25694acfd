#include <catch2/catch.hpp>

#include "indexer/ignore.h"
#include "query/query.h"

using indexer::detail::IgnoreStack;
using indexer::detail::parse_ignore;

TEST_CASE("gitignore: names, anchors, directories, negation", "[ignore]") {
  IgnoreStack s;
  s.push(parse_ignore("", "# comment\n*.log\n/build\nout/\n!keep.log\ndocs/**/*.tmp\n\\#hash\n"));
  CHECK(s.ignored("a.log", false));
  CHECK(s.ignored("deep/dir/a.log", false));
  CHECK_FALSE(s.ignored("keep.log", false));       // re-included by the later line
  CHECK(s.ignored("build", true));
  CHECK_FALSE(s.ignored("src/build", true));       // anchored at the root
  CHECK(s.ignored("out", true));
  CHECK(s.ignored("src/out", true));
  CHECK_FALSE(s.ignored("out", false));            // "out/" matches directories only
  CHECK(s.ignored("docs/a/b/x.tmp", false));
  CHECK(s.ignored("docs/x.tmp", false));
  CHECK(s.ignored("#hash", false));
  CHECK_FALSE(s.ignored("src/main.c", false));
}

TEST_CASE("gitignore: a nested file applies below its directory and overrides", "[ignore]") {
  IgnoreStack s;
  s.push(parse_ignore("", "*.gen.ts\n"));
  s.push(parse_ignore("web", "!*.gen.ts\n/local.ts\n"));
  CHECK(s.ignored("a.gen.ts", false));
  CHECK_FALSE(s.ignored("web/a.gen.ts", false));
  CHECK(s.ignored("web/local.ts", false));
  CHECK_FALSE(s.ignored("local.ts", false));
  CHECK_FALSE(s.ignored("webby/local.ts", false));
}

TEST_CASE("gitignore: CRLF and trailing spaces", "[ignore]") {
  IgnoreStack s;
  s.push(parse_ignore("", "a.txt  \r\nb\\ \r\n"));
  CHECK(s.ignored("a.txt", false));
  CHECK(s.ignored("b ", false));
}

TEST_CASE("gitignore: a trailing lone backslash voids the line, escaped backslashes count", "[ignore]") {
  IgnoreStack s;
  s.push(parse_ignore("", "foo\\\nbar\\\\  \n"));
  CHECK_FALSE(s.ignored("foo\\", false));
  CHECK(s.ignored("bar\\", false));  // "bar\\" is an escaped backslash; the spaces go
}

TEST_CASE("gitignore: rules from a directory above the root see the path from there", "[ignore]") {
  IgnoreStack s;
  auto top = parse_ignore("", "/sub/build/\n*.log\n");
  top.above = "sub/";
  s.push(std::move(top));
  CHECK(s.ignored("build", true));
  CHECK(s.ignored("x/y.log", false));
  CHECK_FALSE(s.ignored("x/build", true));
}

TEST_CASE("gitignore: many stars against long names answer right, with bounded backtracking", "[ignore]") {
  // Without wildmatch's aborts each of these takes exponential time (over 30 s in Release).
  const std::string a200(200, 'a');
  std::string deep;
  for (int i = 0; i < 60; ++i) deep += "a/";
  deep += "c.c";
  IgnoreStack s;
  s.push(parse_ignore("", "*a*a*a*a*a*a*a*a*a*a*a*a*b\n**/a/**/a/**/a/**/a/**/a/**/a/**/b\n"));
  CHECK_FALSE(s.ignored(a200, false));
  CHECK(s.ignored(a200 + "b", false));
  CHECK_FALSE(s.ignored(deep, false));
  CHECK(s.ignored(deep.substr(0, deep.size() - 3) + "b", true));
  CHECK_FALSE(query::glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", a200));
  CHECK(query::glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", a200));
  CHECK_FALSE(query::glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", a200 + "/" + a200));  // '*' stops at '/'
  CHECK(query::glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/c.c", deep));
  CHECK_FALSE(query::glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/b", deep));
  CHECK_FALSE(query::glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/c.c", "a/a/a/a/a/c.c"));  // six a's needed
  CHECK(query::glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/c.c", "a/a/a/a/a/a/c.c"));
}

TEST_CASE("glob: the aborts keep git's answers where a later star or \"**\" must go on", "[ignore]") {
  // A '*' that fails at a '/' leaves the choice to an earlier "**"; one that runs out of text
  // ends the match.
  CHECK(query::glob_match("**/x*y/z", "a/xqq/x1y/z"));
  CHECK(query::glob_match("*/**/b*c", "q/a/bxc/bxxc"));
  CHECK_FALSE(query::glob_match("*/**/b*c", "q/a/bxc/bxxd"));
  CHECK(query::glob_match("a*b*c", "aXbYbZc"));
  CHECK_FALSE(query::glob_match("a*b*c", "aXbYbZ"));
  CHECK(query::glob_match("**/a*/c", "x/ab/a/c"));
  CHECK(query::glob_match("src/**", "src/a/b"));
  CHECK_FALSE(query::glob_match("*.ts", "src/a.ts"));
  CHECK(query::glob_match("**/*.ts", "src/a.ts"));
  CHECK(query::glob_match("[a-c]*[!x]", "bqqz"));
  CHECK_FALSE(query::glob_match("[a-c]*[!x]", "bqqx"));
}
