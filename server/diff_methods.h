// The diff module's method, diff/text, as a typed call (compress/diff.h does the work): the CLI's
// `indexer diff` calls it directly and writes its JSON with the same writer the server uses.
//
// Errors are RpcError -32602: a text over kMaxText bytes, or a binary one (a NUL byte).
#pragma once

#include <string>
#include <string_view>

#include "compress/diff.h"
#include "server/registry.h"

namespace server::diff {

inline constexpr size_t kMaxText = 16 << 20;  // bytes a side: a WebSocket message holds 16 MiB

struct TextParams {
  std::string_view old_text, new_text;  // views into the call's params (or the CLI's files)
  uint32_t context = 3;
  bool words = false;
  std::string_view old_name = "old", new_name = "new";
};

compress::Diff text(Context& c, const TextParams& p);
std::string write_text(const compress::Diff& d);

}  // namespace server::diff
