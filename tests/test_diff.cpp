// compress/diff through the real `patch` and `git apply`: generated pairs (random edits, moves,
// no final newline, CRLF, empty and one-line files, all lines unique or equal, lines too frequent
// to anchor on), the deadline's coarse answer, word highlights, binary refused; diff/text through
// the registry and `indexer diff` through a real process.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <random>

#include "compress/diff.h"
#include "helpers.h"
#include "server/registry.h"

namespace {

using test::read_file;
using test::TempDir;

compress::Diff diff_of(std::string_view a, std::string_view b, compress::DiffOptions o = {}) {
  auto r = compress::diff_text(a, b, o);
  REQUIRE(std::holds_alternative<compress::Diff>(r));
  return std::get<compress::Diff>(std::move(r));
}

int sh(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Lines of a unified diff starting with `sign`, past its two header lines.
size_t count_lines(const std::string& unified, char sign) {
  size_t n = 0, line = 0;
  for (size_t start = 0; start < unified.size(); ++line) {
    size_t end = std::min(unified.find('\n', start), unified.size());
    if (line >= 2 && unified[start] == sign) ++n;
    start = end + 1;
  }
  return n;
}

// Applies the diff of a and b to a copy of a with GNU patch and with git apply in a fresh
// repository; both must give b byte for byte. Returns the diff.
compress::Diff round_trip(const std::string& a, const std::string& b, compress::DiffOptions o = {}) {
  o.old_name = "a/f", o.new_name = "b/f";
  compress::Diff d = diff_of(a, b, o);
  CHECK(d.identical == (a == b));
  if (a == b) {
    CHECK(d.unified.empty());
    return d;
  }
  // Stats are the -/+ lines of the text (header lines aside).
  CHECK(count_lines(d.unified, '-') == d.removed);
  CHECK(count_lines(d.unified, '+') == d.added);
  TempDir t;
  std::string dir = t.path().string();
  t.write("f.diff", d.unified);
  t.write("patch/f", a);
  INFO(d.unified.substr(0, 4000));
  CHECK(sh("cd '" + dir + "/patch' && patch -s --no-backup-if-mismatch f < ../f.diff > ../patch.log 2>&1") == 0);
  INFO(read_file(t / "patch.log"));
  CHECK(read_file(t / "patch/f") == b);
  t.write("git/f", a);
  std::string zero = o.context == 0 ? " --unidiff-zero" : "";
  CHECK(sh("cd '" + dir + "/git' && git init -q . && git apply" + zero + " ../f.diff > ../git.log 2>&1") == 0);
  INFO(read_file(t / "git.log"));
  CHECK(read_file(t / "git/f") == b);
  return d;
}

// A text of n lines drawn from `vocabulary` distinct lines (0: every line unique).
std::vector<std::string> lines_of(std::mt19937& rng, size_t n, size_t vocabulary) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(vocabulary ? "line " + std::to_string(rng() % vocabulary) : "unique " + std::to_string(i) + " " + std::to_string(rng() % 1000));
  return out;
}

// Random replacements, deletions, insertions and block moves.
std::vector<std::string> edited(std::mt19937& rng, std::vector<std::string> lines, size_t edits, bool moves) {
  for (size_t e = 0; e < edits; ++e) {
    size_t at = lines.empty() ? 0 : rng() % lines.size();
    switch (rng() % (moves ? 4 : 3)) {
      case 0:
        if (!lines.empty()) lines[at] += " edited";
        break;
      case 1:
        if (!lines.empty()) lines.erase(lines.begin() + long(at));
        break;
      case 2: lines.insert(lines.begin() + long(at), "inserted " + std::to_string(rng())); break;
      case 3: {
        size_t len = std::min<size_t>(1 + rng() % 20, lines.size() - at);
        std::vector<std::string> block(lines.begin() + long(at), lines.begin() + long(at + len));
        lines.erase(lines.begin() + long(at), lines.begin() + long(at + len));
        size_t to = lines.empty() ? 0 : rng() % (lines.size() + 1);
        lines.insert(lines.begin() + long(to), block.begin(), block.end());
      }
    }
  }
  return lines;
}

std::string join(const std::vector<std::string>& lines, const std::string& eol = "\n", bool final_newline = true) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i];
    if (i + 1 < lines.size() || final_newline) out += eol;
  }
  return out;
}

}  // namespace

