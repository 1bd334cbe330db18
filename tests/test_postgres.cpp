// The PostgreSQL store against a real server (script/with-postgres starts one; without it this
// whole executable is skipped, and says why). Two store objects on one database stand for two
// replicas: each has its own connection pool, so what one does the other sees only through the
// server, exactly as between processes.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "delivery_failure_checks.hpp"
#include "legacy_contact_checks.hpp"

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "hotline/store/sealed_conversations.hpp"
#include "hotline/store/session_store.hpp"
#include "postgres_support.hpp"

using namespace hotline::store;
using test_support::fresh_postgres_url;

namespace {

TurnRecord turn(const std::string& contact, const std::string& data, const std::string& request_id,
                std::int64_t now_ms) {
  TurnRecord t;
  t.contact_key = contact;
  t.session_data = data;
  t.request_id = request_id;
  t.response = "<Response>" + request_id + "</Response>";
  t.now_ms = now_ms;
  return t;
}

OutboundMessage outbound(const std::string& key) { return {key, "c_texter", "+14145550100", "v1.to", "v1.body"}; }

Relay relay(const std::string& code, const std::string& contact) {
  Relay r;
  r.code = code;
  r.contact_key = contact;
  r.texter_sealed = "v1.sealed";
  r.lang = "es";
  r.state = "queued";
  return r;
}

}  // namespace

int main(int argc, char** argv) { return test_support::run_with_postgres(argc, argv); }

TEST_CASE("postgres: sessions, redeliveries and opt-outs behave as in SQLite", "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 4);
  CHECK_FALSE(store->load("c_a"));
  store->commit_turn(turn("c_a", "{\"step\":\"menu\"}", "SM1", 1000));
  auto loaded = store->load("c_a");
  REQUIRE(loaded);
  CHECK(loaded->data == "{\"step\":\"menu\"}");
  CHECK(loaded->updated_ms == 1000);
  CHECK(store->response_for("c_a", "SM1") == "<Response>SM1</Response>");

  // Twilio redelivers SM1: nothing changes, the first answer stands.
  auto again = turn("c_a", "{\"step\":\"other\"}", "SM1", 2000);
  again.response = "different";
  store->commit_turn(again);
  CHECK(store->load("c_a")->data == "{\"step\":\"menu\"}");
  CHECK(store->response_for("c_a", "SM1") == "<Response>SM1</Response>");

  // An empty session ends the conversation; the answers are still remembered, the last two.
  store->commit_turn(turn("c_a", "", "SM2", 3000));
  CHECK_FALSE(store->load("c_a"));
  CHECK(store->response_for("c_a", "SM2") == "<Response>SM2</Response>");
  store->commit_turn(turn("c_a", "{\"step\":\"new\"}", "SM3", 3500));
  CHECK_FALSE(store->response_for("c_a", "SM1"));
  CHECK(store->response_for("c_a", "SM2") == "<Response>SM2</Response>");
  CHECK_FALSE(store->response_for("c_b", "SM3"));

  // One read gives a turn all it needs.
  auto view = store->read_contact("c_a", "SM3");
  REQUIRE(view.session);
  CHECK(view.session->data == "{\"step\":\"new\"}");
  CHECK(view.session->updated_ms == 3500);
  CHECK(view.earlier_response == "<Response>SM3</Response>");
  CHECK_FALSE(view.opted_out);
  CHECK_FALSE(view.relay);
  auto unknown = store->read_contact("c_never", "SM3");
  CHECK_FALSE(unknown.session);
  CHECK_FALSE(unknown.earlier_response);

  CHECK_FALSE(store->is_opted_out("c_a"));
  store->set_opted_out("c_a", true, 4000);
  CHECK(store->is_opted_out("c_a"));
  store->set_opted_out("c_a", false, 5000);
  CHECK_FALSE(store->is_opted_out("c_a"));
  CHECK_THROWS_AS(store->commit_turn(turn("", "x", "SM3", 1)), std::invalid_argument);
  CHECK(store->healthy());
}

