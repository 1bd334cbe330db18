// The SQLite store's turn log: turns logged and answered at once, written to SQLite by a
// background thread many to a transaction, and replayed after a crash (turn_log.hpp).
#include <sqlite3.h>

#include <exception>
#include <iterator>
#include <string>

#include "hotline/common/log.hpp"
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

void SqliteStore::prepare_turn_log_statements() {
  sqlite3* d = db();
  applied_seq_ = Statement(d, "SELECT applied_seq FROM turn_log WHERE id = 1");
  data_version_ = Statement(d, "PRAGMA data_version");
  set_applied_seq_ = Statement(d, "UPDATE turn_log SET applied_seq = ?1 WHERE id = 1");
}

void SqliteStore::log_turn(const TurnRecord& turn) {
  LoggedTurn logged{0, turn.contact_key, turn.session_data, turn.request_id, turn.response,
                    turn.now_ms, turn.keep_session, turn.counts};
  bool wake = false;
  {
    std::lock_guard lock(log_mutex_);
    if (logged_.size() + applying_ >= kMaxLogged) {
      throw StoreError("session store: " + std::to_string(logged_.size() + applying_) +
                               " turns are waiting to be written: " + apply_error_);
    }
    logged.seq = log_->append(logged);
    cache_.on_turn(turn.contact_key, turn.session_data, turn.request_id, turn.keep_session, turn.now_ms);
    ++logged_by_contact_[logged.contact_key];
    logged_.push_back(std::move(logged));
    wake = applier_idle_;
    applier_idle_ = false;
  }
  if (wake) applier_wake_.notify_one();
}

void SqliteStore::run_applier() {
  std::unique_lock lock(log_mutex_);
  for (;;) {
    applier_idle_ = true;
    if (!applier_wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || !logged_.empty(); })) {
      // A quiet second: look for other processes' writes, so that nothing they changed
      // (a conversation forgotten, say) stays in memory longer than that.
      if (cache_.size() == 0) continue;
      lock.unlock();
      try {
        std::lock_guard store(mutex_);
        notice_writes_elsewhere();
      } catch (const std::exception& e) {
        log::error("store_check_failed", {{"error", e.what()}});
      }
      lock.lock();
      continue;
    }
    if (logged_.empty()) return;  // stopping, and nothing left
    applier_idle_ = false;
    // Nobody waits for this write, so gather a little first: a transaction's fixed cost
    // (locks, commit, WAL header) then carries ~70 turns at full load instead of ~9.
    if (logged_.size() < kApplyBatch) {
      applier_wake_.wait_for(lock, kApplyLinger, [this] { return stopping_; });
    }
    lock.unlock();
    bool failed = false;
    try {
      std::lock_guard store(mutex_);
      apply_logged();
    } catch (const std::exception& e) {
      failed = true;
      log::error("turn_log_apply_failed", {{"error", e.what()}});
    }
    lock.lock();
    if (failed) {
      if (stopping_) return;  // the log keeps them for the next start
      applier_wake_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stopping_; });
    }
  }
}

void SqliteStore::apply_logged() {
  if (!log_) return;
  std::vector<LoggedTurn> batch;
  {
    std::lock_guard lock(log_mutex_);
    if (logged_.empty()) return;
    batch.swap(logged_);
    applying_ = batch.size();
  }
  try {
    Transaction tx = transaction();
    notice_writes_elsewhere();
    write_logged(batch);
    tx.commit();
  } catch (const std::exception& e) {
    std::lock_guard lock(log_mutex_);
    logged_.insert(logged_.begin(), std::make_move_iterator(batch.begin()),
                   std::make_move_iterator(batch.end()));
    applying_ = 0;
    apply_error_ = e.what();
    throw;
  }
  std::lock_guard lock(log_mutex_);
  applying_ = 0;
  apply_error_.clear();
  for (const LoggedTurn& t : batch) {
    auto it = logged_by_contact_.find(t.contact_key);
    if (--it->second == 0) logged_by_contact_.erase(it);
  }
  try {
    log_->applied(batch.back().seq);
  } catch (const std::exception& e) {  // the turns are safe in SQLite; the files go next time
    log::error("turn_log_cleanup_failed", {{"error", e.what()}});
  }
}

void SqliteStore::notice_writes_elsewhere() {
  Run run(db(), data_version_);
  if (!run.step()) return;
  const std::int64_t version = run.int64(0);
  if (version == data_version_seen_) return;
  const bool first = data_version_seen_ == 0;
  data_version_seen_ = version;
  if (first) return;
  std::size_t dropped = 0;
  {
    std::lock_guard lock(log_mutex_);
    dropped = cache_.size();
    cache_.clear();
  }
  log::info("store_changed_elsewhere", {{"dropped", dropped}});
}

void SqliteStore::apply_if_logged(std::string_view contact_key) {
  if (!log_) return;
  {
    std::lock_guard lock(log_mutex_);
    if (logged_.empty() || !logged_by_contact_.contains(contact_key)) return;
  }
  apply_logged();
}

void SqliteStore::forget_cached(std::string_view contact_key) {
  if (!log_) return;
  std::lock_guard lock(log_mutex_);
  cache_.erase(contact_key);
}

void SqliteStore::replay_log() {
  LogRecovery found = log_->recover();
  Run mark(db(), applied_seq_);
  const auto applied = static_cast<std::uint64_t>(mark.step() ? mark.int64(0) : 0);
  std::vector<LoggedTurn> unapplied;
  for (LoggedTurn& t : found.turns) {
    if (t.seq > applied) unapplied.push_back(std::move(t));  // the rest went in with the mark
  }
  if (!unapplied.empty()) {
    Transaction tx = transaction();
    write_logged(unapplied);
    tx.commit();
  }
  log_->reset((unapplied.empty() ? applied : unapplied.back().seq) + 1);
  if (!unapplied.empty() || found.torn_bytes > 0) {
    log::info("turn_log_replayed", {{"turns", unapplied.size()}, {"torn_bytes", found.torn_bytes}});
  }
  // Damage on disk lost the turns in it (those after it are applied above): an operator should
  // know, look at the copy and check the disk.
  damaged_log_bytes_ = found.damaged_bytes;
  if (found.damaged_bytes > 0) {
    log::warn("turn_log_damaged", {{"damaged_bytes", found.damaged_bytes},
                                   {"turns_recovered", unapplied.size()},
                                   {"kept_in", nlohmann::json(found.quarantined)}});
  }
  for (const auto& path : found.stray) {
    log::warn("turn_log_stray_file", {{"path", path}, {"action", "ignored; not a turn log segment"}});
  }
}

void SqliteStore::write_logged(const std::vector<LoggedTurn>& turns) {
  for (const LoggedTurn& t : turns) {
    if (write_conversation(t.contact_key, t.session_data, t.request_id, t.response, t.keep_session, t.now_ms)) {
      add_daily_counts(t.counts);
    }
  }
  Run(db(), set_applied_seq_).bind(1, static_cast<std::int64_t>(turns.back().seq)).exec();
}

}  // namespace hotline::store::sqlite
