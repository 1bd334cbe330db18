// The PostgreSQL SessionStore: what several `hotline serve` replicas share.
//
// Same contract as the SQLite store (session_store.hpp), with what replicas need on top:
// - lock_key is a session-level advisory lock (pg_advisory_lock) on a pooled connection. While
//   a thread holds one, every store call it makes runs on that same connection, so a turn costs
//   one connection, nested locks (a contact, then the relays) reuse it, and a replica that dies
//   drops its connections and with them its locks: nobody waits for a dead process.
// - claim_outbound leases rows with UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED): two
//   workers claiming at once never block each other and never get the same row.
// - Migrations run in one transaction under a fixed advisory lock, so replicas starting together
//   migrate once, one after the other, and a newer schema than this build knows is refused.
#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hotline/store/conversation_sql.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::store {
namespace {

// Schema migrations, in order: entry i takes a database from version i to i + 1, each in the same
// transaction as its row in schema_migrations. Never edit one that has shipped; append.
// Numbers and texts arrive sealed by the caller, exactly as in the SQLite store.
constexpr std::array<const char*, 8> kMigrations = {
    // 1: sessions, remembered responses, opt-outs, the outbox and open relays.
    R"sql(
      CREATE TABLE sessions (
        contact_key TEXT PRIMARY KEY,
        data        TEXT NOT NULL,
        updated_ms  BIGINT NOT NULL
      );
      CREATE INDEX sessions_by_updated_ms ON sessions (updated_ms);

      CREATE TABLE responses (
        request_id  TEXT PRIMARY KEY,
        contact_key TEXT NOT NULL,
        response    TEXT NOT NULL,
        created_ms  BIGINT NOT NULL
      );
      CREATE INDEX responses_by_created_ms ON responses (created_ms);
      CREATE INDEX responses_by_contact_key ON responses (contact_key);

      CREATE TABLE contacts (
        contact_key TEXT PRIMARY KEY,
        opted_out   BOOLEAN NOT NULL,
        updated_ms  BIGINT NOT NULL
      );

      CREATE TABLE outbox (
        id              BIGSERIAL PRIMARY KEY,
        idempotency_key TEXT NOT NULL UNIQUE,
        contact_key     TEXT NOT NULL,
        sender          TEXT NOT NULL,
        recipient       TEXT NOT NULL,             -- sealed; '' once sent
        body            TEXT NOT NULL,             -- sealed; '' once sent
        state           TEXT NOT NULL,             -- pending | sent
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms BIGINT NOT NULL,
        lease_until_ms  BIGINT NOT NULL DEFAULT 0, -- claimed by a worker until then
        twilio_sid      TEXT NOT NULL DEFAULT '',
        status          TEXT NOT NULL DEFAULT '',
        created_ms      BIGINT NOT NULL,
        updated_ms      BIGINT NOT NULL
      );
      CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);
      CREATE INDEX outbox_by_twilio_sid ON outbox (twilio_sid);
      CREATE INDEX outbox_by_contact_key ON outbox (contact_key);

