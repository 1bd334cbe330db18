// Small RAII helpers over SQLite's C API, shared by the SQLite store's files: errors as
// StoreError, a connection handle, cached prepared statements, one execution of a statement,
// and transactions.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "hotline/store/session_store.hpp"

namespace hotline::store::sqlite {

inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] inline void fail(sqlite3* db, const std::string& what) {
  throw StoreError("session store: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

inline void exec(sqlite3* db, const char* sql, const std::string& what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, what);
}

struct DbCloser {
  // close_v2: if a statement somehow outlives us, the handle becomes a zombie instead of leaking.
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;

/// A prepared statement owned by the store and reused for its whole life.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, const char* sql) {
    // PERSISTENT: tells SQLite these live long, so it allocates them outside the lookaside pool.
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) != SQLITE_OK) {
      fail(db, std::string("preparing \"") + sql + "\"");
    }
  }
  Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement& operator=(Statement&& other) noexcept {
    if (this != &other) {
      sqlite3_finalize(stmt_);
      stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

/// One execution of a cached statement. Resets it on scope exit, always: a SELECT left un-reset
/// keeps its read transaction open, which pins the WAL and stops checkpoints.
class Run {
 public:
  Run(sqlite3* db, Statement& statement) : db_(db), stmt_(statement.get()) {}
  ~Run() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  Run& bind(int index, std::string_view text) {
    // TRANSIENT copies the bytes: the bound value can never dangle, at the price of a copy of a
    // few kilobytes at most. A null pointer would bind SQL NULL, and an empty string_view may
    // carry one, so an empty value is bound from "" to stay the empty string.
    const char* data = text.empty() ? "" : text.data();
    if (sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8) != SQLITE_OK) {
      fail(db_, "binding a parameter");
    }
    return *this;
  }
  Run& bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(db_, "binding a parameter");
    return *this;
  }

  /// True when a row is available; false when the statement is done.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, std::string("running \"") + sqlite3_sql(stmt_) + "\"");
  }
  /// Steps a statement that returns no rows; returns how many rows it changed.
  std::size_t exec() {
    while (step()) {
    }
    return static_cast<std::size_t>(sqlite3_changes(db_));
  }

  std::string text(int column) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    const int n = sqlite3_column_bytes(stmt_, column);
    return p ? std::string(p, static_cast<std::size_t>(n)) : std::string();
  }
  std::int64_t int64(int column) const { return sqlite3_column_int64(stmt_, column); }
  bool is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back if the scope exits without commit().
/// IMMEDIATE takes the write lock up front: a deferred transaction that reads and then writes
/// can get SQLITE_BUSY at the upgrade without the busy handler being able to help.
class Transaction {
 public:
  Transaction(sqlite3* db, Statement& begin, Statement& commit, Statement& rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    Run(db_, begin).exec();
  }
  ~Transaction() {
    // Some errors (SQLITE_FULL, IOERR, …) already roll back; only roll back what is still open.
    if (!done_ && !sqlite3_get_autocommit(db_)) {
      try {
        Run(db_, rollback_).exec();
      } catch (...) {  // nothing useful to do from a destructor; the original error is in flight
      }
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    Run(db_, commit_).exec();
    done_ = true;
  }

 private:
  sqlite3* db_;
  Statement& commit_;
  Statement& rollback_;
  bool done_ = false;
};

/// The database's schema version (PRAGMA user_version).
inline int user_version(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  Run run(db, s);
  if (!run.step()) fail(db, "reading user_version");
  return static_cast<int>(run.int64(0));
}

/// Raises `synchronous` to FULL for one scope (it is a per-connection setting, cheap to flip).
class SynchronousFull {
 public:
  explicit SynchronousFull(sqlite3* db) : db_(db) {
    exec(db_, "PRAGMA synchronous=FULL", "setting synchronous=FULL");
  }
  ~SynchronousFull() { sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr); }
  SynchronousFull(const SynchronousFull&) = delete;
  SynchronousFull& operator=(const SynchronousFull&) = delete;

 private:
  sqlite3* db_;
};

}  // namespace hotline::store::sqlite
