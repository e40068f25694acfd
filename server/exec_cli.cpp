// `indexer exec`: one command run in the sandbox (sandbox/sandbox.h), its output passed through as
// it comes, its exit status ours: 124 on timeout, 137 when a limit killed it, 126 when the sandbox
// refused, 128+N when a signal killed it; the reason on stderr whenever it did not simply exit.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox/policy.h"
#include "sandbox/preflight.h"
#include "sandbox/proxy.h"
#include "sandbox/sandbox.h"
#include "sandbox/tasks.h"

namespace {

constexpr const char* kExecUsage =
    "usage: indexer exec [--policy FILE|strict|workspace|permissive] [--workspace DIR] [--cwd DIR]\n"
    "                    [--timeout S] [--memory N[K|M|G]] [--env KEY=VALUE]... [--stdin] [--verbose] -- CMD...\n"
    "       indexer exec --probe\n";

int usage(const std::string& why) {
  std::fprintf(stderr, "indexer exec: %s\n%s", why.c_str(), kExecUsage);
  return 2;
}

bool parse_bytes(std::string_view s, uint64_t& out) {
  uint64_t mult = 1;
  if (!s.empty()) {
    char c = s.back();
    if (c == 'K' || c == 'k') mult = 1ULL << 10;
    if (c == 'M' || c == 'm') mult = 1ULL << 20;
    if (c == 'G' || c == 'g') mult = 1ULL << 30;
    if (mult != 1) s.remove_suffix(1);
  }
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > (UINT64_MAX / mult)) return false;
  out = v * mult;
  return true;
}

void write_all(int fd, std::string_view s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n <= 0) return;
    off += size_t(n);
  }
}

}  // namespace

