// The execution service (exec/exec.h) served: the REST API a Judge0 client speaks (POST /execute,
// GET /status/{id}, /result/{id}, DELETE|POST /cancel/{id}, GET /languages), JSON-RPC exec/run with
// exec/output notifications, exec/status and exec/cancel, and the service's lines in /stats and
// /metrics. The service starts with `indexer serve` (http_routes.h); elsewhere (the CLI, MCP) the
// methods say it is not running. With `--exec-queue redis://...` the service shares its queue and
// results through Redis (exec/shared_queue.h; nothing of Redis is seen here): an unreachable Redis
// is a 503 (JSON-RPC -32003), not a failure of the server.
//
// exec/run waits for its job on a thread of its own (the waiters below, not the request pool):
// the registry's calls answer by returning. POST /execute?wait=true holds no thread at all: the
// job's `done` hook sends the answer.
#include <nlohmann/json.hpp>

#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "compress/compact.h"
#include "compress/tokens.h"
#include "exec/exec.h"
#include "server/elided.h"
#include "server/http_routes.h"
#include "server/registry.h"
#include "server/tool_text.h"

namespace server {
namespace {

constexpr size_t kMaxBody = 8 << 20;  // POST /execute: the source (1 MiB) and files (4 MiB) with room
constexpr uint64_t kMaxFilesBytes = 4 << 20;
constexpr int kUnavailable = -32003;  // the shared queue (--exec-queue redis://) cannot be reached

std::mutex g_mu;
std::shared_ptr<exec::Service> g_service;
bool g_stopped = false;  // serve's service has stopped: none is made again

std::shared_ptr<exec::Service> running_service() {
  std::lock_guard lock(g_mu);
  return g_service;
}

std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

struct BadRequest {
  std::string message;
};

// ---- requests ----------------------------------------------------------------------------------

std::optional<uint64_t> seconds_ms(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 1e9)
    throw BadRequest{std::string(name) + ": a number of seconds above 0 (0.5, 2)"};
  return uint64_t(it->get<double>() * 1000 + 0.5);
}

std::string text_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return {};
  if (!it->is_string()) throw BadRequest{std::string(name) + ": must be a string"};
  return it->get<std::string>();
}

// What POST /execute and exec/run take; a Judge0 client's fields where there are some.
exec::Request read_request(const json& body, const exec::Settings& settings) {
  if (!body.is_object()) throw BadRequest{"the body must be a JSON object"};
  exec::Request r;
  r.id = text_field(body, "id");
  auto lang = body.find("language");
  auto lang_id = body.find("language_id");
  if (lang != body.end() && !lang->is_null()) {
    if (!lang->is_string()) throw BadRequest{"language: must be a string (python, javascript, c, cpp, rust, bash)"};
    r.language = exec::find_language(lang->get<std::string>());
    if (!r.language) throw BadRequest{"unknown language '" + lang->get<std::string>() + "': GET /languages lists them"};
  } else if (lang_id != body.end() && !lang_id->is_null()) {
    if (!lang_id->is_number_integer()) throw BadRequest{"language_id: must be an integer (71, 63, 50, 54, 73, 46)"};
    r.language = exec::find_language(lang_id->get<int>());
    if (!r.language) throw BadRequest{"unknown language_id " + std::to_string(lang_id->get<int64_t>()) + ": GET /languages lists them"};
  }
  r.source = text_field(body, "source_code");
  if (r.source.empty()) r.source = text_field(body, "source");
  r.command = text_field(body, "command");
  if (!r.language && r.command.empty()) throw BadRequest{"language (or language_id) and source_code, or a command"};
  if (r.language && !r.command.empty()) throw BadRequest{"either a language and source_code, or a command: not both"};
  r.stdin_data = text_field(body, "stdin");
  if (auto a = body.find("args"); a != body.end() && !a->is_null()) {
    if (!a->is_array()) throw BadRequest{"args: a list of strings"};
    for (const auto& v : *a) {
      if (!v.is_string()) throw BadRequest{"args: a list of strings"};
      r.args.push_back(v.get<std::string>());
    }
  }
  if (auto f = body.find("files"); f != body.end() && !f->is_null()) {
    if (!f->is_object()) throw BadRequest{"files: an object of {\"relative/path\": \"content\"}"};
    for (const auto& [path, content] : f->items()) {
      if (!content.is_string()) throw BadRequest{"files." + path + ": must be a string"};
      r.files.emplace_back(path, content.get<std::string>());
    }
  }
  r.cpu_ms = seconds_ms(body, "cpu_time_limit");
  r.wall_ms = seconds_ms(body, "wall_time_limit");
  if (auto m = body.find("memory_limit"); m != body.end() && !m->is_null()) {  // kilobytes, as Judge0
    if (!m->is_number_integer() || m->get<int64_t>() <= 0) throw BadRequest{"memory_limit: a whole number of kilobytes"};
    r.memory_bytes = m->get<uint64_t>() * 1024;
  }
  std::string policy = text_field(body, "policy");
  if (!policy.empty() && policy != "strict" && policy != settings.policy.name)
    throw BadRequest{"policy: '" + policy + "' is not offered here: 'strict', or the server's own ('" + settings.policy.name + "')"};
  r.strict = policy == "strict";
  return r;
}

