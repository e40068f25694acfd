#include "server/framing.h"

#include <strings.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace server::detail {

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
  for (;;) {
    std::optional<Frame> f = parse();
    // One complaint per run of bad input: junk that keeps resyncing gets one answer, not one per header.
    if (!f || f->kind == Frame::Body) {
      if (f) complained_ = false;
      return f;
    }
    if (!complained_) {
      complained_ = true;
      return f;
    }
  }
}

std::optional<LspFramer::Frame> LspFramer::parse() {
  if (resyncing_ && !resync()) return std::nullopt;
  std::string_view rest = std::string_view(buf_).substr(pos_);
  size_t end = rest.find("\r\n\r\n");
  if (end == std::string_view::npos ? rest.size() > kMaxHeader : end > kMaxHeader) {
    // No header that starts in what was scanned can end within 64 KiB, except one in its last
    // 64 KiB: skip to there, so the block is not scanned again for every header in it.
    pos_ += (end == std::string_view::npos ? rest.size() : end) - kMaxHeader;
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
