// Running our tags queries over a syntax tree. Private to indexer/.
//
// Capture conventions for grammars/queries/<language>.scm (one match is one definition):
//   @definition.KIND  the whole definition node; KIND is a query::Kind name ("function", "class")
//   @name             the node whose text is the symbol's name (its range is the selection range)
//   @container        optional: a qualifier written in the definition itself, such as a Go
//                     receiver type or the "Foo::" of "void Foo::bar()"
//   @scope            with @name: a node that names a container but is no symbol (a Rust impl)
//   @package          text that qualifies every top-level symbol of the file (Java package,
//                     Go package, C# file-scoped namespace, PHP namespace)
//   @import.KIND      an import's specifier node; KIND says how it imports ("import", "include")
//   @import_member    with @import.KIND: a name imported from that module (Python's "from m import
//                     n"); the specifier becomes "m.n", or ".n" after "from .", so the resolver can
//                     tell a submodule from an attribute
//   @_anything        helper captures for predicates; ignored
// Predicates #eq?, #not-eq?, #match?, #not-match?, #any-of? and #not-any-of? are evaluated here,
// since tree-sitter's C API leaves them to the caller. When several patterns capture the same
// definition node, the first pattern in the file wins: put specific patterns before general ones.
//
// Cost: patterns are matched only at nodes where some pattern can be rooted (pattern_roots.h),
// reached by a plain TSTreeCursor walk, and by our own matcher (matcher.h) rather than
// tree-sitter's query cursor, which costs several times as much per root.
// Keep pattern roots pinned: a pattern whose root is a bare `_` makes its language's query run
// over every node again (indexer_phases --roots tells).
#pragma once

#include <string>
#include <string_view>

#include "indexer/indexer.h"

struct TSParser;
struct TSTree;

namespace indexer::detail {

// A language's tags query: the embedded one, or <dir>/<language>.scm when INDEXER_QUERIES_DIR
// names a directory (to try an edited query without a rebuild).
std::string query_source(const grammars::LanguageSpec& spec);

// Checks that every language's query compiles against its grammar with tree-sitter (which an
// index run does not need: see CompiledQuery in extract.cpp), and that tree-sitter reads the same
// patterns and captures in it as our reader; an error names each failing language, the offset and
// the error kind, one line each.
Status check_queries();

// A parser and query cursors for one thread. A parse is bounded by `max_tree_bytes` of
// tree-sitter's heap, counted per thread (every tree-sitter allocation goes through a counting
// allocator, installed by the first Extractor): past it the parse stops and the Extraction says
// too_dense, since the tree, not what we extract from it, is what a dense file costs.
class Extractor {
 public:
  explicit Extractor(uint64_t max_tree_bytes = Options{}.max_tree_bytes);
  ~Extractor();
  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // With `keep`: *keep, when set, is this file's previous tree with ts_tree_edit() applied, so
  // tree-sitter reparses only what the edit touched; it is replaced by the new tree, which the
  // caller owns (ts_tree_delete).
  void run(query::Language language, std::string_view source, Extraction& out, TSTree** keep = nullptr);
  // Only parses: the floor an index of the same files can reach.
  void parse(query::Language language, std::string_view source);
  // Runs the query cursor over the whole tree, as if no pattern's root were pinned (see
  // pattern_roots.h): slower, the same result. For tests and benchmarks to compare against.
  void match_whole_tree(bool on) { whole_tree_ = on; }
  // Runs tree-sitter's query cursor at the pattern roots for every pattern, not the matcher
  // (matcher.h): slower, the same result. For tests and benchmarks to compare against.
  void match_with_cursor(bool on) { cursor_only_ = on; }

 private:
  // Parses `src` within the budget; null when the parse stopped (out.too_dense then says why).
  TSTree* parse_bounded(const TSTree* old_tree, std::string_view src, Extraction* out);

  TSParser* parser_;
  uint64_t max_tree_bytes_;
  bool whole_tree_ = false;
  bool cursor_only_ = false;
  struct Cursor;
  Cursor* cursor_;
};

}  // namespace indexer::detail
