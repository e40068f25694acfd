// The execution service (exec/exec.h) beside the same programs run plainly, in one run:
// `python3 -c pass` and a compiled C hello world by posix_spawn, by sandbox::run, and submitted to
// the service (the cached C compile path: the same source each time, compiled once); then
// submit-to-result p50/p99 and executions per second with 1 and 16 concurrent clients.
// The service's store is SQLite on disk (a temporary root), as `indexer serve` keeps it. Last,
// executions per second through the queue shared in Redis (`--exec-queue`, a redis-server started
// here on a loopback port) with one and two services, beside the embedded queue.
// Usage: indexer_exec_bench [--runs N]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/stats.h"
#include "exec/exec.h"
#include "sandbox/sandbox.h"

extern char** environ;

namespace {

using bench::Clock;
using bench::ms_since;
using bench::percentile;
namespace fs = std::filesystem;

bool spawn_wait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;  // output to /dev/null, as the sandbox's is read and dropped
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

std::vector<double> times(int runs, const std::function<bool()>& once) {
  std::vector<double> t;
  for (int i = 0; i < 3; ++i) once();  // the page cache, the probe, the compile cache
  for (int i = 0; i < runs; ++i) {
    auto s = Clock::now();
    if (!once()) {
      std::fprintf(stderr, "a run failed\n");
      std::exit(1);
    }
    t.push_back(ms_since(s));
  }
  return t;
}

// What the service adds around sandbox::run, by job: submit-to-result less the run's own wall time
// (the sandbox's clone-to-reap, which Outcome reports): a figure the load on the sandbox does not sway.
std::vector<double> g_service_share;
std::mutex g_share_mu;  // the 16-client loads push from their threads

// One job, submitted and waited for: the latency a client sees, less the network.
bool submit_wait(exec::Service& svc, exec::Request r) {
  auto t0 = Clock::now();
  double run_ms = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false, ok = false;
  exec::Hooks hooks;
  hooks.done = [&](const exec::JobResult& result) {
    std::lock_guard lock(mu);
    done = true, ok = result.status == exec::Status::Completed;
    run_ms = result.wall_ms;
    if (!ok) std::fprintf(stderr, "job: %s %s %s\n", std::string(exec::status_name(result.status)).c_str(), result.message.c_str(), result.compile_output.c_str());
    cv.notify_all();
  };
  if (svc.submit(std::move(r), std::move(hooks)).refused != exec::Service::Refused::No) return false;
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  std::lock_guard share_lock(g_share_mu);
  g_service_share.push_back(ms_since(t0) - run_ms);
  return ok;
}

// `clients` submitting cached C hellos, spread over `services`: the submit-to-result latencies,
// and the seconds it took.
std::vector<double> load(const std::vector<exec::Service*>& services, int clients, int each, const exec::Language* c, const std::string& c_src,
                         double& seconds) {
  std::vector<std::vector<double>> lat(clients);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int k = 0; k < clients; ++k)
    threads.emplace_back([&, k] {
      for (int i = 0; i < each; ++i) {
        exec::Request r;
        r.language = c, r.source = c_src, r.client = "client" + std::to_string(k);
        auto s = Clock::now();
        if (!submit_wait(*services[size_t(k) % services.size()], std::move(r))) std::exit(1);
        lat[k].push_back(ms_since(s));
      }
    });
  for (auto& t : threads) t.join();
  seconds = ms_since(t0) / 1000;
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  return all;
}

// The queue's own cost by job (one client: submit-to-result less the run's wall time, so no
// waiting behind other jobs), then 16 clients' throughput and latency.
void throughput(const char* queue, const std::vector<exec::Service*>& services, const exec::Language* c, const std::string& c_src, int jobs) {
  double seconds = 0;
  g_service_share.clear();
  load(services, 1, std::max(10, jobs / 4), c, c_src, seconds);
  double own = percentile(g_service_share, 0.5);
  std::vector<double> all = load(services, 16, std::max(1, jobs / 16), c, c_src, seconds);
  std::printf("| %s | %zu x %u | %.2f | %zu | %.0f | %.2f | %.2f |\n", queue, services.size(), services[0]->settings().workers, own, all.size(),
              double(all.size()) / seconds, percentile(all, 0.5), percentile(all, 0.99));
}

// redis-server on a free loopback port, nothing persisted; 0 when it is not installed or not up.
pid_t start_redis(uint16_t& port) {
  if (::access("/usr/bin/redis-server", X_OK) != 0) return 0;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET, a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  port = ntohs(a.sin_port);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1), ::dup2(null, 2);
    std::string p = std::to_string(port);
    ::execl("/usr/bin/redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  for (int i = 0; i < 200; ++i) {  // up when it accepts
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    bool up = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    if (up) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return 0;
}

