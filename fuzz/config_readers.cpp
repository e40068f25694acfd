// The configuration readers of import resolution, on a cloned repository's files: tsconfig.json,
// composer.json, compile_commands.json, package.json (through indexer/config_json.cpp), go.mod,
// and the workspace manifests of indexer/workspaces.h: Cargo.toml, pnpm-workspace.yaml, go.work.
// package.json's target also maps subpaths through its `exports` and matches member globs. They are
// private to indexer/resolve_imports.cpp, so this file includes it; it is compiled once (it is the
// slowest of the harnesses to build) and each target's config_main.cpp picks its reader.
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
  if (reader == "go_work") {
    for (const auto& use : detail::read_go_work(text))
      if (use.empty()) __builtin_trap();  // empty `use` lines are dropped
    return 0;
  }
  if (reader == "cargo_toml") {
    detail::CargoManifest m = detail::read_cargo_toml(text);
    if (!m.error.empty() && (m.has_package || !m.members.empty() || !m.package_name.empty())) __builtin_trap();  // an error reads nothing
    for (const auto& member : m.members) total += member.size() + detail::dir_glob_match(member, "crates/a/b");
    return total == SIZE_MAX;
  }
  if (reader == "pnpm_workspace") {
    std::string error;
    auto globs = detail::read_pnpm_workspace(text, error);
    if (!error.empty() && !globs.empty()) __builtin_trap();
    for (const auto& g : globs) total += detail::dir_glob_match(g, "packages/x/y") + detail::dir_glob_match(g, "");
    return total == SIZE_MAX;
  }
  detail::JsonParse parsed = detail::parse_json(text);
  if (!parsed.value) return 0;
  if (reader == "tsconfig") {
    TsConfig c = read_tsconfig(*parsed.value, "web");
    for (const auto& [pattern, subs] : c.paths) total += pattern.size() + subs.size();
  } else if (reader == "composer") {
    Composer c = read_composer(*parsed.value, "php");
    for (const auto& [prefix, dirs] : c.psr4) total += prefix.size() + dirs.size();
  } else if (reader == "package_json") {
    detail::NpmManifest m = detail::read_package_json(*parsed.value);
    if (m.exports)
      for (std::string_view sub : {".", "./utils", "./a/b.js", "./x/"})
        for (const auto& t : detail::export_targets(*m.exports, sub)) total += t.size();
    for (const auto& w : m.workspaces) total += detail::dir_glob_match(w.starts_with('!') ? w.substr(1) : w, "packages/a");
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
