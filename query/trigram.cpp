#include "query/trigram.h"

#include <algorithm>

#include "query/fuzzy_match.h"

namespace query {
namespace {

constexpr size_t kMaxChars = FuzzyMatcher::kMaxWord;

inline char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + ('a' - 'A')) : c; }
inline Token unigram(char a) { return (1u << 24) | uint8_t(a); }
inline Token bigram(char a, char b) { return (2u << 24) | (uint32_t(uint8_t(a)) << 8) | uint8_t(b); }
inline Token trigram(char a, char b, char c) {
  return (3u << 24) | (uint32_t(uint8_t(a)) << 16) | (uint32_t(uint8_t(b)) << 8) | uint8_t(c);
}

// The word characters of `name`, lower-cased, and which of them start a segment.
struct Word {
  char chars[kMaxChars];
  bool head[kMaxChars];
  size_t size = 0;
};

void split(std::string_view name, Word& w) {
  CharRole roles[kMaxChars];
  size_t n = std::min(name.size(), kMaxChars);
  char_roles(name, roles, n);
  for (size_t i = 0; i < n; ++i) {
    if (roles[i] == CharRole::Separator) continue;
    w.chars[w.size] = to_lower(name[i]);
    w.head[w.size] = roles[i] == CharRole::Head;
    ++w.size;
  }
}

}  // namespace

void identifier_tokens(std::string_view name, std::vector<Token>& out) {
  Word w;
  split(name, w);
  const size_t n = w.size;
  if (n == 0) return;
  size_t start = out.size();

  // next_head[i]: the first segment start after i (n when none).
  size_t next_head[kMaxChars + 1];
  next_head[n] = n;
  for (size_t i = n; i-- > 0;) next_head[i] = (i + 1 < n && w.head[i + 1]) ? i + 1 : next_head[i + 1];

  // From each character a step goes to the next character, the next segment start, or the start
  // after that (skipping one segment, as in "gRS" for Greater-Than-Right-Shift).
  auto steps = [&](size_t i, size_t out[3]) {
    out[0] = i + 1;
    out[1] = next_head[i];
    out[2] = next_head[i] < n ? next_head[next_head[i]] : n;
  };
  for (size_t i = 0; i < n; ++i) {
    size_t si[3];
    steps(i, si);
    for (size_t a = 0; a < 3; ++a) {
      size_t j = si[a];
      if (j >= n || (a > 0 && j == si[a - 1])) continue;
      size_t sj[3];
      steps(j, sj);
      for (size_t b = 0; b < 3; ++b) {
        size_t k = sj[b];
        if (k >= n || (b > 0 && k == sj[b - 1])) continue;
        out.push_back(trigram(w.chars[i], w.chars[j], w.chars[k]));
      }
    }
  }
  // The walks covered the name's first kMaxChars bytes; past them only contiguous trigrams are
  // indexed, so a long name is still found by any substring of it.
  if (name.size() > kMaxChars) {
    char window[3] = {0, 0, 0};
    size_t have = 0;
    for (size_t i = 0; i < name.size(); ++i) {
      unsigned char u = static_cast<unsigned char>(name[i]);
      if (!((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80)) continue;
      window[0] = window[1];
      window[1] = window[2];
      window[2] = to_lower(name[i]);
      if (have < 3) ++have;
      if (i >= kMaxChars && have == 3) out.push_back(trigram(window[0], window[1], window[2]));
    }
  }
  // Short tokens for one- and two-character queries: taken at segment starts only.
  for (size_t i = 0; i < n; ++i) {
    if (!w.head[i]) continue;
    out.push_back(unigram(w.chars[i]));
    if (i + 1 < n) out.push_back(bigram(w.chars[i], w.chars[i + 1]));
    if (next_head[i] < n) out.push_back(bigram(w.chars[i], w.chars[next_head[i]]));
  }
  std::sort(out.begin() + start, out.end());
  out.erase(std::unique(out.begin() + start, out.end()), out.end());
}

void query_tokens(std::string_view query, std::vector<Token>& out) {
  char q[kMaxChars];
  size_t n = 0;
  for (char c : query) {
    if (n == kMaxChars) break;
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u >= 0x80) q[n++] = to_lower(c);
  }
  size_t start = out.size();
  if (n == 1) out.push_back(unigram(q[0]));
  else if (n == 2) out.push_back(bigram(q[0], q[1]));
  else
    for (size_t i = 0; i + 2 < n; ++i) out.push_back(trigram(q[i], q[i + 1], q[i + 2]));
  std::sort(out.begin() + start, out.end());
  out.erase(std::unique(out.begin() + start, out.end()), out.end());
}

}  // namespace query
