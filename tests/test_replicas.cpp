// Two real `hotline serve` processes sharing one PostgreSQL database, as behind a load balancer:
// a conversation continues whichever replica takes each message, one contact's messages arriving
// at once are handled one after the other, and killing a replica mid-conversation loses nothing
// it acknowledged. Skipped (exit 77, with the reason) when no PostgreSQL server was started.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <httplib.h>

#include <future>
#include <memory>

#include "hotline/twilio/form.hpp"
#include "postgres_support.hpp"
#include "process.hpp"

using namespace test_support;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;

const std::string kNotUnderstood = "Sorry, I did not understand.";
const std::string kStillNot = "Sorry, I still do not understand.";

/// One replica: a `hotline serve` process on an ephemeral port, on the shared database.
struct Replica {
  Replica(const TempDir& dir, const std::string& db_url)
      : process({kHotline, "serve", "--port", "0", "--root", kRoot, "--config",
                 dir.write("hotline.yaml", "limits:\n  contact_per_minute: 1000\n  global_per_second: 100000\n")},
                "", {"HOTLINE_DB=" + db_url, "HOTLINE_SECRET=replica-test-secret-0123456789"}) {
    port = port_of(process.wait_for_stderr("\"event\":\"serving\""));
  }
  Process process;
  int port = -1;
};

