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

// What a match attempt learned, as in git's wildmatch. The aborts bound the backtracking of '*'
// (without them "*a*a*a...*b" against "aaa..." takes exponential time): stars try the shortest
// length first and everything between two stars has a fixed width, so when the rest of a pattern
// fails at every later position, no earlier star can help by taking more.
enum class Wild {
  Match,
  NoMatch,          // not from this position; a later one may still match
  AbortAll,         // not from this position nor any later one
  AbortToStarStar,  // not from any later position in this path segment: only a "**" may go on
};

Wild match_at(std::string_view g, size_t gi, std::string_view s, size_t si) {
  while (gi < g.size()) {
    char c = g[gi];
    if (c == '*') {
      bool at_segment_start = gi == 0 || g[gi - 1] == '/';
      if (gi + 1 < g.size() && g[gi + 1] == '*' && at_segment_start &&
          (gi + 2 == g.size() || g[gi + 2] == '/')) {
        if (gi + 2 == g.size()) return Wild::Match;  // trailing "/**": everything below
        // "**/": zero or more whole directories
        size_t rest = gi + 3;
        if (Wild r = match_at(g, rest, s, si); r == Wild::Match || r == Wild::AbortAll) return r;
        for (size_t k = si; k < s.size(); ++k)
          if (s[k] == '/')
            if (Wild r = match_at(g, rest, s, k + 1); r == Wild::Match || r == Wild::AbortAll) return r;
        return Wild::AbortAll;
      }
      while (gi < g.size() && g[gi] == '*') ++gi;
      for (size_t k = si;; ++k) {
        if (Wild r = match_at(g, gi, s, k); r != Wild::NoMatch) return r;
        if (k >= s.size()) return Wild::AbortAll;
        if (s[k] == '/') return Wild::AbortToStarStar;
      }
    }
    if (si >= s.size()) return Wild::AbortAll;  // the rest needs a character: later starts have fewer
    if (c == '?') {
      if (s[si] == '/') return Wild::NoMatch;
      ++gi, ++si;
    } else if (c == '[') {
      if (s[si] == '/') return Wild::NoMatch;
      size_t k = gi + 1;
      if (!match_class(g, k, s[si])) return Wild::NoMatch;
      gi = k, ++si;
    } else {
      if (c == '\\' && gi + 1 < g.size()) c = g[++gi];
      if (c != s[si]) return Wild::NoMatch;
      ++gi, ++si;
    }
  }
  return si == s.size() ? Wild::Match : Wild::NoMatch;
}

}  // namespace

bool glob_match(std::string_view glob, std::string_view path) { return match_at(glob, 0, path, 0) == Wild::Match; }

}  // namespace query