      CREATE TABLE relays (
        code           TEXT PRIMARY KEY,
        contact_key    TEXT NOT NULL UNIQUE,
        texter         TEXT NOT NULL,              -- sealed
        lang           TEXT NOT NULL,
        state          TEXT NOT NULL,              -- queued | claimed
        advocate_id    TEXT NOT NULL DEFAULT '',
        first_message  TEXT NOT NULL DEFAULT '',   -- sealed; '' once claimed
        offered_to     TEXT NOT NULL DEFAULT '',
        no_answer_told BOOLEAN NOT NULL DEFAULT FALSE,
        created_ms     BIGINT NOT NULL,
        updated_ms     BIGINT NOT NULL,
        version        BIGINT NOT NULL
      );
      CREATE INDEX relays_by_updated_ms ON relays (updated_ms);
    )sql",
    // 2: when a send began whose outcome is unknown (0: none), written before the request goes
    // out, so a send interrupted by a crash is looked up at Twilio instead of sent twice.
    R"sql(
      ALTER TABLE outbox ADD COLUMN attempt_started_ms BIGINT NOT NULL DEFAULT 0;
    )sql",
    // 3: a key's session and its last two answers in one row, as in the SQLite store's
    // migration 5: one row written and one read a message. The latest answer of each key comes
    // along; older ones are dropped.
    R"sql(
      CREATE TABLE conversations (
        contact_key   TEXT PRIMARY KEY,
        session       TEXT NOT NULL,      -- '' when no conversation is live
        session_ms    BIGINT NOT NULL,
        reply_id      TEXT NOT NULL,      -- the last request answered ('' = none) and its answer
        reply         TEXT NOT NULL,
        prev_reply_id TEXT NOT NULL,      -- the one before it
        prev_reply    TEXT NOT NULL,
        updated_ms    BIGINT NOT NULL     -- the last write, for the retention
      );
      CREATE INDEX conversations_by_updated_ms ON conversations (updated_ms);
      INSERT INTO conversations
        SELECT contact_key, data, updated_ms, '', '', '', '', updated_ms FROM sessions;
      INSERT INTO conversations
        SELECT DISTINCT ON (contact_key) contact_key, '', 0, request_id, response, '', '', created_ms
        FROM responses ORDER BY contact_key, created_ms DESC
        ON CONFLICT (contact_key) DO UPDATE SET reply_id = excluded.reply_id, reply = excluded.reply,
          updated_ms = greatest(conversations.updated_ms, excluded.updated_ms);
      DROP TABLE sessions;
      DROP TABLE responses;
    )sql",
    // 4: the relay's memory, as in the SQLite store's migration 7: closed relays' codes, kept
    // 30 days so none is given to another texter while a late reply to it could still come, and
    // per advocate the conversation a text without a code may go to and a briefly held message.
    R"sql(
      CREATE TABLE closed_codes (
        code      TEXT PRIMARY KEY,
        closed_ms BIGINT NOT NULL
      );
      CREATE TABLE advocate_notes (
        advocate_id   TEXT PRIMARY KEY,
        focus_code    TEXT NOT NULL DEFAULT '',
        held          TEXT NOT NULL DEFAULT '',   -- sealed; '' when none
        held_codes    TEXT NOT NULL DEFAULT '',
        held_until_ms BIGINT NOT NULL DEFAULT 0,
        updated_ms    BIGINT NOT NULL
      );
    )sql",
    // 5: no silent failure, and context for the next advocate, as in the SQLite store's
    // migration 8: a relay's sealed context, whom to tell when a message fails, and such failures
    // until they are told.
    R"sql(
      ALTER TABLE relays ADD COLUMN context TEXT NOT NULL DEFAULT '';   -- sealed; '' once claimed
      ALTER TABLE outbox ADD COLUMN on_failure TEXT NOT NULL DEFAULT '';
      CREATE TABLE delivery_failures (
        id         BIGSERIAL PRIMARY KEY,
        on_failure TEXT NOT NULL,
        error      TEXT NOT NULL,
        created_ms BIGINT NOT NULL
      );
    )sql",
    // 6: the advocates' console, as in the SQLite store's migration 9: a relay's topic (the
    // intent asked about, no words), how far a request nobody takes was escalated and since
    // when, what its advocate's shift end did to it; and whether an advocate paused offers.
    R"sql(
      ALTER TABLE relays ADD COLUMN topic TEXT NOT NULL DEFAULT '';
      ALTER TABLE relays ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE relays ADD COLUMN stage_ms BIGINT NOT NULL DEFAULT 0;
      ALTER TABLE relays ADD COLUMN shift_end INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE advocate_notes ADD COLUMN paused BOOLEAN NOT NULL DEFAULT FALSE;
    )sql",
    // 7: when a relay's texter last wrote, as in the SQLite store's migration 10 (WhatsApp's
    // 24-hour window). 0 on older rows: not known.
    R"sql(
      ALTER TABLE relays ADD COLUMN texter_wrote_ms BIGINT NOT NULL DEFAULT 0;
    )sql",
    // 8: the daily report, as in the SQLite store's migration 11: counts per local day, metric,
    // topic, language and channel; no contact, no text, so they outlive `forget`.
    R"sql(
      CREATE TABLE daily_counts (
        day     TEXT NOT NULL,
        metric  TEXT NOT NULL,
        topic   TEXT NOT NULL,
        lang    TEXT NOT NULL,
        channel TEXT NOT NULL,
        n       BIGINT NOT NULL,
        PRIMARY KEY (day, metric, topic, lang, channel)
      );
    )sql",
};

