#include "compress/compact.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <map>
#include <set>
#include <unordered_map>

namespace compress {

namespace {

constexpr size_t kFoldRun = 3;        // lines alike before a run is folded
constexpr size_t kCutHead = 40;       // lines a cut tool output keeps at its start
constexpr size_t kCutTail = 40;       // and at its end
constexpr size_t kFailureContext = 2;  // lines kept after a failure line (a traceback's frames, a diagnostic's note)
constexpr double kFill = 0.97;
constexpr std::string_view kOpen = "[[elided ";
constexpr std::string_view kSummary = "; summary follows]]";
constexpr size_t kHandle = 33;

// Lines as [begin, end) offsets, each with its '\n' (the last may have none).
std::vector<std::pair<size_t, size_t>> lines_of(std::string_view text) {
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.emplace_back(at, end);
    at = end;
  }
  return out;
}

// Whether the text is one JSON value (RFC 8259, whitespace around it allowed): a check, not a
// parse, linear, with nesting bounded by an explicit stack.
bool is_json_value(std::string_view t) {
  size_t i = 0;
  auto ws = [&] {
    while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  };
  auto literal = [&](std::string_view w) { return t.substr(i, w.size()) == w ? (i += w.size(), true) : false; };
  auto string = [&] {
    if (i >= t.size() || t[i] != '"') return false;
    for (++i; i < t.size(); ++i) {
      if (t[i] == '\\') ++i;
      else if (t[i] == '"') return ++i, true;
      else if (static_cast<unsigned char>(t[i]) < 0x20) return false;
    }
    return false;
  };
  auto number = [&] {
    size_t start = i;
    if (i < t.size() && t[i] == '-') ++i;
    size_t digits = i;
    while (i < t.size() && (std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '.' || t[i] == 'e' || t[i] == 'E' || t[i] == '+' || t[i] == '-')) ++i;
    return i > digits && i > start;
  };
  auto member_key = [&] {  // `"name" :` inside an object
    if (!string()) return false;
    ws();
    if (i >= t.size() || t[i++] != ':') return false;
    ws();
    return true;
  };
  std::vector<char> stack;  // the containers open, innermost last
  ws();
  for (;;) {
    // A value.
    if (i >= t.size()) return false;
    if (t[i] == '{' || t[i] == '[') {
      stack.push_back(t[i++]);
      ws();
      if (i < t.size() && t[i] == (stack.back() == '{' ? '}' : ']')) {
        ++i;
        stack.pop_back();
      } else {
        if (stack.back() == '{' && !member_key()) return false;
        continue;
      }
    } else if (!(string() || literal("true") || literal("false") || literal("null") || number())) {
      return false;
    }
    // After a value: a comma, a close, or the end.
    for (;;) {
      ws();
      if (stack.empty()) return i == t.size();
      if (i >= t.size()) return false;
      char close = stack.back() == '{' ? '}' : ']';
      if (t[i] == close) {
        ++i;
        stack.pop_back();
        continue;
      }
      if (t[i++] != ',') return false;
      ws();
      if (stack.back() == '{' && !member_key()) return false;
      break;
    }
  }
}

bool contains_nocase(std::string_view line, std::string_view word) {
  auto it = std::search(line.begin(), line.end(), word.begin(), word.end(),
                        [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b)); });
  return it != line.end();
}

// "src/a.c:12:" or "a.py:3: ": a diagnostic's position.
bool has_position(std::string_view line) {
  for (size_t colon = line.find(':'); colon != std::string_view::npos; colon = line.find(':', colon + 1)) {
    size_t d = colon + 1;
    while (d < line.size() && std::isdigit(static_cast<unsigned char>(line[d]))) ++d;
    if (d > colon + 1 && d < line.size() && line[d] == ':' && colon > 0 && line[colon - 1] != ' ') return true;
  }
  return false;
}

bool looks_like_failure(std::string_view line) {
  for (std::string_view w : {"error", "failed", "fail:", "panic", "traceback", "undefined reference", "exception", "fatal", "assert"})
    if (contains_nocase(line, w)) return true;
  return has_position(line);
}

