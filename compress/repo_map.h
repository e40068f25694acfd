// The repo map: the repository's most important files and their definitions, as signatures grouped
// by file, filled to a token budget. The anchor is aider's repo map (tags, PageRank, a search on the
// budget); ours ranks files by PageRank over the import graph (a file many files import, directly
// or through others, ranks high), personalised toward the focus (paths, and the files that define
// the focus's symbol names), and symbols by their file's rank and their kind (types and functions
// before fields and variables, top level before members).
//
// Invariants: the text's count is at most the budget, and one more symbol would not fit (the
// budget is filled by a doubling then a bisection on how many symbols are shown); ties break by
// path and position, so the same index, graph and focus give the same map.
//
// Cost: PageRank is O(iterations x edges) over files (30 iterations at most); the search renders
// and counts O(log n) maps of the size of the answer, never of the whole index.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "query/import_graph.h"
#include "query/query.h"

namespace compress {

struct RepoMapOptions {
  size_t budget = 1024;
  std::function<size_t(std::string_view)> count;  // the tokenizer's count
  std::vector<std::string> focus;                 // paths or symbol names
};

struct RepoMap {
  std::string text;
  size_t tokens = 0, files = 0, symbols = 0;
};

RepoMap repo_map(const query::Index& index, const query::ImportGraph& graph, const RepoMapOptions& options);

// The files' PageRank, by the index's file id (0 for a file the graph does not know), summing to 1.
std::vector<double> file_ranks(const query::Index& index, const query::ImportGraph& graph, const std::vector<std::string>& focus);

}  // namespace compress
