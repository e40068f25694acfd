// Per-language fixtures: tests/fixtures/symbols/<language>/<file> next to <file>.expected, which
// lists "kind qualified-name line" per symbol in source order, then "import KIND SPECIFIER LINE".
#include <catch2/catch.hpp>

#include <algorithm>

#include "helpers.h"
#include "indexer/export_macros.h"
#include "indexer/extract.h"
#include "indexer/indexer.h"
#include "indexer/matcher.h"
#include "indexer/pattern_roots.h"
#include "indexer/query_syntax.h"

#include <tree_sitter/api.h>

namespace {

std::vector<std::string> render(const indexer::Extraction& ex, query::Language lang) {
  std::vector<std::string> out;
  std::string sep(grammars::spec(lang).separator);
  for (const auto& s : ex.symbols) {
    std::string q = s.container.empty() ? std::string(s.name) : std::string(s.container) + sep + std::string(s.name);
    out.push_back(std::string(query::kind_name(s.kind)) + " " + q + " " + std::to_string(s.range.start.line + 1));
  }
  for (const auto& i : ex.imports)
    out.push_back("import " + std::string(i.kind) + " " + std::string(i.specifier) + " " + std::to_string(i.line + 1));
  return out;
}

void check_fixtures(const std::string& language) {
  test::fs::path dir = test::fs::path(FIXTURES_DIR) / "symbols" / language;
  REQUIRE(test::fs::is_directory(dir));
  std::vector<test::fs::path> files;
  for (const auto& e : test::fs::directory_iterator(dir))
    if (e.path().extension() != ".expected") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  REQUIRE(!files.empty());
  for (const auto& file : files) {
    std::string source = test::read_file(file);
    auto lang = grammars::detect_language(file.string(), std::string_view(source).substr(0, source.find('\n')));
    INFO("fixture " << file.filename().string());
    REQUIRE(grammars::spec(lang).name == language);
    REQUIRE(test::fs::exists(file.string() + ".expected"));
    auto want = test::content_lines(test::read_file(file.string() + ".expected"));
    auto ex = indexer::extract(lang, source);
    REQUIRE(ex.error.empty());
    auto got = render(ex, lang);
    INFO("expected:\n" << test::indented(want) << "got:\n" << test::indented(got));
    CHECK(got == want);
  }
}

}  // namespace

TEST_CASE("python symbols and imports", "[extract][python]") { check_fixtures("python"); }
TEST_CASE("javascript symbols and imports", "[extract][javascript]") { check_fixtures("javascript"); }
TEST_CASE("typescript symbols and imports", "[extract][typescript]") { check_fixtures("typescript"); }
TEST_CASE("tsx symbols and imports", "[extract][tsx]") { check_fixtures("tsx"); }
TEST_CASE("c symbols and imports", "[extract][c]") { check_fixtures("c"); }
TEST_CASE("cpp symbols and imports", "[extract][cpp]") { check_fixtures("cpp"); }
TEST_CASE("go symbols and imports", "[extract][go]") { check_fixtures("go"); }
TEST_CASE("rust symbols and imports", "[extract][rust]") { check_fixtures("rust"); }
TEST_CASE("java symbols and imports", "[extract][java]") { check_fixtures("java"); }
TEST_CASE("csharp symbols and imports", "[extract][csharp]") { check_fixtures("csharp"); }
TEST_CASE("ruby symbols and imports", "[extract][ruby]") { check_fixtures("ruby"); }
TEST_CASE("php symbols and imports", "[extract][php]") { check_fixtures("php"); }
TEST_CASE("bash symbols and imports", "[extract][bash]") { check_fixtures("bash"); }

TEST_CASE("every language's tags query compiles against its grammar", "[extract]") {
  indexer::Status checked = indexer::detail::check_queries();
  CHECK(checked.ok());
  if (!checked) FAIL(checked.error());
}

