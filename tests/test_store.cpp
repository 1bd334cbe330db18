#include <catch2/catch.hpp>

#include "delivery_failure_checks.hpp"
#include "legacy_contact_checks.hpp"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hotline/crypto/keys.hpp"
#include "hotline/store/housekeeper.hpp"
#include "hotline/store/sealed_conversations.hpp"
#include "hotline/store/session_store.hpp"

namespace fs = std::filesystem;
using hotline::store::open_sqlite;
using hotline::store::sqlite_schema_version;
using hotline::store::TurnRecord;

namespace {

/// A fresh directory per test, removed afterwards, so tests never see each other's files.
struct TempDir {
  fs::path path;
  TempDir() : path(fs::temp_directory_path() / ("hotline-store-test-" + hotline::crypto::random_hex(8))) {
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string db() const { return (path / "hotline.db").string(); }
};

/// A separate, plain sqlite3 connection: sees the file as any other process would.
struct Raw {
  sqlite3* db = nullptr;
  explicit Raw(const std::string& path) {
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) == SQLITE_OK);
  }
  ~Raw() { sqlite3_close(db); }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;

  std::string text(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      out = p ? p : "";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  long long integer(const std::string& sql) { return std::stoll(text(sql)); }
  void exec(const std::string& sql) {
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  }
};

TurnRecord turn(std::string contact, std::string data, std::string request_id, std::string response,
                std::int64_t now_ms) {
  TurnRecord t;
  t.contact_key = std::move(contact);
  t.session_data = std::move(data);
  t.request_id = std::move(request_id);
  t.response = std::move(response);
  t.now_ms = now_ms;
  return t;
}

}  // namespace

TEST_CASE("a saved session loads back; unknown contacts have none", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  CHECK_FALSE(store->load("c_unknown"));

  store->commit_turn(turn("c_a", R"({"step":"intro"})", "SM1", "<Response/>", 1000));
  auto loaded = store->load("c_a");
  REQUIRE(loaded);
  CHECK(loaded->data == R"({"step":"intro"})");
  CHECK(loaded->updated_ms == 1000);
}

TEST_CASE("a later turn overwrites the session", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "one", "SM1", "r1", 1000));
  store->commit_turn(turn("c_a", "two", "SM2", "r2", 2000));
  auto loaded = store->load("c_a");
  REQUIRE(loaded);
  CHECK(loaded->data == "two");
  CHECK(loaded->updated_ms == 2000);
}

TEST_CASE("empty session data erases the session but still records the response", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "one", "SM1", "r1", 1000));
  store->commit_turn(turn("c_a", "", "SM2", "bye", 2000));
  CHECK_FALSE(store->load("c_a"));
  CHECK(store->response_for("c_a", "SM2") == std::optional<std::string>("bye"));
  // Erasing a session that does not exist is not an error.
  store->commit_turn(turn("c_b", "", "SM3", "r3", 3000));
  CHECK_FALSE(store->load("c_b"));
}

TEST_CASE("response_for replays the first answer; a redelivery changes nothing", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  CHECK_FALSE(store->response_for("c_a", "SM1"));
  store->commit_turn(turn("c_a", "after-first", "SM1", "first answer", 1000));
  CHECK(store->response_for("c_a", "SM1") == std::optional<std::string>("first answer"));

  // The same MessageSid again, with whatever the engine computed the second time.
  store->commit_turn(turn("c_a", "after-second", "SM1", "second answer", 2000));
  CHECK(store->response_for("c_a", "SM1") == std::optional<std::string>("first answer"));
  auto loaded = store->load("c_a");
  REQUIRE(loaded);
  CHECK(loaded->data == "after-first");  // the conversation did not advance twice
  CHECK(loaded->updated_ms == 1000);
}

TEST_CASE("a key remembers the answers to its last two requests", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "s1", "SM1", "r1", 1000));
  store->commit_turn(turn("c_a", "s2", "SM2", "r2", 2000));
  store->commit_turn(turn("c_a", "s3", "SM3", "r3", 3000));
  CHECK_FALSE(store->response_for("c_a", "SM1"));
  CHECK(store->response_for("c_a", "SM2") == std::optional<std::string>("r2"));
  CHECK(store->response_for("c_a", "SM3") == std::optional<std::string>("r3"));
  CHECK_FALSE(store->response_for("c_b", "SM3"));  // another key's request is not this one's

  // A redelivery of the older of the two changes nothing: not the session, not the answers.
  store->commit_turn(turn("c_a", "s2-again", "SM2", "r2-again", 4000));
  REQUIRE(store->load("c_a"));
  CHECK(store->load("c_a")->data == "s3");
  CHECK(store->load("c_a")->updated_ms == 3000);
  CHECK(store->response_for("c_a", "SM2") == std::optional<std::string>("r2"));
  CHECK(store->response_for("c_a", "SM3") == std::optional<std::string>("r3"));
}

TEST_CASE("read_contact reads a turn's session, earlier answer, opt-out and relay at once", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  auto nothing = store->read_contact("c_a", "SM1");
  CHECK_FALSE(nothing.session);
  CHECK_FALSE(nothing.earlier_response);
  CHECK_FALSE(nothing.opted_out);
  CHECK_FALSE(nothing.relay);

  TurnRecord t = turn("c_a", R"({"step":"menu"})", "SM1", "<Response>one</Response>", 1000);
  hotline::store::Relay r;
  r.code = "K7";
  r.contact_key = "c_a";
  r.texter_sealed = "v1.sealed";
  r.lang = "es";
  r.state = "queued";
  t.relays.push_back({r, false, 0});
  store->commit_turn(t);
  store->set_opted_out("c_a", true, 1100);

  auto view = store->read_contact("c_a", "SM1");
  REQUIRE(view.session);
  CHECK(view.session->data == R"({"step":"menu"})");
  CHECK(view.session->updated_ms == 1000);
  CHECK(view.earlier_response == std::optional<std::string>("<Response>one</Response>"));
  CHECK(view.opted_out);
  REQUIRE(view.relay);
  CHECK(view.relay->code == "K7");
  CHECK(view.relay->texter_sealed == "v1.sealed");
  CHECK(view.relay->version == 1);
  CHECK(store->relay_of("c_a")->code == "K7");

  CHECK_FALSE(store->read_contact("c_a", "SM2").earlier_response);  // a new message
  CHECK_FALSE(store->read_contact("c_a", "").earlier_response);     // no id, nothing to replay
  auto other = store->read_contact("c_b", "SM1");
  CHECK_FALSE(other.session);
  CHECK_FALSE(other.earlier_response);
  CHECK_FALSE(other.opted_out);
  CHECK_FALSE(other.relay);
  CHECK_FALSE(store->relay_of("c_b"));

  // A relay turn (keep_session) remembers its answer and leaves the session alone.
  TurnRecord relay_turn = turn("c_a", "", "SM2", "<Response>two</Response>", 2000);
  relay_turn.keep_session = true;
  store->commit_turn(relay_turn);
  auto after = store->read_contact("c_a", "SM2");
  REQUIRE(after.session);
  CHECK(after.session->data == R"({"step":"menu"})");
  CHECK(after.session->updated_ms == 1000);
  CHECK(after.earlier_response == std::optional<std::string>("<Response>two</Response>"));
}

