#include "lsp_client.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace bench {

using nlohmann::json;

LspClient::LspClient(const std::vector<std::string>& args, const std::string& cwd) { child_ = spawn(args, true, cwd); }

LspClient::~LspClient() {
  if (child_.in >= 0) ::close(child_.in);
  if (child_.pid > 0) {
    // Servers exit when their input closes; give them a moment, then make sure.
    for (int i = 0; i < 500 && waitpid(child_.pid, nullptr, WNOHANG) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (kill(child_.pid, 0) == 0) {
      kill(child_.pid, SIGKILL);
      waitpid(child_.pid, nullptr, 0);
    }
  }
  if (child_.out >= 0) ::close(child_.out);
}

void LspClient::send(const json& message) {
  std::string body = message.dump();
  std::string m = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (size_t done = 0; done < m.size();) {
    ssize_t n = ::write(child_.in, m.data() + done, m.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("the server stopped reading (it exited?)");
    done += size_t(n);
  }
}

void LspClient::notify(const std::string& method, const json& params) {
  send({{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
}

std::optional<LspMessage> LspClient::receive(Clock::time_point deadline) {
  for (;;) {
    size_t end = buf_.find("\r\n\r\n", start_);
    if (end != std::string::npos) {
      // Header lines "Name: value"; only Content-Length matters, in any case.
      std::optional<size_t> length;
      for (size_t line = start_; line < end;) {
        size_t eol = std::min(buf_.find("\r\n", line), end);
        std::string_view h(buf_.data() + line, eol - line);
        size_t colon = h.find(':');
        if (colon != std::string_view::npos && strncasecmp(h.data(), "content-length", colon) == 0 && colon == 14)
          length = std::strtoull(std::string(h.substr(colon + 1)).c_str(), nullptr, 10);
        line = eol + 2;
      }
      if (!length) throw std::runtime_error("a message without Content-Length: " + buf_.substr(start_, end - start_));
      if (buf_.size() >= end + 4 + *length) {
        LspMessage m;
        m.at = Clock::now();
        m.bytes = *length;
        m.body = json::parse(buf_.begin() + std::ptrdiff_t(end + 4), buf_.begin() + std::ptrdiff_t(end + 4 + *length));
        start_ = end + 4 + *length;
        if (start_ > buf_.size() / 2) {
          buf_.erase(0, start_);
          start_ = 0;
        }
        return m;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return std::nullopt;
    pollfd p{child_.out, POLLIN, 0};
    int ready = ::poll(&p, 1, int(std::min<long long>(left, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return std::nullopt;
    char chunk[1 << 16];
    ssize_t n = ::read(child_.out, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("the server closed its output (it exited?)");
    buf_.append(chunk, size_t(n));
  }
}

bool LspClient::handle(const LspMessage& m) {
  const json& b = m.body;
  if (!b.is_object() || !b.contains("method")) return false;
  if (!b.contains("id")) {
    if (on_notification) on_notification(m);
    return true;
  }
  // A request of the server's: whatever it asks, an empty answer lets it go on as with an editor
  // that has nothing to say; configuration gets one value per item asked for.
  json result = nullptr;
  if (b["method"] == "workspace/configuration") {
    result = json::array();
    for (const auto& item : b["params"].value("items", json::array()))
      result.push_back(settings ? settings(item.value("section", "")) : json(nullptr));
  }
  send({{"jsonrpc", "2.0"}, {"id", b["id"]}, {"result", result}});
  return true;
}

LspMessage LspClient::call(const std::string& method, const json& params, double timeout_s, bool allow_error) {
  int id = ++next_id_;
  send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  for (;;) {
    auto m = receive(deadline);
    if (!m) throw std::runtime_error(method + ": no answer in " + std::to_string(int(timeout_s)) + " s");
    if (handle(*m) || !m->body.is_object() || m->body.value("id", json()) != json(id)) continue;
    if (m->body.contains("error") && !allow_error) throw std::runtime_error(method + ": " + m->body["error"].dump());
    return std::move(*m);
  }
}

bool LspClient::wait_for(const std::function<bool(const LspMessage&)>& done, double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
  for (;;) {
    auto m = receive(deadline);
    if (!m) return false;
    handle(*m);
    if (m->body.contains("method") && !m->body.contains("id") && done(*m)) return true;
  }
}

void LspClient::shutdown() {
  call("shutdown", nullptr, 30, true);
  notify("exit", nullptr);
  ::close(child_.in);
  child_.in = -1;
}

}  // namespace bench