/// The statements both stores share (conversation_sql.hpp), with PostgreSQL's $N markers.
struct SharedStatements {
  const std::string read_contact = sql::postgres_markers(sql::kReadContact);
  const std::string write_conversation = sql::postgres_markers(sql::kWriteConversation);
  const std::string load_session = sql::postgres_markers(sql::kLoadSession);
  const std::string response_for = sql::postgres_markers(sql::kResponseFor);
  const std::string select_relays = sql::postgres_markers(sql::kSelectRelays);
  const std::string relay_of = sql::postgres_markers(sql::kRelayOf);
  const std::string remember_closed_code = sql::postgres_markers(sql::kRememberClosedCode);
  const std::string remember_idle_relay_codes = sql::postgres_markers(sql::kRememberIdleRelayCodes);
  const std::string remember_forgotten_relay_code = sql::postgres_markers(sql::kRememberForgottenRelayCode);
  const std::string closed_codes_since = sql::postgres_markers(sql::kClosedCodesSince);
  const std::string forget_closed_codes = sql::postgres_markers(sql::kForgetClosedCodes);
  const std::string advocate_note = sql::postgres_markers(sql::kAdvocateNote);
  const std::string write_advocate_note = sql::postgres_markers(sql::kWriteAdvocateNote);
  const std::string drop_expired_held = sql::postgres_markers(sql::kDropExpiredHeld);
  const std::string add_daily_count = sql::postgres_markers(sql::kAddDailyCount);
  const std::string select_daily_counts = sql::postgres_markers(sql::kSelectDailyCounts);
};
const SharedStatements& pg() {
  static const SharedStatements statements;
  return statements;
}

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// pg_advisory_xact_lock key that serialises migrations ("hotlmigr").
constexpr const char* kMigrationLock = "7526676567117064562";

/// Stable across builds and machines (replicas must agree), unlike std::hash.
std::int64_t advisory_key(std::string_view key) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a 64
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>(h);
}

constexpr const char* kUniqueViolation = "23505";

/// What went wrong talking to the server; the message is libpq's, which never has the password.
struct PgError : StoreError {
  PgError(const std::string& what, std::string state)
      : StoreError(what), sqlstate(std::move(state)) {}
  std::string sqlstate;
};

class Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  Result(Result&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result() { PQclear(r_); }

  int rows() const { return PQntuples(r_); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
  }
  std::int64_t int64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
  bool boolean(int row, int col) const { return PQgetvalue(r_, row, col)[0] == 't'; }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  std::size_t affected() const { return static_cast<std::size_t>(std::strtoull(PQcmdTuples(r_), nullptr, 10)); }

 private:
  PGresult* r_;
};

/// A parameter, always sent as text (PostgreSQL casts it to the column's type).
struct Param {
  Param(std::string_view s) : value(s) {}  // NOLINT: implicit on purpose, for brevity at call sites
  Param(const std::string& s) : value(s) {}  // NOLINT
  Param(const char* s) : value(s) {}  // NOLINT
  Param(std::int64_t n) : value(std::to_string(n)) {}  // NOLINT
  Param(int n) : value(std::to_string(n)) {}  // NOLINT
  Param(bool b) : value(b ? "true" : "false") {}  // NOLINT
  std::string value;
};

class Connection {
 public:
  explicit Connection(const std::string& url) {
    // Ours first: a connect_timeout or application_name in the URL overrides them.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"5", "hotline", url.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
    if (!conn_) throw StoreError("out of memory connecting to PostgreSQL");
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string why = PQerrorMessage(conn_);
      PQfinish(conn_);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      // libpq's message runs over lines ("…failed: Connection refused\n\tIs the server
      // running…"); a start-up error and a log field are one line.
      for (std::size_t at; (at = why.find_first_of("\n\t")) != std::string::npos;) {
        const std::size_t end = why.find_first_not_of("\n\t ", at);
        why.replace(at, (end == std::string::npos ? why.size() : end) - at, " ");
      }
      throw StoreUnreachable("cannot connect to PostgreSQL: " + why);
    }
    // A webhook must be answered within Twilio's 15 s: wait for a lock or a statement at most
    // this long, then fail the request (a 503: Twilio uses the Fallback URL, a proxy may try
    // another replica) rather than hang.
    // Notices ("… already exists, skipping") would go to stderr as plain text, outside our logs.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    exec("SET lock_timeout = '10s'; SET statement_timeout = '12s'; SET idle_in_transaction_session_timeout = '30s'");
  }
  ~Connection() { PQfinish(conn_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Runs one statement (several, without parameters). Throws PgError on failure.
  Result exec(const char* sql, std::initializer_list<Param> params = {}) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.value.c_str());
    PGresult* raw = params.size() == 0
                        ? PQexec(conn_, sql)
                        : PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                                       nullptr, nullptr, 0);
    Result result(raw);
    const ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
      std::string why = PQerrorMessage(conn_);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      throw PgError("session store (postgresql): " + why, state ? state : "");
    }
    return result;
  }

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE; }

 private:
  PGconn* conn_ = nullptr;
};

/// BEGIN … COMMIT, rolled back if the scope exits without commit().
class Transaction {
 public:
  explicit Transaction(Connection& c) : c_(c) { c_.exec("BEGIN"); }
  ~Transaction() {
    if (done_) return;
    try {
      c_.exec("ROLLBACK");
    } catch (...) {  // the connection is gone; the pool discards it
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    c_.exec("COMMIT");
    done_ = true;
  }

 private:
  Connection& c_;
  bool done_ = false;
};

/// Connections made as needed, up to a maximum, and reused.
class Pool {
 public:
  Pool(std::string url, std::size_t max) : url_(std::move(url)), max_(std::max<std::size_t>(max, 2)) {}

