#include "server/framing.h"

#include <strings.h>

#include <algorithm>
#include <optional>

namespace server::detail {

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

}  // namespace server::detail
