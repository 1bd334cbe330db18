// Nothing that could identify a texter is kept or logged in the clear: conversations are driven
// through a real `hotline serve` process, then its database files and its log are searched for
// every phone number and every message body that was sent.
#include <catch2/catch.hpp>

#include <httplib.h>

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
std::string database_bytes(const TempDir& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    all += read_file(entry.path().string());
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