// The fixtures hold no definitions inside opaque nodes, which only the whole-tree run would find.
// Extraction's own matcher (indexer/matcher.h) takes every pattern of ours, so this also checks it
// against tree-sitter's cursor, which the whole-tree run uses.
TEST_CASE("the matcher at pattern roots finds what tree-sitter's cursor finds over the whole tree", "[extract]") {
  for (const auto& dir : test::fs::directory_iterator(test::fs::path(FIXTURES_DIR) / "symbols")) {
    for (const auto& e : test::fs::directory_iterator(dir.path())) {
      if (e.path().extension() == ".expected") continue;
      std::string source = test::read_file(e.path());
      auto lang = grammars::detect_language(e.path().string(), std::string_view(source).substr(0, source.find('\n')));
      INFO("fixture " << e.path().string());
      indexer::detail::Extractor at_roots, whole_tree;
      whole_tree.match_whole_tree(true);
      indexer::Extraction a, b;
      at_roots.run(lang, source, a);
      whole_tree.run(lang, source, b);
      CHECK(render(a, lang) == render(b, lang));
    }
  }
}

namespace {

// pattern_roots over a Python query given as text: "pinned: ROOTS | { SET } { SET }" (one | per
// wildcard root) or "not pinned".
std::string python_roots(const std::string& text) {
  const TSLanguage* lang = grammars::spec(query::Language::Python).grammar();
  uint32_t offset = 0;
  TSQueryError err{};
  TSQuery* q = ts_query_new(lang, text.data(), uint32_t(text.size()), &offset, &err);
  REQUIRE(q);
  auto r = indexer::detail::pattern_roots(lang, indexer::detail::read_query(text));
  ts_query_delete(q);
  if (!r.pinned) return "not pinned";
  std::string out = "pinned:";
  for (size_t s = 0; s < r.self.size(); ++s)
    if (r.self[s]) out += std::string(" ") + ts_language_symbol_name(lang, TSSymbol(s));
  for (uint64_t w : r.wildcards) {
    out += " |";
    for (int b = 0; b < 64; ++b) {
      if (!(w >> b & 1)) continue;
      out += " {";
      for (size_t s = 0; s < r.child_bits.size(); ++s)
        if (r.child_bits[s] >> b & 1) out += std::string(" ") + ts_language_symbol_name(lang, TSSymbol(s));
      out += " }";
    }
  }
  return out;
}

}  // namespace

namespace {

// Every match of `text` (a query for `lang`) in `source`, one line each ("pattern: cap=text@byte
// ..."), sorted: found by tree-sitter's cursor over the whole tree, or by the matcher at every
// node (rooted and wildcard patterns both). Also what the matcher does not handle.
struct Both {
  std::vector<std::string> cursor, matcher;
  std::vector<uint8_t> handled;
};

Both match_both(query::Language lang, const std::string& text, const std::string& source) {
  const TSLanguage* language = grammars::spec(lang).grammar();
  uint32_t offset = 0;
  TSQueryError err{};
  TSQuery* q = ts_query_new(language, text.data(), uint32_t(text.size()), &offset, &err);
  REQUIRE(q);
  TSParser* parser = ts_parser_new();
  ts_parser_set_language(parser, language);
  TSTree* tree = ts_parser_parse_string(parser, nullptr, source.data(), uint32_t(source.size()));
  auto line = [&](const TSQueryMatch& m) {
    std::vector<std::string> caps;
    for (uint16_t i = 0; i < m.capture_count; ++i) {
      uint32_t len = 0;
      const char* name = ts_query_capture_name_for_id(q, m.captures[i].index, &len);
      uint32_t a = ts_node_start_byte(m.captures[i].node), b = ts_node_end_byte(m.captures[i].node);
      caps.push_back(std::string(name, len) + "=" + source.substr(a, b - a) + "@" + std::to_string(a));
    }
    std::sort(caps.begin(), caps.end());
    std::string out = std::to_string(m.pattern_index) + ":";
    for (const auto& c : caps) out += " " + c;
    return out;
  };
  Both both;
  TSQueryCursor* qc = ts_query_cursor_new();
  ts_query_cursor_exec(qc, q, ts_tree_root_node(tree));
  TSQueryMatch m;
  while (ts_query_cursor_next_match(qc, &m)) both.cursor.push_back(line(m));
  ts_query_cursor_delete(qc);

  indexer::detail::Matcher matcher(language, indexer::detail::read_query(text));
  both.handled = matcher.handled();
  indexer::detail::Matcher::Scratch scratch;
  scratch.budget = uint64_t(1) << 30;
  TSTreeCursor walk = ts_tree_cursor_new(ts_tree_root_node(tree));
  for (bool more = true; more;) {
    TSNode n = ts_tree_cursor_current_node(&walk);
    for (bool wildcard : {false, true})
      matcher.run(n, wildcard, scratch, [&](const TSQueryMatch& found) { both.matcher.push_back(line(found)); });
    if (ts_tree_cursor_goto_first_child(&walk)) continue;
    while (!ts_tree_cursor_goto_next_sibling(&walk))
      if (!ts_tree_cursor_goto_parent(&walk)) {
        more = false;
        break;
      }
  }
  ts_tree_cursor_delete(&walk);
  std::sort(both.cursor.begin(), both.cursor.end());
  std::sort(both.matcher.begin(), both.matcher.end());
  ts_tree_delete(tree);
  ts_parser_delete(parser);
  ts_query_delete(q);
  return both;
}

}  // namespace

