#include <algorithm>

#include "query/query.h"

namespace query {
namespace {

struct KindName {
  Kind kind;
  std::string_view name;
};
constexpr KindName kKinds[] = {
    {Kind::File, "file"},           {Kind::Module, "module"},         {Kind::Namespace, "namespace"},
    {Kind::Package, "package"},     {Kind::Class, "class"},           {Kind::Method, "method"},
    {Kind::Property, "property"},   {Kind::Field, "field"},           {Kind::Constructor, "constructor"},
    {Kind::Enum, "enum"},           {Kind::Interface, "interface"},   {Kind::Function, "function"},
    {Kind::Variable, "variable"},   {Kind::Constant, "constant"},     {Kind::String, "string"},
    {Kind::Number, "number"},       {Kind::Boolean, "boolean"},       {Kind::Array, "array"},
    {Kind::Object, "object"},       {Kind::Key, "key"},               {Kind::Null, "null"},
    {Kind::EnumMember, "enummember"}, {Kind::Struct, "struct"},       {Kind::Event, "event"},
    {Kind::Operator, "operator"},   {Kind::TypeParameter, "typeparameter"}, {Kind::Macro, "macro"},
    {Kind::TypeAlias, "typealias"},
};

char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

}  // namespace

std::string_view kind_name(Kind kind) {
  for (const auto& k : kKinds)
    if (k.kind == kind) return k.name;
  return "unknown";
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (const auto& k : kKinds)
    if (k.name.size() == name.size() &&
        std::equal(name.begin(), name.end(), k.name.begin(), [](char a, char b) { return lower(a) == b; }))
      return k.kind;
  // Common spellings people type.
  if (name == "func" || name == "fn") return Kind::Function;
  if (name == "type") return Kind::TypeAlias;
  if (name == "const") return Kind::Constant;
  if (name == "var") return Kind::Variable;
  if (name == "trait") return Kind::Interface;
  return std::nullopt;
}

uint8_t lsp_kind(Kind kind) {
  if (kind == Kind::Macro) return uint8_t(Kind::Constant);
  if (kind == Kind::TypeAlias) return uint8_t(Kind::Class);
  return uint8_t(kind);
}

uint64_t kind_bit(Kind kind) {
  // LSP kinds are 1..26; our two extras take the next bits.
  if (kind == Kind::Macro) return 1ull << 27;
  if (kind == Kind::TypeAlias) return 1ull << 28;
  return 1ull << uint8_t(kind);
}

std::string_view tier_name(MatchTier tier) {
  switch (tier) {
    case MatchTier::Exact: return "exact";
    case MatchTier::Prefix: return "prefix";
    case MatchTier::Substring: return "substring";
    case MatchTier::Fuzzy: return "fuzzy";
    case MatchTier::Scattered: return "scattered";
  }
  return "fuzzy";
}

}  // namespace query
