#include "server/metrics.h"

#include "sandbox/violations.h"

#include <cstdio>

namespace server {

Metrics::Metrics(const std::vector<std::string>& methods) {
  for (const auto& m : methods) methods_.emplace(m, PerMethod{});
  methods_.emplace("(other)", PerMethod{});
}

void Metrics::request(std::string_view method, double seconds, bool error) {
  std::lock_guard lock(mu_);
  auto it = methods_.find(method);
  if (it == methods_.end()) it = methods_.find(std::string_view("(other)"));
  PerMethod& m = it->second;
  ++m.requests;
  m.errors += error;
  m.seconds += seconds;
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  ++m.buckets[b];
}

void Metrics::connections(int delta) {
  std::lock_guard lock(mu_);
  connections_ += delta;
  if (delta > 0) connections_total_ += uint64_t(delta);
}

void Metrics::reindexed(size_t files) {
  std::lock_guard lock(mu_);
  ++reindexes_;
  reindexed_files_ += files;
}

std::string Metrics::prometheus(const Gauges& g) const {
  std::string out;
  char line[512];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  std::lock_guard lock(mu_);
  out += "# HELP indexer_requests_total JSON-RPC requests handled, by method.\n# TYPE indexer_requests_total counter\n";
  for (const auto& [name, m] : methods_) add("indexer_requests_total{method=\"%s\"} %llu\n", name.c_str(), (unsigned long long)m.requests);
  out += "# HELP indexer_request_errors_total Requests answered with an error, by method.\n# TYPE indexer_request_errors_total counter\n";
  for (const auto& [name, m] : methods_) add("indexer_request_errors_total{method=\"%s\"} %llu\n", name.c_str(), (unsigned long long)m.errors);
  out += "# HELP indexer_request_seconds Request latency, by method.\n# TYPE indexer_request_seconds histogram\n";
  for (const auto& [name, m] : methods_) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets.size(); ++b) {
      cumulative += m.buckets[b];
      add("indexer_request_seconds_bucket{method=\"%s\",le=\"%g\"} %llu\n", name.c_str(), kBuckets[b], (unsigned long long)cumulative);
    }
    cumulative += m.buckets.back();
    add("indexer_request_seconds_bucket{method=\"%s\",le=\"+Inf\"} %llu\n", name.c_str(), (unsigned long long)cumulative);
    add("indexer_request_seconds_sum{method=\"%s\"} %.9f\n", name.c_str(), m.seconds);
    add("indexer_request_seconds_count{method=\"%s\"} %llu\n", name.c_str(), (unsigned long long)m.requests);
  }
  out += "# HELP indexer_connections Open WebSocket connections.\n# TYPE indexer_connections gauge\n";
  add("indexer_connections %lld\n", (long long)connections_);
  out += "# HELP indexer_connections_total WebSocket connections accepted.\n# TYPE indexer_connections_total counter\n";
  add("indexer_connections_total %llu\n", (unsigned long long)connections_total_);
  out += "# HELP indexer_ready Whether the index is built and served.\n# TYPE indexer_ready gauge\n";
  add("indexer_ready %d\n", g.ready ? 1 : 0);
  out += "# HELP indexer_files Files in the index.\n# TYPE indexer_files gauge\n";
  add("indexer_files %zu\n", g.files);
  out += "# HELP indexer_symbols Symbols in the index.\n# TYPE indexer_symbols gauge\n";
  add("indexer_symbols %zu\n", g.symbols);
  out += "# HELP indexer_index_bytes Memory the index accounts for.\n# TYPE indexer_index_bytes gauge\n";
  add("indexer_index_bytes %zu\n", g.index_bytes);
  out += "# HELP indexer_watcher_reindexes_total Re-indexes the watcher made.\n# TYPE indexer_watcher_reindexes_total counter\n";
  add("indexer_watcher_reindexes_total %llu\n", (unsigned long long)reindexes_);
  out += "# HELP indexer_watcher_files_total Files the watcher re-indexed, removed or skipped.\n# TYPE indexer_watcher_files_total counter\n";
  add("indexer_watcher_files_total %llu\n", (unsigned long long)reindexed_files_);
  out += "# HELP indexer_sandbox_refusals_total Refusals answered (checks and runs), by kind.\n# TYPE indexer_sandbox_refusals_total counter\n";
  auto refusals = sandbox::violations().counts();
  for (size_t k = 0; k < refusals.size(); ++k)
    add("indexer_sandbox_refusals_total{kind=\"%s\"} %llu\n", sandbox::kind_name(sandbox::ViolationKind(k)).data(), (unsigned long long)refusals[k]);
  return out;
}

}  // namespace server
