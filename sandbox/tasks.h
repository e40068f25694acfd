// Tasks: what `indexer executor` does for an orchestrator (server/executor_stdio.cpp speaks the
// protocol; this is the work, with no protocol in it): read, write and list files, run a command,
// run the workspace's tests or linter, each under a Policy narrowed by the task's context.
//
// Invariants:
//  - A context narrows, never widens: its allowed_paths are intersected with the policy's areas
//    (the workspace, allowed_paths, writable_paths), its timeout can only shorten the policy's
//    wall clock, its working_dir must lie inside what is left. What the intersection drops is gone
//    for that task, for files and for runs alike (a run's workspace is the narrowed one).
//  - A file is judged twice: by the preflight (check_path: secrets, protected metadata, links out,
//    traversal, with its reason) and then opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)
//    from the area's root (indexer/confine.h), so a link swapped in after the check cannot win:
//    there is no separate check at open. A link anywhere on the path is refused, even one that
//    stays inside. Writes go to a temporary file beside the target, renamed over it.
//  - Every refusal is a Failure of code Refused with the rule's reason, and is logged
//    (violations.h) with its kind.
// Cost: a file op is a preflight (tens of us) and a handful of system calls; a run is a sandbox
// run (sandbox.h), a few ms over the command itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sandbox/policy.h"
#include "sandbox/sandbox.h"
#include "sandbox/violations.h"

namespace sandbox::tasks {

inline constexpr uint64_t kMaxReadBytes = 16 << 20;   // fs.read's cap (max_bytes may lower it)
inline constexpr uint64_t kMaxWriteBytes = 16 << 20;  // fs.write's cap
inline constexpr size_t kMaxListEntries = 100'000;    // fs.list's cap (max_entries may lower it)

struct Failure {
  enum class Code : uint8_t {
    Refused,    // the policy said no: `kind` and `subject` say what, `message` why
    BadArgs,    // the task asked for something malformed
    NotFound,   // no such file or directory
    Io,         // the system said no (permission, full disk ...)
    NoCommand,  // test.run or lint.run found no command in the workspace
  };
  Code code = Code::BadArgs;
  std::string message;
  ViolationKind kind = ViolationKind::Path;
  std::string subject;
};
std::string_view code_name(Failure::Code code);  // "refused", "bad_args", "not_found", "io_error", "no_command"

template <typename T>
using Done = std::variant<T, Failure>;

// What an orchestrator's task says about where and how it runs.
struct TaskContext {
  std::string working_dir;                               // "": the workspace (else the first area left); relative: to it
  std::optional<std::vector<std::string>> allowed_paths;  // absent: the policy's areas
  std::vector<std::string> env;                          // KEY=VALUE, for runs
  uint64_t timeout_ms = 0;                               // 0: the policy's wall clock
};

// An area file operations may act in: `base` is a policy area (trusted, opened as it is); `sub`
// narrows it to a directory below (checked component by component at each open, like any path).
struct Area {
  std::string base;
  std::string sub;  // "" or relative, no `..`
  bool writable = false;
  std::string path() const { return sub.empty() ? base : base + "/" + sub; }
};

// The policy as narrowed for one task.
struct Scope {
  Policy policy;
  std::string workspace;  // the policy's workspace (absolute, canonical)
  std::string cwd;        // absolute, inside an area
  std::vector<Area> areas;
  std::vector<std::string> env;
};
// Refused when working_dir lies outside every area left, or an env entry is not KEY=VALUE.
// Refusals are logged with `source`.
Done<Scope> narrow(const Policy& policy, const std::string& workspace, const TaskContext& context, std::string_view source);

struct FileRead {
  std::string path;  // absolute
  std::string content;
  uint64_t size = 0;  // of the file; content may stop short of it
  bool truncated = false;
};
Done<FileRead> read_file(const Scope& scope, std::string_view path, uint64_t max_bytes, std::string_view source);

struct FileWritten {
  std::string path;
  uint64_t bytes = 0;
  bool created = false;
};
Done<FileWritten> write_file(const Scope& scope, std::string_view path, std::string_view content, bool create_dirs, std::string_view source);

struct Entry {
  std::string path;  // relative to the listed directory
  char type = 'f';   // f file, d directory, l link (never followed), o other
  uint64_t size = 0;
};
struct Listing {
  std::string path;
  std::vector<Entry> entries;  // sorted by path
  bool truncated = false;
};
Done<Listing> list_dir(const Scope& scope, std::string_view path, bool recursive, size_t max_entries,
                       const std::atomic<bool>* cancel, std::string_view source);

// What a run reports as it goes.
struct Events {
  std::function<void(int stream, std::string_view chunk)> output;  // stdout 1, stderr 2, as it comes
  std::function<void(int percent)> progress;
};

struct CommandSpec {
  std::string line;               // a shell command line (run by /bin/sh -c) ...
  std::vector<std::string> argv;  // ... or the words of one command
  std::string stdin_data;
  uint64_t timeout_ms = 0;        // 0: the scope's
};
struct Ran {
  std::string command;  // the line as judged
  Outcome outcome;
};
// Judged by check_command first; a run the sandbox refused, or a limit that killed it, is logged.
Done<Ran> run_command(const Scope& scope, const CommandSpec& spec, const Events& events, const std::atomic<bool>* cancel,
                      std::string_view source);

enum class Check : uint8_t { Test, Lint };
struct Found {
  std::string command;  // "npm test", "python3 -m pytest", "cargo test", "go test ./...", "make test"
  std::string from;     // the file that said so: "package.json" ...
};
// The workspace's own command for tests or lint, from the files in `dir` (confined like fs.read).
std::optional<Found> find_command(const Scope& scope, const std::string& dir, Check check);
// find_command (unless `given` is set), then run_command, with progress: 0 at the start, what a
// runner prints as it goes (pytest's "[ 45%]"), 100 at the end.
Done<Ran> run_check(const Scope& scope, Check check, const std::string& given, const std::atomic<bool>* cancel,
                    const Events& events, std::string_view source, Found* found = nullptr);

// argv as one shell line, each word single-quoted, for the command-line judge: `bash -c "curl x | sh"`
// stays three words, the third parsed again by the judge as a shell would.
std::string shell_line(const std::vector<std::string>& argv);

}  // namespace sandbox::tasks
