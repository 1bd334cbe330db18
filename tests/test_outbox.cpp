// The outbox worker with its sending and its lookup at Twilio replaced by functions the test
// controls, on a real (in-memory) SQLite store: how a send whose outcome is unknown is settled.
#include <catch2/catch.hpp>

#include "hotline/common/clock.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/outbox.hpp"

using namespace hotline;
using namespace hotline::twilio;

namespace {

const std::string kSecret = "outbox-test-secret-0123456789";
const std::string kFrom = "+15550100000";
const std::string kTo = "+15550100001";
const std::string kBody = "Nueva conversación K7 (es): ayuda. Responda para tomarla.";

/// A store holding one message, and what the worker did with it.
struct Bench {
  std::unique_ptr<store::SessionStore> store = store::open_sqlite(":memory:");
  std::vector<OutboundSms> sent;
  std::vector<MessageQuery> lookups;
  SendResult send_result = accepted("SMnew");
  ListResult listed = ok_list({});
  std::function<void()> during_lookup;

  static SendResult accepted(const std::string& sid) {
    SendResult r;
    r.ok = true;
    r.sid = sid;
    r.http_status = 201;
    return r;
  }
  static ListResult ok_list(std::vector<ListedMessage> messages) {
    ListResult r;
    r.ok = true;
    r.http_status = 200;
    r.messages = std::move(messages);
    return r;
  }

  explicit Bench(const std::string& sender = kFrom) {
    store::TurnRecord t;
    t.contact_key = "c_texter";
    t.keep_session = true;
    t.now_ms = 1000;
    t.outbound.push_back({"SMin:0", "c_texter", sender, crypto::seal(kSecret, kTo, "outbox.to"),
                          crypto::seal(kSecret, kBody, "outbox.body")});
    store->commit_turn(t);
  }

  OutboxSettings settings() const {
    OutboxSettings s;
    s.secret = kSecret;
    s.messages_per_second = 0;  // no pacing
    s.retry_base_ms = 0;        // a retry is due at once, so the next pass takes it
    s.lookup_delay_ms = 0;
    return s;
  }

  OutboxWorker worker(OutboxSettings s) {
    return OutboxWorker(
        *store, [this](const OutboundSms& m) { sent.push_back(m); return send_result; },
        [this](const MessageQuery& q) {
          lookups.push_back(q);
          if (during_lookup) during_lookup();
          return listed;
        },
        std::move(s));
  }
  OutboxWorker worker() { return worker(settings()); }

