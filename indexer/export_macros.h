// Export and visibility macros between `class`/`struct`/`union` and the name, the way most C++
// libraries declare their public API (`class MYLIB_EXPORT Env {`, `struct GTEST_API_ TestInfo :`,
// `class Q_DECL_HIDDEN Inner`, `class ABSL_MUST_USE_RESULT Status final`). Private to indexer/.
//
// tree-sitter-cpp cannot know that MYLIB_EXPORT expands to nothing, so it reads the macro as the
// class's name and the real name as a declarator: the class is lost, its constructor becomes a
// free function and its methods lose their container. The attribute forms the grammar knows
// (`__declspec(...)`, `__attribute__((...))`, `alignas(...)`, `[[...]]`) parse fine and are left
// alone. What we do: the parser reads a copy of the file in which each such macro (an identifier
// in capitals, with its parenthesised arguments if any) is overwritten by spaces. Every byte keeps
// its offset, so ranges, names and signatures still come from the real text, and an edit's
// offsets (ts_tree_edit) apply to both.
//
// Only a run of tokens that ends in a name and then `{`, `:` (a base clause), `final` or `<` (a
// specialisation) is touched, and only capitals are blanked: `struct stat st;` and
// `struct timeval tv = {}` are declarations and stay as they are.
// Cost: one pass over the bytes looking for the three keywords; a copy only when a macro is found
// (a few files in a hundred in library headers, none in most code).
#pragma once

#include <string>
#include <string_view>

namespace indexer::detail {

// Writes into `out` a copy of `src` with every export macro in a class head blanked, and returns
// true; returns false, leaving `out` alone, when `src` has none.
bool blank_export_macros(std::string_view src, std::string& out);

}  // namespace indexer::detail
