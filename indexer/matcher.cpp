#include "indexer/matcher.h"
#include "indexer/query_syntax.h"

#include <algorithm>

namespace indexer::detail {
namespace {

constexpr uint32_t kNone = UINT32_MAX;
constexpr TSSymbol kErrorSymbol = TSSymbol(-1);  // tree-sitter's ts_builtin_sym_error, not in its public header

bool has_captures(const Elem& e) {
  if (!e.captures.empty()) return true;
  for (const Elem& c : e.children)
    if (has_captures(c)) return true;
  return false;
}

bool has_node_children(const Elem& e) {
  for (const Elem& c : e.children)
    if (c.type != Elem::Predicate && c.type != Elem::Anchor && c.type != Elem::Negated) return true;
  return false;
}

}  // namespace

uint32_t Matcher::compile(const Elem& e, bool& has_optional) {
  if (e.repeated) return kNone;
  Step step;
  step.optional = e.optional;
  has_optional = has_optional || e.optional;
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
        if (m.type == Elem::Predicate) continue;
        if (!m.field.empty() || m.quantified) return kNone;
        uint32_t id = compile(m, has_optional);
        if (id == kNone || steps_[id].kind == Step::Alternation) return kNone;
        step.children.push_back(id);
      }
      if (step.children.empty()) return kNone;
      step.simple = !has_captures(e) && !std::any_of(e.children.begin(), e.children.end(), has_node_children);
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
        uint32_t id = compile(c, has_optional);
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
  }
  step.simple = step.children.empty() && step.captures.empty();
  steps_.push_back(std::move(step));
  return uint32_t(steps_.size() - 1);
}