  std::unique_ptr<Connection> acquire() {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, std::chrono::seconds(10), [&] { return !idle_.empty() || open_ < max_; })) {
      throw StoreError("session store (postgresql): all " + std::to_string(max_) +
                               " connections busy for 10 s");
    }
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;
    lock.unlock();
    try {
      return std::make_unique<Connection>(url_);
    } catch (...) {
      std::lock_guard relock(mutex_);
      --open_;
      available_.notify_one();
      throw;
    }
  }

  /// Back to the pool; a connection that broke or was left mid-transaction is closed instead.
  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mutex_);
    if (c->ok()) idle_.push_back(std::move(c));
    else --open_;
    available_.notify_one();
  }

 private:
  const std::string url_;
  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

class PostgresStore;

/// The connection a thread's held locks live on, per store (tests run two "replicas" in one
/// process, each with its own store).
struct Binding {
  const PostgresStore* store;
  Connection* connection;
};
thread_local std::vector<Binding> t_bindings;

Connection* bound_connection(const PostgresStore* store) {
  for (const auto& b : t_bindings) {
    if (b.store == store) return b.connection;
  }
  return nullptr;
}

class PostgresStore final : public SessionStore {
 public:
  PostgresStore(const std::string& url, std::size_t connections) : pool_(url, connections) {
    auto c = pool_.acquire();
    migrate(*c);
    // Outbox leases are for crashed workers of *other* replicas to expire; they stay as they are.
    pool_.release(std::move(c));
  }

  std::unique_ptr<KeyLock> lock_key(std::string_view key) override {
    const std::int64_t id = advisory_key(key);
    if (Connection* bound = bound_connection(this)) {
      // Nested: advisory locks are re-entrant per session, and released one level at a time.
      bound->exec("SELECT pg_advisory_lock($1)", {id});
      return std::make_unique<NestedLock>(*bound, id);
    }
    auto c = pool_.acquire();
    try {
      c->exec("SELECT pg_advisory_lock($1)", {id});
    } catch (...) {
      pool_.release(std::move(c));
      throw;
    }
    return std::make_unique<OuterLock>(*this, std::move(c), id);
  }

  ContactView read_contact(std::string_view contact_key, std::string_view request_id) override {
    Use c(*this);
    auto r = c->exec(pg().read_contact.c_str(), {contact_key, request_id});
    ContactView view;
    if (r.rows() == 0) return view;  // the query always yields its one row; never here
    if (!r.is_null(0, 0) && !r.text(0, 0).empty()) view.session = StoredSession{r.text(0, 0), r.int64(0, 1)};
    if (!r.is_null(0, 2)) view.earlier_response = r.text(0, 2);
    view.opted_out = r.boolean(0, 3);
    if (!r.is_null(0, 4)) view.relay = relay_at(r, 0, 4);
    return view;
  }

  std::optional<StoredSession> load(std::string_view contact_key) override {
    Use c(*this);
    auto r = c->exec(pg().load_session.c_str(),
                     {contact_key});
    if (r.rows() == 0) return std::nullopt;
    return StoredSession{r.text(0, 0), r.int64(0, 1)};
  }

  void commit_turn(const TurnRecord& turn) override {
    if (turn.contact_key.empty()) throw std::invalid_argument("session store: empty contact key");
    Use c(*this);
    Transaction tx(*c);
    // As in SQLite: the conversation's row first; if it already remembers this request id,
    // this is a redelivery and changes nothing.
    if (!turn.request_id.empty() || !turn.keep_session) {
      const bool first_delivery =
          c->exec(pg().write_conversation.c_str(), {turn.contact_key, turn.session_data, turn.request_id, turn.response,
                                          turn.keep_session, turn.now_ms})
              .affected() > 0;
      if (!first_delivery) return;  // rolls back an empty transaction
    }
    for (const auto& change : turn.relays) write_relay(*c, change, turn.now_ms);
    for (const auto& n : turn.advocate_notes) {
      c->exec(pg().write_advocate_note.c_str(),
              {n.advocate_id, n.focus_code, n.held_sealed, n.held_codes, n.held_until_ms, turn.now_ms, n.paused});
    }
    for (const auto& m : turn.outbound) {
      c->exec("INSERT INTO outbox (idempotency_key, contact_key, sender, recipient, body, state, "
              "next_attempt_ms, created_ms, updated_ms, on_failure) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6, $7) "
              "ON CONFLICT (idempotency_key) DO NOTHING",
              {m.idempotency_key, m.contact_key, m.sender, m.to_sealed, m.body_sealed, turn.now_ms, m.on_failure});
    }
    for (const auto& k : turn.counts) {
      c->exec(pg().add_daily_count.c_str(), {k.day, k.metric, k.topic, k.lang, k.channel, k.n});
    }
    tx.commit();
  }

