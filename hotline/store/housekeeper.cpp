#include "hotline/store/housekeeper.hpp"

#include "hotline/common/log.hpp"

namespace hotline::store {

Housekeeper::Housekeeper(SessionStore& store, Clock clock, std::int64_t retention_ms,
                         std::int64_t relay_retention_ms, std::chrono::milliseconds interval)
    : store_(store),
      clock_(std::move(clock)),
      retention_ms_(retention_ms),
      relay_retention_ms_(relay_retention_ms),
      interval_(interval) {}

Housekeeper::~Housekeeper() { stop(); }

std::size_t Housekeeper::purge_once() {
  try {
    const std::int64_t now = clock_();
    const std::size_t removed = store_.purge_before(now - retention_ms_);
    const std::size_t relays = store_.end_relays_idle_since(now - relay_retention_ms_, now);
    const std::size_t memory = store_.purge_relay_memory(now - kClosedCodeQuarantineMs, now);
    if (removed > 0 || relays > 0 || memory > 0) {
      log::info("purged", {{"rows", removed}, {"relays", relays}, {"relay_memory", memory}});
    }
    return removed + relays + memory;
  } catch (const std::exception& e) {
    log::error("purge_failed", {{"error", e.what()}});  // try again next time
    return 0;
  }
}

void Housekeeper::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      purge_once();
      lock.lock();
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  });
}

void Housekeeper::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace hotline::store