TEST_CASE("diff: a small pair as patch and git write it", "[diff]") {
  compress::DiffOptions o;
  o.old_name = "a/f", o.new_name = "b/f";
  compress::Diff d = diff_of("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", o);
  CHECK(d.unified == "--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
  REQUIRE(d.hunks.size() == 1);
  CHECK((d.hunks[0].old_start == 2 && d.hunks[0].old_lines == 7 && d.hunks[0].new_start == 2 && d.hunks[0].new_lines == 7));
  CHECK((d.added == 1 && d.removed == 1 && !d.identical && !d.coarse));
  // An empty side's range starts at the line before it, and a count of 1 is left out.
  CHECK(diff_of("", "x\n").unified == "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n");
  CHECK(diff_of("x\n", "").unified == "--- old\n+++ new\n@@ -1 +0,0 @@\n-x\n");
  // A last line without a newline differs from the same line with one.
  CHECK(diff_of("a\nb", "a\nb\n", {.context = 0}).unified == "--- old\n+++ new\n@@ -2 +2 @@\n-b\n\\ No newline at end of file\n+b\n");
  // Changes further apart than twice the context are separate hunks.
  CHECK(diff_of("a\n1\n2\n3\n4\nb\n", "A\n1\n2\n3\n4\nB\n", {.context = 1}).hunks.size() == 2);
  CHECK(diff_of("a\n1\n2\nb\n", "A\n1\n2\nB\n", {.context = 1}).hunks.size() == 1);
}

TEST_CASE("diff: patch and git apply reproduce the new text (edge cases)", "[diff]") {
  SECTION("empty files") {
    round_trip("", "a\nb\n");
    round_trip("a\nb\n", "");
    round_trip("", "");
    round_trip("", "no newline");
  }
  SECTION("one-line files") {
    round_trip("a\n", "b\n");
    round_trip("a", "b");
    round_trip("a", "a\n");
    round_trip("a\n", "a");
    round_trip("same\n", "same\n");
  }
  SECTION("no final newline, on either side or both, with the change far from the end") {
    std::vector<std::string> lines;
    for (int i = 0; i < 50; ++i) lines.push_back("l" + std::to_string(i));
    auto changed = lines;
    changed[3] = "changed";
    for (bool a_final : {false, true})
      for (bool b_final : {false, true}) {
        round_trip(join(lines, "\n", a_final), join(changed, "\n", b_final));
        round_trip(join(lines, "\n", a_final), join(lines, "\n", b_final));
      }
    auto tail = lines;
    tail.back() = "last changed";
    round_trip(join(lines, "\n", false), join(tail, "\n", false));
  }
  SECTION("CRLF lines, and a file whose line ends change from LF to CRLF") {
    std::mt19937 rng(7);
    auto a = lines_of(rng, 200, 0);
    auto b = edited(rng, a, 10, false);
    round_trip(join(a, "\r\n"), join(b, "\r\n"));
    round_trip(join(a, "\r\n", false), join(b, "\r\n", false));
    compress::Diff d = round_trip(join(a, "\n"), join(a, "\r\n"));
    CHECK((d.added == 200 && d.removed == 200));
  }
  SECTION("all lines equal") {
    round_trip(join(std::vector<std::string>(1000, "x")), join(std::vector<std::string>(990, "x")));
    round_trip(join(std::vector<std::string>(300, "x")), join(std::vector<std::string>(300, "y")));
  }
  SECTION("all lines unique, every line changed") {
    std::mt19937 rng(3);
    auto a = lines_of(rng, 500, 0);
    std::vector<std::string> b;
    for (const auto& l : a) b.push_back(l + "!");
    compress::Diff d = round_trip(join(a), join(b));
    CHECK((d.added == 500 && d.removed == 500 && d.hunks.size() == 1));
  }
}

TEST_CASE("diff: patch and git apply reproduce generated pairs", "[diff]") {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    std::mt19937 rng(seed);
    size_t n = 200 + rng() % 3000;
    // Unique lines, a mix, and lines so frequent that histogram cannot anchor (dtl's part).
    size_t vocabulary = seed % 3 == 0 ? 0 : seed % 3 == 1 ? n / 4 : 3;
    auto a = lines_of(rng, n, vocabulary);
    auto b = edited(rng, a, 1 + rng() % 60, seed % 2 == 0);
    for (uint32_t context : {0u, 1u, 3u}) {
      INFO("seed " << seed << ", context " << context << ", vocabulary " << vocabulary);
      compress::DiffOptions o;
      o.context = context;
      round_trip(join(a), join(b, "\n", seed % 4 != 0), o);
    }
  }
}