// A line with numbers, hex and times set aside: two log lines alike compare equal.
std::string shape_of(std::string_view line) {
  std::string out;
  for (size_t i = 0; i < line.size();) {
    unsigned char c = static_cast<unsigned char>(line[i]);
    if (std::isxdigit(c)) {
      size_t j = i;
      bool digit = false;
      while (j < line.size() && (std::isxdigit(static_cast<unsigned char>(line[j])) || line[j] == 'x')) digit |= std::isdigit(static_cast<unsigned char>(line[j])), ++j;
      if (digit) {
        out += '#';
        i = j;
        continue;
      }
      out.append(line.substr(i, j - i));
      i = j;
      continue;
    }
    out += char(c);
    ++i;
  }
  return out;
}

std::string thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct Run {
  size_t begin, end;  // byte range elided
  size_t lines;
};

// The text with each run replaced by a marker; runs sorted and apart.
// Only named here: the caller stores `spans` if it takes the text (binary searches try many cuts).
struct Elided {
  std::string text;
  std::vector<std::string> spans;  // what the markers name, in order
  std::vector<size_t> lines;       // each span's lines
  size_t removed = 0;              // lines, in all
  size_t kept = 0;                 // lines kept for what they are (failures, markers), past the ends kept
  std::vector<std::string> handles;  // each span's, hashed once
};

// Whether the line holds a marker (or a summary's end) whose handle `ours` does not accept.
template <typename Ours>
bool holds_marker(std::string_view line, const Ours& ours) {
  for (size_t at = line.find("[["); at != std::string_view::npos; at = line.find("[[", at + 2)) {
    std::string_view rest = line.substr(at);
    size_t skip = rest.starts_with(kOpen) ? kOpen.size() : rest.starts_with("[[end ") ? 6 : 0;
    if (skip && ElisionStore::is_handle(rest.substr(skip, kHandle)) && !ours(rest.substr(skip, kHandle))) return true;
  }
  return false;
}

Elided elide(const std::string& text, const std::vector<Run>& runs, std::string_view what, const std::function<size_t(std::string_view)>& count) {
  Elided e;
  std::string& out = e.text;
  size_t at = 0;
  for (const auto& r : runs) {
    out.append(text, at, r.begin - at);
    std::string_view span(text.data() + r.begin, r.end - r.begin);
    std::string h = ElisionStore::handle_of(span);
    e.handles.push_back(h);
    e.spans.emplace_back(span);
    e.lines.push_back(r.lines);
    e.removed += r.lines;
    out += marker(h, thousands(r.lines) + (r.lines == 1 ? " line, " : " lines, ") + thousands(count(span)) + " tokens of " + std::string(what));
    if (!span.empty() && span.back() == '\n') out += '\n';
    at = r.end;
  }
  out.append(text, at, std::string::npos);
  return e;
}

// What a marker says it held, made safe to stand in one: a path may hold "]]", which would end the
// marker early, or a line break, which would split it (restore() and the line scans read a marker
// as one line from "[[elided " to the first "]]").
std::string marker_text(std::string_view what) {
  std::string out;
  out.reserve(what.size());
  for (char c : what) {
    if (c == '\n' || c == '\r') c = ' ';
    if (c == ']' && !out.empty() && out.back() == ']') out += ' ';
    out += c;
  }
  if (!out.empty() && out.back() == ']') out += ' ';  // or the closing "]]" would begin one early
  return out;
}

