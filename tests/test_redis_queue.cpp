// The Redis-backed job queue against a real redis-server (Debian's), started here on a loopback
// port: submission once per id, the bound, claims, leases that run out when a worker is killed
// with SIGKILL, and exactly one result per id whoever finishes.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <algorithm>
#include <thread>

#include "exec/redis_queue.h"
#include "exec/shared_queue.h"
#include "helpers.h"
#include "sandbox/policy.h"

using namespace std::chrono_literals;

namespace {

uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// redis-server on a loopback port, no persistence; stopped with the object.
struct RedisServer {
  pid_t pid = -1;
  uint16_t port = 0;
  test::TempDir dir;
  RedisServer() {
    for (int attempt = 0; attempt < 5 && pid < 0; ++attempt) {
      port = free_port();
      pid_t child = fork();
      if (child == 0) {
        std::string p = std::to_string(port);
        int null = open("/dev/null", O_WRONLY);  // its banner and warnings (overcommit) are noise here
        dup2(null, 1), dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", dir.path().c_str(), "--loglevel", "warning", static_cast<char*>(nullptr));
        _exit(127);
      }
      // Ready when it answers; gone when the port was taken after all.
      for (int i = 0; i < 200; ++i) {
        exec::RedisQueue::Options o;
        o.address.port = port;
        o.consumer = "probe";
        o.prefix = "probe";
        if (exec::RedisQueue::open(o)) {
          pid = child;
          break;
        }
        if (waitpid(child, nullptr, WNOHANG) == child) break;
        std::this_thread::sleep_for(10ms);
      }
      if (pid < 0) kill(child, SIGKILL), waitpid(child, nullptr, 0);
    }
    REQUIRE(pid > 0);
  }
  ~RedisServer() {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  exec::RedisQueue::Options options(std::string consumer) const {
    exec::RedisQueue::Options o;
    o.address.port = port;
    o.consumer = std::move(consumer);
    return o;
  }
};

std::unique_ptr<exec::RedisQueue> open_queue(exec::RedisQueue::Options o) {
  auto q = exec::RedisQueue::open(std::move(o));
  REQUIRE(q.ok());
  return std::move(q.value());
}

// A worker's loop: claim, "run" (the result names the payload and the worker), finish; renews
// nothing (the jobs are short). Returns, with how many jobs it took over from a dead worker, when
// nothing is queued or running.
// `done_fd`, when set, gets a byte after each job finished.
int work(exec::RedisQueue& q, std::chrono::milliseconds per_job, int done_fd = -1) {
  int reclaimed = 0;
  for (;;) {
    auto claimed = q.claim(4, 100ms);
    if (!claimed) _exit(3);
    for (const auto& job : *claimed) {
      reclaimed += job.reclaimed;
      std::this_thread::sleep_for(per_job);
      if (!q.finish(job, "done " + job.payload + " by " + q.options().consumer)) _exit(4);
      if (done_fd >= 0 && write(done_fd, "x", 1) < 0) _exit(6);
    }
    auto left = q.length();
    if (!left) _exit(5);
    if (claimed->empty() && *left == 0) return reclaimed;
  }
}

}  // namespace

TEST_CASE("a Redis URL is read, and a wrong one is an error naming the part", "[exec][redis]") {
  auto a = exec::parse_redis_url("redis://:secret@cache.local:6390/3");
  REQUIRE(a.ok());
  CHECK(a->host == "cache.local");
  CHECK(a->port == 6390);
  CHECK(a->db == 3);
  CHECK(a->password == "secret");
  auto plain = exec::parse_redis_url("redis://127.0.0.1");
  REQUIRE(plain.ok());
  CHECK(plain->port == 6379);
  CHECK(plain->db == 0);
  CHECK(exec::parse_redis_url("redis://[::1]:7000/0")->host == "::1");
  CHECK(exec::parse_redis_url("http://x").error().find("redis://") != std::string::npos);
  CHECK(exec::parse_redis_url("redis://h:0").error().find("port") != std::string::npos);
  CHECK(exec::parse_redis_url("redis://h:99999").error().find("port") != std::string::npos);
  CHECK(exec::parse_redis_url("redis://h/16").error().find("database") != std::string::npos);
  CHECK(exec::parse_redis_url("redis://h/x").error().find("database") != std::string::npos);
  CHECK(exec::parse_redis_url("redis://:pw@/0").error().find("host") != std::string::npos);
}

TEST_CASE("no Redis there: open says where it looked", "[exec][redis]") {
  exec::RedisQueue::Options o;
  o.address.port = free_port();
  o.consumer = "w";
  auto q = exec::RedisQueue::open(o);
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().find("cannot reach Redis at 127.0.0.1:" + std::to_string(o.address.port)) != std::string::npos);
}