namespace {

// git's unified diff of two texts (`git diff --no-index --histogram`, with or without its indent
// heuristic), without what ours does not write: the "diff --git" and "index" lines, and the
// enclosing function's first line after each @@ header.
std::string git_diff(const std::string& a, const std::string& b, bool indent_heuristic) {
  TempDir t;
  t.write("a/f", a), t.write("b/f", b);
  std::string dir = t.path().string();
  sh("cd '" + dir + "' && git diff --no-index --histogram " + (indent_heuristic ? "--indent-heuristic" : "--no-indent-heuristic") +
     " --no-color a/f b/f > git.diff");
  std::string git = read_file(t / "git.diff");
  git = git.substr(git.find("\n--- ") + 1);
  std::string stripped;
  for (size_t start = 0; start < git.size();) {
    size_t end = std::min(git.find('\n', start), git.size());
    std::string line = git.substr(start, end - start);
    if (line.starts_with("@@ ")) line = line.substr(0, line.find(" @@", 3) + 3);
    stripped += line + "\n";
    start = end + 1;
  }
  return stripped;
}

std::string ours_as_git(const std::string& a, const std::string& b, bool indent_heuristic) {
  compress::DiffOptions o;
  o.old_name = "a/a/f", o.new_name = "b/b/f";  // git's prefixes on the paths it was given
  o.indent_heuristic = indent_heuristic;
  return diff_of(a, b, o).unified;
}

}  // namespace

TEST_CASE("diff: the same hunks as git's histogram diff, with and without its indent heuristic", "[diff]") {
  for (uint32_t seed = 20; seed < 24; ++seed) {
    std::mt19937 rng(seed);
    // Code-like lines with the "}" and blank lines that make a change fit at several places.
    std::vector<std::string> a;
    for (size_t i = 0; i < 3000; ++i) {
      unsigned r = rng() % 10;
      a.push_back(r < 2 ? "}" : r < 3 ? "" : std::string(rng() % 3 * 4, ' ') + "call(" + std::to_string(rng() % 500) + ");");
    }
    auto b = edited(rng, a, 80, seed % 2 == 1);
    for (bool heuristic : {false, true}) {
      INFO("seed " << seed << (heuristic ? ", indent heuristic" : ", no indent heuristic"));
      CHECK(ours_as_git(join(a), join(b), heuristic) == git_diff(join(a), join(b), heuristic));
    }
  }
}

