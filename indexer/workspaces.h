// Monorepo manifests for import resolution: which directories are a workspace's members, and
// what each member is called and where its code starts. Private to indexer/ (resolve_imports.cpp).
//
// Read: Cargo.toml ([package] name, [lib] name and path, [workspace] members and exclude),
// package.json (name, workspaces as an array or {packages}, exports, types/typings, main),
// pnpm-workspace.yaml (packages:) and go.work (use). Cargo.toml and pnpm-workspace.yaml are read
// as subsets of TOML and YAML: only the keys above, with string and string-array values (arrays
// may span lines; block and flow YAML lists); anything else is skipped. A file that breaks the
// subset (an unterminated string or array) gives an error, and the caller ignores the file.
//
// Invariant: the readers never throw and never recurse on the input's nesting (JSON depth is
// bounded by config_json.h); member globs only name directories below the workspace root (a
// pattern with ".." or an absolute one is dropped).
// Cost: linear in the file; expanding globs lists directories through confine.h, at most
// kMaxListed directories per workspace, skipping dot-directories and node_modules.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "indexer/config_json.h"

namespace indexer::detail {

struct CargoManifest {
  bool has_package = false, has_workspace = false;
  std::string package_name;  // as written ("my-crate")
  std::string lib_name;      // [lib] name, when given
  std::string lib_path;      // [lib] path, when given (relative to the manifest's directory)
  std::vector<std::string> members, exclude;
  std::string error;  // "line 4: unterminated array" when the file breaks the subset
};
CargoManifest read_cargo_toml(std::string_view text);

struct NpmManifest {
  std::string name;
  std::vector<std::string> workspaces;  // member globs, "!" for exclusions
  bool has_workspaces = false;
  std::optional<JsonValue> exports;
  std::vector<std::string> entries;  // types, typings, module, main: the fields, in that order
};
NpmManifest read_package_json(const JsonValue& j);

// pnpm-workspace.yaml's `packages:` list; `error` is set when the list is malformed.
std::vector<std::string> read_pnpm_workspace(std::string_view text, std::string& error);

// go.work's `use` directories, one-line and block forms.
std::vector<std::string> read_go_work(std::string_view text);

// The targets `exports` maps subpath `sub` ("." or "./utils") to, most preferred first: a string,
// a subpath map (exact keys, then `*` patterns, longest prefix first), and condition objects
// ("types", "import", "require", "default" first, then the rest in file order; nested ones too).
std::vector<std::string> export_targets(const JsonValue& exports, std::string_view sub);

// Whether tree-relative directory `path` matches glob `pattern` segment by segment: `*` and `?`
// within a segment, `**` any number of segments.
bool dir_glob_match(std::string_view pattern, std::string_view path);

// The directories below `base` (tree-relative, "" for the root) matching `includes` and none of
// `excludes` ("!x" in `includes` is an exclusion too), as tree-relative paths, sorted. Cargo's
// exclude is a path: what is below it is excluded too. `warning` names a cap reached.
constexpr size_t kMaxListed = 20000;
std::vector<std::string> expand_members(const std::string& root, const std::string& base, const std::vector<std::string>& includes,
                                        const std::vector<std::string>& excludes, std::string& warning);

}  // namespace indexer::detail
