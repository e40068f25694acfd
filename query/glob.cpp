// Git's wildmatch semantics with FNM_PATHNAME, enough for .gitignore lines and --path filters.
#include "query/query.h"

namespace query {
namespace {

// Matches a bracket class starting after '['; sets `end` past the closing ']'. A malformed class
// (no closing bracket) matches nothing.
bool match_class(std::string_view g, size_t& i, char c) {
  bool negate = i < g.size() && (g[i] == '!' || g[i] == '^');
  if (negate) ++i;
  bool matched = false;
  bool first = true;
  while (i < g.size() && (first || g[i] != ']')) {
    first = false;
    char lo = g[i];
    if (lo == '\\' && i + 1 < g.size()) lo = g[++i];
    char hi = lo;
    if (i + 2 < g.size() && g[i + 1] == '-' && g[i + 2] != ']') {
      hi = g[i + 2];
      if (hi == '\\' && i + 3 < g.size()) hi = g[++i + 2];
      i += 2;
    }
    if (c >= lo && c <= hi) matched = true;
    ++i;
  }
  if (i >= g.size()) return false;
  ++i;  // ']'
  return matched != negate;
}

bool match_at(std::string_view g, size_t gi, std::string_view s, size_t si) {
  while (gi < g.size()) {
    char c = g[gi];
    if (c == '*') {
      bool at_segment_start = gi == 0 || g[gi - 1] == '/';
      if (gi + 1 < g.size() && g[gi + 1] == '*' && at_segment_start &&
          (gi + 2 == g.size() || g[gi + 2] == '/')) {
        if (gi + 2 == g.size()) return true;  // trailing "/**": everything below
        // "**/": zero or more whole directories
        size_t rest = gi + 3;
        if (match_at(g, rest, s, si)) return true;
        for (size_t k = si; k < s.size(); ++k)
          if (s[k] == '/' && match_at(g, rest, s, k + 1)) return true;
        return false;
      }
      while (gi < g.size() && g[gi] == '*') ++gi;
      for (size_t k = si;; ++k) {
        if (match_at(g, gi, s, k)) return true;
        if (k >= s.size() || s[k] == '/') return false;
      }
    }
    if (si >= s.size()) return false;
    if (c == '?') {
      if (s[si] == '/') return false;
      ++gi, ++si;
    } else if (c == '[') {
      if (s[si] == '/') return false;
      size_t k = gi + 1;
      if (!match_class(g, k, s[si])) return false;
      gi = k, ++si;
    } else {
      if (c == '\\' && gi + 1 < g.size()) c = g[++gi];
      if (c != s[si]) return false;
      ++gi, ++si;
    }
  }
  return si == s.size();
}

}  // namespace

bool glob_match(std::string_view glob, std::string_view path) { return match_at(glob, 0, path, 0); }

}  // namespace query
