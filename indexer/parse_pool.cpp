#include "indexer/parse_pool.h"

#include <pthread.h>

#include <algorithm>
#include <utility>

namespace indexer {

ParsePool::ParsePool(unsigned threads) {
  const unsigned n = threads_for(threads);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] { loop(i); });
    pthread_setname_np(threads_.back().native_handle(), "indexer-parse");  // named before any work
  }
}

ParsePool::~ParsePool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void ParsePool::loop(unsigned index) {
  unsigned long seen = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || job_ != seen; });
    if (stopping_) return;
    seen = job_;
    if (index >= active_) continue;
    const auto* work = work_;
    lock.unlock();
    std::exception_ptr failed;
    try {
      (*work)(index);
    } catch (...) {
      failed = std::current_exception();
    }
    lock.lock();
    if (failed && !failure_) failure_ = failed;
    if (--running_ == 0) done_.notify_all();
  }
}

void ParsePool::run(unsigned n, const std::function<void(unsigned)>& work, const std::function<void()>& tick,
                    std::chrono::milliseconds interval) {
  std::lock_guard turn(turn_);
  std::unique_lock lock(mu_);
  work_ = &work;
  active_ = running_ = std::clamp(n, 1u, size());
  failure_ = nullptr;
  ++job_;
  wake_.notify_all();
  if (tick) {
    while (!done_.wait_for(lock, interval, [&] { return running_ == 0; })) {
      lock.unlock();
      tick();
      lock.lock();
    }
  } else {
    done_.wait(lock, [&] { return running_ == 0; });
  }
  work_ = nullptr;
  std::exception_ptr failed = std::exchange(failure_, nullptr);
  lock.unlock();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace indexer