TEST_CASE("diff: the indent heuristic slides an addition or removal where git puts it", "[diff]") {
  // Each pair has a run that fits at several places; git's two modes place it differently in
  // most of them (checked below, so the cases keep testing the heuristic).
  const std::vector<std::pair<std::string, std::string>> cases = {
      // A commented function added above another: the whole comment goes with it (without the
      // heuristic, the run slides down by the "/*" both start with).
      {"}\n\n/*\n * bar\n */\nvoid bar() {}\n", "}\n\n/*\n * foo\n */\nvoid foo() {}\n\n/*\n * bar\n */\nvoid bar() {}\n"},
      // The same removed.
      {"}\n\n/*\n * foo\n */\nvoid foo() {}\n\n/*\n * bar\n */\nvoid bar() {}\n", "}\n\n/*\n * bar\n */\nvoid bar() {}\n"},
      // A braced block added above one that opens the same way.
      {"{\n    a();\n}\n", "{\n    b();\n}\n{\n    a();\n}\n"},
      // A decorated Python function added above another with the same decorator.
      {"x = 1\n\n\n@cache\ndef g():\n    return 2\n", "x = 1\n\n\n@cache\ndef f():\n    return 1\n\n\n@cache\ndef g():\n    return 2\n"},
      // Tab-indented: an if added above the same if.
      {"void f() {\n\tif (x) {\n\t\tgo();\n\t}\n}\n", "void f() {\n\tif (x) {\n\t\tstop();\n\t}\n\tif (x) {\n\t\tgo();\n\t}\n}\n"},
      // Paragraphs between blank lines, one added in the middle.
      {"a\n\nb\n\nc\n", "a\n\nb\n\nx\n\nb\n\nc\n"},
  };
  size_t differ = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& [a, b] = cases[i];
    INFO("case " << i);
    std::string git = git_diff(a, b, true);
    CHECK(ours_as_git(a, b, true) == git);
    CHECK(ours_as_git(a, b, false) == git_diff(a, b, false));
    differ += git != git_diff(a, b, false);
    round_trip(a, b);  // patch and git apply take it
  }
  CHECK(differ >= 3);
}

TEST_CASE("diff: frequent lines through several dtl windows are still exact and near minimal", "[diff]") {
  std::mt19937 rng(11);
  auto a = lines_of(rng, 6000, 2);  // every line occurs ~3000 times: no anchor, dtl in several windows
  auto b = edited(rng, a, 30, false);
  compress::Diff d = round_trip(join(a), join(b));
  // 30 edits change at most 60 lines (a move counts twice); windows do not misalign.
  CHECK(d.added + d.removed <= 60);
}

TEST_CASE("diff: every pair of lines swapped: patience anchors once histogram's work passes n log n", "[diff]") {
  // Histogram would anchor one line a level here and rescan the rest: quadratic, and 20,000 lines
  // would run into the 2 s budget and come back coarse. One line of each pair must change.
  std::vector<std::string> a, b;
  for (int i = 0; i < 20000; i += 2) {
    a.push_back("line " + std::to_string(i)), a.push_back("line " + std::to_string(i + 1));
    b.push_back("line " + std::to_string(i + 1)), b.push_back("line " + std::to_string(i));
  }
  compress::Diff d = round_trip(join(a), join(b));
  CHECK(!d.coarse);
  CHECK(d.added + d.removed == 20000);
}

TEST_CASE("diff: the deadline falls back to a coarser diff that still applies", "[diff]") {
  std::mt19937 rng(5);
  auto a = lines_of(rng, 3000, 0);
  auto b = edited(rng, a, 40, true);
  compress::DiffOptions fine;
  compress::Diff exact = round_trip(join(a), join(b), fine);
  CHECK(!exact.coarse);
  compress::DiffOptions rushed;
  rushed.budget = std::chrono::seconds(0);
  compress::Diff coarse = round_trip(join(a), join(b), rushed);
  CHECK(coarse.coarse);
  CHECK(coarse.added + coarse.removed > exact.added + exact.removed);
  // Only the common prefix and suffix survive: one hunk replaces the middle whole.
  CHECK(coarse.hunks.size() == 1);
  std::atomic<bool> cancel{true};
  compress::DiffOptions cancelled;
  cancelled.cancel = &cancel;
  CHECK(round_trip(join(a), join(b), cancelled).coarse);
}

