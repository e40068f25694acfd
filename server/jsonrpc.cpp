// Asio before our headers: its traits call an unqualified query(), which our namespace query
// would hide if it were declared first.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "server/jsonrpc.h"
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

namespace server {
namespace {

constexpr size_t kMaxDepth = 128;
constexpr size_t kMaxBatch = 1000;
constexpr int kTooManyPending = -32001;

// Requests of every connection run here: enough threads that a few slow requests (a rescan, a
// snapshot) leave room for the fast ones.
boost::asio::thread_pool& pool() {
  static boost::asio::thread_pool p(std::max(4u, 2 * std::thread::hardware_concurrency()));
  return p;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_object(const json& id, int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

// Nesting depth outside strings, stopping early once past the limit: cheap, and it keeps a hostile
// message from costing a deep recursion anywhere.
bool too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if (c == ']' || c == '}') {
      if (depth) --depth;
    }
  }
  return false;
}

struct Invalid {
  json id;
  std::string why;
};
struct Call {
  json id;  // null for a notification
  bool notification;
  std::string method;
  json params;
};
struct Reply {};  // a response to a request of ours: nothing to do
using Message = std::variant<Invalid, Call, Reply>;

Message classify(const json& m) {
  if (!m.is_object()) return Invalid{nullptr, "a request must be an object"};
  json id = nullptr;
  bool has_id = m.contains("id");
  if (has_id) {
    const json& v = m["id"];
    if (v.is_string() || v.is_number_integer() || v.is_null()) id = v;
    else return Invalid{nullptr, "id must be a string or an integer"};
  }
  if (!m.contains("method") && has_id && (m.contains("result") || m.contains("error"))) return Reply{};
  auto version = m.find("jsonrpc");
  if (version == m.end() || *version != "2.0") return Invalid{id, "\"jsonrpc\" must be \"2.0\""};
  auto method = m.find("method");
  if (method == m.end() || !method->is_string()) return Invalid{id, "method must be a string"};
  json params = nullptr;
  if (auto p = m.find("params"); p != m.end()) {
    if (!p->is_object() && !p->is_array()) return Invalid{id, "params must be an object or an array"};
    params = *p;
  }
  return Call{id, !has_id, method->get<std::string>(), std::move(params)};
}

}  // namespace

std::string error_response(int code, const std::string& message) { return dump(error_object(nullptr, code, message)); }

struct RpcConnection::State : std::enable_shared_from_this<RpcConnection::State> {
  Handler handler;
  Send send;
  size_t max_pending;
  std::function<bool(const std::string&)> run_inline;
  bool inline_notifications = true;

  struct Pending {
    CancelFlag cancelled{false};
  };
  std::mutex mu;  // pending, running, closed
  std::condition_variable idle;
  std::unordered_map<std::string, std::shared_ptr<Pending>> pending;  // by the id's JSON text
  size_t running = 0;  // jobs posted and not finished
  bool closed = false;
  std::mutex send_mu;
  std::atomic<uint64_t> next_id{1};

  void out(std::string text) {
    std::lock_guard lock(send_mu);
    send(std::move(text));
  }
  void out(const json& message) { out(dump(message)); }

  // The response to one call, serialized; "" for a notification.
  std::string run(const Call& call, const std::shared_ptr<Pending>& p) {
    auto fail = [&](int code, const std::string& message) -> std::string {
      return call.notification ? std::string() : dump(error_object(call.id, p && p->cancelled ? kRequestCancelled : code, message));
    };
    if (p && p->cancelled) return fail(kRequestCancelled, "request cancelled");
    static const CancelFlag never{false};
    try {
      Result r = handler(call.method, call.params, p ? p->cancelled : never);
      if (call.notification) return {};
      if (p && p->cancelled) return fail(kRequestCancelled, "request cancelled");
      if (auto* raw = std::get_if<RawJson>(&r)) {  // the envelope around it, in place: no copy of a large answer
        raw->text.insert(0, "{\"id\":" + dump(call.id) + ",\"jsonrpc\":\"2.0\",\"result\":");
        raw->text += '}';
        return std::move(raw->text);
      }
      return dump(json{{"jsonrpc", "2.0"}, {"id", call.id}, {"result", std::move(std::get<json>(r))}});
    } catch (const RpcError& e) {
      return fail(e.code, e.message);
    } catch (const std::exception& e) {
      return fail(kInternalError, std::string("internal error: ") + e.what());
    }
  }

  std::shared_ptr<Pending> track(const Call& call, bool& refused) {
    refused = false;
    if (call.notification) return nullptr;
    std::lock_guard lock(mu);
    if (pending.size() >= max_pending) {
      refused = true;
      return nullptr;
    }
    auto p = std::make_shared<Pending>();
    pending[call.id.dump()] = p;
    return p;
  }

  void untrack(const Call& call, const std::shared_ptr<Pending>& p) {
    if (!p) return;
    std::lock_guard lock(mu);
    auto it = pending.find(call.id.dump());
    if (it != pending.end() && it->second == p) pending.erase(it);
  }

