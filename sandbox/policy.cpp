#include "sandbox/policy.h"

namespace sandbox {

Result<Policy> preset(std::string_view name) {
  Policy p;
  p.name = std::string(name);
  if (name == "workspace") return p;
  if (name == "strict") {
    p.filesystem.mode = FsMode::Strict;
    p.filesystem.allow_hidden_files = false;
    p.commands.mode = CommandMode::Whitelist;
    p.commands.allowed_commands = {"cat", "ls", "head", "tail", "wc", "grep", "rg", "find", "echo", "pwd",
                                   "true", "false", "test", "sort", "uniq", "cut", "diff", "stat", "file", "git"};
    p.limits.cpu_ms = 30'000;
    p.limits.wall_ms = 60'000;
    p.limits.memory_bytes = uint64_t(512) << 20;
    p.limits.processes = 64;
    p.limits.file_size_bytes = uint64_t(64) << 20;
    p.limits.open_files = 256;
    p.limits.tmp_bytes = uint64_t(64) << 20;
    return p;
  }
  if (name == "permissive") {
    p.filesystem.mode = FsMode::Permissive;
    p.filesystem.allow_symlinks = true;
    p.network.enabled = true;
    p.network.allowed_domains = {"*"};
    p.network.allow_http = true;
    p.commands.mode = CommandMode::Unrestricted;
    p.limits.cpu_ms = 600'000;
    p.limits.wall_ms = 1'800'000;
    p.limits.memory_bytes = uint64_t(8) << 30;
    p.limits.processes = 1024;
    p.limits.output_bytes = uint64_t(16) << 20;
    p.limits.tmp_bytes = uint64_t(1) << 30;
    return p;
  }
  return Error{"no preset '" + std::string(name) + "' (strict, workspace or permissive)"};
}

}  // namespace sandbox
