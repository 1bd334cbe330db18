// Nothing that could identify a texter is kept or logged in the clear: conversations are driven
// through a real `hotline serve` process, then its database files and its log are searched for
// every phone number and every message body that was sent.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <chrono>
#include <thread>

#include "hotline/crypto/keys.hpp"
#include "hotline/twilio/form.hpp"
#include "hotline/twilio/signature.hpp"
#include "process.hpp"

using namespace test_support;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;
const std::string kToken = "privacy-test-token-0123456789";
const std::string kPublicUrl = "https://hotline.example.org";

// Distinctive enough that a hit cannot be a coincidence.
const std::vector<std::string> kNumbers = {"+14145557301", "+14145557302", "+5215587654321"};
const std::vector<std::string> kBodies = {
    "can I call the police without papers Zanahoria",
    "¿Me van a deportar si llamo? Soy Xochiquetzal",
    "quiero hablar con alguien por favor Tlacuache",
    "the officer treated me badly Quetzalcoatl",
};

// Every file of the database (main file, WAL, shared memory) as one string.
// (Not last-good-bundle/: the staff's flows and prompts, copied there, hold no one's data.)
std::string database_bytes(const TempDir& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.is_regular_file()) all += read_file(entry.path().string());
  }
  return all;
}

bool contains_bytes(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("no phone number or message text is stored or logged in the clear") {
  TempDir data;
  Process server({kHotline, "serve", "--port", "0", "--root", kRoot}, "",
                 {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
                  "TWILIO_AUTH_TOKEN=" + kToken, "HOTLINE_PUBLIC_URL=" + kPublicUrl,
                  "HOTLINE_SECRET=privacy-test-secret-0123456789"});
  std::string log = server.wait_for_stderr("\"event\":\"serving\"");
  auto at = log.find("\"port\":");
  REQUIRE(at != std::string::npos);
  httplib::Client client("127.0.0.1", std::stoi(log.substr(at + 7)));

  int sid = 0;
  for (const auto& number : kNumbers) {
    for (const auto& body : kBodies) {
      hotline::twilio::FormFields form = {{"MessageSid", "SMprivacy" + std::to_string(++sid)},
                                          {"AccountSid", "AC0"}, {"From", number},
                                          {"To", "+14145550100"}, {"Body", body}, {"NumMedia", "0"}};
      auto sig = hotline::twilio::compute_signature(kToken, kPublicUrl + "/twilio/sms", form);
      auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}},
                             hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
      REQUIRE(res);
      REQUIRE(res->status == 200);
    }
  }
  // Read while the server is still running, so the WAL has not been folded away yet.
  std::string stored = database_bytes(data);
  REQUIRE(stored.size() > 0);
  server.signal(SIGTERM);
  REQUIRE(server.wait() == 0);
  stored += database_bytes(data);
  const std::string logged = server.err();
  REQUIRE_THAT(logged, Catch::Contains("\"event\":\"sms\""));

  for (const auto& number : kNumbers) {
    INFO(number);
    const std::string digits = number.substr(1);
    CHECK_FALSE(contains_bytes(stored, digits));
    CHECK_FALSE(contains_bytes(logged, digits));
    // Nor the key the database keeps it under: someone with HOTLINE_SECRET could compute that
    // from a number, and so tie a forgotten person to old log lines. Lines name today's alias.
    const std::string key = hotline::crypto::contact_key("privacy-test-secret-0123456789", number);
    CHECK(contains_bytes(stored, key));  // the search can find a key where there is one
    CHECK_FALSE(contains_bytes(logged, key));
  }
  CHECK_THAT(logged, Catch::Matches(R"([\s\S]*"contact":"d_[0-9a-f]{16}"[\s\S]*)"));
  for (const auto& body : kBodies) {
    INFO(body);
    // The distinctive word of each message, and the message itself.
    const std::string word = body.substr(body.rfind(' ') + 1);
    CHECK_FALSE(contains_bytes(stored, body));
    CHECK_FALSE(contains_bytes(logged, body));
    CHECK_FALSE(contains_bytes(logged, word));
    CHECK_FALSE(contains_bytes(stored, word));
  }
}

