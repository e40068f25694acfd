#include "indexer/config_json.h"

#include <algorithm>

namespace indexer::detail {

const JsonValue* JsonValue::get(std::string_view key) const {
  if (type != Type::Object) return nullptr;
  for (size_t i = keys.size(); i-- > 0;)
    if (keys[i] == key) return &items[i];
  return nullptr;
}

namespace {

constexpr int kMaxDepth = 200;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  JsonParse run() {
    JsonValue v;
    skip_space();
    if (parse_value(v, 0)) {
      skip_space();
      if (pos_ < s_.size()) fail("unexpected text after the value");
    }
    if (!error_.empty()) {
      size_t line = 1 + size_t(std::count(s_.begin(), s_.begin() + std::ptrdiff_t(std::min(error_at_, s_.size())), '\n'));
      return {std::nullopt, "line " + std::to_string(line) + ": " + error_};
    }
    return {std::move(v), ""};
  }

 private:
  bool fail(const char* what) {
    if (error_.empty()) error_ = what, error_at_ = pos_;
    return false;
  }

  // Whitespace, // line comments and /* block */ comments.
  void skip_space() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') ++pos_;
      else if (s_.substr(pos_, 2) == "//") pos_ = std::min(s_.size(), s_.find('\n', pos_));
      else if (s_.substr(pos_, 2) == "/*") {
        size_t end = s_.find("*/", pos_ + 2);
        pos_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else break;
    }
  }

  bool parse_value(JsonValue& v, int depth) {
    if (depth > kMaxDepth) return fail("nested too deeply");
    if (pos_ >= s_.size()) return fail("unexpected end of file");
    char c = s_[pos_];
    if (c == '{' || c == '[') return parse_container(v, depth, c == '{');
    if (c == '"') {
      v.type = JsonValue::Type::String;
      return parse_string(v.text);
    }
    size_t start = pos_;
    while (pos_ < s_.size() && std::string_view(",]} \t\r\n/").find(s_[pos_]) == std::string_view::npos) ++pos_;
    std::string_view word = s_.substr(start, pos_ - start);
    v.text = std::string(word);
    if (word == "true" || word == "false") v.type = JsonValue::Type::Bool;
    else if (word == "null") v.type = JsonValue::Type::Null;
    else if (!word.empty() && (word[0] == '-' || (word[0] >= '0' && word[0] <= '9'))) v.type = JsonValue::Type::Number;
    else {
      pos_ = start;
      return fail("expected a value");
    }
    return true;
  }

  // Objects and arrays; a trailing comma before the closing bracket is accepted.
  bool parse_container(JsonValue& v, int depth, bool object) {
    v.type = object ? JsonValue::Type::Object : JsonValue::Type::Array;
    char close = object ? '}' : ']';
    ++pos_;
    while (true) {
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == close) {
        ++pos_;
        return true;
      }
      if (object) {
        if (pos_ >= s_.size() || s_[pos_] != '"') return fail("expected a key in quotes");
        std::string key;
        if (!parse_string(key)) return false;
        skip_space();
        if (pos_ >= s_.size() || s_[pos_] != ':') return fail("expected ':'");
        ++pos_;
        skip_space();
        v.keys.push_back(std::move(key));
      }
      v.items.emplace_back();
      if (!parse_value(v.items.back(), depth + 1)) return false;
      skip_space();
      if (pos_ < s_.size() && s_[pos_] == ',') ++pos_;
      else if (pos_ >= s_.size() || s_[pos_] != close) return fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }

  // A quoted string with JSON escapes; \uXXXX becomes UTF-8 (surrogate pairs combined).
  bool parse_string(std::string& out) {
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) break;
      char e = s_[pos_++];
      switch (e) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t lo = hex4();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: out += e;  // \" \\ \/ and anything else as itself
      }
    }
    if (pos_ >= s_.size()) return fail("unterminated string");
    ++pos_;
    return true;
  }

  uint32_t hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4 && pos_ < s_.size(); ++i, ++pos_) {
      char c = s_[pos_];
      v = v * 16 + uint32_t(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 0);
    }
    return v;
  }

  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
    else if (cp < 0x10000) out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
    else
      out += char(0xF0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3F)), out += char(0x80 | ((cp >> 6) & 0x3F)),
          out += char(0x80 | (cp & 0x3F));
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_at_ = 0;
};

}  // namespace

JsonParse parse_json(std::string_view text) { return Parser(text).run(); }

}  // namespace indexer::detail
