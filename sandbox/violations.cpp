#include "sandbox/violations.h"

#include <algorithm>
#include <chrono>

namespace sandbox {
namespace {

// Cut at kMaxViolationText bytes, backing off to a UTF-8 boundary so the text stays valid.
std::string cut(std::string_view s) {
  if (s.size() <= kMaxViolationText) return std::string(s);
  size_t n = kMaxViolationText;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return std::string(s.substr(0, n)) + "...";
}

}  // namespace

std::string_view kind_name(ViolationKind kind) {
  switch (kind) {
    case ViolationKind::Path: return "path";
    case ViolationKind::Url: return "url";
    case ViolationKind::Command: return "command";
    case ViolationKind::Network: return "network";
    case ViolationKind::Limit: return "limit";
    case ViolationKind::Run: return "run";
  }
  return "run";
}

void ViolationLog::record(ViolationKind kind, std::string_view subject, std::string_view reason, std::string_view source) {
  Violation v;
  v.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  v.kind = kind;
  v.subject = cut(subject);
  v.reason = cut(reason);
  v.source = cut(source);
  std::lock_guard lock(mu_);
  v.seq = next_seq_++;
  ++counts_[size_t(kind)];
  if (entries_.size() == capacity_) entries_.pop_front();
  entries_.push_back(std::move(v));
}

ViolationLog::Page ViolationLog::read(size_t limit, uint64_t since) const {
  Page page;
  std::lock_guard lock(mu_);
  page.last = next_seq_ - 1;
  if (entries_.empty() || since >= page.last) return page;
  uint64_t first_kept = entries_.front().seq;
  if (since + 1 < first_kept) page.dropped = first_kept - since - 1;
  // Entries are consecutive by seq: the ones after `since` start at a known index.
  size_t from = since < first_kept ? 0 : size_t(since + 1 - first_kept);
  size_t to = std::min(entries_.size(), from + limit);  // the oldest `limit`: a reader pages on with since
  page.entries.assign(entries_.begin() + std::ptrdiff_t(from), entries_.begin() + std::ptrdiff_t(to));
  return page;
}

std::array<uint64_t, kViolationKinds> ViolationLog::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

ViolationLog& violations() {
  static ViolationLog log(1000);
  return log;
}

}  // namespace sandbox