namespace {

// One SMS to a running server, signed; the TwiML it answered ("" when it failed).
std::string text(httplib::Client& client, const std::string& from, const std::string& sid, const std::string& body) {
  hotline::twilio::FormFields form = {{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", from},
                                      {"To", "+14145550100"}, {"Body", body}, {"NumMedia", "0"}};
  auto sig = hotline::twilio::compute_signature(kToken, kPublicUrl + "/twilio/sms", form);
  auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, hotline::twilio::encode_form(form),
                         "application/x-www-form-urlencoded");
  return res && res->status == 200 ? res->body : "";
}

// A stretch of the answer's text (the words the hotline said), as it would be kept.
std::string answer_words(const std::string& twiml) {
  const auto at = twiml.find("<Message>");
  return at == std::string::npos ? "" : twiml.substr(at + 9, 40);
}

// One value from a query on the SQLite file ("" when no row).
std::string sqlite_value(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string value;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW &&
        sqlite3_column_text(stmt, 0)) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return value;
}

}  // namespace

TEST_CASE("after a conversation about deportation, the database and the turn log show no topic, step or answer") {
  TempDir data;
  const std::string db = (data.path() / "hotline.sqlite3").string();
  Process server({kHotline, "serve", "--port", "0", "--root", kRoot}, "",
                 {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=" + kToken, "HOTLINE_PUBLIC_URL=" + kPublicUrl,
                  "HOTLINE_SECRET=privacy-test-secret-0123456789"});
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20);

  // Another connection holds the database's write lock, so the turns stay in the turn log
  // (where a crash would leave them) while we read it.
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &blocker) == SQLITE_OK);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::string from = "+14145557311";
  const std::string fear = text(client, from, "SMtopic1", "si llamo a la policia me deportan?");
  const std::string again = text(client, from, "SMtopic2", "2");          // the same answer from the menu
  const std::string police = text(client, from, "SMtopic3", "1");         // is it safe to call
  REQUIRE_FALSE(answer_words(fear).empty());
  REQUIRE_FALSE(answer_words(police).empty());
  const std::string logged = database_bytes(data);
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);

  // What a person with the files alone must not learn: the topic (the intent), where the
  // conversation stands (the steps), what the hotline told them (the answers' text).
  const std::vector<std::string> secrets = {"status_reporting", "call_police", "police_discretion", "after_answer",
                                            answer_words(fear), answer_words(police), answer_words(again)};
  REQUIRE(contains_bytes(logged, "SMtopic3"));  // the turn log was read while it held the turns
  for (const auto& s : secrets) {  // a turn's daily counts, which name its topic, stay in memory
    INFO("turn log: " << s);
    CHECK_FALSE(contains_bytes(logged, s));
  }
  const std::vector<std::string> steps_and_answers = {"police_discretion", "after_answer", answer_words(fear),
                                                     answer_words(police), answer_words(again)};

  // Once the turns reach SQLite: the row is there, its session and answers sealed.
  for (int i = 0; i < 200 && sqlite_value(db, "SELECT reply_id FROM conversations") != "SMtopic3"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(sqlite_value(db, "SELECT reply_id FROM conversations") == "SMtopic3");
  CHECK(sqlite_value(db, "SELECT substr(session, 1, 3) || substr(reply, 1, 3) || substr(prev_reply, 1, 3) "
                         "FROM conversations") == "v1.v1.v1.");
  std::string stored = database_bytes(data);
  // A redelivery still gets the answer it got before, and the conversation goes on.
  CHECK(text(client, from, "SMtopic3", "1") == police);
  server.signal(SIGTERM);
  REQUIRE(server.wait() == 0);
  stored += database_bytes(data);
  for (const auto& s : steps_and_answers) {
    INFO("database: " << s);
    CHECK_FALSE(contains_bytes(stored, s));
  }
  // Topics are in the database only as the daily counts (how many, per day: never who). Without
  // those rows, the files tell no topic at all.
  CHECK(sqlite_value(db, "SELECT group_concat(topic, ' ') FROM (SELECT DISTINCT topic FROM daily_counts "
                         "WHERE metric = 'messages' ORDER BY topic)") == "call_police status_reporting");
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &raw) == SQLITE_OK);
  REQUIRE(sqlite3_exec(raw, "DELETE FROM daily_counts; VACUUM; PRAGMA wal_checkpoint(TRUNCATE);", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  sqlite3_close(raw);
  const std::string without_counts = database_bytes(data);
  for (const auto& s : secrets) {
    INFO("database without its daily counts: " << s);
    CHECK_FALSE(contains_bytes(without_counts, s));
  }
}
