// Checkpoints the SQLite WAL on a thread and a connection of its own (why: see the class).
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "hotline/store/sqlite_support.hpp"

namespace hotline::store::sqlite {

/// Checkpoints the WAL on a thread and a connection of its own.
///
/// SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages,
/// on the committing connection: here, on a webhook's thread while it holds the store's mutex.
/// With synchronous=NORMAL a checkpoint is where the fsyncs are (the WAL, then the database),
/// so every ~150th message waited for two fsyncs and every other webhook queued behind it
/// (measured: commit_turn 170 µs on average on ext4 with it, 70 µs without; see
/// docs/performance.md). Here commits only count the WAL's pages; past kWakeAt a background
/// thread runs a PASSIVE checkpoint, which copies pages and fsyncs while webhooks keep
/// committing. If it cannot keep up (a checkpoint only finishes resetting the WAL when no commit
/// lands meanwhile), the commit that takes the WAL past kInlineAt checkpoints inline as before,
/// so the WAL stays bounded (about 40 MB) whatever the load.
class BackgroundCheckpointer {
 public:
  // Pages. SQLite's own autocheckpoint is at 1,000; waiting for 4,000 writes each hot page
  // (index interiors, busy sessions) back once instead of four times: +8% messages/s here.
  static constexpr int kWakeAt = 4000;
  static constexpr int kInlineAt = 10000;  // pages

  BackgroundCheckpointer(const std::string& path, sqlite3* main) : main_(main) {
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail(db_.get(), "opening the checkpoint connection");
    exec(db_.get(), "PRAGMA busy_timeout=5000", "setting busy_timeout");
    exec(db_.get(), "PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL");
    thread_ = std::thread([this] { run(); });
    // Replaces the automatic checkpoint (which is itself a WAL hook) on the main connection.
    sqlite3_wal_hook(main, &BackgroundCheckpointer::on_commit, this);
  }
  ~BackgroundCheckpointer() {
    sqlite3_wal_hook(main_, nullptr, nullptr);
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  BackgroundCheckpointer(const BackgroundCheckpointer&) = delete;
  BackgroundCheckpointer& operator=(const BackgroundCheckpointer&) = delete;

 private:
  // Called by SQLite on the committing thread, after each commit, with the WAL's size in pages.
  static int on_commit(void* self, sqlite3* db, const char* name, int pages) {
    auto* c = static_cast<BackgroundCheckpointer*>(self);
    if (pages >= kInlineAt) {
      sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= kWakeAt && !c->pending_.exchange(true)) {
      c->wake_.notify_one();
    }
    return SQLITE_OK;
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (!stop_) {
      // Also once a second when idle, so a quiet server's WAL is folded in and reset too.
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_ || pending_.load(); });
      if (stop_) break;
      pending_ = false;
      lock.unlock();
      // PASSIVE: never blocks writers or readers; BUSY (another checkpoint running) is fine.
      sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  sqlite3* main_;
  DbHandle db_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> pending_{false};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace hotline::store::sqlite
