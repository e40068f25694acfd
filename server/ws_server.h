// indexer serve: the index over WebSocket JSON-RPC 2.0 and HTTP on one port (Boost.Beast).
//
// WebSocket: one JSON-RPC message per text frame, served by jsonrpc.h over the registered methods
// (registry.h), each run where its registration says; the session itself serves index/subscribe and
// index/unsubscribe (index/didChange notifications after each re-index) and authenticate {token}
// when a token is required and was not sent as a header. While the first index is built, every
// connection gets $/progress notifications (token "indexing"), and methods that need the index wait
// for it. On the path /lsp the WebSocket speaks LSP instead (lsp_session.h: one message per
// text frame, the same login and Origin rules, the same tree). HTTP: GET /health, GET /stats (JSON), GET /metrics
// (Prometheus text), POST /rpc (one JSON-RPC message or batch per request, for scripts and the
// CLI).
//
// Security: loopback unless a token is set (Authorization: Bearer TOKEN, or the first WebSocket
// message authenticate {token}); a browser Origin that is not allowed is refused before the
// upgrade or the POST (cross-site WebSocket hijacking). Limits: message size, connections, pending
// calls per connection (each member of a batch counts), bytes per answer, connections (every
// accepted connection counts); a slow reader gets backpressure (its requests are not read
// while its unsent answers exceed a limit), then -32001 instead of answers, not unbounded
// buffering. Before login a client may send only a few KB, within a deadline. Out of file
// descriptors, accepting pauses (the connections wait in the listen backlog) instead of spinning.
//
// A discovery file (<root>/.indexer/server.json, mode 0600) tells local clients where the server
// of a root listens; it is removed on exit.
//
// On a Unix domain socket (socket_path; local_socket.h makes it, 0600) the same sessions are
// served, every connection authorized: whoever may open the socket file is its owner. Origin
// rules still hold, since a browser page could reach the socket through a local proxy.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/stdio.h"

namespace server {

struct ServeOptions {
  std::filesystem::path root;
  std::optional<std::filesystem::path> snapshot;
  indexer::Options index;
  std::string address = "127.0.0.1";
  uint16_t port = 0;  // 0: one the system picks
  std::string socket_path;  // absolute; when set, a Unix socket is served instead of address:port
  std::string token;  // required for any non-loopback address
  std::vector<std::string> allowed_origins;
  size_t max_connections = 1024;
  size_t max_message = 16 << 20;
  size_t max_pending = 256;           // calls per connection (a batch's members each count)
  size_t max_unsent = 8 << 20;        // unread answers past which a connection is not read from
  size_t max_unread = 32 << 20;       // unread answers past which answers become -32001
  size_t max_answer = 16 << 20;       // one answer (a batch's, whole); past it, -32001
  size_t max_held = 32 << 20;         // messages of calls waiting or running; past it, -32001
  size_t max_unauthenticated = 4 << 10;      // the message that authenticates; a body before login
  std::chrono::seconds login_deadline{10};  // to authenticate; to send a request's headers
  unsigned threads = 2;               // network threads; requests run on the JSON-RPC pool
  std::function<void(const std::string&)> announce;  // "listening on ...", "ready: ..."
  std::function<void(const indexer::Progress&)> progress;  // the first index, for a terminal
  std::map<std::string, std::string> settings;  // modules' options (http_routes.h): "exec-workers" -> "4"
};

// The discovery file of a root, and what it says.
std::filesystem::path discovery_path(const std::filesystem::path& root);
// A server on a Unix socket names it as "unix" and writes no address or port: a client older
// than this field finds no server rather than a wrong one.
struct Discovered {
  std::string address;
  uint16_t port = 0;
  std::string token;
  int pid = 0;
  std::string socket_path;  // set: connect here, not to address:port
};
std::optional<Discovered> discover(const std::filesystem::path& root);

// Serves until `stop` is set; returns the exit code (1 when the address cannot be bound, or the
// socket path is taken).
int serve(const ServeOptions& options, const std::atomic<bool>& stop);

// One JSON-RPC message over HTTP POST /rpc to a running server: the response body, or nullopt
// when there is no server there (connection refused, timed out). For the CLI: no Beast needed.
std::optional<std::string> post_rpc(const Discovered& server, const std::string& body, int timeout_ms = 2000);

}  // namespace server