json result_json(const exec::JobResult& r) {
  json j = {{"id", r.id}, {"status", std::string(exec::status_name(r.status))}};
  if (!r.language.empty()) j["language"] = r.language;
  if (!exec::finished(r.status)) return j;
  j["stdout"] = r.out;
  j["stderr"] = r.err;
  j["compile_output"] = r.compile_output;
  j["exit_code"] = r.exit_code ? json(*r.exit_code) : json(nullptr);
  j["signal"] = r.signal ? json(*r.signal) : json(nullptr);
  j["time"] = r.cpu_ms / 1000;
  j["wall_time"] = r.wall_ms / 1000;
  j["memory"] = r.memory_bytes / 1024;  // kilobytes, as Judge0
  j["message"] = r.message;
  j["created_at"] = r.created_ms;
  j["finished_at"] = r.finished_ms;
  return j;
}

// ---- REST --------------------------------------------------------------------------------------

HttpAnswer answer(unsigned status, const json& body) { return {status, json_text(body)}; }
HttpAnswer refusal(unsigned status, const std::string& message) { return answer(status, json{{"error", message}}); }

bool serving(const std::shared_ptr<exec::Service>& s, const HttpRespond& respond) {
  if (!s) respond(refusal(503, "the execution service is not running"));
  return bool(s);
}

void post_execute(HttpRequest req, HttpRespond respond) {
  auto svc = running_service();
  if (!serving(svc, respond)) return;
  if (req.body.size() > kMaxBody)
    return respond(refusal(400, "body: " + std::to_string(req.body.size()) + " bytes, over the limit of " + std::to_string(kMaxBody) + " (8 MiB)"));
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded()) return respond(refusal(400, "the body is not JSON"));
  exec::Request r;
  try {
    r = read_request(body, svc->settings());
  } catch (const BadRequest& e) {
    return respond(refusal(400, e.message));
  }
  std::string client = req.header("X-Client-Id");
  r.client = client.empty() ? req.client : client.substr(0, 128);
  const bool wait = ("&" + req.query + "&").find("&wait=true&") != std::string::npos;
  exec::Hooks hooks;
  if (wait) hooks.done = [respond](const exec::JobResult& result) { respond(answer(200, result_json(result))); };
  auto submitted = svc->submit(std::move(r), std::move(hooks));
  using R = exec::Service::Refused;
  if (submitted.refused == R::Full) {
    HttpAnswer a = refusal(429, submitted.message);
    a.headers.emplace_back("Retry-After", "1");
    return respond(std::move(a));
  }
  if (submitted.refused == R::Invalid) return respond(refusal(400, submitted.message));
  if (submitted.refused == R::Unavailable) return respond(refusal(503, submitted.message));
  if (!wait) respond(answer(201, json{{"id", submitted.id}, {"status", "queued"}}));
}

std::string id_after(const HttpRequest& req, std::string_view prefix) { return req.path.substr(prefix.size()); }

void get_job(HttpRequest req, HttpRespond respond, std::string_view prefix, bool whole) {
  auto svc = running_service();
  if (!serving(svc, respond)) return;
  std::string id = id_after(req, prefix);
  auto [r, error] = svc->lookup(id);
  if (!error.empty()) return respond(refusal(503, error));
  if (!r) return respond(refusal(404, "no job '" + id + "' (never submitted, or past the retention time)"));
  json j = whole ? result_json(*r) : json{{"id", r->id}, {"status", std::string(exec::status_name(r->status))}};
  respond(answer(200, j));
}

