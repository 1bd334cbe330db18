// Abuse limits: the blocklist, the per-contact and global token buckets (a pure module with a
// test clock), and the SMS channel and server answering a flood without touching the store.
#include <catch2/catch.hpp>

#include "hotline/channels/limits.hpp"
#include "hotline/channels/sms.hpp"
#include "hotline/config/config.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline_server.hpp"

using namespace hotline;
using namespace hotline::channels;
using namespace test_support;

namespace {

struct TestClock {
  std::int64_t now = 1'000'000;
  Clock clock() {
    return [this] { return now; };
  }
};

LimitSettings settings(double per_minute, double per_second) {
  LimitSettings s;
  s.contact_per_minute = per_minute;
  s.global_per_second = per_second;
  return s;
}

// A store that fails the test if anything reaches it.
struct PoisonStore : store::SessionStore {
  [[noreturn]] static void touched() { throw std::logic_error("the store was touched"); }
  store::ContactView read_contact(std::string_view, std::string_view) override { touched(); }
  std::optional<store::StoredSession> load(std::string_view) override { touched(); }
  void commit_turn(const store::TurnRecord&) override { touched(); }
  // A refused message may look up the answer remembered for its MessageSid: one read, counted.
  int response_reads = 0;
  std::optional<std::string> response_for(std::string_view, std::string_view) override {
    ++response_reads;
    return std::nullopt;
  }
  bool is_opted_out(std::string_view) override { touched(); }
  void set_opted_out(std::string_view, bool, std::int64_t) override { touched(); }
  std::size_t purge_before(std::int64_t) override { touched(); }
  std::size_t forget(std::string_view) override { touched(); return 0; }
  bool healthy() override { touched(); }
  std::vector<store::Relay> relays() override { touched(); }
  std::optional<store::Relay> relay_of(std::string_view) override { touched(); }
  std::unique_ptr<store::KeyLock> lock_key(std::string_view) override { touched(); }
  std::size_t end_relays_idle_since(std::int64_t, std::int64_t) override { touched(); }
  std::size_t purge_relay_memory(std::int64_t, std::int64_t) override { touched(); }
  std::vector<std::string> closed_codes_since(std::int64_t) override { touched(); }
  store::AdvocateNote advocate_note(std::string_view) override { touched(); }
  std::vector<store::OutboxRow> claim_outbound(std::int64_t, std::size_t, std::int64_t) override { touched(); }
  void outbound_sent(std::int64_t, std::string_view, std::int64_t) override { touched(); }
  bool outbound_attempt_started(const store::OutboxRow&, std::int64_t, std::int64_t) override { touched(); }
  void outbound_retry(std::int64_t, std::int64_t, std::int64_t, bool) override { touched(); }
  void outbound_dropped(std::int64_t, std::string_view, std::int64_t) override { touched(); }
  void outbound_release(std::int64_t, std::int64_t) override { touched(); }
  bool outbound_status(std::string_view, std::string_view, std::string_view, std::int64_t) override { touched(); }
  std::vector<store::DeliveryFailure> delivery_failures(std::size_t) override { touched(); }
  void delivery_failure_handled(std::int64_t) override { touched(); }
  std::size_t outbox_pending() override { touched(); }
  std::vector<store::DailyCount> daily_counts(std::string_view, std::string_view) override { touched(); }
};

std::string message_of(const std::string& body) {
  auto a = body.find("<Message>"), b = body.rfind("</Message>");
  if (a == std::string::npos || b == std::string::npos) return "";
  return body.substr(a + 9, b - a - 9);
}

const std::string kEmpty = sms_twiml("");

}  // namespace

TEST_CASE("a contact gets its burst, one notice, then silence until it slows down") {
  TestClock t;
  Limiter limiter(settings(20, 1000), t.clock());
  for (int i = 0; i < 20; ++i) REQUIRE(limiter.check("a") == Verdict::allow);
  CHECK(limiter.check("a") == Verdict::contact_notice);
  CHECK(limiter.check("a") == Verdict::contact_limited);
  CHECK(limiter.check("a") == Verdict::contact_limited);
  // Someone else is not affected.
  CHECK(limiter.check("b") == Verdict::allow);
  // 20 a minute: one message back every 3 s.
  t.now += 2999;
  CHECK(limiter.check("a") == Verdict::contact_limited);
  t.now += 1;
  CHECK(limiter.check("a") == Verdict::allow);
  // Over again after one token came back: still the same burst, so no second notice. A steady
  // flood, let through every 3 s, hears the notice once, not every 3 s.
  CHECK(limiter.check("a") == Verdict::contact_limited);
  for (int refill = 0; refill < 5; ++refill) {
    t.now += 3000;
    CHECK(limiter.check("a") == Verdict::allow);
    CHECK(limiter.check("a") == Verdict::contact_limited);
  }
  // A minute later the whole burst is back, and no more: a new burst, a new notice.
  t.now += 60'000;
  for (int i = 0; i < 20; ++i) REQUIRE(limiter.check("a") == Verdict::allow);
  CHECK(limiter.check("a") == Verdict::contact_notice);
}

