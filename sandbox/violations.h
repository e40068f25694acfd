// The violations log: every refusal the process answered (a preflight check an agent asked for, a
// path, command or host refused in a run, a limit that killed one), kept so that a postflight step
// can report what an agent tried, and counted by kind for /metrics.
//
// Invariant: bounded. The log keeps the last `capacity` refusals (older ones drop off the front,
// still counted); each subject and reason is cut to kMaxViolationText bytes. Every entry has a
// sequence number, increasing by one per refusal for the process's life, so a reader asks for
// what came after the last one it saw and knows how many it missed.
// Cost: one short mutex hold and two small copies a refusal; refusals are rare next to checks
// (a check that allows records nothing). Thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sandbox {

enum class ViolationKind : uint8_t {
  Path,     // a file read or write refused (preflight, or an executor's confined open)
  Url,      // a URL refused
  Command,  // a command line refused
  Network,  // a host the proxy refused during a run
  Limit,    // a run killed by a limit: wall clock, cpu, memory, file size
  Run,      // a run the sandbox refused to start (a layer missing, a bad workspace)
};
inline constexpr size_t kViolationKinds = 6;
std::string_view kind_name(ViolationKind kind);  // "path", "url", "command", "network", "limit", "run"

inline constexpr size_t kMaxViolationText = 512;

struct Violation {
  uint64_t seq = 0;     // 1, 2, 3 ... for the process's life
  int64_t unix_ms = 0;  // when it was refused
  ViolationKind kind = ViolationKind::Path;
  std::string subject;  // what was asked: the path, URL, command line, host:port
  std::string reason;   // the decision's reason, as the refusal said it
  std::string source;   // who refused: "sandbox/check", "executor", "proxy", "exec/run" ...
};

class ViolationLog {
 public:
  explicit ViolationLog(size_t capacity = 1000) : capacity_(capacity ? capacity : 1) {}
  void record(ViolationKind kind, std::string_view subject, std::string_view reason, std::string_view source);

  struct Page {
    std::vector<Violation> entries;  // oldest first, seq > since, at most `limit` (page on from the last)
    uint64_t last = 0;               // the newest seq recorded so far (0: none yet)
    uint64_t dropped = 0;            // entries after `since` that fell off the log before this read
  };
  Page read(size_t limit, uint64_t since = 0) const;
  std::array<uint64_t, kViolationKinds> counts() const;  // by kind, since the start
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Violation> entries_;
  uint64_t next_seq_ = 1;
  std::array<uint64_t, kViolationKinds> counts_{};
};

// The process's log, which /metrics and sandbox/violations read.
ViolationLog& violations();

// The one-liner every refusal site calls.
inline void record_violation(ViolationKind kind, std::string_view subject, std::string_view reason, std::string_view source) {
  violations().record(kind, subject, reason, source);
}

}  // namespace sandbox
