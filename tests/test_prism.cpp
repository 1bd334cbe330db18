// The REST client against Twilio's published OpenAPI description, served by Stoplight Prism as
// a validating mock: what we send must be a request the spec allows. Needs `npm ci` in tests/npm
// (script/bootstrap does it).
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

#include "hotline/twilio/rest_client.hpp"
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
    spec_ = std::filesystem::weakly_canonical(std::string(HOTLINE_SOURCE_DIR) + "/../shared/twilio/twilio_api_v2010.json").string();
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