void cancel_job(HttpRequest req, HttpRespond respond) {
  auto svc = running_service();
  if (!serving(svc, respond)) return;
  std::string id = id_after(req, "/cancel/");
  if (svc->cancel(id)) return respond(answer(200, json{{"id", id}, {"cancelled", true}}));
  auto [r, error] = svc->lookup(id);
  if (!error.empty()) return respond(refusal(503, error));
  if (!r) return respond(refusal(404, "no job '" + id + "'"));
  respond(answer(409, json{{"id", id}, {"cancelled", false}, {"status", std::string(exec::status_name(r->status))}, {"error", "the job has finished"}}));
}

json languages_json() {
  json out = json::array();
  for (const auto& l : exec::languages()) {
    if (l.version.empty()) continue;
    out.push_back({{"id", l.judge0_id}, {"name", l.name}, {"version", l.version}, {"compiled", !l.compile.empty()}});
  }
  return out;
}

// ---- settings, stats, metrics -----------------------------------------------------------------

std::string start(const ModuleStart& m) {
  exec::Settings s;
  s.root = m.root;
  s.max_files_bytes = kMaxFilesBytes;
  auto number = [&](const char* key, uint64_t min, uint64_t max, uint64_t& out) -> std::string {
    auto it = m.settings.find(key);
    if (it == m.settings.end()) return {};
    const std::string& v = it->second;
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size() || n < min || n > max)
      return std::string("--") + key + " takes a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" + v + "'";
    out = n;
    return {};
  };
  uint64_t workers = 0, queue = s.queue, retention = uint64_t(s.retention.count());
  uint64_t lease = uint64_t(s.lease.count() / 1000);
  for (std::string why : {number("exec-workers", 1, 256, workers), number("exec-queue-limit", 1, 1'000'000, queue),
                          number("exec-retention", 1, 365ull * 86400, retention), number("exec-lease", 1, 3600, lease)})
    if (!why.empty()) return why;
  s.workers = unsigned(workers), s.queue = queue, s.retention = std::chrono::seconds(retention), s.lease = std::chrono::seconds(lease);
  if (auto it = m.settings.find("exec-queue"); it != m.settings.end()) s.shared_queue = it->second;
  auto policy = sandbox::load_policy(m.settings.count("exec-policy") ? m.settings.at("exec-policy") : "workspace");
  if (!policy) return "--exec-policy: " + policy.error();
  s.policy = *policy;
  const bool shared = !s.shared_queue.empty();
  auto svc = exec::Service::start(std::move(s));
  if (!svc) return (shared ? "--exec-queue: " : "") + svc.error();
  if (std::string why = (*svc)->store_warning(); !why.empty())
    std::fprintf(stderr, "indexer: warning: execution results are kept in memory only: %s\n", why.c_str());
  std::lock_guard lock(g_mu);
  g_service = std::move(*svc);
  return {};
}

void stop() {
  std::shared_ptr<exec::Service> s;
  {
    std::lock_guard lock(g_mu);
    s = std::move(g_service);
    g_stopped = true;
  }
  // Destroyed here (unless a request holds it a moment longer): what runs is cancelled, waiters answered.
}

std::string stats() {
  auto svc = running_service();
  if (!svc) return "null";
  exec::Counters c = svc->counters();
  json finished = json::object();
  for (int i = 0; i < exec::kStatuses; ++i)
    if (exec::finished(exec::Status(i))) finished[std::string(exec::status_name(exec::Status(i)))] = c.finished[i];
  json j{{"queued", c.queued}, {"running", c.running}, {"finished", finished}, {"workers", svc->settings().workers},
         {"queue_limit", svc->settings().queue}, {"compile_cache", {{"hits", c.cache_hits}, {"misses", c.cache_misses}}},
         {"sandbox_runs", {{"warm", c.warm_runs}, {"cold", c.cold_runs}}}};
  if (std::string where = svc->shared_queue(); !where.empty()) j["shared_queue"] = where;  // queued and running: this server's
  return json_text(j);
}

