#include "exec/shared_queue.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "exec/redis_queue.h"

namespace exec {

namespace {

using namespace std::chrono_literals;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

constexpr std::string_view kRequestTag = "x1q", kResultTag = "x1r";

class Writer {
 public:
  explicit Writer(std::string_view tag) : out(tag) {}
  Writer& text(std::string_view v) {
    out += std::to_string(v.size());
    out += ':';
    out += v;
    out += ',';
    return *this;
  }
  template <class T>
  Writer& number(T v) {
    char buf[40];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return text(std::string_view(buf, size_t(end - buf)));
  }
  template <class T>
  Writer& maybe(const std::optional<T>& v) {
    return v ? number(*v) : text("");
  }
  std::string out;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok = true;
  std::string_view text() {
    size_t n = 0;
    auto [end, ec] = std::from_chars(in_.data(), in_.data() + in_.size(), n);
    size_t digits = size_t(end - in_.data());
    if (!ok || ec != std::errc() || digits >= in_.size() || in_[digits] != ':' || in_.size() - digits - 1 < n + 1 || in_[digits + 1 + n] != ',')
      return fail();
    std::string_view v = in_.substr(digits + 1, n);
    in_.remove_prefix(digits + 2 + n);
    return v;
  }
  template <class T>
  T number() {
    std::string_view t = text();
    T v{};
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size()) fail();
    return v;
  }
  template <class T>
  std::optional<T> maybe() {
    Reader peek = *this;
    if (peek.text().empty() && peek.ok) {
      *this = peek;
      return std::nullopt;
    }
    return number<T>();
  }
  bool done() const { return ok && in_.empty(); }

 private:
  std::string_view fail() {
    ok = false;
    in_ = {};
    return {};
  }
  std::string_view in_;
};

query::Status version(std::string_view payload, std::string_view tag) {
  if (payload.substr(0, tag.size()) == tag) return {};
  return Error{"a payload of version '" + std::string(payload.substr(0, 3)) + "', this server reads '" + std::string(tag) +
               "' (servers of different versions share the queue)"};
}

}  // namespace

std::string encode_request(const Request& r, int64_t created_ms) {
  Writer w(kRequestTag);
  w.text(r.id).text(r.client).text(r.language ? std::string_view(r.language->name) : "").text(r.source).text(r.command).text(r.stdin_data);
  w.number(r.args.size());
  for (const auto& a : r.args) w.text(a);
  w.number(r.files.size());
  for (const auto& [path, content] : r.files) w.text(path).text(content);
  w.maybe(r.cpu_ms).maybe(r.wall_ms).maybe(r.memory_bytes).number(int(r.strict)).number(created_ms);
  return std::move(w.out);
}

Result<std::pair<Request, int64_t>> decode_request(std::string_view payload) {
  if (auto v = version(payload, kRequestTag); !v) return Error{v.error()};
  Reader in(payload.substr(kRequestTag.size()));
  Request r;
  r.id = in.text(), r.client = in.text();
  std::string_view language = in.text();
  r.source = in.text(), r.command = in.text(), r.stdin_data = in.text();
  for (size_t n = in.number<size_t>(); in.ok && n > 0; --n) r.args.emplace_back(in.text());
  for (size_t n = in.number<size_t>(); in.ok && n > 0; --n) {
    std::string path(in.text());
    r.files.emplace_back(std::move(path), in.text());
  }
  r.cpu_ms = in.maybe<uint64_t>(), r.wall_ms = in.maybe<uint64_t>(), r.memory_bytes = in.maybe<uint64_t>();
  r.strict = in.number<int>() != 0;
  int64_t created = in.number<int64_t>();
  if (!in.done()) return Error{"a job's payload that does not parse"};
  if (!language.empty() && !(r.language = find_language(language))) return Error{"language '" + std::string(language) + "' is not known to this server"};
  return std::pair{std::move(r), created};
}

std::string encode_result(const JobResult& r) {
  Writer w(kResultTag);
  w.text(r.id).number(int(r.status)).text(r.language).text(r.out).text(r.err).text(r.compile_output).maybe(r.exit_code).maybe(r.signal);
  w.number(r.cpu_ms).number(r.wall_ms).number(r.memory_bytes).text(r.message).number(r.created_ms).number(r.finished_ms);
  return std::move(w.out);
}