int cmd_exec(int argc, char** argv) {
  std::string policy_name = "workspace", workspace, cwd;
  std::vector<std::string> env;
  double timeout_s = 0;
  uint64_t memory = 0;
  bool read_stdin = false, verbose = false;
  int i = 2;  // argv[1] is "exec"
  for (; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    std::string v;
    if (a == "--probe") {
      std::printf("%s\n", sandbox::probe().summary().c_str());
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kExecUsage, stdout);
      return 0;
    } else if (a == "--policy") {
      if (!value(policy_name)) return usage("--policy needs a value");
    } else if (a == "--workspace") {
      if (!value(workspace)) return usage("--workspace needs a directory");
    } else if (a == "--cwd") {
      if (!value(cwd)) return usage("--cwd needs a directory");
    } else if (a == "--env") {
      if (!value(v) || v.find('=') == std::string::npos) return usage("--env needs KEY=VALUE");
      env.push_back(v);
    } else if (a == "--timeout") {
      if (!value(v)) return usage("--timeout needs seconds");
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), timeout_s);
      if (ec != std::errc() || p != v.data() + v.size() || !(timeout_s > 0)) return usage("--timeout: not a positive number: " + v);
    } else if (a == "--memory") {
      if (!value(v) || !parse_bytes(v, memory)) return usage("--memory: expected bytes, e.g. 512M or 2G");
    } else if (a == "--stdin") {
      read_stdin = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else {
      return usage("unknown option '" + std::string(a) + "'");
    }
  }
  if (i >= argc) return usage("no command after --");

  auto policy = sandbox::load_policy(policy_name);
  if (!policy) return usage(policy.error());
  if (timeout_s > 0) policy->limits.wall_ms = uint64_t(timeout_s * 1000 + 0.5) ? uint64_t(timeout_s * 1000 + 0.5) : 1;
  if (memory) policy->limits.memory_bytes = memory;

  sandbox::Command cmd;
  std::error_code ec;
  cmd.workspace = std::filesystem::canonical(workspace.empty() ? "." : workspace, ec).string();
  if (ec) return usage((workspace.empty() ? "." : workspace) + ": " + ec.message());
  cmd.cwd = cwd;
  cmd.env = env;
  for (; i < argc; ++i) cmd.argv.emplace_back(argv[i]);
  // Judged first by what it would run (preflight.h): a refusal names the command and the rule,
  // before anything starts. The kernel still confines whatever the preflight cannot see.
  if (sandbox::Decision d = sandbox::check_command(*policy, sandbox::tasks::shell_line(cmd.argv)); !d.allowed) {
    std::fprintf(stderr, "indexer exec: refused by policy '%s': %s\n", policy->name.c_str(), d.reason.c_str());
    return 126;
  }
  // With the network on, the only way out is our proxy (proxy.h), on a socket in a private
  // directory of ours that the engine binds into the sandbox; it lives as long as the run.
  std::unique_ptr<sandbox::Proxy> proxy;
  std::string proxy_dir;
  if (policy->network.enabled) {
    char tmpl[] = "/tmp/indexer-proxy-XXXXXX";
    if (!::mkdtemp(tmpl)) return usage(std::string("cannot make the proxy's directory: ") + std::strerror(errno));
    proxy_dir = tmpl;
    sandbox::Proxy::Options po;
    po.socket_path = proxy_dir + "/proxy.sock";
    po.allow_loopback = policy->network.allow_localhost;  // loopback only: private ranges stay refused
    const sandbox::Policy& p = *policy;
    po.decide = [&p](std::string_view host, uint16_t port, bool connect) { return sandbox::check_host(p, host, port, connect); };
    auto started = sandbox::Proxy::start(std::move(po));
    if (!started) {
      ::rmdir(proxy_dir.c_str());
      return usage("cannot start the network proxy: " + started.error());
    }
    proxy = std::move(*started);
    cmd.proxy_socket = proxy_dir + "/proxy.sock";
  }
  if (read_stdin) {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(0, buf, sizeof buf)) > 0) cmd.stdin_data.append(buf, size_t(n));
  }

  // Output is passed through as it comes, up to the cap; the engine's marker line follows it.
  const uint64_t cap = policy->limits.output_bytes;
  uint64_t written[3] = {0, 0, 0};
  sandbox::RunOptions options;
  options.on_output = [&](int stream, std::string_view chunk) {
    uint64_t& w = written[stream];
    size_t n = size_t(std::min<uint64_t>(chunk.size(), cap - std::min(cap, w)));
    if (n) write_all(stream, chunk.substr(0, n));
    w += n;
  };
  auto r = sandbox::run(*policy, cmd, options);
  if (proxy) {
    if (verbose)
      for (const auto& e : proxy->events())
        std::fprintf(stderr, "indexer exec: network: %s:%u %s (%s)\n", e.host.c_str(), unsigned(e.port),
                     e.allowed ? "allowed" : "refused", e.reason.c_str());
    proxy.reset();  // removes the socket file
    ::rmdir(proxy_dir.c_str());
  }
  if (!r) {
    std::fprintf(stderr, "indexer exec: %s\n", r.error().c_str());
    return 2;
  }
  if (r->out_truncated) write_all(1, std::string_view(r->out).substr(size_t(cap)));
  if (r->err_truncated) write_all(2, std::string_view(r->err).substr(size_t(cap)));
  if (verbose) {
    std::string layers;
    for (const auto& l : r->layers) layers += (layers.empty() ? "" : ", ") + l;
    std::fprintf(stderr, "indexer exec: layers: %s\n", layers.c_str());
    for (const auto& w : r->weakened) std::fprintf(stderr, "indexer exec: weakened: %s\n", w.c_str());
    std::fprintf(stderr, "indexer exec: %s (wall %.1f ms, cpu %.1f ms)\n", r->reason.c_str(), r->wall_ms, r->cpu_ms);
  }
  using K = sandbox::Outcome::Kind;
  if (r->kind != K::Exited && !verbose) std::fprintf(stderr, "indexer exec: %s\n", r->reason.c_str());
  switch (r->kind) {
    case K::Exited: return r->code;
    case K::Signaled: return 128 + r->code;
    case K::Timeout: return 124;
    case K::Memory:
    case K::Cpu:
    case K::FileSize: return 137;
    case K::Cancelled: return 130;
    case K::Refused: return 126;
  }
  return 1;
}
