#include "indexer/matcher.h"
#include "indexer/query_syntax.h"

#include <algorithm>

// tree-sitter's own view of the cursor's node, which its query cursor matches against (internal to
// lib/src/tree_cursor.c, which we compile in): the field, and whether a later sibling is named,
// taken at the innermost hidden level that has any later sibling (so a child followed only by
// `,` in a hidden repetition counts as last, and the cursor's trailing anchor agrees).
extern "C" void ts_tree_cursor_current_status(const TSTreeCursor* self, TSFieldId* field_id, bool* has_later_siblings,
                                              bool* has_later_named_siblings,
                                              bool* can_have_later_siblings_with_this_field, TSSymbol* supertypes,
                                              unsigned* supertype_count);

namespace indexer::detail {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr TSSymbol kErrorSymbol = TSSymbol(-1);  // tree-sitter's ts_builtin_sym_error, not in its public header

}  // namespace

uint32_t Matcher::compile(const Elem& e) {
  if (e.repeated) return kNone;
  // tree-sitter keeps at most 3 captures a step (an alternation's own go to each member).
  if (e.captures.size() > 3) return kNone;
  Step step;
  step.optional = e.optional;
  if (!e.field.empty()) {
    step.field = ts_language_field_id_for_name(language_, e.field.data(), uint32_t(e.field.size()));
    if (!step.field) return kNone;
  }
  for (const std::string& c : e.captures) {
    auto it = std::find(capture_names_.begin(), capture_names_.end(), c);
    if (it == capture_names_.end()) return kNone;
    step.captures.push_back(uint16_t(it - capture_names_.begin()));
  }
  switch (e.type) {
    case Elem::Named:
    case Elem::Anonymous: {
      const bool named = e.type == Elem::Named;
      TSSymbol sym = ts_language_symbol_for_name(language_, e.name.data(), uint32_t(e.name.size()), named);
      if (!sym || sym >= ts_language_symbol_count(language_) ||
          ts_language_symbol_type(language_, sym) == TSSymbolTypeSupertype)
        return kNone;
      step.kind = Step::Symbols;
      step.symbols.push_back(sym);
      break;
    }
    case Elem::Wildcard:
      step.kind = Step::AnyNamed;
      break;
    case Elem::Any:
      step.kind = Step::AnyNode;
      break;
    case Elem::Alternation: {
      step.kind = Step::Alternation;
      for (const Elem& m : e.children) {
        // A predicate in an alternation is an empty alternative to tree-sitter: not in the subset.
        if (m.type == Elem::Predicate || !m.field.empty() || m.quantified) return kNone;
        if (m.captures.size() + e.captures.size() > 3) return kNone;
        uint32_t id = compile(m);
        if (id == kNone || steps_[id].kind == Step::Alternation) return kNone;
        step.children.push_back(id);
      }
      if (step.children.empty() || step.children.size() > 64) return kNone;
      steps_.push_back(std::move(step));
      return uint32_t(steps_.size() - 1);
    }
    default:
      return kNone;
  }
  if ((e.type == Elem::Anonymous || e.type == Elem::Any) && !e.children.empty()) return kNone;
  bool anchor = false;
  for (const Elem& c : e.children) {
    switch (c.type) {
      case Elem::Predicate:
        continue;
      case Elem::Anchor:
        // (After a bare `_`, tree-sitter's anchor takes anonymous nodes too: not in the subset.)
        if (anchor || (!step.children.empty() && steps_[step.children.back()].kind == Step::AnyNode)) return kNone;
        anchor = true;
        continue;
      case Elem::Negated: {
        TSFieldId f = ts_language_field_id_for_name(language_, c.name.data(), uint32_t(c.name.size()));
        if (!f) return kNone;
        step.negated.push_back(f);
        continue;
      }
      default: {
        uint32_t id = compile(c);
        if (id == kNone) return kNone;
        if (anchor && steps_[id].optional) return kNone;  // `. (a)?`: not in the subset
        steps_[id].immediate = anchor;
        anchor = false;
        step.children.push_back(id);
      }
    }
  }
  if (anchor) {  // a trailing anchor: the last child step matches the last named child
    if (step.children.empty() || steps_[step.children.back()].optional) return kNone;
    steps_[step.children.back()].last = true;
    if (step.kind == Step::AnyNamed) last_anywhere_ = true;
    else if (step.kind == Step::Symbols) last_under_[step.symbols[0]] = 1;
  }
  step.simple = step.children.empty() && step.captures.empty();
  steps_.push_back(std::move(step));
  return uint32_t(steps_.size() - 1);
}

