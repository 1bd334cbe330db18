#include "hotline/store/sqlite_schema.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "hotline/common/log.hpp"
#include "hotline/store/sqlite_support.hpp"

namespace hotline::store::sqlite {
namespace {

// Schema migrations, in order: entry i takes a database from user_version i to i + 1.
// Each runs in its own transaction together with the user_version bump, so a crash mid-upgrade
// leaves the database at a consistent earlier version. Never edit an entry that has shipped;
// append a new one. Plain CREATE (no IF NOT EXISTS) on purpose: re-applying a migration to a
// database that already has it is a bug we want to hear about, not paper over.
constexpr std::array<const char*, 11> kMigrations = {
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
    // 8: no silent failure, and context for the next advocate. relays.context: what the next
    // advocate should know (sealed: the texter's messages while waiting, a release note).
    // outbox.on_failure: whom to tell if a message cannot be delivered (an advocate's id and a
    // code, never a number or text); delivery_failures: such failures until they are told.
    R"sql(
      ALTER TABLE relays ADD COLUMN context TEXT NOT NULL DEFAULT '';   -- sealed; '' once claimed
      ALTER TABLE outbox ADD COLUMN on_failure TEXT NOT NULL DEFAULT '';
      CREATE TABLE delivery_failures (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        on_failure TEXT NOT NULL,
        error      TEXT NOT NULL,
        created_ms INTEGER NOT NULL
      );
    )sql",
    // 9: the advocates' console: a relay's topic (the intent asked about, no words), how far a
    // request nobody takes was escalated and since when, what its advocate's shift end did to
    // it; and whether an advocate paused offers (#pause).
    R"sql(
      ALTER TABLE relays ADD COLUMN topic TEXT NOT NULL DEFAULT '';
      ALTER TABLE relays ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE relays ADD COLUMN stage_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE relays ADD COLUMN shift_end INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE advocate_notes ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 10: when a relay's texter last wrote (a time, nothing of what they wrote): WhatsApp
    // delivers free-form text only within 24 hours of it. 0 on older rows: not known.
    R"sql(
      ALTER TABLE relays ADD COLUMN texter_wrote_ms INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 11: the daily report (`hotline report`): counts per local day, metric, topic, language and
    // channel, added by the turns that cause them. Counts only (no contact, no text), so they
    // outlive the conversations, the housekeeper and `forget`.
    R"sql(
      CREATE TABLE daily_counts (
        day     TEXT NOT NULL,      -- the hotline's local date, YYYY-MM-DD
        metric  TEXT NOT NULL,
        topic   TEXT NOT NULL,      -- an intent name; '' = none
        lang    TEXT NOT NULL,      -- en | es | '' (not known yet)
        channel TEXT NOT NULL,      -- sms | whatsapp | voice
        n       INTEGER NOT NULL,
        PRIMARY KEY (day, metric, topic, lang, channel)
      ) WITHOUT ROWID;
    )sql",
};

constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

}  // namespace

int schema_version() noexcept { return kSchemaVersion; }

namespace {

/// Makes `path` no more open than `allowed` (0600 for files, 0700 for the folder): a database
/// restored by an operator (`.backup`, `cp`) arrives with the umask's 0644, and its -wal and
/// -shm then inherit that. Refuses, rather than serve from files others can read, when it cannot.
void tighten(const std::string& path, ::mode_t allowed, const char* what) {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // not there: nothing to tighten
  const ::mode_t mode = st.st_mode & 07777;
  if ((mode & ~allowed) == 0) return;
  if (::chmod(path.c_str(), mode & allowed) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    throw std::runtime_error(std::string("session store: the database ") + what + " '" + path +
                             "' can be read by other users (mode " + octal +
                             ") and cannot be made owner-only (" + std::strerror(errno) +
                             "): make it owned by the user that runs hotline (chown), or put the "
                             "database in a folder of its own");
  }
  char from[8], to[8];
  std::snprintf(from, sizeof from, "%04o", static_cast<unsigned>(mode));
  std::snprintf(to, sizeof to, "%04o", static_cast<unsigned>(mode & allowed));
  log::warn("store_permissions_tightened", {{"path", path}, {"from", from}, {"to", to}});
}

}  // namespace

/// Creates the parent directory (owner-only, since it will hold data about vulnerable people)
/// and the database file itself with mode 0600 before SQLite sees it. SQLite creates the -wal
/// and -shm files with the database file's permissions, so they inherit 0600 too; left to
/// SQLite alone, the file would get 0644 under a typical umask. Files and a folder that exist
/// already are tightened to the same modes.
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
  }
  // A database named without a folder ("hotline.db", "./hotline.db") lives wherever it was run
  // from: that folder is the operator's, not ours to change.
  if (!parent.empty() && parent != ".") tighten(parent.string(), 0700, "folder");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);  // on failure SQLite's own open reports the reason
  tighten(path, 0600, "file");
  tighten(path + "-wal", 0600, "file");
  tighten(path + "-shm", 0600, "file");
}

void configure(sqlite3* d, bool in_memory) {
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

void migrate(sqlite3* d) {
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

}  // namespace hotline::store::sqlite
