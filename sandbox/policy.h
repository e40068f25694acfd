// A sandbox policy: what a command run for an agent may read, write, reach and run, and the
// resources it may use. Read from JSON (parse_policy) or taken from a preset (strict, workspace,
// permissive); judged before a run by preflight.h and enforced during it by sandbox.h.
//
// Invariant: a Policy that parse_policy or preset returned is complete and valid (every limit set
// and in range, every path absolute or `~`-expanded); code downstream never re-validates it.
// Defaults are the safe side: no network, no sudo, symlinks not followed out of allowed paths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "query/result.h"

namespace sandbox {

using query::Error;
using query::Result;
using query::Status;

// What of the host's filesystem a run sees besides its workspace.
//  strict:     the workspace read-only, `writable_paths` and a private /tmp writable, the system
//              directories (/usr, /bin, /lib ...) read-only; nothing else.
//  workspace:  as strict, but the workspace read-write (protected metadata aside).
//  permissive: the whole host filesystem read-only, the workspace read-write; `blocked_paths` and
//              the secrets preflight protects are hidden all the same.
enum class FsMode : uint8_t { Strict, Workspace, Permissive };
enum class CommandMode : uint8_t { Whitelist, Blacklist, Unrestricted };
// When the kernel lacks a layer the policy asks for (user namespaces, Landlock, seccomp, cgroups):
// refuse to run, or run with the weaker level reported in the outcome. Never silently.
enum class Isolation : uint8_t { Required, BestEffort };

// A preflight's or an enforcer's answer. The reason is always said, allowed or not ("inside the
// workspace", "blocked: ~/.ssh holds secrets"), so that `indexer policy explain` can print it.
struct Decision {
  bool allowed = false;
  std::string reason;
};

struct FilesystemRules {
  FsMode mode = FsMode::Workspace;
  std::vector<std::string> allowed_paths;    // readable besides the workspace (absolute)
  std::vector<std::string> blocked_paths;    // never visible, even under an allowed path
  std::vector<std::string> read_only_paths;  // visible read-only, even under a writable path
  std::vector<std::string> writable_paths;   // writable besides the workspace
  bool allow_symlinks = false;               // follow links whose target stays allowed
  bool allow_hidden_files = true;            // dot-files (protected metadata aside)
  bool operator==(const FilesystemRules&) const = default;
};

struct NetworkRules {
  bool enabled = false;                      // false: an empty network namespace, no way out
  std::vector<std::string> allowed_domains;  // "example.com", "*.npmjs.org", "api.x.com:443"
  std::vector<std::string> blocked_domains;  // wins over allowed
  bool allow_localhost = false;              // the sandbox's own loopback is always there
  bool allow_http = false;                   // plain HTTP through the proxy
  bool allow_https = true;                   // CONNECT to port 443 (or a listed port)
  bool operator==(const NetworkRules&) const = default;
};

struct CommandRules {
  CommandMode mode = CommandMode::Blacklist;
  std::vector<std::string> allowed_commands;  // whitelist: names or absolute paths
  std::vector<std::string> blocked_commands;  // blacklist
  bool allow_sudo = false;
  bool operator==(const CommandRules&) const = default;
};

// Zero is never "unlimited": every run is bounded.
struct Limits {
  uint64_t cpu_ms = 60'000;                // RLIMIT_CPU, rounded up to seconds
  uint64_t wall_ms = 120'000;              // the whole tree is killed past it
  uint64_t memory_bytes = uint64_t(2) << 30;
  uint32_t processes = 256;
  uint64_t file_size_bytes = uint64_t(1) << 30;
  uint32_t open_files = 1024;
  uint64_t output_bytes = uint64_t(1) << 20;  // stdout and stderr each; past it, cut with a marker
  uint64_t tmp_bytes = uint64_t(256) << 20;   // the private /tmp's size
  bool operator==(const Limits&) const = default;
};

struct Policy {
  int version = 1;
  std::string name;
  FilesystemRules filesystem;
  NetworkRules network;
  CommandRules commands;
  Limits limits;
  Isolation isolation = Isolation::Required;
  bool operator==(const Policy&) const = default;
};

// Strict JSON (no comments); an unknown field, a wrong type or a value out of range is an error that
// names its JSON path ("filesystem.mode: expected strict, workspace or permissive"). Fields left
// out take the defaults of the preset named by "extends" (default: workspace).
Result<Policy> parse_policy(std::string_view json);
// "strict", "workspace" or "permissive".
Result<Policy> preset(std::string_view name);
// What `--policy` takes: a preset's name, or a JSON file's path.
Result<Policy> load_policy(std::string_view name_or_path);
// Every field, so that parse_policy(to_json(p)) == p.
std::string to_json(const Policy& policy);

}  // namespace sandbox