TEST_CASE("the matcher reports the matches tree-sitter's cursor reports", "[extract][matcher]") {
  struct Case {
    query::Language lang;
    const char* query;
    const char* source;
  };
  const Case cases[] = {
      // `?` is greedy: the match without the optional capture is dropped when one with it exists.
      {query::Language::Cpp,
       "(translation_unit (declaration (storage_class_specifier)? @sc (type_qualifier) @q "
       "declarator: (init_declarator declarator: (identifier) @name)))",
       "extern const int a = 1;\nstatic const volatile int b = 2;\nconst int c = 3;\nint d = 4;\n"},
      // Anchors: first named child, last named child, adjacent named siblings (a comment breaks it).
      {query::Language::Python, "(block . (expression_statement (string) @doc))",
       "def f():\n    \"doc\"\n    x = 1\ndef g():\n    x = 1\n    \"not doc\"\n"},
      {query::Language::Python, "(block (_) @last .)", "def f():\n    a = 1\n    b = 2\n    # c\n"},
      {query::Language::Python, "(module (comment) @c . (function_definition name: (identifier) @f))",
       "# one\ndef a(): pass\n# two\nx = 1\ndef b(): pass\n# three\n# four\ndef c(): pass\n"},
      // Negated fields, and a field that repeats.
      {query::Language::Python, "(function_definition !return_type name: (identifier) @n)",
       "def a() -> int: pass\ndef b(): pass\n"},
      // Every pair of unanchored children, in order.
      {query::Language::Python, "(argument_list (identifier) @a (identifier) @b)", "f(x, y, z)\n"},
      // Captures on an alternation and inside its members; a wildcard root; a bare `_`.
      {query::Language::Python,
       "(function_definition name: [(identifier) @n] body: (block [(pass_statement) (return_statement)] @stmt))",
       "def f():\n    pass\n    return 1\n"},
      {query::Language::Python, "(_ name: (identifier) @n body: (block)) @def", "class A:\n    def m(self): pass\n"},
      {query::Language::Python, "(call function: _ @fn arguments: (argument_list \",\" @comma))", "f(a, b)\ng.h(1)\n"},
      // A step with no captures and no children takes the first child it matches, as the cursor
      // does (it does not split its state there): only `f` follows the first statement.
      {query::Language::Python, "(module (expression_statement) . (function_definition name: (identifier) @f))",
       "x = 1\ndef f(): pass\ny = 2\ndef g(): pass\n"},
      // Nested optional with a predicate's helper capture; anonymous nodes in an alternation.
      {query::Language::Cpp, "(_ [\"#ifdef\" \"#ifndef\"] (declaration declarator: (init_declarator declarator: (identifier) @n)))",
       "#ifdef X\nint a = 1;\nint b = 2;\n#endif\n"},
      // Each alternative is a state of its own: a capture-less leaf member takes the first child it
      // matches, another member every child; of two matches where one's captures cover the
      // other's, only the larger is reported, with or without `?`.
      {query::Language::Python, "(module [(expression_statement) (pass_statement)] . (function_definition name: (identifier) @f))",
       "pass\nx = 1\ndef f(): pass\n"},
      {query::Language::Python, "(module [(expression_statement) (if_statement (block))] . (function_definition name: (identifier) @f))",
       "x = 1\nx = 2\ndef f(): pass\nif a:\n    pass\ndef g(): pass\n"},
      {query::Language::Python,
       "(decorated_definition [(decorator) @dec (comment)] definition: (function_definition name: (identifier) @n))",
       "@x\n# c\ndef f(): pass\n"},
      {query::Language::Python, "(module (expression_statement)? (function_definition))", "x = 1\ndef f(): pass\n"},
      // A wildcard root starts at every child matching its first child step.
      {query::Language::Python, "(_ (expression_statement) . (function_definition name: (identifier) @f))",
       "x = 1\ndef f(): pass\ny = 2\ndef g(): pass\n"},
      // A trailing anchor as the cursor reads it: a child followed only by anonymous nodes inside a
      // hidden repetition is last.
      {query::Language::C, "(enumerator_list (enumerator name: (identifier) @e) .)", "enum E { A, B, C };\n"},
      // A tree with errors.
      {query::Language::Python, "(function_definition name: (identifier) @n parameters: (parameters (identifier)? @p))",
       "def g(x, y): pass\ndef h(): pass\nclass (:\n    def k(z): pass\n"},
  };
  for (const Case& c : cases) {
    INFO("query " << c.query);
    Both both = match_both(c.lang, c.query, c.source);
    REQUIRE(std::all_of(both.handled.begin(), both.handled.end(), [](uint8_t h) { return h == 1; }));
    INFO("cursor:\n" << test::indented(both.cursor) << "matcher:\n" << test::indented(both.matcher));
    CHECK(!both.cursor.empty());
    CHECK(both.matcher == both.cursor);
  }
}

