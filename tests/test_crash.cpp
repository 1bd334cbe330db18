// Crash safety: a real `hotline serve` is killed with SIGKILL while several threads are texting
// it, then restarted on the same database. Whatever it acknowledged with a 200 must still be
// there: a conversation continues from its acknowledged state, a redelivered MessageSid gets the
// same answer, and the database opens cleanly.
#include <catch2/catch.hpp>

#include <httplib.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>

#include "hotline/twilio/form.hpp"
#include "process.hpp"

using namespace test_support;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;

struct Acked {
  std::string from, sid, body, response;
};

int port_of(const std::string& log) {
  auto at = log.find("\"event\":\"serving\"");
  if (at == std::string::npos) return -1;
  at = log.find("\"port\":", at);
  if (at == std::string::npos) return -1;
  return std::stoi(log.substr(at + 7));
}

// Generous limits, so the load below is never refused (a refused message is not acknowledged).
std::vector<std::string> server_args(const TempDir& data) {
  return {kHotline, "serve", "--port", "0", "--root", kRoot, "--config",
          data.write("hotline.yaml", "limits:\n  contact_per_minute: 1000\n  global_per_second: 100000\n")};
}

std::vector<std::string> server_env(const TempDir& data) {
  // Local mode (no TWILIO_AUTH_TOKEN): signatures are not checked.
  return {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
          "HOTLINE_SECRET=crash-test-secret-0123456789"};
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

// The answer the database remembers for a request id ("" when none).
std::string stored_response(const std::string& path, const std::string& request_id) {
  sqlite3* db = nullptr;
  std::string result;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT response FROM responses WHERE request_id = ?1", -1, &stmt,
                           nullptr) == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, request_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt) == SQLITE_ROW) {
        result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
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
    CHECK(stored_response(db, a.sid) == a.response);
  }
}
