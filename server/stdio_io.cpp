#include "server/stdio_io.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

namespace server::detail {

Input::Input() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
Input::~Input() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool Input::read(std::string& buf) {
  for (;;) {
    pollfd fds[2] = {{0, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return false;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[64 * 1024];
      ssize_t got = ::read(0, chunk, sizeof chunk);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) return false;
      buf.append(chunk, size_t(got));
      return true;
    }
  }
}

void Input::wake() {
  uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {}
}

bool write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(1, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

Workspace::~Workspace() { stop(); }

void Workspace::open(const std::filesystem::path& root, const StdioOptions& options,
                     std::function<void(const indexer::Progress&)> progress,
                     std::function<void(const indexer::LiveTree::Report&)> changed) {
  // One lock for the check and the thread: a stop() that came first (an LSP client's shutdown
  // before its initialize was run) must not leave a thread nobody joins.
  std::lock_guard lock(mu_);
  if (started_ || stopped_) return;
  started_ = true;
  root_ = root;
  opener_ = std::thread([this, options, progress = std::move(progress), changed = std::move(changed)] {
    std::string warning, error;
    auto snapshot = options.snapshot.value_or(indexer::default_snapshot_path(root_));
    std::unique_ptr<indexer::LiveTree> tree;
    if (auto opened = indexer::LiveTree::open(root_, options.index, snapshot, progress, warning)) tree = std::move(*opened);
    else error = opened.error();
    if (!warning.empty()) std::cerr << "indexer: warning: " << warning << '\n';
    std::unique_ptr<Service> service;
    std::unique_ptr<indexer::WatchLoop> loop;
    if (tree) {
      service = std::make_unique<Service>(*tree);
      indexer::WatchLoop::Callbacks callbacks;
      callbacks.warning = [](const std::string& w) { std::cerr << "indexer: warning: " << w << '\n'; };
      callbacks.changed = changed;
      loop = std::make_unique<indexer::WatchLoop>(*tree, indexer::WatchLoop::Settings{}, callbacks);
    }
    std::lock_guard lock(mu_);
    tree_ = std::move(tree);
    service_ = std::move(service);
    loop_ = std::move(loop);
    error_ = tree_ ? "" : root_.string() + ": " + error;
    done_ = true;
    cv_.notify_all();
  });
}

bool Workspace::opening() const {
  std::lock_guard lock(mu_);
  return started_ && !done_;
}

bool Workspace::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return done_ || !started_; });
}

Service& Workspace::ready(const CancelFlag& cancelled) {
  std::unique_lock lock(mu_);
  if (!started_) throw RpcError{kServerNotReady, "the server is not initialized"};
  while (!done_) {
    if (cancelled) throw RpcError{kRequestCancelled, "request cancelled"};
    cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  if (!service_) throw RpcError{kInternalError, error_};
  return *service_;
}

Service* Workspace::service() {
  std::lock_guard lock(mu_);
  return service_.get();
}

void Workspace::stop() {
  std::call_once(joined_, [&] {
    std::thread opener;
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
      opener = std::move(opener_);
    }
    if (opener.joinable()) opener.join();
  });
  std::lock_guard lock(mu_);
  if (loop_) loop_->stop();
}

std::string uri_from_path(const std::filesystem::path& absolute) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : absolute.generic_string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') out += char(c);
    else out += '%', out += hex[c >> 4], out += hex[c & 15];
  }
  return out;
}

std::optional<std::filesystem::path> path_from_uri(std::string_view uri) {
  if (!uri.starts_with("file://")) return std::nullopt;
  uri.remove_prefix(7);
  if (size_t slash = uri.find('/'); slash != 0) {  // file://host/path: only the local host
    if (slash == std::string_view::npos || uri.substr(0, slash) != "localhost") return std::nullopt;
    uri.remove_prefix(slash);
  }
  std::string out;
  for (size_t i = 0; i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && std::isxdigit(uint8_t(uri[i + 1])) && std::isxdigit(uint8_t(uri[i + 2]))) {
      out += char(std::stoi(std::string(uri.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += uri[i];
    }
  }
  return std::filesystem::path(out).lexically_normal();
}

Lines::Lines(std::string text) : text_(std::move(text)) {
  starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') starts_.push_back(i + 1);
}

std::string_view Lines::line(uint32_t i) const {
  if (i >= starts_.size()) return {};
  size_t end = i + 1 < starts_.size() ? starts_[i + 1] - 1 : text_.size();
  return std::string_view(text_).substr(starts_[i], end - starts_[i]);
}

uint32_t Lines::utf16_column(uint32_t line, uint32_t byte_column) const {
  std::string_view l = this->line(line);
  uint32_t units = 0;
  for (size_t i = 0; i < l.size() && i < byte_column; ++i) {
    unsigned char c = static_cast<unsigned char>(l[i]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte
    units += c >= 0xF0 ? 2 : 1;        // four-byte sequences are surrogate pairs
  }
  if (byte_column > l.size()) units += byte_column - uint32_t(l.size());
  return units;
}

uint32_t Lines::byte_column(uint32_t line, uint32_t utf16_column) const {
  std::string_view l = this->line(line);
  uint32_t units = 0;
  size_t i = 0;
  while (i < l.size() && units < utf16_column) {
    unsigned char c = static_cast<unsigned char>(l[i]);
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    units += len == 4 ? 2 : 1;
    i = std::min(l.size(), i + len);
  }
  return uint32_t(i);
}

size_t Lines::offset(uint32_t line, uint32_t byte_column) const {
  if (line >= starts_.size()) return text_.size();
  return std::min(starts_[line] + std::min<size_t>(byte_column, this->line(line).size()), text_.size());
}

}  // namespace server::detail
