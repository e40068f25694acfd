// Spawn and wait for /bin/true fully isolated (sandbox::run), beside a plain posix_spawn, bwrap
// with comparable flags and `unshare -Urmpnif --mount-proc`, in one run; then runs per second
// with 2 and 16 concurrent runs, and the cost of a bigger parent (clone copies its page tables).
// A warm template's runs (sandbox.h: Template) are measured beside them, alone and concurrent.
// CPU time per run (ours and our reaped children's, user + system) is printed beside the wall
// clock: on a shared machine it moves far less than the wall clock does.
// Usage: indexer_sandbox_bench [--runs N] [--heap-mb M] [--quick] [--cold-only]
//   --quick: the spawn rows only; --cold-only: only cold runs, for a profiler to watch.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "sandbox/sandbox.h"

extern char** environ;

namespace {

using bench::Clock;
using bench::ms_since;
using bench::percentile;

int spawn_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

struct Row {
  const char* name;
  double p50, p99;
  double cpu = 0;  // ms per run: user + system of this process and the children it reaped
};

double cpu_ms() {
  double ms = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage ru{};
    getrusage(who, &ru);
    ms += double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  }
  return ms;
}

Row measure(const char* name, int runs, const std::function<bool()>& once) {
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) once();  // warm the page cache and the probe
  const double cpu0 = cpu_ms();
  for (int i = 0; i < runs; ++i) {
    auto s = Clock::now();
    if (!once()) {
      std::fprintf(stderr, "%s: a run failed\n", name);
      std::exit(1);
    }
    t.push_back(ms_since(s));
  }
  return {name, percentile(t, 0.5), percentile(t, 0.99), (cpu_ms() - cpu0) / runs};
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200, heap_mb = 1024;
  bool quick = false, cold_only = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--cold-only")) cold_only = true;
    else if (i + 1 < argc && !std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[++i]);
    else if (i + 1 < argc && !std::strcmp(argv[i], "--heap-mb")) heap_mb = std::atoi(argv[++i]);
  }
  char tmpl[] = "/tmp/indexer-sandbox-bench-XXXXXX";
  std::string ws = ::mkdtemp(tmpl);
  auto policy = sandbox::preset("workspace");
  sandbox::Command cmd;
  cmd.argv = {"/bin/true"};
  cmd.workspace = ws;
  auto isolated = [&] {
    auto r = sandbox::run(*policy, cmd);
    return r.ok() && r->kind == sandbox::Outcome::Kind::Exited && r->code == 0;
  };
  if (cold_only) {
    Row r = measure("sandbox::run /bin/true (workspace preset)", runs, isolated);
    std::printf("%s: p50 %.2f ms  p99 %.2f ms  cpu %.2f ms/run\n", r.name, r.p50, r.p99, r.cpu);
    ::rmdir(ws.c_str());
    return 0;
  }
  auto made = sandbox::Template::create(*policy, cmd);
  if (!made) {
    std::fprintf(stderr, "template: %s\n", made.error().c_str());
    return 1;
  }
  auto warm_template = std::move(*made);
  auto warm = [&] {
    auto r = warm_template->run(cmd);
    return r.ok() && r->kind == sandbox::Outcome::Kind::Exited && r->code == 0;
  };
  std::printf("kernel support: %s\n", sandbox::probe().summary().c_str());
  {
    double l[3] = {};
    if (getloadavg(l, 3) == 3) std::printf("load average: %.2f %.2f %.2f\n", l[0], l[1], l[2]);
  }

  std::vector<Row> rows;
  rows.push_back(measure("posix_spawn /bin/true (no isolation)", runs, [] { return spawn_wait({"/bin/true"}) == 0; }));
  rows.push_back(measure("sandbox::run /bin/true (workspace preset)", runs, isolated));
  rows.push_back(measure("Template::run /bin/true (warm, same preset)", runs, warm));
  rows.push_back(measure("bwrap --unshare-all ... /bin/true", runs, [&] {
    return spawn_wait({"/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/usr", "/usr",
                       "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                       "--symlink", "usr/sbin", "/sbin", "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache", "--proc",
                       "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", ws, ws, "--chdir", ws, "--cap-drop", "ALL",
                       "/bin/true"}) == 0;
  }));
  rows.push_back(measure("unshare -Urmpnif --mount-proc true", runs,
                         [] { return spawn_wait({"/usr/bin/unshare", "-Urmpnif", "--mount-proc", "true"}) == 0; }));
  // The cold run as it was before the prepared parts (sandbox/prepared.h): its child mounts the
  // system part itself and it makes its own network namespace.
  ::setenv("INDEXER_SANDBOX_PREPARE", "0", 1);
  rows.push_back(measure("sandbox::run, nothing prepared", runs, isolated));
  ::unsetenv("INDEXER_SANDBOX_PREPARE");
  std::printf("\nspawn and wait, %d runs each:\n", runs);
  for (const auto& r : rows)
    std::printf("  %-44s p50 %6.2f ms  p99 %6.2f ms  cpu %5.2f ms/run  (p50 %.2fx plain, %.2fx cold, %.2fx bwrap, %.2fx unshare)\n",
                r.name, r.p50, r.p99, r.cpu, r.p50 / rows[0].p50, r.p50 / rows[1].p50, r.p50 / rows[3].p50, r.p50 / rows[4].p50);
  if (quick) {
    double l[3] = {};
    if (getloadavg(l, 3) == 3) std::printf("load average after: %.2f %.2f %.2f\n", l[0], l[1], l[2]);
    std::string rm = "rm -rf " + ws;
    return std::system(rm.c_str()) == 0 ? 0 : 1;
  }

  const std::vector<std::pair<const char*, std::function<bool()>>> kinds = {{"cold sandbox::run", isolated},
                                                                            {"warm Template::run", warm}};
  for (const auto& [label, once] : kinds) {
    std::printf("\nconcurrent %s /bin/true:\n", label);
    for (int threads : {1, 2, 16}) {
      std::atomic<int> done{0};
      auto s = Clock::now();
      std::vector<std::thread> pool;
      int each = std::max(1, runs / 2);
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
          for (int i = 0; i < each; ++i)
            if (once()) done.fetch_add(1);
        });
      for (auto& t : pool) t.join();
      double sec = ms_since(s) / 1000;
      std::printf("  %2d at once: %6.0f runs/s (%d runs)\n", threads, done.load() / sec, done.load());
    }
  }

  if (heap_mb > 0) {
    // The server holds an index: clone copies the page tables of all it maps.
    std::vector<char> heap(size_t(heap_mb) << 20);
    for (size_t i = 0; i < heap.size(); i += 4096) heap[i] = char(i);
    auto r = measure("sandbox::run with a bigger parent", runs / 2, isolated);
    std::printf("\nwith %d MB of touched heap in the parent: p50 %.2f ms  p99 %.2f ms\n", heap_mb, r.p50, r.p99);
    auto w = measure("Template::run with a bigger parent", runs / 2, warm);
    std::printf("the same, warm: p50 %.2f ms  p99 %.2f ms\n", w.p50, w.p99);
  }
  std::string rm = "rm -rf " + ws;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}
