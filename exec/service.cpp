// The queue, the workers and a job's steps (workspace, compile or cache, run, result).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <list>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "exec/exec.h"
#include "exec/shared_queue.h"
#include "exec/store.h"
#include "exec/templates.h"
#include "sandbox/preflight.h"
#include "sandbox/sandbox.h"
#include "sandbox/violations.h"

namespace exec {
namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a compile may use: more than a run (rustc and g++ take hundreds of MB), bounded all the same.
sandbox::Limits compile_limits(sandbox::Limits l) {
  l.cpu_ms = 30'000, l.wall_ms = 60'000, l.memory_bytes = uint64_t(1) << 30, l.processes = 256;
  l.output_bytes = 64 << 10;
  return l;
}

bool write_file(const fs::path& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = true;
  for (size_t off = 0; ok && off < data.size();) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) off += size_t(n);
  }
  return ::close(fd) == 0 && ok;
}

// A relative path of plain components: no `..`, no absolute path, nothing hidden above the workspace.
bool plain_relative(std::string_view p) {
  if (p.empty() || p.size() > 255 || p.front() == '/' || p.find('\0') != p.npos) return false;
  for (size_t start = 0; start <= p.size();) {
    size_t slash = std::min(p.find('/', start), p.size());
    std::string_view part = p.substr(start, slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = slash + 1;
  }
  return true;
}

// The bytes of `data` that can be passed on now, and how many of the tail to hold back: a UTF-8
// sequence cut at the end of a read is kept until its continuation bytes arrive.
size_t whole_prefix(std::string_view data) {
  size_t n = data.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(data[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back for its lead
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return len > back ? n - back : n;
  }
  return n;
}

// Passes output on in order, at most `limit` bytes a stream, never ending inside a sequence.
struct Streamer {
  const std::function<void(int, std::string_view)>& hook;
  uint64_t limit;
  std::string carry[2];
  uint64_t sent[2] = {0, 0};

  void take(int stream, std::string_view chunk) {
    if (!hook) return;
    int i = stream == 2;
    if (sent[i] >= limit) return;
    std::string joined;
    std::string_view data = chunk;
    if (!carry[i].empty()) {
      joined = std::move(carry[i]) + std::string(chunk);
      carry[i].clear();
      data = joined;
    }
    if (data.size() > limit - sent[i]) data = data.substr(0, limit - sent[i]);
    size_t whole = whole_prefix(data);
    if (whole < data.size() && sent[i] + data.size() < limit) carry[i] = std::string(data.substr(whole));
    data = data.substr(0, whole);
    if (data.empty()) return;
    sent[i] += data.size();
    hook(stream, data);
  }
  void flush() {
    for (int i = 0; i < 2; ++i)
      if (hook && !carry[i].empty()) hook(i + 1, carry[i]);
  }
};

// Compiled programs by the hash of what made them, in a private directory, least recently used
// removed first past the bound.
class CompileCache {
 public:
  void open(fs::path dir, uint64_t bound) {
    dir_ = std::move(dir), bound_ = bound;
    std::error_code ec;
    fs::create_directories(dir_, ec);
  }
  // Copies the cached program to `to`; false when it is not there.
  bool fetch(const std::string& key, const fs::path& to) {
    {
      std::lock_guard lock(mu_);
      auto it = index_.find(key);
      if (it == index_.end()) return false;
      order_.splice(order_.begin(), order_, it->second);
    }
    std::error_code ec;
    fs::copy_file(dir_ / key, to, ec);
    if (!ec) fs::permissions(to, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec, ec);
    return !ec;
  }
  void keep(const std::string& key, const fs::path& from) {
    std::error_code ec;
    uint64_t size = fs::file_size(from, ec);
    if (ec || size > bound_) return;
    fs::path tmp = dir_ / (key + ".tmp" + std::to_string(counter_++));
    fs::copy_file(from, tmp, ec);
    if (!ec) fs::rename(tmp, dir_ / key, ec);
    if (ec) return (void)fs::remove(tmp, ec);
    std::lock_guard lock(mu_);
    if (index_.count(key)) return;
    order_.push_front({key, size});
    index_[key] = order_.begin();
    bytes_ += size;
    while (bytes_ > bound_ && !order_.empty()) {
      auto& last = order_.back();
      fs::remove(dir_ / last.first, ec);
      bytes_ -= last.second;
      index_.erase(last.first);
      order_.pop_back();
    }
  }

 private:
  fs::path dir_;
  uint64_t bound_ = 0, bytes_ = 0;
  std::atomic<uint64_t> counter_{0};
  std::mutex mu_;
  std::list<std::pair<std::string, uint64_t>> order_;  // most recent first
  std::unordered_map<std::string, std::list<std::pair<std::string, uint64_t>>::iterator> index_;
};

void observe(Counters::Histogram& h, const double* bounds, size_t n, double v) {
  if (h.buckets.empty()) h.buckets.assign(n + 1, 0);
  size_t b = 0;
  while (b < n && v > bounds[b]) ++b;
  ++h.buckets[b];
  ++h.count;
  h.sum += v;
}

}  // namespace

struct Job {
  Request request;
  Hooks hooks;
  JobResult result;
  std::atomic<bool> stop{false};       // what the sandbox polls: a cancel or an output flood
  std::atomic<bool> cancelled{false};  // asked by the client
  std::atomic<bool> flooded{false};
};

struct Service::Impl {
  Settings s;
  std::unique_ptr<Store> store;
  std::string store_warning;
  fs::path scratch;
  CompileCache cache;
  detail::Templates templates;  // the jobs' workspaces are made in `scratch`

  mutable std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::string, std::shared_ptr<Job>> live;
  std::unordered_map<std::string, std::deque<std::shared_ptr<Job>>> waiting;  // by client
  std::deque<std::string> turns;  // clients with jobs waiting, in the order they are served
  size_t queued = 0, running = 0;
  bool stopping = false;
  Counters counters;
  int64_t purged_ms = 0;
  std::vector<std::thread> workers;
  std::mt19937_64 random{std::random_device{}()};
  uint64_t serial = 0;
  std::unique_ptr<SharedQueue> shared;  // Settings::shared_queue: jobs come from Redis, results go there

  std::string new_id() {  // under mu
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%04llx", (unsigned long long)random(), (unsigned long long)(++serial & 0xffff));
    return buf;
  }

  std::string invalid(Request& r) {
    if (!r.id.empty()) {
      if (r.id.size() > 64) return "id: at most 64 characters";
      for (char c : r.id)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return "id: only letters, digits, '-', '_' and '.'";
    }
    if (r.language) {
      if (r.language->version.empty()) return "language " + r.language->name + ": its tool is not installed on this server";
      if (r.source.size() > s.max_source) return "source_code: " + std::to_string(r.source.size()) + " bytes, over the limit of " + std::to_string(s.max_source);
    } else {
      if (r.command.empty()) return "no language and no command";
      if (r.command.size() > (128 << 10)) return "command: over 128 KiB";
      sandbox::Decision d = sandbox::check_command(r.strict ? *sandbox::preset("strict") : s.policy, r.command);
      if (!d.allowed) {
        sandbox::record_violation(sandbox::ViolationKind::Command, r.command, d.reason, "exec/run");
        return "command refused by policy: " + d.reason;
      }
    }
    size_t bytes = 0;
    if (r.files.size() > 1000) return "files: at most 1000";
    for (const auto& [path, content] : r.files) {
      if (!plain_relative(path)) return "files: '" + path + "' must be a relative path without '..'";
      if (r.language && path == r.language->file) return "files: '" + path + "' is the source's own name";
      bytes += content.size();
    }
    if (bytes > s.max_files_bytes) return "files: " + std::to_string(bytes) + " bytes, over the limit of " + std::to_string(s.max_files_bytes);
    if (r.args.size() > 1000) return "args: at most 1000";
    auto limit = [&](const char* name, const std::optional<uint64_t>& v, uint64_t min, uint64_t max, const char* unit) -> std::string {
      if (!v || (*v >= min && *v <= max)) return {};
      return std::string(name) + ": " + std::to_string(*v) + unit + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]" + unit +
             " (the server's maximum)";
    };
    for (std::string why : {limit("cpu_time_limit", r.cpu_ms, 1, s.max.cpu_ms, " ms"), limit("wall_time_limit", r.wall_ms, 1, s.max.wall_ms, " ms"),
                            limit("memory_limit", r.memory_bytes, 16 << 20, s.max.memory_bytes, " bytes")})
      if (!why.empty()) return why;
    return {};
  }

  // Under mu: a job joins the queue (its result's id set).
  void queue_job(std::shared_ptr<Job> job) {
    auto& q = waiting[job->request.client];
    if (q.empty()) turns.push_back(job->request.client);
    live.emplace(job->result.id, job);
    q.push_back(std::move(job));
    ++queued;
  }

  // A job claimed from the shared queue, run here (shared_queue.h's LocalWorkers::run).
  bool run_claimed(Request request, Hooks hooks, int64_t created_ms) {
    // Judged again here: the server that took the submission checked it, but what is in the stream
    // is whatever was written there (another server's settings, or anyone who can write to Redis),
    // and its files are written into this server's workspace.
    if (std::string why = invalid(request); !why.empty()) {
      JobResult r;
      r.id = request.id;
      r.language = request.language ? request.language->name : "";
      r.status = Status::InternalError;
      r.message = "refused by the server that claimed it: " + why;
      r.created_ms = created_ms;
      r.finished_ms = now_ms();
      if (hooks.done) hooks.done(r);
      return true;
    }
    auto job = std::make_shared<Job>();
    job->hooks = std::move(hooks);
    job->result.id = request.id;
    job->result.language = request.language ? request.language->name : "";
    job->result.created_ms = created_ms;
    job->request = std::move(request);
    {
      std::lock_guard lock(mu);
      if (stopping || live.count(job->result.id)) return false;
      queue_job(std::move(job));
    }
    cv.notify_one();
    return true;
  }

  size_t free_slots() const {
    std::lock_guard lock(mu);
    return s.workers > running + queued ? s.workers - running - queued : 0;
  }

  // A job of this process: a queued one ends now, a running one within the sandbox's poll.
  bool cancel_local(const std::string& id) {
    std::shared_ptr<Job> job;
    JobResult r;
    {
      std::lock_guard lock(mu);
      auto it = live.find(id);
      if (it == live.end()) return false;
      job = it->second;
      job->cancelled = true;
      job->stop = true;
      if (!unqueue(job)) return true;  // running: the sandbox sees `stop` within 20 ms
      r = job->result;
    }
    r.status = Status::Cancelled;
    r.message = "cancelled while queued";
    finish(job, std::move(r), false);
    return true;
  }

  // Under mu: the next job, round robin between clients.
  std::shared_ptr<Job> take() {
    std::string client = std::move(turns.front());
    turns.pop_front();
    auto it = waiting.find(client);
    std::shared_ptr<Job> job = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) waiting.erase(it);
    else turns.push_back(std::move(client));
    --queued;
    return job;
  }

  // Under mu: removes a queued job; false when it is not waiting.
  bool unqueue(const std::shared_ptr<Job>& job) {
    auto it = waiting.find(job->request.client);
    if (it == waiting.end()) return false;
    auto pos = std::find(it->second.begin(), it->second.end(), job);
    if (pos == it->second.end()) return false;
    it->second.erase(pos);
    if (it->second.empty()) {
      waiting.erase(it);
      turns.erase(std::find(turns.begin(), turns.end(), job->request.client));
    }
    --queued;
    return true;
  }

  // `r` is the job's result, filled apart from the job (readers look at job->result under mu).
  void finish(const std::shared_ptr<Job>& job, JobResult r, bool was_running) {
    r.finished_ms = now_ms();
    store->finish(r);  // before the job leaves `live`: a reader finds it in one or the other
    {
      std::lock_guard lock(mu);
      job->result = r;
      live.erase(r.id);
      if (was_running) --running;
      ++counters.finished[size_t(r.status)];
      const std::string& lang = r.language.empty() ? std::string("command") : r.language;
      if (r.status != Status::Cancelled && r.status != Status::InternalError) {
        observe(counters.seconds[lang], kSecondBuckets, std::size(kSecondBuckets), r.wall_ms / 1000);
        if (r.memory_bytes) observe(counters.memory[lang], kMemoryBuckets, std::size(kMemoryBuckets), double(r.memory_bytes));
      }
    }
    if (job->hooks.done) job->hooks.done(job->result);
  }

  void loop() {
    for (;;) {
      std::shared_ptr<Job> job;
      JobResult r;
      {
        std::unique_lock lock(mu);
        while (!cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping || queued > 0; }))
          if (live.empty()) store->idle();  // nothing live for a second: the file is let go (store.h)
        if (stopping) return;
        job = take();
        ++running;
        r = job->result;
      }
      // Stored before it is shown as running: a server killed after a client saw "running" has
      // the row saying so, and the restart reports the job as stopped while it ran.
      store->running(r.id);
      {
        std::lock_guard lock(mu);
        job->result.status = r.status = Status::Running;
      }
      work(*job, r);
      finish(job, std::move(r), true);
      maybe_purge();
    }
  }

  void maybe_purge() {
    int64_t now = now_ms();
    {
      std::lock_guard lock(mu);
      if (now - purged_ms < 60'000) return;
      purged_ms = now;
    }
    store->purge(now - int64_t(s.retention.count()) * 1000);
  }

  // A job's steps: fills `r`.
  void work(Job& job, JobResult& r) {
    const Request& q = job.request;
    auto internal = [&](std::string why) {
      r.status = Status::InternalError;
      r.message = std::move(why);
    };
    std::string tmpl = (scratch / "job-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return internal("cannot make the job's workspace: " + std::string(std::strerror(errno)));
    fs::path ws = tmpl;
    struct Remove {
      fs::path p;
      ~Remove() {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
    } remove{ws};
    for (const auto& [path, content] : q.files) {
      std::error_code ec;
      fs::path target = ws / path;
      fs::create_directories(target.parent_path(), ec);
      if (!write_file(target, content, 0644)) return internal("cannot write files: " + path + ": " + std::strerror(errno));
    }
    if (q.language && !write_file(ws / q.language->file, q.source, 0644)) return internal("cannot write the source: " + std::string(std::strerror(errno)));

    sandbox::Policy policy = q.strict ? *sandbox::preset("strict") : s.policy;
    policy.limits.cpu_ms = q.cpu_ms.value_or(s.defaults.cpu_ms);
    policy.limits.wall_ms = q.wall_ms.value_or(s.defaults.wall_ms);
    policy.limits.memory_bytes = q.memory_bytes.value_or(s.defaults.memory_bytes);
    sandbox::RunOptions options;
    options.cancel = &job.stop;

    std::vector<std::string> argv;
    if (q.language && !q.language->compile.empty()) {
      // The key covers everything the compiler reads: the language (and so its fixed flags), the
      // source and the files beside it (headers).
      XXH3_state_t* h = XXH3_createState();
      XXH3_128bits_reset(h);
      auto feed = [&](std::string_view v) {
        uint64_t n = v.size();
        XXH3_128bits_update(h, &n, sizeof n);
        XXH3_128bits_update(h, v.data(), v.size());
      };
      for (const auto& a : q.language->compile) feed(a);
      feed(q.language->version);
      feed(q.source);
      for (const auto& [path, content] : q.files) feed(path), feed(content);
      XXH128_hash_t hash = XXH3_128bits_digest(h);
      XXH3_freeState(h);
      char key[33];
      std::snprintf(key, sizeof key, "%016llx%016llx", (unsigned long long)hash.high64, (unsigned long long)hash.low64);
      bool hit = cache.fetch(key, ws / "main");
      {
        std::lock_guard lock(mu);
        ++(hit ? counters.cache_hits : counters.cache_misses);
      }
      if (!hit) {
        sandbox::Policy cp = s.policy;
        cp.limits = compile_limits(cp.limits);
        sandbox::Command compile;
        compile.argv = q.language->compile;
        compile.workspace = ws.string();
        auto compiled = templates.run(q.language->name + "/compile", true, cp, compile, options);
        if (!compiled) return internal("compile: " + compiled.error());
        if (job.cancelled) return (void)(r.status = Status::Cancelled, r.message = "cancelled while compiling");
        r.compile_output = compiled->out + compiled->err;
        if (compiled->kind != sandbox::Outcome::Kind::Exited || compiled->code != 0) {
          r.status = Status::CompileError;
          r.message = "compile: " + compiled->reason;
          if (compiled->kind != sandbox::Outcome::Kind::Exited) r.compile_output += (r.compile_output.empty() ? "" : "\n") + compiled->reason + "\n";
          return;
        }
        cache.keep(key, ws / "main");
      }
      argv.push_back((ws / "main").string());
    } else if (q.language) {
      argv = q.language->run;
    } else {
      argv = {"/bin/bash", "-c", q.command};
    }
    argv.insert(argv.end(), q.args.begin(), q.args.end());

    const uint64_t cap = policy.limits.output_bytes;
    Streamer streamer{job.hooks.output, cap, {}, {0, 0}};
    uint64_t total[2] = {0, 0};
    options.on_output = [&](int stream, std::string_view chunk) {
      uint64_t& t = total[stream == 2];
      t += chunk.size();
      if (t > cap && !job.flooded.exchange(true)) job.stop = true;  // a flood is ended, not drained until the clock
      streamer.take(stream, chunk);
    };
    sandbox::Command command;
    command.argv = std::move(argv);
    command.workspace = ws.string();
    command.stdin_data = q.stdin_data;
    const bool service_policy = !q.strict || s.policy == *sandbox::preset("strict");
    auto ran = templates.run(q.language ? q.language->name + "/run" : "command", service_policy, policy, command, options);
    streamer.flush();
    if (!ran) return internal("run: " + ran.error());
    const sandbox::Outcome& o = *ran;
    r.out = o.out, r.err = o.err;
    r.cpu_ms = o.cpu_ms, r.wall_ms = o.wall_ms, r.memory_bytes = o.memory_bytes;
    r.message = o.reason;
    using K = sandbox::Outcome::Kind;
    // What sandbox/violations shows of a run: a limit that killed it, a start refused.
    if (o.kind == K::Timeout || o.kind == K::Cpu || o.kind == K::Memory || o.kind == K::FileSize)
      sandbox::record_violation(sandbox::ViolationKind::Limit, "job " + r.id, o.reason, "exec/run");
    else if (o.kind == K::Refused)
      sandbox::record_violation(sandbox::ViolationKind::Run, "job " + r.id, o.reason, "exec/run");
    switch (o.kind) {
      case K::Exited:
        r.exit_code = o.code;
        r.status = o.out_truncated || o.err_truncated ? Status::OutputLimit : o.code == 0 ? Status::Completed : Status::RuntimeError;
        break;
      case K::Signaled: r.signal = o.code, r.status = Status::RuntimeError; break;
      case K::FileSize: r.signal = o.code, r.status = Status::OutputLimit; break;
      case K::Timeout:
      case K::Cpu: r.status = Status::Timeout; break;
      case K::Memory: r.status = Status::MemoryLimit; break;
      case K::Cancelled:
        if (job.flooded && !job.cancelled) {
          r.status = Status::OutputLimit;
          r.message = "killed: output over the limit of " + std::to_string(cap) + " bytes a stream";
        } else {
          r.status = Status::Cancelled;
        }
        break;
      case K::Refused: r.status = Status::InternalError; break;
    }
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Service>> Service::start(Settings settings) {
  auto impl = std::make_unique<Impl>();
  impl->s = std::move(settings);
  Impl& m = *impl;
  if (m.s.workers == 0) m.s.workers = std::max(1u, std::thread::hardware_concurrency());
  if (!m.s.root.empty() && m.s.shared_queue.empty()) {  // shared: results are kept in Redis
    auto store = Store::open(m.s.root);
    if (store) m.store = std::move(*store);
    else m.store_warning = store.error();
  }
  if (!m.store) m.store = Store::in_memory();
  if (!m.store) return Error{"cannot open an in-memory SQLite database"};
  m.store->recover(now_ms());
  m.purged_ms = now_ms();
  m.store->purge(m.purged_ms - int64_t(m.s.retention.count()) * 1000);
  m.store->idle();
  if (!m.s.shared_queue.empty()) {
    LocalWorkers local{[&m] { return m.free_slots(); },
                       [&m](Request r, Hooks h, int64_t created) { return m.run_claimed(std::move(r), std::move(h), created); },
                       [&m](const std::string& id) { m.cancel_local(id); }};
    auto shared = SharedQueue::open(m.s, std::move(local));
    if (!shared) return Error{shared.error()};
    m.shared = std::move(*shared);  // what it claims waits for the workers, started below
  }
  std::string tmpl = (fs::temp_directory_path() / "indexer-exec-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) return Error{"cannot make a scratch directory under " + fs::temp_directory_path().string() + ": " + std::strerror(errno)};
  m.scratch = tmpl;
  m.cache.open(m.scratch / "cache", m.s.cache_bytes);
  m.templates.open(m.s.policy, m.scratch, m.s.workers);
  for (unsigned i = 0; i < m.s.workers; ++i) m.workers.emplace_back([&m] { m.loop(); });
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::~Service() {
  Impl& m = *impl_;
  if (m.shared) m.shared->stop();  // nothing more is claimed; what this server held goes back by its lease
  std::vector<std::shared_ptr<Job>> dropped;
  {
    std::lock_guard lock(m.mu);
    m.stopping = true;
    for (auto& [id, job] : m.live) job->stop = true;  // what runs ends at once (its worker finishes it)
    for (auto& [client, jobs] : m.waiting) dropped.insert(dropped.end(), jobs.begin(), jobs.end());
    m.waiting.clear();
    m.turns.clear();
    m.queued = 0;
  }
  m.cv.notify_all();
  for (auto& t : m.workers) t.join();
  for (auto& job : dropped) {
    JobResult r = job->result;
    r.status = Status::InternalError;
    r.message = "the server stopped before the job ran";
    m.finish(job, std::move(r), false);
  }
  std::error_code ec;
  fs::remove_all(m.scratch, ec);
}

Service::Submitted Service::submit(Request request, Hooks hooks) {
  Impl& m = *impl_;
  if (std::string why = m.invalid(request); !why.empty()) return {Refused::Invalid, why, request.id};
  if (m.shared) return m.shared->submit(std::move(request), std::move(hooks));
  auto job = std::make_shared<Job>();
  job->hooks = std::move(hooks);
  std::string id;
  {
    std::lock_guard lock(m.mu);
    if (m.stopping) return {Refused::Full, "the server is stopping", request.id};
    if (m.queued >= m.s.queue) return {Refused::Full, "the queue is full (" + std::to_string(m.s.queue) + " jobs waiting)", request.id};
    if (request.id.empty()) request.id = m.new_id();
    if (m.live.count(request.id)) return {Refused::Invalid, "duplicate id '" + request.id + "'", request.id};
    JobResult& r = job->result;
    r.id = request.id;
    r.language = request.language ? request.language->name : "";
    r.created_ms = now_ms();
    if (!m.store->add(r.id, r.language, r.created_ms)) return {Refused::Invalid, "duplicate id '" + request.id + "'", request.id};
    job->request = std::move(request);
    id = r.id;
    m.queue_job(std::move(job));
  }
  m.cv.notify_one();
  return {Refused::No, {}, std::move(id)};
}

std::optional<JobResult> Service::result(const std::string& id) {
  if (impl_->shared) return impl_->shared->lookup(id).result;
  {
    std::lock_guard lock(impl_->mu);
    if (auto it = impl_->live.find(id); it != impl_->live.end()) {
      const JobResult& r = it->second->result;
      JobResult copy;
      copy.id = r.id, copy.status = r.status, copy.language = r.language, copy.created_ms = r.created_ms;
      return copy;
    }
  }
  return impl_->store->get(id);
}

Service::Lookup Service::lookup(const std::string& id) {
  if (impl_->shared) return impl_->shared->lookup(id);
  return {result(id), {}};
}

bool Service::cancel(const std::string& id) { return impl_->shared ? impl_->shared->cancel(id) : impl_->cancel_local(id); }

Counters Service::counters() const {
  std::lock_guard lock(impl_->mu);
  Counters c = impl_->counters;
  c.queued = impl_->queued, c.running = impl_->running;
  c.warm_runs = impl_->templates.warm_runs(), c.cold_runs = impl_->templates.cold_runs();
  return c;
}

const Settings& Service::settings() const { return impl_->s; }
std::string Service::store_warning() const { return impl_->store_warning; }
std::string Service::shared_queue() const { return impl_->shared ? impl_->shared->where() : std::string(); }

}  // namespace exec
