// The one Beast translation unit (it costs ~35 s and 550 MB to compile): keep it to transport.
// Asio and Beast come before our headers: their traits call an unqualified query(), which our
// namespace query would hide.
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "server/ws_server.h"

#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <future>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "indexer/confine.h"
#include "server/json_scan.h"
#include "server/jsonrpc.h"
#include "server/index_methods.h"
#include "server/local_socket.h"
#include "server/lsp_session.h"
#include "server/metrics.h"
#include "server/registry.h"
#include "server/http_routes.h"
#include "server/stdio_io.h"

namespace server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
// TCP or a Unix socket, chosen at run time: one session type serves both, so the Beast code is
// compiled once (a template over the socket type would compile it twice).
using stream_protocol = net::generic::stream_protocol;
using stream = beast::basic_stream<stream_protocol>;
using Clock = std::chrono::steady_clock;

class WsSession;

// What every session shares: the tree, the metrics, the subscribers.
struct Hub {
  const ServeOptions& options;
  detail::Workspace workspace;
  Metrics metrics;
  std::atomic<size_t> connections{0};  // every accepted connection still open
  std::atomic<bool> out_of_descriptors{false};  // said once an episode
  // Set once the index is ready and every session then open was sent the end of its progress:
  // /health says "ok" only after it, so a client that waited for it gets no stale "end".
  std::atomic<bool> ready{false};
  std::mutex progress_mu;
  indexer::Progress progress;  // of the first index, for LSP clients' reports
  indexer::Progress progress_now() {
    std::lock_guard lock(progress_mu);
    return progress;
  }
  std::mutex mu;  // sessions
  std::vector<std::weak_ptr<WsSession>> sessions;
  // POST /rpc runs here: it waits for its request, and a network thread serves many connections.
  net::thread_pool http_rpc{2};

  explicit Hub(const ServeOptions& o) : options(o), metrics(registry().names()) {}

