// The SQLite SessionStore: one file, WAL mode, versioned migrations.
//
// Concurrency: the HTTP server calls the store from many threads at once. We keep ONE connection
// per store, opened SQLITE_OPEN_NOMUTEX, and guard every call with our own std::mutex. SQLite
// serialises writers on a database anyway, so a connection pool would only add concurrency to
// reads, which here are single-row primary-key lookups measured in microseconds. A second,
// reading connection was measured and is slower: it must drop its page cache whenever another
// connection has committed. One connection also lets us cache prepared statements per store
// without per-thread bookkeeping, and makes sqlite3_errmsg() race-free (it reads
// per-connection state that another thread could overwrite).
//
// A message costs neither a transaction nor, usually, the connection (round 4 in
// docs/performance.md): its turn is appended to the turn log (turn_log.hpp), durable when the
// write() returns, and a background thread (the applier) writes logged turns to SQLite many to
// a transaction; its conversation is read from memory (conversation_cache.hpp) when this
// process has read or written it before. Anything that reads a conversation from SQLite first
// applies that conversation's logged turns, and every other write applies all of them first,
// so the database is read and written in the order the turns happened.
//
// Other processes (e.g. `hotline forget` run by staff while the server is up) are separate
// connections: busy_timeout plus BEGIN IMMEDIATE make them queue rather than fail or deadlock.
// They get no turn log (one process owns it) and commit directly; the server notices their
// writes through PRAGMA data_version within a second and forgets what it remembered.
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include "hotline/common/log.hpp"
#include "hotline/store/conversation_cache.hpp"
#include "hotline/store/conversation_sql.hpp"
#include "hotline/store/key_locks.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/store/turn_log.hpp"

namespace hotline::store {
namespace {

// Schema migrations, in order: entry i takes a database from user_version i to i + 1.
// Each runs in its own transaction together with the user_version bump, so a crash mid-upgrade
// leaves the database at a consistent earlier version. Never edit an entry that has shipped;
// append a new one. Plain CREATE (no IF NOT EXISTS) on purpose: re-applying a migration to a
// database that already has it is a bug we want to hear about, not paper over.
constexpr std::array<const char*, 7> kMigrations = {
    // 1: the initial schema.
    R"sql(
      CREATE TABLE sessions (
        contact_key TEXT PRIMARY KEY,
        data        TEXT NOT NULL,
        updated_ms  INTEGER NOT NULL
      );
      CREATE INDEX sessions_by_updated_ms ON sessions(updated_ms);

      -- contact_key is kept so that `forget` can erase what we answered a person too: a
      -- request id is a Twilio MessageSid/CallSid, which Twilio's own logs tie to a number.
      CREATE TABLE responses (
        request_id  TEXT PRIMARY KEY,
        contact_key TEXT NOT NULL,
        response    TEXT NOT NULL,
        created_ms  INTEGER NOT NULL
      );
      CREATE INDEX responses_by_created_ms ON responses(created_ms);
      CREATE INDEX responses_by_contact_key ON responses(contact_key);

      -- Only opted-out contacts have a row: opting back in deletes it, so nothing is kept about
      -- a person the hotline does not need to remember. purge_before never touches this table.
      CREATE TABLE contacts (
        contact_key TEXT PRIMARY KEY,
        opted_out   INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
      );
    )sql",
    // 2: advocates. The outbox (messages to send through Twilio's REST API) and open relays.
    // Recipients, message text and texters' numbers are sealed (AES-256-GCM) by the caller;
    // a sent message keeps only its Twilio SID; a relay's row goes when the relay ends.
    R"sql(
      CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        idempotency_key TEXT NOT NULL UNIQUE,
        contact_key     TEXT NOT NULL,
        sender          TEXT NOT NULL,
        recipient       TEXT NOT NULL,             -- sealed; '' once sent
        body            TEXT NOT NULL,             -- sealed; '' once sent
        state           TEXT NOT NULL,             -- pending | sent
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        twilio_sid      TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL DEFAULT '',
        created_ms      INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL
      );
      CREATE INDEX outbox_due ON outbox(state, next_attempt_ms);
      CREATE INDEX outbox_by_twilio_sid ON outbox(twilio_sid);
      CREATE INDEX outbox_by_contact_key ON outbox(contact_key);

