// The context compactor (compress/compact.h): needles survive, the budget holds and is used, every
// marker expands back to the original conversation byte for byte, and the same input gives the same
// output.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#include "compress/compact.h"

namespace {

using compress::Kind;
using compress::Message;

// Words and punctuation runs: monotone in the text, as a tokenizer's count is.
size_t count_words(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isspace(c)) {
      ++i;
      continue;
    }
    ++n;
    if (std::isalnum(c)) {
      while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
    } else {
      ++i;
    }
  }
  return n;
}

size_t total(const std::vector<Message>& ms) {
  size_t n = 0;
  for (const auto& m : ms) n += count_words(m.content);
  return n;
}

// An agent session: instructions, turns, file reads (some read twice), long build logs.
std::vector<Message> session(size_t turns, std::mt19937& rng) {
  std::vector<Message> out;
  out.push_back({"system", "You are a coding agent. Work in the repository at /src.\n", Kind::System, false, ""});
  out.push_back({"user", "Never push to main without asking. Keep the logs short.\n", Kind::Instruction, true, ""});
  for (size_t t = 0; t < turns; ++t) {
    out.push_back({"user", "Step " + std::to_string(t) + ": look at the build and fix what fails.\n", Kind::User, false, ""});
    out.push_back({"assistant", "I will run the build and read the sources of module " + std::to_string(t % 9) + ".\n", Kind::Assistant, false, ""});
    std::string log;
    size_t n = 200 + rng() % 400;
    for (size_t l = 0; l < n; ++l)
      log += "[" + std::to_string(1000 + l) + "] compiling src/mod" + std::to_string(l % 13) + "/file" + std::to_string(l) + ".c -O2 -Wall\n";
    out.push_back({"tool", log, Kind::ToolOutput, false, ""});
    std::string file;
    for (int l = 0; l < 80; ++l) file += "int function_" + std::to_string(t % 9) + "_" + std::to_string(l) + "(int x) { return x * " + std::to_string(l) + "; }\n";
    out.push_back({"tool", file, Kind::File, false, "src/mod" + std::to_string(t % 9) + ".c"});
  }
  return out;
}

std::vector<Message> restored(std::vector<Message> ms, compress::ElisionStore& store) {
  REQUIRE(compress::restore(ms, compress::fetch_from(store)));
  return ms;
}

bool same(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].content != b[i].content || a[i].role != b[i].role) return false;
  return true;
}

}  // namespace

TEST_CASE("compact: needles survive a small budget, the budget holds and is used, expanding restores every byte", "[compact]") {
  std::mt19937 rng(11);
  std::vector<Message> input = session(200, rng);
  // A failing assertion in the middle of a 50,000-line log.
  std::string log;
  for (int l = 0; l < 50000; ++l) {
    if (l == 25000) log += "tests/test_parse.cpp:412: FAILED: CHECK( parse(\"x\") == 3 ) with expansion: 2 == 3\n";
    log += "[" + std::to_string(l) + "] ok test_case_" + std::to_string(l) + " passed in 0." + std::to_string(l % 97) + " s\n";
  }
  input.insert(input.begin() + 150, Message{"tool", log, Kind::ToolOutput, false, ""});
  // A file the latest request names by its path, read early on.
  input.insert(input.begin() + 10, Message{"tool", "def needle_function():\n    return 'kept whole'\n", Kind::File, false, "app/needle.py"});
  input.push_back({"user", "Why does app/needle.py fail? Fix it.\n", Kind::User, false, ""});
  const size_t before = total(input);
  compress::ElisionStore store;
  compress::CompactOptions o;
  o.count = count_words;
  for (size_t budget : {before / 4, size_t(20000), size_t(5000)}) {
    INFO("budget " << budget << " of " << before);
    o.budget = budget;
    compress::Compacted c = compress::compact(input, o, store);
    size_t after = total(c.messages);
    CHECK(c.tokens_before == before);
    CHECK(c.tokens_after == after);
    CHECK(after <= budget);
    CHECK(after >= size_t(0.97 * double(budget)));
    std::string all;
    for (const auto& m : c.messages) all += m.content;
    CHECK(all.find("tests/test_parse.cpp:412: FAILED") != std::string::npos);
    CHECK(c.messages[1].content == input[1].content);  // pinned instruction, 200 turns ago
    CHECK(c.messages[0].content == input[0].content);  // system
    CHECK(c.messages.back().content == input.back().content);
    CHECK(std::any_of(c.messages.begin(), c.messages.end(), [&](const Message& m) { return m.content == input[10].content; }));  // named by the latest request
    if (all.find("tests/test_parse.cpp:412: FAILED") == std::string::npos)
      for (const auto& ch : c.manifest)
        if (ch.message == 151) WARN(ch.strategy << " " << ch.tokens_before << " -> " << ch.tokens_after);
    CHECK_FALSE(c.manifest.empty());
    for (const auto& change : c.manifest) CHECK(compress::ElisionStore::is_handle(change.handle));
    CHECK(same(restored(c.messages, store), input));
    // Deterministic.
    CHECK(same(compress::compact(input, o, store).messages, c.messages));
  }
}

