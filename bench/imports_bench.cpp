// The import graph's in-repo resolution rate, per language: of the imports that name code of the
// same repository, how many the resolver (indexer/resolve_imports.h) takes to a file of the tree.
//
//   indexer_imports_bench [--misses N] DIR...     each DIR is one repository
//
// Printed beside the rate with workspace packages (Cargo, npm/yarn/pnpm, go.work), the
// root-as-include-directory rule and Go's std/vendor rule turned off: what the resolver gave
// before them.
//
// Which imports name code of the repository is decided here, from the tree and its manifests,
// not by the resolver (else the rate would measure the resolver against itself):
//   JS/TS   a relative specifier (but not of data: .json, .css ..., nor into node_modules/), or a bare one whose package is the `name` of a package.json
//           of the tree;
//   Python  a relative import, or one whose first segment is a top-level module of the tree
//           (a package directory whose parent is no package, or a module file outside packages);
//   Go      an import path under the `module` of a go.mod of the tree; in a tree whose go.mod
//           says `module std` (Go's own source), a path with no dot in its first segment (but
//           cgo's "C");
//   Rust    `mod x;`, `use crate::|self::|super::`, or a first segment that is the library name
//           of a Cargo.toml of the tree ([lib] name, else [package] name with '-' as '_');
//   C/C++   an include whose path a file of the tree ends with, or which ends with a file's
//           path (`<boost/config.hpp>` in a tree holding config.hpp at its root).
// An import the resolver takes to a file counts as in-repo too, whatever the rule says (a child
// module in Rust, a tsconfig `paths` alias): a file of the tree is the repository's code. An
// import counts as resolved when a file target of its line came out of its file's resolution.
// Other languages are not measured here. With --misses N, the first N unresolved in-repo imports
// of each language are printed, to see why.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include "indexer/config_json.h"
#include "indexer/indexer.h"
#include "indexer/resolve_imports.h"
#include "indexer/workspaces.h"

namespace fs = std::filesystem;
using query::Language;

namespace {

struct Manifests {
  std::set<std::string> npm_names, crate_names, go_modules;
  bool go_std = false;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Manifests read_manifests(const fs::path& root) {
  Manifests m;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string name = it->path().filename().string();
    if (it->is_directory(ec) && (name.starts_with('.') || name == "node_modules" || name == "target")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec) || it->file_size(ec) > (4 << 20)) continue;
    if (name == "package.json") {
      auto j = indexer::detail::parse_json(slurp(it->path()));
      if (j.value) {
        auto p = indexer::detail::read_package_json(*j.value);
        if (!p.name.empty()) m.npm_names.insert(p.name);
      }
    } else if (name == "Cargo.toml") {
      auto c = indexer::detail::read_cargo_toml(slurp(it->path()));
      std::string n = !c.lib_name.empty() ? c.lib_name : c.package_name;
      std::replace(n.begin(), n.end(), '-', '_');
      if (!n.empty()) m.crate_names.insert(n);
    } else if (name == "go.mod") {
      std::istringstream in(slurp(it->path()));
      for (std::string line; std::getline(in, line);)
        if (line.starts_with("module ")) {
          std::string mod = line.substr(7);
          mod.erase(std::remove_if(mod.begin(), mod.end(), [](char c) { return c == '"' || std::isspace(static_cast<unsigned char>(c)); }), mod.end());
          if (mod == "std") m.go_std = true;
          else if (!mod.empty()) m.go_modules.insert(mod);
          break;
        }
    }
  }
  return m;
}

std::string lang_name(Language l) {
  switch (l) {
    case Language::JavaScript: return "JavaScript";
    case Language::TypeScript: case Language::Tsx: return "TypeScript";
    case Language::Python: return "Python";
    case Language::Go: return "Go";
    case Language::Rust: return "Rust";
    case Language::C: return "C";
    case Language::Cpp: return "C++";
    default: return "";
  }
}

std::string first_segment(std::string_view s, std::string_view sep) { return std::string(s.substr(0, s.find(sep))); }

std::string npm_package(std::string_view spec) {
  size_t slash = spec.find('/');
  if (spec.starts_with("@") && slash != std::string_view::npos) slash = spec.find('/', slash + 1);
  return std::string(spec.substr(0, slash));
}

bool names_data(std::string_view spec) {
  if (spec.find("node_modules/") != std::string_view::npos) return true;
  for (std::string_view ext : {".json", ".css", ".scss", ".less", ".svg", ".png", ".html", ".txt", ".md", ".wasm"})
    if (spec.ends_with(ext)) return true;
  return false;
}

struct Tally {
  size_t imports = 0, in_repo = 0, resolved = 0, resolved_before = 0;
  std::vector<std::string> misses;
};

}  // namespace