      CREATE TABLE relays (
        code           TEXT PRIMARY KEY,
        contact_key    TEXT NOT NULL UNIQUE,
        texter         TEXT NOT NULL,              -- sealed
        lang           TEXT NOT NULL,
        state          TEXT NOT NULL,              -- queued | claimed
        advocate_id    TEXT NOT NULL DEFAULT '',
        first_message  TEXT NOT NULL DEFAULT '',   -- sealed; '' once claimed
        offered_to     TEXT NOT NULL DEFAULT '',
        no_answer_told INTEGER NOT NULL DEFAULT 0,
        created_ms     INTEGER NOT NULL,
        updated_ms     INTEGER NOT NULL,
        version        INTEGER NOT NULL
      );
    )sql",
    // 3: outbox leases, so a worker's claim on a message is explicit (see claim_outbound), and
    // relays found by age for the relay retention.
    R"sql(
      ALTER TABLE outbox ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX relays_by_updated_ms ON relays(updated_ms);
    )sql",
    // 4: when a send began whose outcome is unknown (0: none), written before the request goes
    // out, so a send interrupted by a crash is looked up at Twilio instead of sent twice.
    R"sql(
      ALTER TABLE outbox ADD COLUMN attempt_started_ms INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 5: a key's session and its last two answers in one row, so a message costs one row
    // written (and one read) instead of a session row, a response row and their four indexes.
    // The latest remembered answer of each key comes along; older ones are dropped.
    R"sql(
      CREATE TABLE conversations (
        contact_key   TEXT PRIMARY KEY,   -- a contact's key, or a call's
        session       TEXT NOT NULL,      -- the engine's session; '' when none is live
        session_ms    INTEGER NOT NULL,   -- when the session was last written
        reply_id      TEXT NOT NULL,      -- the last request answered ('' = none)...
        reply         TEXT NOT NULL,      -- ...and the answer, replayed on a redelivery
        prev_reply_id TEXT NOT NULL,      -- the one before it
        prev_reply    TEXT NOT NULL,
        updated_ms    INTEGER NOT NULL    -- the last write, for the retention
      );
      -- No index on updated_ms: every message would move its row's entry (two more pages
      -- written a message, about 10% of its cost); purge_before scans by rowid instead.
      INSERT INTO conversations
        SELECT contact_key, data, updated_ms, '', '', '', '', updated_ms FROM sessions;
      INSERT INTO conversations
        SELECT contact_key, '', 0, request_id, response, '', '', created_ms FROM responses AS r
        WHERE created_ms = (SELECT max(created_ms) FROM responses WHERE contact_key = r.contact_key)
        ON CONFLICT (contact_key) DO UPDATE SET reply_id = excluded.reply_id, reply = excluded.reply,
          updated_ms = max(updated_ms, excluded.updated_ms);
      DROP TABLE sessions;
      DROP TABLE responses;
    )sql",
    // 6: the turn log's mark (turn_log.hpp): every logged turn up to applied_seq is in this
    // database, written in the same transaction as the turns, so a turn the log still holds
    // after a crash is applied once.
    R"sql(
      CREATE TABLE turn_log (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        applied_seq INTEGER NOT NULL
      );
      INSERT INTO turn_log VALUES (1, 0);
    )sql",
    // 7: the relay's memory. closed_codes: the code of every relay that ended, kept 30 days so
    // it is not given to another texter while a late reply to it could still come (and that
    // reply is answered "closed"). advocate_notes: per advocate, the conversation a text without
    // a code may go to, and a message held (sealed, for minutes) because its target was unclear.
    R"sql(
      CREATE TABLE closed_codes (
        code      TEXT PRIMARY KEY,
        closed_ms INTEGER NOT NULL
      );
      CREATE TABLE advocate_notes (
        advocate_id   TEXT PRIMARY KEY,
        focus_code    TEXT NOT NULL DEFAULT '',
        held          TEXT NOT NULL DEFAULT '',   -- sealed; '' when none
        held_codes    TEXT NOT NULL DEFAULT '',
        held_until_ms INTEGER NOT NULL DEFAULT 0,
        updated_ms    INTEGER NOT NULL
      );
    )sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw StoreError("session store: " + what + ": " +
                           (db ? sqlite3_errmsg(db) : "out of memory"));
}

