// Tree-sitter's query syntax, read into elements: what pattern_roots.h and matcher.h need of a
// pattern's text. Private to indexer/.
//
// The reader is tolerant: every query it sees has already compiled with ts_query_new, so what it
// cannot classify becomes Unknown, and each user of it treats Unknown as "not for me" (an unpinned
// root, a pattern left to tree-sitter's cursor) rather than as an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace indexer::detail {

struct Elem {
  enum Type : uint8_t {
    Named,        // (type ...)
    Anonymous,    // "text"
    Wildcard,     // (_ ...)
    Any,          // _ (a named or anonymous node)
    Group,        // ((a) (b)): siblings, or one member with predicates
    Alternation,  // [a b]
    Predicate,    // (#eq? ...)
    Anchor,       // .
    Negated,      // !field (the field in `name`)
    Unknown,      // ERROR, MISSING, a supertype path, or what the reader does not know
  };
  Type type = Unknown;
  std::string name;                   // Named, Anonymous; Negated: the field
  std::string field;                  // `field: elem`
  std::vector<std::string> captures;  // @a @b after it, without the @
  std::vector<Elem> children;         // Named, Wildcard: child patterns; Group, Alternation: members
  bool quantified = false;            // ?, * or + after it
  bool optional = false;              // ? or *
  bool repeated = false;              // * or +
};

// Reads one element from `text` (the whole text of one top-level pattern, as
// ts_query_start_byte_for_pattern .. ts_query_end_byte_for_pattern give it).
class QueryReader {
 public:
  explicit QueryReader(std::string_view s) : s_(s) {}
  Elem element();
  bool at_end();

 private:
  void members(char close, std::vector<Elem>& out);
  void suffixes(Elem& e);
  std::string identifier();
  std::string string_literal();
  void skip_balanced();
  void skip_space();

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace indexer::detail
