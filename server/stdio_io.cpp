#include "server/stdio_io.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
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

namespace {

constexpr std::string_view kLengthName = "content-length:";

size_t find_length_header(std::string_view text) {
  for (size_t i = 0; i + kLengthName.size() <= text.size(); ++i)
    if ((text[i] | 0x20) == 'c' && strncasecmp(text.data() + i, kLengthName.data(), kLengthName.size()) == 0) return i;
  return std::string_view::npos;
}

std::string quoted(std::string_view v) {
  return "'" + std::string(v.substr(0, 40)) + (v.size() > 40 ? "...'" : "'");
}

}  // namespace

void LspFramer::append(std::string_view bytes) {
  if (pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
}

bool LspFramer::resync() {
  std::string_view rest = std::string_view(buf_).substr(pos_);
  size_t at = find_length_header(rest);
  if (at == std::string_view::npos) {  // keep what could be the start of one
    pos_ = buf_.size() - std::min(rest.size(), kLengthName.size() - 1);
    return false;
  }
  pos_ += at;
  resyncing_ = false;
  return true;
}

std::optional<LspFramer::Frame> LspFramer::next() {
  if (resyncing_ && !resync()) return std::nullopt;
  std::string_view rest = std::string_view(buf_).substr(pos_);
  size_t end = rest.find("\r\n\r\n");
  if (end == std::string_view::npos ? rest.size() > kMaxHeader : end > kMaxHeader) {
    pos_ += 1;
    resyncing_ = true;
    return Frame{Frame::Problem, {}, "no end of the header within 64 KiB"};
  }
  if (end == std::string_view::npos) return std::nullopt;
  std::optional<uint64_t> length;
  for (size_t start = 0; start < end;) {
    size_t eol = std::min(rest.find("\r\n", start), end);
    std::string_view line = rest.substr(start, eol - start);
    size_t line_at = start;
    start = eol + 2;
    if (line.size() < kLengthName.size() || strncasecmp(line.data(), kLengthName.data(), kLengthName.size()) != 0) continue;
    std::string_view v = line.substr(kLengthName.size());
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    uint64_t n = 0;
    bool digits = !v.empty() && v.size() <= 20 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);  // 20 digits can still overflow
    if (length || !digits || ec != std::errc() || p != v.data() + v.size()) {
      // The body's length is unknown: skip to the next header, past this one.
      pos_ += line_at + 1;
      resyncing_ = true;
      return Frame{Frame::Problem, {},
                   length ? "a second Content-Length header" : "invalid Content-Length " + quoted(v) + " (decimal digits, at most " +
                                                                       std::to_string(max_body_) + ")"};
    }
    if (n > max_body_) {
      pos_ += line_at + 1;
      resyncing_ = true;
      return Frame{Frame::TooLarge, {}, "message of " + std::to_string(n) + " bytes is over the limit of " + std::to_string(max_body_)};
    }
    length = n;
  }
  if (!length) {
    pos_ += end + 4;
    resyncing_ = true;
    return Frame{Frame::Problem, {}, "a message without Content-Length"};
  }
  size_t body = end + 4;
  if (rest.size() - body < *length) return std::nullopt;
  pos_ += body + *length;
  return Frame{Frame::Body, rest.substr(body, *length), {}};
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