TEST_CASE("the Redis queue: an id once, the bound, a claim, one result, cancel", "[exec][redis]") {
  RedisServer redis;
  auto o = redis.options("w1");
  o.max_queued = 3;
  auto q = open_queue(o);
  using S = exec::RedisQueue::Submitted;
  CHECK(*q->submit("a", "pa") == S::Queued);
  CHECK(*q->submit("a", "other") == S::Duplicate);
  CHECK(*q->submit("b", "pb") == S::Queued);
  CHECK(*q->submit("c", "pc") == S::Queued);
  CHECK(*q->submit("d", "pd") == S::Full);
  CHECK(*q->length() == 3);
  CHECK(**q->state("a") == "queued");
  CHECK_FALSE(q->state("d")->has_value());  // refused: never taken

  auto claimed = q->claim(2, 0ms);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  CHECK((*claimed)[0].id == "a");
  CHECK((*claimed)[0].payload == "pa");
  CHECK_FALSE((*claimed)[0].reclaimed);
  CHECK(**q->state("a") == "running w1");
  CHECK(*q->renew((*claimed)[0]));

  CHECK(*q->finish((*claimed)[0], "result a"));
  CHECK_FALSE(*q->finish((*claimed)[0], "a second result"));  // the first is kept
  CHECK(**q->result("a") == "result a");
  CHECK(**q->state("a") == "done");
  CHECK(*q->submit("a", "again") == S::Duplicate);  // while its result is kept
  CHECK(*q->length() == 2);

  CHECK(q->cancel("c").ok());
  CHECK(*q->cancelled("c"));
  CHECK_FALSE(*q->cancelled("b"));
  auto rest = q->claim(5, 50ms);
  REQUIRE(rest->size() == 1);
  CHECK((*rest)[0].id == "c");
  CHECK(*q->finish((*claimed)[1], "result b"));
  CHECK(*q->finish((*rest)[0], "cancelled"));
  CHECK_FALSE(*q->cancelled("c"));  // the flag goes with the job
  CHECK(*q->length() == 0);
  auto none = q->claim(1, 100ms);  // waits, then nothing
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK_FALSE(q->result("never")->has_value());
}

TEST_CASE("a lease that runs out: another worker takes the job, the first cannot renew it, one result", "[exec][redis]") {
  RedisServer redis;
  auto o1 = redis.options("w1");
  o1.lease = 200ms;
  auto o2 = redis.options("w2");
  o2.lease = 200ms;
  auto w1 = open_queue(o1), w2 = open_queue(o2);
  REQUIRE(*w1->submit("slow", "p") == exec::RedisQueue::Submitted::Queued);
  auto first = w1->claim(1, 0ms);
  REQUIRE(first->size() == 1);
  CHECK(w2->claim(1, 0ms)->empty());  // held, lease running
  std::this_thread::sleep_for(300ms);
  auto second = w2->claim(1, 0ms);
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].reclaimed);
  CHECK((*second)[0].id == "slow");
  CHECK(**w2->state("slow") == "running w2");
  CHECK_FALSE(*w1->renew((*first)[0]));  // lost to w2
  CHECK(*w2->renew((*second)[0]));
  CHECK(*w2->finish((*second)[0], "by w2"));
  CHECK_FALSE(*w1->finish((*first)[0], "by w1"));  // the slow one finishes too late
  CHECK(**w1->result("slow") == "by w2");
}