TEST_CASE("the global bucket limits the whole hotline and spares contacts' tokens") {
  TestClock t;
  Limiter limiter(settings(2, 5), t.clock());
  for (int i = 0; i < 5; ++i) REQUIRE(limiter.check("c" + std::to_string(i)) == Verdict::allow);
  CHECK(limiter.check("x") == Verdict::global_limited);
  CHECK(limiter.check("x") == Verdict::global_limited);
  CHECK(limiter.check("x") == Verdict::global_limited);
  t.now += 200;  // 5 a second: one token back
  CHECK(limiter.check("x") == Verdict::allow);
  CHECK(limiter.check("y") == Verdict::global_limited);
  t.now += 1000;
  // x was refused three times globally but spent only one of its own two tokens.
  CHECK(limiter.check("x") == Verdict::allow);
  CHECK(limiter.check("x") == Verdict::contact_notice);
}

TEST_CASE("a blocked contact is blocked whatever its tokens, and unblocked when removed") {
  TestClock t;
  Limiter limiter(settings(20, 200), t.clock());
  limiter.set_blocklist({"bad"});
  CHECK(limiter.check("bad") == Verdict::blocked);
  CHECK(limiter.check("bad") == Verdict::blocked);
  CHECK(limiter.check("good") == Verdict::allow);
  limiter.set_blocklist({});
  CHECK(limiter.check("bad") == Verdict::allow);
}

TEST_CASE("a STOP gets past a contact's own limit once a minute, never past the global one") {
  TestClock t;
  Limiter limiter(settings(2, 1000), t.clock());
  REQUIRE(limiter.check("a") == Verdict::allow);
  REQUIRE(limiter.check("a") == Verdict::allow);
  CHECK(limiter.check("a") == Verdict::contact_notice);
  t.now += 10'000;
  CHECK(limiter.check("a", true) == Verdict::allow);
  // A second STOP within the minute is a flood like any other.
  CHECK(limiter.check("a", true) == Verdict::contact_limited);
  CHECK(limiter.check("a") == Verdict::contact_limited);
  t.now += Limiter::kStopEveryMs - 1;  // the bucket is full again: spend it
  REQUIRE(limiter.check("a") == Verdict::allow);
  REQUIRE(limiter.check("a") == Verdict::allow);
  CHECK(limiter.check("a") == Verdict::contact_notice);
  CHECK(limiter.check("a", true) == Verdict::contact_limited);
  t.now += 1;
  CHECK(limiter.check("a", true) == Verdict::allow);
  // The STOP took none of the contact's own tokens: it is still limited for anything else.
  CHECK(limiter.check("a") == Verdict::contact_limited);

  // It still takes a global token: with the hotline over its limit a STOP is refused too, and
  // that refusal does not use up the contact's STOP pass.
  Limiter busy(settings(1, 2), t.clock());
  REQUIRE(busy.check("b") == Verdict::allow);
  REQUIRE(busy.check("c") == Verdict::allow);
  CHECK(busy.check("b", true) == Verdict::global_limited);
  t.now += 500;  // one global token back
  CHECK(busy.check("b", true) == Verdict::allow);
  CHECK(busy.check("d") == Verdict::global_limited);

  // A blocked number is blocked, STOP or not (the SMS channel records its STOP itself).
  busy.set_blocklist({"b"});
  CHECK(busy.check("b", true) == Verdict::blocked);
}

