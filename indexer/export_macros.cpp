#include "indexer/export_macros.h"

#include <cstdint>
#include <cstring>

namespace indexer::detail {
namespace {

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool ident_char(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t skip_space(std::string_view s, size_t i) {
  while (i < s.size() && space(s[i])) ++i;
  return i;
}

// The end of a balanced group opening at s[i] (`(` or `[`), or npos. Bounded: a head is short, so
// a group longer than 512 bytes is not one we blank.
size_t group_end(std::string_view s, size_t i) {
  char open = s[i], close = open == '(' ? ')' : ']';
  int depth = 0;
  for (size_t j = i; j < s.size() && j - i < 512; ++j) {
    if (s[j] == open) ++depth;
    else if (s[j] == close && --depth == 0) return j + 1;
  }
  return std::string_view::npos;
}

// An identifier a macro could be: capitals, digits and underscores, with at least one capital
// (`_` alone and `__declspec` are not).
bool macro_like(std::string_view id) {
  bool upper = false;
  for (char c : id) {
    if (c >= 'a' && c <= 'z') return false;
    upper |= c >= 'A' && c <= 'Z';
  }
  return upper;
}

bool known_attribute(std::string_view id) {
  return id == "__declspec" || id == "__attribute__" || id == "__attribute" || id == "alignas" || id == "_Alignas";
}

struct Span {
  uint32_t begin, end;
};

// After a class keyword ending at `i`: the macros to blank, or zero when the head is no such case.
// Up to 8 tokens are read: a head has a few.
int macros_in_head(std::string_view s, size_t i, Span (&macros)[8]) {
  int n = 0;
  bool name_seen = false;  // the last identifier read, which is not blanked
  Span last{};
  for (int tokens = 0; tokens < 9; ++tokens) {
    i = skip_space(s, i);
    if (i >= s.size()) return 0;
    char c = s[i];
    if (c == '[' && i + 1 < s.size() && s[i + 1] == '[') {  // [[attribute]]
      size_t e = group_end(s, i);
      if (e == std::string_view::npos) return 0;
      i = e;
      continue;
    }
    if (ident_start(c)) {
      size_t b = i;
      while (i < s.size() && ident_char(s[i])) ++i;
      std::string_view id = s.substr(b, i - b);
      size_t after = skip_space(s, i);
      if (known_attribute(id)) {
        if (after >= s.size() || s[after] != '(') return 0;
        size_t e = group_end(s, after);
        if (e == std::string_view::npos) return 0;
        i = e;
        continue;
      }
      if (id == "final" && name_seen) {
        i = after;
        break;  // `class X final` ends the head like a brace would
      }
      if (name_seen) {  // the previous identifier was a macro, not the name
        if (n == 8) return 0;
        macros[n++] = last;
      }
      Span span{uint32_t(b), uint32_t(i)};
      if (after < s.size() && s[after] == '(') {  // MACRO(args): only a macro can be called here
        size_t e = group_end(s, after);
        if (e == std::string_view::npos || !macro_like(id)) return 0;
        span.end = uint32_t(e);
        i = e;
      }
      last = span;
      name_seen = true;
      continue;
    }
    break;
  }
  if (n == 0) return 0;
  i = skip_space(s, i);
  if (i >= s.size()) return 0;
  char c = s[i];
  bool head_end = c == '{' || c == '<' || (c == ':' && (i + 1 >= s.size() || s[i + 1] != ':'));
  // `final` was consumed above; what follows it is `{` or a base clause.
  if (!head_end) return 0;
  for (int k = 0; k < n; ++k) {
    std::string_view id = s.substr(macros[k].begin, macros[k].end - macros[k].begin);
    size_t len = 0;
    while (len < id.size() && ident_char(id[len])) ++len;
    if (!macro_like(id.substr(0, len))) return 0;
  }
  return n;
}

}  // namespace

bool blank_export_macros(std::string_view src, std::string& out) {
  bool copied = false;
  for (size_t i = 0; i + 5 < src.size(); ++i) {
    char c = src[i];
    if (c != 'c' && c != 's' && c != 'u') continue;
    if (i > 0 && ident_char(src[i - 1])) continue;
    size_t len = 0;
    if (src.compare(i, 5, "class") == 0) len = 5;
    else if (src.compare(i, 6, "struct") == 0) len = 6;
    else if (src.compare(i, 5, "union") == 0) len = 5;
    if (len == 0 || i + len >= src.size() || !space(src[i + len])) continue;
    Span macros[8];
    int n = macros_in_head(src, i + len, macros);
    if (n == 0) continue;
    if (!copied) {
      out.assign(src);
      copied = true;
    }
    // Blank all but newlines, so that line numbers stay too.
    for (int k = 0; k < n; ++k)
      for (uint32_t j = macros[k].begin; j < macros[k].end; ++j)
        if (out[j] != '\n') out[j] = ' ';
    i += len;
  }
  return copied;
}

}  // namespace indexer::detail