Matcher::Matcher(const TSLanguage* language, const ParsedQuery& query) : language_(language) {
  capture_names_ = query.captures;
  by_symbol_.resize(ts_language_symbol_count(language));
  last_under_.assign(ts_language_symbol_count(language), 0);
  const uint32_t npat = uint32_t(query.patterns.size());
  handled_.assign(npat, 0);
  handles_all_ = query.error == std::string_view::npos;
  for (uint32_t p = 0; p < npat; ++p) {
    Elem top = query.patterns[p].top;
    // `([...] (#pred ...))`: one member with predicates.
    if (top.type == Elem::Group && top.captures.empty() && !top.quantified) {
      const Elem* only = nullptr;
      bool single = true;
      for (const Elem& m : top.children) {
        if (m.type == Elem::Predicate) continue;
        if (only) single = false;
        only = &m;
      }
      if (single && only) top = Elem(*only);
    }
    std::vector<const Elem*> alternatives;
    if (top.type == Elem::Alternation && top.captures.empty() && !top.quantified) {
      for (const Elem& m : top.children)
        if (m.type != Elem::Predicate) alternatives.push_back(&m);
    } else {
      alternatives.push_back(&top);
    }
    const size_t steps_before = steps_.size();
    std::vector<Root> roots;
    bool ok = !alternatives.empty();
    for (const Elem* alt : alternatives) {
      if (!ok) break;
      if (alt->quantified || !alt->field.empty() || (alt->type != Elem::Named && alt->type != Elem::Wildcard)) {
        ok = false;
        break;
      }
      uint32_t id = compile(*alt);
      ok = id != kNone;
      if (ok) roots.push_back({p, id});
    }
    if (!ok) {
      steps_.resize(steps_before);
      handles_all_ = false;
      continue;
    }
    handled_[p] = 1;
    for (Root r : roots) {
      const Step& s = steps_[r.step];
      const uint32_t index = uint32_t(roots_.size());
      roots_.push_back(r);
      if (s.kind == Step::AnyNamed) wildcard_.push_back(index);
      else by_symbol_[s.symbols[0]].push_back(index);
    }
  }
}

// Where a node's child list continues: the step whose children are being matched, the node's
// children (in Scratch::kids), the next child step, the first child it may take, and the
// continuation of the parent's own list once this one is done (none: the match is complete).
struct Matcher::Cont {
  uint32_t step;
  uint32_t kids_begin, kids_end;
  uint32_t item;
  uint32_t from;
  const Cont* up;
};

class Matcher::Run {
 public:
  Run(const Matcher& m, Scratch& s, uint32_t pattern) : m_(m), s_(s), pattern_(pattern) {}

  // Whether `n` matches step `id` (not an alternation) on its own: type and negated fields. If so,
  // every way its children match is followed into `next`. `outer`: an enclosing alternation's
  // captures, which tree-sitter records after the member's own.
  bool node(uint32_t id, TSNode n, const Cont* next, const std::vector<uint16_t>* outer = nullptr) {
    if (s_.budget == 0) return false;
    --s_.budget;
    const Step& st = m_.steps_[id];
    const TSSymbol sym = ts_node_symbol(n);
    if (st.kind == Step::AnyNamed || st.kind == Step::AnyNode) {
      if (sym == kErrorSymbol || (st.kind == Step::AnyNamed && !ts_node_is_named(n))) return false;
    } else if (sym != st.symbols[0]) {
      return false;
    }
    const size_t caps = s_.caps.size();
    auto capture = [&] {
      for (uint16_t c : st.captures) s_.caps.push_back({n, c});
      if (outer)
        for (uint16_t c : *outer) s_.caps.push_back({n, c});
    };
    if (st.children.empty() && st.negated.empty()) {
      capture();
      proceed(next);
      s_.caps.resize(caps);
      return true;
    }
    const Scratch::Kids kids = kids_of(n);
    for (TSFieldId f : st.negated)
      for (uint32_t k = kids.begin; k < kids.end; ++k)
        if (s_.kids[k].field == f) return false;
    capture();
    if (st.children.empty()) proceed(next);
    else seq({id, kids.begin, kids.end, 0, kids.begin, next});
    s_.caps.resize(caps);
    return true;
  }

