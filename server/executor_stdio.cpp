// `indexer executor`: the executor protocol over stdio (README "Executor protocol") for an
// orchestration layer (a TypeScript agent runtime) that drives it as a child process. One JSON
// object a line each way; the work itself is sandbox/tasks.h, under the policy given here.
//
// Concurrency: the reader thread parses lines and queues tasks; a fixed set of workers runs them
// (`--max-tasks`, default the cores, at least 2), at most kMaxQueued waiting or running (past it a
// task gets Error busy). Each run has its own cancel flag, which only its Cancel sets. Output
// lines are written whole under one lock, so messages never interleave. At stdin's end the reader
// stops; queued and running tasks finish (or are cancelled by their Cancel, which can no longer
// come), then the process exits 0. A closed stdout cancels everything.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "compress/tokens.h"
#include "sandbox/policy.h"
#include "sandbox/tasks.h"
#include "server/executor_protocol.h"

namespace {

namespace proto = server::executor_protocol;
namespace tasks = sandbox::tasks;
using nlohmann::json;

constexpr const char* kUsage =
    "usage: indexer executor [--policy FILE|strict|workspace|permissive] [--workspace DIR] [--max-tasks N]\n"
    "  reads {\"type\":\"Hello\"}, {\"type\":\"Task\",run_id,op,args,context}, {\"type\":\"Cancel\",run_id} a line each\n"
    "  from stdin; writes Hello, Log, Progress, Result and Error lines to stdout\n";
constexpr size_t kMaxQueued = 1024;
constexpr size_t kLogPiece = 64 << 10;  // an output line longer than this is sent in pieces
constexpr const char* kSource = "executor";
constexpr const char* kOps[] = {"fs.read", "fs.write", "fs.list", "cmd.run", "test.run", "lint.run"};

struct BadArgs {
  std::string message;
};

// ---- base64, for file bytes that are not UTF-8 -------------------------------------------------

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], kB64[v & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8;
    out += {kB64[v >> 18], kB64[(v >> 12) & 63], kB64[(v >> 6) & 63], '='};
  }
  return out;
}

std::string base64_decode(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26 : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+' ? 62 : c == '/' ? 63 : -1;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (v < 0 || pad) throw BadArgs{"args.content: not base64"};
    acc = acc << 6 | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xFF);
    }
  }
  if (pad > 2) throw BadArgs{"args.content: not base64"};
  return out;
}

// ---- reading args ----------------------------------------------------------------------------

const json& member(const json& obj, const char* name) {
  static const json null;
  if (!obj.is_object()) return null;
  auto it = obj.find(name);
  return it == obj.end() ? null : *it;
}
std::string text(const json& obj, const char* where, const char* name, bool required) {
  const json& v = member(obj, name);
  if (v.is_null()) {
    if (required) throw BadArgs{std::string(where) + "." + name + " is required"};
    return {};
  }
  if (!v.is_string()) throw BadArgs{std::string(where) + "." + name + " must be a string"};
  return v.get<std::string>();
}
uint64_t number(const json& obj, const char* where, const char* name, uint64_t fallback) {
  const json& v = member(obj, name);
  if (v.is_null()) return fallback;
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    throw BadArgs{std::string(where) + "." + name + " must be a whole number from 0"};
  return v.get<uint64_t>();
}
bool flag(const json& obj, const char* where, const char* name, bool fallback) {
  const json& v = member(obj, name);
  if (v.is_null()) return fallback;
  if (!v.is_boolean()) throw BadArgs{std::string(where) + "." + name + " must be true or false"};
  return v.get<bool>();
}
std::vector<std::string> words(const json& obj, const char* where, const char* name) {
  const json& v = member(obj, name);
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (!v.is_array()) throw BadArgs{std::string(where) + "." + name + " must be a list of strings"};
  for (const auto& w : v) {
    if (!w.is_string()) throw BadArgs{std::string(where) + "." + name + " must be a list of strings"};
    out.push_back(w.get<std::string>());
  }
  return out;
}

tasks::TaskContext read_context(const json& c) {
  tasks::TaskContext out;
  out.working_dir = text(c, "context", "working_dir", false);
  if (!member(c, "allowed_paths").is_null()) out.allowed_paths = words(c, "context", "allowed_paths");
  const json& env = member(c, "env");
  if (env.is_object()) {
    for (const auto& [k, v] : env.items()) {
      if (!v.is_string()) throw BadArgs{"context.env." + k + " must be a string"};
      out.env.push_back(k + "=" + v.get<std::string>());
    }
  } else if (!env.is_null()) {
    out.env = words(c, "context", "env");
  }
  out.timeout_ms = number(c, "context", "timeout_ms", 0);
  return out;
}

// ---- the executor ------------------------------------------------------------------------------

