#include "server/service.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace server {

const json& member(const json& object, const char* key) {
  static const json null;
  if (!object.is_object()) return null;
  auto it = object.find(key);
  return it == object.end() ? null : *it;
}

Service::Service(indexer::LiveTree& tree) : tree_(tree) {}
Service::~Service() = default;

std::shared_ptr<const query::ImportGraph> Service::graph() {
  auto live = tree_.graph();
  return {live, live->imports.get()};
}

std::vector<std::string> Service::graph_warnings() { return tree_.graph()->warnings; }

void append_json_string(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    // The common case first: a run of printable ASCII goes in at once.
    size_t run = i;
    while (run < s.size() && static_cast<unsigned char>(s[run]) >= 0x20 && static_cast<unsigned char>(s[run]) < 0x80 &&
           s[run] != '"' && s[run] != '\\')
      ++run;
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') out += '\\', out += char(c);
      else if (c == '\b') out += "\\b";
      else if (c == '\f') out += "\\f";
      else if (c == '\n') out += "\\n";
      else if (c == '\r') out += "\\r";
      else if (c == '\t') out += "\\t";
      else if (c < 0x20) out += "\\u00", out += hex[c >> 4], out += hex[c & 15];
      else out += char(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence is copied; anything else becomes U+FFFD, one per bad byte, as
    // nlohmann's error_handler_t::replace does.
    size_t len = utf8_sequence(s, i);
    if (len) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  out += '"';
}

std::vector<query::ImportGraph::NodeId> example_loop(const query::ImportGraph& g, const std::vector<query::ImportGraph::NodeId>& cycle) {
  auto v = cycle.front();
  std::vector<query::ImportGraph::NodeId> best;
  for (const auto& e : g.imports(v)) {
    if (!std::binary_search(cycle.begin(), cycle.end(), e.to)) continue;
    auto back = e.to == v ? std::optional(std::vector{v}) : g.shortest_path(e.to, v);
    if (!back || (!best.empty() && back->size() + 1 >= best.size())) continue;
    best = {v};
    best.insert(best.end(), back->begin(), back->end());
  }
  return best;
}

}  // namespace server