TEST_CASE("the matcher leaves patterns outside its subset to tree-sitter's cursor", "[extract][matcher]") {
  auto handled = [](const std::string& text) {
    std::string out;
    for (uint8_t h : match_both(query::Language::Python, text, "x = 1\n").handled) out += h ? '1' : '0';
    return out;
  };
  CHECK(handled("(module (expression_statement)* @s)") == "0");
  CHECK(handled("((comment) . (function_definition))") == "0");  // siblings at the top
  CHECK(handled("(expression) @e\n(module) @m") == "01");      // a supertype; then a plain pattern
  CHECK(handled("_ @any") == "0");
  // A predicate inside an alternation (an empty alternative to tree-sitter); over 3 captures a step.
  CHECK(handled("(function_definition [(parameters (identifier) @p) (#eq? @p \"x\")])") == "0");
  CHECK(handled("(function_definition name: (identifier) @a @b @c @d)") == "0");
}

TEST_CASE("pattern roots: the node types where a query can match", "[extract]") {
  CHECK(python_roots("(class_definition name: (identifier) @name) @definition.class") == "pinned: class_definition");
  CHECK(python_roots("[(import_statement) (import_from_statement)] @x\n((module (expression_statement) @x) (#eq? @x \"a\"))") ==
        "pinned: module import_statement import_from_statement");
  // A wildcard root: the children it requires (not the optional one), each a set of types.
  CHECK(python_roots("(_ (comment)? [(block) (string)] . name: (identifier)) @x") == "pinned: | { block string } { identifier }");
  CHECK(python_roots("(_) @x") == "not pinned");
  CHECK(python_roots("_ @x") == "not pinned");
  CHECK(python_roots("((comment) (function_definition)) @x") == "not pinned");  // siblings
  CHECK(python_roots("(expression) @x") == "not pinned");  // a supertype
  // An import under a wildcard root would be found twice (see pattern_roots.h).
  CHECK(python_roots("(_ (import_statement name: (dotted_name) @import.import))") == "not pinned");
}

TEST_CASE("a wildcard-rooted pattern matches where the walk sees its children", "[extract]") {
  // cpp.scm roots variables in #if blocks at a wildcard: the #ifdef node, inside a body and out.
  auto ex = indexer::extract(query::Language::Cpp, "void f() {\n#ifdef X\n  int a = 0;\n#else\n  int b = 0;\n#endif\n}\n"
                                                   "#ifdef Y\nint c = 0;\n#endif\n");
  CHECK(render(ex, query::Language::Cpp) ==
        std::vector<std::string>{"function f 1", "variable f::a 3", "variable f::b 5", "variable c 9"});
}

