// workspace/symbol over LSP on stdio: `indexer lsp` next to the language servers people run on
// the same trees, clangd on Boost's headers and pyright on the Python standard library. Each
// server starts cold (no index of the tree on disk), gets an editor's handshake and answers the
// same queries, one request at a time; the clock runs from sending a request to the last byte
// of its answer. A peer that is not installed is skipped with a line saying so.
#pragma once

#include <string>
#include <vector>

namespace bench {

struct LspTiming {
  double ready_s = 0;      // from the start to the first answer with results, the index complete
  std::vector<double> ms;  // each timed request
  double elapsed_s = 0;    // all the timed requests
  double results = 0;      // symbols per answer, on average
  double kb = 0;           // per answer, on average
};

// `indexer lsp ROOT ARGS...`: until it answers with results, then the queries in turn for
// `seconds`, and at least once each.
LspTiming time_indexer_lsp(const std::string& indexer, const std::string& root, const std::vector<std::string>& args,
                           const std::vector<std::string>& queries, double seconds);

struct LspPeerOptions {
  std::string indexer;  // build/indexer
  std::vector<std::string> queries;
  double seconds = 4;
  std::vector<std::string> boost_dirs;  // clangd's tree: header directories with one parent
  std::string clangd = "clangd";
  std::string python_dir;  // pyright's tree
  std::string pyright;     // pyright's langserver.index.js, run with node from PATH
};

// One block per tree: ours, the peer, and the peer's numbers over ours.
void print_lsp_peers(const LspPeerOptions& options);

}  // namespace bench