TEST_CASE("two worker processes, 1,000 jobs, one killed with SIGKILL midway: every id answered once", "[exec][redis]") {
  RedisServer redis;
  const size_t jobs = 1000;
  {
    auto q = open_queue(redis.options("submitter"));
    for (size_t i = 0; i < jobs; ++i) REQUIRE(*q->submit("job" + std::to_string(i), std::to_string(i)) == exec::RedisQueue::Submitted::Queued);
  }
  int done[2];
  REQUIRE(pipe(done) == 0);
  auto spawn = [&](std::string name, std::chrono::milliseconds per_job, int done_fd) {
    pid_t pid = fork();
    if (pid == 0) {
      auto o = redis.options(name);
      o.lease = 500ms;
      auto q = exec::RedisQueue::open(o);
      if (!q) _exit(2);
      _exit(std::min(work(**q, per_job, done_fd), 100));  // the status says how many it took over
    }
    return pid;
  };
  // Slow, so that it is killed holding claimed jobs (up to four, 20 ms each).
  pid_t doomed = spawn("doomed", 20ms, done[1]);
  pid_t survivor = spawn("survivor", 0ms, -1);
  close(done[1]);
  auto watch = open_queue(redis.options("watch"));
  // Killed once it has finished two jobs: it dies holding up to four claimed ones.
  char two[2];
  REQUIRE(read(done[0], two, 1) == 1);
  REQUIRE(read(done[0], two, 1) == 1);
  kill(doomed, SIGKILL);
  close(done[0]);
  int status = 0;
  waitpid(doomed, &status, 0);
  CHECK(WIFSIGNALED(status));
  REQUIRE(waitpid(survivor, &status, 0) == survivor);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) > 0);  // it took over what the dead one held, once its lease ran out
  CHECK(WEXITSTATUS(status) <= 4);

  size_t by_doomed = 0, by_survivor = 0;
  for (size_t i = 0; i < jobs; ++i) {
    auto r = watch->result("job" + std::to_string(i));
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    CHECK(r->value().rfind("done " + std::to_string(i) + " by ", 0) == 0);
    (r->value().ends_with("by doomed") ? by_doomed : by_survivor)++;
  }
  CHECK(by_doomed > 0);
  CHECK(by_survivor > 0);
  CHECK(*watch->length() == 0);
}

TEST_CASE("the shared queue's payloads: a request and a result read back whole; another version refused", "[exec][redis]") {
  exec::Request q;
  q.id = "job-1";
  q.client = "10.0.0.7";
  q.language = exec::find_language("python");
  REQUIRE(q.language);
  q.source = "print('a,b:c')\n";  // the separators inside a field
  q.stdin_data = std::string("nul\0inside", 11);
  q.args = {"", "two words"};
  q.files = {{"lib/x.py", "x = 1"}, {"empty", ""}};
  q.wall_ms = 1500;
  q.strict = true;
  auto back = exec::decode_request(exec::encode_request(q, 1234567));
  REQUIRE(back);
  const auto& [r, created] = *back;
  CHECK(created == 1234567);
  CHECK(r.id == "job-1");
  CHECK(r.client == "10.0.0.7");
  CHECK(r.language == q.language);
  CHECK(r.source == q.source);
  CHECK(r.stdin_data == q.stdin_data);
  CHECK(r.args == q.args);
  CHECK(r.files == q.files);
  CHECK(!r.cpu_ms);
  CHECK(r.wall_ms == 1500u);
  CHECK(r.strict);

  exec::Request command;  // no language: a command line
  command.id = "c";
  command.command = "echo hi";
  auto c = exec::decode_request(exec::encode_request(command, 0));
  REQUIRE(c);
  CHECK(!c->first.language);
  CHECK(c->first.command == "echo hi");

  exec::JobResult j;
  j.id = "job-1";
  j.status = exec::Status::RuntimeError;
  j.language = "c";
  j.out = "out";
  j.err = "err";
  j.signal = 11;
  j.cpu_ms = 1.25, j.wall_ms = 3.5;
  j.memory_bytes = 1 << 20;
  j.message = "killed by signal 11";
  j.created_ms = 10, j.finished_ms = 20;
  auto jr = exec::decode_result(exec::encode_result(j));
  REQUIRE(jr);
  CHECK(jr->status == exec::Status::RuntimeError);
  CHECK(jr->out == "out");
  CHECK(jr->err == "err");
  CHECK(!jr->exit_code);
  CHECK(jr->signal == 11);
  CHECK(jr->cpu_ms == 1.25);
  CHECK(jr->wall_ms == 3.5);
  CHECK(jr->memory_bytes == (1u << 20));
  CHECK(jr->message == j.message);
  CHECK(jr->finished_ms == 20);

  std::string payload = exec::encode_result(j);
  auto other = exec::decode_result("x9r" + payload.substr(3));
  REQUIRE(!other);
  CHECK(other.error().find("'x9r'") != std::string::npos);
  CHECK(!exec::decode_result(payload.substr(0, payload.size() - 1)));  // cut short
  CHECK(!exec::decode_request(exec::encode_request(q, 1) + "3:abc,"));  // a field too many
}

