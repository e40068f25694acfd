// compress::compact on any conversation a client can send (context/compact takes its messages as
// they come). Input: one byte of options (bit 0: an outliner is given, bit 1: a differ, bits 2-7
// with the next byte: the budget in words), then messages separated by NUL bytes, each a header
// byte (low 3 bits its kind, bit 3 pinned, bits 4-5 which of four files a File message holds,
// bit 6 a path with a marker's closing brackets and a newline in it, bit 7 a role made to look
// like other fields of a dropped group's header) followed by its content.
//
// Whatever the messages, compaction must lose nothing and keep its promises (compact.h):
// restoring the output with this compaction's manifest gives the input back, role and content;
// token counts are the sums of the messages' counts; system, instruction, pinned and the latest
// user message come out as they went in; the output is the same when run again; valid UTF-8 in
// gives valid UTF-8 out; input within the budget is left as it is; and when everything the
// compactor may touch is plain conversation (no tool output, whose failure lines a drop keeps),
// the budget holds once what it may not touch leaves room for the markers (text that already holds
// markers keeps them, so it is left out of that check too).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "compress/compact.h"
#include "compress/store.h"

namespace {

using compress::Kind;
using compress::Message;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "compact fuzz: %s\n", what);
  std::abort();
}

// Words: what a tokenizer's count is for this purpose (monotone on prefixes, cheap).
size_t count_words(std::string_view text) {
  size_t n = 0;
  bool in_word = false;
  for (char c : text) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

const char* role_of(Kind k) {
  switch (k) {
    case Kind::System: return "system";
    case Kind::Instruction: return "system";
    case Kind::User: return "user";
    case Kind::Assistant: return "assistant";
    case Kind::ToolCall: return "assistant";
    case Kind::ToolOutput: return "tool";
    case Kind::File: return "tool";
    case Kind::Other: return "other";
  }
  return "other";
}

bool untouchable(const std::vector<Message>& ms, size_t i) {
  const Message& m = ms[i];
  if (m.pinned || m.kind == Kind::System || m.kind == Kind::Instruction) return true;
  size_t latest = ms.size();
  for (size_t j = 0; j < ms.size(); ++j)
    if (ms[j].kind == Kind::User) latest = j;
  if (i == latest) return true;
  // A file the latest user message names by its path.
  return m.kind == Kind::File && latest < ms.size() && ms[latest].content.find(m.path) != std::string::npos;
}

// Output messages that hold an input message unchanged, in order: untouchable ones may move
// (a run of dropped neighbours before them becomes one message) but never change.
bool kept_in_order(const std::vector<Message>& in, const std::vector<Message>& out) {
  size_t o = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    if (!untouchable(in, i)) continue;
    while (o < out.size() && !(out[o].content == in[i].content && out[o].role == in[i].role)) ++o;
    if (o == out.size()) return false;
    ++o;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t flags = data[0];
  const size_t budget = ((size_t(flags) >> 2) << 8 | data[1]) + 1;
  std::string_view rest(reinterpret_cast<const char*>(data) + 2, size - 2);

  std::vector<Message> input;
  bool plain = true;  // a drop leaves nothing of these (no tool output's failure lines, no marker text)
  bool utf8 = true;
  while (!rest.empty() && input.size() < 64) {
    size_t end = rest.find('\0');
    std::string_view piece = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (piece.empty()) continue;
    auto header = static_cast<uint8_t>(piece[0]);
    Message m;
    m.kind = static_cast<Kind>(header & 7);
    m.pinned = header & 8;
    m.role = header & 128 ? "to ol=x kind=file\n%41" : role_of(m.kind);
    m.content = std::string(piece.substr(1));
    if (m.kind == Kind::File) m.path = std::string(header & 64 ? "src/we]]ird\n]" : "src/file") + std::to_string((header >> 4) & 3) + ".py";
    if (m.kind == Kind::ToolOutput || m.content.find("[[elided ") != std::string::npos) plain = false;
    utf8 = utf8 && valid_utf8(m.content);
    input.push_back(std::move(m));
  }

  compress::CompactOptions options;
  options.budget = budget;
  options.count = count_words;
  if (flags & 1)
    options.outline = [](const std::string&, const std::string& text, const std::vector<std::string>&) -> std::optional<std::string> {
      std::string first = text.substr(0, text.find('\n'));  // a "signature" line, as an outliner keeps
      if (first.size() == text.size()) return std::nullopt;
      return first + "\n";
    };
  if (flags & 2)
    options.diff = [](const std::string& older, const std::string& newer) -> std::optional<std::string> {
      if (older.size() < 8) return std::nullopt;
      return "--- newer\n+++ older\n@@ " + std::to_string(newer.size()) + " @@\n" + older.substr(older.size() / 2);
    };

  size_t before = 0, fixed = 0;
  for (size_t i = 0; i < input.size(); ++i) {
    size_t n = count_words(input[i].content);
    before += n;
    if (untouchable(input, i)) fixed += n;
  }

  compress::ElisionStore store;
  compress::Compacted c = compress::compact(input, options, store);

  size_t after = 0;
  for (const Message& m : c.messages) {
    after += count_words(m.content);
    if (utf8 && !valid_utf8(m.content)) fail("valid UTF-8 in, invalid out");
  }
  if (c.tokens_before != before) fail("tokens_before is not the input's count");
  if (c.tokens_after != after) fail("tokens_after is not the output's count");
  if (before <= budget && (c.messages.size() != input.size() || !c.manifest.empty())) fail("input within the budget was changed");
  if (!kept_in_order(input, c.messages)) fail("a system, instruction, pinned or latest user message changed or went");
  // A run of dropped neighbours becomes one marker of 10 words ("[[elided HANDLE: a group of 1 old
  // message, 9 tokens]]"); other markers are shorter. 12 words a message is ample.
  if (plain && fixed + 12 * input.size() <= budget && after > budget) fail("the budget does not hold");
  for (const auto& change : c.manifest)
    if (!compress::ElisionStore::is_handle(change.handle)) fail("a manifest entry names no handle");

  std::vector<Message> back = c.messages;
  if (!compress::restore(back, compress::fetch_from(store, c.manifest))) fail("a dropped group does not read back as messages");
  if (back.size() != input.size()) fail("restoring gives a different number of messages");
  for (size_t i = 0; i < input.size(); ++i)
    if (back[i].content != input[i].content || back[i].role != input[i].role) {
      if (std::getenv("FUZZ_COMPACT_SHOW")) {
        for (const auto& m : c.messages) std::fprintf(stderr, "OUT %s {%s}\n", m.role.c_str(), m.content.c_str());
        for (size_t k = 0; k < back.size(); ++k)
          if (back[k].content != input[k].content) {
            size_t d = 0;
            while (d < back[k].content.size() && d < input[k].content.size() && back[k].content[d] == input[k].content[d]) ++d;
            std::fprintf(stderr, "DIFF message %zu at byte %zu of %zu/%zu\nBACK {%s}\nIN {%s}\n", k, d, back[k].content.size(), input[k].content.size(),
                         back[k].content.substr(d > 80 ? d - 80 : 0, 300).c_str(), input[k].content.substr(d > 80 ? d - 80 : 0, 300).c_str());
          }
        for (const auto& ch : c.manifest) std::fprintf(stderr, "CHANGE %zu %s %s\n", ch.message, ch.strategy.c_str(), ch.handle.c_str());
      }
      fail("restoring does not give the input back");
    }

  compress::ElisionStore again_store;
  compress::Compacted again = compress::compact(input, options, again_store);
  if (again.messages.size() != c.messages.size()) fail("not deterministic");
  for (size_t i = 0; i < again.messages.size(); ++i)
    if (again.messages[i].content != c.messages[i].content) fail("not deterministic");
  return 0;
}