TEST_CASE("a turn without a request id saves the session and remembers no response", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "s", "", "r", 1000));
  store->commit_turn(turn("c_a", "s2", "", "r2", 2000));
  CHECK_FALSE(store->response_for("c_a", ""));
  REQUIRE(store->load("c_a"));
  CHECK(store->load("c_a")->data == "s2");
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM conversations WHERE reply_id != '' OR reply != ''") == 0);
}

TEST_CASE("an empty response is remembered as empty, not as missing", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "s", "SM1", "", 1));  // e.g. a silent answer to an opted-out number
  CHECK(store->response_for("c_a", "SM1") == std::optional<std::string>(""));
  CHECK_FALSE(store->load(std::string_view{}));
  CHECK_FALSE(store->is_opted_out(std::string_view{}));
}

TEST_CASE("commit_turn rejects an empty contact key", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  CHECK_THROWS_AS(store->commit_turn(turn("", "s", "SM1", "r", 1)), std::invalid_argument);
  CHECK_FALSE(store->response_for("", "SM1"));
}

TEST_CASE("opt-out survives a restart, and opting back in leaves no record", "[store]") {
  TempDir dir;
  {
    auto store = open_sqlite(dir.db());
    CHECK_FALSE(store->is_opted_out("c_a"));
    store->set_opted_out("c_a", true, 1000);
    store->set_opted_out("c_a", true, 1500);  // idempotent
    CHECK(store->is_opted_out("c_a"));
    CHECK_FALSE(store->is_opted_out("c_b"));
  }
  {
    auto store = open_sqlite(dir.db());  // a restart: new process, same file
    CHECK(store->is_opted_out("c_a"));
    // Sessions come and go; the opt-out stays, and purging does not touch it.
    store->commit_turn(turn("c_a", "", "SM1", "", 2000));
    store->purge_before(1'000'000);
    CHECK(store->is_opted_out("c_a"));
    store->set_opted_out("c_a", false, 3000);
    CHECK_FALSE(store->is_opted_out("c_a"));
  }
  {
    auto store = open_sqlite(dir.db());
    CHECK_FALSE(store->is_opted_out("c_a"));
  }
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM contacts") == 0);
}

TEST_CASE("purge_before removes only conversations idle since before the cutoff", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_old", "old", "SM_old", "r", 1000));
  store->commit_turn(turn("c_edge", "edge", "SM_edge", "r", 2000));
  store->commit_turn(turn("c_new", "new", "SM_new", "r", 3000));
  store->set_opted_out("c_old", true, 500);

  CHECK(store->purge_before(2000) == 1);  // the conversation (session and answer) of 1000
  CHECK_FALSE(store->load("c_old"));
  CHECK_FALSE(store->response_for("c_old", "SM_old"));
  CHECK(store->load("c_edge"));  // exactly at the cutoff is not "before" it
  CHECK(store->response_for("c_edge", "SM_edge"));
  CHECK(store->load("c_new"));
  CHECK(store->response_for("c_new", "SM_new"));
  CHECK(store->is_opted_out("c_old"));

  CHECK(store->purge_before(2000) == 0);
  CHECK(store->purge_before(10'000) == 2);
}

TEST_CASE("forget erases one contact's session, opt-out and responses, and no one else's", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "a-session", "SM_a1", "to a", 1000));
  store->commit_turn(turn("c_a", "a-session-2", "SM_a2", "to a again", 1100));
  store->set_opted_out("c_a", true, 1200);
  store->commit_turn(turn("c_b", "b-session", "SM_b1", "to b", 1000));
  store->set_opted_out("c_b", true, 1200);

  CHECK(store->forget("c_a") == 2);  // the conversation row and the opt-out
  CHECK_FALSE(store->load("c_a"));
  CHECK_FALSE(store->is_opted_out("c_a"));
  CHECK_FALSE(store->response_for("c_a", "SM_a1"));
  CHECK_FALSE(store->response_for("c_a", "SM_a2"));

  CHECK(store->load("c_b"));
  CHECK(store->is_opted_out("c_b"));
  CHECK(store->response_for("c_b", "SM_b1"));

  CHECK(store->forget("c_never_seen") == 0);  // not an error: nothing was kept

  Raw raw(dir.db());
  for (const char* table : {"conversations", "contacts"}) {
    CHECK(raw.integer(std::string("SELECT count(*) FROM ") + table + " WHERE contact_key = 'c_a'") == 0);
  }
}

TEST_CASE("migrations: a new file is brought to the current schema, and reopening changes nothing",
          "[store][migrations]") {
  TempDir dir;
  REQUIRE(sqlite_schema_version() >= 1);
  {
    auto store = open_sqlite(dir.db());
    store->commit_turn(turn("c_a", "kept", "SM1", "r", 1000));
  }
  std::string schema_before;
  {
    Raw raw(dir.db());
    CHECK(raw.integer("PRAGMA user_version") == sqlite_schema_version());
    for (const char* table : {"conversations", "contacts", "outbox", "relays"}) {
      CHECK(raw.integer(std::string("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='") +
                        table + "'") == 1);
    }
    schema_before = raw.text("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)");
  }
  {
    auto store = open_sqlite(dir.db());  // already migrated: must open as is
    REQUIRE(store->load("c_a"));
    CHECK(store->load("c_a")->data == "kept");
  }
  auto again = open_sqlite(dir.db());
  CHECK(again->healthy());
  Raw raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == sqlite_schema_version());
  CHECK(raw.text("SELECT group_concat(sql, ';') FROM (SELECT sql FROM sqlite_master ORDER BY name)") ==
        schema_before);
}

