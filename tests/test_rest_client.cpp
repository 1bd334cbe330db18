// The Twilio REST client against a local fake: the request it sends and how it sorts answers.
#include <catch2/catch.hpp>

#include "fake_twilio.hpp"
#include "hotline/twilio/rest_client.hpp"

using namespace hotline::twilio;
using namespace test_support;

namespace {
RestSettings settings_for(FakeTwilio& fake) {
  return {fake.base(), "AC00000000000000000000000000000000", "secret-token", 1000, 1000};
}
OutboundSms message() { return {"+14145551234", "+15550100000", "", "¿Hola? & más", "https://hotline.example.org/twilio/status"}; }
}  // namespace

TEST_CASE("send_message posts a form with Basic auth and reads the SID") {
  FakeTwilio fake;
  RestClient client(settings_for(fake));
  auto r = client.send_message(message());
  CHECK(r.ok);
  CHECK(r.sid == "SM1000");
  CHECK(r.http_status == 201);
  REQUIRE(fake.requests().size() == 1);
  auto req = fake.requests()[0];
  CHECK(req.path == "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json");
  // base64("AC00000000000000000000000000000000:secret-token")
  CHECK(req.authorization == "Basic QUMwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDpzZWNyZXQtdG9rZW4=");
  CHECK(req.to == "+14145551234");
  CHECK(req.from == "+15550100000");
  CHECK(req.body == "¿Hola? & más");
  CHECK(req.status_callback == "https://hotline.example.org/twilio/status");

  auto with_service = message();
  with_service.from.clear();
  with_service.messaging_service_sid = "MG00000000000000000000000000000000";
  CHECK(client.send_message(with_service).ok);
  CHECK(fake.requests()[1].from.empty());
  CHECK(fake.requests()[1].messaging_service_sid == "MG00000000000000000000000000000000");
}

TEST_CASE("failures are sorted into retryable or not, and never quote Twilio's message") {
  FakeTwilio fake;
  RestClient client(settings_for(fake));
  SECTION("500 and 429 are retryable") {
    fake.fail_status = 500;
    auto r = client.send_message(message());
    CHECK_FALSE(r.ok);
    CHECK(r.retryable);
    CHECK(r.http_status == 500);
    CHECK(r.reason == "HTTP 500, Twilio error 20500");
    fake.fail_status = 429;
    r = client.send_message(message());
    CHECK(r.retryable);
    CHECK(r.twilio_code == 20429);
  }
  SECTION("21610 (opted out) is final, and the number in Twilio's message is not repeated") {
    fake.refuse_to = "+14145551234";
    auto r = client.send_message(message());
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.retryable);
    CHECK(r.twilio_code == 21610);
    CHECK(r.reason.find("4145551234") == std::string::npos);
  }
  SECTION("an HTML error page") {
    fake.fail_status = 502;
    fake.malformed = true;
    auto r = client.send_message(message());
    CHECK(r.retryable);
    CHECK(r.reason == "HTTP 502, unreadable answer");
  }
  SECTION("no answer within the timeout") {
    fake.delay_ms = 1500;
    auto r = client.send_message(message());
    CHECK_FALSE(r.ok);
    CHECK(r.retryable);
    CHECK(r.http_status == 0);
    CHECK_THAT(r.reason, Catch::StartsWith("network: "));
  }
}

TEST_CASE("nothing listening is a retryable network error") {
  RestClient client({"http://127.0.0.1:1", "AC0", "t", 500, 500});
  auto r = client.send_message(message());
  CHECK_FALSE(r.ok);
  CHECK(r.retryable);
  CHECK(r.http_status == 0);
}

TEST_CASE("classify_response") {
  CHECK(classify_response(201, R"({"sid":"SMabc"})").sid == "SMabc");
  CHECK(classify_response(201, "not json").ok);  // accepted: sending again would duplicate it
  CHECK_FALSE(classify_response(400, R"({"code":21211,"message":"The 'To' number +1 is not valid"})").retryable);
  CHECK(classify_response(400, R"({"code":20429})").retryable);
  CHECK(classify_response(503, "").retryable);
  CHECK_FALSE(classify_response(401, R"({"code":20003})").retryable);
}
