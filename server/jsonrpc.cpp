// Asio before our headers: its traits call an unqualified query(), which our namespace query
// would hide if it were declared first.
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include "server/jsonrpc.h"
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>

namespace server {
namespace {

constexpr size_t kMaxDepth = 128;
constexpr size_t kMaxBatch = 1000;
constexpr int kOverLimit = -32001;

// Requests of every connection run here: enough threads that a few slow requests (a rescan, a
// snapshot) leave room for the fast ones.
size_t pool_threads() { return std::max(4u, 2 * std::thread::hardware_concurrency()); }
boost::asio::thread_pool& pool() {
  static boost::asio::thread_pool p(pool_threads());
  return p;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_object(const json& id, int code, const std::string& message) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

std::string bytes_text(size_t n) {
  return n % (1 << 20) == 0 ? std::to_string(n >> 20) + " MiB" : n % 1024 == 0 ? std::to_string(n >> 10) + " KiB" : std::to_string(n) + " bytes";
}

// What parsing would find too late, found before anything is built: nesting deeper than the
// limit (outside strings; a hostile message cannot cost a deep recursion anywhere) and bytes that
// are not UTF-8. Null when the text may be parsed. One pass, stopping at the first fault.
const char* precheck(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence(text, i);
      if (!n) return "parse error: not UTF-8";
      i += n - 1;
    } else if (in_string) {
      if (c == '\\' && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0x80) ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return "parse error: nested deeper than 128";
    } else if (c == ']' || c == '}') {
      if (depth) --depth;
    }
  }
  return nullptr;
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
  // null is taken as absent: Emacs's jsonrpc.el (Eglot) sends "params": null for LSP's shutdown and exit.
  if (auto p = m.find("params"); p != m.end() && !p->is_null()) {
    if (!p->is_object() && !p->is_array()) return Invalid{id, "params must be an object or an array"};
    params = *p;
  }
  return Call{id, !has_id, method->get<std::string>(), std::move(params)};
}

}  // namespace

std::string error_response(int code, const std::string& message) { return dump(error_object(nullptr, code, message)); }

// Here rather than in service.cpp, which uses it too: the fuzz target of this file links nothing else.
size_t utf8_sequence(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  bool ok = len && i + len <= s.size();
  for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  if (ok && len == 3) {
    unsigned char d = static_cast<unsigned char>(s[i + 1]);
    ok = !(c == 0xE0 && d < 0xA0) && !(c == 0xED && d >= 0xA0);  // overlong, surrogates
  }
  if (ok && len == 4) {
    unsigned char d = static_cast<unsigned char>(s[i + 1]);
    ok = !(c == 0xF0 && d < 0x90) && !(c == 0xF4 && d >= 0x90);  // overlong, past U+10FFFF
  }
  return ok ? len : 0;
}

std::string read_request(std::string_view text, std::string& method, json& id, json& params) {
  if (const char* why = precheck(text)) return error_response(kParseError, why);
  json message = json::parse(text.begin(), text.end(), nullptr, false);
  if (message.is_discarded()) return error_response(kParseError, "parse error: not JSON");
  if (message.is_array()) return error_response(kInvalidRequest, "a batch is not accepted here: send one request");
  Message m = classify(message);
  if (const auto* bad = std::get_if<Invalid>(&m)) return dump(error_object(bad->id, kInvalidRequest, bad->why));
  if (std::holds_alternative<Reply>(m)) return error_response(kInvalidRequest, "a response, not a request");
  Call& call = std::get<Call>(m);
  method = std::move(call.method);
  id = std::move(call.id);
  params = std::move(call.params);
  return {};
}

struct RpcConnection::State : std::enable_shared_from_this<RpcConnection::State> {
  using Job = std::function<void(State&)>;

  Handler handler;
  Send send;
  size_t max_pending;
  Where where;
  bool inline_notifications = true;
  Limits limits;

  struct Pending {
    CancelFlag cancelled{false};
  };
  std::mutex mu;  // everything down to `closed`
  std::condition_variable idle;
  // Requests by their id's JSON text, for $/cancelRequest: ids may repeat, so a multimap.
  std::unordered_multimap<std::string, std::shared_ptr<Pending>> by_id;
  size_t accepted = 0;  // calls admitted and not finished: what max_pending bounds
  size_t running = 0;   // jobs posted or queued and not finished: what close() waits for
  size_t on_pool = 0;   // jobs on the pool now
  size_t held = 0;      // bytes of the messages whose calls are accepted and not finished
  std::deque<Job> queued;  // jobs waiting for their share of the pool
  bool closed = false;
  std::mutex send_mu;
  std::atomic<uint64_t> next_id{1};

  void out(std::string text) {
    std::lock_guard lock(send_mu);
    send(std::move(text));
  }
  void out(const json& message) { out(dump(message)); }

  std::string too_many() const { return "too many pending requests (at most " + std::to_string(max_pending) + " a connection)"; }
  std::string too_much() const {
    return "too much pending: over " + bytes_text(limits.max_held) + " of requests waiting on this connection";
  }

