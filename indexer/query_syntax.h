// Tree-sitter's query syntax, read into elements: what pattern_roots.h and matcher.h need of a
// pattern's text. Private to indexer/.
//
// What the reader cannot classify (ERROR, MISSING, supertypes) becomes Unknown, which each user
// treats as "not for me" (an unpinned root, a pattern left to tree-sitter's cursor). What is not
// the query syntax at all (an unclosed parenthesis, a stray character, nesting deeper than 200) is
// an error: the caller then has tree-sitter compile the query, whose message names the offset and
// the kind.
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
  struct Arg {
    bool capture;      // @name, else a string or a bare word
    std::string text;  // without the @ or the quotes
  };
  Type type = Unknown;
  std::string name;                   // Named, Anonymous; Negated: the field; Predicate: "eq?"
  std::string field;                  // `field: elem`
  std::vector<std::string> captures;  // @a @b after it, without the @
  std::vector<Elem> children;         // Named, Wildcard: child patterns; Group, Alternation: members
  std::vector<Arg> args;              // Predicate
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
  size_t offset() const { return i_; }
  // Where the text stopped being query syntax, or npos.
  size_t error() const { return error_; }

 private:
  void fail() {
    if (error_ == std::string_view::npos) error_ = i_;
  }
  void members(char close, std::vector<Elem>& out);
  void suffixes(Elem& e);
  std::string identifier();
  std::string string_literal();
  void predicate(Elem& e);
  void skip_space();

  static constexpr size_t kMaxDepth = 200;
  std::string_view s_;
  size_t i_ = 0;
  size_t depth_ = 0;
  size_t error_ = std::string_view::npos;
};

// A whole query, read: its top-level patterns (pattern i is tree-sitter's pattern i) and its
// capture names, numbered as tree-sitter numbers them (by first use, in text order).
struct QueryPattern {
  std::string_view text;
  Elem top;
};
struct ParsedQuery {
  std::vector<QueryPattern> patterns;
  std::vector<std::string> captures;
  size_t error = std::string_view::npos;  // the offset where it stopped being query syntax
};
ParsedQuery read_query(std::string_view source);

// The index of capture `name` in `q`, or -1.
int capture_id(const ParsedQuery& q, std::string_view name);

}  // namespace indexer::detail
