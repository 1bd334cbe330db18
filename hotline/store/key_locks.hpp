#pragma once
// In-process locks by exact key, for a store that only one process serves (SQLite). Exact keys,
// not stripes: a thread holding a contact's lock must be able to take the relays' lock too,
// which a stripe shared by both would deadlock.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hotline/store/session_store.hpp"

namespace hotline::store {

class KeyLocks {
 public:
  std::unique_ptr<KeyLock> lock(std::string_view key) {
    std::shared_ptr<Entry> entry;
    {
      std::lock_guard guard(mutex_);
      auto& slot = entries_[std::string(key)];
      if (!slot) slot = std::make_shared<Entry>();
      ++slot->users;
      entry = slot;
    }
    entry->mutex.lock();
    return std::make_unique<Held>(*this, std::string(key), std::move(entry));
  }

 private:
  struct Entry {
    std::mutex mutex;
    int users = 0;  // holders and waiters; the entry goes when the last one leaves
  };

  class Held final : public KeyLock {
   public:
    Held(KeyLocks& owner, std::string key, std::shared_ptr<Entry> entry)
        : owner_(owner), key_(std::move(key)), entry_(std::move(entry)) {}
    ~Held() override {
      entry_->mutex.unlock();
      std::lock_guard guard(owner_.mutex_);
      if (--entry_->users == 0) owner_.entries_.erase(key_);
    }

   private:
    KeyLocks& owner_;
    std::string key_;
    std::shared_ptr<Entry> entry_;
  };

  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace hotline::store
