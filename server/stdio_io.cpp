#include "server/stdio_io.h"

#include <poll.h>
#include <strings.h>
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
  {
    std::lock_guard lock(mu_);
    if (started_) return;
    started_ = true;
    root_ = root;
  }
  std::lock_guard lock(mu_);
  opener_ = std::thread([this, options, progress = std::move(progress), changed = std::move(changed)] {
    std::string warning, error;
    auto snapshot = options.snapshot.value_or(indexer::default_snapshot_path(root_));
    auto tree = indexer::LiveTree::open(root_, options.index, snapshot, progress, warning, error);
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
      opener = std::move(opener_);
    }
    if (opener.joinable()) opener.join();
  });
  std::lock_guard lock(mu_);
  if (loop_) loop_->stop();
}

namespace {

// The value of a Content-Length header: digits only (surrounding blanks allowed), at most 18 of
// them, so a sum with it never wraps; nullopt for anything else ("-1", "1e3", 20 digits).
std::optional<uint64_t> content_length(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty() || v.size() > 18) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + uint64_t(c - '0');
  }
  return n;
}

}  // namespace

void LspFramer::feed(std::string_view bytes, const FrameSink& sink) {
  if (skipping_) {
    size_t n = size_t(std::min<uint64_t>(skipping_, bytes.size()));
    bytes.remove_prefix(n);
    skipping_ -= n;
  }
  buf_.append(bytes);
  for (;;) {
    // Headers end with an empty line; Content-Length is the one that matters.
    size_t end = buf_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buf_.size() > 64 * 1024) {  // headers do not run that long: not LSP, drop it
        sink.log("64 KiB without the end of a header were skipped");
        buf_.clear();
      }
      return;
    }
    std::optional<uint64_t> length;
    bool unusable = false;
    for (size_t start = 0; start < end;) {
      size_t eol = std::min(buf_.find("\r\n", start), end);
      std::string_view header(buf_.data() + start, eol - start);
      if (header.size() >= 15 && strncasecmp(header.data(), "content-length:", 15) == 0) {
        length = content_length(header.substr(15));
        unusable = !length;
      }
      start = eol + 2;
    }
    size_t body = end + 4;
    if (!length) {  // no length: the frame cannot be found; drop the headers
      sink.log(unusable ? "a message with an unusable Content-Length was skipped" : "a message without Content-Length was skipped");
      buf_.erase(0, body);
      continue;
    }
    if (*length > max_) {
      sink.reject("message of " + std::to_string(*length) + " bytes is over the limit");
      if (buf_.size() - body < *length) {  // skip it as it arrives, never holding it
        skipping_ = *length - (buf_.size() - body);
        buf_.clear();
        return;
      }
      buf_.erase(0, body + *length);
      continue;
    }
    if (buf_.size() - body < *length) return;
    sink.message(std::string_view(buf_).substr(body, *length));
    buf_.erase(0, body + *length);
  }
}

void LineFramer::feed(std::string_view bytes, const FrameSink& sink) {
  if (dropping_) {  // the rest of an oversized line, up to its newline
    size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) return;
    bytes.remove_prefix(nl + 1);
    dropping_ = false;
  }
  buf_.append(bytes);
  size_t at = 0;
  for (size_t nl; (nl = buf_.find('\n', at)) != std::string::npos; at = nl + 1) {
    std::string_view line(buf_.data() + at, nl - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) sink.message(line);
  }
  buf_.erase(0, at);
  if (buf_.size() > max_) {
    sink.reject("message over " + std::to_string(max_) + " bytes");
    buf_.clear();
    dropping_ = true;
  }
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