std::string text(int port, const std::string& from, const std::string& sid, const std::string& body) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(15);
  hotline::twilio::FormFields form = {{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", from},
                                      {"To", "+14145550100"}, {"Body", body}, {"NumMedia", "0"}};
  auto res = client.Post("/twilio/sms", hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
  if (!res) return "<no answer>";
  if (res->status != 200) return "<status " + std::to_string(res->status) + ">";
  return res->body;
}

bool has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

int main(int argc, char** argv) { return test_support::run_with_postgres(argc, argv); }

TEST_CASE("replicas: a conversation continues when its messages alternate between replicas", "[replicas]") {
  TempDir dir;
  const std::string db = fresh_postgres_url();
  Replica a(dir, db), b(dir, db);
  REQUIRE(a.port > 0);
  REQUIRE(b.port > 0);
  const std::string from = "+14145557001";

  CHECK(has(text(a.port, from, "SMalt1", "english"), "OK, I will write in English."));
  // Each answer depends on the state the other replica saved: re-asked once, twice, then a person.
  CHECK(has(text(b.port, from, "SMalt2", "blah blah"), kNotUnderstood));
  CHECK(has(text(a.port, from, "SMalt3", "xyzzy qq"), kNotUnderstood));
  CHECK(has(text(b.port, from, "SMalt4", "zzz qqq"), kStillNot));
  // Twilio redelivering an earlier message to the other replica gets the same answer again.
  CHECK(text(a.port, from, "SMalt4", "zzz qqq") == text(b.port, from, "SMalt4", "zzz qqq"));
  CHECK(has(text(a.port, from, "SMalt4", "zzz qqq"), kStillNot));
}

TEST_CASE("replicas: one contact's messages arriving at once are handled one after the other", "[replicas]") {
  TempDir dir;
  const std::string db = fresh_postgres_url();
  Replica a(dir, db), b(dir, db);
  REQUIRE(a.port > 0);
  REQUIRE(b.port > 0);

  // For each contact: choose English, then three messages it cannot understand, sent at the same
  // moment to both replicas. Handled in turn, exactly one of the three is the third: "still do
  // not understand". Two handled on the same old state would both be an early re-ask.
  for (int round = 0; round < 6; ++round) {
    const std::string from = "+1414555720" + std::to_string(round);
    REQUIRE(has(text(a.port, from, "SMc" + std::to_string(round) + "_0", "english"), "English"));
    std::vector<std::future<std::string>> answers;
    for (int i = 1; i <= 3; ++i) {
      const int port = i % 2 ? a.port : b.port;
      const std::string sid = "SMc" + std::to_string(round) + "_" + std::to_string(i);
      answers.push_back(std::async(std::launch::async, [=] { return text(port, from, sid, "qwerty asdf"); }));
    }
    int early = 0, third = 0;
    for (auto& f : answers) {
      const std::string answer = f.get();
      INFO("round " << round << ": " << answer);
      if (has(answer, kStillNot)) ++third;
      else if (has(answer, kNotUnderstood)) ++early;
    }
    CHECK(early == 2);
    CHECK(third == 1);
  }
}

TEST_CASE("replicas: killing one mid-conversation loses nothing it acknowledged", "[replicas]") {
  TempDir dir;
  const std::string db = fresh_postgres_url();
  auto a = std::make_unique<Replica>(dir, db);
  Replica b(dir, db);
  REQUIRE(a->port > 0);
  REQUIRE(b.port > 0);
  const std::string from = "+14145557300";

  CHECK(has(text(a->port, from, "SMk1", "english"), "English"));
  CHECK(has(text(a->port, from, "SMk2", "blah blah"), kNotUnderstood));
  a->process.signal(SIGKILL);
  CHECK(a->process.wait() == 128 + SIGKILL);
  a.reset();

  // The survivor knows where the conversation was, and what the dead replica answered.
  CHECK(has(text(b.port, from, "SMk2", "blah blah"), kNotUnderstood));
  CHECK(has(text(b.port, from, "SMk3", "xyzzy qq"), kNotUnderstood));
  CHECK(has(text(b.port, from, "SMk4", "zzz qqq"), kStillNot));
  // And the dead replica's connections, with any lock they held, are gone: a new replica starts
  // and takes the same contact at once.
  Replica c(dir, db);
  REQUIRE(c.port > 0);
  CHECK(has(text(c.port, from, "SMk5", "menu"), "1"));
}

TEST_CASE("replicas: after a conversation about deportation, PostgreSQL's rows show no topic, step or answer",
          "[replicas][sealed]") {
  TempDir dir;
  const std::string db = fresh_postgres_url();
  Replica a(dir, db), b(dir, db);
  REQUIRE(a.port > 0);
  REQUIRE(b.port > 0);
  const std::string from = "+14145557321";
  const std::string fear = text(a.port, from, "SMpgtopic1", "si llamo a la policia me deportan?");
  const std::string police = text(b.port, from, "SMpgtopic2", "1");  // b reads the session a sealed
  auto words = [](const std::string& twiml) {
    const auto at = twiml.find("<Message>");
    return at == std::string::npos ? std::string() : twiml.substr(at + 9, 40);
  };
  REQUIRE_FALSE(words(fear).empty());
  REQUIRE_FALSE(words(police).empty());
  CHECK(text(a.port, from, "SMpgtopic2", "1") == police);  // a redelivery, to the other replica

  const std::string rows = postgres_value(
      db, "SELECT string_agg(contact_key || '|' || session || '|' || reply_id || '|' || reply || '|' || "
          "prev_reply_id || '|' || prev_reply, E'\\n') FROM conversations");
  REQUIRE(has(rows, "|SMpgtopic2|v1."));  // the row, with its answers sealed
  for (const std::string& s : {std::string("status_reporting"), std::string("call_police"),
                               std::string("police_discretion"), std::string("after_answer"), words(fear),
                               words(police)}) {
    INFO(s);
    CHECK_FALSE(has(rows, s));
  }
}

namespace {

// One callback of a call to a replica (no signature: the replicas run without TWILIO_AUTH_TOKEN).
std::string call_back(int port, const std::string& path, const std::string& call_sid,
                      const hotline::twilio::FormFields& extra = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(15);
  hotline::twilio::FormFields form = {{"CallSid", call_sid}, {"AccountSid", "AC0"}, {"From", "+14145557400"},
                                      {"To", "+14145550100"}, {"CallStatus", "in-progress"}};
  form.insert(form.end(), extra.begin(), extra.end());
  auto res = client.Post(path, hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
  if (!res) return "<no answer>";
  if (res->status != 200) return "<status " + std::to_string(res->status) + ">";
  return res->body;
}

// Where the TwiML's <Gather> sends its result ("" without one).
std::string gather_action(const std::string& twiml) {
  const std::string marker = "<Gather input=\"dtmf speech\" action=\"";
  const auto at = twiml.find(marker);
  if (at == std::string::npos) return "";
  const auto from = at + marker.size();
  return twiml.substr(from, twiml.find('"', from) - from);
}

}  // namespace

TEST_CASE("replicas: a call's gather posted again to the other replica gets the same TwiML; the call moves on once",
          "[replicas]") {
  TempDir dir;
  const std::string db = fresh_postgres_url();
  Replica a(dir, db), b(dir, db);
  REQUIRE(a.port > 0);
  REQUIRE(b.port > 0);
  const std::string sid = "CA" + std::string(30, '4') + "01";

  const std::string menu = call_back(a.port, "/twilio/voice", sid);
  const std::string choose = gather_action(menu);
  REQUIRE(choose == "/twilio/voice/gather?turn=1");
  const std::string english = call_back(a.port, choose, sid, {{"Digits", "1"}});
  REQUIRE(has(english, "press 1"));
  CHECK(call_back(b.port, choose, sid, {{"Digits", "1"}}) == english);  // not the English menu's answer to 1

  const std::string next = gather_action(english);
  REQUIRE(next == "/twilio/voice/gather?turn=2");
  const std::string miss = call_back(b.port, next, sid, {{"Digits", "8"}});
  CHECK(has(miss, "did not catch that"));
  CHECK(call_back(a.port, next, sid, {{"Digits", "8"}}) == miss);
  // The same key at the next gather is the call's second miss, not its third: asked again.
  const std::string second = call_back(a.port, gather_action(miss), sid, {{"Digits", "8"}});
  CHECK(has(second, "did not catch that"));
  CHECK_FALSE(has(second, "still"));
}
