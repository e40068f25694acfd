#include "server/registry.h"
#include "server/http_routes.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace server {

[[noreturn]] void bad_param(const std::string& message) { throw RpcError{kInvalidParams, message}; }

namespace {

const json& empty_object() {
  static const json empty = json::object();
  return empty;
}

}  // namespace

Params::Params(const json& params) : params_(params.is_null() ? empty_object() : params) {
  if (!params_.is_object()) bad_param("params must be an object");
}

const json& Params::raw(const char* name) const { return member(params_, name); }

std::optional<std::string> Params::maybe_text(const char* name) const {
  const json& v = raw(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_string()) bad_param(std::string("param '") + name + "' must be a string");
  return v.get<std::string>();
}

std::string Params::text(const char* name) const {
  auto v = maybe_text(name);
  if (!v) bad_param(std::string("missing param '") + name + "'");
  return std::move(*v);
}

std::optional<uint64_t> Params::maybe_integer(const char* name, uint64_t min, uint64_t max) const {
  const json& v = raw(name);
  if (v.is_null()) return std::nullopt;
  if (!v.is_number_integer() || v.get<int64_t>() < int64_t(min) || v.get<uint64_t>() > max)
    bad_param(std::string("param '") + name + "' must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  return v.get<uint64_t>();
}

uint64_t Params::integer(const char* name, uint64_t fallback, uint64_t min, uint64_t max) const {
  return maybe_integer(name, min, max).value_or(fallback);
}

bool Params::flag(const char* name, bool fallback) const {
  const json& v = raw(name);
  if (v.is_null()) return fallback;
  if (!v.is_boolean()) bad_param(std::string("param '") + name + "' must be true or false");
  return v.get<bool>();
}

std::optional<std::vector<std::string>> Params::names(const char* name) const {
  const json& v = raw(name);
  if (v.is_null()) return std::nullopt;
  std::vector<std::string> out;
  auto split = [&](const std::string& s) {
    for (size_t start = 0; start <= s.size();) {
      size_t comma = std::min(s.find(',', start), s.size());
      if (comma > start) out.push_back(s.substr(start, comma - start));
      start = comma + 1;
    }
  };
  auto refuse = [&] { bad_param(std::string("param '") + name + "' must be a string or a list of strings"); };
  if (v.is_string()) {
    split(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string()) refuse();
      split(e.get<std::string>());
    }
  } else {
    refuse();
  }
  return out;
}

void Registry::add(Method method) {
  if (by_name_.count(method.name)) throw std::logic_error("method registered twice: " + method.name);
  if (method.tool && with_tool(method.tool->name)) throw std::logic_error("MCP tool registered twice: " + method.tool->name);
  if (method.runs == Runs::Executor && !method.executor) throw std::logic_error(method.name + " runs on an executor but has none");
  by_name_.emplace(method.name, methods_.size());
  methods_.push_back(std::move(method));
}

const Method& Registry::add_written(Method method, std::function<std::string(const json& params, Context& context)> call) {
  method.call = [call = std::move(call)](const json& params, Context& context) -> Result { return RawJson{call(params, context)}; };
  add(std::move(method));
  return methods_.back();
}

const Method* Registry::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &methods_[it->second];
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& m : methods_) out.push_back(m.name);
  return out;
}

const Method* Registry::with_tool(std::string_view name) const {
  for (const auto& m : methods_)
    if (m.tool && m.tool->name == name) return &m;
  return nullptr;
}

std::string tool_schema(const json& properties, const std::vector<std::string>& required) {
  return json{{"type", "object"}, {"properties", properties}, {"required", required}, {"additionalProperties", false}}.dump();
}

Result Registry::call(std::string_view name, const json& params, Host& host, const CancelFlag& cancelled,
                      std::function<void(const std::string&, const json&)> notify, uint64_t connection) const {
  const Method* m = find(name);
  if (!m) throw RpcError{kMethodNotFound, "no method '" + std::string(name) + "'"};
  if (!m->call) throw RpcError{kMethodNotFound, "'" + m->name + "' is served over a WebSocket only"};
  if (!params.is_null() && !params.is_object() && !params.is_array()) throw RpcError{kInvalidParams, "params must be an object"};
  Context context{host, m->needs_index ? &host.index_ready(cancelled) : host.index_now(), cancelled, 0, std::move(notify), connection};
  return m->call(params, context);
}

std::string Registry::markdown() const {
  auto cell = [](const std::string& text) {  // a '|' would end the cell
    std::string out;
    for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
    return out;
  };
  std::string out = "| method | params | answers |\n|---|---|---|\n";
  for (const auto& m : methods_) {
    std::string notes;
    if (!m.needs_index) notes += " Answered while the first index is built.";
    if (m.websocket_only) notes += " WebSocket only.";
    if (m.tool) notes += " MCP tool `" + m.tool->name + "`.";
    out += "| `" + m.name + "` | `" + cell(m.params) + "` | " + cell(m.summary + notes) + " |\n";
  }
  return out;
}

Registry& registry() {
  static Registry r;
  return r;
}

json to_json(const Result& result) {
  if (const auto* raw = std::get_if<RawJson>(&result)) return json::parse(raw->text);
  return std::get<json>(result);
}

json call_json(Service& service, std::string_view method, const json& params) {
  ReadyHost host(service);
  CancelFlag cancelled{false};
  return to_json(registry().call(method, params, host, cancelled));
}

}  // namespace server

namespace server {

std::vector<Module>& modules() {
  static std::vector<Module> m;
  return m;
}

const HttpRoute* find_route(std::string_view method, std::string_view path) {
  for (const auto& m : modules())
    for (const auto& r : m.routes)
      if (r.method == method && (r.prefix ? path.starts_with(r.path) : path == r.path)) return &r;
  return nullptr;
}

}  // namespace server
