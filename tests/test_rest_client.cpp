// The Twilio REST client against a local fake: the request it sends and how it sorts answers.
#include <catch2/catch.hpp>

#include "fake_twilio.hpp"
#include "hotline/common/clock.hpp"
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
  CHECK(r.sid == FakeTwilio::sid_of(1000));
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

TEST_CASE("whether a failed send may have reached Twilio") {
  FakeTwilio fake;
  RestClient client(settings_for(fake));
  fake.fail_status = 500;
  CHECK(client.send_message(message()).outcome_unknown);  // Twilio may have created it first
  fake.fail_status = 429;
  CHECK_FALSE(client.send_message(message()).outcome_unknown);  // never processed
  fake.fail_status = 0;
  fake.delay_ms = 1500;
  CHECK(client.send_message(message()).outcome_unknown);  // went out, no answer in time
  RestClient nowhere({"http://127.0.0.1:1", "AC0", "t", 500, 500});
  CHECK_FALSE(nowhere.send_message(message()).outcome_unknown);  // never left
  CHECK_FALSE(classify_response(400, R"({"code":21211})").outcome_unknown);
}

TEST_CASE("parse_rfc2822 reads Twilio's dates") {
  CHECK(parse_rfc2822("Mon, 16 Aug 2010 03:45:01 +0000") == 1281930301000);
  CHECK(parse_rfc2822("Fri, 24 May 2019 17:44:46 +0000") == 1558719886000);
  CHECK(parse_rfc2822("16 Aug 2010 03:45 +0000") == 1281930300000);
  CHECK(parse_rfc2822("Sun, 15 Aug 2010 22:45:01 -0500") == 1281930301000);
  CHECK(parse_rfc2822("Thu, 29 Feb 2024 00:00:00 +0000") == 1709164800000);
  for (const char* bad : {"", "2010-08-16T03:45:01Z", "Mon, 16 Aug 2010 03:45:01", "Mon, 16 Foo 2010 03:45:01 +0000",
                          "Xyz, 16 Aug 2010 03:45:01 +0000", "Mon, 32 Aug 2010 03:45:01 +0000",
                          "Mon, 16 Aug 2010 24:00:00 +0000", "Mon, 16 Aug 2010 03:45:01 +0000 trailing"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc2822(bad));
  }
  // Against the fake's own formatter, over a spread of instants.
  for (std::int64_t s = 0; s < 4'000'000'000; s += 86'399'937) {
    INFO(rfc2822(s));
    CHECK(parse_rfc2822(rfc2822(s)) == s * 1000);
  }
}

TEST_CASE("list_messages reads Twilio's list: filtered, newest first, page after page") {
  FakeTwilio fake;
  RestClient client(settings_for(fake));
  auto to = [](const std::string& number, const std::string& body) {
    OutboundSms m = message();
    m.to = number;
    m.body = body;
    return m;
  };
  for (int i = 0; i < 5; ++i) REQUIRE(client.send_message(to("+14145551234", "mensaje " + std::to_string(i))).ok);
  REQUIRE(client.send_message(to("+14145559999", "otro")).ok);
  const std::int64_t before = (hotline::system_now_ms() / 1000 - 60) * 1000;

  MessageQuery q;
  q.to = "+14145551234";
  q.from = "+15550100000";
  q.created_since_ms = before;
  auto r = client.list_messages(q);
  INFO(r.reason);
  REQUIRE(r.ok);
  REQUIRE(r.messages.size() == 5);
  CHECK(r.messages[0].body == "mensaje 4");  // newest first
  CHECK(r.messages[4].body == "mensaje 0");
  CHECK(r.messages[0].sid == FakeTwilio::sid_of(1004));
  CHECK(r.messages[0].to == "+14145551234");
  CHECK(r.messages[0].from == "+15550100000");
  CHECK(r.messages[0].created_ms >= before);
  CHECK(r.messages[0].created_ms <= hotline::system_now_ms());
  auto lists = fake.list_requests();
  REQUIRE(lists.size() == 1);
  CHECK(lists[0].query == "To=%2B14145551234&From=%2B15550100000&PageSize=100");
  CHECK(lists[0].authorization == fake.requests()[0].authorization);

  SECTION("pages are followed until one reaches back before the send") {
    q.page_size = 2;
    r = client.list_messages(q);
    REQUIRE(r.ok);
    CHECK(r.messages.size() == 5);
    CHECK(fake.list_requests().size() == 1 + 3);
    // Once a page holds a message older than wanted, the rest are older still.
    q.created_since_ms = hotline::system_now_ms() + 3'600'000;
    r = client.list_messages(q);
    CHECK(r.ok);
    CHECK(r.messages.size() == 2);
  }
  SECTION("more pages than allowed is a failed lookup, not a complete one") {
    q.page_size = 1;
    q.max_pages = 3;
    r = client.list_messages(q);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "more than 3 pages of messages since then");
  }
  SECTION("a Messaging Service's messages are listed by recipient alone") {
    q.from.clear();
    r = client.list_messages(q);
    REQUIRE(r.ok);
    CHECK(fake.list_requests().back().query == "To=%2B14145551234&PageSize=100");
  }
  SECTION("failures say why without Twilio's words") {
    fake.list_fail_status = 500;
    r = client.list_messages(q);
    CHECK_FALSE(r.ok);
    CHECK(r.http_status == 500);
    CHECK(r.reason == "HTTP 500, Twilio error 20001");
    RestClient nowhere({"http://127.0.0.1:1", "AC0", "t", 500, 500});
    r = nowhere.list_messages(q);
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.reason, Catch::StartsWith("network: "));
  }
}

TEST_CASE("parse_message_page takes only a list of messages") {
  CHECK_FALSE(parse_message_page("not json"));
  CHECK_FALSE(parse_message_page(R"({"code": 20404})"));
  auto page = parse_message_page(
      R"({"messages": [{"sid": "SMa", "to": "+1", "from": null, "body": "x", "date_created": "junk"}], "next_page_uri": null})");
  REQUIRE(page);
  REQUIRE(page->messages.size() == 1);
  CHECK(page->messages[0].from.empty());
  CHECK(page->messages[0].created_ms == 0);
  CHECK(page->next_page_uri.empty());
}