 private:
  // n's children, read at the first look in this generation (one root's run).
  Scratch::Kids kids_of(TSNode n) {
    auto& table = s_.kids_of;
    if ((s_.kids_count + 1) * 2 > table.size()) grow();
    const size_t mask = table.size() - 1;
    size_t i = cell(n.id, mask);
    for (; table[i].generation == s_.generation; i = (i + 1) & mask)
      if (table[i].id == n.id) return table[i];
    Scratch::Kids k;
    k.id = n.id;
    k.generation = s_.generation;
    k.begin = uint32_t(s_.kids.size());
    TSTreeCursor& cur = s_.cursor;
    ts_tree_cursor_reset(&cur, n);
    // Where a trailing anchor may look, "last" as the cursor sees it (it costs more to ask);
    // elsewhere no child needs it.
    const TSSymbol sym = ts_node_symbol(n);
    const bool status = m_.last_anywhere_ || (sym < m_.last_under_.size() && m_.last_under_[sym]);
    if (ts_tree_cursor_goto_first_child(&cur)) {
      do {
        TSNode kid = ts_tree_cursor_current_node(&cur);
        if (!status) {
          s_.kids.push_back({kid, ts_tree_cursor_current_field_id(&cur), ts_node_is_named(kid), false});
          continue;
        }
        TSFieldId field = 0;
        bool later = false, later_named = false, later_field = false;
        TSSymbol supertypes[8];
        unsigned supertype_count = 8;
        ts_tree_cursor_current_status(&cur, &field, &later, &later_named, &later_field, supertypes, &supertype_count);
        s_.kids.push_back({kid, field, ts_node_is_named(kid), !later_named});
      } while (ts_tree_cursor_goto_next_sibling(&cur));
    }
    k.end = uint32_t(s_.kids.size());
    table[i] = k;
    ++s_.kids_count;
    return k;
  }

