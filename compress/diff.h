// Line diffs between two texts, written as unified diffs that `patch` and `git apply` take.
//
// Concept: every line (its terminator included, so "x" at the end of a file without a newline and
// "x\n" differ, and "x\r\n" is its own line) is hashed once with XXH3 and interned to a dense id;
// everything after compares ids. The common prefix and suffix are cut, then histogram anchoring
// (git's xhistogram idea: in a region, the longest run of common lines whose rarest line occurs
// least often in the old side is kept, and both sides of it are diffed the same way) splits the
// rest; once its scans pass n log n lines (every pair of lines swapped makes it quadratic),
// patience anchoring on the lines unique to both sides takes over. A region histogram cannot split
// (every common line occurs more than 64 times in it) goes to dtl's O(NP) LCS (Wu, Manber, Myers),
// through a window of 2048 lines a side. A change that fits at several places is then put where
// git puts it (compact() in diff.cpp), with git's indent heuristic (its default: a pure addition or
// removal goes where the indentation and blank lines around it read best): the hunks equal git's
// `diff --histogram`, or with indent_heuristic off `--no-indent-heuristic`'s. Word highlights pair the i-th removed and i-th added line of a change
// and diff their tokens with dtl.
//
// Invariant: applying `unified` to the old text gives the new text byte for byte, whatever the
// deadline did: a region left when the budget runs out is replaced whole (`coarse`), which is
// larger but still exact. Ids are exact (a hash match is confirmed by comparing bytes), and there is
// no cap on the number of distinct lines.
//
// Cost: one pass of hashing and interning (8-byte slots, 1.5 to 3 a line), then O(n log k) id
// compares for n lines and k changes on typical edits, and never much past O(n log n) before
// patience takes over; memory is a few uint32 a line, allocated once a call.
// A text holding a NUL byte is refused as binary, and one of 4 GiB or more as too large.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace compress {

struct DiffOptions {
  uint32_t context = 3;                 // unchanged lines around each change; hunks closer than 2x merge
  bool words = false;                   // fill Hunk::words
  bool indent_heuristic = true;         // git's default; false: a sliding run goes as low as it can
  std::string_view old_name = "old";    // the "--- " and "+++ " names (git apply wants a/... and b/...)
  std::string_view new_name = "new";
  std::chrono::steady_clock::duration budget = std::chrono::seconds(2);  // past it: coarse but exact
  const std::atomic<bool>* cancel = nullptr;  // when it turns true, the rest is done coarsely at once
};

// Bytes [begin, end) of one line, counted from the line's first byte; never covers its terminator.
struct ByteRange {
  uint32_t begin = 0, end = 0;
};

// One changed line pair of a change: the i-th removed line beside the i-th added one.
struct WordChange {
  uint32_t old_line = 0, new_line = 0;  // 1-based
  std::vector<ByteRange> old_ranges, new_ranges;
};

struct Hunk {
  // As the @@ header writes them: 1-based starts, or the line before when the count is 0.
  uint32_t old_start = 0, old_lines = 0, new_start = 0, new_lines = 0;
  std::vector<WordChange> words;  // only with DiffOptions::words
};

struct Diff {
  std::string unified;  // "" when identical
  std::vector<Hunk> hunks;
  bool identical = false;
  uint32_t added = 0, removed = 0;  // lines
  bool coarse = false;              // the budget ran out (or cancel was set): some region replaced whole
};

struct DiffRefusal {
  enum class Why : uint8_t { Binary, TooLarge } why;
  bool old_side;        // which text
  uint64_t offset;      // Binary: the first NUL byte
  std::string message;  // "old text is binary (a NUL byte at offset 17); diff compares text only"
};

std::variant<Diff, DiffRefusal> diff_text(std::string_view old_text, std::string_view new_text, const DiffOptions& options = {});

namespace detail {
// Tests only: a line hash to use instead of XXH3 (null: XXH3), so that a test can make lines
// collide and see the byte check catch it. Not thread-safe to change while diffs run.
extern uint64_t (*line_hash_for_tests)(std::string_view line);
}  // namespace detail

}  // namespace compress
