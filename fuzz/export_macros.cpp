// indexer::detail::blank_export_macros on arbitrary bytes (every C and C++ file is read by it).
// What it must keep: the length, every newline, and every byte it does not blank; it blanks only
// identifier characters and a macro's parenthesised arguments, and only inside a class head.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "indexer/export_macros.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view src(reinterpret_cast<const char*>(data), size);
  std::string out;
  if (!indexer::detail::blank_export_macros(src, out)) return 0;
  if (out.size() != src.size()) std::abort();
  bool changed = false;
  for (size_t i = 0; i < src.size(); ++i) {
    if (out[i] == src[i]) continue;
    if (out[i] != ' ' || src[i] == '\n') std::abort();
    changed = true;
  }
  if (!changed) std::abort();  // said it blanked something, and blanked nothing
  return 0;
}
