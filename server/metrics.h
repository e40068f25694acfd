// Counters behind GET /metrics: requests, errors and a latency histogram per method, connections,
// watcher re-indexes; rendered in the Prometheus text format (version 0.0.4) together with the
// index's own gauges. One mutex: at tens of thousands of requests a second it is not the cost.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace server {

class Metrics {
 public:
  // The labels: the registered methods, each listed from the start; any other name a client
  // sends is counted as "(other)", so a client cannot grow the table.
  explicit Metrics(const std::vector<std::string>& methods);
  void request(std::string_view method, double seconds, bool error);
  void connections(int delta);
  void reindexed(size_t files);

  struct Gauges {
    bool ready = false;
    size_t files = 0, symbols = 0, index_bytes = 0;
  };
  std::string prometheus(const Gauges& index) const;

 private:
  static constexpr std::array<double, 11> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0};
  struct PerMethod {
    uint64_t requests = 0, errors = 0;
    std::array<uint64_t, kBuckets.size() + 1> buckets{};  // the last is +Inf
    double seconds = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, PerMethod, std::less<>> methods_;
  int64_t connections_ = 0;
  uint64_t connections_total_ = 0, reindexes_ = 0, reindexed_files_ = 0;
};

}  // namespace server
