// Crash safety: a real `hotline serve` is killed with SIGKILL while several threads are texting
// it, then restarted on the same database. Whatever it acknowledged with a 200 must still be
// there: a conversation continues from its acknowledged state, a redelivered MessageSid gets the
// same answer, and the database opens cleanly. And the outbox: every message a turn queued is
// delivered after the restart exactly once, the send the kill interrupted included.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <sqlite3.h>

#include <atomic>
#include <map>
#include <mutex>

#include "fake_twilio.hpp"
#include "hotline/twilio/form.hpp"
#include "hotline/twilio/signature.hpp"
#include "process.hpp"

using namespace test_support;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;
const std::string kSecret = "crash-test-secret-0123456789";

struct Acked {
  std::string from, sid, body, response;
};

// Generous limits, so the load below is never refused (a refused message is not acknowledged).
std::vector<std::string> server_args(const TempDir& data) {
  return {kHotline, "serve", "--port", "0", "--root", kRoot, "--config",
          data.write("hotline.yaml", "limits:\n  contact_per_minute: 1000\n  global_per_second: 100000\n")};
}

std::vector<std::string> server_env(const TempDir& data) {
  // Local mode (no TWILIO_AUTH_TOKEN): signatures are not checked.
  return {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
          "HOTLINE_SECRET=" + kSecret};
}

httplib::Result sms(httplib::Client& client, const std::string& from, const std::string& sid,
                    const std::string& body) {
  hotline::twilio::FormFields form = {{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", from},
                                      {"To", "+14145550100"}, {"Body", body}, {"NumMedia", "0"}};
  return client.Post("/twilio/sms", hotline::twilio::encode_form(form),
                     "application/x-www-form-urlencoded");
}

std::string integrity_check(const std::string& path) {
  sqlite3* db = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK) {
      result.clear();
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        result += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      }
      sqlite3_finalize(stmt);
    }
  }
  sqlite3_close(db);
  return result;
}


}  // namespace

TEST_CASE("kill -9 under load loses nothing that was acknowledged") {
  TempDir data;
  std::vector<Acked> acked;
  std::mutex acked_mutex;
  std::atomic<int> ack_count{0};
  std::atomic<bool> stop{false};

  {
    Process server(server_args(data), "", server_env(data));
    const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
    REQUIRE(port > 0);

    // Each thread owns its contacts, so one contact's messages are never sent concurrently
    // (as with Twilio). Every contact chooses English; every answer is kept with its request.
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        httplib::Client client("127.0.0.1", port);
        client.set_connection_timeout(2);
        client.set_read_timeout(5);
        for (int i = 0; i < 10000 && !stop; ++i) {
          const std::string from = "+1414556" + std::to_string(t) + std::to_string(1000 + i);
          const std::string sid = "SMcrash" + std::to_string(t) + "x" + std::to_string(i);
          auto res = sms(client, from, sid, "english");
          if (!res) break;  // the server is gone
          if (res->status != 200) continue;
          if (res->body.find("<Message>") == std::string::npos) continue;  // not a real answer
          std::lock_guard<std::mutex> lock(acked_mutex);
          acked.push_back({from, sid, "english", res->body});
          ++ack_count;
        }
      });
    }
    // Kill it mid-load: once enough has been acknowledged, with requests still in flight.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (ack_count < 40 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    server.signal(SIGKILL);
    REQUIRE(server.wait() == 128 + SIGKILL);
    stop = true;
    for (auto& s : senders) s.join();
  }
  INFO("acknowledged before the kill: " << acked.size());
  REQUIRE(acked.size() >= 10);

  Process server(server_args(data), "", server_env(data));
  const std::string log = server.wait_for_stderr("\"event\":\"serving\"");
  const int port = port_of(log);
  INFO(log);
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5);

  // What "1" answers after "english", and what it answers in a fresh conversation (Spanish,
  // the default language): the check below can tell the two apart.
  auto fresh_english = sms(client, "+14145569990", "SMcrash-ref-1", "english");
  REQUIRE(fresh_english);
  auto english_one = sms(client, "+14145569990", "SMcrash-ref-2", "1");
  auto fresh_one = sms(client, "+14145569991", "SMcrash-ref-3", "1");
  REQUIRE(english_one);
  REQUIRE(fresh_one);
  REQUIRE(english_one->status == 200);
  REQUIRE(english_one->body != fresh_one->body);
  REQUIRE(fresh_english->body == acked.front().response);

  for (const auto& a : acked) {
    INFO(a.from << " " << a.sid);
    // Twilio redelivers: the same answer, nothing advanced.
    auto again = sms(client, a.from, a.sid, a.body);
    REQUIRE(again);
    CHECK(again->status == 200);
    CHECK(again->body == a.response);
    // The conversation goes on in the language chosen before the crash.
    auto next = sms(client, a.from, a.sid + "-after", "1");
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == english_one->body);
  }

  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
  const std::string db = (data.path() / "hotline.sqlite3").string();
  CHECK(integrity_check(db) == "ok");
  // Every acknowledged answer was durable: it is the one remembered for its MessageSid (so the
  // redelivery above was answered from the store, not by running the turn again).
  for (const auto& a : acked) {
    INFO(a.sid);
    CHECK(stored_response(db, a.sid, kSecret) == a.response);
  }
}