  template <typename F>
  void each_session(F&& f) {
    std::vector<std::shared_ptr<WsSession>> live;
    {
      std::lock_guard lock(mu);
      std::erase_if(sessions, [](const auto& w) { return w.expired(); });
      for (auto& w : sessions)
        if (auto s = w.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) f(*s);
  }

  Metrics::Gauges gauges() {
    Metrics::Gauges g;
    if (Service* s = workspace.service()) {
      auto view = s->tree().index();
      g.ready = true, g.files = view->file_count(), g.symbols = view->symbol_count(), g.index_bytes = view->memory().total();
    }
    return g;
  }

  // Where a call runs, as its registration says; a method that needs the index runs inline only
  // once the index is there (before, it waits, and must not hold the network thread).
  RpcConnection::Placement where(const std::string& name) {
    const Method* m = registry().find(name);
    if (!m) return {.inline_call = true};  // answered at once: -32601
    if (m->runs == Runs::Inline) return {.inline_call = !m->needs_index || workspace.service()};
    return {.inline_call = false, .executor = m->runs == Runs::Executor ? m->executor : nullptr};
  }

  // A registered method, timed and counted under its name.
  Result call(const std::string& method, const json& params, const CancelFlag& cancelled,
              std::function<void(const std::string&, const json&)> notify = {}, uint64_t connection = 0) {
    auto t = Clock::now();
    bool error = true;
    struct Count {
      Hub& hub;
      const std::string& method;
      Clock::time_point t;
      bool& error;
      ~Count() { hub.metrics.request(method, std::chrono::duration<double>(Clock::now() - t).count(), error); }
    } count{*this, method, t, error};
    Result out = registry().call(method, params, workspace, cancelled, std::move(notify), connection);
    error = false;
    return out;
  }
};

bool loopback(const std::string& address) {
  boost::system::error_code ec;
  auto a = net::ip::make_address(address, ec);
  return !ec && a.is_loopback();
}

// The token of a request, from "Authorization: Bearer T" (the scheme is case-insensitive, RFC
// 9110 11.1, and may be followed by more than one space).
std::string bearer(const http::request<http::string_body>& req) {
  auto it = req.find(http::field::authorization);
  if (it == req.end()) return {};
  std::string_view v(it->value().data(), it->value().size());
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  if (v.size() < 7 || ::strncasecmp(v.data(), "bearer", 6) != 0 || !blank(v[6])) return {};
  v.remove_prefix(6);
  while (!v.empty() && blank(v.front())) v.remove_prefix(1);
  while (!v.empty() && blank(v.back())) v.remove_suffix(1);
  return std::string(v);
}

// In time that does not depend on where they differ: the comparison does not tell a guesser how
// much of the token was right.
bool same_token(std::string_view given, std::string_view token) {
  if (token.empty()) return given.empty();
  unsigned char diff = given.size() != token.size();
  for (size_t i = 0; i < given.size(); ++i) diff |= static_cast<unsigned char>(given[i] ^ token[i % token.size()]);
  return diff == 0;
}

bool authorized(const ServeOptions& o, const http::request<http::string_body>& req) {
  return o.token.empty() || same_token(bearer(req), o.token);
}

// Never throws: a path or token that is not UTF-8 (a root's name, a file's) comes out with U+FFFD.
std::string json_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string error_text(const json& id, int code, const std::string& message) {
  return json_text(json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

// One accepted connection, counted toward max_connections from accept() until it closes,
// whatever it turns out to be (a WebSocket takes it over from the HTTP session that upgraded).
struct Slot {
  Hub& hub;
  explicit Slot(Hub& h) : hub(h) { ++hub.connections; }
  ~Slot() { --hub.connections; }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
};

// A browser's cross-site request: an Origin that is not allowed. Requests without one are from
// programs, not pages.
bool origin_refused(const ServeOptions& o, const http::request<http::string_body>& req) {
  auto it = req.find(http::field::origin);
  if (it == req.end()) return false;
  std::string origin(it->value().data(), it->value().size());
  return std::find(o.allowed_origins.begin(), o.allowed_origins.end(), origin) == o.allowed_origins.end();
}

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  WsSession(stream_protocol::socket socket, Hub& hub, std::unique_ptr<Slot> slot)
      : ws_(std::move(socket)), hub_(hub), slot_(std::move(slot)), deadline_(ws_.get_executor()) {}

  ~WsSession() { hub_.metrics.connections(-1); }

  // `lsp`: the upgrade asked for /lsp, an LSP conversation (lsp_session.h) on the hub's tree.
  void run(http::request<http::string_body> req, bool authenticated, bool lsp = false) {
    const ServeOptions& o = hub_.options;
    authenticated_ = authenticated;
    hub_.metrics.connections(+1);
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // Before login, one small message (Beast refuses a longer one from its frame header, before
    // reading it) within a deadline: a client without the token cannot make us hold much, or long.
    ws_.read_message_max(authenticated ? o.max_message : o.max_unauthenticated);
    if (!authenticated) {
      deadline_.expires_after(o.login_deadline);
      deadline_.async_wait([weak = weak_from_this()](beast::error_code ec) {
        auto self = weak.lock();
        if (ec || !self || self->authenticated_) return;
        beast::get_lowest_layer(self->ws_).socket().close(ec);  // the pending read fails: the session ends
      });
    }
    // One frame a message: Beast's default cuts a message into 4 KB frames, each its own send
    // (a 10 KB answer was three syscalls, three segments and as many wakeups of the client).
    ws_.auto_fragment(false);
    std::weak_ptr<WsSession> weak = weak_from_this();
    if (lsp) start_lsp();
    // Requests may still run after the client has gone: they hold the session weakly.
    rpc_ = std::make_shared<RpcConnection>(
        [weak](const std::string& m, const json& p, const CancelFlag& c) {
          auto self = weak.lock();
          if (!self) throw RpcError{kRequestCancelled, "the connection has closed"};
          return self->handle(m, p, c);
        },
        [weak](std::string message) {
          if (auto self = weak.lock()) self->send(std::move(message));
        },
        o.max_pending, [&hub = hub_, lsp = lsp_.get()](const std::string& m) { return lsp ? lsp->where(m) : hub.where(m); });
    rpc_->inline_notifications(lsp);  // none of ours changes what a later request reads; LSP's didChange does
    rpc_->limit({.fair_share = true, .max_answer = o.max_answer, .max_unread = o.max_unread, .max_held = o.max_held, .unread = [weak] {
                   auto self = weak.lock();
                   return self ? self->unsent_.load() : size_t(0);
                 }});
    ws_.async_accept(req, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
  }

  // Any thread: queued on the session's network thread, written in order once the handshake is done.
  void send(std::string message) {
    unsent_ += message.size();  // at once, so answers ready on other threads see it
    net::post(ws_.get_executor(), [self = shared_from_this(), m = std::move(message)]() mutable {
      self->queue_.push_back(std::move(m));
      if (self->open_ && !self->writing_) self->write_next();
    });
  }

  // Any thread: rpc_ belongs to the session's network thread (on_read resets it), so the notification goes there.
  // A client far behind on reading loses notifications rather than growing our memory.
  void notify(const std::string& method, const json& params) {
    if (lsp_) return;  // the hub's broadcasts: an LSP client has its own progress, and no subscription
    speak(method, params, false);
  }

  // At shutdown, after the network threads stopped: waits for the requests still running.
  std::shared_ptr<RpcConnection> connection() const { return rpc_; }
  bool subscribed() const { return subscribed_; }

 private:
  void speak(const std::string& method, const json& params, bool request) {
    net::post(ws_.get_executor(), [self = shared_from_this(), method, params, request] {
      if (!self->rpc_ || self->unsent_ > 2 * self->hub_.options.max_unsent) return;
      if (request) self->rpc_->request(method, params);
      else self->rpc_->notify(method, params);
    });
  }

  void start_lsp() {
    std::weak_ptr<WsSession> weak = weak_from_this();
    StdioOptions options;
    options.index = hub_.options.index;
    options.max_message = hub_.options.max_message;
    detail::LspSession::Peer peer{
        .notify = [weak](const std::string& m, const json& p) { if (auto self = weak.lock()) self->speak(m, p, false); },
        .request = [weak](const std::string& m, const json& p) { if (auto self = weak.lock()) self->speak(m, p, true); },
        // exit: what was answered is written, then the connection is closed (on_write).
        .exit = [weak] {
          if (auto self = weak.lock()) net::post(self->ws_.get_executor(), [self] {
              self->closing_ = true;
              if (!self->writing_ && self->queue_.empty()) self->close_now(websocket::close_code::normal);
            });
        }};
    Hub& hub = hub_;
    lsp_ = std::make_unique<detail::LspSession>(hub.workspace, options, false, [&hub] { return hub.progress_now(); }, std::move(peer));
  }

  void close_now(websocket::close_code code) {
    if (close_sent_) return;
    close_sent_ = true;
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) {});
  }

  Result handle(const std::string& method, const json& params, const CancelFlag& cancelled) {
    if (lsp_) return lsp_->handle(method, params, cancelled);
    // The session's own methods (registered in protocol_methods.cpp as WebSocket only).
    if (method == "index/subscribe") return json(subscribed_ = true);
    if (method == "index/unsubscribe") return json((subscribed_ = false, true));
    if (method == "authenticate") return json(true);  // already: by header, or no token needed
    // A method's notifications go out with one post, as its answer does, so they arrive before it.
    auto notify = [weak = weak_from_this()](const std::string& m, const json& p) {
      if (auto self = weak.lock(); self && self->unsent_ <= 2 * self->hub_.options.max_unsent)
        self->send(json_text(json{{"jsonrpc", "2.0"}, {"method", m}, {"params", p}}));
    };
    return hub_.call(method, params, cancelled, std::move(notify), number_);
  }

  void on_accept(beast::error_code ec) {
    if (ec) return;
    open_ = true;
    if (authenticated_) join_hub();
    if (!queue_.empty() && !writing_) write_next();
    read();
  }

  // Broadcasts reach a session once it is open and authenticated.
  void join_hub() {
    std::lock_guard lock(hub_.mu);
    hub_.sessions.push_back(weak_from_this());
  }

  void read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec) {  // closed, reset, or a frame over the limit: the session ends, the server goes on
      rpc_.reset();
      if (lsp_) lsp_->stop();
      return;
    }
    // Read in place (the buffer holds the whole message, contiguous); a buffer grown by a large
    // message is given back rather than kept for the life of the connection.
    std::string_view message(static_cast<const char*>(buffer_.data().data()), buffer_.size());
    if (!authenticated_) {
      authenticate(message, ws_.got_text());
    } else if (!ws_.got_text()) {
      send(error_response(kInvalidRequest, "binary frames are not JSON-RPC: send text frames"));
    } else {
      rpc_->receive(message);
    }
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > 64 * 1024) buffer_.shrink_to_fit();
    if (closing_) return;  // refused: nothing more is read
    // Backpressure: a client that does not read its answers is not read from either.
    if (unsent_ > hub_.options.max_unsent) paused_ = true;
    else read();
  }

  // The first message when a token is needed and none came with the upgrade: read with every
  // check a request gets (a client's JSON is typed by the client); anything but the right token
  // is answered and closes the connection.
  void authenticate(std::string_view message, bool text) {
    std::string method;
    json id, params;
    std::string refused = text ? read_request(message, method, id, params)
                               : error_response(kInvalidRequest, "binary frames are not JSON-RPC: send text frames");
    if (refused.empty()) {
      const json& token = member(params, "token");
      if (method != "authenticate") refused = error_text(id, -32000, "authenticate {token} first");
      else if (!token.is_string()) refused = error_text(id, kInvalidParams, "param 'token' must be a string");
      else if (!same_token(token.get_ref<const std::string&>(), hub_.options.token)) refused = error_text(id, -32000, "authenticate {token}: wrong token");
    }
    if (!refused.empty()) {
      send(std::move(refused));
      closing_ = true;
      return;
    }
    authenticated_ = true;
    deadline_.cancel();
    ws_.read_message_max(hub_.options.max_message);
    join_hub();
    if (!id.is_null()) send(json_text(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", true}}));
  }

  void write_next() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()), beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, size_t) {
    if (ec) {
      for (const auto& m : queue_) unsent_ -= m.size();
      queue_.clear();
      writing_ = false;
      return;
    }
    unsent_ -= queue_.front().size();
    queue_.pop_front();
    if (!queue_.empty()) return write_next();
    writing_ = false;
    if (closing_) return close_now(lsp_ && authenticated_ ? websocket::close_code::normal : websocket::close_code::policy_error);
    if (paused_ && unsent_ <= hub_.options.max_unsent / 2) {
      paused_ = false;
      read();
    }
  }

  websocket::stream<stream> ws_;
  Hub& hub_;
  std::unique_ptr<Slot> slot_;
  net::steady_timer deadline_;  // to authenticate
  beast::flat_buffer buffer_;
  std::shared_ptr<RpcConnection> rpc_;
  std::deque<std::string> queue_;
  std::atomic<size_t> unsent_{0};  // queued and not yet written; any thread adds, the network thread subtracts
  bool open_ = false, writing_ = false, paused_ = false, authenticated_ = false, closing_ = false, close_sent_ = false;
  std::atomic<bool> subscribed_{false};
  std::unique_ptr<detail::LspSession> lsp_;  // set on /lsp
  const uint64_t number_ = [] {
    static std::atomic<uint64_t> next{1};
    return next++;
  }();
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(stream_protocol::socket socket, Hub& hub, std::unique_ptr<Slot> slot) : stream_(std::move(socket)), hub_(hub), slot_(std::move(slot)) {}

  // On the socket's own network thread, where all of its handlers run.
  void run() { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&HttpSession::read, shared_from_this())); }

 private:
  // The headers first, within the login deadline (a client that never finishes them is dropped
  // then); the body after them, with a limit that depends on whether they carried the token.
  void read() {
    parser_.emplace();
    parser_->header_limit(8 * 1024);
    // Beast compares a Content-Length with the body limit as the headers are read: its default
    // (1 MiB) refused larger bodies before on_header() could set ours, with a reset, not a 413.
    parser_->body_limit(hub_.options.max_message);
    stream_.expires_after(hub_.options.login_deadline);
    http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) return respond(error(http::status::payload_too_large, "request body over the limit", 11), false);
    if (ec) return;  // timed out, headers over the limit, not HTTP: dropped
    const ServeOptions& o = hub_.options;
    // On a Unix socket, its file's mode decides who connects: no token.
    authorized_ = !o.socket_path.empty() || authorized(o, parser_->get());
    // Without the token a request is refused whatever its body says: a few KB of it are read, no more.
    parser_->body_limit(authorized_ ? o.max_message : o.max_unauthenticated);
    if (parser_->is_done()) return on_read({}, 0);
    stream_.expires_after(authorized_ ? std::chrono::seconds(30) : o.login_deadline);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&HttpSession::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec == http::error::body_limit) return respond(error(http::status::payload_too_large, "request body over the limit", 11), false);
    if (ec) return;
    http::request<http::string_body> req = parser_->release();
    const ServeOptions& o = hub_.options;
    if (websocket::is_upgrade(req)) {
      if (origin_refused(o, req)) return respond(error(http::status::forbidden, "this Origin may not connect", req.version()), false);
      stream_.expires_never();
      std::string_view target(req.target().data(), req.target().size());
      bool lsp = target.substr(0, target.find('?')) == "/lsp";
      std::make_shared<WsSession>(stream_.release_socket(), hub_, std::move(slot_))->run(std::move(req), authorized_, lsp);
      return;
    }
    if (rpc_ready(req, authorized_)) return answer_rpc(std::move(req));
    if (const HttpRoute* route = authorized_ && !origin_refused(o, req) ? find_route(method_of(req), path_of(req)) : nullptr)
      return answer_route(*route, std::move(req));
    // A client without the token gets its answer (401, or /health) and the connection is closed.
    respond(handle(req, authorized_), req.keep_alive() && authorized_);
  }

  // A POST /rpc that will be answered (else handle() says why not).
  bool rpc_ready(const http::request<http::string_body>& req, bool authorized) {
    std::string_view target(req.target().data(), req.target().size());
    return req.method() == http::verb::post && target.substr(0, target.find('?')) == "/rpc" && authorized &&
           !origin_refused(hub_.options, req) && hub_.workspace.service();
  }

  // On the pool, since the request may take long (a refresh); the answer comes back to this
  // connection's network thread. The next request on the connection is read after it. One call of
  // a quick method is answered here, as over WebSocket: the two thread hops cost an `indexer query`
  // more than the call, and their wakeups most when the host is busy (README: "indexer query").
  void answer_rpc(http::request<http::string_body> req) {
    const bool here = quick_call(req.body());
    auto work = [self = shared_from_this(), req = std::move(req)] {
      std::string out;
      {
        Hub& hub = self->hub_;
        RpcConnection rpc([&hub](const std::string& m, const json& p, const CancelFlag& c) { return hub.call(m, p, c); },
                          [&out](std::string message) { out = std::move(message); }, hub.options.max_pending,
                          [&hub](const std::string& m) { return hub.where(m); });
        RpcConnection::Limits limits;
        limits.max_answer = hub.options.max_answer;
        rpc.limit(std::move(limits));
        rpc.receive(req.body());
        rpc.close();
      }
      http::response<http::string_body> res{out.empty() ? http::status::no_content : http::status::ok, req.version()};
      res.set(http::field::server, "indexer");
      res.set(http::field::content_type, "application/json");
      res.body() = std::move(out);
      res.prepare_payload();
      net::post(self->stream_.get_executor(), [self, res = std::move(res), keep_alive = req.keep_alive()]() mutable {
        self->respond(std::move(res), keep_alive);
      });
    };
    if (here) work();
    else net::post(hub_.http_rpc, std::move(work));
  }

  static std::string_view method_of(const http::request<http::string_body>& req) {
    return std::string_view(req.method_string().data(), req.method_string().size());
  }
  static std::string_view path_of(const http::request<http::string_body>& req) {
    std::string_view target(req.target().data(), req.target().size());
    return target.substr(0, target.find('?'));
  }

  // A module's route (http_routes.h): answered whenever its handler calls back, from any thread;
  // the connection is not read meanwhile, and no thread waits for it.
  void answer_route(const HttpRoute& route, http::request<http::string_body> req) {
    auto held = std::make_shared<http::request<http::string_body>>(std::move(req));
    std::string_view target(held->target().data(), held->target().size());
    size_t q = target.find('?');
    HttpRequest r{std::string(method_of(*held)), std::string(target.substr(0, q)), q == target.npos ? "" : std::string(target.substr(q + 1)),
                  std::move(held->body()), peer(), [held](std::string_view name) {
                    auto it = held->find(beast::string_view(name.data(), name.size()));
                    return it == held->end() ? std::string() : std::string(it->value());
                  }};
    stream_.expires_never();  // a run may take longer than any read deadline
    route.handle(std::move(r), [self = shared_from_this(), version = held->version(), keep_alive = held->keep_alive()](HttpAnswer a) {
      http::response<http::string_body> res{static_cast<http::status>(a.status), version};
      res.set(http::field::server, "indexer");
      res.set(http::field::content_type, a.content_type);
      for (const auto& [name, value] : a.headers) res.set(name, value);
      res.body() = std::move(a.body);
      res.prepare_payload();
      net::post(self->stream_.get_executor(), [self, res = std::move(res), keep_alive]() mutable { self->respond(std::move(res), keep_alive); });
    });
  }

  std::string peer() {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (ec) return "unknown";
    if (ep.protocol().family() == AF_INET) return net::ip::address_v4(ntohl(reinterpret_cast<const sockaddr_in*>(ep.data())->sin_addr.s_addr)).to_string();
    if (ep.protocol().family() == AF_INET6) {
      net::ip::address_v6::bytes_type b;
      std::memcpy(b.data(), &reinterpret_cast<const sockaddr_in6*>(ep.data())->sin6_addr, 16);
      return net::ip::address_v6(b).to_string();
    }
    return "unix";
  }

  // `body` is one request (not a batch) of a method registered to run inline (Hub::where).
  bool quick_call(std::string_view body) {
    namespace scan = json_scan;
    if (body.size() > 64 * 1024 || !scan::whole(body)) return false;
    auto method = scan::string_value(scan::member(body, "method"));
    return method && registry().find(*method) && hub_.where(*method).inline_call;
  }

  http::response<http::string_body> error(http::status status, const std::string& message, unsigned version) {
    http::response<http::string_body> res{status, version};
    res.set(http::field::content_type, "application/json");
    res.body() = json_text(json{{"error", message}});
    res.prepare_payload();
    return res;
  }

  http::response<http::string_body> handle(const http::request<http::string_body>& req, bool authorized) {
    auto target = req.target();
    std::string path(target.data(), target.size());
    if (size_t q = path.find('?'); q != std::string::npos) path.resize(q);
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "indexer");
    res.set(http::field::content_type, "application/json");
    if (req.method() == http::verb::get && path == "/health") {
      res.body() = json_text(json{{"status", hub_.ready ? "ok" : "indexing"}, {"version", kVersion}});
    } else if (!authorized) {
      return error(http::status::unauthorized, "send Authorization: Bearer TOKEN", req.version());
    } else if (req.method() == http::verb::get && path == "/stats") {
      static const CancelFlag never{false};
      Context c{hub_.workspace, hub_.workspace.service(), never};
      res.body() = c.index ? index::write_status(index::status(c, {})) : json_text(json{{"status", "indexing"}});
      for (const auto& m : modules())  // each module's own member
        if (m.stats && res.body().ends_with('}')) res.body().insert(res.body().size() - 1, ",\"" + m.name + "\":" + m.stats());
    } else if (req.method() == http::verb::get && path == "/metrics") {
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = hub_.metrics.prometheus(hub_.gauges());
      for (const auto& m : modules())
        if (m.prometheus) res.body() += m.prometheus();
    } else if (req.method() == http::verb::post && path == "/rpc") {
      // Answered by answer_rpc() when it can be: here only the refusals. While the first index is
      // built, not at all (over WebSocket, requests wait for it instead).
      if (origin_refused(hub_.options, req)) return error(http::status::forbidden, "this Origin may not post", req.version());
      return error(http::status::service_unavailable, "indexing; try again, or use the WebSocket", req.version());
    } else if (find_route(method_of(req), path)) {
      return error(http::status::forbidden, "this Origin may not call this", req.version());
    } else {
      return error(http::status::not_found, "GET /health, /stats, /metrics; POST /rpc; or a WebSocket upgrade", req.version());
    }
    res.prepare_payload();
    return res;
  }

  void respond(http::response<http::string_body> res, bool keep_alive) {
    res.keep_alive(keep_alive);
    auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
    http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep_alive](beast::error_code ec, size_t) {
      if (ec) return;
      if (keep_alive) self->read();
      else self->close();
    });
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(net::socket_base::shutdown_send, ec);
  }

  stream stream_;
  Hub& hub_;
  std::unique_ptr<Slot> slot_;
  bool authorized_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