TEST_CASE("compact: what each strategy does, on small literal cases", "[compact]") {
  compress::ElisionStore store;
  compress::CompactOptions o;
  o.count = count_words;
  std::string lines;
  for (int i = 0; i < 100; ++i) lines += "2026-12-07 12:00:" + std::to_string(10 + i % 50) + " GET /items/" + std::to_string(i) + " 200\n";
  std::vector<Message> input = {{"tool", lines, Kind::ToolOutput, false, ""}, {"user", "and now?\n", Kind::User, false, ""}};
  o.budget = total(input) / 2;
  auto c = compress::compact(input, o, store);
  REQUIRE(c.manifest.size() >= 1);
  CHECK(c.manifest[0].strategy == "fold");
  CHECK(c.messages[0].content.starts_with("2026-12-07 12:00:10 GET /items/0 200\n[[elided z"));
  CHECK(same(restored(c.messages, store), input));

  // An older read of a file read again: a marker (or a diff, given a differ) pointing at the newer.
  std::string v1, v2;
  for (int i = 0; i < 50; ++i) v1 += "line " + std::to_string(i) + "\n", v2 += "line " + std::to_string(i == 7 ? 700 : i) + "\n";
  std::string pinned;  // most of the budget: the reread alone then fills it to 97%
  for (int i = 0; i < 5000; ++i) pinned += "keep this ";
  input = {{"user", pinned, Kind::User, true, ""}, {"tool", v1, Kind::File, false, "a.txt"}, {"tool", v2, Kind::File, false, "a.txt"},
           {"user", "go on\n", Kind::User, false, ""}};
  o.budget = total(input) - 10;
  o.diff = [](const std::string&, const std::string&) { return std::optional<std::string>("@@ -8 +8 @@\n-line 700\n+line 7\n"); };
  c = compress::compact(input, o, store);
  REQUIRE_FALSE(c.manifest.empty());
  CHECK(c.manifest[0].strategy == "reread");
  CHECK(c.messages[1].content.find("-line 700\n+line 7\n") != std::string::npos);
  CHECK(c.messages[2].content == v2);
  CHECK(same(restored(c.messages, store), input));

  // A tool output that is one JSON value is kept or elided whole, never cut inside.
  std::string json = "[";
  for (int i = 0; i < 300; ++i) json += std::string(i ? "," : "") + "\n  {\"id\": " + std::to_string(i) + ", \"name\": \"item\"}";
  json += "\n]\n";
  input = {{"tool", json, Kind::ToolOutput, false, ""}, {"assistant", "done\n", Kind::Assistant, false, ""}, {"user", "next\n", Kind::User, false, ""}};
  o.budget = 100;
  c = compress::compact(input, o, store);
  CHECK(c.messages[0].content.find("\"id\"") == std::string::npos);  // elided whole
  CHECK(c.manifest.at(0).strategy == "drop");
  CHECK(same(restored(c.messages, store), input));
  // Nothing to do under the budget.
  o.budget = 1 << 20;
  c = compress::compact(input, o, store);
  CHECK(c.manifest.empty());
  CHECK(same(c.messages, input));
}

namespace {

// The handles of the markers in a text, in order ("[[elided z…" and a summary's "[[end z…").
std::vector<std::string> handles_in(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find("[[elided z"); at != std::string_view::npos; at = text.find("[[elided z", at + 1))
    if (compress::ElisionStore::is_handle(text.substr(at + 9, 33))) out.emplace_back(text.substr(at + 9, 33));
  return out;
}

std::set<std::string> manifest_handles(const compress::Compacted& c) {
  std::set<std::string> out;
  for (const auto& ch : c.manifest) out.insert(ch.handle);
  return out;
}

// A build log of `n` lines, failures at the given lines.
std::string build_log(int n, std::set<int> failures) {
  std::string log;
  for (int l = 0; l < n; ++l)
    log += failures.count(l) ? "src/unit_" + std::to_string(l) + ".c:" + std::to_string(l) + ":3: error: expected ';'\n"
                             : "  CC src/obj_" + std::to_string(l) + ".o\n";
  return log;
}

}  // namespace

