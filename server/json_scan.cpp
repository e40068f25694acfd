#include "server/json_scan.h"

#include <charconv>

namespace server::json_scan {

namespace {

constexpr size_t npos = std::string_view::npos;

size_t skip_space(std::string_view t, size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  return i;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits of a \u escape at t[i..], or -1.
int hex4(std::string_view t, size_t i) {
  if (i + 4 > t.size()) return -1;
  int v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    int d = hex_digit(t[k]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Past the string that opens at t[i] ('"'), or npos.
size_t string_end(std::string_view t, size_t i) {
  for (++i; i < t.size(); ++i) {
    auto c = static_cast<unsigned char>(t[i]);
    if (c == '"') return i + 1;
    if (c < 0x20) return npos;
    if (c != '\\') continue;
    if (++i >= t.size()) return npos;
    switch (t[i]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': break;
      case 'u':
        if (hex4(t, i + 1) < 0) return npos;
        i += 4;
        break;
      default: return npos;
    }
  }
  return npos;
}

size_t digits_end(std::string_view t, size_t i) {
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  return i;
}

// Past the number that starts at t[i], or npos: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
size_t number_end(std::string_view t, size_t i) {
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || t[i] < '0' || t[i] > '9') return npos;
  i = t[i] == '0' ? i + 1 : digits_end(t, i);
  if (i < t.size() && t[i] == '.') {
    size_t end = digits_end(t, i + 1);
    if (end == i + 1) return npos;
    i = end;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    if (++i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    size_t end = digits_end(t, i);
    if (end == i) return npos;
    i = end;
  }
  return i;
}

// Past the value that starts at t[i] (no whitespace before it), or npos.
size_t value_end(std::string_view t, size_t i, int depth) {
  if (i >= t.size()) return npos;
  const char c = t[i];
  if (c == '"') return string_end(t, i);
  if (c == '-' || (c >= '0' && c <= '9')) return number_end(t, i);
  if (c != '{' && c != '[') {
    for (std::string_view word : {"true", "false", "null"})
      if (t.substr(i, word.size()) == word) return i + word.size();
    return npos;
  }
  if (depth >= kMaxDepth) return npos;
  const char close = c == '{' ? '}' : ']';
  i = skip_space(t, i + 1);
  if (i < t.size() && t[i] == close) return i + 1;
  for (;;) {
    if (close == '}') {
      if (i >= t.size() || t[i] != '"' || (i = string_end(t, i)) == npos) return npos;
      i = skip_space(t, i);
      if (i >= t.size() || t[i] != ':') return npos;
      i = skip_space(t, i + 1);
    }
    if ((i = value_end(t, i, depth + 1)) == npos) return npos;
    i = skip_space(t, i);
    if (i >= t.size()) return npos;
    if (t[i] == close) return i + 1;
    if (t[i] != ',') return npos;
    i = skip_space(t, i + 1);
  }
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3F)), out += char(0x80 | ((cp >> 6) & 0x3F)),
        out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace

size_t length(std::string_view text) {
  size_t end = value_end(text, skip_space(text, 0), 0);
  return end == npos ? 0 : end;
}

bool whole(std::string_view text) {
  size_t end = length(text);
  return end != 0 && skip_space(text, end) == text.size();
}

Items::Items(std::string_view container) : text_(container) {
  at_ = skip_space(text_, 0);
  if (at_ < text_.size() && (text_[at_] == '{' || text_[at_] == '[')) {
    close_ = text_[at_] == '{' ? '}' : ']';
    at_ = skip_space(text_, at_ + 1);
  }
}

bool Items::next(std::string_view& key, std::string_view& value) {
  if (!close_ || at_ >= text_.size() || text_[at_] == close_) return close_ = 0, false;
  key = {};
  if (close_ == '}') {
    size_t end = text_[at_] == '"' ? string_end(text_, at_) : npos;
    if (end == npos) return close_ = 0, false;
    key = text_.substr(at_ + 1, end - at_ - 2);
    at_ = skip_space(text_, end);
    if (at_ >= text_.size() || text_[at_] != ':') return close_ = 0, false;
    at_ = skip_space(text_, at_ + 1);
  }
  size_t end = value_end(text_, at_, 1);
  if (end == npos) return close_ = 0, false;
  value = text_.substr(at_, end - at_);
  at_ = skip_space(text_, end);
  if (at_ < text_.size() && text_[at_] == ',') at_ = skip_space(text_, at_ + 1);
  return true;
}

std::optional<std::string> string_value(std::string_view value) {
  if (value.empty() || value[0] != '"' || string_end(value, 0) != value.size()) return std::nullopt;
  std::string out;
  out.reserve(value.size() - 2);
  for (size_t i = 1; i + 1 < value.size(); ++i) {
    if (value[i] != '\\') {
      out += value[i];
      continue;
    }
    switch (char e = value[++i]) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        uint32_t cp = uint32_t(hex4(value, i + 1));
        i += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && value.substr(i + 1, 2) == "\\u") {
          int low = hex4(value, i + 3);
          if (low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + uint32_t(low - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, cp >= 0xD800 && cp < 0xE000 ? 0xFFFD : cp);
        break;
      }
      default: out += e;  // '"', '\\', '/'
    }
  }
  return out;
}

std::optional<uint64_t> unsigned_value(std::string_view value) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || value.empty() || (value[0] == '0' && value.size() > 1))
    return std::nullopt;
  return v;
}

std::string_view member(std::string_view object, std::string_view key) {
  size_t open = skip_space(object, 0);
  if (open >= object.size() || object[open] != '{') return {};
  Items items(object);
  for (std::string_view k, v; items.next(k, v);)
    if (k == key) return v;
  return {};
}

}  // namespace server::json_scan