void histogram(std::string& out, const char* name, const std::map<std::string, exec::Counters::Histogram>& by_language, const double* bounds, size_t n) {
  char line[256];
  for (const auto& [lang, h] : by_language) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < n; ++b) {
      cumulative += h.buckets[b];
      std::snprintf(line, sizeof line, "%s_bucket{language=\"%s\",le=\"%g\"} %llu\n", name, lang.c_str(), bounds[b], (unsigned long long)cumulative);
      out += line;
    }
    std::snprintf(line, sizeof line, "%s_bucket{language=\"%s\",le=\"+Inf\"} %llu\n%s_sum{language=\"%s\"} %.6f\n%s_count{language=\"%s\"} %llu\n", name,
                  lang.c_str(), (unsigned long long)h.count, name, lang.c_str(), h.sum, name, lang.c_str(), (unsigned long long)h.count);
    out += line;
  }
}

std::string prometheus() {
  auto svc = running_service();
  if (!svc) return {};
  exec::Counters c = svc->counters();
  std::string out;
  out += "# HELP indexer_exec_queued Execution jobs waiting.\n# TYPE indexer_exec_queued gauge\nindexer_exec_queued " + std::to_string(c.queued) + "\n";
  out += "# HELP indexer_exec_running Execution jobs running.\n# TYPE indexer_exec_running gauge\nindexer_exec_running " + std::to_string(c.running) + "\n";
  out += "# HELP indexer_exec_jobs_total Execution jobs finished, by status.\n# TYPE indexer_exec_jobs_total counter\n";
  for (int i = 0; i < exec::kStatuses; ++i)
    if (exec::finished(exec::Status(i)))
      out += "indexer_exec_jobs_total{status=\"" + std::string(exec::status_name(exec::Status(i))) + "\"} " + std::to_string(c.finished[i]) + "\n";
  out += "# HELP indexer_exec_seconds Wall time of a job's run, by language.\n# TYPE indexer_exec_seconds histogram\n";
  histogram(out, "indexer_exec_seconds", c.seconds, exec::kSecondBuckets, std::size(exec::kSecondBuckets));
  out += "# HELP indexer_exec_memory_bytes Peak memory of a job's run, by language.\n# TYPE indexer_exec_memory_bytes histogram\n";
  histogram(out, "indexer_exec_memory_bytes", c.memory, exec::kMemoryBuckets, std::size(exec::kMemoryBuckets));
  out += "# HELP indexer_exec_compile_cache_total Compiles skipped (hit) or run (miss).\n# TYPE indexer_exec_compile_cache_total counter\n";
  out += "indexer_exec_compile_cache_total{result=\"hit\"} " + std::to_string(c.cache_hits) + "\nindexer_exec_compile_cache_total{result=\"miss\"} " +
         std::to_string(c.cache_misses) + "\n";
  out += "# HELP indexer_exec_sandbox_runs_total Sandbox runs (compiles included), from a warm template or cold.\n"
         "# TYPE indexer_exec_sandbox_runs_total counter\n";
  out += "indexer_exec_sandbox_runs_total{kind=\"warm\"} " + std::to_string(c.warm_runs) + "\nindexer_exec_sandbox_runs_total{kind=\"cold\"} " +
         std::to_string(c.cold_runs) + "\n";
  return out;
}

const ModuleRegistration module([] {
  Module m;
  m.name = "exec";
  m.start = start;
  m.stop = stop;
  m.stats = stats;
  m.prometheus = prometheus;
  m.routes = {
      {"POST", "/execute", false, post_execute},
      {"GET", "/status/", true, [](HttpRequest r, HttpRespond a) { get_job(std::move(r), std::move(a), "/status/", false); }},
      {"GET", "/result/", true, [](HttpRequest r, HttpRespond a) { get_job(std::move(r), std::move(a), "/result/", true); }},
      {"DELETE", "/cancel/", true, cancel_job},
      {"POST", "/cancel/", true, cancel_job},
      {"GET", "/languages", false, [](HttpRequest, HttpRespond a) { a(answer(200, languages_json())); }},
  };
  return m;
});

// ---- JSON-RPC ----------------------------------------------------------------------------------