// A role or path in a dropped group's header line, which must stay one line of space-separated
// fields: a client's role or path may hold anything, so '%', spaces and line breaks are %XX.
std::string header_field(std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    if (c == '%' || c == ' ' || c == '\n' || c == '\r') {
      out += '%';
      out += hex[static_cast<uint8_t>(c) >> 4];
      out += hex[static_cast<uint8_t>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}
std::string from_header_field(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    uint8_t v = 0;
    if (field[i] == '%' && i + 2 < field.size() && std::from_chars(field.data() + i + 1, field.data() + i + 3, v, 16).ptr == field.data() + i + 3) {
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The whole text replaced by a summary that restore() removes again.
std::string summarized(const std::string& text, const std::string& what, const std::string& summary, ElisionStore& store, std::string& handle) {
  handle = store.put(text);
  std::string out(kOpen);
  out += handle;
  out += ": ";
  out += marker_text(what);
  out += kSummary;
  out += '\n';
  out += summary;
  if (!summary.empty() && summary.back() != '\n') out += '\n';
  out += "[[end ";
  out += handle;
  out += "]]";
  if (!text.empty() && text.back() == '\n') out += '\n';
  return out;
}

class Compactor {
 public:
  Compactor(std::vector<Message> messages, const CompactOptions& o, ElisionStore& store) : o_(o), store_(store) {
    out_.messages = std::move(messages);
    for (const auto& m : out_.messages) tokens_.push_back(o_.count(m.content));
    for (size_t t : tokens_) total_ += t;
    out_.tokens_before = total_;
    latest_user_ = out_.messages.size();
    for (size_t i = out_.messages.size(); i-- > 0;)
      if (out_.messages[i].kind == Kind::User) {
        latest_user_ = i;
        break;
      }
    if (latest_user_ < out_.messages.size()) keep_ = words(out_.messages[latest_user_].content);
    for (const auto& m : out_.messages)  // every marker's handle (each counted as "ours", so the scan goes on)
      holds_marker(m.content, [&](std::string_view h) {
        named_.emplace(h);
        return true;
      });
  }

  Compacted run() {
    if (total_ > o_.budget) {
      for (auto step : {&Compactor::repeat, &Compactor::fold, &Compactor::reread, &Compactor::outline, &Compactor::cut}) {
        for (size_t i = 0; i < out_.messages.size() && total_ > o_.budget; ++i)
          if (touchable(i)) (this->*step)(i);
        if (total_ <= o_.budget) break;
      }
      if (total_ > o_.budget) drop_oldest();
      else fill();
    }
    out_.tokens_after = total_;
    return std::move(out_);
  }

 private:
  // Never touched: system messages, instructions, pinned ones, the latest request, and a file
  // the latest request names by its path.
  bool kept_whole(size_t i) const {
    const Message& m = out_.messages[i];
    if (m.pinned || m.kind == Kind::System || m.kind == Kind::Instruction || i == latest_user_) return true;
    return m.kind == Kind::File && !m.path.empty() && latest_user_ < out_.messages.size() &&
           out_.messages[latest_user_].content.find(m.path) != std::string::npos;
  }
  bool touchable(size_t i) const { return !kept_whole(i) && !done_.count(i); }

  // A line holding a marker this compaction did not make (one of an earlier compaction, or text
  // that looks like one): kept as text, never elided again, so its handle stays in sight. Markers
  // made here may be elided again (a cut of a folded output), their spans nested.
  bool foreign(std::string_view line) const {
    return holds_marker(line, [&](std::string_view h) { return made_.count(h) > 0; });
  }
  // Whether the text holds such a marker: then a step that replaces the whole text (reread,
  // outline) leaves it alone, as it was compacted already.
  bool holds_foreign(std::string_view text) const {
    for (auto [b, e] : lines_of(text))
      if (foreign(text.substr(b, e - b))) return true;
    return false;
  }
  // Whether a step may make this handle: not when the input already holds text naming it (a marker
  // of an earlier compaction of the same bytes, or text made to look like one). Restoring with
  // the manifest would expand that text too, and give back something other than the input.
  bool fresh(std::string_view handle) const { return !named_.count(handle); }
  bool fresh(const Elided& e) const {
    return std::all_of(e.handles.begin(), e.handles.end(), [&](const std::string& h) { return fresh(h); });
  }

  // Notes the handles of the markers in `e` as made here.
  const Elided& mine(const Elided& e) const {
    made_.insert(e.handles.begin(), e.handles.end());
    return e;
  }

  static std::set<std::string> words(std::string_view text) {
    std::set<std::string> out;
    for (size_t i = 0; i < text.size();) {
      size_t j = i;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_')) ++j;
      if (j - i >= 3) out.emplace(text.substr(i, j - i));
      i = j == i ? i + 1 : j;
    }
    return out;
  }

  // What one step elided from a message: a handle and its lines, for each span.
  struct Made {
    std::string handle;
    size_t lines;
  };
  static std::vector<Made> made_of(const Elided& e) {
    std::vector<Made> out;
    for (size_t k = 0; k < e.spans.size(); ++k) out.push_back({e.handles[k], e.lines[k]});
    return out;
  }
  // One manifest entry a handle, each with the message's tokens before and after the step.
  static void record(std::vector<Change>& manifest, size_t i, const char* strategy, const std::vector<Made>& made, size_t before, size_t after) {
    for (const auto& m : made) manifest.push_back({i, strategy, m.handle, m.lines, before, after});
  }

  // Replaces message i's content, recording the change.
  void replace(size_t i, std::string content, const char* strategy, const std::vector<Made>& made, bool final = true) {
    Message& m = out_.messages[i];
    size_t after = o_.count(content);
    before_.push_back({i, std::move(m.content), tokens_[i], out_.manifest.size()});
    record(out_.manifest, i, strategy, made, tokens_[i], after);
    for (const auto& h : made) made_.insert(h.handle);
    total_ = total_ - tokens_[i] + after;
    tokens_[i] = after;
    m.content = std::move(content);
    if (final) done_.insert(i);
  }

  void repeat(size_t i) {
    const std::string& text = out_.messages[i].content;
    if (text.size() < 200) return;  // a reference costs about as much
    if (!fresh(ElisionStore::handle_of(text))) return;
    for (size_t j = i + 1; j < out_.messages.size(); ++j)
      if (out_.messages[j].content == text) {
        std::string h = store_.put(text);
        std::string content = marker(h, "the same " + thousands(tokens_[i]) + " tokens as message " + std::to_string(j + 1));
        if (text.back() == '\n') content += '\n';
        replace(i, std::move(content), "repeat", {{h, lines_of(text).size()}});
        return;
      }
  }

  void fold(size_t i) {
    const Message& m = out_.messages[i];
    if (m.kind != Kind::ToolOutput || is_json_value(m.content)) return;
    auto lines = lines_of(m.content);
    std::vector<Run> runs;
    auto line = [&](size_t k) { return std::string_view(m.content).substr(lines[k].first, lines[k].second - lines[k].first); };
    for (size_t a = 0; a < lines.size();) {
      if (foreign(line(a))) {
        ++a;
        continue;
      }
      std::string shape = shape_of(line(a));
      size_t b = a + 1;
      while (b < lines.size() && !foreign(line(b)) && shape_of(line(b)) == shape) ++b;
      if (b - a >= kFoldRun) runs.push_back({lines[a + 1].first, lines[b - 1].second, b - a - 1});
      a = b;
    }
    if (runs.empty()) return;
    Elided e = elide(m.content, runs, "lines like the one above", o_.count);
    if (!fresh(e)) return;
    mine(e);
    keep(e);
    replace(i, std::move(e.text), "fold", made_of(e), false);
  }

  void reread(size_t i) {
    const Message& m = out_.messages[i];
    if (m.kind != Kind::File || m.path.empty() || holds_foreign(m.content) || !fresh(ElisionStore::handle_of(m.content))) return;
    for (size_t j = i + 1; j < out_.messages.size(); ++j) {
      const Message& newer = out_.messages[j];
      if (newer.kind != Kind::File || newer.path != m.path) continue;
      std::optional<std::string> d = o_.diff ? o_.diff(m.content, newer.content) : std::nullopt;
      std::string h;
      std::string what = "an older read of " + m.path + ", read again in message " + std::to_string(j + 1);
      std::string content;
      if (d && o_.count(*d) < tokens_[i]) {
        content = summarized(m.content, what + "; below, the diff from that read to this one", *d, store_, h);
      } else {
        h = store_.put(m.content);
        content = marker(h, what);
        if (m.content.back() == '\n') content += '\n';
      }
      replace(i, std::move(content), "reread", {{h, lines_of(m.content).size()}});
      return;
    }
  }

  void outline(size_t i) {
    const Message& m = out_.messages[i];
    if (m.kind != Kind::File || !o_.outline || holds_foreign(m.content) || !fresh(ElisionStore::handle_of(m.content))) return;
    std::vector<std::string> keep(keep_.begin(), keep_.end());
    auto summary = o_.outline(m.path, m.content, keep);
    if (!summary || o_.count(*summary) >= tokens_[i]) return;
    std::string h;
    std::string content = summarized(m.content, "the body of " + (m.path.empty() ? std::string("a file") : m.path) + "; its outline", *summary, store_, h);
    replace(i, std::move(content), "outline", {{h, lines_of(m.content).size()}});
  }

  // Head and tail, every failure line with a little after it, the rest elided: `edge` lines at each end.
  std::optional<Elided> cut_text(const std::string& text, size_t edge, bool failures) const {
    if (is_json_value(text)) return std::nullopt;
    auto lines = lines_of(text);
    if (lines.size() <= 2 * edge + 1) return std::nullopt;
    std::vector<bool> kept(lines.size(), false);
    for (size_t k = 0; k < edge; ++k) kept[k] = kept[lines.size() - 1 - k] = true;
    size_t held = 0;  // kept for what they are
    for (size_t k = 0; k < lines.size(); ++k) {
      std::string_view line = std::string_view(text).substr(lines[k].first, lines[k].second - lines[k].first);
      if (foreign(line)) {
        held += !kept[k];
        kept[k] = true;
      } else if (failures && looks_like_failure(line)) {
        for (size_t c = k; c < lines.size() && c <= k + kFailureContext; ++c) held += !kept[c], kept[c] = true;
      }
    }
    std::vector<Run> runs;
    for (size_t a = 0; a < lines.size();) {
      if (kept[a]) {
        ++a;
        continue;
      }
      size_t b = a;
      while (b < lines.size() && !kept[b]) ++b;
      runs.push_back({lines[a].first, lines[b - 1].second, b - a});
      a = b;
    }
    if (runs.empty()) return std::nullopt;
    Elided e = elide(text, runs, "cut from the middle", o_.count);
    if (!fresh(e)) return std::nullopt;
    e.kept = held;
    mine(e);
    return e;
  }

  void keep(const Elided& e) {
    for (const auto& span : e.spans) store_.put(span);
  }

  void cut(size_t i) {
    const Message& m = out_.messages[i];
    if (m.kind != Kind::ToolOutput) return;
    auto r = cut_text(m.content, kCutHead, true);
    if (!r || o_.count(r->text) >= tokens_[i]) return;
    keep(*r);
    replace(i, std::move(r->text), "cut", made_of(*r));
  }

  // The failure lines of a tool output and the marker lines of any message, with the rest elided:
  // what a drop leaves of it. A message of marker lines alone is left whole (dropping it would
  // hide the handles of an earlier compaction, and gain nothing).
  const std::optional<Elided>& failures_only(size_t i) {
    if (auto it = failures_.find(i); it != failures_.end()) return it->second;
    return failures_[i] = failures_of(i);
  }
  std::optional<Elided> failures_of(size_t i) const {
    const Message& m = out_.messages[i];
    auto lines = lines_of(m.content);
    if (!lines.empty() && std::all_of(lines.begin(), lines.end(), [&](auto l) { return foreign(std::string_view(m.content).substr(l.first, l.second - l.first)); }))
      return Elided{m.content, {}, {}, 0, lines.size()};
    auto r = cut_text(m.content, 0, m.kind == Kind::ToolOutput);
    if (!r || r->kept == 0) return std::nullopt;
    return r;
  }

  // The oldest messages, k of them, go: runs of neighbours become one message holding one marker
  // (its bytes the run's messages, serialized), and a tool output with failure lines keeps them.
  // A plan names its spans by handle only; the bisection tries many, and only the one taken is
  // stored (compressing every tried one would be the most of the work, and fill the store).
  struct Plan {
    std::vector<Message> messages;
    std::vector<Change> changes;
    std::vector<std::string> spans;  // to store if taken
    size_t total = 0;
  };
  struct Partial {
    size_t message;
    Elided cut;
  };
  Plan plan_drop(const std::vector<size_t>& candidates, size_t k, const std::optional<Partial>& partial = std::nullopt) {
    Plan p;
    std::vector<bool> gone(out_.messages.size(), false);
    for (size_t c = 0; c < k; ++c) gone[candidates[c]] = true;
    for (size_t i = 0; i < out_.messages.size();) {
      if (!gone[i]) {
        p.messages.push_back(out_.messages[i]);
        size_t t = tokens_[i];
        if (partial && partial->message == i) {
          p.messages.back().content = partial->cut.text;
          t = o_.count(partial->cut.text);
          record(p.changes, i, "cut", made_of(partial->cut), tokens_[i], t);
          p.spans.insert(p.spans.end(), partial->cut.spans.begin(), partial->cut.spans.end());
        }
        p.total += t;
        ++i;
        continue;
      }
      if (const auto& kept = failures_only(i)) {
        size_t t = o_.count(kept->text);
        record(p.changes, i, "drop", made_of(*kept), tokens_[i], t);
        p.spans.insert(p.spans.end(), kept->spans.begin(), kept->spans.end());
        p.messages.push_back(out_.messages[i]);
        p.messages.back().content = kept->text;
        p.total += t;
        ++i;
        continue;
      }
      size_t j = i, tokens = 0, lines = 0;
      std::string bytes;
      while (j < out_.messages.size() && gone[j] && (j == i || !failures_only(j))) {
        const Message& m = out_.messages[j];
        bytes += "--- message " + std::to_string(j + 1) + " role=" + header_field(m.role) + " kind=" + std::string(kind_name(m.kind)) + (m.pinned ? " pinned" : "") +
                 " path=" + header_field(m.path) + " bytes=" + std::to_string(m.content.size()) + "\n" + m.content + "\n";
        tokens += tokens_[j], lines += lines_of(m.content).size();
        ++j;
      }
      std::string h = ElisionStore::handle_of(bytes);
      if (!fresh(h)) p.total = SIZE_MAX / 2;  // a plan that cannot be taken (it is over any budget)
      p.spans.push_back(std::move(bytes));
      Message group{out_.messages[i].role, marker(h, "a group of " + std::to_string(j - i) + (j - i == 1 ? " old message, " : " old messages, ") +
                                                          thousands(tokens) + " tokens"),
                    Kind::Other, false, ""};
      size_t t = o_.count(group.content);
      p.changes.push_back({i, "drop", h, lines, tokens, t});
      p.messages.push_back(std::move(group));
      p.total += t;
      i = j;
    }
    return p;
  }

  void drop_oldest() {
    std::vector<size_t> candidates;
    for (size_t i = 0; i < out_.messages.size(); ++i)
      if (!kept_whole(i)) candidates.push_back(i);
    // The fewest oldest messages whose going brings the total under the budget (by bisection:
    // the total falls as more go, but for the marker of a new run).
    size_t lo = 1, hi = candidates.size();
    if (candidates.empty()) return;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (plan_drop(candidates, mid).total <= o_.budget) hi = mid;
      else lo = mid + 1;
    }
    Plan best = plan_drop(candidates, lo);
    while (best.total > o_.budget && lo < candidates.size()) best = plan_drop(candidates, ++lo);
    // The last to go may go in part instead: as many of its lines at each end as still fit.
    if (best.total <= o_.budget && double(best.total) < kFill * double(o_.budget)) {
      size_t last = candidates[lo - 1];
      const Message& m = out_.messages[last];
      size_t a = 0, b = lines_of(m.content).size() / 2;
      while (a <= b && b > 0) {
        size_t mid = a + (b - a) / 2;
        auto r = cut_text(m.content, mid, m.kind == Kind::ToolOutput);
        if (!r) break;
        Plan p = plan_drop(candidates, lo - 1, Partial{last, std::move(*r)});
        if (p.total <= o_.budget) {
          if (p.total > best.total) best = std::move(p);
          a = mid + 1;
        } else {
          if (mid == 0) break;
          b = mid - 1;
        }
      }
    }
    if (best.total > o_.budget) return;  // only what is never touched is left, and it is too much
    for (const auto& span : best.spans) store_.put(span);
    out_.messages = std::move(best.messages);
    for (auto& c : best.changes) out_.manifest.push_back(std::move(c));
    total_ = best.total;
    before_.clear();  // the fill step has been done here
  }

  // Under 97% of the budget after the last step: that step took too much. Its message is cut
  // again from its content before the step, keeping as many lines at each end as still fit.
  void fill() {
    if (total_ > o_.budget || double(total_) >= kFill * double(o_.budget) || before_.empty()) return;
    Before last = before_.back();
    size_t without = total_ - tokens_[last.message];  // the rest, as it stands
    if (without + last.tokens <= o_.budget) return;   // cannot happen: the step would not have run
    size_t lo = 0, hi = lines_of(last.content).size() / 2;
    std::optional<Elided> best;
    while (lo <= hi) {
      size_t mid = lo + (hi - lo) / 2;
      auto r = cut_text(last.content, mid, out_.messages[last.message].kind == Kind::ToolOutput);
      if (!r) break;
      if (without + o_.count(r->text) <= o_.budget) {
        best = std::move(r);
        lo = mid + 1;
      } else {
        if (mid == 0) break;
        hi = mid - 1;
      }
    }
    if (!best) return;
    size_t tokens = o_.count(best->text);
    if (tokens <= tokens_[last.message]) return;  // no better than the step's own answer
    keep(*best);
    out_.manifest.resize(last.manifest_at);  // the step's entries: its spans are no longer shown
    record(out_.manifest, last.message, "cut", made_of(*best), last.tokens, tokens);
    total_ = without + tokens;
    tokens_[last.message] = tokens;
    out_.messages[last.message].content = std::move(best->text);
  }

  struct Before {
    size_t message;
    std::string content;
    size_t tokens;
    size_t manifest_at;  // where the step's manifest entries begin
  };
  const CompactOptions& o_;
  ElisionStore& store_;
  Compacted out_;
  std::vector<size_t> tokens_;
  size_t total_ = 0, latest_user_ = 0;
  std::set<std::string> keep_;
  std::set<size_t> done_;
  std::vector<Before> before_;
  std::map<size_t, std::optional<Elided>> failures_;
  mutable std::set<std::string, std::less<>> made_;  // handles of markers made here (tried plans' too)
  std::set<std::string, std::less<>> named_;         // handles the input's text names
};

}  // namespace

std::optional<Kind> kind_from_name(std::string_view name) {
  static const std::map<std::string_view, Kind> kinds = {{"system", Kind::System},         {"instruction", Kind::Instruction},
                                                         {"user", Kind::User},             {"assistant", Kind::Assistant},
                                                         {"tool_call", Kind::ToolCall},    {"tool_output", Kind::ToolOutput},
                                                         {"file", Kind::File},             {"other", Kind::Other}};
  auto it = kinds.find(name);
  return it == kinds.end() ? std::nullopt : std::optional(it->second);
}

std::string_view kind_name(Kind k) {
  static constexpr std::string_view names[] = {"system", "instruction", "user", "assistant", "tool_call", "tool_output", "file", "other"};
  return names[size_t(k)];
}

std::string marker(std::string_view handle, std::string_view what) {
  std::string out(kOpen);
  out += handle;
  out += ": ";
  out += marker_text(what);
  out += "]]";
  return out;
}

Compacted compact(std::vector<Message> messages, const CompactOptions& options, ElisionStore& store) {
  return Compactor(std::move(messages), options, store).run();
}

Fetch fetch_from(ElisionStore& store, const std::vector<Change>& manifest) {
  std::set<std::string, std::less<>> made;
  for (const auto& c : manifest) made.insert(c.handle);
  return [&store, made = std::move(made)](std::string_view handle) -> std::optional<std::string> {
    if (!made.count(handle)) return std::nullopt;
    auto got = store.get(handle);
    if (got.status != ElisionStore::Status::Found) return std::nullopt;
    return std::move(got.bytes);
  };
}

Fetch fetch_from(ElisionStore& store) {
  return [&store](std::string_view handle) -> std::optional<std::string> {
    auto got = store.get(handle);
    if (got.status != ElisionStore::Status::Found) return std::nullopt;
    return std::move(got.bytes);
  };
}

bool restore(std::vector<Message>& messages, const Fetch& fetch) {
  std::vector<Message> out;
  for (auto& m : messages) {
    // A group of dropped messages: one marker whose bytes are the messages, serialized.
    std::string_view c = m.content;
    if (c.starts_with(kOpen) && c.size() >= kOpen.size() + kHandle && c.find(": a group of ") == kOpen.size() + kHandle &&
        c.find("]]") == c.size() - 2) {
      auto got = fetch(c.substr(kOpen.size(), kHandle));
      if (!got) {  // not one of ours: text of the input that looks like a marker
        out.push_back(std::move(m));
        continue;
      }
      std::string_view b = *got;
      while (!b.empty()) {
        size_t nl = b.find('\n');
        if (!b.starts_with("--- message ") || nl == std::string_view::npos) return false;
        std::string_view header = b.substr(0, nl);
        auto field = [&](std::string_view key) {
          std::string probe(1, ' ');
          probe.append(key);
          probe += '=';
          size_t at = header.find(probe);
          if (at == std::string_view::npos) return std::string_view();
          at += key.size() + 2;
          size_t end = key == "path" ? header.rfind(" bytes=") : header.find(' ', at);
          return header.substr(at, (end == std::string_view::npos || end < at ? header.size() : end) - at);
        };
        Message r{from_header_field(field("role")), {}, kind_from_name(field("kind")).value_or(Kind::Other), header.find(" pinned ") != std::string_view::npos,
                  from_header_field(field("path"))};
        std::string_view digits = field("bytes");
        size_t size = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), size);
        if (ec != std::errc() || end != digits.data() + digits.size() || size > b.size() || nl + 1 + size + 1 > b.size()) return false;
        r.content = std::string(b.substr(nl + 1, size));
        out.push_back(std::move(r));
        b.remove_prefix(nl + 1 + size + 1);
      }
      continue;
    }
    out.push_back(std::move(m));
  }
  for (auto& m : out) restore(m.content, fetch);
  messages = std::move(out);
  return true;
}