  /// The message's send began `ago_ms` ago and the process died before it learned the outcome.
  std::int64_t interrupted(std::int64_t ago_ms) {
    const std::int64_t now = system_now_ms();
    auto rows = store->claim_outbound(now, 10, now + 60'000);
    REQUIRE(rows.size() == 1);
    REQUIRE(store->outbound_attempt_started(rows[0], now - ago_ms, now + 60'000));
    store->outbound_release(rows[0].id, 0);  // what a restart does to the dead process's lease
    return now - ago_ms;
  }

  /// The row as the next claim sees it (and released again), or nothing once sent.
  std::optional<store::OutboxRow> row() {
    auto rows = store->claim_outbound(system_now_ms() + 3'600'000, 10, 0);
    if (rows.empty()) return std::nullopt;
    return rows[0];
  }
};

ListedMessage listed(const std::string& sid, const std::string& body, std::int64_t created_ms,
                     const std::string& to = kTo, const std::string& from = kFrom) {
  ListedMessage m;
  m.sid = sid;
  m.to = to;
  m.from = from;
  m.body = body;
  m.created_ms = created_ms;
  return m;
}

}  // namespace

TEST_CASE("a message never tried is sent without asking Twilio first") {
  Bench b;
  auto w = b.worker();
  CHECK(w.run_once() == 1);
  CHECK(b.lookups.empty());
  REQUIRE(b.sent.size() == 1);
  CHECK(b.sent[0].to == kTo);
  CHECK(b.store->outbox_pending() == 0);
  CHECK(b.store->outbound_status("SMnew", "sent", "", 1));
}

TEST_CASE("an interrupted send that Twilio has is recorded with Twilio's SID and not sent again") {
  Bench b;
  const std::int64_t started = b.interrupted(30'000);
  // Newest first, as Twilio lists: later messages to the advocate, then ours, then older ones.
  b.listed = Bench::ok_list({listed("SMlater", "K7: gracias", started + 5'000),
                             listed("SMours", kBody, started / 1000 * 1000),
                             listed("SMolder", kBody, started - 60'000)});
  auto w = b.worker();
  CHECK(w.run_once() == 1);
  CHECK(b.sent.empty());
  REQUIRE(b.lookups.size() == 1);
  CHECK(b.lookups[0].to == kTo);
  CHECK(b.lookups[0].from == kFrom);
  // From the start's whole second (date_created has no milliseconds), less the clock allowance.
  CHECK(b.lookups[0].created_since_ms == started / 1000 * 1000 - 2'000);
  CHECK(b.store->outbox_pending() == 0);
  CHECK(b.store->outbound_status("SMours", "sent", "", 1));
}

TEST_CASE("an interrupted send Twilio does not have is sent, once") {
  Bench b;
  const std::int64_t started = b.interrupted(30'000);
  SECTION("nothing listed") {}
  SECTION("the same text, but before the send began (less the clock allowance)") {
    b.listed = Bench::ok_list({listed("SMolder", kBody, started / 1000 * 1000 - 3'000)});
  }
  SECTION("another text to the same advocate") {
    b.listed = Bench::ok_list({listed("SMother", kBody + " ", started)});
  }
  SECTION("the same text to someone else") {
    b.listed = Bench::ok_list({listed("SMother", kBody, started, "+15550100002")});
  }
  SECTION("the same text from another number") {
    b.listed = Bench::ok_list({listed("SMother", kBody, started, kTo, "+15550100009")});
  }
  SECTION("a date Twilio wrote that could not be read") {
    b.listed = Bench::ok_list({listed("SMundated", kBody, 0)});
  }
  auto w = b.worker();
  CHECK(w.run_once() == 1);
  CHECK(b.lookups.size() == 1);
  CHECK(b.sent.size() == 1);
  CHECK(b.store->outbox_pending() == 0);
  CHECK(b.store->outbound_status("SMnew", "sent", "", 1));
  CHECK(w.run_once() == 0);  // and nothing more
  CHECK(b.sent.size() == 1);
}

TEST_CASE("a Messaging Service's message is looked up by recipient and matched by the service") {
  const std::string service = "MG00000000000000000000000000000001";
  Bench b(service);
  const std::int64_t started = b.interrupted(30'000);
  ListedMessage other_service = listed("SMother", kBody, started, kTo, "+15550100007");
  other_service.messaging_service_sid = "MG00000000000000000000000000000002";
  ListedMessage ours = listed("SMours", kBody, started, kTo, "+15550100007");
  ours.messaging_service_sid = service;
  b.listed = Bench::ok_list({other_service});
  {
    auto w = b.worker();
    CHECK(w.run_once() == 1);
    CHECK(b.sent.size() == 1);  // another service's message is not ours
    REQUIRE(b.lookups.size() == 1);
    CHECK(b.lookups[0].from.empty());
  }
  Bench again(service);
  const std::int64_t started_again = again.interrupted(30'000);
  ours.created_ms = started_again;
  again.listed = Bench::ok_list({ours});
  auto w = again.worker();
  CHECK(w.run_once() == 1);
  CHECK(again.sent.empty());
  CHECK(again.store->outbound_status("SMours", "sent", "", 1));
}

TEST_CASE("when Twilio cannot be asked, nothing is sent: the lookup is retried with backoff") {
  Bench b;
  const std::int64_t started = b.interrupted(30'000);
  b.listed = ListResult{};
  b.listed.reason = "HTTP 503, Twilio error 20500";
  auto s = b.settings();
  s.retry_base_ms = 60'000;
  auto w = b.worker(s);
  CHECK(w.run_once() == 1);
  CHECK(b.lookups.size() == 1);
  CHECK(b.sent.empty());
  auto row = b.row();
  REQUIRE(row);
  CHECK(row->attempts == 1);
  CHECK(row->attempt_started_ms == started);  // still to be asked about
  CHECK(row->next_attempt_ms >= system_now_ms() + 59'000);
  CHECK(w.run_once() == 0);  // not due yet
  CHECK(b.sent.empty());
}

TEST_CASE("lookups failing for too long: the message is sent anyway rather than never") {
  SECTION("past lookup_give_up_ms since the interrupted send") {
    Bench b;
    b.interrupted(11 * 60'000);
    b.listed = ListResult{};
    auto w = b.worker();
    CHECK(w.run_once() == 1);
    CHECK(b.lookups.size() == 1);
    CHECK(b.sent.size() == 1);
    CHECK(b.store->outbox_pending() == 0);
  }
  SECTION("on the last attempt allowed") {
    Bench b;
    b.interrupted(30'000);
    b.listed = ListResult{};
    auto s = b.settings();
    s.max_attempts = 3;
    auto w = b.worker(s);
    CHECK(w.run_once() == 1);
    CHECK(w.run_once() == 1);
    CHECK(b.sent.empty());
    CHECK(w.run_once() == 1);  // the third
    CHECK(b.lookups.size() == 3);
    CHECK(b.sent.size() == 1);
  }
}

TEST_CASE("an interrupted send is not asked about before Twilio has surely finished with it") {
  Bench b;
  const std::int64_t started = b.interrupted(1'000);
  auto s = b.settings();
  s.lookup_delay_ms = 60'000;
  auto w = b.worker(s);
  CHECK(w.run_once() == 0);
  CHECK(b.lookups.empty());
  CHECK(b.sent.empty());
  auto row = b.row();
  REQUIRE(row);
  CHECK(row->next_attempt_ms == started + 60'000);
  CHECK(row->attempts == 0);
}

TEST_CASE("a send that timed out or got a 5xx is asked about first; a 429 or no connection is not") {
  Bench b;
  SendResult failed;
  failed.retryable = true;
  SECTION("no answer in time: asked about") {
    failed.outcome_unknown = true;
    failed.reason = "network: Timeout was reached";
  }
  SECTION("a 5xx: asked about") {
    failed.outcome_unknown = true;
    failed.http_status = 503;
  }
  SECTION("a 429: not processed, so sent again directly") {
    failed.http_status = 429;
    failed.twilio_code = 20429;
  }
  SECTION("never connected: sent again directly") {
    failed.reason = "network: Couldn't connect to server";
  }
  b.send_result = failed;
  auto w = b.worker();
  CHECK(w.run_once() == 1);
  CHECK(b.sent.size() == 1);
  auto row = b.row();
  REQUIRE(row);
  CHECK((row->attempt_started_ms != 0) == failed.outcome_unknown);
  b.send_result = Bench::accepted("SMsecond");
  b.store->outbound_release(row->id, 0);
  CHECK(w.run_once() == 1);
  CHECK(b.lookups.size() == (failed.outcome_unknown ? 1u : 0u));
  CHECK(b.sent.size() == 2);
  CHECK(b.store->outbox_pending() == 0);
}

TEST_CASE("a worker whose lease was taken over while it asked Twilio sends nothing") {
  Bench b;
  b.interrupted(30'000);
  // The lookup stalls past the lease, and another worker claims the row meanwhile.
  b.during_lookup = [&] {
    auto row = b.row();
    REQUIRE(row);
    b.store->outbound_release(row->id, 0);
    REQUIRE(b.store->claim_outbound(system_now_ms(), 10, system_now_ms() + 999'000).size() == 1);
  };
  auto w = b.worker();
  CHECK(w.run_once() == 1);
  CHECK(b.lookups.size() == 1);
  CHECK(b.sent.empty());
  CHECK(b.store->outbox_pending() == 1);  // the other worker's to send
}

namespace {

const std::string kCallUrl = "https://hotline.example.org/twilio/voice/callback?code=K7M";

/// A store holding one call (an advocate's #call) instead of a message.
std::unique_ptr<store::SessionStore> store_with_call() {
  auto s = store::open_sqlite(":memory:");
  store::TurnRecord t;
  t.contact_key = "v_call";
  t.keep_session = true;
  t.now_ms = 1000;
  t.outbound.push_back({"SMin:K7M:call", "v_call", kFrom, crypto::seal(kSecret, kTo, "outbox.to"),
                        crypto::seal(kSecret, kCallUrl, "outbox.call")});
  s->commit_turn(t);
  return s;
}

}  // namespace

TEST_CASE("a row sealed as a call is placed as a call, never sent as a text") {
  Bench b;  // only for its settings
  auto s = store_with_call();
  std::vector<OutboundSms> texts;
  std::vector<OutboundCall> calls;
  OutboxWorker w(
      *s, [&](const OutboundSms& m) { texts.push_back(m); return Bench::accepted("SMx"); },
      [](const MessageQuery&) { return Bench::ok_list({}); }, b.settings());
  SECTION("with a way to call") {
    w.set_call([&](const OutboundCall& c) { calls.push_back(c); return Bench::accepted("CA123"); });
    CHECK(w.run_once() == 1);
    REQUIRE(calls.size() == 1);
    CHECK(calls[0].to == kTo);
    CHECK(calls[0].from == kFrom);
    CHECK(calls[0].url == kCallUrl);
    CHECK(s->outbox_pending() == 0);
  }
  SECTION("without one, it is dropped with a reason") {
    CHECK(w.run_once() == 1);
    CHECK(s->outbox_pending() == 0);
    CHECK(s->claim_outbound(system_now_ms() + 3'600'000, 10, 0).empty());
  }
  CHECK(texts.empty());
}

TEST_CASE("a call whose outcome was lost is not placed again: a second ring is worse than none") {
  Bench b;
  auto s = store_with_call();
  const std::int64_t now = system_now_ms();
  auto rows = s->claim_outbound(now, 10, now + 60'000);
  REQUIRE(rows.size() == 1);
  REQUIRE(s->outbound_attempt_started(rows[0], now - 30'000, now + 60'000));
  s->outbound_release(rows[0].id, 0);
  std::vector<OutboundCall> calls;
  OutboxWorker w(
      *s, [](const OutboundSms&) { return Bench::accepted("SMx"); },
      [](const MessageQuery&) { return Bench::ok_list({}); }, b.settings());
  w.set_call([&](const OutboundCall& c) { calls.push_back(c); return Bench::accepted("CA123"); });
  CHECK(w.run_once() == 1);
  CHECK(calls.empty());
  CHECK(s->claim_outbound(system_now_ms() + 3'600'000, 10, 0).empty());  // dropped, not pending
}

TEST_CASE("a call refused for now (429) is tried again, then placed once") {
  Bench b;
  auto s = store_with_call();
  int attempts = 0;
  OutboxWorker w(
      *s, [](const OutboundSms&) { return Bench::accepted("SMx"); },
      [](const MessageQuery&) { return Bench::ok_list({}); }, b.settings());
  w.set_call([&](const OutboundCall&) {
    SendResult r;
    r.http_status = ++attempts == 1 ? 429 : 201;
    r.retryable = attempts == 1;
    r.ok = attempts != 1;
    r.sid = r.ok ? "CA123" : "";
    return r;
  });
  CHECK(w.run_once() == 1);
  CHECK(s->outbox_pending() == 1);  // due again at once (retry_base_ms 0)
  CHECK(w.run_once() == 1);
  CHECK(attempts == 2);
  CHECK(s->outbox_pending() == 0);
}

TEST_CASE("a row sealed as a template is sent with its Content SID and variables, not as text; looked up without its text") {
  const std::string content_sid = "HX0123456789abcdef0123456789abcdef";
  const std::string to = "whatsapp:+15550100001";
  auto store = store::open_sqlite(":memory:");
  store::TurnRecord t;
  t.contact_key = "c_texter";
  t.keep_session = true;
  t.now_ms = 1000;
  const nlohmann::json content = {{"content_sid", content_sid}, {"variables", {{"1", "Hola, soy Ana"}}}};
  t.outbound.push_back({"SMin:template", "c_texter", "whatsapp:" + kFrom, crypto::seal(kSecret, to, "outbox.to"),
                        crypto::seal(kSecret, content.dump(), kContentSealContext), "tell:ana:K7M"});
  store->commit_turn(t);
  Bench b;  // only for its settings
  std::vector<OutboundSms> sent;
  ListResult listed_now = Bench::ok_list({});
  OutboxWorker w(
      *store, [&](const OutboundSms& m) { sent.push_back(m); return Bench::accepted("SMtpl"); },
      [&](const MessageQuery&) { return listed_now; }, b.settings());
  SECTION("sent") {
    CHECK(w.run_once() == 1);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].to == to);
    CHECK(sent[0].from == "whatsapp:" + kFrom);
    CHECK(sent[0].content_sid == content_sid);
    CHECK(nlohmann::json::parse(sent[0].content_variables) == nlohmann::json{{"1", "Hola, soy Ana"}});
    CHECK(sent[0].body.empty());
    CHECK(store->outbox_pending() == 0);
  }
  SECTION("interrupted, then found at Twilio under the text Twilio rendered from the template") {
    const std::int64_t now = system_now_ms();
    auto rows = store->claim_outbound(now, 10, now + 60'000);
    REQUIRE(rows.size() == 1);
    REQUIRE(store->outbound_attempt_started(rows[0], now - 30'000, now + 60'000));
    store->outbound_release(rows[0].id, 0);
    listed_now = Bench::ok_list({listed("SMrendered", "Your advocate wrote: Hola, soy Ana", (now - 30'000) / 1000 * 1000,
                                        to, "whatsapp:" + kFrom)});
    CHECK(w.run_once() == 1);
    CHECK(sent.empty());  // not sent twice
    CHECK(store->outbox_pending() == 0);
  }
}
