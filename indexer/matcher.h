// A matcher of our own for the tags queries' patterns, in place of tree-sitter's query cursor.
// Private to indexer/.
//
// Why: the cursor keeps one state per pattern alternative that can still match and checks each
// against every node it visits, with a capture list per state: on Boost it costs 5-40k cycles at
// each of ~540k nodes where a pattern is rooted, about a tenth of the parse. This matcher compiles
// each pattern to a tree of steps and checks it at a root node directly: children by a
// backtracking search over the node's children, fields and types compared as integers.
//
// The subset: node patterns `(type ...)`, `(_ ...)`, `_` and `"text"`, fields, negated fields `!f`,
// anchors `.` (first/last named child, adjacent named siblings), alternations `[...]`, the `?`
// quantifier, up to 3 captures a step, and one root (or a top-level alternation of roots) per
// pattern, with predicates left to the caller as before. A pattern outside it (`*`, `+`, sibling
// groups, supertypes, ERROR, MISSING, a predicate inside an alternation, an anchor after a bare
// `_`) is not handled: `handled()` says which are, and the caller runs tree-sitter's cursor there.
//
// The matches are the cursor's: every way a pattern matches under a root, except where the cursor
// does not split its state: (1) a step (or alternation member) with no captures and no children
// takes the first child it matches, but a wildcard root's first child step takes each (when it
// names a type and is not anchored: tree-sitter then starts the pattern at that child); (2) of a
// pattern's matches at one root, one whose captures another's cover is dropped (the longest-match
// rule, which makes `?` greedy; of equal ones, the later); (3) fields, and whether a named sibling
// follows (for a trailing anchor), are what the cursor sees (ts_tree_cursor_current_status), so a
// child followed only by `,` in a hidden repetition counts as last. One difference is left: the
// cursor also takes only the first child for a capture-less step with children when tree-sitter's
// grammar analysis (in ts_query_new, which index runs skip) proves those children always match;
// we try every child. That shows only when an anchor follows such a step and two children match
// it. Tests check all of this against the cursor, and `indexer_phases --cursor --dump` against
// `indexer_phases --dump` on real trees.
#pragma once

#include <tree_sitter/api.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace indexer::detail {

struct Elem;
struct ParsedQuery;

class Matcher {
 public:
  // Scratch space for one thread's runs; nothing is allocated per node once it has grown.
  struct Scratch {
    struct Kid {
      TSNode node;
      TSFieldId field;
      bool named;
      bool last_named;  // no named sibling follows, as tree-sitter's cursor sees it (where a
                        // trailing anchor may ask: see last_under_)
    };
    // The children of each node the current root's patterns look into, read once per root: the
    // patterns at a root (about 20 at a C++ function_definition) look at the same few nodes.
    struct Kids {
      const void* id = nullptr;
      uint32_t generation = 0;
      uint32_t begin = 0, end = 0;
    };
    std::vector<Kid> kids;
    std::vector<Kids> kids_of;  // open addressing by node id; a cell is live in this generation only
    uint32_t generation = 0, kids_count = 0;
    std::vector<TSQueryCapture> caps;   // the match in progress
    std::vector<TSQueryCapture> found;  // finished matches' captures, back to back
    struct Found {
      uint32_t pattern, first, count;
      bool dropped;
    };
    std::vector<Found> matches;
    struct Key {
      uintptr_t node;
      uint32_t index, match;
      auto operator<=>(const Key&) const = default;
    };
    std::vector<Key> keys;  // (capture, match) pairs, for the longest-match rule
    TSTreeCursor cursor{};
    bool has_cursor = false;
    // Steps (node checks) left; the caller sets it per file. A pattern with several unanchored
    // captured siblings has a number of matches that grows as a power of the children's count:
    // the budget keeps such a query on such a file from taking hours.
    uint64_t budget = 0;
    ~Scratch() {
      if (has_cursor) ts_tree_cursor_delete(&cursor);
    }
  };

  Matcher() = default;
  explicit Matcher(const TSLanguage* language, const ParsedQuery& query);

  // By pattern index: 1 when this matcher finds the pattern's matches.
  const std::vector<uint8_t>& handled() const { return handled_; }
  bool handles_all() const { return handles_all_; }

  // Calls f(const TSQueryMatch&) for each match of a handled pattern rooted at `node`: those of
  // the patterns rooted at its type, or with `wildcard`, of those rooted at `(_ ...)`. Returns
  // false when the scratch's budget of steps ran out (the matches found are reported).
  template <typename F>
  bool run(TSNode node, bool wildcard, Scratch& s, F&& f) const {
    bool complete = find(node, wildcard, s);
    for (const Scratch::Found& m : s.matches) {
      if (m.dropped) continue;
      TSQueryMatch match{0, uint16_t(m.pattern), uint16_t(m.count), s.found.data() + m.first};
      f(static_cast<const TSQueryMatch&>(match));
    }
    return complete;
  }

  bool roots_at(TSSymbol symbol) const { return symbol < by_symbol_.size() && !by_symbol_[symbol].empty(); }

 private:
  struct Step {
    enum Kind : uint8_t { Symbols, AnyNamed, AnyNode, Alternation };
    Kind kind = Symbols;
    TSFieldId field = 0;
    bool optional = false;
    bool immediate = false;  // an anchor before it: the next named child, or the first
    bool last = false;       // an anchor after it: the last named child
    bool simple = false;     // no captures, no children: the first child it matches is taken
    std::vector<TSSymbol> symbols;
    std::vector<TSFieldId> negated;
    std::vector<uint16_t> captures;
    std::vector<uint32_t> children;  // child steps; for an Alternation, its members
  };
  struct Root {
    uint32_t pattern;
    uint32_t step;
  };
  struct Cont;
  class Run;

  bool find(TSNode node, bool wildcard, Scratch& s) const;
  static void drop_covered(Scratch& s, uint32_t first);
  // Compiles `e` into steps_; returns its index or UINT32_MAX when outside the subset.
  uint32_t compile(const Elem& e);

  const TSLanguage* language_ = nullptr;
  std::vector<std::string> capture_names_;
  std::vector<Step> steps_;
  std::vector<Root> roots_;
  std::vector<std::vector<uint32_t>> by_symbol_;  // symbol -> indices into roots_
  std::vector<uint32_t> wildcard_;                // roots at (_ ...)
  std::vector<uint8_t> handled_;
  bool handles_all_ = false;
  std::vector<uint8_t> last_under_;  // by symbol: some step of that type has a trailing anchor
  bool last_anywhere_ = false;       // some wildcard step has one
};

}  // namespace indexer::detail
