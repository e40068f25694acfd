// Resolving each file's imports to files of the tree, per language, for query::ImportGraph.
//
// A specifier resolves to indexed files where the language's rules allow, else to an external
// node: a package name for bare imports ("react", "numpy", "std", "github.com/x/y"), or the
// tree-relative path for a relative import that names no indexed file ("web/styles.css").
// The rules, in the order tried (README.md, "Import graph", says the same for users):
//   JS/TS   ./ and ../: the path, ".js written but .ts on disk", then + .ts .tsx .d.ts .js .jsx
//           .mjs .cjs (a .js importer tries the .js family first), then dir/index.*; bare: the
//           nearest tsconfig.json/jsconfig.json's compilerOptions.paths (one '*', longest prefix
//           first), then baseUrl; then a package of an npm/yarn/pnpm workspace by its name:
//           `exports` ("." and subpaths, `*` patterns, conditions types/import/require/default),
//           else types/typings/main/module, else src/index.*; a target in a build directory that
//           is not there (dist/, lib/, out/, build/) is read as src/; else the npm package
//           ("@scope/pkg", "fs" for "node:fs/promises").
//   Python  a.b.c -> a/b/c.py or a/b/c/__init__.py (then .pyi) from the root, src/, and the
//           importer's directory when it is no package; "." and ".." from the importer's package.
//           `from m import n` also tries the submodule m.n and drops n if it is no module file.
//   Go      the longest go.mod `module` path of the tree prefixing the import: an edge to every
//           non-test .go file of the package directory (a change to any of them affects
//           importers; of two modules of one path, the one the nearest go.work uses); else the
//           longest go.mod `require` path, else the first three segments of
//           a domain path, else the path (standard library).
//   Rust    `mod x;` -> x.rs or x/mod.rs beside a mod.rs/lib.rs/main.rs, else in the directory
//           named after the file (2018); `use crate::|self::|super::a::b` and `use m::..` for a
//           child module m -> the deepest module file of the path (crate root: src/lib.rs or
//           src/main.rs next to the nearest Cargo.toml, or its [lib] path); a first segment that
//           names the importer's own package or a member of its Cargo workspace ([lib] name, else
//           [package] name with '-' as '_') -> that crate's modules from its [lib] path (default
//           src/lib.rs); other paths -> the crate (first segment).
//   C/C++   "x.h" beside the includer, then each include directory (-I, -iquote, -isystem of
//           compile_commands.json at the root or in build/, all entries merged in order; without
//           one, the root and include/); <x.h> through the include directories only; else "x.h".
//   Java    a.b.C -> a file whose path ends in a/b/C.java (every such file: several source
//           roots), trying a.b for a nested class; a.b.* -> the .java files of every directory
//           ending in a/b; external: the package (leading lower-case segments).
//   C#      using A.B -> every file that declares namespace A.B or a type inside it; static and
//           alias forms -> the file declaring the type, else the namespace; else as written.
//   Ruby    require_relative: beside the file; require: lib/ then the root; else the first segment.
//   PHP     require/include: beside the file, then from the root; use A\B\C: composer.json psr-4
//           (nearest, longest prefix), then any file ending in A/B/C.php, down to B/C.php, then a
//           declaration of C in namespace A\B; else the namespace.
//   Bash    source: beside the file, then from the root; a leading $VAR/ or $(dirname ..)/ is
//           taken as the file's own directory.
// Edges that would make a file import itself through package semantics (Python `from .` in an
// __init__.py, Rust `use crate::X` in lib.rs, a C# file using its own namespace) are dropped.
//
// Cost: the constructor stats a few configuration names per directory that holds indexed files
// and reads the ones found (go.mod, go.work, tsconfig.json, jsconfig.json, Cargo.toml,
// package.json, pnpm-workspace.yaml, composer.json, compile_commands.json; workspace roots are
// looked for above every directory of Rust, JS and TS files, and their member globs expanded by
// listing directories: indexer/workspaces.h); resolve() then only consults the Index and these tables, so it is safe
// to call from several threads. A file's targets depend on its own imports, the set of files,
// the configuration and, for C# and PHP, other files' declarations. update() follows a change of
// the index without reading the tree again, and names what it can alter by the keys resolve()
// records (indexer/live_import_graph.h keeps a live tree's graph with them); a configuration
// change needs a new resolver. Tables hold the resolver's own file ids, so they outlive a view.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <string_view>
#include <string>
#include <vector>

#include "query/import_graph.h"
#include "query/query.h"

namespace indexer {

class ImportResolver {
 public:
  // What can be turned off, for a baseline (bench/imports_bench.cpp prints the rate both ways).
  struct Options {
    bool workspaces = true;          // Cargo and npm/yarn/pnpm packages by name, go.work
    bool root_as_include_dir = true;  // <N/x.h> is the root's x.h when the root is named N
    bool go_std_vendor = true;        // `module std` packages and vendor/ directories
  };
  // `index` must outlive the resolver; `root` is the tree it was built from.
  ImportResolver(const std::filesystem::path& root, const query::Index& index) : ImportResolver(root, index, Options{}) {}
  ImportResolver(const std::filesystem::path& root, const query::Index& index, Options options);
  ~ImportResolver();
  ImportResolver(const ImportResolver&) = delete;
  ImportResolver& operator=(const ImportResolver&) = delete;

  // The targets of file `file`'s imports (an Index file id), in import order. With `probes`, also
  // the keys of the tables it looked up (opaque strings): what update() names when the lookup
  // could now answer differently.
  query::FileImports resolve(uint32_t file, std::vector<std::string>* probes = nullptr) const;

  // Follows a change of the index: `index` is the new view (kept alive by the caller until the
  // next update), `added`, `removed` and `changed` (contents only) are paths. Returns the probe
  // keys the change touches: every file that looked one up must be resolved again; the others
  // resolve as before. A file that appears or vanishes touches its directory's existence and
  // listing keys, its base name's and its directory name's; a C# or PHP file whose declarations
  // changed (or that comes or goes) touches its language's declaration key; a go.mod coming into
  // or out of effect (its first Go file appears, its last goes) touches Go's module key, a go.work
// or a workspace found (its first file appears) touches the module or the workspace key. Not
  // followed: a change to a configuration file; build a new resolver then (is_config_name()).
  std::vector<std::string> update(const query::Index& index, std::span<const std::string> added,
                                  std::span<const std::string> removed, std::span<const std::string> changed);

  // Whether a configuration file this resolver found is `path` or lies below it ("" is the root).
  bool reads_config_under(std::string_view path) const;
  // Whether a file of this name (go.mod, tsconfig.json, ...) configures resolution.
  static bool is_config_name(std::string_view path);

  // Configuration files that could not be read, one line each ("web/tsconfig.json: line 3:
  // expected ':'"); resolution goes on without them.
  const std::vector<std::string>& warnings() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Resolves every file of `index` and builds the graph.
query::ImportGraph build_import_graph(const ImportResolver& resolver, const query::Index& index);

}  // namespace indexer
