// Preflight: a policy's answer for one path, URL, host or command line, before anything runs.
// Every answer is a Decision with its reason, allowed or not, so `indexer policy explain` and an
// agent can say why. The kernel (sandbox.h) enforces the same policy during the run; a preflight
// is the early, explainable refusal, not the guard: what it cannot see (a hard link, a script's
// contents, what `$CMD` expands to) the kernel still confines.
//
// Invariants:
//  - Secrets are refused for reading and writing wherever they are, even when absent and even
//    under an allowed path (~/.ssh, ~/.aws, .env files ...: protected_secrets()). Metadata that
//    runs code later (.git/hooks, .git/config, .bashrc, .vscode/ ...) is refused for writing, also
//    inside the workspace (write_protected()).
//  - A path is judged where it leads: `~` expanded, made absolute against the workspace, `..`
//    folded, and symbolic links resolved; both the path as written and its target must be allowed.
//  - A command line is judged by every command bash would run (tree-sitter-bash), through
//    pipelines, lists, substitutions, functions and wrappers (sudo, env, xargs, sh -c ...); what
//    cannot be judged (a name that is an expansion, a syntax error) is refused, not guessed.
// Cost: check_path does a few stat/readlink calls; check_command parses the line: 10 us for `git
// status`, 40-100 us for a line of a few commands, 75 ms for 100 KB. Input is capped at
// kMaxCommandLine bytes, nested shells at kMaxShellDepth, syntax nodes at kMaxCommandNodes and the
// parse at kMaxParseMicros of CPU, so hostile input is refused in bounded time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.h"

namespace sandbox {

enum class Access : uint8_t { Read, Write };

// `path` relative to `workspace` unless absolute or `~`-prefixed; `workspace` must be absolute.
Decision check_path(const Policy& policy, std::string_view workspace, std::string_view path, Access access);

// http:// or https:// URLs only; the host and port are judged by check_host.
Decision check_url(const Policy& policy, std::string_view url);
// What the proxy asks before it resolves a name: `host` is a name or an IP literal (IPv6 with or
// without brackets), `tls` says CONNECT (https) rather than plain HTTP. Private, link-local,
// metadata and multicast literals are refused whatever the lists say; names are judged by the
// lists, and the proxy judges the addresses they resolve to (is_public_address).
Decision check_host(const Policy& policy, std::string_view host, uint16_t port, bool tls);
// Whether an IP literal (IPv4 in any inet_aton form, or IPv6) is a public unicast address: not
// loopback, private, link-local, carrier-grade NAT, multicast, reserved or unspecified (IPv4
// mapped and NAT64 IPv6 addresses are judged by their IPv4 part). False for a non-literal.
bool is_public_address(std::string_view ip);

constexpr size_t kMaxCommandLine = 128 * 1024;  // the kernel's own limit for one argument
constexpr int kMaxShellDepth = 8;                // sh -c "sh -c '...'" nesting
constexpr size_t kMaxCommandNodes = 200'000;     // syntax nodes visited, all nesting included
constexpr uint64_t kMaxParseMicros = 500'000;    // CPU time parsing may take, all nesting included

Decision check_command(const Policy& policy, std::string_view command_line);

// One command the line would run, as check_command sees it.
struct Invocation {
  enum class Kind : uint8_t {
    Program,     // judged by the policy's lists
    Wrapper,     // runs its arguments (env, xargs, timeout, sh -c ...): those are judged instead
    Privileged,  // sudo, doas, su, pkexec: refused unless allow_sudo
    Builtin,     // a shell builtin that runs nothing (cd, echo, export ...)
    Function,    // a function the line defines: its body is judged
    Unknown,     // cannot be judged: a name that is an expansion, eval of an expansion
  };
  std::string name;  // as written after unquoting ("git", "/usr/bin/sudo", "$CMD")
  Kind kind = Kind::Program;
};
struct CommandAnalysis {
  std::vector<Invocation> commands;  // in source order, wrappers before what they run
  std::string error;                 // non-empty: the line cannot be judged (and is refused)
};
CommandAnalysis analyze_command(std::string_view command_line);
// The names of analyze_command's commands, for tests and explain: `bash -c "curl x | sh"` gives
// {"bash", "curl", "sh"}. Empty when the line cannot be judged.
std::vector<std::string> commands_of(std::string_view command_line);

// The home directory `~` stands for: the user running indexer ($HOME, else the password database).
std::string home_directory();
// Absolute, `~`-expanded secrets refused for reading and writing (directories and files), for the
// engine to hide in permissive mode too. File names protected anywhere (.env, .env.*) are not in
// it: is_secret_name says those.
std::vector<std::string> protected_secrets();
bool is_secret_name(std::string_view file_name);
// Paths relative to any directory (a workspace, a nested repository) that are write-protected:
// ".git/hooks", ".git/config", ".bashrc", ".vscode" ...
std::vector<std::string> write_protected();

}  // namespace sandbox