TEST_CASE("extraction does not walk into opaque nodes (a lambda), unless they hold a parse error", "[extract]") {
  // cpp.scm names expressions opaque: a lambda's locals are not definitions a user looks for; a
  // function's own are. Inside a call with a syntax error, what tree-sitter recovered is kept.
  auto ex = indexer::extract(query::Language::Cpp,
                             "auto f = [] { struct InF {}; return 0; };\n"
                             "int g() {\n  int v = call([] { struct InLambda {}; return 1; });\n  struct InBody {};\n  return v;\n}\n"
                             "int h() {\n  return call(x, [] { struct Broken { int y; }; return 1 +; });\n}\n");
  CHECK(render(ex, query::Language::Cpp) == std::vector<std::string>{"function f 1", "function g 2", "struct g::InBody 4",
                                                                     "function h 7", "struct h::Broken 8", "field h::Broken::y 8"});
}

TEST_CASE("a query that does not compile is an error, not an empty result", "[extract][cli]") {
  test::TempDir t;
  t.write("bash.scm", "(no_such_node) @name\n");
  t.write("f.sh", "f() { :; }\n");
  ::setenv("INDEXER_QUERIES_DIR", t.path().c_str(), 1);  // inherited by the child only
  auto r = test::run_indexer({"outline", (t / "f.sh").string()});
  auto idx = test::run_indexer({"index", t.path().string()});
  ::unsetenv("INDEXER_QUERIES_DIR");
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("bash.scm: unknown node type at line 1") != std::string::npos);
  CHECK(idx.exit_code == 0);  // the rest of the tree is still indexed, with a warning
  CHECK(idx.err.find("warning: bash.scm: unknown node type") != std::string::npos);

  // So is an opaque node type the grammar does not have; tree-sitter maps prefixes of ERROR to
  // its builtin error symbol, which no table holds.
  for (std::string type : {"no_such_node", "ERR"}) {
    t.write("bash.scm", "; opaque: " + type + "\n(function_definition name: (word) @name) @definition.function\n");
    ::setenv("INDEXER_QUERIES_DIR", t.path().c_str(), 1);
    auto opaque = test::run_indexer({"outline", (t / "f.sh").string()});
    ::unsetenv("INDEXER_QUERIES_DIR");
    CHECK(opaque.exit_code == 1);
    CHECK(opaque.err.find("bash.scm: opaque: unknown node type " + type) != std::string::npos);
  }
}

TEST_CASE("a query whose matches multiply stops at the step limit, and says so", "[extract][cli]") {
  // Four unanchored captured siblings: C(400, 4) ~ 1e9 ways to match one argument list.
  test::TempDir t;
  t.write("python.scm", "(call function: (identifier) @name arguments: (argument_list (identifier) @_a (identifier) @_b "
                        "(identifier) @_c (identifier) @_d)) @definition.function\n");
  std::string args;
  for (int i = 0; i < 400; ++i) args += (i ? ", x" : "x") + std::to_string(i);
  t.write("big.py", "f(" + args + ")\ng(a, b, c, d)\n");
  ::setenv("INDEXER_QUERIES_DIR", t.path().c_str(), 1);  // inherited by the child only
  auto r = test::run_indexer({"index", t.path().string()});
  ::unsetenv("INDEXER_QUERIES_DIR");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("1 files hit the matcher's step limit") != std::string::npos);
}

TEST_CASE("extraction moves keep their views valid, even for short text", "[extract]") {
  auto ex = indexer::extract(query::Language::Python, "def f(): pass\n");
  REQUIRE(ex.symbols.size() == 1);
  indexer::Extraction moved = std::move(ex);
  indexer::Extraction again;
  again = std::move(moved);
  REQUIRE(again.symbols.size() == 1);
  CHECK(again.symbols[0].name == "f");
  CHECK(again.symbols[0].signature == "def f()");
  CHECK(again.symbols[0].name.data() >= again.text.data());
  CHECK(again.symbols[0].name.data() < again.text.data() + again.text.size());
}