TEST_CASE("a clock going backwards refills nothing; memory stays bounded") {
  TestClock t;
  LimitSettings s = settings(1, 1000);
  s.max_tracked_contacts = 10;
  Limiter limiter(s, t.clock());
  CHECK(limiter.check("a") == Verdict::allow);
  t.now -= 3'600'000;
  CHECK(limiter.check("a") == Verdict::contact_notice);
  t.now += 59'999;
  CHECK(limiter.check("a") == Verdict::contact_limited);
  t.now += 1;
  CHECK(limiter.check("a") == Verdict::allow);

  for (int i = 0; i < 100; ++i) limiter.check("n" + std::to_string(i));
  CHECK(limiter.tracked_contacts() <= 10);
}

TEST_CASE("the blocklist file is read as keyed hashes and never echoes a bad entry") {
  TempDir dir;
  const std::string secret = "limits-test-secret-0123456789";
  Diagnostics diags;
  auto path = dir.write("blocklist.yaml",
                        "blocked:\n  - \"+14145550199\"\n  - \"+5215512345678\"\n  - \"4145559876\"\n  - 12\n");
  auto keys = load_blocklist(path, secret, diags);
  CHECK(keys.size() == 2);
  CHECK(keys.count(crypto::contact_key(secret, "+14145550199")) == 1);
  CHECK(keys.count(crypto::contact_key(secret, "+5215512345678")) == 1);
  // One person, two channels: a blocked number is blocked on WhatsApp too (the same contact key).
  CHECK(keys.count(contact_key_of(secret, "whatsapp:+14145550199")) == 1);
  REQUIRE(diags.error_count() == 2);
  CHECK_THAT(diags.to_string(), Catch::Contains("blocklist.yaml:4:5") && Catch::Contains("not-e164"));
  CHECK_THAT(diags.to_string(), !Catch::Contains("4145559876"));

  Diagnostics none;
  CHECK(load_blocklist((dir.path() / "missing.yaml").string(), secret, none).empty());
  CHECK_FALSE(none.has_errors());
  CHECK(load_blocklist(dir.write("empty.yaml", "blocked: []\n"), secret, none).empty());
  CHECK_FALSE(none.has_errors());
  load_blocklist(dir.write("bad.yaml", "blockd: []\n"), secret, none);
  CHECK(none.has_errors());

  // A key that is a list or a map is reported, not thrown (fuzz/fuzz_flow_loader found it in
  // the other loaders; this one read its keys the same way).
  Diagnostics odd;
  auto kept = load_blocklist(dir.write("odd.yaml", "? :\nblocked: [\"+14145550199\"]\n"), secret, odd);
  CHECK(kept.size() == 1);
  CHECK(odd.to_string() == (dir.path() / "odd.yaml").string() +
                               ":1:3: error[complex-key]: a key must be a name, a number or text, not a list or a map\n");
}