int main(int argc, char** argv) {
  size_t show_misses = 0;
  std::vector<std::string> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--misses" && i + 1 < argc) show_misses = std::stoul(argv[++i]);
    else dirs.push_back(a);
  }
  if (dirs.empty()) {
    std::fprintf(stderr, "usage: indexer_imports_bench [--misses N] DIR...\n");
    return 2;
  }
  std::map<std::string, Tally> total;
  auto rate = [](size_t n, size_t of) { return of ? double(n) / double(of) : 1.0; };
  auto print = [&](const std::string& lang, const Tally& t) {
    std::printf("  %-11s %8zu imports %8zu in-repo %8zu resolved   rate %.3f   (before: %.3f)\n", lang.c_str(), t.imports,
                t.in_repo, t.resolved, rate(t.resolved, t.in_repo), rate(t.resolved_before, t.in_repo));
  };
  std::printf("== import graph: in-repo imports resolved to a file of the tree (each DIR one repository)\n");
  for (const auto& dir : dirs) {
    auto r = indexer::index_tree(dir, {});
    if (!r.index) {
      std::fprintf(stderr, "%s: cannot index\n", dir.c_str());
      return 1;
    }
    const query::Index& index = *r.index;
    Manifests m = read_manifests(dir);
    // Python's top-level modules; every file path, for C and C++ includes.
    std::unordered_set<std::string> py_top, paths, tails;  // tails: each path and its shorter tails at '/'s
    auto has_init = [&](std::string_view d) { return index.find_file(d.empty() ? "__init__.py" : std::string(d) + "/__init__.py").has_value(); };
    for (uint32_t f = 0; f < index.file_count(); ++f) {
      std::string p(index.file(f).path);
      paths.insert(p);
      for (size_t i = 0; i != std::string::npos; i = p.find('/', i), i = i == std::string::npos ? i : i + 1) tails.insert(p.substr(i));
      if (!p.ends_with(".py")) continue;
      size_t slash = p.rfind('/');
      std::string d = slash == std::string::npos ? "" : p.substr(0, slash), base = p.substr(slash + 1);
      if (base == "__init__.py") {
        size_t up = d.rfind('/');
        std::string parent = up == std::string::npos ? "" : d.substr(0, up);
        if (!d.empty() && !has_init(parent)) py_top.insert(d.substr(up + 1));
      } else if (!has_init(d)) {
        py_top.insert(base.substr(0, base.size() - 3));
      }
    }
    auto c_in_repo = [&](std::string spec) {
      while (spec.starts_with("./")) spec.erase(0, 2);
      for (size_t i = 0;; i = spec.find('/', i) + 1) {  // spec, then each shorter tail of it
        std::string tail = spec.substr(i);
        if (paths.count(tail)) return true;
        if (spec.find('/', i) == std::string::npos) break;
      }
      return tails.count(spec) > 0;  // a file whose path ends with the spec
    };
    indexer::ImportResolver resolver(dir, index);
    indexer::ImportResolver before(dir, index, {.workspaces = false, .root_as_include_dir = false, .go_std_vendor = false});
    std::map<std::string, Tally> here;
    for (uint32_t f = 0; f < index.file_count(); ++f) {
      auto info = index.file(f);
      std::string lang = lang_name(info.language);
      if (lang.empty()) continue;
      std::set<uint32_t> file_lines, before_lines;
      for (const auto& t : resolver.resolve(f).targets)
        if (!t.external) file_lines.insert(t.line);
      for (const auto& t : before.resolve(f).targets)
        if (!t.external) before_lines.insert(t.line);
      for (const auto& imp : index.file_imports(f)) {
        std::string_view spec = imp.specifier, kind = imp.kind;
        bool ok = file_lines.count(imp.line) > 0, mine = ok;
        if (!mine) switch (info.language) {
            case Language::JavaScript: case Language::TypeScript: case Language::Tsx:
              mine = ((spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == "..") && !names_data(spec)) ||
                     m.npm_names.count(npm_package(spec));
              break;
            case Language::Python:
              mine = spec.starts_with('.') || py_top.count(first_segment(spec, "."));
              break;
            case Language::Go: {
              for (const auto& mod : m.go_modules)
                if (spec == mod || (spec.starts_with(mod) && spec[mod.size()] == '/')) mine = true;
              if (m.go_std && spec != "C" && first_segment(spec, "/").find('.') == std::string::npos) mine = true;  // "C": cgo
              break;
            }
            case Language::Rust: {
              std::string first = first_segment(spec, "::");
              mine = kind == "mod" || first == "crate" || first == "self" || first == "super" || m.crate_names.count(first);
              break;
            }
            default: mine = c_in_repo(std::string(spec)); break;
          }
        Tally& t = here[lang];
        ++t.imports;
        if (!mine) continue;
        ++t.in_repo;
        if (before_lines.count(imp.line)) ++t.resolved_before;
        if (ok) ++t.resolved;
        else if (t.misses.size() < show_misses) t.misses.push_back(std::string(info.path) + ":" + std::to_string(imp.line + 1) + " " + std::string(spec));
      }
    }
    std::printf("%s\n", dir.c_str());
    for (const auto& [lang, t] : here) {
      print(lang, t);
      for (const auto& miss : t.misses) std::printf("      miss: %s\n", miss.c_str());
      Tally& all = total[lang];
      all.imports += t.imports, all.in_repo += t.in_repo, all.resolved += t.resolved, all.resolved_before += t.resolved_before;
    }
  }
  std::printf("all\n");
  for (const auto& [lang, t] : total) print(lang, t);
  return 0;
}
