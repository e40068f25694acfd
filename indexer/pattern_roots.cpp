#include "indexer/pattern_roots.h"
#include "indexer/query_syntax.h"

#include <tree_sitter/api.h>

#include <cctype>

namespace indexer::detail {
namespace {

class Collector {
 public:
  Collector(const TSLanguage* language, PatternRoots& out) : lang_(language), out_(out) {}

  // Records where `e`, a pattern's top element, can be rooted; false when it cannot be pinned.
  bool root(const Elem& e) {
    if (e.quantified) return false;
    switch (e.type) {
      case Elem::Named:
      case Elem::Anonymous: {
        TSSymbol s = symbol(e);
        if (!s) return false;
        out_.self[s] = 1;
        return true;
      }
      case Elem::Alternation:
        for (const Elem& m : e.children)
          if (!root(m)) return false;
        return !e.children.empty();
      case Elem::Group: {
        const Elem* only = single_member(e);
        return only && root(*only);
      }
      case Elem::Wildcard:
        return wildcard(e);
      default:
        return false;
    }
  }

 private:
  // A wildcard root is pinned by its required children: each gets a bit; all must be seen.
  bool wildcard(const Elem& e) {
    uint64_t mask = 0;
    for (const Elem& c : e.children) {
      if (c.optional) continue;
      std::vector<TSSymbol> set;
      if (!types(c, set) || set.empty()) continue;
      if (next_bit_ == 64) break;  // fewer required sets is still a necessary condition
      uint64_t bit = uint64_t(1) << next_bit_++;
      for (TSSymbol s : set) out_.child_bits[s] |= bit;
      mask |= bit;
    }
    if (!mask) return false;
    out_.wildcards.push_back(mask);
    return true;
  }

  // The symbols a child element can have; false when it can be any node.
  bool types(const Elem& e, std::vector<TSSymbol>& set) {
    switch (e.type) {
      case Elem::Named:
      case Elem::Anonymous: {
        TSSymbol s = symbol(e);
        if (!s) return false;
        set.push_back(s);
        return true;
      }
      case Elem::Alternation:
        for (const Elem& m : e.children)
          if (!types(m, set)) return false;
        return !e.children.empty();
      case Elem::Group: {
        const Elem* only = single_member(e);
        return only && !only->optional && types(*only, set);
      }
      default:
        return false;
    }
  }

  static const Elem* single_member(const Elem& group) {
    const Elem* only = nullptr;
    for (const Elem& m : group.children) {
      if (m.type == Elem::Predicate || m.type == Elem::Anchor || m.type == Elem::Negated) continue;
      if (only) return nullptr;  // siblings: not rooted at one node
      only = &m;
    }
    return only;
  }

  // The node symbol `e` names; 0 when none or a supertype, which no node has as its own symbol
  // (and which the cursor cannot check at the node it starts from).
  TSSymbol symbol(const Elem& e) const {
    bool named = e.type == Elem::Named;
    TSSymbol s = ts_language_symbol_for_name(lang_, e.name.data(), uint32_t(e.name.size()), named);
    if (s >= out_.self.size() || ts_language_symbol_type(lang_, s) == TSSymbolTypeSupertype) return 0;
    return s;
  }

  const TSLanguage* lang_;
  PatternRoots& out_;
  unsigned next_bit_ = 0;
};

}  // namespace

namespace {

bool captures_with_prefix(const Elem& e, std::string_view prefix) {
  for (const std::string& c : e.captures)
    if (std::string_view(c).starts_with(prefix)) return true;
  for (const Elem& c : e.children)
    if (captures_with_prefix(c, prefix)) return true;
  return false;
}

}  // namespace

PatternRoots pattern_roots(const TSLanguage* language, const ParsedQuery& query, const std::vector<uint8_t>* only) {
  PatternRoots out;
  const uint32_t nsym = ts_language_symbol_count(language);
  out.self.assign(nsym, 0);
  out.child_bits.assign(nsym, 0);
  Collector collect(language, out);
  for (size_t p = 0; p < query.patterns.size(); ++p) {
    if (only && !(*only)[p]) {
      out.wildcard_pattern.push_back(0);
      continue;
    }
    const Elem& top = query.patterns[p].top;
    const size_t wildcards_before = out.wildcards.size();
    bool ok = collect.root(top);
    out.wildcard_pattern.push_back(out.wildcards.size() > wildcards_before);
    if (ok && out.wildcard_pattern.back())
      ok = !captures_with_prefix(top, "import") && !captures_with_prefix(top, "package");
    if (!ok) {
      out.why = "pattern " + std::to_string(p) + ": " + std::string(query.patterns[p].text.substr(0, 60));
      out.pinned = false;
      return out;
    }
  }
  out.pinned = true;
  return out;
}

query::Result<std::vector<uint8_t>> opaque_types(const TSLanguage* language, std::string_view source) {
  std::vector<uint8_t> out;
  constexpr std::string_view kDirective = "; opaque:";
  for (size_t at = 0; at < source.size();) {
    size_t eol = source.find('\n', at);
    if (eol == std::string_view::npos) eol = source.size();
    std::string_view line = source.substr(at, eol - at);
    at = eol + 1;
    if (!line.starts_with(kDirective)) continue;
    line.remove_prefix(kDirective.size());
    if (out.empty()) out.assign(ts_language_symbol_count(language), 0);
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t j = i;
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
      if (j == i) break;
      std::string_view name = line.substr(i, j - i);
      i = j;
      // (tree-sitter answers ERROR's builtin symbol, past the table, for prefixes of "ERROR";
      // a supertype is never a node's own symbol.)
      TSSymbol s = ts_language_symbol_for_name(language, name.data(), uint32_t(name.size()), true);
      if (!s || s >= out.size() || ts_language_symbol_type(language, s) != TSSymbolTypeRegular) {
        return query::Error{"opaque: unknown node type " + std::string(name)};
      }
      out[s] = 1;
    }
  }
  return out;
}

}  // namespace indexer::detail