  // A node's first cell in the kids_of table: its id's bits above the allocator's alignment, mixed.
  static size_t cell(const void* id, size_t mask) {
    return size_t((uint64_t(reinterpret_cast<uintptr_t>(id) >> 4) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
  }

  void grow() {
    std::vector<Scratch::Kids> old = std::move(s_.kids_of);
    s_.kids_of.assign(std::max<size_t>(64, old.size() * 2), Scratch::Kids{});
    const size_t mask = s_.kids_of.size() - 1;
    for (const Scratch::Kids& k : old) {
      if (k.generation != s_.generation) continue;
      size_t i = cell(k.id, mask);
      while (s_.kids_of[i].generation == s_.generation) i = (i + 1) & mask;
      s_.kids_of[i] = k;
    }
  }

  void proceed(const Cont* next) {
    if (next) seq(*next);
    else emit();
  }

  // Matches the list's next child step against the children from `from` on.
  void seq(const Cont& c) {
    const Step& parent = m_.steps_[c.step];
    if (c.item == parent.children.size()) {
      proceed(c.up);
      return;
    }
    const uint32_t id = parent.children[c.item];
    const Step& st = m_.steps_[id];
    if (st.optional) {
      Cont skip = c;
      ++skip.item;
      seq(skip);
    }
    Cont next = c;
    ++next.item;
    const bool alternation = st.kind == Step::Alternation;
    // The cursor starts a wildcard-rooted pattern at each child matching its first child step,
    // when that step names a type and is not anchored (tree-sitter's wildcard-root shortcut).
    const Step& lead = alternation ? m_.steps_[st.children[0]] : st;
    const bool every = c.up == nullptr && c.item == 0 && parent.kind == Step::AnyNamed && !st.immediate &&
                       lead.kind == Step::Symbols;
    const uint32_t* members = alternation ? st.children.data() : &id;
    const size_t count = alternation ? st.children.size() : 1;
    const std::vector<uint16_t>* outer = alternation ? &st.captures : nullptr;
    // A step with no captures and no children takes the first child it matches, as the cursor
    // does: it splits a state only where the step could capture something or fail below. Each
    // member of an alternation is a state of its own. Children in order, so are the matches.
    uint64_t taken = 0;  // members done with their first match
    const uint64_t all = count == 64 ? ~uint64_t(0) : (uint64_t(1) << count) - 1;
    for (uint32_t k = c.from; k < c.kids_end && taken != all; ++k) {
      const Scratch::Kid kid = s_.kids[k];
      if ((!st.field || kid.field == st.field) && (!st.last || kid.last_named)) {
        next.from = k + 1;
        for (size_t i = 0; i < count; ++i) {
          if (taken >> i & 1) continue;
          const Step& m = m_.steps_[members[i]];
          if (node(members[i], kid.node, &next, outer) && !every && m.simple && (!outer || outer->empty()))
            taken |= uint64_t(1) << i;
        }
      }
      if (st.immediate && kid.named) break;
      if (s_.budget == 0) return;
    }
  }

  void emit() {
    Scratch::Found f{pattern_, uint32_t(s_.found.size()), uint32_t(s_.caps.size()), false};
    s_.found.insert(s_.found.end(), s_.caps.begin(), s_.caps.end());
    s_.matches.push_back(f);
  }

  const Matcher& m_;
  Scratch& s_;
  uint32_t pattern_;
};

// The cursor's longest-match rule: of one pattern's matches at a root, one whose captures are all
// in another is dropped (of two equal ones, the later). Candidates are found by the first capture:
// a match that covers another holds that one too.
void Matcher::drop_covered(Scratch& s, uint32_t first) {
  auto& keys = s.keys;
  keys.clear();
  for (uint32_t m = first; m < s.matches.size(); ++m)
    for (uint32_t x = 0; x < s.matches[m].count; ++x) {
      const TSQueryCapture& c = s.found[s.matches[m].first + x];
      keys.push_back({reinterpret_cast<uintptr_t>(c.node.id), c.index, m});
    }
  std::sort(keys.begin(), keys.end());
  auto contains = [&](const Scratch::Found& b, const TSQueryCapture& ca) {
    for (uint32_t y = 0; y < b.count; ++y) {
      const TSQueryCapture& cb = s.found[b.first + y];
      if (cb.index == ca.index && cb.node.id == ca.node.id) return true;
    }
    return false;
  };
  for (uint32_t i = first; i < s.matches.size(); ++i) {
    Scratch::Found& a = s.matches[i];
    if (a.count == 0) {  // covered by any other match: by one with captures, or an earlier empty one
      for (uint32_t j = first; j < s.matches.size() && !a.dropped; ++j)
        a.dropped = j != i && !s.matches[j].dropped && (s.matches[j].count > 0 || j < i);
      continue;  // (one pass at most: the first other match decides)
    }
    // A covering match holds every capture of a: look among the holders of a's rarest capture.
    auto holders = [&](const TSQueryCapture& c) {
      const Scratch::Key lo{reinterpret_cast<uintptr_t>(c.node.id), c.index, 0};
      const Scratch::Key hi{lo.node, lo.index, UINT32_MAX};
      return std::pair(std::lower_bound(keys.begin(), keys.end(), lo), std::upper_bound(keys.begin(), keys.end(), hi));
    };
    auto range = holders(s.found[a.first]);
    for (uint32_t x = 1; x < a.count; ++x) {
      auto r = holders(s.found[a.first + x]);
      if (r.second - r.first < range.second - range.first) range = r;
    }
    for (auto it = range.first; it != range.second && !a.dropped; ++it) {
      if (s.budget == 0) return;  // (a pathological query: the file is reported as cut short)
      --s.budget;
      const uint32_t j = it->match;
      const Scratch::Found& b = s.matches[j];
      if (j == i || b.dropped || a.count > b.count || (a.count == b.count && j > i)) continue;
      bool covered = true;
      for (uint32_t x = 0; x < a.count && covered; ++x) covered = contains(b, s.found[a.first + x]);
      a.dropped = covered;
    }
  }
}

bool Matcher::find(TSNode node, bool wildcard, Scratch& s) const {
  s.found.clear();
  s.matches.clear();
  s.caps.clear();
  s.kids.clear();
  s.kids_count = 0;
  if (++s.generation == 0) {  // after 2^32 roots: no cell may look live
    for (Scratch::Kids& k : s.kids_of) k.generation = 0;
    s.generation = 1;
  }
  if (!s.has_cursor) {
    s.cursor = ts_tree_cursor_new(node);
    s.has_cursor = true;
  }
  const std::vector<uint32_t>* list = &wildcard_;
  if (!wildcard) {
    const TSSymbol sym = ts_node_symbol(node);
    if (sym >= by_symbol_.size()) return true;
    list = &by_symbol_[sym];
  }
  for (size_t i = 0; i < list->size();) {
    // The roots of one pattern (a top-level alternation's members) are next to each other.
    const uint32_t pattern = roots_[(*list)[i]].pattern;
    const uint32_t first = uint32_t(s.matches.size());
    for (; i < list->size() && roots_[(*list)[i]].pattern == pattern; ++i) {
      Run run(*this, s, pattern);
      run.node(roots_[(*list)[i]].step, node, nullptr);
    }
    if (s.matches.size() - first > 1) drop_covered(s, first);
  }
  return s.budget > 0;
}

}  // namespace indexer::detail
