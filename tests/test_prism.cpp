// The REST client against Twilio's published OpenAPI description, served by Stoplight Prism as
// a validating mock: what we send must be a request the spec allows. And the fake Twilio the
// other tests use, the other way round: its list of messages must be an answer the spec allows,
// and one the official `twilio` client reads. Needs `npm ci` in tests/npm (script/bootstrap does it).
#include <catch2/catch.hpp>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "fake_twilio.hpp"
#include "hotline/twilio/rest_client.hpp"
#include "node_oracle.hpp"
#include "support.hpp"

using namespace hotline::twilio;
using namespace test_support;

namespace {

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

/// `prism mock` on a free port, in its own process group, stopped (group and all) at scope exit.
class Prism {
 public:
  Prism() {
    const std::string prism = std::string(HOTLINE_SOURCE_DIR) + "/tests/npm/node_modules/.bin/prism";
    spec_ = std::filesystem::weakly_canonical(std::string(HOTLINE_SOURCE_DIR) + "/tests/fixtures/twilio/twilio_api_v2010.json").string();
    if (!std::filesystem::exists(prism)) {
      FAIL("prism is not installed: run `npm ci` in tests/npm (script/bootstrap does it); looked for " + prism);
    }
    if (!std::filesystem::exists(spec_)) FAIL("Twilio's OpenAPI description is missing: " + spec_);
    port_ = free_port();
    REQUIRE(port_ > 0);
    log_ = (dir_.path() / "prism.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      FILE* out = std::freopen(log_.c_str(), "w", stdout);
      (void)out;
      dup2(fileno(stdout), 2);
      const std::string port = std::to_string(port_);
      execl(prism.c_str(), "prism", "mock", "-h", "127.0.0.1", "-p", port.c_str(), spec_.c_str(), nullptr);
      _exit(127);
    }
    setpgid(pid_, pid_);
    // Up within 25 s, or a clear failure with prism's own words.
    httplib::Client probe("127.0.0.1", port_);
    probe.set_connection_timeout(0, 200'000);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(25);
    while (std::chrono::steady_clock::now() < until) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("prism exited before it was ready:\n" + read_file(log_));
      }
      if (auto res = probe.Get("/")) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("prism did not start listening on port " + std::to_string(port_) + " within 25 s:\n" + read_file(log_));
  }
  ~Prism() {
    if (pid_ > 0) {
      kill(-pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      kill(-pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  int port() const { return port_; }
  std::string log() const { return read_file(log_); }

 private:
  TempDir dir_;
  std::string spec_, log_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("messages the REST client sends are valid under Twilio's OpenAPI description") {
  Prism prism;
  RestClient client({"http://127.0.0.1:" + std::to_string(prism.port()), "AC00000000000000000000000000000000",
                     "test-token", 2000, 10000});
  OutboundSms sms{"+14145551234", "+15550100000", "", "¿Cómo está? Una persona de apoyo le escribirá.",
                  "https://hotline.example.org/twilio/status"};
  auto r = client.send_message(sms);
  INFO(r.reason << "\n" << prism.log());
  CHECK(r.ok);
  CHECK(r.http_status == 201);

  sms.from.clear();
  sms.messaging_service_sid = "MG00000000000000000000000000000000";
  sms.status_callback.clear();
  r = client.send_message(sms);
  INFO(r.reason);
  CHECK(r.ok);

  // The mock really validates: a request without `To` or without credentials is refused,
  // so the 201s above mean something.
  httplib::Client raw("127.0.0.1", prism.port());
  raw.set_basic_auth("AC00000000000000000000000000000000", "test-token");
  auto res = raw.Post("/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
                      "From=%2B15550100000&Body=hi", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 422);
  httplib::Client anonymous("127.0.0.1", prism.port());
  res = anonymous.Post("/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json",
                       "To=%2B14145551234&From=%2B15550100000&Body=hi", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 401);
}

TEST_CASE("a callback call the REST client places is valid under Twilio's OpenAPI description") {
  Prism prism;
  RestClient client({"http://127.0.0.1:" + std::to_string(prism.port()), "AC00000000000000000000000000000000",
                     "test-token", 2000, 10000});
  auto r = client.place_call({"+15550100001", "+15550100000", "https://hotline.example.org/twilio/voice/callback?code=K7M"});
  INFO(r.reason << "\n" << prism.log());
  CHECK(r.ok);
  CHECK(r.http_status == 201);
  CHECK(r.sid.rfind("CA", 0) == 0);  // the spec's example Call resource
  // The mock validates calls too: without Url (or Twiml / ApplicationSid) it is refused.
  httplib::Client raw("127.0.0.1", prism.port());
  raw.set_basic_auth("AC00000000000000000000000000000000", "test-token");
  auto res = raw.Post("/2010-04-01/Accounts/AC00000000000000000000000000000000/Calls.json",
                      "From=%2B15550100000", "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 422);
}

TEST_CASE("list requests the REST client makes are valid under Twilio's OpenAPI description") {
  Prism prism;
  RestClient client({"http://127.0.0.1:" + std::to_string(prism.port()), "AC00000000000000000000000000000000",
                     "test-token", 2000, 10000});
  MessageQuery q;
  q.to = "+14145551234";
  q.from = "+15550100000";
  q.created_since_ms = 1'600'000'000'000;  // after the spec's example messages (2019): one page is enough
  auto r = client.list_messages(q);
  INFO(r.reason << "\n" << prism.log());
  CHECK(r.http_status == 200);
  REQUIRE(r.ok);
  // Prism answers with the spec's own example page, which our parser reads, dates included.
  REQUIRE_FALSE(r.messages.empty());
  CHECK(r.messages[0].sid == "SMded05904ccb347238880ca9264e8fe1c");
  CHECK(r.messages[0].created_ms == 1'558'719'886'000);  // Fri, 24 May 2019 17:44:46 +0000
  q.from.clear();
  q.page_size = 1001;  // over the spec's maximum: the mock must refuse it, so the 200 above means something
  r = client.list_messages(q);
  CHECK(r.http_status == 422);
}

TEST_CASE("the fake's list of messages is what Twilio's spec describes, and the official client reads it") {
  const std::string account = "AC00000000000000000000000000000000";
  const std::string to = "+14145551234", from = "+15550100000";
  FakeTwilio fake;
  RestClient client({fake.base(), account, "test-token", 2000, 5000});
  auto send = [&](const std::string& number, const std::string& body, const std::string& service = "") {
    OutboundSms m{number, service.empty() ? from : "", service, body, ""};
    REQUIRE(client.send_message(m).ok);
  };
  send(to, "Nueva conversación K7 (es): ¿puedo llamar a la policía?");
  send(to, "K7: gracias & adiós");
  send("+14145559999", "para otra persona");
  send(to, "por un servicio", "MG00000000000000000000000000000001");
  send(to, "el último");

  // Pages as the fake serves them: the first of two to `to` from `from`, and the one after it.
  httplib::Client raw("127.0.0.1", std::stoi(fake.base().substr(fake.base().rfind(':') + 1)));
  raw.set_basic_auth(account, "test-token");
  auto first = raw.Get("/2010-04-01/Accounts/" + account + "/Messages.json?To=%2B14145551234&From=%2B15550100000&PageSize=2");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  const auto next = nlohmann::json::parse(first->body).at("next_page_uri").get<std::string>();
  auto second = raw.Get(next);
  REQUIRE(second);
  REQUIRE(second->status == 200);
  auto service = raw.Get("/2010-04-01/Accounts/" + account + "/Messages.json?To=%2B14145551234");
  REQUIRE(service);

  const nlohmann::json input = {
      {"spec", std::filesystem::weakly_canonical(std::string(HOTLINE_SOURCE_DIR) + "/tests/fixtures/twilio/twilio_api_v2010.json").string()},
      {"base", fake.base()}, {"account", account}, {"token", "test-token"}, {"to", to}, {"from", from},
      {"page_size", 2}, {"pages", {first->body, second->body, service->body}}};
  const auto out = nlohmann::json::parse(run_node("list_messages.js", input.dump()));
  INFO(out.dump(2));
  CHECK(out.at("schema_errors").empty());
  CHECK(out.at("broken_accepted").empty());  // the validator really validates

  // What the official client read, across the fake's pages: ours to `to` from `from`, newest first.
  std::vector<FakeRequest> expected;
  for (const auto& r : fake.delivered()) {
    if (r.to == to && r.from == from) expected.insert(expected.begin(), r);
  }
  const auto& listed = out.at("listed");
  REQUIRE(listed.size() == expected.size());
  REQUIRE(expected.size() == 3);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(listed[i].at("sid") == expected[i].sid);
    CHECK(listed[i].at("to") == to);
    CHECK(listed[i].at("from") == from);
    CHECK(listed[i].at("body") == expected[i].body);
    CHECK(listed[i].at("dateCreatedMs") == expected[i].created_s * 1000);
  }
  // And the hotline's own client reads the same from the fake.
  MessageQuery q;
  q.to = to;
  q.from = from;
  q.page_size = 2;
  auto ours = client.list_messages(q);
  REQUIRE(ours.ok);
  REQUIRE(ours.messages.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(ours.messages[i].sid == listed[i].at("sid").get<std::string>());
    CHECK(ours.messages[i].created_ms == listed[i].at("dateCreatedMs").get<std::int64_t>());
  }
}