Result<JobResult> decode_result(std::string_view payload) {
  if (auto v = version(payload, kResultTag); !v) return Error{v.error()};
  Reader in(payload.substr(kResultTag.size()));
  JobResult r;
  r.id = in.text();
  int status = in.number<int>();
  r.language = in.text(), r.out = in.text(), r.err = in.text(), r.compile_output = in.text();
  r.exit_code = in.maybe<int>(), r.signal = in.maybe<int>();
  r.cpu_ms = in.number<double>(), r.wall_ms = in.number<double>(), r.memory_bytes = in.number<uint64_t>();
  r.message = in.text();
  r.created_ms = in.number<int64_t>(), r.finished_ms = in.number<int64_t>();
  if (!in.done() || status < 0 || status >= kStatuses) return Error{"a result's payload that does not parse"};
  r.status = Status(status);
  return r;
}

struct SharedQueue::Impl {
  Settings s;
  LocalWorkers local;
  std::unique_ptr<RedisQueue> queue;
  std::string where;

  std::mutex mu;
  std::condition_variable cv;  // stopping, or a slot freed
  bool stopping = false, freed = false;
  std::unordered_map<std::string, Hooks> waiters;                // submitted here with hooks, until answered
  std::unordered_map<std::string, RedisQueue::Claimed> held;     // claimed here, result not yet stored
  std::vector<std::pair<RedisQueue::Claimed, JobResult>> unsent;  // results Redis could not take yet
  std::string trouble;                                            // the last error said on stderr
  std::thread claimer, keeper;
  std::mt19937_64 random{std::random_device{}()};

  // One line on stderr when Redis goes away (or the error changes) and one when it is back.
  void say(const query::Status& s) {
    std::lock_guard lock(mu);
    std::string now = s ? std::string() : s.error();
    if (now == trouble) return;
    if (now.empty()) std::fprintf(stderr, "indexer: exec: the shared queue (%s) answers again\n", where.c_str());
    else std::fprintf(stderr, "indexer: exec: the shared queue (%s): %s\n", where.c_str(), now.c_str());
    trouble = std::move(now);
  }
  bool stopped() {
    std::lock_guard lock(mu);
    return stopping;
  }
  std::string unreachable(const std::string& why) { return "the shared queue (" + where + ") cannot be reached: " + why; }

  // The waiter of `id` here, if any, gets `r`: once, whoever calls first.
  void deliver(const std::string& id, const JobResult& r) {
    Hooks h;
    {
      std::lock_guard lock(mu);
      auto it = waiters.find(id);
      if (it == waiters.end()) return;
      h = std::move(it->second);
      waiters.erase(it);
    }
    if (h.done) h.done(r);
  }

  // Stores the result of a job claimed here; a waiter here gets it when it is the one kept (else
  // the keeper finds the kept one).
  void publish(const RedisQueue::Claimed& c, const JobResult& r) {
    auto kept = queue->finish(c, encode_result(r));
    say(kept ? query::Status{} : query::Status{Error{kept.error()}});
    {
      std::lock_guard lock(mu);
      held.erase(c.id);
      if (!kept) unsent.emplace_back(c, r);
      freed = true;
    }
    cv.notify_all();
    if (kept && *kept) deliver(r.id, r);
  }

  // A claimed job ended here. One the stop killed (or never ran) is left to its lease: another
  // server runs it.
  void ended(const RedisQueue::Claimed& c, const JobResult& r) {
    if (stopped() && (r.status == Status::Cancelled || r.status == Status::InternalError)) {
      std::lock_guard lock(mu);
      held.erase(c.id);
      return;
    }
    publish(c, r);
  }