// One io_context a network thread, each connection on one of them: a connection's handlers run
// on its context's only thread, so they need no strand, and the threads share no queue or lock
// (a shared io_context has them waking each other for every handler).
class ContextPool {
 public:
  explicit ContextPool(unsigned n) {
    for (unsigned i = 0; i < std::max(1u, n); ++i) contexts_.push_back(std::make_unique<net::io_context>(1));
  }
  net::io_context& first() { return *contexts_.front(); }
  net::io_context& next() { return *contexts_[next_++ % contexts_.size()]; }
  void run(std::vector<std::thread>& threads) {
    for (auto& c : contexts_) {
      guards_.push_back(net::make_work_guard(*c));  // a context with no connection yet keeps running
      threads.emplace_back([&c = *c] { c.run(); });
    }
  }
  void stop() {
    for (auto& c : contexts_) c->stop();
  }

 private:
  std::vector<std::unique_ptr<net::io_context>> contexts_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  size_t next_ = 0;  // the acceptor's thread only
};

// Every accepted connection counts toward max_connections; one past it is told so and closed.
// Out of descriptors, the call fails at once for as long as none is freed: accepting pauses
// (the connections wait in the listen backlog) instead of spinning.
using Acceptor = net::basic_socket_acceptor<stream_protocol>;
void accept(Acceptor& acceptor, ContextPool& pool, Hub& hub, net::steady_timer& pause) {
  acceptor.async_accept(pool.next(), [&acceptor, &pool, &hub, &pause](beast::error_code ec, stream_protocol::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec == net::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system || ec == net::error::no_buffer_space ||
        ec == net::error::no_memory) {
      if (!hub.out_of_descriptors.exchange(true)) std::cerr << "indexer: cannot accept: " << ec.message() << "; pausing\n";
      pause.expires_after(std::chrono::milliseconds(100));
      pause.async_wait([&acceptor, &pool, &hub, &pause](beast::error_code e) {
        if (!e && acceptor.is_open()) accept(acceptor, pool, hub, pause);
      });
      return;
    }
    if (!ec) {
      hub.out_of_descriptors = false;
      if (hub.connections >= hub.options.max_connections) {
        // Best effort, without waiting: a fresh socket's send buffer takes it.
        static const std::string busy = [] {
          std::string body = R"({"error":"too many connections"})";
          return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body;
        }();
        socket.non_blocking(true, ec);
        socket.send(net::buffer(busy), 0, ec);
        socket.shutdown(net::socket_base::shutdown_both, ec);
        socket.close(ec);
      } else {
        // Small answers, each awaited: Nagle's algorithm with delayed ACKs would add 40 ms to each.
        if (hub.options.socket_path.empty()) socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<HttpSession>(std::move(socket), hub, std::make_unique<Slot>(hub))->run();
      }
    }
    accept(acceptor, pool, hub, pause);
  });
}