  std::vector<DailyCount> daily_counts(std::string_view first_day, std::string_view last_day) override {
    Use c(*this);
    auto r = c->exec(pg().select_daily_counts.c_str(), {first_day, last_day});
    std::vector<DailyCount> out;
    out.reserve(r.rows());
    for (int i = 0; i < r.rows(); ++i) {
      out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.int64(i, 5)});
    }
    return out;
  }

  std::optional<std::string> response_for(std::string_view contact_key, std::string_view request_id) override {
    if (request_id.empty()) return std::nullopt;
    Use c(*this);
    auto r = c->exec(pg().response_for.c_str(), {contact_key, request_id});
    if (r.rows() == 0) return std::nullopt;
    return r.text(0, 0);
  }

  bool is_opted_out(std::string_view contact_key) override {
    Use c(*this);
    auto r = c->exec("SELECT opted_out FROM contacts WHERE contact_key = $1", {contact_key});
    return r.rows() > 0 && r.boolean(0, 0);
  }

  void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) override {
    Use c(*this);
    if (opted_out) {
      c->exec("INSERT INTO contacts (contact_key, opted_out, updated_ms) VALUES ($1, true, $2) "
              "ON CONFLICT (contact_key) DO UPDATE SET opted_out = true, updated_ms = excluded.updated_ms",
              {contact_key, now_ms});
    } else {
      c->exec("DELETE FROM contacts WHERE contact_key = $1", {contact_key});
    }
  }

  std::size_t purge_before(std::int64_t cutoff_ms) override {
    Use c(*this);
    Transaction tx(*c);
    std::size_t removed = c->exec("DELETE FROM conversations WHERE updated_ms < $1", {cutoff_ms}).affected();
    removed += c->exec("DELETE FROM outbox WHERE state = 'sent' AND updated_ms < $1", {cutoff_ms}).affected();
    tx.commit();
    return removed;
  }

  std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) override {
    Use c(*this);
    Transaction tx(*c);
    c->exec(pg().remember_idle_relay_codes.c_str(), {cutoff_ms, now_ms});
    const std::size_t ended = c->exec("DELETE FROM relays WHERE updated_ms < $1", {cutoff_ms}).affected();
    tx.commit();
    return ended;
  }

  std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) override {
    Use c(*this);
    Transaction tx(*c);
    std::size_t changed = c->exec(pg().forget_closed_codes.c_str(), {closed_before_ms}).affected();
    changed += c->exec(pg().drop_expired_held.c_str(), {now_ms}).affected();
    tx.commit();
    return changed;
  }

  std::size_t forget(std::string_view contact_key) override {
    Use c(*this);
    Transaction tx(*c);
    // The code stays out of use like any closed one (wall clock: `forget` is given none).
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
    c->exec(pg().remember_forgotten_relay_code.c_str(), {contact_key, now_ms});
    std::size_t erased = 0;
    for (const char* sql : {"DELETE FROM conversations WHERE contact_key = $1", "DELETE FROM contacts WHERE contact_key = $1",
                            "DELETE FROM relays WHERE contact_key = $1", "DELETE FROM outbox WHERE contact_key = $1"}) {
      erased += c->exec(sql, {contact_key}).affected();
    }
    tx.commit();
    return erased;
  }

  bool healthy() override {
    try {
      Use c(*this);
      return c->exec("SELECT 1").rows() == 1;
    } catch (const std::exception&) {
      return false;
    }
  }

  std::vector<Relay> relays() override {
    Use c(*this);
    auto r = c->exec(pg().select_relays.c_str());
    std::vector<Relay> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int i = 0; i < r.rows(); ++i) out.push_back(relay_at(r, i, 0));
    return out;
  }

  std::optional<Relay> relay_of(std::string_view contact_key) override {
    Use c(*this);
    auto r = c->exec(pg().relay_of.c_str(), {contact_key});
    if (r.rows() == 0) return std::nullopt;
    return relay_at(r, 0, 0);
  }

  std::vector<std::string> closed_codes_since(std::int64_t since_ms) override {
    Use c(*this);
    auto r = c->exec(pg().closed_codes_since.c_str(), {since_ms});
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back(r.text(i, 0));
    return out;
  }

  AdvocateNote advocate_note(std::string_view advocate_id) override {
    Use c(*this);
    AdvocateNote note;
    note.advocate_id = std::string(advocate_id);
    auto r = c->exec(pg().advocate_note.c_str(), {advocate_id});
    if (r.rows() > 0) {
      note.focus_code = r.text(0, 0);
      note.held_sealed = r.text(0, 1);
      note.held_codes = r.text(0, 2);
      note.held_until_ms = r.int64(0, 3);
      note.paused = r.boolean(0, 4);
    }
    return note;
  }

  std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit,
                                        std::int64_t lease_until_ms) override {
    Use c(*this);
    auto r = c->exec(
        "UPDATE outbox SET lease_until_ms = $3 WHERE id IN ("
        "  SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_ms <= $1 AND lease_until_ms <= $1"
        "  ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) "
        "RETURNING id, idempotency_key, contact_key, sender, recipient, body, attempts, next_attempt_ms, "
        "attempt_started_ms, on_failure",
        {now_ms, static_cast<std::int64_t>(limit), lease_until_ms});
    std::vector<OutboxRow> out;
    for (int i = 0; i < r.rows(); ++i) {
      OutboxRow row;
      row.id = r.int64(i, 0);
      row.idempotency_key = r.text(i, 1);
      row.contact_key = r.text(i, 2);
      row.sender = r.text(i, 3);
      row.to_sealed = r.text(i, 4);
      row.body_sealed = r.text(i, 5);
      row.attempts = static_cast<int>(r.int64(i, 6));
      row.next_attempt_ms = r.int64(i, 7);
      row.attempt_started_ms = r.int64(i, 8);
      row.on_failure = r.text(i, 9);
      row.lease_until_ms = lease_until_ms;
      out.push_back(std::move(row));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  }

  void outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) override {
    Use c(*this);
    c->exec("UPDATE outbox SET state = 'sent', recipient = '', body = '', twilio_sid = $2, "
            "attempts = attempts + 1, lease_until_ms = 0, attempt_started_ms = 0, updated_ms = $3 WHERE id = $1",
            {id, twilio_sid, now_ms});
  }

  bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) override {
    Use c(*this);
    // Compare-and-set on the lease: a claim that outlived its lease and was claimed again by
    // another replica finds a different lease_until_ms and must not send.
    return c->exec("UPDATE outbox SET attempt_started_ms = $2, lease_until_ms = $3 "
                   "WHERE id = $1 AND state = 'pending' AND lease_until_ms = $4",
                   {row.id, now_ms, lease_until_ms, row.lease_until_ms})
               .affected() > 0;
  }

  void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms,
                      bool outcome_unknown) override {
    Use c(*this);
    c->exec("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = $2, lease_until_ms = 0, "
            "updated_ms = $3, attempt_started_ms = CASE WHEN $4::boolean THEN attempt_started_ms ELSE 0 END WHERE id = $1",
            {id, next_attempt_ms, now_ms, outcome_unknown});
  }

  void outbound_release(std::int64_t id, std::int64_t not_before_ms) override {
    Use c(*this);
    c->exec("UPDATE outbox SET lease_until_ms = 0, next_attempt_ms = GREATEST(next_attempt_ms, $2) WHERE id = $1",
            {id, not_before_ms});
  }

  void outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) override {
    Use c(*this);
    // One statement, so the failure is kept exactly when the row goes.
    c->exec("WITH gone AS (DELETE FROM outbox WHERE id = $1 RETURNING on_failure) "
            "INSERT INTO delivery_failures (on_failure, error, created_ms) "
            "SELECT on_failure, $2, $3 FROM gone WHERE on_failure != ''",
            {id, error, now_ms});
  }

  bool outbound_status(std::string_view twilio_sid, std::string_view status, std::string_view error,
                       std::int64_t now_ms) override {
    if (twilio_sid.empty()) return false;
    static constexpr std::string_view kFinal[] = {"delivered", "undelivered", "failed", "read", "canceled"};
    const bool final = std::find(std::begin(kFinal), std::end(kFinal), status) != std::end(kFinal);
    Use c(*this);
    if (final) {
      const bool failed = status == "failed" || status == "undelivered";
      const std::string why(error.empty() ? status : error);
      Transaction tx(*c);
      auto gone = c->exec("DELETE FROM outbox WHERE twilio_sid = $1 AND state = 'sent' RETURNING on_failure",
                          {twilio_sid});
      for (int i = 0; failed && i < gone.rows(); ++i) {
        if (gone.text(i, 0).empty()) continue;
        c->exec("INSERT INTO delivery_failures (on_failure, error, created_ms) VALUES ($1, $2, $3)",
                {gone.text(i, 0), why, now_ms});
      }
      tx.commit();
      return gone.rows() > 0;
    }
    return c->exec("UPDATE outbox SET status = $2, updated_ms = $3 WHERE twilio_sid = $1 AND state = 'sent'",
                   {twilio_sid, status, now_ms})
               .affected() > 0;
  }

  std::vector<DeliveryFailure> delivery_failures(std::size_t limit) override {
    Use c(*this);
    auto r = c->exec("SELECT id, on_failure, error, created_ms FROM delivery_failures ORDER BY id LIMIT $1",
                     {static_cast<std::int64_t>(limit)});
    std::vector<DeliveryFailure> out;
    for (int i = 0; i < r.rows(); ++i) out.push_back({r.int64(i, 0), r.text(i, 1), r.text(i, 2), r.int64(i, 3)});
    return out;
  }

  void delivery_failure_handled(std::int64_t id) override {
    Use c(*this);
    c->exec("DELETE FROM delivery_failures WHERE id = $1", {id});
  }

  std::size_t outbox_pending() override {
    Use c(*this);
    return static_cast<std::size_t>(c->exec("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").int64(0, 0));
  }

 private:
  /// The relay in columns `first`..`first + 17` of `row` (HOTLINE_RELAY_COLUMNS' order).
  static Relay relay_at(const Result& r, int row, int first) {
    Relay x;
    x.code = r.text(row, first);
    x.contact_key = r.text(row, first + 1);
    x.texter_sealed = r.text(row, first + 2);
    x.lang = r.text(row, first + 3);
    x.state = r.text(row, first + 4);
    x.advocate_id = r.text(row, first + 5);
    x.first_message_sealed = r.text(row, first + 6);
    x.offered_to = r.text(row, first + 7);
    x.no_answer_told = r.boolean(row, first + 8);
    x.created_ms = r.int64(row, first + 9);
    x.updated_ms = r.int64(row, first + 10);
    x.version = r.int64(row, first + 11);
    x.context_sealed = r.text(row, first + 12);
    x.topic = r.text(row, first + 13);
    x.escalation = static_cast<int>(r.int64(row, first + 14));
    x.stage_ms = r.int64(row, first + 15);
    x.shift_end = static_cast<int>(r.int64(row, first + 16));
    x.texter_wrote_ms = r.int64(row, first + 17);
    return x;
  }

  /// The connection for one call: the thread's bound one if it holds a lock, else one from the pool.
  class Use {
   public:
    explicit Use(PostgresStore& store) : store_(store), bound_(bound_connection(&store)) {
      if (!bound_) owned_ = store_.pool_.acquire();
    }
    ~Use() {
      if (owned_) store_.pool_.release(std::move(owned_));
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    Connection* operator->() { return bound_ ? bound_ : owned_.get(); }
    Connection& operator*() { return *operator->(); }

   private:
    PostgresStore& store_;
    Connection* bound_;
    std::unique_ptr<Connection> owned_;
  };

  class OuterLock final : public KeyLock {
   public:
    OuterLock(PostgresStore& store, std::unique_ptr<Connection> c, std::int64_t id)
        : store_(store), connection_(std::move(c)), id_(id) {
      t_bindings.push_back({&store_, connection_.get()});
    }
    ~OuterLock() override {
      std::erase_if(t_bindings, [&](const Binding& b) { return b.store == &store_; });
      try {
        connection_->exec("SELECT pg_advisory_unlock($1)", {id_});
      } catch (...) {  // the connection is broken: the server dropped its locks with it
      }
      store_.pool_.release(std::move(connection_));
    }

   private:
    PostgresStore& store_;
    std::unique_ptr<Connection> connection_;
    std::int64_t id_;
  };

  class NestedLock final : public KeyLock {
   public:
    NestedLock(Connection& c, std::int64_t id) : connection_(c), id_(id) {}
    ~NestedLock() override {
      try {
        connection_.exec("SELECT pg_advisory_unlock($1)", {id_});
      } catch (...) {
      }
    }

   private:
    Connection& connection_;
    std::int64_t id_;
  };

  static void write_relay(Connection& c, const RelayChange& change, std::int64_t now_ms) {
    const Relay& r = change.relay;
    if (change.erase) {
      if (c.exec("DELETE FROM relays WHERE code = $1 AND version = $2", {r.code, change.expected_version})
              .affected() == 0) {
        throw Conflict("relay " + r.code + " changed meanwhile");
      }
      c.exec(pg().remember_closed_code.c_str(), {r.code, now_ms});
      return;
    }
    if (change.expected_version == 0) {
      try {
        c.exec("INSERT INTO relays (code, contact_key, texter, lang, state, advocate_id, first_message, "
               "offered_to, no_answer_told, created_ms, updated_ms, version, context, topic, escalation, stage_ms, shift_end, "
               "texter_wrote_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, 1, $11, $12, $13, $14, $15, $16)",
               {r.code, r.contact_key, r.texter_sealed, r.lang, r.state, r.advocate_id, r.first_message_sealed,
                r.offered_to, r.no_answer_told, now_ms, r.context_sealed, r.topic, std::int64_t{r.escalation}, r.stage_ms,
                std::int64_t{r.shift_end}, r.texter_wrote_ms});
      } catch (const PgError& e) {
        if (e.sqlstate == kUniqueViolation) throw Conflict("relay " + r.code + " already exists");
        throw;
      }
      return;
    }
    if (c.exec("UPDATE relays SET texter = $3, lang = $4, state = $5, advocate_id = $6, first_message = $7, "
               "offered_to = $8, no_answer_told = $9, updated_ms = $10, context = $11, version = version + 1, topic = $12, "
               "escalation = $13, stage_ms = $14, shift_end = $15, contact_key = $16, texter_wrote_ms = $17 "
               "WHERE code = $1 AND version = $2",
               {r.code, change.expected_version, r.texter_sealed, r.lang, r.state, r.advocate_id,
                r.first_message_sealed, r.offered_to, r.no_answer_told, now_ms, r.context_sealed, r.topic,
                std::int64_t{r.escalation}, r.stage_ms, std::int64_t{r.shift_end}, r.contact_key, r.texter_wrote_ms})
            .affected() == 0) {
      throw Conflict("relay " + r.code + " changed meanwhile");
    }
  }

  static void migrate(Connection& c) {
    Transaction tx(c);
    // One replica at a time; the others wait here and then find the schema current.
    c.exec((std::string("SELECT pg_advisory_xact_lock(") + kMigrationLock + ")").c_str());
    c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)");
    int version = static_cast<int>(c.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int64(0, 0));
    if (version > kSchemaVersion) {
      throw std::runtime_error(
          "session store (postgresql): the database has schema version " + std::to_string(version) +
          ", newer than this build of hotline supports (" + std::to_string(kSchemaVersion) +
          "); it was written by a newer hotline. Run that version; refusing to touch it.");
    }
    for (; version < kSchemaVersion; ++version) {
      try {
        c.exec(kMigrations[static_cast<std::size_t>(version)]);
      } catch (const std::exception& e) {
        throw std::runtime_error("session store (postgresql): applying schema migration " +
                                 std::to_string(version + 1) + ": " + e.what());
      }
      c.exec("INSERT INTO schema_migrations (version, applied_ms) "
             "VALUES ($1, (extract(epoch from clock_timestamp()) * 1000)::bigint)",
             {version + 1});
    }
    tx.commit();
  }

  Pool pool_;
};

}  // namespace