TEST_CASE("an edited blocklist file is picked up by the next refresh after the interval") {
  TempDir dir;
  TestClock t;
  const std::string secret = "limits-test-secret-0123456789";
  const std::string key = crypto::contact_key(secret, "+14145550199");
  auto path = dir.write("blocklist.yaml", "blocked: []\n");
  Limiter limiter(settings(20, 200), t.clock());
  BlocklistFile file(path, secret, t.clock(), 2000);
  file.refresh(limiter);
  CHECK(limiter.check(key) == Verdict::allow);

  dir.write("blocklist.yaml", "blocked: [\"+14145550199\"]\n");
  std::filesystem::last_write_time(path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
  file.refresh(limiter);  // too soon: not read
  CHECK(limiter.check(key) == Verdict::allow);
  t.now += 2000;
  file.refresh(limiter);
  CHECK(limiter.check(key) == Verdict::blocked);

  std::filesystem::remove(path);
  t.now += 2000;
  file.refresh(limiter);
  CHECK(limiter.check(key) == Verdict::allow);
}

TEST_CASE("the SMS channel answers a limited or blocked message with at most one read") {
  PoisonStore store;
  flow::BundleHolder bundles(shipped_bundle());
  SmsChannel channel(bundles, store, SmsSettings{"s3cret-s3cret-s3cret", 3'600'000, Lang::es},
                     [] { return std::int64_t{0}; });
  Verdict verdict = Verdict::blocked;
  std::string asked;
  bool asked_stop = true;
  channel.set_guard([&](const std::string& contact, bool stop) {
    asked = contact;
    asked_stop = stop;
    return verdict;
  });
  auto form = sms_form("+14145550123", "hola", "SMlimits1");

  // Blocked: not even a read.
  auto res = channel.handle(form);
  CHECK(asked == crypto::contact_key("s3cret-s3cret-s3cret", "+14145550123"));
  CHECK_FALSE(asked_stop);
  CHECK(res.status == 200);
  CHECK(res.body == kEmpty);
  CHECK(store.response_reads == 0);

  // Over a limit: one read (is this a redelivery?), then the limiter's answer.
  verdict = Verdict::contact_notice;
  res = channel.handle(form);
  CHECK(res.status == 200);
  CHECK(message_of(res.body) == kSlowDownNotice);
  CHECK(store.response_reads == 1);

  for (Verdict v : {Verdict::contact_limited, Verdict::global_limited}) {
    verdict = v;
    res = channel.handle(form);
    CHECK(res.status == 200);
    CHECK(res.body == kEmpty);
  }
  CHECK(store.response_reads == 3);

  // The guard is told a STOP is a STOP, in either language and however it is written.
  for (const char* word : {"STOP", " parar ", "Baja!", "unsubscribe"}) {
    channel.handle(sms_form("+14145550123", word, "SMlimits2"));
    CHECK(asked_stop);
  }
  channel.handle(sms_form("+14145550123", "stop calling the police?", "SMlimits3"));
  CHECK_FALSE(asked_stop);

  verdict = Verdict::allow;
  CHECK_THROWS_WITH(channel.handle(form), Catch::Contains("the store was touched"));
}

TEST_CASE("a server enforces limits and its blocklist from configuration") {
  TempDir dir;
  auto config = test_config(dir);
  config.limits_contact_per_minute = 3;
  config.blocklist_file = dir.write("blocklist.yaml", "blocked:\n  - \"+14145550666\"\n");
  HotlineServer server(config);

  for (int i = 0; i < 3; ++i) {
    auto res = server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMlim" + std::to_string(i)));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(message_of(res->body) != "");
    CHECK(message_of(res->body) != kSlowDownNotice);
  }
  auto res = server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMlim3"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(message_of(res->body) == kSlowDownNotice);
  res = server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMlim4"));
  CHECK(res->status == 200);
  CHECK(res->body == kEmpty);
  // Refused messages were not stored: a redelivery of one is refused again, not replayed.
  CHECK(server.stored_response("+14145550123", "SMlim4") == std::nullopt);
  CHECK(server.stored_response("+14145550123", "SMlim2") != std::nullopt);

  // Blocked: nothing said, nothing kept.
  res = server.post_signed("/twilio/sms", sms_form("+14145550666", "hola", "SMblocked1"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == kEmpty);
  CHECK_FALSE(server.stored_session("+14145550666"));
  CHECK(server.stored_response("+14145550666", "SMblocked1") == std::nullopt);

  // A blocked number's call is rejected before it is answered.
  twilio::FormFields call = {{"CallSid", "CAblocked1"}, {"AccountSid", "AC0"}, {"From", "+14145550666"},
                             {"To", "+14145550100"}, {"CallStatus", "ringing"}, {"Direction", "inbound"}};
  res = server.post_signed("/twilio/voice", call);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_THAT(res->body, Catch::Contains("<Reject reason=\"busy\"/>"));
}

TEST_CASE("limits are read from the configuration file") {
  TempDir dir;
  auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  Diagnostics diags;
  auto c = config::load_config(
      dir.write("hotline.yaml", "limits:\n  contact_per_minute: 7\n  global_per_second: 50\n  blocklist: /etc/b.yaml\n"),
      false, none, diags);
  CHECK_FALSE(diags.has_errors());
  CHECK(c.limits_contact_per_minute == 7);
  CHECK(c.limits_global_per_second == 50);
  CHECK(c.blocklist_file == "/etc/b.yaml");

  Diagnostics defaults;
  auto d = config::load_config(dir.write("empty.yaml", ""), false, none, defaults);
  CHECK(d.limits_contact_per_minute == 20);
  CHECK(d.limits_global_per_second == 200);

  Diagnostics bad;
  config::load_config(dir.write("bad.yaml", "limits:\n  contact_per_minute: 0\n  per_hour: 3\n"), false, none, bad);
  CHECK(bad.error_count() == 2);
}

TEST_CASE("a contact over its limit can still STOP; a blocked number's STOP is recorded silently") {
  TempDir dir;
  auto config = test_config(dir);
  config.limits_contact_per_minute = 2;
  config.blocklist_file = dir.write("blocklist.yaml", "blocked:\n  - \"+14145550666\"\n");
  HotlineServer server(config);
  auto& store = server.app().store();
  const std::string texter = crypto::contact_key(config.secret, "+14145550123");

  reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMstop1")));
  reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "1", "SMstop2")));
  REQUIRE(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMstop3"))) == kSlowDownNotice);
  // Over its limit, and its STOP is honoured all the same: recorded, and confirmed (PARAR is
  // confirmed by the hotline; Twilio itself confirms the English STOP words).
  const std::string confirmed = reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "PARAR", "SMstop4")));
  CHECK_THAT(confirmed, Catch::Contains("Ya no recibirá mensajes de esta línea"));
  CHECK(store.is_opted_out(texter));
  CHECK(store.response_for(texter, "SMstop4") != std::nullopt);
  // Only STOP gets past: START (and a second STOP within the minute) wait like anything else.
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "START", "SMstop5"))) == "");
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "STOP", "SMstop6"))) == "");
  CHECK(store.is_opted_out(texter));
  CHECK(store.response_for(texter, "SMstop5") == std::nullopt);
  CHECK(store.response_for(texter, "SMstop6") == std::nullopt);

  // Blocked: the STOP is kept as an opt-out, but nothing is said and nothing else is stored.
  const std::string blocked = crypto::contact_key(config.secret, "+14145550666");
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550666", "hola", "SMstopb1"))) == "");
  CHECK_FALSE(store.is_opted_out(blocked));
  auto res = server.post_signed("/twilio/sms", sms_form("+14145550666", "Parar", "SMstopb2"));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body == kEmpty);
  CHECK(store.is_opted_out(blocked));
  CHECK_FALSE(server.stored_session("+14145550666"));
  CHECK(store.response_for(blocked, "SMstopb2") == std::nullopt);
}

