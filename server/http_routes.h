// Modules that serve more than JSON-RPC methods: HTTP routes on the server's port, a start and a
// stop with the server, and lines of their own in /stats and /metrics. A module adds itself from
// its *_methods.cpp like its methods (registry.h), so ws_server.cpp only dispatches:
//   const server::ModuleRegistration module([] { return server::Module{...}; });
//
// A route's request has passed the server's token and Origin rules already; its handler answers
// through `respond`, once, from any thread (a long job answers when it ends: no network thread or
// request pool thread waits for it). Routes are matched by method and exact path, or path prefix.
// Cost: a linear scan of a few routes a request that is not the index service's own.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace server {

struct HttpRequest {
  std::string method;  // "GET", "POST" ...
  std::string path;    // without the query
  std::string query;   // after '?', as sent
  std::string body;
  std::string client;  // the peer's address ("unix" on a Unix socket), for fairness between clients
  std::function<std::string(std::string_view name)> header;  // "" when absent
};

struct HttpAnswer {
  unsigned status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Retry-After", "1"}
};
using HttpRespond = std::function<void(HttpAnswer)>;

struct HttpRoute {
  std::string method;
  std::string path;
  bool prefix = false;  // matches path and anything below it ("/status/" + id)
  std::function<void(HttpRequest request, HttpRespond respond)> handle;
};

// What a module is given when the server starts.
struct ModuleStart {
  std::filesystem::path root;
  const std::map<std::string, std::string>& settings;  // the serve command's module options
};

struct Module {
  std::string name;  // its member in /stats
  std::vector<HttpRoute> routes;
  std::function<std::string(const ModuleStart&)> start;  // "" or why the server cannot start
  std::function<void()> stop;                             // before the server's threads end
  std::function<std::string()> prometheus;               // lines appended to /metrics
  std::function<std::string()> stats;                    // a JSON value: /stats's member `name`
};

std::vector<Module>& modules();
// The route for a request, or null.
const HttpRoute* find_route(std::string_view method, std::string_view path);

struct ModuleRegistration {
  explicit ModuleRegistration(Module (*make)()) { modules().push_back(make()); }
};

}  // namespace server
