// `indexer policy`: check a policy file, show a policy, explain one decision (sandbox/preflight.h).
// Dispatched from cli.cpp before its option parser: these options are the policy's own.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>

#include "sandbox/policy.h"
#include "sandbox/preflight.h"

namespace {

constexpr const char* kPolicyUsage = R"(usage: indexer policy check FILE
       indexer policy show [FILE|strict|workspace|permissive]
       indexer policy explain [--policy FILE|strict|workspace|permissive] [--workspace DIR]
                              (--path P [--write] | --url U | --command C)
)";

int usage(const std::string& why) {
  std::cerr << "indexer policy: " << why << "\n" << kPolicyUsage;
  return 2;
}

}  // namespace

// argv[0] is the program, argv[1] "policy". Exit 0: ok or allowed; 1: invalid or refused; 2: usage.
int cmd_policy(int argc, char** argv) {
  std::string_view sub = argc > 2 ? argv[2] : "";
  if (sub == "check") {
    if (argc != 4) return usage("check takes one FILE");
    auto p = sandbox::load_policy(argv[3]);
    if (!p) {
      std::cout << "error: " << p.error() << "\n";
      return 1;
    }
    std::cout << "ok: " << p->name << "\n";
    return 0;
  }
  if (sub == "show") {
    if (argc > 4) return usage("show takes at most one policy");
    auto p = sandbox::load_policy(argc == 4 ? argv[3] : "workspace");
    if (!p) {
      std::cerr << "indexer policy: " << p.error() << "\n";
      return 1;
    }
    std::cout << sandbox::to_json(*p);
    return 0;
  }
  if (sub != "explain") return usage(sub.empty() ? "which subcommand?" : "unknown subcommand '" + std::string(sub) + "'");

  std::string policy_name = "workspace", workspace, what, subject;
  bool write = false;
  for (int i = 3; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--write") {
      write = true;
    } else if (a == "--policy" || a == "--workspace" || a == "--path" || a == "--url" || a == "--command") {
      const char* v = value();
      if (!v) return usage(std::string(a) + " needs a value");
      if (a == "--policy") policy_name = v;
      else if (a == "--workspace") workspace = v;
      else if (!what.empty()) return usage("one of --path, --url and --command");
      else what = a, subject = v;
    } else {
      return usage("unknown option '" + std::string(a) + "'");
    }
  }
  if (what.empty()) return usage("explain needs --path, --url or --command");
  if (write && what != "--path") return usage("--write goes with --path");
  auto policy = sandbox::load_policy(policy_name);
  if (!policy) {
    std::cerr << "indexer policy: " << policy.error() << "\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::path ws = workspace.empty() ? std::filesystem::current_path(ec) : std::filesystem::absolute(workspace, ec);
  if (ec) {
    std::cerr << "indexer policy: the workspace: " << ec.message() << "\n";
    return 2;
  }
  sandbox::Decision d;
  if (what == "--path") d = sandbox::check_path(*policy, ws.lexically_normal().string(), subject, write ? sandbox::Access::Write : sandbox::Access::Read);
  else if (what == "--url") d = sandbox::check_url(*policy, subject);
  else d = sandbox::check_command(*policy, subject);
  std::cout << (d.allowed ? "allowed: " : "refused: ") << d.reason << "\n";
  return d.allowed ? 0 : 1;
}