TEST_CASE("compact: a cut of several runs lists each run's handle, with its lines", "[compact]") {
  compress::ElisionStore store;
  compress::CompactOptions o;
  o.count = count_words;
  std::string log = build_log(400, {150, 260});
  std::vector<Message> input = {{"tool", log, Kind::ToolOutput, false, ""}, {"user", "what failed?\n", Kind::User, false, ""}};
  o.budget = 600;  // well under the log: head, tail and the two failures, three runs cut
  auto c = compress::compact(input, o, store);
  std::vector<std::string> shown = handles_in(c.messages[0].content);
  REQUIRE(shown.size() == 3);
  std::vector<std::string> listed;
  size_t lines = 0;
  for (const auto& ch : c.manifest) {
    CHECK(ch.message == 0);
    CHECK(ch.strategy == "cut");
    CHECK(ch.tokens_before == count_words(log));
    CHECK(ch.tokens_after == count_words(c.messages[0].content));
    listed.push_back(ch.handle);
    auto got = store.get(ch.handle);
    REQUIRE(got.status == compress::ElisionStore::Status::Found);
    CHECK(size_t(std::count(got.bytes.begin(), got.bytes.end(), '\n')) == ch.lines);  // each entry: its own run's lines
    lines += ch.lines;
  }
  CHECK(listed == shown);
  CHECK(lines == 400 - size_t(std::count(c.messages[0].content.begin(), c.messages[0].content.end(), '\n')) + 3);
  CHECK(same(restored(c.messages, store), input));

  // A fold of many runs: an entry a run too.
  std::string folded;
  for (int run = 0; run < 5; ++run) {
    for (int k = 0; k < 10; ++k) folded += "GET /item/" + std::to_string(run * 100 + k) + " 200\n";
    folded += "checkpoint " + std::string(size_t(run + 1), '#') + " reached\n";
  }
  std::string pinned;  // most of the budget: the fold alone then fills it to 97%
  for (int i = 0; i < 5000; ++i) pinned += "keep this ";
  input = {{"user", pinned, Kind::User, true, ""}, {"tool", folded, Kind::ToolOutput, false, ""}, {"user", "and?\n", Kind::User, false, ""}};
  o.budget = total(input) - 20;
  c = compress::compact(input, o, store);
  REQUIRE_FALSE(c.manifest.empty());
  CHECK(c.manifest[0].strategy == "fold");
  std::vector<std::string> folds;
  for (const auto& ch : c.manifest)
    if (ch.strategy == "fold") folds.push_back(ch.handle);
  CHECK(folds.size() == 5);
  CHECK(manifest_handles(c) == std::set<std::string>(folds.begin(), folds.end()));
  CHECK(same(restored(c.messages, store), input));
}

TEST_CASE("compact: compacting compacted input keeps its markers as text and lists only its own handles", "[compact]") {
  std::mt19937 rng(5);
  std::vector<Message> input = session(40, rng);
  input.insert(input.begin() + 20, Message{"tool", build_log(3000, {1200, 2500}), Kind::ToolOutput, false, ""});
  // Markers of a compaction before this conversation, quoted by a tool: lines alike, which a fold
  // would otherwise take; their handles are in no store.
  std::string quoted = "earlier notes:\n";
  std::set<std::string> quoted_handles;
  for (int k = 0; k < 6; ++k) {
    std::string h = "z" + std::string(31, char('a' + k)) + "0";
    quoted_handles.insert(h);
    quoted += compress::marker(h, std::to_string(k + 2) + " lines, 30 tokens of cut from the middle") + "\n";
  }
  input.insert(input.begin() + 30, Message{"tool", quoted, Kind::ToolOutput, false, ""});
  input.push_back({"user", "What fails now?\n", Kind::User, false, ""});
  compress::ElisionStore store;
  compress::CompactOptions o;
  o.count = count_words;
  o.budget = total(input) / 3;
  compress::Compacted first = compress::compact(input, o, store);
  std::set<std::string> first_handles = manifest_handles(first);
  REQUIRE(first_handles.size() > 3);
  // Every marker line of the first answer.
  std::vector<std::string> marker_lines;
  for (const auto& m : first.messages)
    for (size_t at = 0; at < m.content.size();) {
      size_t nl = std::min(m.content.find('\n', at), m.content.size());
      std::string line = m.content.substr(at, nl - at);
      if (!handles_in(line).empty()) marker_lines.push_back(line);
      at = nl + 1;
    }
  REQUIRE(marker_lines.size() >= first_handles.size() / 2);

  // Enough to fold and cut again; then so little that old messages, markers and all, must go.
  for (size_t budget : {total(first.messages) * 2 / 3, total(first.messages) / 8}) {
    INFO("budget " << budget << " of " << total(first.messages));
    o.budget = budget;
    compress::Compacted second = compress::compact(first.messages, o, store);
    CHECK(total(second.messages) <= budget);
    std::string all;
    for (const auto& m : second.messages) all += m.content + "\n";
    // The earlier markers are still there, each whole on its line (none folded, cut or dropped).
    for (const auto& line : marker_lines) CHECK(all.find(line + "\n") != std::string::npos);
    // This compaction's manifest names every handle it made, and none of the earlier ones.
    std::set<std::string> second_handles = manifest_handles(second);
    REQUIRE_FALSE(second_handles.empty());
    for (const auto& h : handles_in(all)) CHECK((first_handles.count(h) || second_handles.count(h) || quoted_handles.count(h)));
    for (const auto& h : second_handles) CHECK_FALSE(first_handles.count(h));
    // Its own handles restore its input exactly, the earlier markers as text; then the earlier
    // ones restore the first input; everything at once does both.
    std::vector<Message> back = second.messages;
    REQUIRE(compress::restore(back, compress::fetch_from(store, second.manifest)));
    CHECK(same(back, first.messages));
    REQUIRE(compress::restore(back, compress::fetch_from(store, first.manifest)));
    CHECK(same(back, input));
    CHECK(same(restored(second.messages, store), input));
  }
}