TEST_CASE("postgres: purge, relay retention and forget erase what they should and nothing else", "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 4);
  store->commit_turn(turn("c_old", "old", "SMold", 1000));
  store->commit_turn(turn("c_new", "new", "SMnew", 9000));
  CHECK(store->purge_before(5000) == 1);  // c_old's conversation: session and answer
  CHECK_FALSE(store->load("c_old"));
  CHECK(store->load("c_new"));

  TurnRecord opens = turn("c_new", "new", "SMrelay", 9000);
  opens.keep_session = true;
  opens.relays.push_back({relay("K1", "c_new"), false, 0});
  opens.outbound.push_back(outbound("SMrelay:offer"));
  store->commit_turn(opens);
  CHECK(store->end_relays_idle_since(9000, 9500) == 0);
  CHECK(store->relays().size() == 1);
  CHECK(store->relay_of("c_new")->code == "K1");
  CHECK_FALSE(store->relay_of("c_old"));
  store->set_opted_out("c_new", true, 9000);
  auto view = store->read_contact("c_new", "SMrelay");
  CHECK(view.opted_out);
  REQUIRE(view.relay);
  CHECK(view.relay->code == "K1");
  CHECK(view.relay->state == "queued");
  CHECK(view.earlier_response == "<Response>SMrelay</Response>");
  REQUIRE(view.session);
  CHECK(view.session->data == "new");  // the relay turn kept the session
  store->set_opted_out("c_other", true, 9000);

  CHECK(store->forget("c_new") >= 3);  // the conversation, the opt-out, the relay (and its outbox row)
  CHECK(store->forget("c_new") == 0);  // nothing left: `hotline forget` says "nothing was kept"
  CHECK_FALSE(store->load("c_new"));
  CHECK_FALSE(store->response_for("c_new", "SMnew"));
  CHECK_FALSE(store->is_opted_out("c_new"));
  CHECK(store->is_opted_out("c_other"));
  CHECK(store->relays().empty());
  CHECK(store->outbox_pending() == 1);  // "c_texter"'s message: forget is by contact

  TurnRecord reopens = turn("c_x", "", "", 10000);
  reopens.keep_session = true;
  reopens.relays.push_back({relay("K2", "c_x"), false, 0});
  store->commit_turn(reopens);
  CHECK(store->end_relays_idle_since(10001, 10500) == 1);
  CHECK(store->relays().empty());
  // Both relays' codes stay known as closed (forget's at the wall clock), until purged.
  CHECK(store->closed_codes_since(10500) == std::vector<std::string>{"K1", "K2"});
  CHECK(store->closed_codes_since(10501) == std::vector<std::string>{"K1"});
  CHECK(store->purge_relay_memory(10501, 10500) == 1);
  CHECK(store->closed_codes_since(0) == std::vector<std::string>{"K1"});
}

