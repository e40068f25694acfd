// A small, tolerant JSON reader for the build configuration import resolution reads
// (tsconfig.json, composer.json, compile_commands.json). Private to indexer/.
//
// Why not nlohmann/json: it is confined to server/ (30 s and 500 MB to compile per translation
// unit), and tsconfig.json is not JSON anyway: it allows comments and trailing commas. This reader
// accepts both, keeps numbers as text, and reports the first error with its line.
// Cost: a tree of small values; these files are read once per run and are small, except
// compile_commands.json, which is one value per translation unit.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace indexer::detail {

struct JsonValue {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  std::string text;               // a string's value, a number's text, "true"/"false"
  std::vector<JsonValue> items;   // an array's items, an object's values
  std::vector<std::string> keys;  // an object's keys, parallel to items, in file order

  // An object's member, or null when absent or this is no object. The last duplicate key wins.
  const JsonValue* get(std::string_view key) const;
  bool is_string() const { return type == Type::String; }
};

struct JsonParse {
  std::optional<JsonValue> value;
  std::string error;  // "line 3: expected ':'" when value is empty
};

// Nesting deeper than 200 levels is an error rather than a deep recursion.
JsonParse parse_json(std::string_view text);

}  // namespace indexer::detail