void restore(std::string& text, const Fetch& fetch) {
  std::string out;
  size_t at = 0;
  for (size_t open = text.find(kOpen); open != std::string::npos; open = text.find(kOpen, at)) {
    std::string_view handle = std::string_view(text).substr(open + kOpen.size(), kHandle);
    size_t close = text.find("]]", open + kOpen.size());
    if (!ElisionStore::is_handle(handle) || close == std::string::npos) {
      out.append(text, at, open + kOpen.size() - at);
      at = open + kOpen.size();
      continue;
    }
    auto got = fetch(handle);
    if (!got) {  // not one of ours: text of the input that looks like a marker
      out.append(text, at, open + kOpen.size() - at);
      at = open + kOpen.size();
      continue;
    }
    // A span may hold markers of an earlier step (a cut of a folded output): restored too.
    if (got->find(kOpen) != std::string::npos) restore(*got, fetch);
    size_t end = close + 2;
    // A summary runs to its end marker, which restore() removes with it.
    if (close + 2 >= kSummary.size() && std::string_view(text).substr(close + 2 - kSummary.size(), kSummary.size()) == kSummary) {
      std::string closing = "[[end " + std::string(handle) + "]]";
      size_t e = text.find(closing, close);
      if (e != std::string::npos) end = e + closing.size();
    }
    if (!got->empty() && got->back() == '\n' && end < text.size() && text[end] == '\n') ++end;
    out.append(text, at, open - at);
    out += *got;
    at = end;
  }
  out.append(text, at, std::string::npos);
  text = std::move(out);
}

}  // namespace compress
