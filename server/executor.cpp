#include "server/executor.h"

#include <pthread.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace server {

namespace {

struct Serial {
  std::string name;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> jobs;
  bool started = false;

  void post(std::function<void()> job) {
    std::lock_guard lock(mu);
    jobs.push_back(std::move(job));
    if (!started) {
      started = true;
      std::thread([this] { loop(); }).detach();
    }
    cv.notify_one();
  }

  void loop() {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !jobs.empty(); });
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();  // the job answers its call, errors included
    }
  }
};

}  // namespace

Executor serial_executor(std::string name) {
  // Never freed: the thread may be waiting on it while static objects are destroyed at exit.
  auto* s = new Serial{std::move(name), {}, {}, {}, false};
  return [s](std::function<void()> job) { s->post(std::move(job)); };
}

}  // namespace server
