// The stdio transports: LSP 3.17 for editors and MCP for agent hosts, each a JSON-RPC connection
// (jsonrpc.h) over the process's standard input and output, serving a live tree (watched, with
// its snapshot kept current) through the registered methods (registry.h). Logs go to stderr.
#pragma once

#include <filesystem>
#include <optional>

#include "indexer/indexer.h"

namespace server {

struct StdioOptions {
  std::optional<std::filesystem::path> root;      // LSP: else the client's rootUri; MCP: else "."
  std::optional<std::filesystem::path> snapshot;  // else <root>/.indexer/snapshot
  indexer::Options index;
  size_t max_message = 64 << 20;  // bytes; a larger frame is answered with an error and skipped
};

// Content-Length framing (partial reads and several messages in one read are fine); positions in
// UTF-16 code units as LSP requires. Returns 0 after shutdown and exit, 1 for exit without shutdown.
int serve_lsp(const StdioOptions& options);

// One JSON-RPC message per line. Returns 0 when standard input ends.
int serve_mcp(const StdioOptions& options);

}  // namespace server
