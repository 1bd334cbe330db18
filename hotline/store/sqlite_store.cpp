// Opening and closing the SQLite store, its health, and the statements every concern shares.
#include <sqlite3.h>

#include <stdexcept>
#include <string_view>

#include "hotline/store/sqlite_schema.hpp"
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

SqliteStore::SqliteStore(const std::string& path) {
  if (path.empty()) throw std::runtime_error("session store: the database path is empty");
  const bool in_memory = path == ":memory:";
  if (!in_memory) prepare_file(path);

  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 nullptr);
  db_.reset(raw);  // even on failure the handle carries the error message and must be closed
  try {
    if (rc != SQLITE_OK) fail(db_.get(), "opening the file");
    sqlite3_extended_result_codes(db_.get(), 1);
    configure(db(), in_memory);
    migrate(db());
    prepare_statements();
    // One process serves a SQLite file, so a lease still held is one a killed worker of ours
    // left behind: release it now rather than make its message wait for the lease to expire.
    Run(db(), release_leases_).exec();
    if (!in_memory) {
      log_ = TurnLog::open(path);
      if (log_) {
        replay_log();
        notice_writes_elsewhere();  // where "elsewhere" starts from
      }
      checkpointer_ = std::make_unique<BackgroundCheckpointer>(path, db_.get());
      if (log_) applier_ = std::thread([this] { run_applier(); });
    }
  } catch (const std::runtime_error& e) {
    // Name the file once, here: an operator reading the log needs to know which one.
    static constexpr std::string_view kPrefix = "session store: ";
    std::string_view reason = e.what();
    if (reason.starts_with(kPrefix)) reason.remove_prefix(kPrefix.size());
    throw std::runtime_error("session store: cannot open '" + path + "': " + std::string(reason));
  }
}

SqliteStore::~SqliteStore() {
  if (!applier_.joinable()) return;
  {
    std::lock_guard lock(log_mutex_);
    stopping_ = true;
  }
  applier_wake_.notify_one();
  applier_.join();  // it applies what is queued first
}

bool SqliteStore::healthy() {
  if (log_) {
    std::lock_guard lock(log_mutex_);
    if (!apply_error_.empty()) return false;
  }
  try {
    std::lock_guard lock(mutex_);
    Run run(db(), select_one_);
    return run.step() && run.int64(0) == 1;
  } catch (const std::exception&) {
    return false;
  }
}

void SqliteStore::prepare_statements() {
  sqlite3* d = db();
  begin_ = Statement(d, "BEGIN IMMEDIATE");
  commit_ = Statement(d, "COMMIT");
  rollback_ = Statement(d, "ROLLBACK");
  select_one_ = Statement(d, "SELECT 1");
  prepare_conversation_statements();
  prepare_turn_log_statements();
  prepare_relay_statements();
  prepare_outbox_statements();
  prepare_daily_count_statements();
}

}  // namespace hotline::store::sqlite

namespace hotline::store {

int sqlite_schema_version() noexcept { return sqlite::schema_version(); }

std::unique_ptr<SessionStore> open_sqlite(const std::string& path) {
  return std::make_unique<sqlite::SqliteStore>(path);
}

}  // namespace hotline::store
