// JSON-RPC message handling (server/jsonrpc.cpp), the path every transport feeds: WebSocket text
// frames, POST /rpc bodies, LSP frames and MCP lines all end in RpcConnection::receive(). The
// methods here echo, fail, throw or answer pre-serialized JSON; every answer sent must be JSON.
#include <boost/asio/post.hpp>  // before our headers, as server/jsonrpc.cpp has it

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <stdexcept>
#include <string_view>

#include "server/jsonrpc.h"

using server::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::mutex mu;
  size_t answers = 0;
  {
    server::RpcConnection rpc(
        [](const std::string& method, const json& params, const server::CancelFlag&) -> server::Result {
          if (method == "echo") return params;
          if (method == "raw") return server::RawJson{"{\"ok\":true}"};
          if (method == "fail") throw server::RpcError{server::kInvalidParams, "bad params"};
          if (method == "throw") throw std::runtime_error("thrown");
          throw server::RpcError{server::kMethodNotFound, "unknown method " + method};
        },
        [&](std::string message) {
          if (!json::accept(message)) __builtin_trap();
          std::lock_guard lock(mu);
          ++answers;
        },
        8, [](const std::string& method) {
          // A module's executor: a thread a job (close() waits for them as for the pool's).
          static const server::Executor thread_a_job = [](std::function<void()> job) { std::thread(std::move(job)).detach(); };
          return server::RpcConnection::Placement{.inline_call = method == "echo", .executor = method == "raw" ? &thread_a_job : nullptr};
        });
    rpc.receive(text);
    rpc.close();
  }
  if (answers > 1) __builtin_trap();  // one message in, at most one answer (a batch is one array)
  return 0;
}