  // What a waiting call holds is its parsed params, a few times the message's size: the messages
  // of a connection's accepted calls are bounded in bytes as well as in number. One message is
  // always taken when nothing else is held.
  bool hold(size_t bytes) {
    std::lock_guard lock(mu);
    if (held && held + bytes > limits.max_held) return false;
    held += bytes;
    return true;
  }
  void unhold(size_t bytes) {
    std::lock_guard lock(mu);
    held -= bytes;
  }

  // Sends an answer within the limits: one over max_answer (a batch's is cut to it as it is
  // built), or one that would leave more than max_unread bytes unread, becomes -32001 for each of
  // the requests it answers. Under the send lock, so answers sent at once cannot all pass.
  void answer(std::string text, const std::vector<json>& ids, bool batch) {
    auto refuse = [&](const std::string& why) {
      std::string out = batch ? "[" : "";
      for (const json& id : ids) {
        if (out.size() > 1) out += ',';
        out += dump(error_object(id, kOverLimit, why));
      }
      return batch ? out + "]" : out;
    };
    if (!batch && text.size() > limits.max_answer)
      text = refuse("the answer is over the " + bytes_text(limits.max_answer) + " limit: ask for less (a lower limit, fewer paths)");
    std::lock_guard lock(send_mu);
    if (limits.unread && limits.unread() + text.size() > limits.max_unread)
      text = refuse("over " + bytes_text(limits.max_unread) + " of answers unread on this connection: read them first");
    send(std::move(text));
  }

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

  // Counts a call toward max_pending: false when the connection is at the limit. A request also
  // gets the flag that cancels it.
  bool admit(const Call& call, std::shared_ptr<Pending>& p) {
    std::lock_guard lock(mu);
    if (accepted >= max_pending) return false;
    ++accepted;
    if (!call.notification) by_id.emplace(call.id.dump(), p = std::make_shared<Pending>());
    return true;
  }

  void release(const Call& call, const std::shared_ptr<Pending>& p) {
    std::lock_guard lock(mu);
    --accepted;
    if (!p) return;
    auto [it, end] = by_id.equal_range(call.id.dump());
    for (; it != end; ++it)
      if (it->second == p) {
        by_id.erase(it);
        break;
      }
  }

  // Runs `job` on the pool, counted, so close() can wait for it. With a fair share, a connection
  // with half the pool's threads busy queues the rest here, not in the pool's own queue, where
  // they would sit ahead of every other connection's requests.
  void post(Job job) {
    {
      std::lock_guard lock(mu);
      ++running;
      if (limits.fair_share && on_pool >= std::max<size_t>(1, pool_threads() / 2)) {
        queued.push_back(std::move(job));
        return;
      }
      ++on_pool;
    }
    dispatch(std::move(job));
  }

  // Runs `job` on a module's executor, counted like the pool's jobs; the pool's share is not
  // touched (the executor has threads of its own).
  void post_to(const Executor& executor, Job job) {
    {
      std::lock_guard lock(mu);
      ++running;
    }
    executor([self = shared_from_this(), job = std::move(job)]() mutable {
      try {
        job(*self);
      } catch (...) {  // a transport that throws from send: the answer is lost, not the executor
      }
      std::lock_guard lock(self->mu);
      if (--self->running == 0) self->idle.notify_all();
    });
  }

  void dispatch(Job job) {
    boost::asio::post(pool(), [self = shared_from_this(), job = std::move(job)]() mutable {
      try {
        job(*self);
      } catch (...) {  // a transport that throws from send: the answer is lost, not the pool
      }
      Job next;
      {
        std::lock_guard lock(self->mu);
        if (--self->running == 0) self->idle.notify_all();
        if (!self->queued.empty()) {
          next = std::move(self->queued.front());
          self->queued.pop_front();
        } else {
          --self->on_pool;
        }
      }
      if (next) self->dispatch(std::move(next));
    });
  }

  void cancel(const json& params) {
    if (!params.is_object() || !params.contains("id")) return;
    std::lock_guard lock(mu);
    auto [it, end] = by_id.equal_range(params["id"].dump());
    for (; it != end; ++it) it->second->cancelled = true;
  }
};

