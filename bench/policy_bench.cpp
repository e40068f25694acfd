// What a preflight costs (sandbox/preflight.h): check_command on command lines an agent runs,
// beside the substring filter it replaces (which is wrong, not just faster: it refuses
// `echo sudoku` and allows `s"u"do`); check_path on a file in a real workspace; check_url.
// Prints p50 and p99 per call in microseconds.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/stats.h"
#include "sandbox/preflight.h"

namespace {

template <class F>
void measure(const char* what, int runs, F&& f) {
  std::vector<double> us;
  us.reserve(size_t(runs));
  size_t sink = 0;
  for (int i = 0; i < runs; ++i) {
    auto t = bench::Clock::now();
    sink += f();
    us.push_back(bench::ms_since(t) * 1000);
  }
  static volatile size_t keep;  // the results, so that the calls are not optimised away
  keep = sink;
  std::printf("  %-62s p50 %8.2f us   p99 %8.2f us\n", what, bench::percentile(us, 0.5), bench::percentile(us, 0.99));
}

}  // namespace

int main() {
  sandbox::Policy white;
  white.commands.mode = sandbox::CommandMode::Whitelist;
  white.commands.allowed_commands = {"git", "ls", "grep", "make", "cat", "find", "npm", "pytest"};
  const std::vector<std::string> blocked = {"sudo", "curl", "wget", "nc", "rm"};
  std::string big;
  while (big.size() < 100'000) big += "make -C sub test && git status; ";
  const char* lines[] = {"git status", "npm test -- --watch=false 2>&1 | tail -n 50",
                         "bash -c \"git status && ls | grep foo\" && find . -name '*.o' -exec rm {} \\;",
                         "for f in $(git ls-files '*.py'); do pytest \"$f\" || exit 1; done"};
  std::printf("check_command (whitelist), beside a substring search for 5 blocked words:\n");
  for (const char* l : lines) {
    measure(l, 5000, [&] { return size_t(sandbox::check_command(white, l).allowed); });
    measure("  substring filter", 5000, [&] {
      size_t hits = 0;
      for (const auto& b : blocked) hits += std::string_view(l).find(b) != std::string_view::npos;
      return hits + 1;
    });
  }
  measure("100 KB of `make -C sub test && git status; `", 20, [&] { return size_t(sandbox::check_command(white, big).allowed); });

  namespace fs = std::filesystem;
  fs::path ws = fs::temp_directory_path() / ("indexer-policy-bench-" + std::to_string(::getpid()));
  fs::create_directories(ws / "src/deep/er");
  std::ofstream(ws / "src/deep/er/main.c") << "int main() {}\n";
  fs::create_symlink("src/deep/er/main.c", ws / "link");
  sandbox::Policy workspace;
  std::printf("check_path (workspace preset):\n");
  measure("src/deep/er/main.c, write", 5000, [&] { return size_t(sandbox::check_path(workspace, ws.string(), "src/deep/er/main.c", sandbox::Access::Write).allowed); });
  measure("link (to src/deep/er/main.c), read", 5000, [&] { return size_t(sandbox::check_path(workspace, ws.string(), "link", sandbox::Access::Read).allowed); });
  measure("~/.ssh/id_ed25519, read (refused)", 5000, [&] { return size_t(!sandbox::check_path(workspace, ws.string(), "~/.ssh/id_ed25519", sandbox::Access::Read).allowed); });
  fs::remove_all(ws);

  sandbox::Policy net;
  net.network.enabled = true;
  net.network.allowed_domains = {"*.npmjs.org", "pypi.org", "files.pythonhosted.org", "github.com", "*.githubusercontent.com"};
  std::printf("check_url:\n");
  measure("https://registry.npmjs.org/react", 20000, [&] { return size_t(sandbox::check_url(net, "https://registry.npmjs.org/react").allowed); });
  measure("https://169.254.169.254/latest (refused)", 20000, [&] { return size_t(!sandbox::check_url(net, "https://169.254.169.254/latest").allowed); });
}
