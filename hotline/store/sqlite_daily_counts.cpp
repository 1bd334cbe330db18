// The daily report's counts in the SQLite store: added inside the turn that causes them (so a
// redelivery adds nothing and a turn replayed from the turn log adds once), read by `hotline
// report`.
#include <sqlite3.h>

#include <stdexcept>

#include "hotline/store/conversation_sql.hpp"
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

void SqliteStore::prepare_daily_count_statements() {
  sqlite3* d = db();
  add_daily_count_ = Statement(d, sql::kAddDailyCount);
  select_daily_counts_ = Statement(d, sql::kSelectDailyCounts);
}

void SqliteStore::add_daily_counts(const std::vector<DailyCount>& counts) {
  for (const DailyCount& c : counts) {
    Run(db(), add_daily_count_)
        .bind(1, c.day).bind(2, c.metric).bind(3, c.topic).bind(4, c.lang).bind(5, c.channel).bind(6, c.n)
        .exec();
  }
}

std::vector<DailyCount> SqliteStore::daily_counts(std::string_view first_day, std::string_view last_day) {
  std::lock_guard lock(mutex_);
  apply_logged();  // turns logged but not yet in SQLite count too
  Run run(db(), select_daily_counts_);
  run.bind(1, first_day).bind(2, last_day);
  std::vector<DailyCount> out;
  while (run.step()) {
    out.push_back({run.text(0), run.text(1), run.text(2), run.text(3), run.text(4), run.int64(5)});
  }
  return out;
}

}  // namespace hotline::store::sqlite

namespace hotline::store {

std::vector<DailyCount> read_sqlite_daily_counts(const std::string& path, std::string_view first_day,
                                                 std::string_view last_day) {
  using namespace sqlite;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  DbHandle db(raw);
  try {
    if (rc != SQLITE_OK) fail(db.get(), "opening the file");
    exec(db.get(), "PRAGMA busy_timeout=5000", "setting busy_timeout");
    // The table came with migration 11; an older database has counted nothing yet.
    Statement has_table(db.get(), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'daily_counts'");
    if (!Run(db.get(), has_table).step()) return {};
    Statement select(db.get(), sql::kSelectDailyCounts);
    Run run(db.get(), select);
    run.bind(1, first_day).bind(2, last_day);
    std::vector<DailyCount> out;
    while (run.step()) {
      out.push_back({run.text(0), run.text(1), run.text(2), run.text(3), run.text(4), run.int64(5)});
    }
    return out;
  } catch (const std::runtime_error& e) {
    static constexpr std::string_view kPrefix = "session store: ";
    std::string_view reason = e.what();
    if (reason.starts_with(kPrefix)) reason.remove_prefix(kPrefix.size());
    throw std::runtime_error("cannot read '" + path + "': " + std::string(reason));
  }
}

}  // namespace hotline::store