// Threads that wait for exec/run's jobs: made on demand, up to a bound, then the calls queue. A
// waiting thread costs a stack and nothing else; the jobs themselves run on the service's workers.
class Waiters {
 public:
  void post(std::function<void()> job) {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    // A thread for each job no idle one will take: an idle thread counts as such until it wakes, so
    // jobs posted together must not all be promised to it (the second would wait a whole run).
    if (jobs_.size() > idle_ && threads_ < kMax) {
      ++threads_;
      std::thread([this] { loop(); }).detach();
    }
    cv_.notify_one();
  }

 private:
  static constexpr size_t kMax = 1024;
  void loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      ++idle_;
      cv_.wait(lock, [&] { return !jobs_.empty(); });
      --idle_;
      auto job = std::move(jobs_.front());
      jobs_.pop_front();
      lock.unlock();
      job();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  size_t idle_ = 0, threads_ = 0;
};

const Executor& waiters() {
  static auto* w = new Waiters;  // never freed: its threads may be waiting while the process exits
  static const Executor e = [](std::function<void()> job) { w->post(std::move(job)); };
  return e;
}

std::shared_ptr<exec::Service> service_or_throw() {
  auto svc = running_service();
  if (!svc) throw RpcError{-32002, "the execution service runs in `indexer serve` and `indexer mcp` only"};
  return svc;
}

// exec/run outside serve (MCP's run tool, `indexer call`): a service of the default settings, its
// results in memory, made on first use. Never after serve has stopped its own.
std::shared_ptr<exec::Service> service_or_start() {
  std::lock_guard lock(g_mu);
  if (!g_service && !g_stopped) {
    exec::Settings s;
    s.max_files_bytes = kMaxFilesBytes;
    s.policy = *sandbox::preset("workspace");
    auto svc = exec::Service::start(std::move(s));
    if (!svc) throw RpcError{kInternalError, "the execution service cannot start: " + svc.error()};
    g_service = std::move(*svc);
  }
  if (!g_service) throw RpcError{-32002, "the execution service has stopped"};
  return g_service;
}

std::string new_id() {
  static std::mutex mu;
  static std::mt19937_64 random{std::random_device{}()};
  std::lock_guard lock(mu);
  char buf[24];
  std::snprintf(buf, sizeof buf, "r%016llx", (unsigned long long)random());
  return buf;
}

exec::JobResult run_job(const json& params, Context& ctx) {
  auto svc = service_or_start();
  exec::Request r;
  try {
    r = read_request(params.is_null() ? json::object() : params, svc->settings());
  } catch (const BadRequest& e) {
    bad_param(e.message);
  }
  if (r.id.empty()) r.id = new_id();
  r.client = "ws:" + std::to_string(ctx.connection);
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<exec::JobResult> result;
  };
  auto w = std::make_shared<Wait>();
  exec::Hooks hooks;
  if (ctx.notify)
    hooks.output = [notify = ctx.notify, id = r.id](int stream, std::string_view data) {
      notify("exec/output", json{{"id", id}, {"stream", stream == 1 ? "stdout" : "stderr"}, {"data", std::string(data)}});
    };
  hooks.done = [w](const exec::JobResult& result) {
    std::lock_guard lock(w->mu);
    w->result = result;
    w->cv.notify_all();
  };
  std::string id = r.id;
  auto submitted = svc->submit(std::move(r), std::move(hooks));
  if (submitted.refused == exec::Service::Refused::Full) throw RpcError{-32001, submitted.message};
  if (submitted.refused == exec::Service::Refused::Invalid) bad_param(submitted.message);
  if (submitted.refused == exec::Service::Refused::Unavailable) throw RpcError{kUnavailable, submitted.message};
  svc.reset();  // held no longer: a server that stops destroys it, and that answers this wait
  std::unique_lock lock(w->mu);
  bool cancel_sent = false;
  while (!w->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return w->result.has_value(); }))
    if (ctx.cancelled_now() && !cancel_sent) {  // $/cancelRequest: the run is killed
      cancel_sent = true;
      lock.unlock();
      if (auto s = running_service()) s->cancel(id);
      lock.lock();
    }
  return std::move(*w->result);
}

std::string run(const json& params, Context& ctx) { return json_text(result_json(run_job(params, ctx))); }

