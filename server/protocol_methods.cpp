// The protocol's own methods: initialize (answered at once, while the first index is still being
// built), and the WebSocket session's subscriptions and login, which the session serves itself.
#include <nlohmann/json.hpp>

#include "server/index_methods.h"
#include "server/json_writer.h"
#include "server/registry.h"

namespace server {
namespace {

struct Initialized {
  std::vector<std::string> methods;
  std::optional<index::Status> index;  // nullopt while the first index is built
};

index::NoParams read_none(const Params&) { return {}; }

Initialized initialize(Context& c, const index::NoParams&) {
  Initialized out{registry().names(), std::nullopt};
  if (c.index) out.index = index::status(c, {});
  return out;
}

std::string write_initialized(const Initialized& r) {
  JsonWriter w;
  w.begin_object().field("server", "indexer").field("version", kVersion).key("methods").begin_array();
  for (const auto& m : r.methods) w.string(m);
  w.end_array().key("index");
  std::string out = w.take();
  // The status object is the index/status answer itself, or {"status": "indexing"}.
  out += r.index ? index::write_status(*r.index) : std::string(R"({"status":"indexing"})");
  return out + '}';
}

void register_methods(Registry& r) {
  r.bind({.name = "initialize", .params = "{}",
          .summary = "The server's name, version and methods, and the index's status ({status: \"indexing\"} until the first index is built).",
          .runs = Runs::Inline, .needs_index = false},
         read_none, initialize, write_initialized);
  r.add({.name = "index/subscribe", .params = "{}", .summary = "Sends index/didChange {changes, milliseconds} after each re-index.",
         .runs = Runs::Inline, .needs_index = false, .websocket_only = true});
  r.add({.name = "index/unsubscribe", .params = "{}", .summary = "Stops index/didChange.", .runs = Runs::Inline, .needs_index = false,
         .websocket_only = true});
  r.add({.name = "authenticate", .params = "{token}",
         .summary = "Logs in when a token is required and was not sent as an Authorization header; the first message then.",
         .runs = Runs::Inline, .needs_index = false, .websocket_only = true});
}

const Registration registered(register_methods);

}  // namespace
}  // namespace server