TEST_CASE("postgres: advocates' notes are kept whole and held text briefly, as in SQLite", "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 2);
  TurnRecord t = turn("c_t", "", "SM1", 2000);
  t.keep_session = true;
  t.advocate_notes.push_back({"ana", "K7M", "v1.held", "K7M,Q3A", 2000 + 600'000});
  store->commit_turn(t);
  auto note = store->advocate_note("ana");
  CHECK(note.focus_code == "K7M");
  CHECK(note.held_sealed == "v1.held");
  CHECK(note.held_codes == "K7M,Q3A");
  CHECK(note.held_until_ms == 2000 + 600'000);
  CHECK(store->advocate_note("ben").focus_code.empty());
  CHECK(store->purge_relay_memory(0, 2000 + 599'999) == 0);
  CHECK(store->purge_relay_memory(0, 2000 + 600'000) == 1);
  note = store->advocate_note("ana");
  CHECK(note.held_sealed.empty());
  CHECK(note.focus_code == "K7M");
  CHECK_FALSE(note.paused);

  // #pause is kept with the note, and #available clears it.
  TurnRecord pauses = turn("c_t", "", "SM2", 3000);
  pauses.keep_session = true;
  note.paused = true;
  pauses.advocate_notes.push_back(note);
  store->commit_turn(pauses);
  CHECK(store->advocate_note("ana").paused);
  CHECK(store->advocate_note("ana").focus_code == "K7M");
  CHECK_FALSE(store->advocate_note("ben").paused);
  note.paused = false;
  TurnRecord resumes = turn("c_t", "", "SM3", 4000);
  resumes.keep_session = true;
  resumes.advocate_notes.push_back(note);
  store->commit_turn(resumes);
  CHECK_FALSE(store->advocate_note("ana").paused);
}

TEST_CASE("postgres: a relay keeps its topic, escalation, stage and shift end, as in SQLite", "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 2);
  TurnRecord opens = turn("c_t", "", "SM1", 1000);
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
  TurnRecord keeps = turn("c_t", "", "SM2", 2000);
  keeps.keep_session = true;
  keeps.relays.push_back({*read, false, read->version});
  store->commit_turn(keeps);
  const auto view = store->read_contact("c_t", "");
  REQUIRE(view.relay);
  CHECK(view.relay->shift_end == hotline::store::kKept);
  CHECK(view.relay->stage_ms == 1500);
  CHECK(view.relay->topic == "status_reporting");
  CHECK(store->relays().at(0).shift_end == hotline::store::kKept);
}

TEST_CASE("postgres: a relay written from a stale version rolls back the whole turn", "[postgres]") {
  auto url = fresh_postgres_url();
  auto replica_a = open_postgres(url, 4), replica_b = open_postgres(url, 4);
  TurnRecord opens = turn("c_t", "s1", "SMopen", 1000);
  opens.relays.push_back({relay("K7", "c_t"), false, 0});
  replica_a->commit_turn(opens);
  const Relay seen = replica_b->relays().at(0);

  // Both replicas read version 1; A claims first, B's claim must fail and leave nothing behind.
  Relay claimed_by_a = seen;
  claimed_by_a.state = "claimed";
  TurnRecord a = turn("c_adv_a", "", "SMa", 2000);
  a.keep_session = true;
  a.relays.push_back({claimed_by_a, false, seen.version});
  replica_a->commit_turn(a);

  TurnRecord b = turn("c_adv_b", "sb", "SMb", 2000);
  b.relays.push_back({claimed_by_a, false, seen.version});
  b.outbound.push_back(outbound("SMb:claimed"));
  CHECK_THROWS_AS(replica_b->commit_turn(b), Conflict);
  CHECK_FALSE(replica_b->response_for("c_adv_b", "SMb"));
  CHECK_FALSE(replica_b->load("c_adv_b"));
  CHECK(replica_b->outbox_pending() == 0);

  // Opening a second relay with a code in use is a conflict too, not a crash.
  TurnRecord dup = turn("c_u", "", "SMdup", 3000);
  dup.relays.push_back({relay("K7", "c_u"), false, 0});
  CHECK_THROWS_AS(replica_b->commit_turn(dup), Conflict);
  CHECK(replica_a->relays().at(0).state == "claimed");
}

TEST_CASE("postgres: a contact's lock excludes the same contact on another replica, not others", "[postgres]") {
  auto url = fresh_postgres_url();
  auto replica_a = open_postgres(url, 4), replica_b = open_postgres(url, 4);
  std::atomic<bool> b_has_it{false};
  auto held = replica_a->lock_key("c_same");
  std::thread other([&] {
    auto mine = replica_b->lock_key("c_same");
    b_has_it = true;
  });
  {
    auto unrelated = replica_b->lock_key("c_someone_else");  // not blocked by c_same
    CHECK(unrelated);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK_FALSE(b_has_it.load());
  held.reset();
  other.join();
  CHECK(b_has_it.load());
}

TEST_CASE("postgres: a thread's calls under its lock use the lock's connection, so a small pool never deadlocks",
          "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 2);
  std::vector<std::thread> threads;
  std::atomic<int> turns{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        auto contact = store->lock_key("c_" + std::to_string(t));
        auto relays = store->lock_key("relays");  // nested, as the SMS channel does
        store->load("c_" + std::to_string(t));
        store->relays();
        store->commit_turn(turn("c_" + std::to_string(t), "s", "SM" + std::to_string(t) + "_" + std::to_string(i), i));
        ++turns;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(turns == 40);
}

TEST_CASE("postgres: read-modify-write turns of one contact on two replicas never interleave", "[postgres]") {
  auto url = fresh_postgres_url();
  auto replica_a = open_postgres(url, 8), replica_b = open_postgres(url, 8);
  auto increment = [](SessionStore& store, const std::string& id) {
    auto lock = store.lock_key("c_counter");
    auto current = store.load("c_counter");
    const int n = current ? std::stoi(current->data) : 0;
    store.commit_turn(turn("c_counter", std::to_string(n + 1), id, n + 1));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      SessionStore& store = t % 2 ? *replica_a : *replica_b;
      for (int i = 0; i < 25; ++i) increment(store, "SM" + std::to_string(t) + "_" + std::to_string(i));
    });
  }
  for (auto& th : threads) th.join();
  // A lost update (two turns on the same old state) would leave fewer than 150.
  CHECK(replica_a->load("c_counter")->data == "150");
}

TEST_CASE("postgres: outbox workers on two replicas claim every message exactly once", "[postgres]") {
  auto url = fresh_postgres_url();
  auto replica_a = open_postgres(url, 4), replica_b = open_postgres(url, 4);
  TurnRecord queues = turn("c_texter", "", "SMq", 1000);
  queues.keep_session = true;
  for (int i = 0; i < 60; ++i) queues.outbound.push_back(outbound("SMq:" + std::to_string(i)));
  replica_a->commit_turn(queues);
  replica_a->commit_turn(queues);  // a redelivery queues nothing more
  REQUIRE(replica_b->outbox_pending() == 60);

  std::mutex mutex;
  std::multiset<std::int64_t> claimed;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      SessionStore& store = w % 2 ? *replica_a : *replica_b;
      for (;;) {
        auto rows = store.claim_outbound(5000, 3, 60'000);
        if (rows.empty()) return;
        for (const auto& row : rows) {
          store.outbound_sent(row.id, "SMsent" + std::to_string(row.id), 5000);
          std::lock_guard lock(mutex);
          claimed.insert(row.id);
        }
      }
    });
  }
  for (auto& th : workers) th.join();
  CHECK(claimed.size() == 60);
  CHECK(std::set<std::int64_t>(claimed.begin(), claimed.end()).size() == 60);
  CHECK(replica_a->outbox_pending() == 0);
  CHECK(replica_a->outbound_status("SMsent" + std::to_string(*claimed.begin()), "delivered", "", 6000));
}

TEST_CASE("postgres: a lease left by a dead worker expires and the message is claimed again", "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 4);
  TurnRecord queues = turn("c_texter", "", "SMl", 1000);
  queues.outbound.push_back(outbound("SMl:0"));
  store->commit_turn(queues);
  auto first = store->claim_outbound(2000, 10, 10'000);  // this worker then "dies"
  REQUIRE(first.size() == 1);
  CHECK(store->claim_outbound(9'999, 10, 20'000).empty());
  auto again = store->claim_outbound(10'001, 10, 20'000);
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == first[0].id);
  store->outbound_retry(again[0].id, 50'000, 10'002, false);
  CHECK(store->claim_outbound(49'999, 10, 60'000).empty());
  auto retried = store->claim_outbound(50'000, 10, 60'000);
  REQUIRE(retried.size() == 1);
  CHECK(retried[0].attempts == 1);
  store->outbound_release(retried[0].id, 0);  // a worker stopping before it tried: free at once
  CHECK(store->claim_outbound(50'001, 10, 60'000).size() == 1);
  store->outbound_dropped(retried[0].id, "21211", 7000);
  CHECK(store->outbox_pending() == 0);
}

TEST_CASE("postgres: a send is marked before it starts, fenced by the lease, and the mark outlives a dead replica",
          "[postgres]") {
  auto url = fresh_postgres_url();
  auto replica_a = open_postgres(url, 2);
  auto replica_b = open_postgres(url, 2);
  TurnRecord queues = turn("c_texter", "", "SMk", 1000);
  queues.outbound.push_back(outbound("SMk:0"));
  replica_a->commit_turn(queues);
  auto mine = replica_a->claim_outbound(2000, 10, 10'000);
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].attempt_started_ms == 0);
  CHECK(mine[0].lease_until_ms == 10'000);
  CHECK(replica_a->outbound_attempt_started(mine[0], 2100, 30'000));
  CHECK(test_support::postgres_value(url, "SELECT attempt_started_ms || ':' || lease_until_ms FROM outbox") ==
        "2100:30000");
  // Replica A dies mid-send. Once its lease ends, B claims the row and sees the mark.
  CHECK(replica_b->claim_outbound(29'999, 10, 60'000).empty());
  auto theirs = replica_b->claim_outbound(30'001, 10, 60'000);
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].attempt_started_ms == 2100);
  // Had A only been slow, its claim is now stale: it may not send.
  CHECK_FALSE(replica_a->outbound_attempt_started(mine[0], 30'002, 90'000));
  // Too early to ask Twilio: released until then, attempts untouched.
  replica_b->outbound_release(theirs[0].id, 40'000);
  CHECK(replica_b->claim_outbound(39'999, 10, 60'000).empty());
  theirs = replica_b->claim_outbound(40'000, 10, 60'000);
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].attempts == 0);
  replica_b->outbound_retry(theirs[0].id, 41'000, 40'001, /*outcome_unknown=*/true);
  theirs = replica_b->claim_outbound(41'000, 10, 90'000);
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].attempts == 1);
  CHECK(theirs[0].attempt_started_ms == 2100);
  replica_b->outbound_retry(theirs[0].id, 42'000, 41'001, /*outcome_unknown=*/false);
  theirs = replica_b->claim_outbound(42'000, 10, 90'000);
  REQUIRE(theirs.size() == 1);
  CHECK(theirs[0].attempt_started_ms == 0);
  REQUIRE(replica_b->outbound_attempt_started(theirs[0], 42'100, 120'000));
  replica_b->outbound_sent(theirs[0].id, "SMfound", 42'200);
  CHECK(test_support::postgres_value(url, "SELECT state || ':' || attempt_started_ms || ':' || twilio_sid FROM outbox") ==
        "sent:0:SMfound");
  CHECK_FALSE(replica_b->outbound_attempt_started(theirs[0], 42'300, 120'000));
}

TEST_CASE("postgres: replicas starting together migrate once; a newer schema is refused", "[postgres][migrations]") {
  auto url = fresh_postgres_url();
  std::vector<std::thread> starting;
  std::atomic<int> opened{0};
  for (int i = 0; i < 4; ++i) {
    starting.emplace_back([&] {
      open_postgres(url, 2);
      ++opened;
    });
  }
  for (auto& th : starting) th.join();
  CHECK(opened == 4);
  const std::string newest = std::to_string(postgres_schema_version());
  CHECK(test_support::postgres_value(url, "SELECT COUNT(*) || ':' || MAX(version) FROM schema_migrations") ==
        newest + ":" + newest);

  test_support::postgres_admin("INSERT INTO schema_migrations VALUES (999, 0)", url);
  try {
    open_postgres(url, 2);
    FAIL("a schema from a newer hotline was opened");
  } catch (const std::runtime_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("schema version 999, newer than this build"));
  }
}

TEST_CASE("postgres: a database of schema 1 is migrated: outbox marks, conversations, relay memory, failures",
          "[postgres][migrations]") {
  // Back to schema version 1 as it shipped (the parts later migrations touch): an outbox
  // message, two answers for one contact, and an answer without a session. Then opened again.
  auto url = fresh_postgres_url();
  {
    auto store = open_postgres(url, 2);
    TurnRecord queues = turn("c_texter", "", "SMv", 1000);
    queues.outbound.push_back(outbound("SMv:0"));
    store->commit_turn(queues);
  }
  REQUIRE(postgres_schema_version() == 8);
  test_support::postgres_admin(
      "DROP TABLE daily_counts;"
      "ALTER TABLE relays DROP COLUMN texter_wrote_ms;"
      "DROP TABLE delivery_failures;"
      "ALTER TABLE outbox DROP COLUMN on_failure;"
      "ALTER TABLE relays DROP COLUMN context;"
      "ALTER TABLE relays DROP COLUMN topic, DROP COLUMN escalation, DROP COLUMN stage_ms, DROP COLUMN shift_end;"
      "DROP TABLE closed_codes;"
      "DROP TABLE advocate_notes;"
      "ALTER TABLE outbox DROP COLUMN attempt_started_ms;"
      "DROP TABLE conversations;"
      "CREATE TABLE sessions (contact_key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_ms BIGINT NOT NULL);"
      "CREATE TABLE responses (request_id TEXT PRIMARY KEY, contact_key TEXT NOT NULL, response TEXT NOT NULL,"
      "                        created_ms BIGINT NOT NULL);"
      "INSERT INTO sessions VALUES ('c_a', '{\"step\":\"menu\"}', 2000);"
      "INSERT INTO responses VALUES ('SM1', 'c_a', 'first', 1000), ('SM2', 'c_a', 'second', 2000),"
      "                             ('SM9', 'c_gone', 'ended', 1500);"
      "DELETE FROM schema_migrations WHERE version >= 2",
      url);
  auto store = open_postgres(url, 2);
  CHECK(test_support::postgres_value(url, "SELECT MAX(version) FROM schema_migrations") == "8");
  CHECK(store->delivery_failures(10).empty());
  CHECK(store->closed_codes_since(0).empty());
  CHECK(store->daily_counts("2000-01-01", "2999-12-31").empty());  // migration 7's table, empty
  CHECK(store->advocate_note("ana").held_sealed.empty());
  auto rows = store->claim_outbound(2000, 10, 60'000);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].attempt_started_ms == 0);
  CHECK(rows[0].on_failure.empty());  // a message queued before: nobody to tell

  auto a = store->read_contact("c_a", "SM2");
  REQUIRE(a.session);
  CHECK(a.session->data == "{\"step\":\"menu\"}");
  CHECK(a.session->updated_ms == 2000);
  CHECK(a.earlier_response == "second");
  CHECK_FALSE(store->response_for("c_a", "SM1"));  // only the latest answer comes along
  CHECK(store->response_for("c_gone", "SM9") == "ended");
  CHECK_FALSE(store->load("c_gone"));
  CHECK(store->purge_before(1800) == 1);
  CHECK(test_support::postgres_value(url, "SELECT COUNT(*) FROM information_schema.tables "
                                          "WHERE table_schema = current_schema() AND table_name IN ('sessions', 'responses')") == "0");
}

TEST_CASE("postgres: a statement the server refuses is a StoreError, and the turn is not kept", "[postgres]") {
  const std::string url = fresh_postgres_url();
  auto store = open_postgres(url, 2);
  store->commit_turn(turn("c_a", "one", "SM1", 1000));
  // Any error the server answers (here: the table is gone) is a StoreError, which a webhook
  // answers 503 so that Twilio uses the number's Fallback URL.
  test_support::postgres_admin("ALTER TABLE conversations RENAME TO conversations_away", url);
  CHECK_THROWS_AS(store->commit_turn(turn("c_a", "two", "SM2", 2000)), StoreError);
  CHECK_THROWS_AS(store->read_contact("c_a", "SM3"), StoreError);
  test_support::postgres_admin("ALTER TABLE conversations_away RENAME TO conversations", url);
  CHECK(store->load("c_a")->data == "one");
  CHECK_FALSE(store->response_for("c_a", "SM2"));
}

TEST_CASE("postgres: an unreachable server is a clear error that never shows the password", "[postgres]") {
  try {
    open_postgres("postgresql://hotline:s3cret-pw@/hotline?host=/nonexistent-socket-dir", 2);
    FAIL("connected to nothing");
  } catch (const StoreError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("cannot connect to PostgreSQL"));
    CHECK(what.find("s3cret-pw") == std::string::npos);
  }
  CHECK(is_postgres_url("postgresql://x/y"));
  CHECK(is_postgres_url("postgres://x/y"));
  CHECK_FALSE(is_postgres_url("data/hotline.sqlite3"));
  CHECK(redacted("postgresql://hotline:s3cret@db:5432/hotline") == "postgresql://hotline:***@db:5432/hotline");
  CHECK(redacted("postgres://db/hotline?user=h&password=s3cret&sslmode=require") ==
        "postgres://db/hotline?user=h&password=***&sslmode=require");
  CHECK(redacted("postgresql://hotline@db/hotline") == "postgresql://hotline@db/hotline");
  CHECK(redacted("data/hotline.sqlite3") == "data/hotline.sqlite3");
}

TEST_CASE("postgres: undelivered messages that name someone to tell are kept until told; a relay's context is kept",
          "[postgres]") {
  auto store = open_postgres(fresh_postgres_url(), 2);
  test_support::check_delivery_failures_and_relay_context(*store);
}

// ---- Sessions and remembered answers sealed at rest (sealed_conversations.hpp) -----------------

namespace {
const std::string kSealSecret = "postgres-test-secret-for-sealing-01";
const std::string kTopicSession =
    R"({"intent":"status_reporting","lang":"es","retries":0,"step":"status_reporting","turns":2,"v":1})";
const std::string kTopicAnswer =
    "<Response><Message>La policía de Milwaukee no pregunta por su estatus migratorio</Message></Response>";

TurnRecord topic_turn(const std::string& contact, const std::string& request_id, std::int64_t now_ms) {
  TurnRecord t = turn(contact, kTopicSession, request_id, now_ms);
  t.response = kTopicAnswer;
  return t;
}

// Every conversation column of every row, as text, as anyone with the database would read it.
std::string conversation_rows(const std::string& url) {
  return test_support::postgres_value(
      url, "SELECT coalesce(string_agg(contact_key || '|' || session || '|' || reply_id || '|' || reply || '|' || "
           "prev_reply_id || '|' || prev_reply, E'\\n'), '') FROM conversations");
}
}  // namespace

TEST_CASE("postgres: sessions and remembered answers are sealed at rest, bound to their row", "[postgres][sealed]") {
  const std::string url = fresh_postgres_url();
  auto store = seal_conversations(open_postgres(url, 2), kSealSecret);
  store->commit_turn(topic_turn("c_a", "SM1", 1000));
  store->commit_turn(topic_turn("c_a", "SM2", 2000));
  store->commit_turn(topic_turn("c_b", "SM3", 2000));
  CHECK(store->load("c_a")->data == kTopicSession);
  CHECK(store->response_for("c_a", "SM1") == kTopicAnswer);
  auto view = store->read_contact("c_a", "SM2");
  REQUIRE(view.session);
  CHECK(view.session->data == kTopicSession);
  CHECK(view.earlier_response == kTopicAnswer);

  const std::string rows = conversation_rows(url);
  REQUIRE(rows.find("c_a|v1.") != std::string::npos);  // keys and ids in the clear, values sealed
  REQUIRE(rows.find("SM2") != std::string::npos);
  for (const std::string word : {"status_reporting", "estatus migratorio", "Milwaukee", "\"step\""}) {
    INFO(word);
    CHECK(rows.find(word) == std::string::npos);
  }

  // c_a's session and answer copied into c_b's row do not open there.
  test_support::postgres_admin(
      "UPDATE conversations SET session = a.session, reply = a.reply FROM conversations AS a "
      "WHERE conversations.contact_key = 'c_b' AND a.contact_key = 'c_a'", url);
  CHECK_FALSE(store->load("c_b"));
  CHECK_FALSE(store->response_for("c_b", "SM3"));
  CHECK(store->load("c_a")->data == kTopicSession);
  CHECK_FALSE(seal_conversations(open_postgres(url, 1), "another-secret-entirely-0002")->load("c_a"));
}

TEST_CASE("postgres: rows written before sealing are read, and sealed by the next turns", "[postgres][sealed]") {
  const std::string url = fresh_postgres_url();
  open_postgres(url, 1)->commit_turn(topic_turn("c_old", "SM1", 1000));  // as before sealing
  auto store = seal_conversations(open_postgres(url, 2), kSealSecret);
  CHECK(store->load("c_old")->data == kTopicSession);
  CHECK(store->response_for("c_old", "SM1") == kTopicAnswer);
  store->commit_turn(topic_turn("c_old", "SM2", 2000));
  store->commit_turn(topic_turn("c_old", "SM3", 3000));
  CHECK(store->response_for("c_old", "SM2") == kTopicAnswer);
  const std::string rows = conversation_rows(url);
  CHECK(rows.find("status_reporting") == std::string::npos);
  CHECK(rows.find("Milwaukee") == std::string::npos);
}

TEST_CASE("postgres: an old WhatsApp key's opt-out, conversation and relay move to the person's key, as in SQLite",
          "[postgres][legacy]") {
  auto store = seal_conversations(open_postgres(fresh_postgres_url(), 2), kSealSecret);
  test_support::check_legacy_contact_moves(*store);
}

TEST_CASE("postgres: daily counts are added with their turn, once, and outlive forget and the purge, as in SQLite",
          "[postgres][report]") {
  const std::string url = fresh_postgres_url();
  auto store = open_postgres(url, 2);
  TurnRecord first = turn("c_a", "s", "SM1", 1000);
  first.counts = {{"2026-12-04", "messages", "support", "es", "sms", 1},
                  {"2026-12-04", "conversations", "support", "es", "sms", 1}};
  store->commit_turn(first);
  store->commit_turn(first);  // a redelivery: nothing more
  TurnRecord second = turn("c_a", "s", "SM2", 2000);
  second.counts = {{"2026-12-04", "messages", "support", "es", "sms", 1}};
  second.relays.push_back({relay("K1", "c_a"), false, 0});
  second.counts.push_back({"2026-12-04", "handoffs_asked", "support", "es", "sms", 1});
  store->commit_turn(second);
  TurnRecord claimed = turn("c_adv", "", "SM3", 3000);
  claimed.keep_session = true;
  claimed.counts = {{"2026-12-05", "handoffs_claimed", "support", "es", "sms", 1},
                    {"2026-12-05", "claim_seconds", "support", "es", "sms", 95}};
  store->commit_turn(claimed);

  auto listed = [](const std::vector<DailyCount>& counts) {
    std::string out;
    for (const auto& c : counts) {
      out += c.day + " " + c.metric + " " + c.topic + " " + c.lang + " " + c.channel + " " + std::to_string(c.n) + "\n";
    }
    return out;
  };
  const std::string expected =
      "2026-12-04 conversations support es sms 1\n"
      "2026-12-04 handoffs_asked support es sms 1\n"
      "2026-12-04 messages support es sms 2\n"
      "2026-12-05 claim_seconds support es sms 95\n"
      "2026-12-05 handoffs_claimed support es sms 1\n";
  CHECK(listed(store->daily_counts("2026-12-01", "2026-12-31")) == expected);
  CHECK(listed(store->daily_counts("2026-12-05", "2026-12-06")) ==
        "2026-12-05 claim_seconds support es sms 95\n2026-12-05 handoffs_claimed support es sms 1\n");
  CHECK(store->forget("c_a") > 0);
  store->purge_before(1'000'000'000'000'000);
  CHECK(listed(store->daily_counts("2026-12-01", "2026-12-31")) == expected);
  // `hotline report`'s read-only path sees the same.
  CHECK(listed(read_daily_counts(url, "2026-12-01", "2026-12-31")) == expected);
}
