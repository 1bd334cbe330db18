// Graceful shutdown: a real `hotline serve` gets SIGTERM (or SIGINT) while a webhook is in
// flight, held open mid-body on a raw socket. The server must stop accepting connections, still
// read the rest of that request, answer it in full and commit it, then exit 0 with a `shutdown`
// log line.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <chrono>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "hotline/twilio/form.hpp"
#include "process.hpp"
#include "raw_http.hpp"

using namespace test_support;
using namespace std::chrono_literals;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;
const std::string kSecret = "shutdown-test-secret-0123456789";

std::vector<std::string> server_args(const TempDir& data, int threads = 4) {
  return {kHotline, "serve", "--port", "0", "--root", kRoot, "--config",
          data.write("hotline.yaml", "server:\n  threads: " + std::to_string(threads) + "\n")};
}

std::vector<std::string> server_env(const TempDir& data) {
  // Local mode (no TWILIO_AUTH_TOKEN): signatures are not checked.
  return {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
          "HOTLINE_SECRET=" + kSecret};
}

std::string sms_body(const std::string& sid, const std::string& from) {
  return hotline::twilio::encode_form({{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", from},
                                       {"To", "+14145550100"}, {"Body", "¿Puedo llamar a la policía?"},
                                       {"NumMedia", "0"}});
}

std::string request_head(std::size_t content_length, const std::string& request_id) {
  return "POST /twilio/sms HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\n"
         "Content-Length: " + std::to_string(content_length) + "\r\n"
         "Connection: close\r\nX-Request-Id: " + request_id + "\r\n\r\n";
}

// The log lines, parsed, in order.
std::vector<nlohmann::json> log_lines(const std::string& err) {
  std::vector<nlohmann::json> out;
  std::istringstream in(err);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) out.push_back(std::move(j));
  }
  return out;
}

// Index of the first line with this event (and request id, when given); -1 when none.
int index_of(const std::vector<nlohmann::json>& lines, const std::string& event, const std::string& request_id = "") {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].value("event", "") != event) continue;
    if (!request_id.empty() && lines[i].value("request_id", "") != request_id) continue;
    return static_cast<int>(i);
  }
  return -1;
}


// A complete, valid answer to an SMS webhook: 200, a body as long as Content-Length says,
// TwiML with a reply in it.
void check_full_answer(const std::string& answer, const std::string& request_id) {
  INFO("answer: " << answer);
  CHECK(answer.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(raw_header(answer, "X-Request-Id") == request_id);
  const std::string body = raw_body(answer);
  CHECK(raw_header(answer, "Content-Length") == std::to_string(body.size()));
  CHECK(body.find("<Response>") != std::string::npos);
  CHECK(body.find("<Message>") != std::string::npos);
  CHECK(body.find("</Response>") != std::string::npos);
}

}  // namespace

TEST_CASE("on SIGTERM a webhook in flight is answered in full, then serve exits 0") {
  const int sig = GENERATE(SIGTERM, SIGINT);
  TempDir data;
  Process server(server_args(data), "", server_env(data));
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);

  // Headers and half the body: the handler is running, reading the body.
  const std::string body = sms_body("SMshutdown0001", "+14145550142");
  const std::size_t half = body.size() / 2;
  RawConnection inflight(port);
  REQUIRE(inflight.connected());
  REQUIRE(inflight.send(request_head(body.size(), "inflight-1") + body.substr(0, half)));
  std::this_thread::sleep_for(300ms);

  const auto signalled = std::chrono::steady_clock::now();
  server.signal(sig);
  server.wait_for_stderr("\"event\":\"stopping\"");
  // It stops accepting while the request is still in flight.
  bool refused = false;
  for (int i = 0; i < 250 && !refused; ++i) {
    RawConnection probe(port, 1);
    refused = !probe.connected();
    if (!refused) std::this_thread::sleep_for(20ms);
  }
  CHECK(refused);

  // The rest of the body, well after the signal: the answer still comes, whole.
  std::this_thread::sleep_for(200ms);
  REQUIRE(inflight.send(body.substr(half)));
  const std::string answer = inflight.read_all();
  check_full_answer(answer, "inflight-1");

  CHECK(server.wait() == 0);
  CHECK((std::chrono::steady_clock::now() - signalled < 15s));
  const auto lines = log_lines(server.err());
  const int stopping = index_of(lines, "stopping");
  const int turn = index_of(lines, "sms", "inflight-1");
  const int access = index_of(lines, "http_request", "inflight-1");
  const int shutdown = index_of(lines, "shutdown");
  REQUIRE(stopping >= 0);
  REQUIRE(turn >= 0);
  REQUIRE(access >= 0);
  REQUIRE(shutdown >= 0);
  CHECK(stopping < turn);
  CHECK(turn < access);
  CHECK(access < shutdown);
  CHECK(lines[static_cast<std::size_t>(access)].value("status", 0) == 200);
  CHECK(lines[static_cast<std::size_t>(shutdown)].value("signal", "") == (sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  CHECK(lines[static_cast<std::size_t>(shutdown)]["duration_ms"].is_number());
  CHECK(lines[static_cast<std::size_t>(shutdown)].value("clean", false) == true);
  CHECK(static_cast<std::size_t>(shutdown) == lines.size() - 1);  // the last word

  // What it answered was committed before the store closed.
  CHECK(stored_response((data.path() / "hotline.sqlite3").string(), "SMshutdown0001", kSecret) == raw_body(answer));
}

TEST_CASE("on SIGTERM a request already accepted, waiting for a busy thread, is answered too") {
  TempDir data;
  Process server(server_args(data, 1), "", server_env(data));  // one thread: the second waits
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);

  const std::string first = sms_body("SMshutdown0002", "+14145550143");
  RawConnection busy(port);
  REQUIRE(busy.connected());
  REQUIRE(busy.send(request_head(first.size(), "busy-1") + first.substr(0, 10)));
  std::this_thread::sleep_for(300ms);
  const std::string second = sms_body("SMshutdown0003", "+14145550144");
  RawConnection queued(port);
  REQUIRE(queued.connected());
  REQUIRE(queued.send(request_head(second.size(), "queued-1") + second));
  std::this_thread::sleep_for(300ms);

  server.signal(SIGTERM);
  server.wait_for_stderr("\"event\":\"stopping\"");
  std::this_thread::sleep_for(300ms);
  REQUIRE(busy.send(first.substr(10)));
  check_full_answer(busy.read_all(), "busy-1");
  check_full_answer(queued.read_all(), "queued-1");
  CHECK(server.wait() == 0);
  CHECK(stored_response((data.path() / "hotline.sqlite3").string(), "SMshutdown0003", kSecret) != "");
}

TEST_CASE("an idle server stops at once on SIGTERM and exits 0") {
  TempDir data;
  Process server(server_args(data), "", server_env(data));
  REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
  const auto signalled = std::chrono::steady_clock::now();
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
  CHECK((std::chrono::steady_clock::now() - signalled < 3s));
  const auto lines = log_lines(server.err());
  const int shutdown = index_of(lines, "shutdown");
  REQUIRE(shutdown >= 0);
  CHECK(lines[static_cast<std::size_t>(shutdown)].value("signal", "") == "SIGTERM");
}
