// One LSP 3.17 conversation, whatever carries it: `indexer lsp` (Content-Length frames on stdio)
// and `indexer serve`'s /lsp (one message per WebSocket text frame) both feed an RpcConnection
// whose handler is a session's handle(). Private to server/.
//
// On stdio the session owns the tree: initialize opens it at the client's root. On /lsp the tree
// is the server's, shared with every other client of the port: initialize opens nothing, the
// root is the server's whatever the client names, and shutdown/exit end this conversation only.
// Buffers a client opens are indexed in the tree it is served from (so on /lsp every client sees
// them, as they see a save); stop() closes those still open when the client goes. A buffer opened
// before the index is ready is held and applied once it is, so didOpen never blocks the reader.
//
// Cost: nothing per message beyond the handlers; a thread per client only while the first index
// is built (its progress reports), ended within 200 ms of stop(). Notifications (didOpen,
// didChange) run on the transport's reader in order, so a large buffer is parsed there.
//
// Every registered method (registry.h) is served too, under its own name (`graph/importers`,
// `index/status`, `index/refresh`): an editor's custom requests are the methods every surface has.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "server/jsonrpc.h"
#include "server/stdio_io.h"

namespace server::detail {

class LspSession {
 public:
  // How the session speaks first. Called from the reader's thread, the pool or the progress
  // reporter's thread: each must be safe to call from any thread, and after the client has gone.
  struct Peer {
    std::function<void(const std::string& method, const json& params)> notify;
    std::function<void(const std::string& method, const json& params)> request;  // answer ignored
    std::function<void()> exit;  // the client sent exit: the transport stops reading
  };
  // `opens`: initialize opens `workspace` (stdio). Else the workspace is the server's, opening
  // or open, and `progress` reads its indexing progress.
  LspSession(Workspace& workspace, const StdioOptions& options, bool opens, std::function<indexer::Progress()> progress, Peer peer);
  ~LspSession();
  LspSession(const LspSession&) = delete;
  LspSession& operator=(const LspSession&) = delete;

  Result handle(const std::string& method, const json& params, const CancelFlag& cancelled);
  // Where a call runs: shutdown and everything after it on the reader (so a request that follows
  // shutdown is refused in order); registered methods as registered; the rest on the pool.
  RpcConnection::Placement where(const std::string& method) const;
  bool shut_down() const;
  // The transport has ended: the progress reporter stops; on a shared tree the client's buffers
  // still open are closed. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace server::detail