// MCP's run tool: the status line, then the output as one tool output cut to the budget by the
// compactor's rules (head, tail and every failure line kept; what is cut is named by a handle the
// expand tool gives back).
std::string tool_run(const json& arguments, Context& ctx) {
  exec::JobResult r = run_job(arguments, ctx);
  std::string head = "status: " + std::string(exec::status_name(r.status));
  if (r.exit_code) head += ", exit " + std::to_string(*r.exit_code);
  if (r.signal) head += ", signal " + std::to_string(*r.signal);
  char figures[96];
  std::snprintf(figures, sizeof figures, "; %.3f s wall, %.3f s cpu, %llu KB", r.wall_ms / 1000, r.cpu_ms / 1000, (unsigned long long)(r.memory_bytes / 1024));
  head += figures;
  head += "\n" + r.message + "\n";
  std::string body;
  auto section = [&](const char* name, const std::string& text) {
    if (text.empty()) return;
    body += std::string("--- ") + name + " ---\n" + text;
    if (text.back() != '\n') body += '\n';
  };
  section("compile output", r.compile_output);
  section("stdout", r.out);
  section("stderr", r.err);
  const auto& tokenizer = compress::tokens::tokenizer(compress::tokens::Encoding::O200k);
  size_t budget = ctx.max_tokens ? ctx.max_tokens : kToolTokens;
  size_t room = budget > tokenizer.count(head) + 64 ? budget - tokenizer.count(head) - 64 : 0;
  compress::CompactOptions o;
  o.budget = room;
  o.count = [&tokenizer](std::string_view t) { return tokenizer.count(t); };
  compress::Message m;
  m.role = "tool", m.content = std::move(body), m.kind = compress::Kind::ToolOutput;
  auto compacted = compress::compact({std::move(m)}, o, elided_store());
  return head + (compacted.messages.empty() ? std::string() : compacted.messages[0].content);
}

std::string status(const json& params, Context&) {
  auto svc = service_or_throw();
  std::string id = Params(params).text("id");
  auto [r, error] = svc->lookup(id);
  if (!error.empty()) throw RpcError{kUnavailable, error};
  if (!r) bad_param("no job '" + id + "'");
  return json_text(result_json(*r));
}

std::string cancel(const json& params, Context&) {
  auto svc = service_or_throw();
  std::string id = Params(params).text("id");
  bool cancelled = svc->cancel(id);
  auto [r, error] = svc->lookup(id);
  if (!error.empty()) throw RpcError{kUnavailable, error};
  if (!r) bad_param("no job '" + id + "'");
  return json_text(json{{"id", id}, {"cancelled", cancelled}, {"status", std::string(exec::status_name(r->status))}});
}

const Registration registered([](Registry& reg) {
  reg.add_written({.name = "exec/run",
                   .params = "{language, source_code, stdin?, args?, files?, cpu_time_limit?, wall_time_limit?, memory_limit?, policy?, id?} | {command, ...}",
                   .summary = "Runs code in a language (python, javascript, c, cpp, rust, bash), or a command line, in the sandbox; answered when it ends with "
                              "{id, status, stdout, stderr, compile_output, exit_code, signal, time, wall_time, memory}, after exec/output {id, stream, data} "
                              "notifications as output arrives. $/cancelRequest kills the run.",
                   .runs = Runs::Executor,
                   .executor = &waiters(),
                   .needs_index = false,
                   .tool = McpTool{"run",
                                   "Runs code (language: python, javascript, c, cpp, rust, bash; source_code) or a shell command line "
                                   "(command) in a sandbox: no network, a fresh workspace, time and memory limits. Answers the status, "
                                   "exit code and output; long output keeps its head, tail and error lines.",
                                   tool_schema({{"language", {{"type", "string"}}},
                                                {"source_code", {{"type", "string"}}},
                                                {"command", {{"type", "string"}}},
                                                {"stdin", {{"type", "string"}}},
                                                {"args", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                                                {"files", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}},
                                                {"wall_time_limit", {{"type", "number"}, {"description", "seconds"}}}}),
                                   tool_run}},
                  run);
  reg.add_written({.name = "exec/status",
                   .params = "{id}",
                   .summary = "A job's status, and its whole result once it has finished (as POST /execute's jobs).",
                   .runs = Runs::Pool,
                   .needs_index = false},
                  status);
  reg.add_written({.name = "exec/cancel",
                   .params = "{id}",
                   .summary = "Cancels a queued or running job: {id, cancelled, status}.",
                   .runs = Runs::Pool,
                   .needs_index = false},
                  cancel);
});

}  // namespace
}  // namespace server
