// The configuration readers of import resolution, on a cloned repository's files: tsconfig.json,
// composer.json, compile_commands.json (through indexer/config_json.cpp) and go.mod. They are
// private to indexer/resolve_imports.cpp, so this file includes it; it is compiled once (it is the
// slowest of the harnesses to build) and each target's config_main.cpp picks its reader.
// (Cargo.toml is only looked for, never read.)
#include "indexer/resolve_imports.cpp"
#include "grammars/grammars.h"

#include <cstddef>
#include <cstdint>

int fuzz_config_reader(std::string_view reader, const uint8_t* data, size_t size) {
  using namespace indexer;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t total = 0;
  if (reader == "go_mod") {
    GoModule m = read_go_mod(text, "dir");
    return int(m.path.size() + m.required.size() == SIZE_MAX);
  }
  detail::JsonParse parsed = detail::parse_json(text);
  if (!parsed.value) return 0;
  if (reader == "tsconfig") {
    TsConfig c = read_tsconfig(*parsed.value, "web");
    for (const auto& [pattern, subs] : c.paths) total += pattern.size() + subs.size();
  } else if (reader == "composer") {
    Composer c = read_composer(*parsed.value, "php");
    for (const auto& [prefix, dirs] : c.psr4) total += prefix.size() + dirs.size();
  } else if (reader == "compile_commands") {
    auto dirs = read_include_dirs(*parsed.value, "/fuzz/root", "/fuzz/root/build");
    for (const auto& d : dirs)
      if (d.starts_with("..") || d.starts_with('/')) __builtin_trap();  // only directories inside the tree
    total += dirs.size();
  }
  return total == SIZE_MAX;
}

// walk.cpp, linked for read_file(), names the language table, which would bring in every grammar;
// the readers never walk a tree, so here the table knows no language.
namespace grammars {
query::Language detect_language(std::string_view, std::string_view) { return query::Language::Unknown; }
}  // namespace grammars