TEST_CASE("a redelivered message gets its first answer even while its contact is limited") {
  TempDir dir;
  auto config = test_config(dir);
  config.limits_contact_per_minute = 2;
  HotlineServer server(config);

  const std::string first = reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMredo1")));
  const std::string second = reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "english", "SMredo2")));
  REQUIRE(first != "");
  REQUIRE(second != "");
  REQUIRE(first != second);
  REQUIRE(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "1", "SMredo3"))) == kSlowDownNotice);
  // Twilio retries the first two (it timed out waiting, say): the same answers, not silence.
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "hola", "SMredo1"))) == first);
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "english", "SMredo2"))) == second);
  // A refused message was never answered, so its redelivery is refused again.
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "1", "SMredo3"))) == "");
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "1", "SMredo4"))) == "");
  CHECK(server.stored_response("+14145550123", "SMredo4") == std::nullopt);
}

TEST_CASE("under the global limit too, a redelivery is answered from the store, a new message from memory") {
  TempDir dir;
  auto store = store::open_sqlite((dir.path() / "limits.sqlite3").string());
  flow::BundleHolder bundles(shipped_bundle());
  SmsChannel channel(bundles, *store, SmsSettings{"s3cret-s3cret-s3cret", 3'600'000, Lang::es},
                     [] { return std::int64_t{0}; });
  Verdict verdict = Verdict::allow;
  channel.set_guard([&](const std::string&, bool) { return verdict; });

  const auto first = channel.handle(sms_form("+14145550123", "hola", "SMglobal1"));
  REQUIRE(first.status == 200);
  REQUIRE(message_of(first.body) != "");
  for (Verdict v : {Verdict::global_limited, Verdict::contact_limited, Verdict::contact_notice}) {
    verdict = v;
    INFO(verdict_name(v));
    CHECK(channel.handle(sms_form("+14145550123", "hola", "SMglobal1")).body == first.body);
    const auto fresh = channel.handle(sms_form("+14145550123", "hola", "SMglobal2"));
    CHECK(message_of(fresh.body) == (v == Verdict::contact_notice ? kSlowDownNotice : ""));
  }
  // Blocked numbers hear nothing, a redelivery included.
  verdict = Verdict::blocked;
  CHECK(channel.handle(sms_form("+14145550123", "hola", "SMglobal1")).body == kEmpty);
  CHECK(store->response_for(crypto::contact_key("s3cret-s3cret-s3cret", "+14145550123"), "SMglobal2") == std::nullopt);
}
