// An LSP client over a child process's stdin/stdout, for the benchmarks: Content-Length framing
// (any header order and case, partial reads, several messages in one read, bodies of many MB),
// and answers to what servers ask of their client on the way (window/workDoneProgress/create,
// workspace/configuration, client/registerCapability, ...), so that clangd, pyright and `indexer
// lsp` all run as they would under an editor. Every message carries the instant its last byte
// was read, so a latency excludes the client's own JSON parsing. Failures throw: the server
// exits, a deadline passes (std::runtime_error), a message is not JSON (nlohmann's parse_error).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"
#include "stats.h"

namespace bench {

struct LspMessage {
  nlohmann::json body;
  size_t bytes = 0;  // of the body as sent
  Clock::time_point at;
};

class LspClient {
 public:
  explicit LspClient(const std::vector<std::string>& args, const std::string& cwd = {});
  ~LspClient();  // closes the pipes; a server still running after 5 s is killed
  LspClient(const LspClient&) = delete;
  LspClient& operator=(const LspClient&) = delete;

  // What workspace/configuration answers for one item's section ("python", ...); null by default.
  std::function<nlohmann::json(const std::string& section)> settings;
  // Sees every notification from the server (diagnostics, $/progress, log messages).
  std::function<void(const LspMessage&)> on_notification;

  void notify(const std::string& method, const nlohmann::json& params);
  // Sends a request and waits for its answer; notifications and the server's requests that
  // arrive meanwhile are handled. Throws on an error answer unless `allow_error`.
  LspMessage call(const std::string& method, const nlohmann::json& params, double timeout_s = 600, bool allow_error = false);
  // Handles messages until a notification satisfies `done`; false when the deadline passes first.
  bool wait_for(const std::function<bool(const LspMessage&)>& done, double timeout_s);
  // shutdown, exit, and the process reaped.
  void shutdown();

 private:
  void send(const nlohmann::json& message);
  // The next message, or nullopt at the deadline.
  std::optional<LspMessage> receive(Clock::time_point deadline);
  // Answers a server request; passes a notification on. False for an answer to one of ours.
  bool handle(const LspMessage& m);

  Child child_;
  std::string buf_;
  size_t start_ = 0;  // buf_'s unread part begins here
  int next_id_ = 0;
};

}  // namespace bench
