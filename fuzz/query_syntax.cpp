// The tags query reader (indexer/query_syntax.cpp): queries under grammars/queries/ and, with
// INDEXER_QUERIES_DIR, a user's own, which can be anything.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "indexer/query_syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto q = indexer::detail::read_query(text);
  for (const auto& p : q.patterns)
    if (p.text.data() < text.data() || p.text.data() + p.text.size() > text.data() + text.size()) __builtin_trap();
  for (const auto& c : q.captures) (void)indexer::detail::capture_id(q, c);
  return 0;
}
