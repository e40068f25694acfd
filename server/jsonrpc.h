// JSON-RPC 2.0 over any transport that carries whole messages (a WebSocket text frame, an LSP
// Content-Length frame, an MCP line): parsing and validation, batches, notifications, errors
// and cancellation, with the methods supplied by a handler.
//
// Exactly the spec: -32700 with a null id for input that is not JSON (or nests deeper than 128, or
// is not UTF-8: both checked in one pass before anything is parsed); -32600 for a request that is not one (no "jsonrpc": "2.0", a method that is no
// string, an id that is neither a string nor an integer, params that are neither an object nor an
// array; null params are taken as absent, as Eglot sends them), answered with its id when the id is usable; a batch answered by one array in which
// notifications have no entry (nothing at all when every member was a notification; an empty
// batch is one -32600); notifications never answered, not even with an error.
//
// Notifications run at once, in order, on the reader's thread (an editor's didChange must land
// before the request that follows it). Requests run on a shared pool of threads, so a slow one
// does not hold back the connection and a
// `$/cancelRequest` (params {id}) can reach it: a cancelled request is answered with -32800,
// whether it was still waiting or had started (its result, if any, is dropped); ids may repeat,
// and every pending request with that id is cancelled.
//
// Budgets, so one client cannot take what others need: a connection holds at most `max_pending`
// calls accepted and not finished, counted one by one (a batch's members, requests sharing an id
// and notifications that run on the pool each count); past that a request is answered at once
// with -32001 and a notification is dropped. With limit(), a connection also runs at most half
// of the shared pool's threads (the rest of its calls wait in its own queue, so other
// connections' requests are not queued behind them), an answer (a batch's as a whole) over
// `max_answer` bytes is replaced by -32001 naming the limit (the members of a batch past it are
// not run), an answer that would leave more than `max_unread` bytes unread on the transport is
// replaced the same way, and a message is refused with -32001 while the messages of the calls
// still waiting or running hold more than `max_held` bytes (their parsed params cost a few times
// that; one message is always taken when nothing else is held).
//
// Thread-safety: receive() from one reader thread; send() is called from pool threads, one
// message at a time per connection. close() waits for the requests still running; destroying the
// connection does not, so `send` must cope with being called after the transport has gone.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "server/service.h"

namespace server {

class RpcConnection {
 public:
  // Throws RpcError; the transport's own methods (LSP's, MCP's) come through here too.
  using Handler = std::function<Result(const std::string& method, const json& params, const CancelFlag& cancelled)>;
  using Send = std::function<void(std::string message)>;  // moved in: answers can be large

  // Where a call runs. Inline: on the reader's thread, for methods known to take microseconds
  // (two thread hops would cost more than the call; it cannot be cancelled then). An executor:
  // on a module's own threads, for long jobs that must not hold the pool. Else the pool. A
  // batch's members run in turn on the pool, whatever they are.
  struct Placement {
    bool inline_call = false;
    const Executor* executor = nullptr;
  };
  using Where = std::function<Placement(const std::string& method)>;
  RpcConnection(Handler handler, Send send, size_t max_pending = 256, Where where = {});
  ~RpcConnection();
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  // Takes one whole incoming message.
  void receive(std::string_view message);
  // A message of the transport's own (an error for a frame it could not read), in turn with the rest.
  void send_raw(const std::string& message);
  struct Limits {
    bool fair_share = false;            // at most half of the pool's threads for this connection
    size_t max_answer = SIZE_MAX;       // bytes of one answer (a batch's, whole)
    size_t max_unread = SIZE_MAX;       // bytes the transport may hold unsent, as `unread` says
    size_t max_held = SIZE_MAX;         // bytes of the messages whose calls wait or run
    std::function<size_t()> unread;     // called under the send lock, before each answer
  };
  void limit(Limits limits);
  // Off: notifications run on the pool like requests, unordered (a server whose notifications
  // change nothing a later request reads, and must not hold its reader).
  void inline_notifications(bool on);
  // A notification from the server (progress, index changes).
  void notify(const std::string& method, const json& params);
  // A request to the client (LSP's window/workDoneProgress/create); its answer is ignored.
  void request(const std::string& method, const json& params);
  size_t pending() const;
  // Stops taking messages and waits for the running requests (their answers are still sent).
  void close();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// The error response for a message that cannot be handled at all (a transport's own limits).
std::string error_response(int code, const std::string& message);

// One message read as a single request, with the checks receive() applies (depth, UTF-8, JSON,
// the shape of a request): "" with `method`, `id` (null for a notification) and `params` set, or
// the error response to send. For a transport that must look at a message before it serves any
// (authenticate before login); a batch is refused.
std::string read_request(std::string_view text, std::string& method, json& id, json& params);

}  // namespace server
