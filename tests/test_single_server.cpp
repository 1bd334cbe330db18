// One `hotline serve` per port and per SQLite database (issue #16, point 3). Two servers on one
// port used to share it silently (httplib sets SO_REUSEPORT) and split the messages; two on one
// SQLite file lost turns. A second one must refuse to start and say why, while `hotline forget`,
// a short-lived connection of its own by design, still works beside the running server.
// Real processes, real files, real sockets.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "fake_twilio.hpp"  // eventually()
#include "hotline/twilio/form.hpp"
#include "process.hpp"
#include "raw_http.hpp"

using namespace test_support;
using namespace std::chrono_literals;

namespace {

const std::string kSecretValue = "single-server-test-secret-0123";
const std::string kSecret = "HOTLINE_SECRET=" + kSecretValue;

std::vector<std::string> serve_args(const std::string& port) {
  return {HOTLINE_BINARY, "serve", "--port", port, "--root", HOTLINE_SOURCE_DIR};
}

std::string db_env(const TempDir& dir) { return "HOTLINE_DB=" + (dir.path() / "hotline.sqlite3").string(); }

// Waits for a second server to give up (it must) and returns its stderr; if it starts serving
// instead, stops it and fails.
std::string refusal_of(Process& second) {
  const std::string err = second.wait_for_stderr("not serving", 15);
  if (err.find("not serving") == std::string::npos) {
    second.signal(SIGTERM);
    second.wait();
    FAIL("the second server did not refuse to start:\n" << err);
  }
  CHECK(second.wait() == 1);
  return second.err();
}

}  // namespace

TEST_CASE("a second `hotline serve` on the same port or the same SQLite file refuses to start") {
  TempDir data;
  Process first(serve_args("0"), "", {db_env(data), kSecret});
  const int port = port_of(first.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);

  SECTION("the same port, another database") {
    TempDir other;
    Process second(serve_args(std::to_string(port)), "", {db_env(other), kSecret});
    const std::string err = refusal_of(second);
    CHECK(err.find("cannot listen on 127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(err.find("another `hotline serve`") != std::string::npos);
  }
  SECTION("the same database, another port") {
    Process second(serve_args("0"), "", {db_env(data), kSecret});
    const std::string err = refusal_of(second);
    CHECK(err.find("another `hotline serve` is already serving") != std::string::npos);
    CHECK(err.find("PostgreSQL") != std::string::npos);  // the way to run several
  }
  SECTION("`hotline forget` still works beside the running server") {
    const std::string body = hotline::twilio::encode_form(
        {{"MessageSid", "SMsingle1"}, {"From", "+14145550177"}, {"To", "+14145550100"}, {"Body", "hola"}});
    RawConnection raw(port, 10);
    REQUIRE(raw.send("POST /twilio/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    REQUIRE(raw.read_response().rfind("HTTP/1.1 200 ", 0) == 0);
    const std::string db = (data.path() / "hotline.sqlite3").string();
    REQUIRE(eventually([&] { return !stored_response(db, "SMsingle1", kSecretValue).empty(); }));
    auto forgotten = run({HOTLINE_BINARY, "forget", "+14145550177", "--root", HOTLINE_SOURCE_DIR}, "",
                         {db_env(data), kSecret});
    CHECK(forgotten.exit_code == 0);
    CHECK(stored_response(db, "SMsingle1", kSecretValue).empty());
  }
  // The first server was not disturbed, and a server started after it stops takes over.
  first.signal(SIGTERM);
  CHECK(first.wait() == 0);
  Process next(serve_args(std::to_string(port)), "", {db_env(data), kSecret});
  CHECK(port_of(next.wait_for_stderr("\"event\":\"serving\"")) == port);
  next.signal(SIGTERM);
  CHECK(next.wait() == 0);
}
