// The language table: which tree-sitter grammar and which of our tags queries handle a file.
//
// A file's language comes from its name (extension or well-known file name) and, failing that,
// from a `#!` line. Each language names the grammar compiled in from its pinned npm package and
// the tags query under grammars/queries/ that turns the syntax tree into definitions and imports
// (see the capture conventions at the top of indexer/extract.h).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

struct TSLanguage;

namespace grammars {

enum class Language : uint8_t {
  Unknown = 0,
  Python,
  JavaScript,
  TypeScript,
  Tsx,
  Go,
  Rust,
  C,
  Cpp,
  Java,
  CSharp,
  Ruby,
  Php,
  Bash,
  Count,
};

struct LanguageSpec {
  Language id;
  std::string_view name;                            // "python", "cpp", ... as used by --lang
  const TSLanguage* (*grammar)();
  std::string_view query;                           // our tags query source
  std::string_view separator;                       // joins a container chain: ".", "::", "\\"
  std::span<const std::string_view> constructors;   // method names that are constructors
};

// Every language, indexed by Language (entry 0 is Unknown with no grammar).
std::span<const LanguageSpec> all_languages();
const LanguageSpec& spec(Language language);

// "python", "py", "c++", "ts" ...; Unknown when nothing matches.
Language language_from_name(std::string_view name);

// By file name first, then by the first line when it starts with "#!".
Language detect_language(std::string_view path, std::string_view first_line);

}  // namespace grammars