TEST_CASE("migrations: a database of schema 3 is migrated: outbox marks, conversations", "[store][migrations]") {
  TempDir dir;
  {
    // A database as schema version 3 left it (migrations 1 to 3 as they shipped), holding an
    // outbox message, two answers for one contact and an answer without a session.
    Raw raw(dir.db());
    raw.exec(R"sql(
      CREATE TABLE sessions (contact_key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_ms INTEGER NOT NULL);
      CREATE INDEX sessions_by_updated_ms ON sessions(updated_ms);
      CREATE TABLE responses (request_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL,
                              response TEXT NOT NULL, created_ms INTEGER NOT NULL);
      CREATE INDEX responses_by_created_ms ON responses(created_ms);
      CREATE INDEX responses_by_contact_key ON responses(contact_key);
      CREATE TABLE contacts (contact_key TEXT PRIMARY KEY, opted_out INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
      CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL UNIQUE,
        contact_key TEXT NOT NULL, sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,
        state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
        twilio_sid TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL, lease_until_ms INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE relays (code TEXT PRIMARY KEY, contact_key TEXT NOT NULL UNIQUE, texter TEXT NOT NULL,
        lang TEXT NOT NULL, state TEXT NOT NULL, advocate_id TEXT NOT NULL DEFAULT '',
        first_message TEXT NOT NULL DEFAULT '', offered_to TEXT NOT NULL DEFAULT '',
        no_answer_told INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
        version INTEGER NOT NULL);
      INSERT INTO outbox (idempotency_key, contact_key, sender, recipient, body, state, next_attempt_ms,
                          created_ms, updated_ms)
        VALUES ('SMm:0', 'c_t', '+14145550100', 'v1.to', 'v1.body', 'pending', 0, 1000, 1000);
      INSERT INTO sessions VALUES ('c_a', '{"step":"menu"}', 2000);
      INSERT INTO responses VALUES ('SM1', 'c_a', 'first', 1000), ('SM2', 'c_a', 'second', 2000),
                                   ('SM9', 'c_gone', 'ended', 1500);
      PRAGMA user_version = 3;
    )sql");
  }
  auto store = open_sqlite(dir.db());
  auto rows = store->claim_outbound(2000, 10, 60'000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempt_started_ms == 0);
  auto a = store->read_contact("c_a", "SM2");
  REQUIRE(a.session);
  CHECK(a.session->data == R"({"step":"menu"})");
  CHECK(a.session->updated_ms == 2000);
  CHECK(a.earlier_response == std::optional<std::string>("second"));
  CHECK_FALSE(store->response_for("c_a", "SM1"));  // only the latest answer comes along
  CHECK(store->response_for("c_gone", "SM9") == std::optional<std::string>("ended"));
  CHECK_FALSE(store->load("c_gone"));
  CHECK(store->purge_before(1800) == 1);  // c_gone's row carries its answer's time
  Raw raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == sqlite_schema_version());
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE name IN ('sessions', 'responses')") == 0);
}

TEST_CASE("migrations: a database from a newer hotline is refused and left untouched",
          "[store][migrations]") {
  TempDir dir;
  open_sqlite(dir.db());
  const int newer = sqlite_schema_version() + 1;
  {
    Raw raw(dir.db());
    raw.exec("PRAGMA user_version = " + std::to_string(newer));
  }
  try {
    open_sqlite(dir.db());
    FAIL("opening a newer database should throw");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("newer") != std::string::npos);
    CHECK(message.find("schema version " + std::to_string(newer)) != std::string::npos);
    CHECK(message.find(dir.db()) != std::string::npos);
  }
  Raw raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == newer);
}

TEST_CASE("migrations: a migration that fails leaves the database as it was", "[store][migrations]") {
  TempDir dir;
  {
    // Version 0 but already holding a "contacts" table, which migration 1 creates last: the
    // tables it creates before failing must be rolled back with it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE contacts (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
  }
  try {
    open_sqlite(dir.db());
    FAIL("expected the migration to fail");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("migration 1") != std::string::npos);
    CHECK(message.find("already exists") != std::string::npos);
  }
  Raw raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == 0);
  CHECK(raw.integer("SELECT count(*) FROM sqlite_master WHERE name IN ('sessions', 'responses')") == 0);
}

TEST_CASE("the database is in WAL mode, as another connection sees it", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "s", "SM1", "r", 1));
  Raw raw(dir.db());
  CHECK(raw.text("PRAGMA journal_mode") == "wal");
  // And the other connection reads what the store committed while the store is still open:
  // the turn went to the log first, and the background applier writes it on its own, at once.
  std::string seen;
  for (int i = 0; i < 200 && seen != "s"; ++i) {
    seen = raw.text("SELECT session FROM conversations WHERE contact_key = 'c_a'");
    if (seen != "s") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(seen == "s");
}

