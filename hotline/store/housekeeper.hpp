#pragma once
// Deletes what the hotline no longer needs, on its own: idle sessions, remembered answers and
// sent-message rows older than the retention, and relays (with the texter's sealed number and
// any message kept for advocates) idle longer than the relay retention. What is not kept cannot
// be demanded.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "hotline/common/clock.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::store {

class Housekeeper {
 public:
  Housekeeper(SessionStore& store, Clock clock, std::int64_t retention_ms, std::int64_t relay_retention_ms,
              std::chrono::milliseconds interval = std::chrono::minutes(1));
  ~Housekeeper();

  void start();
  void stop();
  /// One pass, now; returns the rows removed.
  std::size_t purge_once();

 private:
  SessionStore& store_;
  Clock clock_;
  std::int64_t retention_ms_;
  std::int64_t relay_retention_ms_;
  std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace hotline::store