namespace {

// A server that relays to advocates and sends through a fake Twilio: signatures on (sending
// needs the auth token), two advocates on shift at a pinned Wednesday 10:00 in Milwaukee.
const std::string kAuthToken = "crash-test-auth-token-0123456789";
const std::string kPublicUrl = "https://hotline.example.org";
const std::string kAna = "+15550100001";
const std::string kBen = "+15550100002";

struct RelayServer {
  const TempDir& data;
  FakeTwilio& fake;

  std::vector<std::string> args() const {
    return {kHotline, "serve", "--port", "0", "--root", kRoot, "--config",
            data.write("hotline.yaml",
                       "limits:\n  contact_per_minute: 1000\n  global_per_second: 100000\n"
                       "outbox:\n  messages_per_second: 100\n")};
  }
  std::vector<std::string> env() const {
    return {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
            "HOTLINE_SECRET=" + kSecret,
            "TWILIO_AUTH_TOKEN=" + kAuthToken,
            "HOTLINE_PUBLIC_URL=" + kPublicUrl,
            "TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000",
            "TWILIO_FROM=+15550100000",
            "TWILIO_API_BASE=" + fake.base(),
            "HOTLINE_NOW=2026-03-11T15:00:00Z",
            "HOTLINE_ADVOCATES=" +
                data.write("advocates.yaml",
                           "advocates:\n"
                           "  - id: ana\n    phone: \"" + kAna + "\"\n    languages: [es, en]\n"
                           "    prompt_language: es\n    shifts: [{days: mon-fri, hours: \"09:00-17:00\"}]\n"
                           "  - id: ben\n    phone: \"" + kBen + "\"\n    languages: [es]\n"
                           "    shifts: [{days: mon-fri, hours: \"09:00-17:00\"}]\n")};
  }
};

httplib::Result signed_sms(httplib::Client& client, const std::string& from, const std::string& sid,
                           const std::string& body) {
  hotline::twilio::FormFields form = {{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", from},
                                      {"To", "+15550100000"}, {"Body", body}, {"NumMedia", "0"}};
  const std::string signature =
      hotline::twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
  return client.Post("/twilio/sms", {{"X-Twilio-Signature", signature}},
                     hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
}

}  // namespace

TEST_CASE("kill -9 with the outbox busy: every queued message is delivered after the restart, once") {
  TempDir data;
  FakeTwilio fake;
  RelayServer relay{data, fake};
  // Each texter asks for a person in its first message, with a case number the offer to each
  // advocate carries ("Nueva conversación K7 (es): <message>…"): two outbound messages each,
  // queued in the hand-off's own transaction. A slow Twilio (20 ms a request) keeps a backlog.
  fake.delay_ms = 20;
  auto handoff_text = [](const std::string& tag) { return "quiero hablar con una persona, caso " + tag; };
  std::vector<std::string> acked;  // tags whose hand-off the server acknowledged
  std::mutex acked_mutex;
  std::atomic<bool> stop{false};
  int held = 0;  // the arrival number of the send the kill interrupted

  {
    Process server(relay.args(), "", relay.env());
    const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
    REQUIRE(port > 0);
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
      senders.emplace_back([&, t] {
        httplib::Client client("127.0.0.1", port);
        client.set_connection_timeout(2);
        client.set_read_timeout(5);
        // At most 60 relays open at once: conversation codes (21 letters x 5 digits) stay free.
        for (int i = 0; i < 20 && !stop; ++i) {
          const std::string tag = std::to_string(100 * (t + 1) + i);
          auto res = signed_sms(client, "+1414557" + std::to_string(t) + std::to_string(100 + i),
                                "SMoutbox" + tag, handoff_text(tag));
          if (!res) break;  // the server is gone
          if (res->status != 200 || res->body.find("Una persona de apoyo") == std::string::npos) continue;
          std::lock_guard<std::mutex> lock(acked_mutex);
          acked.push_back(tag);
          std::this_thread::sleep_for(std::chrono::milliseconds(15));
        }
      });
    }
    // Mid-way: hand-offs acknowledged, some sent, more queued. Then Twilio answers slowly, and
    // the hotline is killed while one send is held there, accepted but not yet answered.
    REQUIRE(eventually([&] {
      std::lock_guard<std::mutex> lock(acked_mutex);
      return acked.size() >= 20 && fake.delivered().size() >= 6;
    }));
    fake.delay_ms = 1500;
    const int before = fake.arrivals;
    REQUIRE(eventually([&] { return fake.arrivals > before; }));
    held = fake.arrivals;
    server.signal(SIGKILL);
    REQUIRE(server.wait() == 128 + SIGKILL);
    stop = true;
    for (auto& s : senders) s.join();
  }
  fake.delay_ms = 0;
  INFO("hand-offs acknowledged before the kill: " << acked.size() << "; sends before it: " << held);
  // The held request completes at the fake (Twilio accepted it) after the hotline is gone.
  REQUIRE(eventually([&] { return static_cast<int>(fake.requests().size()) >= held; }));
  const std::size_t delivered_before = fake.delivered().size();
  REQUIRE(delivered_before < 2 * acked.size());  // the kill left work in the outbox

  Process server(relay.args(), "", relay.env());
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(5);
  auto offers_for = [&](const std::string& to, const std::string& tag) {
    std::size_t n = 0;
    for (const auto& r : fake.delivered_to(to)) n += r.body.find("\"" + handoff_text(tag) + "\"") != std::string::npos;  // quoted once in the offer
    return n;
  };
  // The outbox drains: every acknowledged hand-off's offers arrive, and then nothing more. The
  // interrupted send is settled last: it is asked about at Twilio only once the client's timeout
  // (15 s) has passed since it began, in case it were still running there.
  CHECK(eventually([&] {
    for (const auto& tag : acked) {
      if (offers_for(kAna, tag) == 0 || offers_for(kBen, tag) == 0) return false;
    }
    auto metrics = client.Get("/metrics");
    return metrics && metrics->body.find("\nhotline_outbox_pending 0\n") != std::string::npos;
  }, std::chrono::seconds(60)));
  std::size_t settled = 0;
  for (int quiet = 0; quiet < 15;) {  // 1.5 s without a new request
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::size_t now = fake.requests().size();
    quiet = now == settled ? quiet + 1 : 0;
    settled = now;
  }

  // Exactly once, each: no (recipient, text) twice, and none lost. That includes the send the
  // kill interrupted: Twilio accepted it and the hotline died before recording that, so after
  // the restart the hotline found it in Twilio's list of messages instead of sending it again.
  std::map<std::pair<std::string, std::string>, int> copies;
  std::pair<std::string, std::string> interrupted;
  for (const auto& r : fake.requests()) {
    REQUIRE(r.answered == 201);
    ++copies[{r.to, r.body}];
    if (r.arrival == held) interrupted = {r.to, r.body};
  }
  REQUIRE_FALSE(interrupted.first.empty());
  for (const auto& [message, n] : copies) {
    INFO(message.first << ": " << message.second);
    CHECK(n == 1);
  }
  for (const auto& tag : acked) {
    INFO("case " << tag);
    CHECK(offers_for(kAna, tag) == 1);
    CHECK(offers_for(kBen, tag) == 1);
  }
  // The interrupted send was the one looked up, and recorded under the SID Twilio gave it.
  std::string interrupted_sid;
  for (const auto& r : fake.requests()) {
    if (r.arrival == held) interrupted_sid = r.sid;
  }
  const std::string restarted_log = server.err();
  CHECK_THAT(restarted_log, Catch::Contains("\"event\":\"outbound_reconciled\"") &&
                                Catch::Contains("\"sid\":\"" + interrupted_sid + "\""));
  CHECK_FALSE(fake.list_requests().empty());
  // Every message is an offer of a hand-off that committed: acknowledged, or killed mid-answer.
  CHECK(copies.size() % 2 == 0);
  CHECK(copies.size() >= 2 * acked.size());

  // The restarted server carries on: a relay offer still reaches both advocates once.
  auto res = signed_sms(client, "+14145579999", "SMoutbox-after", handoff_text("999"));
  REQUIRE(res);
  CHECK_THAT(res->body, Catch::Contains("Una persona de apoyo"));
  CHECK(eventually([&] { return offers_for(kAna, "999") == 1 && offers_for(kBen, "999") == 1; }));
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
  const std::string log = server.err();
  CHECK_THAT(log, !Catch::Contains("4145579999") && !Catch::Contains("quiero hablar"));
}