  void take(RedisQueue::Claimed c) {
    JobResult r;
    r.id = c.id;
    r.created_ms = r.finished_ms = now_ms();
    auto decoded = decode_request(c.payload);
    if (!decoded) {
      r.status = Status::InternalError;
      r.message = "the job cannot be read: " + decoded.error();
      return publish(c, r);
    }
    auto& [request, created] = *decoded;
    r.created_ms = created;
    r.language = request.language ? request.language->name : "";
    auto cancelled = queue->cancelled(c.id);
    if (cancelled && *cancelled) {
      r.status = Status::Cancelled;
      r.message = "cancelled while queued";
      return publish(c, r);
    }
    Hooks hooks;
    {
      std::lock_guard lock(mu);
      if (!held.emplace(c.id, c).second) return;  // held here already (claimed again): it runs once here
      if (auto it = waiters.find(c.id); it != waiters.end()) hooks.output = it->second.output;  // streamed when it runs here
    }
    hooks.done = [this, c](const JobResult& result) { ended(c, result); };
    if (!local.run(std::move(request), std::move(hooks), created)) {
      std::lock_guard lock(mu);
      held.erase(c.id);  // stopping: left to its lease
    }
  }

  void claim_loop() {
    while (!stopped()) {
      size_t n = local.free_slots();
      if (n == 0) {
        std::unique_lock lock(mu);
        cv.wait_for(lock, 200ms, [&] { return stopping || freed; });
        freed = false;
        continue;
      }
      auto got = queue->claim(n, 500ms);
      if (!got) {
        say(Error{got.error()});
        std::unique_lock lock(mu);
        cv.wait_for(lock, 500ms, [&] { return stopping; });
        continue;
      }
      say({});
      for (auto& c : *got) take(std::move(c));
    }
  }

  void keep_loop() {
    auto renewed = std::chrono::steady_clock::now(), polled = renewed;
    const auto renew_every = std::max(std::chrono::milliseconds(s.lease.count() / 3), std::chrono::milliseconds(1));
    for (;;) {
      std::vector<std::pair<RedisQueue::Claimed, JobResult>> retry;
      std::vector<std::string> waiting, holding;
      std::vector<RedisQueue::Claimed> claims;
      {
        std::unique_lock lock(mu);
        // Every 10 ms while a client here waits for a result (a job run elsewhere is answered
        // within that), else every 50 ms for the cancels and leases.
        if (cv.wait_for(lock, waiters.empty() ? 50ms : 10ms, [&] { return stopping; })) return;
        retry.swap(unsent);
        for (const auto& [id, hooks] : waiters) waiting.push_back(id);
        for (const auto& [id, c] : held) holding.push_back(id), claims.push_back(c);
      }
      for (auto& [c, r] : retry) {
        {
          std::lock_guard lock(mu);
          held.emplace(c.id, c);
        }
        publish(c, r);  // back in `unsent` when Redis is still away
      }
      if (auto got = queue->results(waiting)) {
        for (size_t i = 0; i < waiting.size(); ++i) {
          if (!(*got)[i]) continue;
          auto decoded = decode_result(*(*got)[i]);
          JobResult r;
          if (decoded) r = std::move(*decoded);
          else r.id = waiting[i], r.status = Status::InternalError, r.message = "the result cannot be read: " + decoded.error();
          deliver(waiting[i], r);
        }
      }
      auto now = std::chrono::steady_clock::now();
      if (now - polled >= 100ms) {
        polled = now;
        if (auto asked = queue->cancelled(holding))
          for (size_t i = 0; i < holding.size(); ++i)
            if ((*asked)[i]) local.cancel(holding[i]);
      }
      if (now - renewed >= renew_every) {
        renewed = now;
        for (const auto& c : claims) (void)queue->renew(c);  // lost to another worker: the first result is kept all the same
      }
    }
  }
};

SharedQueue::SharedQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SharedQueue::~SharedQueue() { stop(); }

