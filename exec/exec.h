// The execution service: code in a language (Python 3, JavaScript, C, C++, Rust, Bash) or a command
// line, compiled and run in the sandbox (sandbox/sandbox.h), each job in a fresh temporary
// workspace; queued fairly between submitters, bounded, cancellable; results kept in SQLite under
// <root>/.indexer/exec.db for a retention time; or, with Settings::shared_queue, queue and results
// shared with other servers through Redis (shared_queue.h). No server code:
// server/exec_methods.cpp serves it over REST and JSON-RPC.
//
// Invariants: every accepted job ends with exactly one result (its `done` hook is called once, its
// row written once as finished); a job is queued, then running, then finished, never back. A job a
// dead server left queued or running is finished as internal_error when the store is next opened.
// Output handed to `output` hooks is in order, cut at the output limit, and never ends inside a
// UTF-8 sequence (a sequence split across reads is held back until it is whole).
// Cost: a run is one sandbox run (a warm template's fork when the job's policy is the server's:
// exec/templates.h; else a cold sandbox::run) plus, for a compiled language, one compile unless the
// program is in the compile cache (xxh3 of language, flags, source and files); three SQLite writes
// a job (queued, running, finished) in WAL mode without fsync per write.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/policy.h"

namespace exec {

using query::Error;
using query::Result;

enum class Status : uint8_t {
  Queued, Running, Completed, CompileError, RuntimeError, Timeout, MemoryLimit, OutputLimit, Cancelled, InternalError
};
inline constexpr int kStatuses = 10;
std::string_view status_name(Status s);
inline bool finished(Status s) { return s != Status::Queued && s != Status::Running; }

struct Language {
  std::string name;                  // "python", "javascript", "c", "cpp", "rust", "bash"
  int judge0_id = 0;                 // 71, 63, 50, 54, 73, 46
  std::string file;                  // the source's name in the workspace: main.py, main.c ...
  std::vector<std::string> compile;  // empty: interpreted; else argv, run in the workspace
  std::vector<std::string> run;      // argv; the job's args follow
  std::string version;               // `X --version`'s first line; "" when the tool is missing
};
// Probed once (each tool's --version), then cached.
const std::vector<Language>& languages();
// By name or alias ("python3", "js", "node", "c++", "sh"), or by a Judge0 id.
const Language* find_language(std::string_view name);
const Language* find_language(int judge0_id);

struct Limits {
  uint64_t cpu_ms = 5'000, wall_ms = 10'000, memory_bytes = uint64_t(256) << 20;
};

struct Request {
  std::string id;        // empty: one is made; else [A-Za-z0-9._-], at most 64
  std::string client;    // the fairness key: jobs are taken round robin between clients
  const Language* language = nullptr;  // null: `command` is a command line run by bash
  std::string source;
  std::string command;
  std::string stdin_data;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> files;  // relative path, content
  std::optional<uint64_t> cpu_ms, wall_ms, memory_bytes;
  bool strict = false;   // the strict policy instead of the server's
};

struct JobResult {
  std::string id;
  Status status = Status::Queued;
  std::string language;  // "" for a command line
  std::string out, err, compile_output;
  std::optional<int> exit_code, signal;
  double cpu_ms = 0, wall_ms = 0;
  uint64_t memory_bytes = 0;  // peak of the run's tree (the memory cgroup); 0 when unknown
  std::string message;        // one line: why it ended so ("killed: wall clock of 2000 ms exceeded")
  int64_t created_ms = 0, finished_ms = 0;  // Unix time
};

struct Hooks {
  // Output as it arrives (stream 1 or 2), on the job's worker thread; bounded and UTF-8-whole.
  std::function<void(int stream, std::string_view data)> output;
  // Once, when the job is finished (also when cancelled while queued), after its row is written.
  std::function<void(const JobResult&)> done;
};

struct Settings {
  std::filesystem::path root;  // <root>/.indexer/exec.db; empty: results in memory only
  unsigned workers = 0;        // concurrent jobs; 0: the cores
  size_t queue = 10'000;       // jobs waiting; past it, submit() says Full
  std::chrono::seconds retention{24 * 3600};
  Limits defaults, max{60'000, 120'000, uint64_t(2) << 30};
  sandbox::Policy policy;      // runs; compiles use it with their own limits
  size_t max_source = 1 << 20, max_files_bytes = 16 << 20;
  uint64_t cache_bytes = uint64_t(256) << 20;  // the compile cache, on disk
  // redis://[:PASSWORD@]HOST[:PORT][/DB]: the queue and the results are shared through Redis with
  // every server given the same URL (shared_queue.h); `root` is then unused. Empty: local, SQLite.
  std::string shared_queue;
  std::chrono::milliseconds lease{30'000};  // shared: a dead worker's job is run again after this
};

struct Counters {
  size_t queued = 0, running = 0;
  uint64_t finished[kStatuses] = {};
  struct Histogram {
    uint64_t count = 0;
    double sum = 0;
    std::vector<uint64_t> buckets;  // cumulative counts are made when written
  };
  // By language ("command" for command lines): wall seconds and peak memory bytes.
  std::map<std::string, Histogram> seconds, memory;
  uint64_t cache_hits = 0, cache_misses = 0;
  // Sandbox runs (compiles included) forked from a warm template of the step, and run cold.
  uint64_t warm_runs = 0, cold_runs = 0;
};
inline constexpr double kSecondBuckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
inline constexpr double kMemoryBuckets[] = {1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20, 1 << 30};

class Service {
 public:
  // Opens (or makes) the store, finishes what a dead server left, starts the workers.
  static Result<std::unique_ptr<Service>> start(Settings settings);
  ~Service();  // cancels what runs, drops what waits (its rows say internal_error), joins

  enum class Refused : uint8_t { No, Invalid, Full, Unavailable };  // Unavailable: the shared queue is unreachable
  struct Submitted {
    Refused refused = Refused::No;
    std::string message;  // why, when refused
    std::string id;
  };
  Submitted submit(Request request, Hooks hooks = {});
  // A live job's state, else the stored result; nullopt for an id never seen (or past retention).
  std::optional<JobResult> result(const std::string& id);
  // The same, telling "not known" from "cannot say now" (the shared queue unreachable: `error`).
  struct Lookup {
    std::optional<JobResult> result;
    std::string error;
  };
  Lookup lookup(const std::string& id);
  // True when the job was queued or running (it ends as cancelled); false when unknown or finished.
  bool cancel(const std::string& id);
  Counters counters() const;
  const Settings& settings() const;
  std::string store_warning() const;  // why results are kept in memory only; "" when on disk
  std::string shared_queue() const;   // "Redis at HOST:PORT/N" when shared; "" when local

  struct Impl;

 private:
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace exec
