// Where a tags query can match: the node types its patterns' roots can have, read from the
// patterns' text. Private to indexer/.
//
// Why: a query cursor run from the tree's root pays ~170 ns for every node of the tree, even where
// no pattern can start; a plain TSTreeCursor walk costs ~60 ns. Knowing the root types, extraction
// walks the tree itself and runs the cursor (max start depth 0) only at nodes where a match can be
// rooted, which finds the same matches.
//
// Invariant: a match rooted at node N exists only if N's symbol is in `self`, or, for a pattern
// rooted at a wildcard `(_ ...)`, only if N has, among its children, one node of each of the
// pattern's required child sets (every child that carries no `?`/`*` and names its types). These
// are necessary conditions, not sufficient: running the cursor at a node that does not match costs
// time, never a result. When some pattern's root cannot be pinned this way (a bare `_`, a sibling
// sequence at the top, a supertype, ERROR/MISSING), `pinned` is false and extraction must run the
// cursor over the whole tree.
//
// A wildcard root needs the cursor run at N with max start depth 1: tree-sitter starts such a
// pattern at its first child, and at depth 0 it would not descend to it. At depth 1 the cursor
// also finds matches rooted at N's children, found again when the walk reaches them, so callers
// keep only the wildcard patterns' matches there and drop repeated definitions; a wildcard pattern
// that captures an import or a package (which would repeat) leaves the query unpinned.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/result.h"

struct TSLanguage;

namespace indexer::detail {

struct ParsedQuery;

struct PatternRoots {
  bool pinned = false;
  std::string why;                   // when not pinned: the pattern that could not be pinned
  std::vector<uint8_t> self;         // by symbol: 1 when some pattern can be rooted at it
  std::vector<uint64_t> child_bits;  // by symbol: the required child sets this symbol belongs to
  std::vector<uint64_t> wildcards;   // per wildcard root: the bits that must all be seen
  std::vector<uint8_t> wildcard_pattern;  // by pattern index: 1 when some root of it is a wildcard

  bool roots_at(uint16_t symbol) const { return symbol < self.size() && self[symbol]; }
  uint64_t child_bit(uint16_t symbol) const { return symbol < child_bits.size() ? child_bits[symbol] : 0; }
  // Whether the children seen (OR of their child_bit) satisfy some wildcard root.
  bool wildcard_roots_at(uint64_t seen) const {
    if (!seen) return false;
    for (uint64_t w : wildcards)
      if ((seen & w) == w) return true;
    return false;
  }
};

// Reads every pattern of `query` (read for `language`: query_syntax.h), or those `only` marks
// (by pattern index).
PatternRoots pattern_roots(const TSLanguage* language, const ParsedQuery& query, const std::vector<uint8_t>* only = nullptr);

// The node types a query's author declares free of definitions, by symbol (1: do not walk into
// one). They are named on comment lines of the query, `; opaque: argument_list string_literal`,
// since which subtrees can hold a definition is a fact about the patterns. Extraction still walks
// into such a node when tree-sitter marked an error inside it: recovered code there may hold
// definitions the patterns find. Why: in C++ most nodes are inside expressions, and the walk and
// the cursor runs there cost about half of extraction. An unknown type name is an error. No
// wildcard root is looked for at an opaque node: no pattern of ours can be rooted at one.
query::Result<std::vector<uint8_t>> opaque_types(const TSLanguage* language, std::string_view source);

}  // namespace indexer::detail
