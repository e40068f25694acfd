// A job queue shared by several `indexer serve` processes through Redis (`--exec-queue
// redis://HOST:PORT/N`): submissions go to a stream read by one consumer group, each worker claims
// jobs up to its concurrency, results are kept under their id for the retention time, and a job
// whose worker died is claimed again once its lease runs out.
//
// Keys, under `prefix` (default "indexer:exec"):
//   PREFIX:stream       the stream of submissions {id, payload}; group "workers"
//   PREFIX:job:ID       the id's state: "queued", "running CONSUMER", "done" (expires with the result)
//   PREFIX:result:ID    the result, for `retention`
//   PREFIX:cancel:ID    set by cancel(); a worker running ID polls it
//
// Invariants: an id is accepted once (a second submit of it is Duplicate, atomically, by a Lua
// script); every accepted id gets exactly one result: finish() stores it with SET NX and the first
// writer wins, so a job claimed again after a lease ran out (its worker was only slow) may run
// twice but answers once; a finished job's stream entry is acknowledged and deleted, so the
// stream's length is the jobs queued or running, which the `max_queued` bound counts.
// A worker renews each claim it holds (renew(), every lease/3) while the job runs.
//
// Thread-safe: one connection for claim()'s blocking read, one for everything else, each under its
// own lock; a broken connection is made again on the next call. Cost: one round trip a call (a
// script where two commands must be one step); claim() may block up to `block`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/result.h"

namespace exec {

using query::Error;
using query::Result;

struct RedisAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  unsigned db = 0;
  std::string password;  // AUTH before anything, when set
};
// redis://[:PASSWORD@]HOST[:PORT][/DB]; anything else is an error naming what is wrong.
Result<RedisAddress> parse_redis_url(std::string_view url);

class RedisQueue {
 public:
  struct Options {
    RedisAddress address;
    std::string prefix = "indexer:exec";
    std::string consumer;  // this worker's name in the group: unique per process (host:pid)
    std::chrono::milliseconds lease{30'000};
    std::chrono::seconds retention{3'600};
    size_t max_queued = 10'000;
    std::chrono::milliseconds connect_timeout{2'000};
  };
  static Result<std::unique_ptr<RedisQueue>> open(Options options);
  ~RedisQueue();

  enum class Submitted : uint8_t { Queued, Duplicate, Full };
  Result<Submitted> submit(std::string_view id, std::string_view payload);

  struct Claimed {
    std::string id, payload;
    std::string entry;       // the stream entry's id, for renew() and finish()
    bool reclaimed = false;  // its lease ran out under another worker (that worker died)
  };
  // Up to `n` jobs: first those whose lease ran out, then new ones, waiting up to `block` for new
  // ones when there are none. A reclaimed job that already has its result is acknowledged and
  // skipped (its worker died between the result and the acknowledgement).
  Result<std::vector<Claimed>> claim(size_t n, std::chrono::milliseconds block);
  Result<bool> renew(const Claimed& job);  // false: the lease ran out and another worker holds the job
  // Stores the result unless the id has one; true when this call's result is the one kept.
  Result<bool> finish(const Claimed& job, std::string_view result);

  Result<std::optional<std::string>> result(std::string_view id);
  // "queued", "running CONSUMER", "done", or nullopt for an id never submitted (or expired).
  Result<std::optional<std::string>> state(std::string_view id);
  query::Status cancel(std::string_view id);
  Result<bool> cancelled(std::string_view id);
  Result<size_t> length();  // jobs queued or running
  // Many ids in one round trip (MGET), in the order given: the results kept, the cancels asked.
  Result<std::vector<std::optional<std::string>>> results(const std::vector<std::string>& ids);
  Result<std::vector<bool>> cancelled(const std::vector<std::string>& ids);

  const Options& options() const { return options_; }

 private:
  struct Connection;
  explicit RedisQueue(Options options);
  Result<std::vector<Claimed>> claim_once(size_t n, std::chrono::milliseconds block);
  Result<std::vector<std::optional<std::string>>> get_many(std::string_view kind, const std::vector<std::string>& ids);
  Options options_;
  std::unique_ptr<Connection> main_, reader_;
};

}  // namespace exec