namespace {

// A service of the shared queue on `redis`: one worker, a lease of 1 s.
std::unique_ptr<exec::Service> shared_service(const RedisServer& redis) {
  exec::Settings s;
  s.workers = 1;
  s.policy = *sandbox::preset("workspace");
  s.shared_queue = "redis://127.0.0.1:" + std::to_string(redis.port) + "/0";
  s.lease = std::chrono::milliseconds(1'000);
  auto svc = exec::Service::start(std::move(s));
  REQUIRE(svc);
  return std::move(*svc);
}

exec::Request shell(std::string id, std::string command) {
  exec::Request r;
  r.id = std::move(id), r.command = std::move(command);
  return r;
}

// Polls `svc` until the job has finished.
exec::JobResult finished_result(exec::Service& svc, const std::string& id) {
  for (int i = 0; i < 3000; ++i) {
    auto found = svc.lookup(id);
    REQUIRE(found.error.empty());
    if (found.result && exec::finished(found.result->status)) return *found.result;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("no result for " << id);
  return {};
}

}  // namespace

TEST_CASE("the shared queue: a cancel while the job is still in the stream ends it when a worker claims it", "[exec][redis]") {
  RedisServer redis;
  auto svc = shared_service(redis);
  using R = exec::Service::Refused;
  REQUIRE(svc->submit(shell("busy", "sleep 30")).refused == R::No);
  for (int i = 0; i < 500 && svc->result("busy")->status != exec::Status::Running; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(svc->submit(shell("waits", "echo never")).refused == R::No);
  CHECK(svc->result("waits")->status == exec::Status::Queued);  // the only worker is busy: still in the stream
  CHECK(svc->cancel("waits"));
  CHECK(svc->cancel("busy"));
  CHECK(finished_result(*svc, "busy").status == exec::Status::Cancelled);
  exec::JobResult r = finished_result(*svc, "waits");
  CHECK(r.status == exec::Status::Cancelled);
  CHECK(r.message == "cancelled while queued");
  CHECK_FALSE(svc->cancel("waits"));  // finished
  CHECK_FALSE(svc->cancel("never-submitted"));
  CHECK(svc->submit(shell("waits", "true")).refused == R::Invalid);  // an id is taken once
}

TEST_CASE("the shared queue: a server stopped while it runs a job leaves it to its lease; another runs it", "[exec][redis]") {
  RedisServer redis;
  exec::JobResult told;
  {
    auto first = shared_service(redis);
    exec::Hooks hooks;
    hooks.done = [&told](const exec::JobResult& r) { told = r; };
    REQUIRE(first->submit(shell("handed", "sleep 1; echo ran"), hooks).refused == exec::Service::Refused::No);
    for (int i = 0; i < 500 && first->result("handed")->status != exec::Status::Running; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(first->result("handed")->status == exec::Status::Running);
  }  // stopped: the run is killed, and nothing is stored for it
  CHECK(told.status == exec::Status::InternalError);  // its waiter here is told, and where to look
  CHECK(told.message.find("may still finish on another") != std::string::npos);
  auto second = shared_service(redis);
  exec::JobResult r = finished_result(*second, "handed");
  CHECK(r.status == exec::Status::Completed);
  CHECK(r.out == "ran\n");
}

TEST_CASE("the shared queue: a job written to the stream is judged again by the server that claims it", "[exec][redis]") {
  RedisServer redis;
  // Written as anyone who can write to Redis could: a file outside the workspace, and a command
  // the claiming server's policy refuses.
  test::TempDir outside;
  auto writer = open_queue(redis.options("writer"));
  exec::Request escape = shell("escape", "true");
  escape.files.push_back({"../../../../../../../.." + outside.path().string() + "/planted", "x"});
  REQUIRE(writer->submit("escape", exec::encode_request(escape, 1)).ok());
  REQUIRE(writer->submit("sudo", exec::encode_request(shell("sudo", "sudo id"), 1)).ok());
  REQUIRE(writer->submit("fine", exec::encode_request(shell("fine", "echo fine"), 1)).ok());
  auto svc = shared_service(redis);
  for (const char* id : {"escape", "sudo"}) {
    exec::JobResult r = finished_result(*svc, id);
    CHECK(r.status == exec::Status::InternalError);
    CHECK(r.message.starts_with("refused by the server that claimed it: "));
  }
  CHECK_FALSE(std::filesystem::exists(outside.path() / "planted"));
  exec::JobResult ok = finished_result(*svc, "fine");
  CHECK(ok.status == exec::Status::Completed);
  CHECK(ok.out == "fine\n");
}