// Under confine.h's rule: <root>/.indexer is opened beneath the root (a link there is refused),
// the temporary made O_EXCL | O_NOFOLLOW with mode 0600 and renamed within it, so a link the
// repository planted is never written through. Not written when refused: returns why.
std::string write_discovery(const ServeOptions& o, uint16_t port) {
  // open_state_dir does not make the root: a root deleted meanwhile must not be made again by us.
  indexer::confine::Opened dir = indexer::confine::open_state_dir(o.root);
  if (!dir) return std::string(indexer::confine::refusal_name(dir.refusal)) + ": " + std::strerror(dir.error);
  // A Unix socket is named as "unix" alone: a client that reads only address and port (older than
  // the field) finds no server and answers by itself, instead of connecting somewhere wrong.
  json j = o.socket_path.empty() ? json{{"pid", ::getpid()}, {"address", o.address}, {"port", port}, {"token", o.token}, {"version", kVersion}}
                                 : json{{"pid", ::getpid()}, {"unix", o.socket_path}, {"version", kVersion}};
  std::string text = json_text(j) + '\n';
  const char* tmp = "server.json.tmp";
  ::unlinkat(dir.fd.get(), tmp, 0);
  indexer::confine::Fd fd(::openat(dir.fd.get(), tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return std::string(tmp) + ": " + std::strerror(errno);
  bool ok = ::write(fd.get(), text.data(), text.size()) == ssize_t(text.size());
  if (ok && ::renameat(dir.fd.get(), tmp, dir.fd.get(), "server.json") == 0) return {};
  std::string error = std::string(tmp) + ": " + std::strerror(errno);
  ::unlinkat(dir.fd.get(), tmp, 0);
  return error;
}

}  // namespace

int serve(const ServeOptions& o, const std::atomic<bool>& stop) {
  const bool local = !o.socket_path.empty();
  if (!local && !loopback(o.address) && o.token.empty()) {
    std::cerr << "indexer: " << o.address << " is not a loopback address: set --token (or INDEXER_TOKEN) so others cannot read the index\n";
    return 2;
  }
  // Bound before the hub starts its threads: listen_local narrows the process's umask meanwhile.
  LocalListener listener;
  if (local && !(listener = listen_local(o.socket_path, net::socket_base::max_listen_connections))) {
    std::cerr << "indexer: cannot listen on unix:" << listener.error << '\n';
    return 1;
  }
  // Last out, after the acceptor has closed, on every return: the socket file we bound goes too.
  struct Unlink {
    std::string path;
    dev_t dev;
    ino_t ino;
    ~Unlink() {
      if (!path.empty()) unlink_local(path, dev, ino);
    }
  } unlink_socket{o.socket_path, listener.dev, listener.ino};
  // Modules start before anything is served, and stop (below) before the sessions are waited for.
  for (const auto& m : modules())
    if (std::string why = m.start ? m.start({o.root, o.settings}) : ""; !why.empty()) {
      std::cerr << "indexer: " << m.name << ": " << why << '\n';
      return 2;
    }
  struct StopModules {
    ~StopModules() {
      for (const auto& m : modules())
        if (m.stop) m.stop();
    }
  };
  std::optional<StopModules> stop_modules(std::in_place);
  Hub hub(o);  // before the io_context: its handlers hold sessions, which point at the hub
  ContextPool pool(o.threads);
  Acceptor acceptor(pool.first());
  boost::system::error_code ec;
  uint16_t port = 0;
  if (local) {
    acceptor.assign(stream_protocol(AF_UNIX, 0), listener.fd.get(), ec);
    if (ec) {
      std::cerr << "indexer: cannot listen on unix:" << o.socket_path << ": " << ec.message() << '\n';
      return 1;
    }
    listener.fd.release();  // the acceptor's now
  } else {
    tcp::endpoint endpoint(net::ip::make_address(o.address, ec), o.port);
    if (!ec) acceptor.open(stream_protocol::endpoint(endpoint).protocol(), ec);
    if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      std::cerr << "indexer: cannot listen on " << o.address << ":" << o.port << ": " << ec.message() << '\n';
      return 1;
    }
    // sin_port and sin6_port lie at the same offset.
    port = ntohs(reinterpret_cast<const sockaddr_in*>(acceptor.local_endpoint().data())->sin_port);
  }

  // Listening before the index is built: clients connect at once and see its progress.
  StdioOptions open_options;
  open_options.snapshot = o.snapshot;
  open_options.index = o.index;
  hub.workspace.open(
      o.root, open_options,
      [&hub, &o](const indexer::Progress& p) {
        if (o.progress) o.progress(p);
        {
          std::lock_guard lock(hub.progress_mu);
          hub.progress = p;
        }
        unsigned pct = p.bytes_total ? unsigned(100 * p.bytes_done / p.bytes_total) : 0;
        json value = {{"kind", "report"}, {"percentage", pct}, {"message", std::to_string(p.files_done) + "/" + std::to_string(p.files_total) + " files"}};
        hub.each_session([&](WsSession& s) { s.notify("$/progress", {{"token", "indexing"}, {"value", value}}); });
      },
      [&hub](const indexer::LiveTree::Report& r) {
        hub.metrics.reindexed(r.changes.size());
        json changes = json::array();
        for (const auto& c : r.changes) {
          using What = indexer::LiveTree::Change::What;
          json j = {{"path", c.path}, {"change", c.what == What::Indexed ? "indexed" : c.what == What::Removed ? "removed" : "skipped"}};
          if (c.what == What::Indexed) j["symbols"] = c.symbols;
          if (c.what == What::Skipped) j["reason"] = indexer::skip_reason_name(c.reason);
          changes.push_back(std::move(j));
        }
        json params = {{"changes", std::move(changes)}, {"milliseconds", r.milliseconds}};
        hub.each_session([&](WsSession& s) {
          if (s.subscribed()) s.notify("index/didChange", params);
        });
      });
  net::steady_timer pause(pool.first());
  accept(acceptor, pool, hub, pause);

  std::vector<std::thread> threads;
  pool.run(threads);
  // Said once, not each second it is tried again.
  bool discovery_warned = false;
  auto discover = [&] {
    std::string why = write_discovery(o, port);
    if (!why.empty() && !discovery_warned) std::cerr << "indexer: warning: " << discovery_path(o.root).string() << " not written: " << why << '\n';
    discovery_warned = discovery_warned || !why.empty();
  };
  discover();
  if (o.announce && local) {
    o.announce("listening on unix:" + o.socket_path + " (WebSocket JSON-RPC 2.0; HTTP /health /stats /metrics, POST /rpc)");
  } else if (o.announce) {
    std::string where = o.address + ":" + std::to_string(port);
    o.announce("listening on ws://" + where + " (JSON-RPC 2.0), http://" + where + "/health /stats /metrics, POST /rpc");
  }
  bool announced_ready = false;
  for (unsigned tick = 1; !stop; ++tick) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    // The discovery file goes when the root is deleted (or .indexer is cleaned): written again
    // once the root is back, so clients find this server again. A stat a second.
    if (tick % 20 == 0) {
      std::error_code fs_ec;
      if (!std::filesystem::exists(discovery_path(o.root), fs_ec) && std::filesystem::is_directory(o.root, fs_ec)) discover();
    }
    if (!announced_ready && hub.workspace.service()) {
      announced_ready = true;
      hub.each_session([](WsSession& s) { s.notify("$/progress", {{"token", "indexing"}, {"value", {{"kind", "end"}}}}); });
      hub.ready = true;
      auto view = hub.workspace.service()->tree().index();
      if (o.announce) o.announce("ready: " + std::to_string(view->file_count()) + " files, " + std::to_string(view->symbol_count()) + " symbols");
    }
  }
  // unlinkat within .indexer opened beneath the root: neither it nor a link planted there is followed.
  if (indexer::confine::Opened dir = indexer::confine::open_root(o.root))
    if (indexer::confine::Opened state = indexer::confine::open_beneath(dir.fd.get(), ".indexer", O_PATH | O_DIRECTORY))
      ::unlinkat(state.fd.get(), "server.json", 0);
  // On the acceptor's own thread: its accept handler runs there and starts the next accept, and
  // an acceptor closed from this thread meanwhile crashed that call (SIGSEGV in start_op, about
  // one stop in 20).
  std::promise<void> closed;
  net::post(pool.first(), [&acceptor, &pause, &closed] {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    pause.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
  pool.stop();
  for (auto& t : threads) t.join();
  hub.http_rpc.join();  // its answers are posted to the stopped contexts, and dropped with them
  stop_modules.reset();  // a module's jobs end, so the requests waiting for them do
  // Requests still running on the pool use the hub: wait for them before it goes.
  hub.each_session([](WsSession& s) {
    if (auto rpc = s.connection()) rpc->close();
  });
  hub.workspace.stop();
  return 0;
}

}  // namespace server