TEST_CASE("diff: lines whose hashes collide are told apart by their bytes", "[diff]") {
  std::mt19937 rng(9);
  auto a = lines_of(rng, 2000, 300);
  auto b = edited(rng, a, 50, true);
  compress::Diff fair = round_trip(join(a), join(b));
  // Every line of the same length collides: histogram would pair unequal lines, the byte check
  // of the pairs sees it and the diff is redone with every hash match confirmed.
  compress::detail::line_hash_for_tests = [](std::string_view line) { return uint64_t(line.size()); };
  compress::Diff colliding = round_trip(join(a), join(b));
  compress::detail::line_hash_for_tests = nullptr;
  CHECK(colliding.unified == fair.unified);
}

TEST_CASE("diff: word highlights of changed line pairs", "[diff]") {
  compress::DiffOptions o;
  o.words = true;
  compress::Diff d = diff_of("int main() {\n  return count + 1;\n}\n", "int main() {\n  return total + 1;\r\n  // done\n}\n", o);
  REQUIRE(d.hunks.size() == 1);
  REQUIRE(d.hunks[0].words.size() == 1);  // the 2nd added line has no partner: no pair
  const compress::WordChange& w = d.hunks[0].words[0];
  CHECK((w.old_line == 2 && w.new_line == 2));
  // "  return count + 1;": bytes 9..14 are "count"; the CR of the new line is no change.
  REQUIRE(w.old_ranges.size() == 1);
  REQUIRE(w.new_ranges.size() == 1);
  CHECK((w.old_ranges[0].begin == 9 && w.old_ranges[0].end == 14));
  CHECK((w.new_ranges[0].begin == 9 && w.new_ranges[0].end == 14));
  // Two separate words; a UTF-8 word stays whole.
  compress::Diff two = diff_of("a café b x\n", "a thé b y\n", o);
  const compress::WordChange& t = two.hunks.at(0).words.at(0);
  REQUIRE(t.old_ranges.size() == 2);
  CHECK((t.old_ranges[0].begin == 2 && t.old_ranges[0].end == 7 && t.old_ranges[1].begin == 10 && t.old_ranges[1].end == 11));
  CHECK((t.new_ranges[0].begin == 2 && t.new_ranges[0].end == 6 && t.new_ranges[1].begin == 9 && t.new_ranges[1].end == 10));
  // Without the option, no highlights are computed.
  CHECK(diff_of("a x\n", "a y\n").hunks.at(0).words.empty());
}

TEST_CASE("diff: binary input is refused with where the NUL is", "[diff]") {
  auto r = compress::diff_text("text\n", std::string("ab\0c\n", 5));
  REQUIRE(std::holds_alternative<compress::DiffRefusal>(r));
  const auto& refusal = std::get<compress::DiffRefusal>(r);
  CHECK(refusal.why == compress::DiffRefusal::Why::Binary);
  CHECK(!refusal.old_side);
  CHECK(refusal.offset == 2);
  CHECK(refusal.message == "new text is binary (a NUL byte at offset 2); diff compares text only");
  CHECK(std::holds_alternative<compress::DiffRefusal>(compress::diff_text(std::string("\0", 1), "")));
}

namespace {
// diff/text needs no index: a host without one.
class NoIndex : public server::Host {
 public:
  server::Service* index_now() override { return nullptr; }
  server::Service& index_ready(const server::CancelFlag&) override { throw server::RpcError{server::kServerNotReady, "no index here"}; }
};

nlohmann::json call(const nlohmann::json& params) {
  NoIndex host;
  server::CancelFlag never{false};
  return server::to_json(server::registry().call("diff/text", params, host, never));
}

int error_code(const nlohmann::json& params, std::string& message) {
  try {
    call(params);
  } catch (const server::RpcError& e) {
    message = e.message;
    return e.code;
  }
  return 0;
}
}  // namespace