void exec(sqlite3* db, const char* sql, const std::string& what) {
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

int user_version(sqlite3* db) {
  Statement s(db, "PRAGMA user_version");
  Run run(db, s);
  if (!run.step()) fail(db, "reading user_version");
  return static_cast<int>(run.int64(0));
}

/// Creates the parent directory (owner-only, since it will hold data about vulnerable people)
/// and the database file itself with mode 0600 before SQLite sees it. SQLite creates the -wal
/// and -shm files with the database file's permissions, so they inherit 0600 too; left to
/// SQLite alone, the file would get 0644 under a typical umask.
void prepare_file(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::exists(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec) {
      throw std::runtime_error("session store: cannot create directory '" + parent.string() +
                               "' for the database: " + ec.message());
    }
    fs::permissions(parent, fs::perms::owner_all, fs::perm_options::replace, ec);  // best effort
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // on failure SQLite's own open reports the reason
}

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

class SqliteStore final : public SessionStore {
 public:
  explicit SqliteStore(const std::string& path) {
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
      configure(in_memory);
      migrate();
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

  ~SqliteStore() override {
    if (!applier_.joinable()) return;
    {
      std::lock_guard lock(log_mutex_);
      stopping_ = true;
    }
    applier_wake_.notify_one();
    applier_.join();  // it applies what is queued first
  }

  ContactView read_contact(std::string_view contact_key, std::string_view request_id) override {
    if (log_) {
      std::lock_guard lock(log_mutex_);
      if (auto view = cache_.view(contact_key, request_id)) return std::move(*view);
    }
    std::lock_guard lock(mutex_);
    apply_if_logged(contact_key);
    Run run(db(), read_contact_);
    run.bind(1, contact_key).bind(2, request_id);
    ContactView view;
    if (!run.step()) return view;  // the query always yields its one row; never here
    if (std::string session = run.text(0); !session.empty()) {  // NULL (no row) reads as ""
      view.session = StoredSession{std::move(session), run.int64(1)};
    }
    if (!run.is_null(2)) view.earlier_response = run.text(2);
    view.opted_out = run.int64(3) != 0;
    if (!run.is_null(4)) view.relay = relay_at(run, 4);
    if (log_ && !view.relay) {
      // Still under mutex_, so nothing written to SQLite since the read is missed; a turn
      // logged since (not by this contact's own handler, which is here) keeps it uncached.
      std::lock_guard memory(log_mutex_);
      if (!logged_by_contact_.contains(contact_key)) {
        cache_.put(contact_key, {view.session, run.text(16), run.text(17), view.opted_out});
      }
    }
    return view;
  }

  std::optional<StoredSession> load(std::string_view contact_key) override {
    std::lock_guard lock(mutex_);
    apply_if_logged(contact_key);
    Run run(db(), load_);
    run.bind(1, contact_key);
    if (!run.step()) return std::nullopt;
    return StoredSession{run.text(0), run.int64(1)};
  }

  // A turn that changes only its conversation is logged and answered; the applier thread
  // writes it to SQLite with the others logged meanwhile (turn_log.hpp). A turn with outbox
  // messages or relay changes is committed here, after every turn logged before it: the
  // outbox worker and the relay decisions read SQLite, and a relay conflict must reach the
  // caller. So does every turn of a store without a log (in memory, or another process's).
  void commit_turn(const TurnRecord& turn) override {
    if (turn.contact_key.empty()) throw std::invalid_argument("session store: empty contact key");
    if (log_ && turn.outbound.empty() && turn.relays.empty() && turn.advocate_notes.empty()) return log_turn(turn);
    std::lock_guard lock(mutex_);
    apply_logged();
    Transaction tx = transaction();
    write_turn(turn);
    tx.commit();
    if (log_) {
      std::lock_guard memory(log_mutex_);
      cache_.erase(turn.contact_key);
      for (const auto& change : turn.relays) cache_.erase(change.relay.contact_key);
    }
  }

 private:
  // How many logged turns may wait for SQLite before turns are refused (a full disk, say), so
  // memory stays bounded. A refused turn is a StoreError: its webhook answers 503 and Twilio
  // uses the number's Fallback URL (Twilio does not retry a messaging webhook by itself).
  static constexpr std::size_t kMaxLogged = 100000;
  // Fewer than kApplyBatch turns waiting: the applier lets kApplyLinger pass before writing them.
  static constexpr std::size_t kApplyBatch = 256;
  static constexpr std::chrono::milliseconds kApplyLinger{2};
  // Conversations remembered in memory: about 300 bytes each, so at most ~6 MB.
  static constexpr std::size_t kCachedConversations = 20000;

  void log_turn(const TurnRecord& turn) {
    LoggedTurn logged{0, turn.contact_key, turn.session_data, turn.request_id, turn.response,
                      turn.now_ms, turn.keep_session};
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

  void run_applier() {
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

  /// Writes every logged turn to SQLite, in one transaction, in the order they were logged.
  /// The caller holds mutex_, so the applier thread and other writers wait.
  void apply_logged() {
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

  /// Another process (`hotline forget`, staff with sqlite3) committed since we last looked: what
  /// the cache holds may be gone or changed, so it is emptied. Caller holds mutex_, inside a
  /// transaction or not (then this is one).
  void notice_writes_elsewhere() {
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

  /// Before reading a key's conversation: its logged turns, if any, go to SQLite first.
  void apply_if_logged(std::string_view contact_key) {
    if (!log_) return;
    {
      std::lock_guard lock(log_mutex_);
      if (logged_.empty() || !logged_by_contact_.contains(contact_key)) return;
    }
    apply_logged();
  }

  void forget_cached(std::string_view contact_key) {
    if (!log_) return;
    std::lock_guard lock(log_mutex_);
    cache_.erase(contact_key);
  }

  /// What a crash left in the log goes to SQLite before anything else is read or written.
  void replay_log() {
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
  }

  /// Logged turns (not empty, in order) and the log's mark past them, inside the caller's
  /// transaction, so the turns and the mark are committed together or not at all.
  void write_logged(const std::vector<LoggedTurn>& turns) {
    for (const LoggedTurn& t : turns) {
      write_conversation(t.contact_key, t.session_data, t.request_id, t.response, t.keep_session, t.now_ms);
    }
    Run(db(), set_applied_seq_).bind(1, static_cast<std::int64_t>(turns.back().seq)).exec();
  }

  /// The conversation's row, in one statement that writes nothing when this request id is one
  /// of the two the row remembers (a redelivery: the first delivery's effects stand, session
  /// included, so the conversation does not advance twice). An empty request id identifies
  /// nothing, so no response is remembered for it. True when it wrote.
  bool write_conversation(const std::string& contact_key, const std::string& session_data,
                          const std::string& request_id, const std::string& response,
                          bool keep_session, std::int64_t now_ms) {
    if (request_id.empty() && keep_session) return true;  // changes nothing
    Run run(db(), write_conversation_);
    run.bind(1, contact_key).bind(2, session_data).bind(3, request_id).bind(4, response)
        .bind(5, std::int64_t{keep_session}).bind(6, now_ms);
    return run.exec() > 0;
  }

  /// One turn's writes, inside the caller's transaction.
  void write_turn(const TurnRecord& turn) {
    // The conversation's row first: a redelivery that raced past the caller's check (e.g.
    // another process) changes nothing else either.
    const bool first_delivery = write_conversation(turn.contact_key, turn.session_data, turn.request_id,
                                                   turn.response, turn.keep_session, turn.now_ms);
    if (first_delivery) {
      for (const auto& change : turn.relays) write_relay(change, turn.now_ms);
      for (const auto& n : turn.advocate_notes) {
        Run(db(), write_advocate_note_)
            .bind(1, n.advocate_id).bind(2, n.focus_code).bind(3, n.held_sealed).bind(4, n.held_codes)
            .bind(5, n.held_until_ms).bind(6, turn.now_ms)
            .exec();
      }
      for (const auto& m : turn.outbound) {
        Run(db(), insert_outbound_)
            .bind(1, m.idempotency_key).bind(2, m.contact_key).bind(3, m.sender)
            .bind(4, m.to_sealed).bind(5, m.body_sealed).bind(6, turn.now_ms)
            .exec();
      }
    }
  }

 public:

  std::vector<Relay> relays() override {
    std::lock_guard lock(mutex_);
    std::vector<Relay> out;
    Run run(db(), select_relays_);
    while (run.step()) out.push_back(relay_at(run, 0));
    return out;
  }

  std::optional<Relay> relay_of(std::string_view contact_key) override {
    std::lock_guard lock(mutex_);
    Run run(db(), relay_of_);
    run.bind(1, contact_key);
    if (!run.step()) return std::nullopt;
    return relay_at(run, 0);
  }

  std::vector<std::string> closed_codes_since(std::int64_t since_ms) override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    Run run(db(), closed_codes_since_);
    run.bind(1, since_ms);
    while (run.step()) out.push_back(run.text(0));
    return out;
  }

  AdvocateNote advocate_note(std::string_view advocate_id) override {
    std::lock_guard lock(mutex_);
    AdvocateNote note;
    note.advocate_id = std::string(advocate_id);
    Run run(db(), advocate_note_);
    run.bind(1, advocate_id);
    if (run.step()) {
      note.focus_code = run.text(0);
      note.held_sealed = run.text(1);
      note.held_codes = run.text(2);
      note.held_until_ms = run.int64(3);
    }
    return note;
  }

  std::unique_ptr<KeyLock> lock_key(std::string_view key) override { return key_locks_.lock(key); }

  std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit,
                                        std::int64_t lease_until_ms) override {
    std::lock_guard lock(mutex_);
    std::vector<OutboxRow> out;
    // One statement, so one implicit transaction: the rows it returns are leased.
    Run run(db(), claim_due_);
    run.bind(1, now_ms).bind(2, static_cast<std::int64_t>(limit)).bind(3, lease_until_ms);
    while (run.step()) {
      OutboxRow r;
      r.id = run.int64(0);
      r.idempotency_key = run.text(1);
      r.contact_key = run.text(2);
      r.sender = run.text(3);
      r.to_sealed = run.text(4);
      r.body_sealed = run.text(5);
      r.attempts = static_cast<int>(run.int64(6));
      r.next_attempt_ms = run.int64(7);
      r.attempt_started_ms = run.int64(8);
      r.lease_until_ms = lease_until_ms;
      out.push_back(std::move(r));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  void outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    Run(db(), outbound_sent_).bind(1, id).bind(2, twilio_sid).bind(3, now_ms).exec();
  }

  bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) override {
    std::lock_guard lock(mutex_);
    return Run(db(), outbound_attempt_started_).bind(1, row.id).bind(2, now_ms).bind(3, lease_until_ms)
               .bind(4, row.lease_until_ms).exec() > 0;
  }

  void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms,
                      bool outcome_unknown) override {
    std::lock_guard lock(mutex_);
    Run(db(), outbound_retry_).bind(1, id).bind(2, next_attempt_ms).bind(3, now_ms)
        .bind(4, std::int64_t{outcome_unknown}).exec();
  }

  void outbound_release(std::int64_t id, std::int64_t not_before_ms) override {
    std::lock_guard lock(mutex_);
    Run(db(), outbound_release_).bind(1, id).bind(2, not_before_ms).exec();
  }

  void outbound_dropped(std::int64_t id) override {
    std::lock_guard lock(mutex_);
    Run(db(), outbound_delete_).bind(1, id).exec();
  }

  bool outbound_status(std::string_view twilio_sid, std::string_view status, std::int64_t now_ms) override {
    if (twilio_sid.empty()) return false;
    std::lock_guard lock(mutex_);
    static constexpr std::string_view kFinal[] = {"delivered", "undelivered", "failed", "read", "canceled"};
    bool final = false;
    for (auto f : kFinal) final = final || status == f;
    if (final) return Run(db(), outbound_delete_by_sid_).bind(1, twilio_sid).exec() > 0;
    return Run(db(), outbound_status_).bind(1, twilio_sid).bind(2, status).bind(3, now_ms).exec() > 0;
  }

  std::size_t outbox_pending() override {
    std::lock_guard lock(mutex_);
    Run run(db(), count_pending_);
    return run.step() ? static_cast<std::size_t>(run.int64(0)) : 0;
  }

  std::optional<std::string> response_for(std::string_view contact_key,
                                          std::string_view request_id) override {
    if (request_id.empty()) return std::nullopt;
    std::lock_guard lock(mutex_);
    apply_if_logged(contact_key);
    Run run(db(), response_for_);
    run.bind(1, contact_key).bind(2, request_id);
    if (!run.step()) return std::nullopt;
    return run.text(0);
  }

  bool is_opted_out(std::string_view contact_key) override {
    std::lock_guard lock(mutex_);
    Run run(db(), is_opted_out_);
    run.bind(1, contact_key);
    return run.step() && run.int64(0) != 0;
  }

  void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    // An opt-out is a legal obligation (carriers' STOP rules), so this one write pays for an
    // fsync of the WAL at commit and survives power loss too, not only an application crash.
    // It is rare, so the cost does not matter. See configure() for why NORMAL is fine elsewhere.
    SynchronousFull full(db());
    Transaction tx = transaction();
    if (opted_out) {
      Run(db(), upsert_opt_out_).bind(1, contact_key).bind(2, now_ms).exec();
    } else {
      Run(db(), delete_contact_).bind(1, contact_key).exec();
    }
    tx.commit();
    forget_cached(contact_key);
  }

  std::size_t purge_before(std::int64_t cutoff_ms) override {
    // Conversations have no index by age (see migration 5), so they are scanned by rowid, a
    // slice at a time, each slice its own short transaction: messages keep being answered
    // between slices instead of waiting for a scan of the whole table (a second or so at a
    // million rows). Rows written during the scan are new, so skipping them is right.
    constexpr std::int64_t kSlice = 4096;
    std::int64_t last;
    {
      std::lock_guard lock(mutex_);
      apply_logged();  // turns logged before the purge count as written before it
      Run run(db(), max_conversation_rowid_);
      last = run.step() ? run.int64(0) : 0;
    }
    std::size_t removed = 0;
    for (std::int64_t from = 0; from < last; from += kSlice) {
      std::lock_guard lock(mutex_);
      removed += Run(db(), purge_conversations_).bind(1, cutoff_ms).bind(2, from).bind(3, from + kSlice).exec();
    }
    std::lock_guard lock(mutex_);
    if (removed > 0 && log_) {
      std::lock_guard memory(log_mutex_);
      cache_.clear();
    }
    return removed + Run(db(), purge_sent_outbound_).bind(1, cutoff_ms).exec();
  }

  std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    Transaction tx = transaction();
    Run(db(), remember_idle_relay_codes_).bind(1, cutoff_ms).bind(2, now_ms).exec();
    const std::size_t ended = Run(db(), end_idle_relays_).bind(1, cutoff_ms).exec();
    tx.commit();
    return ended;
  }

  std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    Transaction tx = transaction();
    std::size_t changed = Run(db(), forget_closed_codes_).bind(1, closed_before_ms).exec();
    changed += Run(db(), drop_expired_held_).bind(1, now_ms).exec();
    tx.commit();
    return changed;
  }

  std::size_t forget(std::string_view contact_key) override {
    std::lock_guard lock(mutex_);
    apply_logged();  // so that no logged turn brings the conversation back, and the log empties
    std::size_t erased = 0;
    {
      SynchronousFull full(db());
      Transaction tx = transaction();
      erased += Run(db(), forget_conversation_).bind(1, contact_key).exec();
      erased += Run(db(), delete_contact_).bind(1, contact_key).exec();
      // The code stays out of use like any closed one. `forget` is given no clock; the wall
      // clock is right here (it is an operator's command, never run under a pinned test clock).
      Run(db(), remember_forgotten_relay_code_).bind(1, contact_key).bind(2, wall_clock_ms()).exec();
      erased += Run(db(), forget_relays_).bind(1, contact_key).exec();
      erased += Run(db(), forget_outbound_).bind(1, contact_key).exec();
      tx.commit();
    }
    forget_cached(contact_key);
    // secure_delete has zeroed the rows' bytes in the pages written to the WAL, but the WAL still
    // holds older images of those pages until a checkpoint. Copy it into the database and
    // truncate it now. Best effort: a reader in another process can make it return BUSY, and
    // the next automatic checkpoint will get there anyway.
    sqlite3_wal_checkpoint_v2(db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    return erased;
  }

  bool healthy() override {
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

 private:
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

  sqlite3* db() const { return db_.get(); }

  /// The relay in columns `first`..`first + 11` of the row `run` is on (select_relays_'s order).
  static Relay relay_at(const Run& run, int first) {
    Relay r;
    r.code = run.text(first);
    r.contact_key = run.text(first + 1);
    r.texter_sealed = run.text(first + 2);
    r.lang = run.text(first + 3);
    r.state = run.text(first + 4);
    r.advocate_id = run.text(first + 5);
    r.first_message_sealed = run.text(first + 6);
    r.offered_to = run.text(first + 7);
    r.no_answer_told = run.int64(first + 8) != 0;
    r.created_ms = run.int64(first + 9);
    r.updated_ms = run.int64(first + 10);
    r.version = run.int64(first + 11);
    return r;
  }
  Transaction transaction() { return Transaction(db(), begin_, commit_, rollback_); }

  void configure(bool in_memory) {
    sqlite3* d = db();
    // First, so that every statement below (including the switch to WAL, which needs a lock)
    // waits up to 5 s for another process instead of failing with SQLITE_BUSY at once.
    exec(d, "PRAGMA busy_timeout=5000", "setting busy_timeout");

    // WAL: readers never block the writer and vice versa, and a commit is one sequential append.
    // The mode is stored in the file, but asking is cheap and confirms it took: on a filesystem
    // without shared-memory support SQLite quietly stays in the old mode, which we refuse.
    {
      Statement s(d, "PRAGMA journal_mode=WAL");
      Run run(d, s);
      if (!run.step()) fail(d, "setting journal_mode=WAL");
      const std::string mode = run.text(0);
      if (mode != "wal" && !(in_memory && mode == "memory")) {
        throw std::runtime_error("it could not be put in WAL mode (got '" + mode +
                                 "'); is it on a network filesystem?");
      }
    }

    // synchronous=NORMAL is safe with WAL: a commit is appended to the WAL and handed to the OS
    // before COMMIT returns, so it survives the *application* crashing or being killed at any
    // point; fsync happens only at checkpoints. What NORMAL gives up is the very last commits
    // on a power loss or OS crash: they may roll back, but the database is never corrupted.
    // For a turn that means a redelivery is treated as new, or a conversation steps back one
    // message; acceptable for the fsync per message it saves. Opt-outs and forget, which must
    // stick, raise it to FULL for their own transaction (see SynchronousFull).
    exec(d, "PRAGMA synchronous=NORMAL", "setting synchronous=NORMAL");

    // No foreign keys in the schema yet; on so that future migrations' constraints are enforced.
    exec(d, "PRAGMA foreign_keys=ON", "setting foreign_keys=ON");

    // Overwrite deleted content with zeros instead of leaving it in free pages, where purged or
    // forgotten messages could be recovered from the file. What we erase should be gone.
    exec(d, "PRAGMA secure_delete=ON", "setting secure_delete=ON");
  }

  void migrate() {
    sqlite3* d = db();
    auto too_new = [&](int found) {
      return std::runtime_error(
          "the database has schema version " + std::to_string(found) +
          ", newer than this build of hotline supports (" + std::to_string(kSchemaVersion) +
          "); it was written by a newer hotline. Run that version, or restore a backup; "
          "refusing to open it rather than risk corrupting it.");
    };
    // The common case, an up-to-date database, is checked without taking the write lock.
    int version = user_version(d);
    if (version < 0) {  // user_version is a signed int; nothing we write is negative
      throw std::runtime_error("the database has schema version " + std::to_string(version) +
                               ", which no hotline writes; it belongs to something else");
    }
    if (version > kSchemaVersion) throw too_new(version);
    if (version == kSchemaVersion) return;

    Statement begin(d, "BEGIN IMMEDIATE"), commit(d, "COMMIT"), rollback(d, "ROLLBACK");
    for (;;) {
      Transaction tx(d, begin, commit, rollback);
      // Re-read under the write lock: another process may have migrated in the meantime.
      version = user_version(d);
      if (version > kSchemaVersion || version < 0) throw too_new(version);
      if (version == kSchemaVersion) return;  // rolls back an empty transaction
      exec(d, kMigrations[static_cast<std::size_t>(version)],
           "applying schema migration " + std::to_string(version + 1));
      // user_version lives in the database header, which is written transactionally.
      const std::string bump = "PRAGMA user_version=" + std::to_string(version + 1);
      exec(d, bump.c_str(), "recording schema version " + std::to_string(version + 1));
      tx.commit();
    }
  }

  void prepare_statements() {
    sqlite3* d = db();
    begin_ = Statement(d, "BEGIN IMMEDIATE");
    commit_ = Statement(d, "COMMIT");
    rollback_ = Statement(d, "ROLLBACK");
    read_contact_ = Statement(d, sql::kReadContact);
    applied_seq_ = Statement(d, "SELECT applied_seq FROM turn_log WHERE id = 1");
    data_version_ = Statement(d, "PRAGMA data_version");
    set_applied_seq_ = Statement(d, "UPDATE turn_log SET applied_seq = ?1 WHERE id = 1");
    load_ = Statement(d, sql::kLoadSession);
    response_for_ = Statement(d, sql::kResponseFor);
    is_opted_out_ = Statement(d, "SELECT opted_out FROM contacts WHERE contact_key = ?1");
    write_conversation_ = Statement(d, sql::kWriteConversation);
    forget_conversation_ = Statement(d, "DELETE FROM conversations WHERE contact_key = ?1");
    upsert_opt_out_ = Statement(d,
        "INSERT INTO contacts (contact_key, opted_out, updated_ms) VALUES (?1, 1, ?2) "
        "ON CONFLICT (contact_key) DO UPDATE SET opted_out = 1, updated_ms = excluded.updated_ms");
    delete_contact_ = Statement(d, "DELETE FROM contacts WHERE contact_key = ?1");
    max_conversation_rowid_ = Statement(d, "SELECT coalesce(max(rowid), 0) FROM conversations");
    purge_conversations_ = Statement(d,
        "DELETE FROM conversations WHERE rowid > ?2 AND rowid <= ?3 AND updated_ms < ?1");
    select_one_ = Statement(d, "SELECT 1");
    insert_outbound_ = Statement(d,
        "INSERT OR IGNORE INTO outbox (idempotency_key, contact_key, sender, recipient, body, state, "
        "next_attempt_ms, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6)");
    claim_due_ = Statement(d,
        "UPDATE outbox SET lease_until_ms = ?3 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' "
        "AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1 ORDER BY id LIMIT ?2) "
        "RETURNING id, idempotency_key, contact_key, sender, recipient, body, attempts, next_attempt_ms, "
        "attempt_started_ms");
    release_leases_ = Statement(d, "UPDATE outbox SET lease_until_ms = 0 WHERE lease_until_ms != 0");
    outbound_release_ = Statement(d,
        "UPDATE outbox SET lease_until_ms = 0, next_attempt_ms = MAX(next_attempt_ms, ?2) WHERE id = ?1");
    // Compare-and-set on the lease: a claim that outlived its lease and was claimed again by
    // someone else finds a different lease_until_ms and must not send.
    outbound_attempt_started_ = Statement(d,
        "UPDATE outbox SET attempt_started_ms = ?2, lease_until_ms = ?3 "
        "WHERE id = ?1 AND state = 'pending' AND lease_until_ms = ?4");
    end_idle_relays_ = Statement(d, "DELETE FROM relays WHERE updated_ms < ?1");
    outbound_sent_ = Statement(d,
        "UPDATE outbox SET state = 'sent', recipient = '', body = '', twilio_sid = ?2, "
        "attempts = attempts + 1, lease_until_ms = 0, attempt_started_ms = 0, updated_ms = ?3 WHERE id = ?1");
    outbound_retry_ = Statement(d,
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2, lease_until_ms = 0, "
        "updated_ms = ?3, attempt_started_ms = CASE WHEN ?4 THEN attempt_started_ms ELSE 0 END WHERE id = ?1");
    outbound_delete_ = Statement(d, "DELETE FROM outbox WHERE id = ?1");
    outbound_delete_by_sid_ = Statement(d, "DELETE FROM outbox WHERE twilio_sid = ?1 AND state = 'sent'");
    outbound_status_ = Statement(d,
        "UPDATE outbox SET status = ?2, updated_ms = ?3 WHERE twilio_sid = ?1 AND state = 'sent'");
    count_pending_ = Statement(d, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'");
    purge_sent_outbound_ = Statement(d, "DELETE FROM outbox WHERE state = 'sent' AND updated_ms < ?1");
    forget_outbound_ = Statement(d, "DELETE FROM outbox WHERE contact_key = ?1");
    select_relays_ = Statement(d, sql::kSelectRelays);
    relay_of_ = Statement(d, sql::kRelayOf);
    insert_relay_ = Statement(d,
        "INSERT INTO relays (code, contact_key, texter, lang, state, advocate_id, first_message, "
        "offered_to, no_answer_told, created_ms, updated_ms, version) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1)");
    update_relay_ = Statement(d,
        "UPDATE relays SET texter = ?3, lang = ?4, state = ?5, advocate_id = ?6, first_message = ?7, "
        "offered_to = ?8, no_answer_told = ?9, updated_ms = ?10, version = version + 1 "
        "WHERE code = ?1 AND version = ?2");
    delete_relay_ = Statement(d, "DELETE FROM relays WHERE code = ?1 AND version = ?2");
    forget_relays_ = Statement(d, "DELETE FROM relays WHERE contact_key = ?1");
    remember_closed_code_ = Statement(d, sql::kRememberClosedCode);
    remember_idle_relay_codes_ = Statement(d, sql::kRememberIdleRelayCodes);
    remember_forgotten_relay_code_ = Statement(d, sql::kRememberForgottenRelayCode);
    closed_codes_since_ = Statement(d, sql::kClosedCodesSince);
    forget_closed_codes_ = Statement(d, sql::kForgetClosedCodes);
    advocate_note_ = Statement(d, sql::kAdvocateNote);
    write_advocate_note_ = Statement(d, sql::kWriteAdvocateNote);
    drop_expired_held_ = Statement(d, sql::kDropExpiredHeld);
  }

  // Declared first so it is destroyed last, after every statement has been finalized.
  DbHandle db_;
  std::mutex mutex_;
  Statement begin_, commit_, rollback_;
  Statement applied_seq_, set_applied_seq_, data_version_;
  Statement read_contact_, load_, response_for_, write_conversation_, forget_conversation_;
  Statement is_opted_out_, upsert_opt_out_, delete_contact_;
  Statement max_conversation_rowid_, purge_conversations_;
  Statement select_one_;
  Statement insert_outbound_, claim_due_, release_leases_, outbound_release_, outbound_sent_, outbound_retry_, outbound_delete_;
  Statement outbound_attempt_started_;
  Statement outbound_delete_by_sid_, outbound_status_, count_pending_, purge_sent_outbound_, forget_outbound_;
  Statement select_relays_, relay_of_, insert_relay_, update_relay_, delete_relay_, forget_relays_;
  Statement end_idle_relays_;
  Statement remember_closed_code_, remember_idle_relay_codes_, remember_forgotten_relay_code_;
  Statement closed_codes_since_, forget_closed_codes_;
  Statement advocate_note_, write_advocate_note_, drop_expired_held_;
  KeyLocks key_locks_;
  // After the statements: destroyed (its thread stopped) before the main connection closes.
  std::unique_ptr<BackgroundCheckpointer> checkpointer_;

  // The turn log (file-backed stores only, and only in the process that holds it).
  std::unique_ptr<TurnLog> log_;
  std::mutex log_mutex_;  // guards what follows; taken after mutex_ when both are held
  std::vector<LoggedTurn> logged_;  // logged, not yet in SQLite, oldest first
  std::size_t applying_ = 0;        // and those being written now (taken out of logged_)
  std::unordered_map<std::string, int, KeyHash, std::equal_to<>> logged_by_contact_;  // how many each key has
  ConversationCache cache_{kCachedConversations};
  std::int64_t data_version_seen_ = 0;  // PRAGMA data_version when last looked (mutex_)
  std::string apply_error_;  // why applying them last failed ('' = it did not)
  std::condition_variable applier_wake_;
  bool applier_idle_ = false;
  bool stopping_ = false;
  std::thread applier_;

  /// One relay write inside the caller's transaction; throws Conflict (rolling the whole turn
  /// back) when the row is not the version the caller read.
  void write_relay(const RelayChange& change, std::int64_t now_ms) {
    const Relay& r = change.relay;
    if (change.erase) {
      if (Run(db(), delete_relay_).bind(1, r.code).bind(2, change.expected_version).exec() == 0) {
        throw Conflict("relay " + r.code + " changed meanwhile");
      }
      Run(db(), remember_closed_code_).bind(1, r.code).bind(2, now_ms).exec();
      return;
    }
    if (change.expected_version == 0) {
      Run run(db(), insert_relay_);
      run.bind(1, r.code).bind(2, r.contact_key).bind(3, r.texter_sealed).bind(4, r.lang)
          .bind(5, r.state).bind(6, r.advocate_id).bind(7, r.first_message_sealed).bind(8, r.offered_to)
          .bind(9, std::int64_t{r.no_answer_told}).bind(10, now_ms).bind(11, now_ms);
      // A code or contact already in use: another writer opened it first.
      const int rc = sqlite3_step(insert_relay_.get());
      if ((rc & 0xFF) == SQLITE_CONSTRAINT) throw Conflict("relay " + r.code + " already exists");
      if (rc != SQLITE_DONE) fail(db(), "opening a relay");
      return;
    }
    Run run(db(), update_relay_);
    run.bind(1, r.code).bind(2, change.expected_version).bind(3, r.texter_sealed).bind(4, r.lang)
        .bind(5, r.state).bind(6, r.advocate_id).bind(7, r.first_message_sealed).bind(8, r.offered_to)
        .bind(9, std::int64_t{r.no_answer_told}).bind(10, now_ms);
    if (run.exec() == 0) throw Conflict("relay " + r.code + " changed meanwhile");
  }
};

}  // namespace

int sqlite_schema_version() noexcept { return kSchemaVersion; }

std::unique_ptr<SessionStore> open_sqlite(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace hotline::store
