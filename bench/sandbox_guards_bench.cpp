// What the sandbox's guards (sandbox/guards.h) cost per run: building the seccomp program and the
// Landlock ruleset in the parent, making and removing the cgroups, and installing both guards in a
// forked child beside a plain fork. Usage: indexer_sandbox_guards_bench [runs]
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "bench/stats.h"
#include "sandbox/guards.h"

namespace {

using namespace sandbox::detail;

struct Row {
  double p50, p99;
};

Row measure(int runs, const std::function<void()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t = bench::Clock::now();
    fn();
    ms.push_back(bench::ms_since(t));
  }
  return {bench::percentile(ms, 0.5), bench::percentile(ms, 0.99)};
}

void print(const char* what, Row r) { std::printf("%-58s p50 %8.3f ms   p99 %8.3f ms\n", what, r.p50, r.p99); }

void fork_wait(const std::function<void()>& child) {
  pid_t pid = ::fork();
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int st;
  ::waitpid(pid, &st, 0);
}

// Nanoseconds per call of `call` in a forked child after `setup` (a guard installed there only).
double ns_per_call(const std::function<void()>& setup, const std::function<void()>& call) {
  int p[2];
  if (::pipe(p) != 0) return 0;
  pid_t pid = ::fork();
  if (pid == 0) {
    setup();
    constexpr int kCalls = 300'000;
    auto t = bench::Clock::now();
    for (int i = 0; i < kCalls; ++i) call();
    double ns = bench::ms_since(t) * 1e6 / kCalls;
    (void)!::write(p[1], &ns, sizeof ns);
    ::_exit(0);
  }
  double ns = 0;
  (void)!::read(p[0], &ns, sizeof ns);
  ::waitpid(pid, nullptr, 0);
  ::close(p[0]);
  ::close(p[1]);
  return ns;
}

void print_ns(const char* what, double ns) { std::printf("%-58s %8.1f ns per call\n", what, ns); }

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 300;
  sandbox::Policy policy = sandbox::preset("workspace").value();
  // A typical run's rules: the system directories read-only, a workspace and a cache writable.
  std::vector<PathRule> rules{{"/usr", false}, {"/bin", false},  {"/lib", false},      {"/lib64", false},
                              {"/etc", false}, {"/opt", false},  {"/tmp", true},       {"/var/tmp", true}};
  TcpRules tcp;
  tcp.connect_ports = {3128};
  std::printf("sandbox guards, %d runs each (Landlock ABI %d)\n", runs, landlock_abi());

  print("seccomp_program (libseccomp, export to BPF)", measure(runs, [&] { (void)seccomp_program(policy); }));
  print("landlock_ruleset (8 paths, 1 port)", measure(runs, [&] { (void)landlock_ruleset(policy, rules, tcp); }));
  if (probe_cgroups().memory) {
    int n = 0;
    print("Cgroup::create + remove (memory and pids)", measure(std::max(1, runs / 10), [&] {
            auto cg = Cgroup::create(policy.limits, "bench-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
            if (cg) (void)cg->remove();
          }));
  }
  auto program = seccomp_program(policy);
  auto ruleset = landlock_ruleset(policy, rules, tcp);
  if (!program || !ruleset) {
    std::fprintf(stderr, "guards unavailable: %s\n", !program ? program.error().c_str() : ruleset.error().c_str());
    return 1;
  }
  print("fork, _exit, wait (baseline)", measure(runs, [&] { fork_wait([] {}); }));
  print("fork, install seccomp, _exit, wait", measure(runs, [&] { fork_wait([&] { install_seccomp(*program); }); }));
  {
    // The install alone, timed inside the child: the fork and the wait around it swing more than it.
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      int p[2];
      if (::pipe(p) != 0) break;
      fork_wait([&] {
        auto t = bench::Clock::now();
        install_seccomp(*program);
        double d = bench::ms_since(t);
        (void)!::write(p[1], &d, sizeof d);
      });
      double d = 0;
      if (::read(p[0], &d, sizeof d) == sizeof d) ms.push_back(d);
      ::close(p[0]);
      ::close(p[1]);
    }
    print("install seccomp alone (timed in the child)", {bench::percentile(ms, 0.5), bench::percentile(ms, 0.99)});
  }
  print("fork, Landlock restrict, _exit, wait", measure(runs, [&] { fork_wait([&] { landlock_restrict(ruleset->fd()); }); }));
  print("fork, both, _exit, wait", measure(runs, [&] {
          fork_wait([&] {
            landlock_restrict(ruleset->fd());
            install_seccomp(*program);
          });
        }));
  // What the filter adds to an allowed system call (read(2) of 0 bytes: the kernel's cheapest path),
  // and Landlock to a path lookup (stat(2) of a file six directories deep).
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  char c;
  struct stat st;
  auto empty_read = [&] { (void)!::read(fds[0], &c, 0); };
  auto deep_stat = [&] { (void)::stat("/usr/include/x86_64-linux-gnu/sys/stat.h", &st); };
  auto seccomp = [&] { install_seccomp(*program); };
  auto landlock = [&] { landlock_restrict(ruleset->fd()); };
  print_ns("read(fd, buf, 0) unfiltered", ns_per_call([] {}, empty_read));
  print_ns("read(fd, buf, 0) under the filter", ns_per_call(seccomp, empty_read));
  print_ns("stat(/usr/include/.../sys/stat.h) unrestricted", ns_per_call([] {}, deep_stat));
  print_ns("stat(/usr/include/.../sys/stat.h) under Landlock", ns_per_call(landlock, deep_stat));
  std::printf("seccomp program: %zu BPF instructions\n", program->filter.size());
  return 0;
}