RpcConnection::RpcConnection(Handler handler, Send send, size_t max_pending, Where where)
    : state_(std::make_shared<State>()) {
  state_->handler = std::move(handler);
  state_->send = std::move(send);
  state_->max_pending = max_pending;
  state_->where = std::move(where);
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
  if (const char* why = precheck(text)) {
    s.out(error_object(nullptr, kParseError, why));
    return;
  }
  json message = json::parse(text.begin(), text.end(), nullptr, false);
  if (message.is_discarded()) {
    s.out(error_object(nullptr, kParseError, "parse error: not JSON"));
    return;
  }

  if (message.is_array()) {
    if (message.empty() || message.size() > kMaxBatch) {
      s.out(error_object(nullptr, kInvalidRequest, message.empty() ? "an empty batch" : "a batch of more than 1000"));
      return;
    }
    // One job answers the batch with one array, in the order of its members. Each member counts
    // toward max_pending; those past it are refused at once.
    std::vector<Message> members;
    for (const auto& m : message) members.push_back(classify(m));
    message = nullptr;  // the members hold their own copies
    std::vector<std::shared_ptr<State::Pending>> tracked(members.size());
    std::vector<char> admitted(members.size());
    const size_t bytes = s.hold(text.size()) ? text.size() : 0;
    for (size_t i = 0; i < members.size(); ++i)
      if (const auto* call = std::get_if<Call>(&members[i]); bytes && call && call->method != "$/cancelRequest")
        admitted[i] = s.admit(*call, tracked[i]);
    // A member refused keeps only what its answer needs: its params, the bulk of a large batch,
    // would otherwise wait in the queue behind slow calls outside the max_held budget.
    for (size_t i = 0; i < members.size(); ++i)
      if (auto* call = std::get_if<Call>(&members[i]); call && !admitted[i] && call->method != "$/cancelRequest") call->params = nullptr;
    const bool none = std::find(admitted.begin(), admitted.end(), 1) == admitted.end();
    auto job = [members = std::move(members), tracked = std::move(tracked), admitted = std::move(admitted), bytes](State& st) {
      std::string out;
      std::vector<json> ids;  // of every answer in `out`
      auto add = [&](const json& id, const std::string& r) {
        out += out.empty() ? '[' : ',';
        out += r;
        ids.push_back(id);
      };
      // Once the answer is full, the members left are not run: they are answered with the limit.
      bool full = false;
      const std::string over = "the batch's answer is over the " + bytes_text(st.limits.max_answer) + " limit: ask for less (a smaller batch, a lower limit)";
      for (size_t i = 0; i < members.size(); ++i) {
        if (const auto* bad = std::get_if<Invalid>(&members[i])) {
          add(bad->id, dump(error_object(bad->id, kInvalidRequest, bad->why)));
          continue;
        }
        const auto* call = std::get_if<Call>(&members[i]);
        if (!call) continue;
        if (call->method == "$/cancelRequest") {
          st.cancel(call->params);
          continue;
        }
        if (!admitted[i]) {
          if (!call->notification) add(call->id, dump(error_object(call->id, kOverLimit, bytes ? st.too_many() : st.too_much())));
          continue;
        }
        if (!full) {
          std::string r = st.run(*call, tracked[i]);
          if (out.size() + r.size() + 2 > st.limits.max_answer) full = true;
          else if (!r.empty()) add(call->id, r);
        }
        if (full && !call->notification) add(call->id, dump(error_object(call->id, kOverLimit, over)));
        st.release(*call, tracked[i]);
      }
      st.unhold(bytes);
      if (out.empty()) return;
      out += ']';
      st.answer(std::move(out), ids, true);
    };
    // With nothing admitted the job runs no call: its refusals go now, not after the slow calls.
    if (none) job(s);
    else s.post(std::move(job));
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
  Placement at = s.where ? s.where(call.method) : Placement{};
  if (at.inline_call) {  // cheap: not worth two thread hops
    std::string r = s.run(call, nullptr);
    if (!r.empty()) s.answer(std::move(r), {call.id}, false);  // a notification: nothing, not even an empty frame
    return;
  }
  if (!s.hold(text.size())) {
    if (!call.notification) s.out(error_object(call.id, kOverLimit, s.too_much()));
    return;
  }
  std::shared_ptr<State::Pending> tracked;
  if (!s.admit(call, tracked)) {
    s.unhold(text.size());
    if (!call.notification) s.out(error_object(call.id, kOverLimit, s.too_many()));
    return;
  }
  State::Job job = [call = std::move(call), tracked, bytes = text.size()](State& st) {
    std::string r = st.run(call, tracked);
    st.release(call, tracked);
    st.unhold(bytes);
    if (!r.empty()) st.answer(std::move(r), {call.id}, false);
  };
  if (at.executor) s.post_to(*at.executor, std::move(job));
  else s.post(std::move(job));
}

void RpcConnection::send_raw(const std::string& message) { state_->out(message); }
void RpcConnection::inline_notifications(bool on) { state_->inline_notifications = on; }
void RpcConnection::limit(Limits limits) { state_->limits = std::move(limits); }

void RpcConnection::notify(const std::string& method, const json& params) {
  state_->out(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
}

void RpcConnection::request(const std::string& method, const json& params) {
  state_->out(json{{"jsonrpc", "2.0"}, {"id", "indexer-" + std::to_string(state_->next_id++)}, {"method", method}, {"params", params}});
}

size_t RpcConnection::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->accepted;
}

void RpcConnection::close() {
  State& s = *state_;
  std::unique_lock lock(s.mu);
  s.closed = true;
  s.idle.wait(lock, [&] { return s.running == 0; });
}

}  // namespace server