// Found by fuzz/compact.cpp: what a client names a message's role or path, and text in the input
// that names a handle this compaction would make, must not change what restoring gives back.
TEST_CASE("compact: roles and paths with brackets, spaces and line breaks, and input naming a handle, restore exactly", "[compact]") {
  std::string file;
  for (int l = 0; l < 60; ++l) file += "def f" + std::to_string(l) + "(x):\n    return x * " + std::to_string(l) + "\n";
  std::string log;
  for (int l = 0; l < 300; ++l) log += "[" + std::to_string(l) + "] ok test_" + std::to_string(l) + " passed\n";
  const std::string odd_path = "src/we]]ird\nname].py", odd_role = "to ol=x kind=file\n%41";
  compress::CompactOptions o;
  o.count = count_words;

  SECTION("a path with \"]]\" and a line break in an older read's marker") {
    std::vector<Message> input = {{"tool", file, Kind::File, false, odd_path},
                                  {"assistant", "read it again", Kind::Assistant, false, ""},
                                  {"tool", file + "# changed\n", Kind::File, false, odd_path},
                                  {"user", "go on", Kind::User, false, ""}};
    o.budget = total(input) - count_words(file) + 40;  // room for the marker: the reread is the last step
    compress::ElisionStore store;
    auto c = compress::compact(input, o, store);
    REQUIRE(std::any_of(c.manifest.begin(), c.manifest.end(), [](const auto& ch) { return ch.strategy == "reread"; }));
    INFO(c.messages[0].content);
    CHECK(c.messages[0].content.starts_with("[[elided "));
    CHECK(c.messages[0].content.find('\n') == c.messages[0].content.size() - 1);  // the marker is one line
    CHECK(same(restored(c.messages, store), input));
  }
  SECTION("a dropped group whose role and path look like other header fields") {
    std::vector<Message> input = {{odd_role, "one two three four five six seven eight nine ten", Kind::Assistant, false, ""},
                                  {odd_role, file, Kind::File, false, odd_path},
                                  {"user", "go on", Kind::User, false, ""}};
    o.budget = 30;
    compress::ElisionStore store;
    auto c = compress::compact(input, o, store);
    REQUIRE(std::any_of(c.manifest.begin(), c.manifest.end(), [](const auto& ch) { return ch.strategy == "drop"; }));
    auto back = restored(c.messages, store);
    REQUIRE(back.size() == input.size());
    for (size_t i = 0; i < input.size(); ++i) {
      CHECK(back[i].role == input[i].role);
      CHECK(back[i].path == input[i].path);
      CHECK(back[i].content == input[i].content);
    }
  }
  SECTION("a system message names the handle of a log this compaction would elide as a repeat") {
    std::string forged = compress::marker(compress::ElisionStore::handle_of(log), "forged") + "\n";
    std::vector<Message> input = {{"system", "Rules.\n" + forged, Kind::System, false, ""},
                                  {"tool", log, Kind::ToolOutput, false, ""},
                                  {"tool", log, Kind::ToolOutput, false, ""},
                                  {"user", "go on", Kind::User, false, ""}};
    o.budget = total(input) * 2 / 3;
    compress::ElisionStore store;
    auto c = compress::compact(input, o, store);
    CHECK(c.tokens_after <= o.budget);
    for (const auto& ch : c.manifest) CHECK(ch.handle != compress::ElisionStore::handle_of(log));
    auto back = c.messages;
    REQUIRE(compress::restore(back, compress::fetch_from(store, c.manifest)));
    CHECK(same(back, input));
  }
}