Matcher::Matcher(const TSLanguage* language, const ParsedQuery& query) : language_(language) {
  capture_names_ = query.captures;
  by_symbol_.resize(ts_language_symbol_count(language));
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
    bool has_optional = false;
    for (const Elem* alt : alternatives) {
      if (!ok) break;
      if (alt->quantified || !alt->field.empty() || (alt->type != Elem::Named && alt->type != Elem::Wildcard)) {
        ok = false;
        break;
      }
      uint32_t id = compile(*alt, has_optional);
      ok = id != kNone;
      if (ok) roots.push_back({p, id, false});
    }
    if (!ok) {
      steps_.resize(steps_before);
      handles_all_ = false;
      continue;
    }
    handled_[p] = 1;
    for (Root r : roots) {
      r.prune = has_optional;
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
  uint32_t kids_begin, kids_end, last_named;
  uint32_t item;
  uint32_t from;
  const Cont* up;
};

class Matcher::Run {
 public:
  Run(const Matcher& m, Scratch& s, uint32_t pattern) : m_(m), s_(s), pattern_(pattern) {}

  // Whether `node` matches step `id` on its own (type, negated fields); if so, every way its
  // children match is followed into `next`.
  bool node(uint32_t id, TSNode n, const Cont* next) {
    if (s_.budget == 0) return false;
    --s_.budget;
    const Step& st = m_.steps_[id];
    if (st.kind == Step::Alternation) {
      bool any = false;
      const size_t caps = s_.caps.size();
      for (uint16_t c : st.captures) s_.caps.push_back({n, c});
      for (uint32_t member : st.children) any = node(member, n, next) || any;
      s_.caps.resize(caps);
      return any;
    }
    const TSSymbol sym = ts_node_symbol(n);
    if (st.kind == Step::AnyNamed || st.kind == Step::AnyNode) {
      if (sym == kErrorSymbol || (st.kind == Step::AnyNamed && !ts_node_is_named(n))) return false;
    } else if (sym != st.symbols[0]) {
      return false;
    }
    if (st.children.empty() && st.negated.empty()) {
      const size_t caps = s_.caps.size();
      for (uint16_t c : st.captures) s_.caps.push_back({n, c});
      proceed(next);
      s_.caps.resize(caps);
      return true;
    }
    const Scratch::Kids kids = kids_of(n);
    for (TSFieldId f : st.negated)
      for (uint32_t k = kids.begin; k < kids.end; ++k)
        if (s_.kids[k].field == f) return false;
    const size_t caps = s_.caps.size();
    for (uint16_t c : st.captures) s_.caps.push_back({n, c});
    if (st.children.empty()) proceed(next);
    else seq({id, kids.begin, kids.end, kids.last_named, 0, kids.begin, next});
    s_.caps.resize(caps);
    return true;
  }

 private:
  // n's children, read at the first look in this generation (one root's run).
  Scratch::Kids kids_of(TSNode n) {
    auto& table = s_.kids_of;
    if ((s_.kids_count + 1) * 2 > table.size()) grow();
    const size_t mask = table.size() - 1;
    size_t i = (reinterpret_cast<uintptr_t>(n.id) >> 4) * 0x9E3779B97F4A7C15ull >> 32 & mask;
    for (; table[i].generation == s_.generation; i = (i + 1) & mask)
      if (table[i].id == n.id) return table[i];
    Scratch::Kids k;
    k.id = n.id;
    k.generation = s_.generation;
    k.begin = uint32_t(s_.kids.size());
    TSTreeCursor& cur = s_.cursor;
    ts_tree_cursor_reset(&cur, n);
    if (ts_tree_cursor_goto_first_child(&cur)) {
      do {
        TSNode kid = ts_tree_cursor_current_node(&cur);
        const bool named = ts_node_is_named(kid);
        if (named) k.last_named = uint32_t(s_.kids.size());
        s_.kids.push_back({kid, ts_tree_cursor_current_field_id(&cur), named});
      } while (ts_tree_cursor_goto_next_sibling(&cur));
    }
    k.end = uint32_t(s_.kids.size());
    table[i] = k;
    ++s_.kids_count;
    return k;
  }

  void grow() {
    std::vector<Scratch::Kids> old = std::move(s_.kids_of);
    s_.kids_of.assign(std::max<size_t>(64, old.size() * 2), Scratch::Kids{});
    const size_t mask = s_.kids_of.size() - 1;
    for (const Scratch::Kids& k : old) {
      if (k.generation != s_.generation) continue;
      size_t i = (reinterpret_cast<uintptr_t>(k.id) >> 4) * 0x9E3779B97F4A7C15ull >> 32 & mask;
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
    for (uint32_t k = c.from; k < c.kids_end; ++k) {
      const Scratch::Kid kid = s_.kids[k];
      if ((!st.field || kid.field == st.field) && (!st.last || c.last_named == UINT32_MAX || k >= c.last_named)) {
        next.from = k + 1;
        if (node(id, kid.node, &next) && st.simple) break;
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
    if (a.count == 0) {  // covered by any other match
      a.dropped = i + 1 < s.matches.size() || i > first;
      continue;
    }
    const TSQueryCapture& c0 = s.found[a.first];
    const Scratch::Key lo{reinterpret_cast<uintptr_t>(c0.node.id), c0.index, 0};
    for (auto it = std::lower_bound(keys.begin(), keys.end(), lo);
         it != keys.end() && it->node == lo.node && it->index == lo.index && !a.dropped; ++it) {
      const uint32_t j = it->match;
      const Scratch::Found& b = s.matches[j];
      if (j == i || b.dropped || a.count > b.count || (a.count == b.count && j > i)) continue;
      bool covered = true;
      for (uint32_t x = 1; x < a.count && covered; ++x) covered = contains(b, s.found[a.first + x]);
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
    const bool prune = roots_[(*list)[i]].prune;
    const uint32_t first = uint32_t(s.matches.size());
    for (; i < list->size() && roots_[(*list)[i]].pattern == pattern; ++i) {
      Run run(*this, s, pattern);
      run.node(roots_[(*list)[i]].step, node, nullptr);
    }
    if (prune && s.matches.size() - first > 1) drop_covered(s, first);
  }
  return s.budget > 0;
}

}  // namespace indexer::detail