Result<std::unique_ptr<SharedQueue>> SharedQueue::open(const Settings& settings, LocalWorkers local) {
  auto address = parse_redis_url(settings.shared_queue);
  if (!address) return Error{address.error()};
  auto impl = std::make_unique<Impl>();
  impl->s = settings;
  impl->local = std::move(local);
  impl->where = "Redis at " + address->host + ":" + std::to_string(address->port) + "/" + std::to_string(address->db);
  RedisQueue::Options o;
  o.address = *address;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  // host:pid, unique in the group while the process lives; a second service in one process (the
  // bench) adds its number.
  static std::atomic<unsigned> opened{0};
  unsigned nth = opened++;
  o.consumer = std::string(host) + ":" + std::to_string(::getpid()) + (nth ? "." + std::to_string(nth) : "");
  o.lease = settings.lease;
  o.retention = settings.retention;
  o.max_queued = settings.queue;
  auto queue = RedisQueue::open(std::move(o));
  if (!queue) return Error{queue.error()};
  impl->queue = std::move(*queue);
  Impl& m = *impl;
  m.claimer = std::thread([&m] { m.claim_loop(); });
  m.keeper = std::thread([&m] { m.keep_loop(); });
  return std::unique_ptr<SharedQueue>(new SharedQueue(std::move(impl)));
}

void SharedQueue::stop() {
  Impl& m = *impl_;
  std::unordered_map<std::string, Hooks> waiters;
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
    waiters.swap(m.waiters);
  }
  m.cv.notify_all();
  if (m.claimer.joinable()) m.claimer.join();
  if (m.keeper.joinable()) m.keeper.join();
  for (auto& [id, hooks] : waiters) {
    JobResult r;
    r.id = id;
    r.status = Status::InternalError;
    r.message = "this server stopped before the job's result arrived; it may still finish on another (GET /result/" + id + " there)";
    if (hooks.done) hooks.done(r);
  }
}

Service::Submitted SharedQueue::submit(Request request, Hooks hooks) {
  Impl& m = *impl_;
  if (request.id.empty()) {
    std::lock_guard lock(m.mu);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)m.random(), (unsigned long long)m.random());
    request.id = buf;
  }
  using R = Service::Refused;
  if (m.stopped()) return {R::Full, "the server is stopping", request.id};
  auto queued = m.queue->submit(request.id, encode_request(request, now_ms()));
  m.say(queued ? query::Status{} : query::Status{Error{queued.error()}});
  if (!queued) return {R::Unavailable, m.unreachable(queued.error()), request.id};
  if (*queued == RedisQueue::Submitted::Duplicate) return {R::Invalid, "duplicate id '" + request.id + "'", request.id};
  if (*queued == RedisQueue::Submitted::Full)
    return {R::Full, "the shared queue is full (" + std::to_string(m.s.queue) + " jobs queued or running)", request.id};
  // After the submission: a duplicate must not replace the first one's waiter. A job that ends
  // before this line is found by the keeper all the same.
  if (hooks.done || hooks.output) {
    std::lock_guard lock(m.mu);
    if (!m.stopping) m.waiters.emplace(request.id, std::move(hooks));
  }
  return {R::No, {}, request.id};
}

Service::Lookup SharedQueue::lookup(const std::string& id) {
  Impl& m = *impl_;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto kept = m.queue->result(id);
    if (!kept) return {std::nullopt, m.unreachable(kept.error())};
    if (*kept) {
      auto r = decode_result(**kept);
      if (!r) return {std::nullopt, "the result of '" + id + "' cannot be read: " + r.error()};
      return {std::move(*r), {}};
    }
    auto state = m.queue->state(id);
    if (!state) return {std::nullopt, m.unreachable(state.error())};
    if (!*state) return {};
    if (**state == "done") continue;  // finished between the two reads: read the result again
    JobResult r;
    r.id = id;
    r.status = **state == "queued" ? Status::Queued : Status::Running;
    return {std::move(r), {}};
  }
  return {};
}

bool SharedQueue::cancel(const std::string& id) {
  Impl& m = *impl_;
  auto state = m.queue->state(id);
  if (!state || !*state || **state == "done") return false;
  if (!m.queue->cancel(id)) return false;
  bool here = false;
  {
    std::lock_guard lock(m.mu);
    here = m.held.count(id) > 0;
  }
  if (here) m.local.cancel(id);  // else the server that holds it sees the key within 100 ms, or whoever claims it
  return true;
}

std::string SharedQueue::where() const { return impl_->where; }

}  // namespace exec