TEST_CASE("open_sqlite creates missing parent directories and a private file", "[store]") {
  TempDir dir;
  const fs::path nested = dir.path / "var" / "lib" / "hotline" / "store.db";
  auto store = open_sqlite(nested.string());
  CHECK(fs::exists(nested));
  CHECK(store->healthy());
  struct stat st {};
  REQUIRE(::stat(nested.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("open_sqlite explains what is wrong with a file that is not a database", "[store]") {
  TempDir dir;
  {
    std::ofstream garbage(dir.db(), std::ios::binary);
    garbage << std::string(4096, 'x');
  }
  try {
    open_sqlite(dir.db());
    FAIL("expected an error");
  } catch (const std::runtime_error& e) {
    const std::string message = e.what();
    INFO(message);
    CHECK(message.find("not a database") != std::string::npos);
    CHECK(message.find(dir.db()) != std::string::npos);
  }
  CHECK_THROWS_AS(open_sqlite(""), std::runtime_error);
}

TEST_CASE("an in-memory store works (for tools and tests)", "[store]") {
  auto store = open_sqlite(":memory:");
  store->commit_turn(turn("c_a", "s", "SM1", "r", 1));
  CHECK(store->load("c_a"));
  CHECK(store->healthy());
}

TEST_CASE("commit_turn from 8 threads x 200 turns: every turn lands", "[store][concurrency]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  constexpr int kThreads = 8;
  constexpr int kTurns = 200;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTurns; ++i) {
        const std::string contact = "c_t" + std::to_string(t);
        const std::string id = "SM_" + std::to_string(t) + "_" + std::to_string(i);
        try {
          store->commit_turn(turn(contact, "turn " + std::to_string(i), id, "answer " + id, 1000 + i));
          // Interleave reads with other threads' writes, as the server does.
          if (store->response_for(contact, id) != std::optional<std::string>("answer " + id)) ++failures[t];
          if (!store->load(contact)) ++failures[t];
        } catch (...) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(failures[t] == 0);

  for (int t = 0; t < kThreads; ++t) {
    auto loaded = store->load("c_t" + std::to_string(t));
    REQUIRE(loaded);
    CHECK(loaded->data == "turn " + std::to_string(kTurns - 1));
  }
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT count(*) FROM conversations") == kThreads);
  CHECK(raw.integer("SELECT count(*) FROM conversations WHERE reply_id = 'SM_' || substr(contact_key, 4) || '_199' "
                    "AND prev_reply_id = 'SM_' || substr(contact_key, 4) || '_198'") == kThreads);
}

TEST_CASE("healthy answers true on an open store", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  CHECK(store->healthy());
}

TEST_CASE("the housekeeper deletes idle sessions and old answers on its own") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  const std::int64_t hour = 3'600'000, now = 100 * hour;
  TurnRecord old_turn;
  old_turn.contact_key = "c_old";
  old_turn.session_data = R"({"v":1})";
  old_turn.request_id = "SMold";
  old_turn.response = "<Response/>";
  old_turn.now_ms = now - 2 * hour;
  store->commit_turn(old_turn);
  TurnRecord fresh = old_turn;
  fresh.contact_key = "c_fresh";
  fresh.request_id = "SMfresh";
  fresh.now_ms = now - hour / 2;
  store->commit_turn(fresh);

  std::int64_t clock_ms = now;
  hotline::store::Housekeeper keeper(*store, [&] { return clock_ms; }, hour, 24 * hour, std::chrono::milliseconds(10));
  CHECK(keeper.purge_once() == 1);  // the old conversation: session and remembered answer
  CHECK_FALSE(store->load("c_old"));
  CHECK_FALSE(store->response_for("c_old", "SMold"));
  CHECK(store->load("c_fresh"));

  // Running on its own thread, it gets to the fresh one once that is old too.
  clock_ms = now + 2 * hour;
  keeper.start();
  for (int i = 0; i < 200 && store->load("c_fresh"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  keeper.stop();
  CHECK_FALSE(store->load("c_fresh"));
}

TEST_CASE("the housekeeper ends relays idle past the relay retention, sealed number and all") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  const std::int64_t day = 24 * 3'600'000LL;
  std::int64_t now = 100 * day;
  auto open_relay = [&](const std::string& code, const std::string& contact, std::int64_t at) {
    TurnRecord t = turn(contact, "", "", "", at);
    t.keep_session = true;
    hotline::store::Relay r;
    r.code = code;
    r.contact_key = contact;
    r.texter_sealed = "v1.sealed-number";
    r.first_message_sealed = "v1.sealed-text";
    r.lang = "es";
    r.state = "queued";
    t.relays.push_back({r, false, 0});
    store->commit_turn(t);
  };
  open_relay("A1", "c_stale", now - 8 * day);
  open_relay("B2", "c_recent", now - 6 * day);
  hotline::store::Housekeeper keeper(*store, [&] { return now; }, 3'600'000, 7 * day);
  CHECK(keeper.purge_once() == 1);
  auto left = store->relays();
  REQUIRE(left.size() == 1);
  CHECK(left[0].code == "B2");
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT COUNT(*) FROM relays WHERE contact_key = 'c_stale'") == 0);
  // Its code stays closed (never handed out again) for 30 days from its end, then is free.
  CHECK(store->closed_codes_since(now) == std::vector<std::string>{"A1"});
  now += 30 * day + 1;
  CHECK(keeper.purge_once() == 2);  // B2 ends idle; A1's 30 days are over
  CHECK(store->closed_codes_since(0) == std::vector<std::string>{"B2"});
}

TEST_CASE("a relay that ends leaves its code closed; advocates' notes are kept whole and held text briefly",
          "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  TurnRecord opens = turn("c_t", "", "SM1", "", 1000);
  opens.keep_session = true;
  hotline::store::Relay r;
  r.code = "K7M";
  r.contact_key = "c_t";
  r.texter_sealed = "v1.sealed";
  r.lang = "es";
  r.state = "queued";
  opens.relays.push_back({r, false, 0});
  store->commit_turn(opens);
  CHECK(store->closed_codes_since(0).empty());
  TurnRecord ends = turn("c_t", "", "SM2", "", 2000);
  ends.keep_session = true;
  r.version = 1;
  ends.relays.push_back({r, true, 1});
  ends.advocate_notes.push_back({"ana", "K7M", "v1.held", "K7M,Q3A", 2000 + 600'000});
  store->commit_turn(ends);
  CHECK(store->closed_codes_since(2000) == std::vector<std::string>{"K7M"});
  CHECK(store->closed_codes_since(2001).empty());

  auto note = store->advocate_note("ana");
  CHECK(note.focus_code == "K7M");
  CHECK(note.held_sealed == "v1.held");
  CHECK(note.held_codes == "K7M,Q3A");
  CHECK(store->advocate_note("ben").focus_code.empty());
  CHECK(store->purge_relay_memory(0, 2000 + 599'999) == 0);
  CHECK(store->purge_relay_memory(0, 2000 + 600'000) == 1);
  note = store->advocate_note("ana");
  CHECK(note.held_sealed.empty());
  CHECK(note.held_codes.empty());
  CHECK(note.focus_code == "K7M");  // only the held text goes
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT COUNT(*) FROM advocate_notes WHERE held != ''") == 0);
}

TEST_CASE("a paused advocate stays paused; a relay keeps its topic, escalation, stage and shift end", "[store]") {
  TempDir dir;
  {
    auto store = open_sqlite(dir.db());
    TurnRecord opens = turn("c_t", "", "SM1", "", 1000);
    opens.keep_session = true;
    hotline::store::Relay r;
    r.code = "K7M";
    r.contact_key = "c_t";
    r.texter_sealed = "v1.sealed";
    r.lang = "es";
    r.state = "queued";
    r.topic = "status_reporting";
    r.escalation = hotline::store::kOfferedAgain;
    r.stage_ms = 900;
    opens.relays.push_back({r, false, 0});
    hotline::store::AdvocateNote paused;
    paused.advocate_id = "ana";
    paused.paused = true;
    opens.advocate_notes.push_back(paused);
    store->commit_turn(opens);
    auto read = store->relay_of("c_t");
    REQUIRE(read);
    CHECK(read->topic == "status_reporting");
    CHECK(read->escalation == hotline::store::kOfferedAgain);
    CHECK(read->stage_ms == 900);
    CHECK(read->shift_end == hotline::store::kOnShift);
    read->state = "claimed";
    read->shift_end = hotline::store::kKept;
    read->stage_ms = 1500;
    TurnRecord keeps = turn("c_t", "", "SM2", "", 2000);
    keeps.keep_session = true;
    keeps.relays.push_back({*read, false, read->version});
    store->commit_turn(keeps);
  }
  auto store = open_sqlite(dir.db());  // read back after a restart, from the file
  const auto view = store->read_contact("c_t", "");
  REQUIRE(view.relay);
  CHECK(view.relay->shift_end == hotline::store::kKept);
  CHECK(view.relay->stage_ms == 1500);
  CHECK(view.relay->topic == "status_reporting");
  CHECK(store->relays().at(0).escalation == hotline::store::kOfferedAgain);
  CHECK(store->advocate_note("ana").paused);
  CHECK_FALSE(store->advocate_note("ben").paused);
}

TEST_CASE("claimed outbox messages are leased: nobody else gets them until sent, retried or expired") {
  TempDir dir;
  const std::string path = dir.db();
  {
    auto store = open_sqlite(path);
    TurnRecord t = turn("c_t", "", "SMq", "", 1000);
    t.keep_session = true;
    for (int i = 0; i < 3; ++i) {
      t.outbound.push_back({"SMq:" + std::to_string(i), "c_t", "+14145550100", "v1.to", "v1.body"});
    }
    store->commit_turn(t);
    auto first = store->claim_outbound(2000, 2, 60'000);
    REQUIRE(first.size() == 2);
    CHECK(first[0].id < first[1].id);
    auto second = store->claim_outbound(2000, 10, 60'000);  // only the one not yet claimed
    REQUIRE(second.size() == 1);
    CHECK(second[0].id != first[0].id);
    CHECK(second[0].id != first[1].id);
    store->outbound_sent(first[0].id, "SMsent0", 3000);
    store->outbound_retry(first[1].id, 5000, 3000, false);
    CHECK(store->claim_outbound(4999, 10, 60'000).empty());
    CHECK(store->claim_outbound(5000, 10, 60'000).size() == 1);  // the retry, when due
    CHECK(store->outbox_pending() == 2);
  }
  // The process is killed holding two leases; on restart they are released, not left to expire.
  auto restarted = open_sqlite(path);
  CHECK(restarted->claim_outbound(5000, 10, 60'000).size() == 2);
}

TEST_CASE("an outbox send is marked before it starts; the mark outlives a kill and goes once the outcome is known",
          "[store][outbox]") {
  TempDir dir;
  const std::string path = dir.db();
  std::int64_t first_id = 0, second_id = 0;
  {
    auto store = open_sqlite(path);
    TurnRecord t = turn("c_t", "", "SMa", "", 1000);
    t.keep_session = true;
    t.outbound.push_back({"SMa:0", "c_t", "+14145550100", "v1.to", "v1.body"});
    t.outbound.push_back({"SMa:1", "c_t", "+14145550100", "v1.to", "v1.body"});
    store->commit_turn(t);
    auto rows = store->claim_outbound(2000, 10, 60'000);
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].attempt_started_ms == 0);
    CHECK(rows[0].lease_until_ms == 60'000);
    first_id = rows[0].id;
    second_id = rows[1].id;
    // A claim whose lease was taken over (another lease value) may not send.
    auto stale = rows[0];
    stale.lease_until_ms = 59'999;
    CHECK_FALSE(store->outbound_attempt_started(stale, 2100, 90'000));
    CHECK(store->outbound_attempt_started(rows[0], 2100, 90'000));
    Raw raw(path);
    CHECK(raw.integer("SELECT attempt_started_ms FROM outbox WHERE id = " + std::to_string(first_id)) == 2100);
    CHECK(raw.integer("SELECT lease_until_ms FROM outbox WHERE id = " + std::to_string(first_id)) == 90'000);
    // The process dies here, mid-send, holding both leases.
  }
  auto store = open_sqlite(path);
  auto rows = store->claim_outbound(3000, 10, 60'000);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].id == first_id);
  CHECK(rows[0].attempt_started_ms == 2100);  // may be at Twilio: ask before sending
  CHECK(rows[1].attempt_started_ms == 0);     // claimed, never tried
  // Too early to ask: back in the queue until then, attempts untouched.
  store->outbound_release(first_id, 8000);
  store->outbound_release(second_id, 0);
  CHECK(store->claim_outbound(7999, 10, 60'000).size() == 1);
  rows = store->claim_outbound(8000, 10, 60'000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempts == 0);
  CHECK(rows[0].attempt_started_ms == 2100);
  // A lookup failed (or another send timed out): the mark stays.
  store->outbound_retry(first_id, 9000, 8001, /*outcome_unknown=*/true);
  rows = store->claim_outbound(9000, 10, 60'000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempts == 1);
  CHECK(rows[0].attempt_started_ms == 2100);
  // A 429 (never processed): the mark goes, the next claim sends without asking.
  REQUIRE(store->outbound_attempt_started(rows[0], 9100, 90'000));
  store->outbound_retry(first_id, 10'000, 9101, /*outcome_unknown=*/false);
  rows = store->claim_outbound(10'000, 10, 60'000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempt_started_ms == 0);
  REQUIRE(store->outbound_attempt_started(rows[0], 10'100, 90'000));
  store->outbound_sent(first_id, "SMfound", 10'200);
  Raw raw(path);
  CHECK(raw.text("SELECT state || ':' || attempt_started_ms || ':' || twilio_sid FROM outbox WHERE id = " +
                 std::to_string(first_id)) == "sent:0:SMfound");
  // A sent row is no longer anyone's to send.
  CHECK_FALSE(store->outbound_attempt_started(rows[0], 10'300, 90'000));
}

TEST_CASE("lock_key: one holder per key, other keys free, and a contact's lock nests the relays'") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  std::atomic<bool> other_has_it{false};
  auto held = store->lock_key("c_same");
  auto nested = store->lock_key("relays");  // the order the SMS channel takes them in
  std::thread other([&] {
    auto mine = store->lock_key("c_same");
    other_has_it = true;
  });
  CHECK(store->lock_key("c_other"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(other_has_it.load());
  nested.reset();
  held.reset();
  other.join();
  CHECK(other_has_it.load());
}

// --- The turn log and the conversations kept in memory (store/turn_log.hpp) ------------------

TEST_CASE("turns logged but not yet in the database when the process is killed are applied at the next open",
          "[store][turn_log]") {
  TempDir dir;
  open_sqlite(dir.db());  // created and migrated first, so the child's blocker below finds a database
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child: a store whose background writes cannot reach SQLite (another connection holds
    // the write lock), so every turn it acknowledges is in the log alone when it is killed.
    try {
      auto store = open_sqlite(dir.db());
      sqlite3* blocker = nullptr;
      if (sqlite3_open(dir.db().c_str(), &blocker) != SQLITE_OK ||
          sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        _exit(2);
      }
      for (int i = 0; i < 30; ++i) {
        const std::string n = std::to_string(i);
        store->commit_turn(turn("c_" + std::to_string(i % 3), "session " + n, "SM_" + n, "answer " + n, 1000 + i));
      }
      kill(getpid(), SIGKILL);
    } catch (...) {
    }
    _exit(3);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  {
    Raw raw(dir.db());
    REQUIRE(raw.integer("SELECT count(*) FROM conversations") == 0);  // none had reached SQLite
  }

  auto store = open_sqlite(dir.db());
  for (int c = 0; c < 3; ++c) {
    const std::string contact = "c_" + std::to_string(c);
    const int last = 27 + c, before = 24 + c;
    INFO(contact);
    auto view = store->read_contact(contact, "SM_" + std::to_string(last));
    REQUIRE(view.session);
    CHECK(view.session->data == "session " + std::to_string(last));
    CHECK(view.earlier_response == std::optional<std::string>("answer " + std::to_string(last)));
    CHECK(store->response_for(contact, "SM_" + std::to_string(before)) ==
          std::optional<std::string>("answer " + std::to_string(before)));
    CHECK_FALSE(store->response_for(contact, "SM_" + std::to_string(before - 3)));  // only the last two
  }
  // Applied once: a second restart changes nothing, and the log is empty on disk.
  store.reset();
  store = open_sqlite(dir.db());
  CHECK(store->load("c_0")->data == "session 27");
  Raw raw(dir.db());
  CHECK(raw.integer("SELECT applied_seq FROM turn_log") == 30);
  for (const auto& e : fs::directory_iterator(dir.path)) {
    if (e.path().filename().string().starts_with("hotline.db-turns.0")) CHECK(fs::file_size(e.path()) == 0);
  }
}

TEST_CASE("what the store remembers in memory reads as the database does", "[store][turn_log]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  auto database = open_sqlite(dir.db());  // another "process": no log, no memory, SQLite itself
  std::mt19937 random(20261129);
  std::vector<std::string> ids;
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<unsigned>(n)); };
  for (int i = 0; i < 600; ++i) {
    const std::string contact = "c_" + std::to_string(pick(4));
    TurnRecord t = turn(contact, pick(5) == 0 ? "" : "session " + std::to_string(i), "", "answer " + std::to_string(i), 1000 + i);
    const int how = pick(5);
    if (how == 0 && !ids.empty()) t.request_id = ids[ids.size() - 1 - static_cast<std::size_t>(pick(std::min<int>(3, static_cast<int>(ids.size()))))];
    else if (how != 1) t.request_id = "SM_" + std::to_string(i);
    t.keep_session = pick(4) == 0;
    if (!t.request_id.empty()) ids.push_back(t.request_id);
    store->commit_turn(t);
    if (pick(10) == 0) store->set_opted_out(contact, pick(2) == 0, 1000 + i);

    const std::string probe = pick(2) == 0 && !ids.empty() ? ids[ids.size() - 1 - static_cast<std::size_t>(pick(std::min<int>(4, static_cast<int>(ids.size()))))]
                                                           : "SM_none";
    INFO("turn " << i << " contact " << contact << " probe " << probe);
    const auto remembered = store->read_contact(contact, probe);
    store->load(contact);  // what the log holds of this contact goes to SQLite
    const auto stored = database->read_contact(contact, probe);
    REQUIRE(remembered.session.has_value() == stored.session.has_value());
    if (stored.session) {
      CHECK(remembered.session->data == stored.session->data);
      CHECK(remembered.session->updated_ms == stored.session->updated_ms);
    }
    CHECK(remembered.earlier_response == stored.earlier_response);
    CHECK(remembered.opted_out == stored.opted_out);
  }
}

TEST_CASE("a conversation forgotten by another process is dropped from memory within seconds",
          "[store][turn_log]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "a-session", "SM_a1", "to a", 1000));
  REQUIRE(store->read_contact("c_a", "").session);  // read, so now remembered
  REQUIRE(store->read_contact("c_a", "").session);
  {
    auto other = open_sqlite(dir.db());  // `hotline forget` while the server runs
    other->forget("c_a");
  }
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    gone = !store->read_contact("c_a", "").session;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(gone);
  CHECK_FALSE(store->response_for("c_a", "SM_a1"));
}

TEST_CASE("opting out, opting in and forgetting are read back at once, memory or not", "[store][turn_log]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  store->commit_turn(turn("c_a", "a-session", "SM_a1", "to a", 1000));
  CHECK_FALSE(store->read_contact("c_a", "SM_x").opted_out);
  store->set_opted_out("c_a", true, 1100);
  CHECK(store->read_contact("c_a", "SM_x").opted_out);
  store->set_opted_out("c_a", false, 1200);
  CHECK_FALSE(store->read_contact("c_a", "SM_x").opted_out);
  store->commit_turn(turn("c_a", "a-session-2", "SM_a2", "to a again", 1300));
  CHECK(store->read_contact("c_a", "SM_x").session->data == "a-session-2");
  store->forget("c_a");
  CHECK_FALSE(store->read_contact("c_a", "SM_x").session);

  // A relay opened by someone else's turn (an advocate's) shows in the texter's next read.
  store->commit_turn(turn("c_b", "b-session", "SM_b1", "to b", 1400));
  CHECK_FALSE(store->read_contact("c_b", "SM_x").relay);
  TurnRecord advocate = turn("c_adv", "", "SM_adv1", "", 1500);
  hotline::store::RelayChange open;
  open.relay.code = "K7";
  open.relay.contact_key = "c_b";
  open.relay.texter_sealed = "sealed";
  open.relay.lang = "es";
  open.relay.state = "queued";
  advocate.relays.push_back(open);
  store->commit_turn(advocate);
  const auto view = store->read_contact("c_b", "SM_x");
  REQUIRE(view.relay);
  CHECK(view.relay->code == "K7");
  CHECK(view.session->data == "b-session");
}

TEST_CASE("turns that cannot reach SQLite pile up only so far: past 100,000 the next is refused",
          "[store][turn_log]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  {
    Raw blocker(dir.db());  // holds the write lock: the applier cannot write a thing
    blocker.exec("BEGIN IMMEDIATE");
    for (int i = 0; i < 100000; ++i) {
      store->commit_turn(turn("c_" + std::to_string(i % 100), "s", "SM_" + std::to_string(i), "r", 1000 + i));
    }
    // Refused, not acknowledged, and memory stays bounded. A StoreError, which the webhook
    // answers with a 503 so that Twilio uses the number's Fallback URL.
    CHECK_THROWS_WITH(store->commit_turn(turn("c_late", "s", "SM_late", "r", 2000)),
                      Catch::Contains("waiting to be written"));
    CHECK_THROWS_AS(store->commit_turn(turn("c_late", "s", "SM_late", "r", 2000)), hotline::store::StoreError);
    blocker.exec("ROLLBACK");
  }
  // Once SQLite can be written again, everything acknowledged is there.
  CHECK(store->load("c_99"));
  CHECK(store->response_for("c_7", "SM_99907") == std::optional<std::string>("r"));
  CHECK_FALSE(store->load("c_late"));
}

TEST_CASE("undelivered messages that name someone to tell are kept until told; a relay's context is kept", "[store]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  test_support::check_delivery_failures_and_relay_context(*store);
}

// ---- Sessions and remembered answers sealed at rest (sealed_conversations.hpp) -----------------

namespace {

const std::string kSealSecret = "store-test-secret-for-sealing-0001";
// What a turn about deportation would keep in the clear: its intent and step in the session,
// the answer's text in the remembered TwiML.
const std::string kTopicSession =
    R"({"intent":"status_reporting","lang":"es","retries":0,"step":"status_reporting","turns":2,"v":1})";
const std::string kTopicAnswer =
    "<Response><Message>La policía de Milwaukee no pregunta por su estatus migratorio</Message></Response>";
const std::vector<std::string> kTopicWords = {"status_reporting", "estatus migratorio", "Milwaukee"};

// Every file in `dir` (database, WAL, turn log) as one string.
std::string files_in(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

}  // namespace

TEST_CASE("sealed conversations: read back in the clear, kept sealed in the turn log and the database",
          "[store][sealed]") {
  TempDir dir;
  open_sqlite(dir.db());  // created first, so the blocker below finds a database
  {
    auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
    // Another connection holds the write lock: the turns stay in the turn log, where we look.
    sqlite3* blocker = nullptr;
    REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
    REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    store->commit_turn(turn("c_topic", kTopicSession, "SM_topic1", kTopicAnswer, 1000));
    store->commit_turn(turn("c_topic", kTopicSession, "SM_topic2", kTopicAnswer, 2000));
    const std::string logged = files_in(dir.path);
    REQUIRE(logged.find("c_topic") != std::string::npos);  // the log is there, keyed in the clear
    REQUIRE(logged.find("SM_topic2") != std::string::npos);
    for (const auto& word : kTopicWords) {
      INFO(word);
      CHECK(logged.find(word) == std::string::npos);
    }
    sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(blocker);
    // What the hotline reads is what it wrote, from memory and from SQLite alike.
    CHECK(store->load("c_topic")->data == kTopicSession);
    CHECK(store->response_for("c_topic", "SM_topic1") == kTopicAnswer);
    auto view = store->read_contact("c_topic", "SM_topic2");
    REQUIRE(view.session);
    CHECK(view.session->data == kTopicSession);
    CHECK(view.earlier_response == kTopicAnswer);
  }
  Raw raw(dir.db());
  CHECK(raw.text("SELECT session FROM conversations WHERE contact_key = 'c_topic'").starts_with("v1."));
  CHECK(raw.text("SELECT reply FROM conversations WHERE contact_key = 'c_topic'").starts_with("v1."));
  CHECK(raw.text("SELECT prev_reply FROM conversations WHERE contact_key = 'c_topic'").starts_with("v1."));
  const std::string stored = files_in(dir.path);
  for (const auto& word : kTopicWords) {
    INFO(word);
    CHECK(stored.find(word) == std::string::npos);
  }
  // Without the sealing layer (no secret) the store holds nothing readable; with it, everything.
  CHECK(open_sqlite(dir.db())->load("c_topic")->data != kTopicSession);
  CHECK(hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret)->load("c_topic")->data == kTopicSession);
}

TEST_CASE("sealed conversations: a value moved to another row, or under another secret, does not open",
          "[store][sealed]") {
  TempDir dir;
  {
    auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
    store->commit_turn(turn("c_a", kTopicSession, "SM_a", kTopicAnswer, 1000));
    store->commit_turn(turn("c_b", R"({"intent":"","step":"menu","v":1})", "SM_b", "<Response/>", 1000));
  }
  {
    Raw raw(dir.db());
    // c_a's session into c_b's row; c_a's answer to SM_a into the slot of request SM_b.
    raw.exec("UPDATE conversations SET session = (SELECT session FROM conversations WHERE contact_key = 'c_a'), "
             "reply = (SELECT reply FROM conversations WHERE contact_key = 'c_a') WHERE contact_key = 'c_b'");
    raw.exec("UPDATE conversations SET reply_id = 'SM_other' WHERE contact_key = 'c_a'");
  }
  auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
  CHECK_FALSE(store->load("c_b"));  // the conversation starts over rather than take another's
  CHECK_FALSE(store->response_for("c_b", "SM_b"));
  CHECK_FALSE(store->response_for("c_a", "SM_other"));
  CHECK_FALSE(store->read_contact("c_a", "SM_other").earlier_response);
  CHECK(store->load("c_a")->data == kTopicSession);  // the row itself still opens

  auto other = hotline::store::seal_conversations(open_sqlite(dir.db()), "another-secret-entirely-0002");
  CHECK_FALSE(other->load("c_a"));
  CHECK_THROWS_AS(hotline::store::seal_conversations(open_sqlite(dir.db()), ""), std::invalid_argument);
}

TEST_CASE("sealed conversations: rows written before sealing are read, and sealed by the next turns",
          "[store][sealed][migrations]") {
  TempDir dir;
  {
    // The current schema, written as the hotline did before sealing: plain JSON and TwiML.
    auto plain = open_sqlite(dir.db());
    plain->commit_turn(turn("c_old", kTopicSession, "SM_old1", kTopicAnswer, 1000));
  }
  auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
  CHECK(store->load("c_old")->data == kTopicSession);
  CHECK(store->response_for("c_old", "SM_old1") == kTopicAnswer);  // a redelivery still gets it
  CHECK(store->read_contact("c_old", "SM_old1").earlier_response == kTopicAnswer);

  // The next turn seals the session and its answer; the old answer moves to the previous slot
  // as it was, and the turn after pushes it out.
  store->commit_turn(turn("c_old", kTopicSession, "SM_old2", kTopicAnswer, 2000));
  store->commit_turn(turn("c_old", kTopicSession, "SM_old3", kTopicAnswer, 3000));
  CHECK(store->load("c_old")->data == kTopicSession);
  CHECK(store->response_for("c_old", "SM_old2") == kTopicAnswer);
  store.reset();
  Raw raw(dir.db());
  CHECK(raw.text("SELECT session FROM conversations WHERE contact_key = 'c_old'").starts_with("v1."));
  CHECK(raw.text("SELECT reply FROM conversations WHERE contact_key = 'c_old'").starts_with("v1."));
  CHECK(raw.text("SELECT prev_reply FROM conversations WHERE contact_key = 'c_old'").starts_with("v1."));
}

TEST_CASE("sealed conversations: what a turn does not keep is not passed on to be logged", "[store][sealed]") {
  TempDir dir;
  open_sqlite(dir.db());
  auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
  // The turns stay in the turn log (another connection holds the write lock), where we look.
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open(dir.db().c_str(), &blocker) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  store->commit_turn(turn("c_k", kTopicSession, "SM_k1", "<Response/>", 1000));
  // A relay turn keeps the session; a turn without a request id remembers no answer.
  auto kept = turn("c_k", R"({"intent":"Zanahoria","step":"Zanahoria","v":1})", "SM_k2", "<Response/>", 2000);
  kept.keep_session = true;
  store->commit_turn(kept);
  store->commit_turn(turn("c_k", kTopicSession, "", "<Response><Message>Tlacuache</Message></Response>", 3000));
  const std::string logged = files_in(dir.path);
  REQUIRE(logged.find("SM_k2") != std::string::npos);
  CHECK(logged.find("Zanahoria") == std::string::npos);
  CHECK(logged.find("Tlacuache") == std::string::npos);
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  CHECK(store->load("c_k")->data == kTopicSession);
}

TEST_CASE("a database restored with loose permissions is made owner-only when it is opened", "[store][privacy]") {
  TempDir dir;
  const fs::path folder = dir.path / "restored";
  const fs::path db = folder / "hotline.sqlite3";
  open_sqlite(db.string()).reset();
  // As `sqlite3 live.db ".backup restored.db"` and `cp` leave them under umask 022.
  fs::permissions(folder, fs::perms(0755));
  fs::permissions(db, fs::perms(0644));
  std::ofstream(db.string() + "-wal").close();
  fs::permissions(db.string() + "-wal", fs::perms(0644));
  std::ofstream(db.string() + "-shm").close();
  fs::permissions(db.string() + "-shm", fs::perms(0664));

  auto store = open_sqlite(db.string());
  auto mode = [](const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions() & fs::perms::all); };
  CHECK(mode(folder) == 0700u);
  CHECK(mode(db) == 0600u);
  CHECK(mode(db.string() + "-wal") == 0600u);
  CHECK(mode(db.string() + "-shm") == 0600u);
}

TEST_CASE("an old WhatsApp key's opt-out, conversation and relay move to the person's key", "[store][legacy]") {
  TempDir dir;
  auto store = hotline::store::seal_conversations(open_sqlite(dir.db()), kSealSecret);
  test_support::check_legacy_contact_moves(*store);
}

// --- The daily report's counts (hotline report) -------------------------------------------------

namespace {

using hotline::store::DailyCount;

TurnRecord counted(std::string contact, std::string request_id, std::int64_t now_ms,
                   std::vector<DailyCount> counts) {
  TurnRecord t = turn(std::move(contact), "session", std::move(request_id), "answer", now_ms);
  t.counts = std::move(counts);
  return t;
}

std::string listed(const std::vector<DailyCount>& counts) {
  std::string out;
  for (const auto& c : counts) {
    out += c.day + " " + c.metric + " " + c.topic + " " + c.lang + " " + c.channel + " " + std::to_string(c.n) + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("daily counts are added with their turn, once: a redelivery adds nothing; forget and the purge leave them",
          "[store][report]") {
  TempDir dir;
  auto store = open_sqlite(dir.db());
  const DailyCount message{"2026-12-04", "messages", "status_reporting", "es", "sms", 1};
  const DailyCount started{"2026-12-04", "conversations", "status_reporting", "es", "sms", 1};
  store->commit_turn(counted("c_a", "SM1", 1000, {message, started}));
  store->commit_turn(counted("c_a", "SM1", 1001, {message, started}));  // Twilio redelivers SM1
  store->commit_turn(counted("c_a", "SM2", 1002, {message}));
  store->commit_turn(counted("c_b", "SM3", 1003, {{"2026-12-05", "messages", "", "en", "whatsapp", 1}}));
  // A turn committed straight to SQLite (it queues a message) counts the same way, once.
  TurnRecord with_message = counted("c_b", "SM4", 1004, {{"2026-12-05", "handoffs_asked", "", "en", "whatsapp", 1}});
  with_message.outbound.push_back({"SM4:offer", "c_b", "+14145550100", "to", "body", ""});
  store->commit_turn(with_message);
  store->commit_turn(with_message);

  const std::string expected =
      "2026-12-04 conversations status_reporting es sms 1\n"
      "2026-12-04 messages status_reporting es sms 2\n"
      "2026-12-05 handoffs_asked  en whatsapp 1\n"
      "2026-12-05 messages  en whatsapp 1\n";
  CHECK(listed(store->daily_counts("2026-12-01", "2026-12-31")) == expected);
  CHECK(listed(store->daily_counts("2026-12-05", "2026-12-05")) ==
        "2026-12-05 handoffs_asked  en whatsapp 1\n2026-12-05 messages  en whatsapp 1\n");

  CHECK(store->forget("c_a") > 0);
  CHECK(store->forget("c_b") > 0);
  store->purge_before(1'000'000'000'000'000);
  CHECK(listed(store->daily_counts("2026-12-01", "2026-12-31")) == expected);
  // And they survive a restart, read by `hotline report`'s read-only path as by the store.
  store.reset();
  CHECK(listed(hotline::store::read_daily_counts(dir.db(), "2026-12-01", "2026-12-31")) == expected);
  CHECK(listed(open_sqlite(dir.db())->daily_counts("2026-12-01", "2026-12-31")) == expected);
}

TEST_CASE("read_daily_counts opens nothing new: a missing database is an error, not a new file", "[store][report]") {
  TempDir dir;
  CHECK_THROWS_WITH(hotline::store::read_daily_counts(dir.db(), "2026-12-01", "2026-12-31"),
                    Catch::Contains("cannot read '" + dir.db() + "'"));
  CHECK_FALSE(fs::exists(dir.db()));
  // A database from before the daily report (schema 9) has counted nothing yet: no rows, no change.
  {
    Raw raw(dir.db());
    raw.exec("CREATE TABLE conversations (contact_key TEXT PRIMARY KEY); PRAGMA user_version = 9;");
  }
  CHECK(hotline::store::read_daily_counts(dir.db(), "2026-12-01", "2026-12-31").empty());
  Raw raw(dir.db());
  CHECK(raw.integer("PRAGMA user_version") == 9);
}

TEST_CASE("turns still in the turn log at a kill are applied at the next open without their daily counts, never twice",
          "[store][turn_log][report]") {
  TempDir dir;
  open_sqlite(dir.db());
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    try {
      auto store = open_sqlite(dir.db());
      sqlite3* blocker = nullptr;  // holds the write lock: the turns stay in the log alone
      if (sqlite3_open(dir.db().c_str(), &blocker) != SQLITE_OK ||
          sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
        _exit(2);
      }
      for (int i = 0; i < 10; ++i) {
        store->commit_turn(counted("c_" + std::to_string(i % 2), "SM_" + std::to_string(i), 1000 + i,
                                   {{"2026-12-04", "messages", i % 2 ? "support" : "", "es", "sms", 1},
                                    {"2026-12-04", "claim_seconds", "", "es", "sms", 30}}));
      }
      kill(getpid(), SIGKILL);
    } catch (...) {
    }
    _exit(3);
  }
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  {
    Raw raw(dir.db());
    REQUIRE(raw.integer("SELECT count(*) FROM daily_counts") == 0);  // none had reached SQLite
  }
  // The log holds no counts (they would name a topic beside a contact key): the turns come back,
  // their counts do not. The report misses the few turns a crash leaves; it never counts one twice.
  {
    auto store = open_sqlite(dir.db());
    CHECK(store->load("c_1")->data == "session");
    CHECK(store->response_for("c_1", "SM_9") == std::optional<std::string>("answer"));
    CHECK(store->daily_counts("2026-12-04", "2026-12-04").empty());
    // Counting goes on for the turns after it.
    store->commit_turn(counted("c_0", "SM_10", 2000, {{"2026-12-04", "messages", "support", "es", "sms", 1}}));
  }
  CHECK(listed(open_sqlite(dir.db())->daily_counts("2026-12-04", "2026-12-04")) == "2026-12-04 messages support es sms 1\n");
}