TEST_CASE("diff/text: the method's answer and its refusals", "[diff]") {
  const server::Method* m = server::registry().find("diff/text");
  REQUIRE(m);
  CHECK(!m->needs_index);
  nlohmann::json r = call({{"old", "a\nb\n"}, {"new", "a\nc\n"}, {"context", 0}, {"words", true}, {"old_name", "a/x"}, {"new_name", "b/x"}});
  CHECK(r["unified"] == "--- a/x\n+++ b/x\n@@ -2 +2 @@\n-b\n+c\n");
  CHECK(r["identical"] == false);
  CHECK(r["stats"] == nlohmann::json{{"added", 1}, {"removed", 1}});
  CHECK(r["hunks"] == nlohmann::json::parse(R"([{"old_start":2,"old_lines":1,"new_start":2,"new_lines":1,"words":[{"old_line":2,"new_line":2,"old":[[0,1]],"new":[[0,1]]}]}])"));
  CHECK(call({{"old", "same"}, {"new", "same"}})["identical"] == true);
  std::string message;
  CHECK(error_code({{"new", "x"}}, message) == server::kInvalidParams);
  CHECK(message == "missing param 'old'");
  CHECK(error_code({{"old", std::string("a\0", 2)}, {"new", "x"}}, message) == server::kInvalidParams);
  CHECK(message == "old text is binary (a NUL byte at offset 1); diff compares text only");
  CHECK(error_code({{"old", std::string((16 << 20) + 1, 'x')}, {"new", "x"}}, message) == server::kInvalidParams);
  CHECK(message == "param 'old' is 16777217 bytes; diff/text takes at most 16 MiB a side");
  CHECK(error_code({{"old", "a"}, {"new", "b"}, {"old_name", "two\nlines"}}, message) == server::kInvalidParams);
  CHECK(error_code({{"old", "a"}, {"new", "b"}, {"context", -1}}, message) == server::kInvalidParams);
}

TEST_CASE("indexer diff: a real process, its exit codes, JSON and words", "[diff][cli]") {
  TempDir t;
  t.write("old.txt", "alpha\nbeta\ngamma\n");
  t.write("new.txt", "alpha\nbeta two\ngamma");
  t.write("bin", std::string("x\0y", 3));
  std::string old_path = (t / "old.txt").string(), new_path = (t / "new.txt").string();

  auto r = test::run_indexer({"diff", old_path, new_path});
  CHECK(r.exit_code == 1);
  CHECK(r.out == "--- " + old_path + "\n+++ " + new_path + "\n@@ -1,3 +1,3 @@\n alpha\n-beta\n-gamma\n+beta two\n+gamma\n\\ No newline at end of file\n");
  t.write("f.diff", r.out);
  CHECK(sh("cd '" + t.path().string() + "' && cp old.txt patched && patch -s patched < f.diff && cmp -s patched new.txt") == 0);

  r = test::run_indexer({"diff", old_path, old_path});
  CHECK((r.exit_code == 0 && r.out.empty()));

  r = test::run_indexer({"diff", old_path, new_path, "--json", "--context", "0", "--words"});
  CHECK(r.exit_code == 1);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["stats"]["added"] == 2);
  CHECK(j["hunks"][0]["words"][0] == nlohmann::json::parse(R"({"old_line":2,"new_line":2,"old":[],"new":[[4,8]]})"));

  r = test::run_indexer({"diff", old_path, new_path, "--words"});
  CHECK(r.out.find("+beta{+ two+}\n") != std::string::npos);

  r = test::run_indexer({"diff", old_path, (t / "bin").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("binary (a NUL byte at offset 1)") != std::string::npos);
  r = test::run_indexer({"diff", old_path, (t / "missing").string()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("missing") != std::string::npos);
  r = test::run_indexer({"diff", old_path});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("diff needs OLD and NEW") != std::string::npos);
}