int postgres_schema_version() noexcept { return kSchemaVersion; }

bool is_postgres_url(std::string_view location) noexcept {
  return location.starts_with("postgresql://") || location.starts_with("postgres://");
}

std::unique_ptr<SessionStore> open_postgres(const std::string& url, std::size_t connections) {
  return std::make_unique<PostgresStore>(url, connections);
}

std::string redacted(std::string_view location) {
  std::string out(location);
  if (!is_postgres_url(location)) return out;
  // postgresql://user:password@host/…: the userinfo ends at the last '@' before the path.
  const std::size_t start = out.find("://") + 3;
  const std::size_t path = out.find_first_of("/?", start);
  const std::size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= start) {
    const std::size_t colon = out.find(':', start);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // …?password=… in the query string.
  for (std::size_t p = out.find("password="); p != std::string::npos; p = out.find("password=", p + 1)) {
    const std::size_t end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::unique_ptr<SessionStore> open_store(const std::string& location, std::size_t connections) {
  if (is_postgres_url(location)) return open_postgres(location, connections);
  return open_sqlite(location);
}

std::vector<DailyCount> read_daily_counts(const std::string& location, std::string_view first_day,
                                          std::string_view last_day) {
  if (!is_postgres_url(location)) return read_sqlite_daily_counts(location, first_day, last_day);
  Connection c(location);
  Transaction tx(c);
  c.exec("SET TRANSACTION READ ONLY");
  // The table came with migration 7; a database no hotline with it has opened counted nothing.
  if (c.exec("SELECT to_regclass('daily_counts') IS NOT NULL").boolean(0, 0) == false) return {};
  auto r = c.exec(pg().select_daily_counts.c_str(), {first_day, last_day});
  std::vector<DailyCount> out;
  for (int i = 0; i < r.rows(); ++i) {
    out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.int64(i, 5)});
  }
  return out;
}

}  // namespace hotline::store
