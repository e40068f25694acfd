// compress::diff_text: input is OPTIONS OLD 0xFF NEW (one byte of options: context, words, a zero
// budget). Whatever the texts, the unified diff applied to OLD by a strict applier (every context
// and removed line must equal OLD's line there) gives NEW byte for byte, hunks do not overlap,
// the stats count the -/+ lines, and word ranges lie inside their lines. A NUL byte is refused.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "compress/diff.h"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "diff fuzz: %s\n", what);
  std::abort();
}

std::vector<std::string_view> lines_of(std::string_view t) {
  std::vector<std::string_view> out;
  for (size_t s = 0; s < t.size();) {
    size_t e = t.find('\n', s);
    e = e == std::string_view::npos ? t.size() : e + 1;
    out.push_back(t.substr(s, e - s));
    s = e;
  }
  return out;
}

// Reads "-12,3" / "+7": the start and count of a hunk header's side.
const char* read_range(const char* p, char sign, uint32_t& start, uint32_t& count) {
  if (*p++ != sign) fail("bad hunk header");
  start = uint32_t(std::strtoul(p, const_cast<char**>(&p), 10));
  count = 1;
  if (*p == ',') count = uint32_t(std::strtoul(p + 1, const_cast<char**>(&p), 10));
  return p;
}

std::string apply(std::string_view old_text, const compress::Diff& d, size_t& removed, size_t& added) {
  std::vector<std::string_view> old_lines = lines_of(old_text), u = lines_of(d.unified);
  if (u.size() < 3 || !u[0].starts_with("--- ") || !u[1].starts_with("+++ ")) fail("no header");
  std::string out;
  size_t at = 0, hunk = 0;
  for (size_t i = 2; i < u.size();) {
    if (!u[i].starts_with("@@ ")) fail("no hunk header");
    uint32_t os, oc, ns, nc;
    const char* p = read_range(u[i].data() + 3, '-', os, oc);
    if (*p++ != ' ') fail("bad hunk header");
    read_range(p, '+', ns, nc);
    if (hunk >= d.hunks.size()) fail("more hunks than the result lists");
    const compress::Hunk& h = d.hunks[hunk++];
    if (h.old_start != os || h.old_lines != oc || h.new_start != ns || h.new_lines != nc) fail("hunk differs from its header");
    size_t first = oc ? os - 1 : os;
    if (first < at) fail("hunks overlap");
    while (at < first) out += old_lines.at(at++);
    ++i;
    uint32_t seen_old = 0, seen_new = 0;
    for (; i < u.size() && !u[i].starts_with("@@ "); ++i) {
      char sign = u[i][0];
      std::string body(u[i].substr(1));
      if (i + 1 < u.size() && u[i + 1] == "\\ No newline at end of file\n") body.pop_back(), ++i;
      if (sign == ' ' || sign == '-') {
        if (at >= old_lines.size() || old_lines[at] != body) fail("context or removed line is not the old text's");
        ++at, ++seen_old;
        if (sign == ' ') out += body, ++seen_new;
        else ++removed;
      } else if (sign == '+') {
        out += body, ++seen_new, ++added;
      } else {
        fail("unknown line in a hunk");
      }
    }
    if (seen_old != oc || seen_new != nc) fail("hunk counts differ from its lines");
  }
  if (hunk != d.hunks.size()) fail("fewer hunks than the result lists");
  while (at < old_lines.size()) out += old_lines[at++];
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t cut = in.find('\xff');
  std::string_view a = in.substr(0, cut), b = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
  compress::DiffOptions o;
  o.context = data[0] & 7;
  o.words = data[0] & 8;
  if (data[0] & 16) o.budget = std::chrono::seconds(0);
  auto r = compress::diff_text(a, b, o);
  bool nul = a.find('\0') != std::string_view::npos || b.find('\0') != std::string_view::npos;
  if (auto* refusal = std::get_if<compress::DiffRefusal>(&r)) {
    if (!nul) fail("refused a text without NUL");
    return 0;
  }
  if (nul) fail("took a text with a NUL");
  const compress::Diff& d = std::get<compress::Diff>(r);
  if (d.identical != (a == b)) fail("identical is wrong");
  if (d.identical) return d.unified.empty() ? 0 : (fail("identical with a diff"), 0);
  size_t removed = 0, added = 0;
  if (apply(a, d, removed, added) != b) fail("the diff does not give the new text");
  if (removed != d.removed || added != d.added) fail("stats differ from the -/+ lines");
  std::vector<std::string_view> al = lines_of(a), bl = lines_of(b);
  for (const auto& h : d.hunks)
    for (const auto& w : h.words) {
      if (w.old_line == 0 || w.old_line > al.size() || w.new_line == 0 || w.new_line > bl.size()) fail("word pair outside the texts");
      for (const auto& x : w.old_ranges)
        if (x.begin >= x.end || x.end > al[w.old_line - 1].size()) fail("old word range outside its line");
      for (const auto& x : w.new_ranges)
        if (x.begin >= x.end || x.end > bl[w.new_line - 1].size()) fail("new word range outside its line");
    }
  return 0;
}
