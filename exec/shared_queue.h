// The service's side of the queue several servers share through Redis (`--exec-queue
// redis://HOST:PORT/N`, redis_queue.h): a submission goes to the stream instead of the local queue;
// a claimer thread takes jobs from the stream up to the free worker slots and hands them to the
// service's own workers; a keeper thread renews the leases of the jobs held here (every lease/3),
// stops those whose cancel key was set (polled every 100 ms), answers the waiters of jobs submitted
// here once their result is in Redis (wherever they ran), and retries results Redis could not take.
// Private to exec/: service.cpp owns one when Settings::shared_queue is set.
//
// Invariants: a job submitted here has its `done` hook called once: by the worker that ran it when
// that is this process (its output hook streams too), else by the keeper when the kept result
// appears, else at stop() as internal_error (the job may still finish elsewhere). A result is
// published once per claim; Redis keeps the first per id (redis_queue.h). When the process stops,
// what it held and had not finished is left to its lease: another server runs it again.
// Cost: a submission is one round trip; a job run here three (claim, mark, finish) and a renewal
// per lease/3; waiters cost one MGET per 10 ms for all of them (a result from another server
// reaches its waiter within that; one run here is handed over at once).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "exec/exec.h"

namespace exec {

// What the service lends the shared queue: its worker slots and its jobs held here.
struct LocalWorkers {
  std::function<size_t()> free_slots;  // workers not busy nor promised
  // Queues a claimed job to run here; false when the service is stopping or the id is already here.
  std::function<bool(Request, Hooks, int64_t created_ms)> run;
  std::function<void(const std::string& id)> cancel;  // a job held here: stop it (it ends cancelled)
};

class SharedQueue {
 public:
  static Result<std::unique_ptr<SharedQueue>> open(const Settings& settings, LocalWorkers local);
  ~SharedQueue();

  Service::Submitted submit(Request request, Hooks hooks);  // `request` is valid already
  Service::Lookup lookup(const std::string& id);
  bool cancel(const std::string& id);  // true when the job was queued or running
  // Stops claiming and publishing what is cancelled by the stop; answers the waiters. Idempotent.
  void stop();
  std::string where() const;  // "Redis at HOST:PORT/N", for messages

  struct Impl;

 private:
  explicit SharedQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The payloads in Redis, versioned ("x1" first): a field a netstring (`LEN:BYTES,`). Another
// version is refused with its tag, and the job ends internal_error saying so.
std::string encode_request(const Request& r, int64_t created_ms);
Result<std::pair<Request, int64_t>> decode_request(std::string_view payload);
std::string encode_result(const JobResult& r);
Result<JobResult> decode_result(std::string_view payload);

}  // namespace exec
