// .gitignore files as the walk reads them: input is a rule file, then a NUL, then paths (one a
// line, a trailing '/' for a directory) asked of a stack of that file at the root and again below
// a directory, as nested .gitignore files are.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "indexer/ignore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view rules = in.substr(0, nul), paths = nul == std::string_view::npos ? std::string_view{} : in.substr(nul + 1);
  indexer::detail::IgnoreStack stack;
  stack.push(indexer::detail::parse_ignore("", rules));
  auto nested = indexer::detail::parse_ignore("sub", rules);
  nested.above = "up/";
  stack.push(std::move(nested));
  while (!paths.empty()) {
    size_t nl = paths.find('\n');
    std::string_view path = paths.substr(0, nl);
    paths = nl == std::string_view::npos ? std::string_view{} : paths.substr(nl + 1);
    bool dir = path.ends_with('/');
    if (dir) path.remove_suffix(1);
    (void)stack.ignored(path, dir);
  }
  return 0;
}