TEST_CASE("signatures keep a complete last UTF-8 character", "[extract]") {
  auto ex = indexer::extract(query::Language::Python, "A = \"\xc3\xa9\"\nB = \xc3\xa9\n");
  REQUIRE(ex.symbols.size() == 2);
  CHECK(ex.symbols[0].signature == "A = \"\xc3\xa9\"");
  CHECK(ex.symbols[1].signature == "B = \xc3\xa9");
}

TEST_CASE("query reader: nesting past its bound is an error at that offset, not a stack overflow", "[extract]") {
  // 10,000 open parentheses overflowed the stack of the recursive reader (found by fuzz/query_syntax).
  auto deep = indexer::detail::read_query(std::string(10000, '('));
  CHECK(deep.error == 200);
  auto deep_brackets = indexer::detail::read_query(std::string(10000, '[') + std::string(10000, ']'));
  CHECK(deep_brackets.error == 200);
  // Within the bound, as before.
  std::string nested = std::string(150, '[') + "(identifier) @name" + std::string(150, ']');
  auto ok = indexer::detail::read_query(nested);
  CHECK(ok.error == std::string_view::npos);
  REQUIRE(ok.patterns.size() == 1);
  CHECK(ok.captures == std::vector<std::string>{"name"});
}

TEST_CASE("a parse whose tree grows past the budget stops: too dense, nothing extracted", "[extract][budget]") {
  std::string dense;  // 120 KB of `x = 1`: tens of MB of parse tree
  for (int i = 0; i < 20000; ++i) dense += "x = 1\n";
  indexer::Extraction ex;
  indexer::detail::Extractor small(1 << 20);
  small.run(query::Language::Python, dense, ex);
  CHECK(ex.too_dense);
  CHECK(ex.symbols.empty());
  CHECK(ex.tree_bytes > (1u << 20));
  // The parser starts the next file afresh (a stopped parse would otherwise resume).
  small.run(query::Language::Python, "def fits():\n    pass\n", ex);
  CHECK_FALSE(ex.too_dense);
  REQUIRE(ex.symbols.size() == 1);
  CHECK(ex.symbols[0].name == "fits");
  // Within the default budget the same text is indexed, and what its tree cost is told.
  indexer::detail::Extractor ample;
  ample.run(query::Language::Python, dense, ex);
  CHECK_FALSE(ex.too_dense);
  CHECK(ex.symbols.size() == 20000);
  CHECK(ex.tree_bytes > dense.size());
}

TEST_CASE("an export macro in a class head: the class's range and signature are the real text's", "[extract][cpp]") {
  std::string src = "class MYLIB_EXPORT Env : public Base {\n public:\n  Env();\n};\nint after;\n";
  auto ex = indexer::extract(query::Language::Cpp, src);
  REQUIRE(ex.symbols.size() >= 2);
  CHECK(ex.symbols[0].name == "Env");
  CHECK(ex.symbols[0].kind == query::Kind::Class);
  CHECK(ex.symbols[0].range.start.line == 0);
  CHECK(ex.symbols[0].range.start.column == 0);
  CHECK(ex.symbols[0].range.end.line == 3);
  CHECK(ex.symbols[0].selection.start.column == 19);  // the name, after the macro
  CHECK(ex.symbols[0].signature.find("MYLIB_EXPORT") != std::string_view::npos);
  CHECK(ex.symbols[1].kind == query::Kind::Constructor);
  CHECK(ex.symbols[1].container == "Env");
}

TEST_CASE("export macros: only class heads are blanked, at the same offsets", "[extract][cpp]") {
  using indexer::detail::blank_export_macros;
  std::string out;
  CHECK(blank_export_macros("struct X_API Foo final {", out));
  CHECK(out == "struct       Foo final {");
  CHECK(blank_export_macros("class EXPORT(\"x\")\nBar : Base", out));
  CHECK(out == "class            \nBar : Base");
  // Declarations, a scope, a template parameter, a lower-case word: left alone.
  for (const char* s : {"struct stat st;", "struct FOO bar = {};", "class A::B {", "template <class T> f();",
                        "class final_thing Foo {", "sizeof(struct FOO)", "class FOO", "class"})
    CHECK_FALSE(blank_export_macros(s, out));
}
