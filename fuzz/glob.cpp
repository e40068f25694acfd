// query::glob_match (.gitignore lines, --exclude, --path): input is PATTERN '\n' PATH. Small inputs
// without a bracket class are also checked against a plain backtracking matcher (exponential, so
// only there) that spells out wildmatch's rules for the rest: the aborts that bound the real one
// must never change an answer. (A class matches one character, like '?', for what the aborts
// assume.)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "query/query.h"

namespace {

bool reference(std::string_view g, size_t gi, std::string_view s, size_t si) {
  while (gi < g.size()) {
    char c = g[gi];
    if (c == '*') {
      bool at_segment_start = gi == 0 || g[gi - 1] == '/';
      if (gi + 1 < g.size() && g[gi + 1] == '*' && at_segment_start && (gi + 2 == g.size() || g[gi + 2] == '/')) {
        if (gi + 2 == g.size()) return true;
        if (reference(g, gi + 3, s, si)) return true;
        for (size_t k = si; k < s.size(); ++k)
          if (s[k] == '/' && reference(g, gi + 3, s, k + 1)) return true;
        return false;
      }
      while (gi < g.size() && g[gi] == '*') ++gi;
      for (size_t k = si;; ++k) {
        if (reference(g, gi, s, k)) return true;
        if (k >= s.size() || s[k] == '/') return false;
      }
    }
    if (si >= s.size()) return false;
    if (c == '?') {
      if (s[si] == '/') return false;
      ++gi, ++si;
    } else {
      if (c == '\\' && gi + 1 < g.size()) c = g[++gi];
      if (c != s[si]) return false;
      ++gi, ++si;
    }
  }
  return si == s.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nl = in.find('\n');
  std::string_view glob = in.substr(0, nl), path = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  bool got = query::glob_match(glob, path);
  if (glob.size() <= 14 && path.size() <= 20 && glob.find('[') == std::string_view::npos && got != reference(glob, 0, path, 0))
    __builtin_trap();
  return 0;
}
