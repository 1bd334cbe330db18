// The SQLite SessionStore: one file, WAL mode, versioned migrations. Private to hotline/store/;
// everything else opens it with open_sqlite() (session_store.hpp).
//
// Its methods live in one file per concern: sqlite_store.cpp (opening, health, statements
// shared by all), sqlite_conversations.cpp (sessions and remembered answers, opt-outs and
// erasure), sqlite_turn_applier.cpp (the turn log's applier), sqlite_relays.cpp (relays,
// closed codes, advocates' notes), sqlite_outbox.cpp (messages waiting to be sent) and
// sqlite_daily_counts.cpp (the daily report's counts).
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
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hotline/store/conversation_cache.hpp"
#include "hotline/store/key_locks.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/store/sqlite_checkpointer.hpp"
#include "hotline/store/sqlite_support.hpp"
#include "hotline/store/turn_log.hpp"

namespace hotline::store::sqlite {

class SqliteStore final : public SessionStore {
 public:
  explicit SqliteStore(const std::string& path);
  ~SqliteStore() override;

  // Conversations (sqlite_conversations.cpp).
  ContactView read_contact(std::string_view contact_key, std::string_view request_id) override;
  std::optional<StoredSession> load(std::string_view contact_key) override;
  // A turn that changes only its conversation is logged and answered; the applier thread
  // writes it to SQLite with the others logged meanwhile (turn_log.hpp). A turn with outbox
  // messages or relay changes is committed here, after every turn logged before it: the
  // outbox worker and the relay decisions read SQLite, and a relay conflict must reach the
  // caller. So does every turn of a store without a log (in memory, or another process's).
  void commit_turn(const TurnRecord& turn) override;
  std::optional<std::string> response_for(std::string_view contact_key,
                                          std::string_view request_id) override;
  bool is_opted_out(std::string_view contact_key) override;
  void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) override;
  std::size_t purge_before(std::int64_t cutoff_ms) override;
  std::size_t forget(std::string_view contact_key) override;

  // Relays (sqlite_relays.cpp).
  std::vector<Relay> relays() override;
  std::optional<Relay> relay_of(std::string_view contact_key) override;
  std::vector<std::string> closed_codes_since(std::int64_t since_ms) override;
  AdvocateNote advocate_note(std::string_view advocate_id) override;
  std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) override;
  std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) override;

  // The outbox (sqlite_outbox.cpp).
  std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit,
                                        std::int64_t lease_until_ms) override;
  void outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) override;
  bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) override;
  void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms,
                      bool outcome_unknown) override;
  void outbound_release(std::int64_t id, std::int64_t not_before_ms) override;
  void outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) override;
  bool outbound_status(std::string_view twilio_sid, std::string_view status, std::string_view error,
                       std::int64_t now_ms) override;
  std::vector<DeliveryFailure> delivery_failures(std::size_t limit) override;
  void delivery_failure_handled(std::int64_t id) override;
  std::size_t outbox_pending() override;

  // The daily report (sqlite_daily_counts.cpp).
  std::vector<DailyCount> daily_counts(std::string_view first_day, std::string_view last_day) override;

  std::unique_ptr<KeyLock> lock_key(std::string_view key) override { return key_locks_.lock(key); }
  bool healthy() override;
  std::uint64_t turn_log_damaged_bytes() override { return damaged_log_bytes_; }

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

  sqlite3* db() const { return db_.get(); }
  Transaction transaction() { return Transaction(db(), begin_, commit_, rollback_); }

  // Each concern's statements, prepared once at open, in its own file.
  void prepare_statements();
  void prepare_conversation_statements();
  void prepare_turn_log_statements();
  void prepare_relay_statements();
  void prepare_outbox_statements();
  void prepare_daily_count_statements();
  /// A turn's daily counts, inside the caller's transaction (the turn's own).
  void add_daily_counts(const std::vector<DailyCount>& counts);

  // The turn log and its applier (sqlite_turn_applier.cpp).
  void log_turn(const TurnRecord& turn);
  void run_applier();
  /// Writes every logged turn to SQLite, in one transaction, in the order they were logged.
  /// The caller holds mutex_, so the applier thread and other writers wait.
  void apply_logged();
  /// Another process (`hotline forget`, staff with sqlite3) committed since we last looked: what
  /// the cache holds may be gone or changed, so it is emptied. Caller holds mutex_, inside a
  /// transaction or not (then this is one).
  void notice_writes_elsewhere();
  /// Before reading a key's conversation: its logged turns, if any, go to SQLite first.
  void apply_if_logged(std::string_view contact_key);
  void forget_cached(std::string_view contact_key);
  /// What a crash left in the log goes to SQLite before anything else is read or written.
  void replay_log();
  /// Logged turns (not empty, in order) and the log's mark past them, inside the caller's
  /// transaction, so the turns and the mark are committed together or not at all.
  void write_logged(const std::vector<LoggedTurn>& turns);

  /// The conversation's row, in one statement that writes nothing when this request id is one
  /// of the two the row remembers (a redelivery: the first delivery's effects stand, session
  /// included, so the conversation does not advance twice). An empty request id identifies
  /// nothing, so no response is remembered for it. True when it wrote.
  bool write_conversation(const std::string& contact_key, const std::string& session_data,
                          const std::string& request_id, const std::string& response,
                          bool keep_session, std::int64_t now_ms);
  /// One turn's writes, inside the caller's transaction.
  void write_turn(const TurnRecord& turn);
  /// One relay write inside the caller's transaction; throws Conflict (rolling the whole turn
  /// back) when the row is not the version the caller read.
  void write_relay(const RelayChange& change, std::int64_t now_ms);
  /// The relay in columns `first`..`first + 16` of the row `run` is on (select_relays_'s order).
  static Relay relay_at(const Run& run, int first);

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
  Statement keep_failure_by_id_, keep_failure_by_sid_, select_failures_, delete_failure_;
  Statement outbound_delete_by_sid_, outbound_status_, count_pending_, purge_sent_outbound_, forget_outbound_;
  Statement select_relays_, relay_of_, insert_relay_, update_relay_, delete_relay_, forget_relays_;
  Statement end_idle_relays_;
  Statement remember_closed_code_, remember_idle_relay_codes_, remember_forgotten_relay_code_;
  Statement closed_codes_since_, forget_closed_codes_;
  Statement advocate_note_, write_advocate_note_, drop_expired_held_;
  Statement add_daily_count_, select_daily_counts_;
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
  std::uint64_t damaged_log_bytes_ = 0;  // found by replay_log() at open
};

}  // namespace hotline::store::sqlite