  // Runs `job` on the pool, counted, so close() can wait for it.
  template <typename Job>
  void post(Job job) {
    {
      std::lock_guard lock(mu);
      ++running;
    }
    boost::asio::post(pool(), [self = shared_from_this(), job = std::move(job)]() mutable {
      struct Done {  // counted down even if the job throws
        State& s;
        ~Done() {
          std::lock_guard lock(s.mu);
          if (--s.running == 0) s.idle.notify_all();
        }
      } done{*self};
      try {
        job(*self);
      } catch (...) {  // a transport that throws from send: the answer is lost, not the pool
      }
    });
  }

  void cancel(const json& params) {
    if (!params.is_object() || !params.contains("id")) return;
    std::lock_guard lock(mu);
    if (auto it = pending.find(params["id"].dump()); it != pending.end()) it->second->cancelled = true;
  }
};

RpcConnection::RpcConnection(Handler handler, Send send, size_t max_pending, std::function<bool(const std::string&)> run_inline)
    : state_(std::make_shared<State>()) {
  state_->handler = std::move(handler);
  state_->send = std::move(send);
  state_->max_pending = max_pending;
  state_->run_inline = std::move(run_inline);
}

RpcConnection::~RpcConnection() {
  // Not waiting: requests still running hold the state and answer into `send`, which must cope
  // with a transport that has gone (close() first to wait instead).
  std::lock_guard lock(state_->mu);
  state_->closed = true;
}

void RpcConnection::receive(std::string_view text) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mu);
    if (s.closed) return;
  }
  if (too_deep(text)) {
    s.out(error_object(nullptr, kParseError, "parse error: nested deeper than " + std::to_string(kMaxDepth)));
    return;
  }
  json message = json::parse(text.begin(), text.end(), nullptr, false);
  if (message.is_discarded()) {
    s.out(error_object(nullptr, kParseError, "parse error: not JSON (or not UTF-8)"));
    return;
  }

  if (message.is_array()) {
    if (message.empty() || message.size() > kMaxBatch) {
      s.out(error_object(nullptr, kInvalidRequest, message.empty() ? "an empty batch" : "a batch of more than 1000"));
      return;
    }
    // One job answers the batch with one array, in the order of its members.
    std::vector<Message> members;
    for (const auto& m : message) members.push_back(classify(m));
    std::vector<std::shared_ptr<State::Pending>> tracked;
    std::vector<bool> refused(members.size());
    for (size_t i = 0; i < members.size(); ++i) {
      bool r = false;
      tracked.push_back(std::holds_alternative<Call>(members[i]) ? s.track(std::get<Call>(members[i]), r) : nullptr);
      refused[i] = r;
    }
    s.post([members = std::move(members), tracked = std::move(tracked), refused](State& st) {
      std::string out;
      auto add = [&](const std::string& r) {
        if (r.empty()) return;
        out += out.empty() ? '[' : ',';
        out += r;
      };
      for (size_t i = 0; i < members.size(); ++i) {
        if (const auto* bad = std::get_if<Invalid>(&members[i])) add(dump(error_object(bad->id, kInvalidRequest, bad->why)));
        else if (const auto* call = std::get_if<Call>(&members[i])) {
          if (call->method == "$/cancelRequest") {
            st.cancel(call->params);
            continue;
          }
          add(refused[i] ? dump(error_object(call->id, kTooManyPending, "too many pending requests")) : st.run(*call, tracked[i]));
          st.untrack(*call, tracked[i]);
        }
      }
      if (!out.empty()) st.out(out + "]");
    });
    return;
  }

  Message m = classify(message);
  if (const auto* bad = std::get_if<Invalid>(&m)) {
    s.out(error_object(bad->id, kInvalidRequest, bad->why));
    return;
  }
  if (std::holds_alternative<Reply>(m)) return;
  Call call = std::get<Call>(std::move(m));
  if (call.method == "$/cancelRequest") {
    s.cancel(call.params);
    return;
  }
  if (call.notification && s.inline_notifications) {
    // In order, before anything that comes after: a didChange must land before the request that
    // follows it reads the buffer.
    s.run(call, nullptr);
    return;
  }
  if (s.run_inline && s.run_inline(call.method)) {  // cheap: not worth two thread hops
    s.out(s.run(call, nullptr));
    return;
  }
  bool refused = false;
  auto tracked = s.track(call, refused);
  if (refused) {
    s.out(error_object(call.id, kTooManyPending, "too many pending requests"));
    return;
  }
  s.post([call = std::move(call), tracked](State& st) {
    std::string r = st.run(call, tracked);
    st.untrack(call, tracked);
    if (!r.empty()) st.out(std::move(r));
  });
}

void RpcConnection::send_raw(const std::string& message) { state_->out(message); }
void RpcConnection::inline_notifications(bool on) { state_->inline_notifications = on; }

void RpcConnection::notify(const std::string& method, const json& params) {
  state_->out(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
}

void RpcConnection::request(const std::string& method, const json& params) {
  state_->out(json{{"jsonrpc", "2.0"}, {"id", "indexer-" + std::to_string(state_->next_id++)}, {"method", method}, {"params", params}});
}

size_t RpcConnection::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->pending.size();
}

void RpcConnection::close() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.closed = true;
  s.idle.wait(lock, [&] { return s.running == 0; });
}

}  // namespace server
