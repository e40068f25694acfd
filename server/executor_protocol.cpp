#include "server/executor_protocol.h"

namespace server::executor_protocol {

void LineReader::feed(std::string_view bytes, const std::function<void(std::string_view)>& line,
                      const std::function<void(size_t)>& too_long) {
  while (!bytes.empty()) {
    if (dropping_) {
      size_t nl = bytes.find('\n');
      if (nl == std::string_view::npos) return;
      bytes.remove_prefix(nl + 1);
      dropping_ = false;
      continue;
    }
    size_t nl = bytes.find('\n');
    size_t take = nl == std::string_view::npos ? bytes.size() : nl;
    if (buf_.size() + take > max_) {
      too_long(buf_.size() + take);
      buf_.clear();
      scanned_ = 0;
      if (nl == std::string_view::npos) {
        dropping_ = true;
        return;
      }
      bytes.remove_prefix(nl + 1);
      continue;
    }
    buf_.append(bytes.substr(0, take));
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
    std::string_view l(buf_);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!l.empty()) line(l);
    buf_.clear();
  }
}

void LineReader::finish(const std::function<void(std::string_view)>& line) {
  std::string_view l(buf_);
  if (!dropping_ && !l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (!dropping_ && !l.empty()) line(l);
  buf_.clear();
  dropping_ = false;
}

namespace {

// Deeper nesting than any message needs is refused before the parser builds anything.
bool too_deep(std::string_view text) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return true;
    } else if ((c == ']' || c == '}') && depth) {
      --depth;
    }
  }
  return false;
}

}  // namespace

Message parse_line(std::string_view line) {
  using nlohmann::json;
  if (too_deep(line)) return Bad{"", "parse_error", "nested deeper than " + std::to_string(kMaxDepth)};
  json m = json::parse(line, nullptr, false);
  if (m.is_discarded()) return Bad{"", "parse_error", "not a JSON object (or not UTF-8)"};
  if (!m.is_object()) return Bad{"", "invalid_message", "a message is a JSON object with a \"type\""};
  std::string run_id;
  if (auto r = m.find("run_id"); r != m.end()) {
    if (!r->is_string() || r->get_ref<const std::string&>().empty() || r->get_ref<const std::string&>().size() > kMaxRunId)
      return Bad{"", "invalid_message", "run_id must be a string of 1 to 256 bytes"};
    run_id = r->get<std::string>();
  }
  auto type = m.find("type");
  if (type == m.end() || !type->is_string()) return Bad{run_id, "invalid_message", "a message needs \"type\": Hello, Task or Cancel"};
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "Hello") return Hello{};
  if (t != "Task" && t != "Cancel") return Bad{run_id, "unknown_type", "unknown message type '" + t.substr(0, 64) + "' (Hello, Task or Cancel)"};
  if (run_id.empty()) return Bad{"", "invalid_message", t + " needs a run_id"};
  if (t == "Cancel") return Cancel{run_id};
  auto op = m.find("op");
  if (op == m.end() || !op->is_string()) return Bad{run_id, "invalid_message", "Task needs \"op\" (a string)"};
  Task task{run_id, op->get<std::string>(), nullptr, nullptr};
  for (auto [name, into] : {std::pair{"args", &task.args}, std::pair{"context", &task.context}}) {
    auto f = m.find(name);
    if (f == m.end() || f->is_null()) continue;
    if (!f->is_object()) return Bad{run_id, "invalid_message", std::string(name) + " must be an object"};
    *into = std::move(*f);
  }
  return task;
}

}  // namespace server::executor_protocol
