// The context compactor (compress/compact.h): needles survive, the budget holds and is used, every
// marker expands back to the original conversation byte for byte, and the same input gives the same
// output.
#include <catch2/catch.hpp>

#include <random>

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

TEST_CASE("compact: needles survive a small budget; the budget holds and is used; expanding restores every byte", "[compact]") {
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