class Executor {
 public:
  Executor(sandbox::Policy policy, std::string workspace, size_t workers)
      : policy_(std::move(policy)), workspace_(std::move(workspace)), workers_(workers) {}

  int serve() {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < workers_; ++i) threads.emplace_back([this] { work(); });
    proto::LineReader reader;
    auto on_line = [this](std::string_view line) { handle(line); };
    auto on_too_long = [this](size_t n) {
      emit({{"type", "Error"}, {"run_id", nullptr}, {"code", "too_large"},
            {"details", "a line of more than " + std::to_string(n - 1) + " bytes (the limit is " + std::to_string(proto::kMaxLine) + "): skipped"}});
    };
    char buf[1 << 16];
    while (!broken_.load()) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      reader.feed(std::string_view(buf, size_t(n)), on_line, on_too_long);
    }
    if (!broken_.load()) reader.finish(on_line);
    {
      std::lock_guard lock(mu_);
      eof_ = true;
      if (broken_.load())
        for (auto& [id, run] : live_) run->cancel = true;
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
    return 0;
  }

 private:
  struct Run {
    proto::Task task;
    std::atomic<bool> cancel{false};
    bool started = false;  // under mu_: taken by a worker
  };

  void emit(const json& message) {
    std::string line = message.dump(-1, ' ', false, json::error_handler_t::replace);
    line += '\n';
    std::lock_guard lock(out_mu_);
    std::string_view s(line);
    while (!s.empty()) {
      ssize_t n = ::write(1, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        broken_ = true;  // nobody reads: stop, and cancel what runs
        std::lock_guard l(mu_);
        for (auto& [id, run] : live_) run->cancel = true;
        return;
      }
      s.remove_prefix(size_t(n));
    }
  }
  void error(const std::string& run_id, const std::string& code, const json& details) {
    emit({{"type", "Error"}, {"run_id", run_id.empty() ? json(nullptr) : json(run_id)}, {"code", code}, {"details", details}});
  }

  void handle(std::string_view line) {
    proto::Message m = proto::parse_line(line);
    if (auto* bad = std::get_if<proto::Bad>(&m)) return error(bad->run_id, bad->code, bad->details);
    if (std::holds_alternative<proto::Hello>(m)) {
      emit({{"type", "Hello"}, {"protocol", 1}, {"ops", kOps}, {"policy", policy_.name}, {"workspace", workspace_},
            {"max_tasks", workers_}, {"max_queued", kMaxQueued}, {"max_line", proto::kMaxLine}});
      return;
    }
    if (auto* c = std::get_if<proto::Cancel>(&m)) {
      std::shared_ptr<Run> unstarted;  // answered here: its turn may be far behind long runs
      bool found = false;
      {
        std::lock_guard lock(mu_);
        if (auto it = live_.find(c->run_id); it != live_.end()) {
          found = true;
          it->second->cancel = true;
          if (!it->second->started) {
            unstarted = it->second;
            queue_.erase(std::find(queue_.begin(), queue_.end(), unstarted));
            live_.erase(it);
          }
        }
      }
      if (!found) error(c->run_id, "unknown_run", "no task " + c->run_id + " is queued or running");
      if (unstarted) finish(*unstarted, {{"status", "cancelled"}, {"reason", "cancelled before it started"}});
      return;
    }
    auto& task = std::get<proto::Task>(m);
    if (std::find(std::begin(kOps), std::end(kOps), task.op) == std::end(kOps))
      return error(task.run_id, "unknown_op", "unknown op '" + task.op.substr(0, 64) + "' (fs.read, fs.write, fs.list, cmd.run, test.run, lint.run)");
    std::string refusal;
    {
      std::lock_guard lock(mu_);
      if (live_.count(task.run_id)) refusal = "duplicate_run_id";
      else if (live_.size() >= kMaxQueued) refusal = "busy";
      else {
        auto run = std::make_shared<Run>();
        run->task = std::move(task);
        live_.emplace(run->task.run_id, run);
        queue_.push_back(run);
      }
    }
    if (refusal == "duplicate_run_id") return error(task.run_id, refusal, "a task " + task.run_id + " is already queued or running");
    if (refusal == "busy") return error(task.run_id, refusal, std::to_string(kMaxQueued) + " tasks are queued or running: send it again later");
    cv_.notify_one();
  }

  void work() {
    for (;;) {
      std::shared_ptr<Run> run;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty() || eof_; });
        if (queue_.empty()) return;
        run = queue_.front();
        queue_.pop_front();
        run->started = true;
      }
      execute(*run);
      std::lock_guard lock(mu_);
      live_.erase(run->task.run_id);
    }
  }

  void finish(const Run& run, json data) {
    std::string status = data.value("status", "succeeded");
    emit({{"type", "Result"}, {"run_id", run.task.run_id}, {"status", status}, {"data", std::move(data)}});
  }
  void fail(const Run& run, const tasks::Failure& f) {
    json details = {{"message", f.message}};
    if (f.code == tasks::Failure::Code::Refused) details["kind"] = sandbox::kind_name(f.kind), details["subject"] = f.subject;
    error(run.task.run_id, std::string(tasks::code_name(f.code)), details);
  }

  void execute(Run& run) {
    const proto::Task& t = run.task;
    const std::string& id = t.run_id;
    try {
      auto scope = tasks::narrow(policy_, workspace_, read_context(t.context), kSource);
      if (auto* f = std::get_if<tasks::Failure>(&scope)) return fail(run, *f);
      const tasks::Scope& s = std::get<tasks::Scope>(scope);
      const json& a = t.args;
      if (t.op == "fs.read") {
        auto r = tasks::read_file(s, text(a, "args", "path", true), number(a, "args", "max_bytes", 0), kSource);
        if (auto* f = std::get_if<tasks::Failure>(&r)) return fail(run, *f);
        auto& fr = std::get<tasks::FileRead>(r);
        bool utf8 = text(a, "args", "encoding", false) != "base64" && compress::tokens::is_valid_utf8(fr.content);
        return finish(run, {{"path", fr.path}, {"size", fr.size}, {"truncated", fr.truncated}, {"encoding", utf8 ? "utf8" : "base64"},
                            {"content", utf8 ? fr.content : base64_encode(fr.content)}});
      }
      if (t.op == "fs.write") {
        std::string enc = text(a, "args", "encoding", false);
        if (!enc.empty() && enc != "utf8" && enc != "base64") throw BadArgs{"args.encoding must be \"utf8\" or \"base64\""};
        std::string content = text(a, "args", "content", true);
        if (enc == "base64") content = base64_decode(content);
        auto r = tasks::write_file(s, text(a, "args", "path", true), content, flag(a, "args", "create_dirs", false), kSource);
        if (auto* f = std::get_if<tasks::Failure>(&r)) return fail(run, *f);
        auto& w = std::get<tasks::FileWritten>(r);
        return finish(run, {{"path", w.path}, {"bytes", w.bytes}, {"created", w.created}});
      }
      if (t.op == "fs.list") {
        auto r = tasks::list_dir(s, text(a, "args", "path", false), flag(a, "args", "recursive", false), number(a, "args", "max_entries", 0),
                                 &run.cancel, kSource);
        if (auto* f = std::get_if<tasks::Failure>(&r)) return fail(run, *f);
        auto& l = std::get<tasks::Listing>(r);
        if (run.cancel) return finish(run, {{"status", "cancelled"}});
        json entries = json::array();
        for (const auto& e : l.entries) {
          const char* type = e.type == 'f' ? "file" : e.type == 'd' ? "dir" : e.type == 'l' ? "symlink" : "other";
          entries.push_back({{"path", e.path}, {"type", type}, {"size", e.size}});
        }
        return finish(run, {{"path", l.path}, {"entries", std::move(entries)}, {"truncated", l.truncated}});
      }
      run_op(run, s);
    } catch (const BadArgs& b) {
      error(id, "bad_args", json{{"message", b.message}});
    } catch (const std::exception& e) {
      error(id, "internal", json{{"message", e.what()}});
    }
  }

  // cmd.run, test.run, lint.run: output streamed as Log lines (args.stream, default true) and
  // returned in the Result, both cut at the policy's output limit.
  void run_op(Run& run, const tasks::Scope& s) {
    const proto::Task& t = run.task;
    const json& a = t.args;
    const bool stream = flag(a, "args", "stream", true);
    const uint64_t cap = s.policy.limits.output_bytes;
    struct Stream {
      std::string pending;
      uint64_t sent = 0;
      bool cut = false;
    } streams[3];
    auto send_line = [&](int which, std::string_view l) {
      emit({{"type", "Log"}, {"run_id", t.run_id}, {"level", which == 1 ? "stdout" : "stderr"}, {"message", l}});
    };
    tasks::Events events;
    if (stream)
      events.output = [&](int which, std::string_view chunk) {
        Stream& st = streams[which == 2 ? 2 : 1];
        if (st.cut) return;
        if (st.sent + chunk.size() > cap) {
          chunk = chunk.substr(0, size_t(cap - std::min(cap, st.sent)));
          st.cut = true;
        }
        st.sent += chunk.size();
        st.pending.append(chunk);
        size_t at = 0;
        for (size_t nl; (nl = st.pending.find('\n', at)) != std::string::npos; at = nl + 1) send_line(which, std::string_view(st.pending).substr(at, nl - at));
        st.pending.erase(0, at);
        while (st.pending.size() >= kLogPiece) {
          size_t n = kLogPiece;
          while (n > 0 && (uint8_t(st.pending[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
          send_line(which, std::string_view(st.pending).substr(0, n));
          st.pending.erase(0, n);
        }
        if (st.cut) emit({{"type", "Log"}, {"run_id", t.run_id}, {"level", "warn"}, {"message", "output cut at " + std::to_string(cap) + " bytes"}});
      };
    events.progress = [&](int percent) { emit({{"type", "Progress"}, {"run_id", t.run_id}, {"percent", percent}}); };

    tasks::Done<tasks::Ran> r = tasks::Failure{};
    json extra = json::object();
    if (t.op == "cmd.run") {
      tasks::CommandSpec spec{text(a, "args", "command", false), words(a, "args", "argv"), text(a, "args", "stdin", false),
                              number(a, "args", "timeout_ms", 0)};
      r = tasks::run_command(s, spec, events, &run.cancel, kSource);
    } else {
      tasks::Found found;
      tasks::Scope narrowed = s;
      if (uint64_t ms = number(a, "args", "timeout_ms", 0)) narrowed.policy.limits.wall_ms = std::min(narrowed.policy.limits.wall_ms, ms);
      auto check = t.op == "test.run" ? tasks::Check::Test : tasks::Check::Lint;
      auto log = events;
      log.progress = [&](int percent) {
        if (percent == 0) emit({{"type", "Log"}, {"run_id", t.run_id}, {"level", "info"}, {"message", "running " + found.command + " (" + found.from + ")"}});
        events.progress(percent);
      };
      r = tasks::run_check(narrowed, check, text(a, "args", "command", false), &run.cancel, log, kSource, &found);
      extra = {{"from", found.from}};
    }
    for (int which : {1, 2})
      if (!streams[which].pending.empty()) send_line(which, streams[which].pending);
    if (auto* f = std::get_if<tasks::Failure>(&r)) return fail(run, *f);
    auto& ran = std::get<tasks::Ran>(r);
    const sandbox::Outcome& o = ran.outcome;
    using K = sandbox::Outcome::Kind;
    if (o.kind == K::Refused) return fail(run, {tasks::Failure::Code::Refused, o.reason, sandbox::ViolationKind::Run, ran.command});
    const char* status = o.kind == K::Exited ? (o.code == 0 ? "succeeded" : "failed")
                         : o.kind == K::Signaled ? "failed"
                         : o.kind == K::Timeout ? "timeout"
                         : o.kind == K::Cancelled ? "cancelled"
                                                   : "limit";
    json data = {{"status", status}, {"command", ran.command}, {"reason", o.reason}, {"stdout", o.out}, {"stderr", o.err},
                 {"stdout_truncated", o.out_truncated}, {"stderr_truncated", o.err_truncated}, {"wall_ms", o.wall_ms}, {"cpu_ms", o.cpu_ms}};
    data["exit_code"] = o.kind == K::Exited ? json(o.code) : json(nullptr);
    data["signal"] = o.kind == K::Signaled ? json(o.code) : json(nullptr);
    data.update(extra);
    finish(run, std::move(data));
  }

  const sandbox::Policy policy_;
  const std::string workspace_;
  const size_t workers_;
  std::mutex out_mu_;
  std::mutex mu_;  // live_, queue_, eof_
  std::condition_variable cv_;
  std::unordered_map<std::string, std::shared_ptr<Run>> live_;
  std::deque<std::shared_ptr<Run>> queue_;
  bool eof_ = false;
  std::atomic<bool> broken_{false};
};

int usage(const std::string& why) {
  std::fprintf(stderr, "indexer executor: %s\n%s", why.c_str(), kUsage);
  return 2;
}

}  // namespace

// argv[1] is "executor". Exit 0 at stdin's end; 2 for a usage error.
int cmd_executor(int argc, char** argv) {
  std::string policy_name = "workspace", workspace = ".";
  size_t max_tasks = std::max(2u, std::thread::hardware_concurrency());
  for (int i = 2; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return usage(a.starts_with("--") ? std::string(a) + " needs a value" : "unknown argument '" + std::string(a) + "'");
    std::string v = argv[++i];
    if (a == "--policy") policy_name = v;
    else if (a == "--workspace") workspace = v;
    else if (a == "--max-tasks") {
      char* end = nullptr;
      unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (!end || *end || n < 1 || n > 256) return usage("--max-tasks: a number from 1 to 256");
      max_tasks = n;
    } else {
      return usage("unknown option '" + std::string(a) + "'");
    }
  }
  auto policy = sandbox::load_policy(policy_name);
  if (!policy) return usage(policy.error());
  std::error_code ec;
  std::string ws = std::filesystem::canonical(workspace, ec).string();
  if (ec || !std::filesystem::is_directory(ws, ec)) return usage(workspace + ": not a directory");
  ::signal(SIGPIPE, SIG_IGN);
  return Executor(std::move(*policy), ws, max_tasks).serve();
}
