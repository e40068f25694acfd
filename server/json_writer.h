// JSON written straight into a string, for results: building them as nlohmann objects first
// costs more than the search that produced them.
// The caller keeps the nesting right; the writer puts the commas. Strings are escaped as
// nlohmann does, with invalid UTF-8 replaced by U+FFFD, so a hostile file name cannot break the
// answer.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/service.h"

namespace server {

class JsonWriter {
 public:
  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  JsonWriter& key(std::string_view k) {
    comma();
    append_json_string(out_, k);
    out_ += ':';
    need_comma_ = false;
    return *this;
  }
  JsonWriter& string(std::string_view v) {
    comma();
    append_json_string(out_, v);
    return *this;
  }
  JsonWriter& number(int64_t v) {
    comma();
    char buf[24];
    out_.append(buf, size_t(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
    return *this;
  }
  JsonWriter& real(double v) {
    comma();
    char buf[32];
    out_.append(buf, size_t(std::to_chars(buf, buf + sizeof buf, v).ptr - buf));
    return *this;
  }
  JsonWriter& boolean(bool v) {
    comma();
    out_ += v ? "true" : "false";
    return *this;
  }
  JsonWriter& null() {
    comma();
    out_ += "null";
    return *this;
  }
  // Shorthands for a member.
  JsonWriter& field(std::string_view k, std::string_view v) { return key(k).string(v); }
  JsonWriter& field(std::string_view k, const char* v) { return key(k).string(v); }
  JsonWriter& field(std::string_view k, int64_t v) { return key(k).number(v); }
  JsonWriter& field(std::string_view k, uint64_t v) { return key(k).number(int64_t(v)); }
  JsonWriter& field(std::string_view k, uint32_t v) { return key(k).number(v); }
  JsonWriter& field(std::string_view k, int v) { return key(k).number(v); }
  JsonWriter& field(std::string_view k, bool v) { return key(k).boolean(v); }
  JsonWriter& field(std::string_view k, double v) { return key(k).real(v); }

  void reserve(size_t n) { out_.reserve(n); }
  std::string take() { return std::move(out_); }

 private:
  void comma() {
    if (need_comma_) out_ += ',';
    need_comma_ = true;
  }
  JsonWriter& open(char c) {
    comma();
    out_ += c;
    need_comma_ = false;
    return *this;
  }
  JsonWriter& close(char c) {
    out_ += c;
    need_comma_ = true;
    return *this;
  }

  std::string out_;
  bool need_comma_ = false;
};

}  // namespace server