void row(const char* name, const std::vector<double>& t, double base) {
  double p50 = percentile(t, 0.5);
  std::printf("| %s | %.2f | %.2f | %s |\n", name, p50, percentile(t, 0.99), base > 0 ? ("+" + std::to_string(p50 - base).substr(0, 5) + " ms").c_str() : "");
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 100;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[++i]);

  char tmpl[] = "/tmp/indexer-exec-bench-XXXXXX";
  fs::path dir = ::mkdtemp(tmpl);
  const std::string c_src = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";
  {
    FILE* f = std::fopen((dir / "hello.c").c_str(), "w");
    std::fputs(c_src.c_str(), f);
    std::fclose(f);
  }
  if (!spawn_wait({"/usr/bin/gcc", "-O2", "-o", (dir / "hello").string(), (dir / "hello.c").string()})) return 1;
  fs::create_directories(dir / "root");

  exec::Settings settings;
  settings.root = dir / "root";
  settings.policy = *sandbox::preset("workspace");
  auto started = exec::Service::start(settings);
  if (!started) {
    std::fprintf(stderr, "%s\n", started.error().c_str());
    return 1;
  }
  exec::Service& svc = **started;
  const exec::Language* python = exec::find_language("python");
  const exec::Language* c = exec::find_language("c");

  sandbox::Policy policy = settings.policy;
  policy.limits.cpu_ms = 5000, policy.limits.wall_ms = 10000, policy.limits.memory_bytes = uint64_t(256) << 20;
  auto sandboxed = [&](std::vector<std::string> argv) {
    sandbox::Command cmd;
    cmd.argv = std::move(argv);
    cmd.workspace = dir.string();
    auto o = sandbox::run(policy, cmd);
    return o && o->kind == sandbox::Outcome::Kind::Exited && o->code == 0;
  };

  std::printf("exec bench: %d runs each, %u workers (the cores), store on disk (SQLite WAL)\n\n", runs, svc.settings().workers);
  // The three ways of each program take turns within one loop, so a load that comes and goes on
  // this shared machine falls on all three alike.
  auto interleaved = [&](const std::vector<std::function<bool()>>& ways) {
    std::vector<std::vector<double>> t(ways.size());
    for (int i = 0; i < 3; ++i)
      for (auto& w : ways) w();
    for (int i = 0; i < runs; ++i)
      for (size_t k = 0; k < ways.size(); ++k) {
        auto s = Clock::now();
        if (!ways[k]()) {
          std::fprintf(stderr, "a run failed\n");
          std::exit(1);
        }
        t[k].push_back(ms_since(s));
      }
    return t;
  };
  std::printf("| path | p50 ms | p99 ms | over plain |\n|---|---|---|---|\n");
  auto py = interleaved({[&] { return spawn_wait({"/usr/bin/python3", "-c", "pass"}); },
                         [&] { return sandboxed({"/usr/bin/python3", "-c", "pass"}); },
                         [&] {
                           exec::Request r;
                           r.language = python, r.source = "pass\n";
                           return submit_wait(svc, std::move(r));
                         }});
  double py_base = percentile(py[0], 0.5);
  row("`python3 -c pass`, posix_spawn", py[0], 0);
  row("`python3 -c pass`, sandbox::run", py[1], py_base);
  row("python `pass`, through the service", py[2], py_base);
  std::vector<double> python_share = g_service_share;
  g_service_share.clear();
  auto ch = interleaved({[&] { return spawn_wait({(dir / "hello").string()}); }, [&] { return sandboxed({(dir / "hello").string()}); },
                         [&] {
                           exec::Request r;
                           r.language = c, r.source = c_src;
                           return submit_wait(svc, std::move(r));
                         }});
  double c_base = percentile(ch[0], 0.5);
  row("C hello, posix_spawn", ch[0], 0);
  row("C hello, sandbox::run", ch[1], c_base);
  row("C hello, through the service (compile cached)", ch[2], c_base);
  std::printf("| the service's own share (service p50 - sandbox::run p50) | python %+.2f | C %+.2f | |\n", percentile(py[2], 0.5) - percentile(py[1], 0.5),
              percentile(ch[2], 0.5) - percentile(ch[1], 0.5));
  std::printf("| the service's own share by job (submit-to-result less the run's wall time), python | %.2f | %.2f | |\n", percentile(python_share, 0.5),
              percentile(python_share, 0.99));
  std::printf("| the same, C hello with the compile cached | %.2f | %.2f | |\n", percentile(g_service_share, 0.5), percentile(g_service_share, 0.99));
  row("C hello, through the service (compiled each time)", times(std::max(5, runs / 10), [&] {
        static int n = 0;
        exec::Request r;
        r.language = c, r.source = c_src + "// " + std::to_string(n++) + "\n";
        return submit_wait(svc, std::move(r));
      }), c_base);

  std::printf("\n| clients | jobs | executions/s | submit-to-result p50 ms | p99 ms |\n|---|---|---|---|---|\n");
  for (int clients : {1, 16}) {
    double seconds = 0;
    std::vector<double> all = load({&svc}, clients, std::max(1, runs * 2 / clients), c, c_src, seconds);
    std::printf("| %d | %zu | %.0f | %.2f | %.2f |\n", clients, all.size(), double(all.size()) / seconds, percentile(all, 0.5), percentile(all, 0.99));
  }

  // The shared queue: the same jobs through Redis, one service, then two (as two servers would).
  std::printf("\n| queue | services x workers | own cost by job p50 ms (1 client) | jobs (16 clients) | executions/s | "
              "submit-to-result p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n");
  throughput("embedded (SQLite)", {&svc}, c, c_src, runs * 2);
  started->reset();
  uint16_t port = 0;
  if (pid_t redis = start_redis(port)) {
    exec::Settings shared = settings;
    shared.shared_queue = "redis://127.0.0.1:" + std::to_string(port) + "/0";
    for (size_t n : {1, 2}) {
      std::vector<std::unique_ptr<exec::Service>> held;
      std::vector<exec::Service*> services;
      for (size_t i = 0; i < n; ++i) {
        auto s = exec::Service::start(shared);
        if (!s) {
          std::fprintf(stderr, "%s\n", s.error().c_str());
          return 1;
        }
        services.push_back(s->get());
        held.push_back(std::move(*s));
      }
      throughput("Redis (`--exec-queue`)", services, c, c_src, runs * 2);
    }
    ::kill(redis, SIGKILL);
    ::waitpid(redis, nullptr, 0);
  } else {
    std::printf("| Redis | /usr/bin/redis-server is not installed: not measured | | | | | |\n");
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
