// The supported deployment (issue #16, point 1): Debian's nginx, running the shipped
// deploy/nginx-hotline.conf (the very file deploy/nginx.conf includes), in front of a real
// hotline server. nginx waits for slow, idle and flooding clients itself and hands the server
// only whole requests, so a signed webhook is still answered within 1 s while 300 such clients
// and a header flood hit nginx, and Twilio's signature still verifies through the proxy.
//
// nginx runs as a child process of this test with its own prefix, config, pid file, logs and
// temp folders in a temporary directory, on an ephemeral port, and is stopped at the end. It must
// be installed (script/bootstrap installs Debian's `nginx`): without it this test FAILS, it is not
// skipped, so CI cannot pass without having run it.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "hotline_server.hpp"
#include "process.hpp"
#include "raw_http.hpp"
#include "slow_clients.hpp"

using namespace test_support;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kNginx = "/usr/sbin/nginx";
// The attackers come from another address than "Twilio" (127.0.0.1), as they would: nginx's
// per-client connection limit is per address.
const char* const kAttacker = "127.0.0.2";

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts(int port) {
  RawConnection c(port, 1);
  return c.connected();
}

// nginx in front of 127.0.0.1:`upstream`, with the shipped server block, in `dir`.
class Nginx {
 public:
  Nginx(const TempDir& dir, int upstream) : port_(free_port()) {
    for (const char* sub : {"logs", "tmp"}) std::filesystem::create_directories(dir.path() / sub);
    const std::string prefix = dir.str();
    // As root, nginx's workers would switch to `nobody`, who cannot use this test's folders.
    const std::string user = ::geteuid() == 0 ? "user root;\n" : "";
    const std::string conf = dir.write("nginx.conf", user +
        "worker_processes 1;\n"
        "pid " + prefix + "/nginx.pid;\n"
        "error_log " + prefix + "/logs/error.log warn;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "  client_body_temp_path " + prefix + "/tmp/body;\n"
        "  proxy_temp_path " + prefix + "/tmp/proxy;\n"
        "  fastcgi_temp_path " + prefix + "/tmp/fastcgi;\n"
        "  uwsgi_temp_path " + prefix + "/tmp/uwsgi;\n"
        "  scgi_temp_path " + prefix + "/tmp/scgi;\n"
        "  limit_conn_zone $binary_remote_addr zone=hotline_per_client:1m;\n"
        "  upstream hotline { server 127.0.0.1:" + std::to_string(upstream) +
        "; keepalive 16; keepalive_timeout 2s; }\n"
        "  server {\n"
        "    listen 127.0.0.1:" + std::to_string(port_) + ";\n"
        "    include " HOTLINE_SOURCE_DIR "/deploy/nginx-hotline.conf;\n"
        "  }\n"
        "}\n");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{kNginx, "-p", prefix, "-c", conf, "-g", "daemon off;"});
    const auto until = Clock::now() + 10s;
    while (!accepts(port_) && Clock::now() < until) std::this_thread::sleep_for(20ms);
    if (!accepts(port_)) {
      stop();
      FAIL("nginx did not start:\n" << process_->err() << read_file(prefix + "/logs/error.log"));
    }
  }
  ~Nginx() { stop(); }
  int port() const { return port_; }

 private:
  void stop() {
    if (!process_ || stopped_) return;
    stopped_ = true;
    process_->signal(SIGTERM);  // the master stops its workers, then exits
    process_->wait();
  }
  int port_;
  std::unique_ptr<Process> process_;
  bool stopped_ = false;
};

// A signed SMS webhook as Twilio sends it to https://hotline.example.org<target>, through nginx.
httplib::Result twilio_posts(int port, const std::string& target, const hotline::twilio::FormFields& form,
                             const std::string& token = kAuthToken) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(20, 0);
  const auto sig = hotline::twilio::compute_signature(token, kPublicUrl + target, form);
  return client.Post(target.c_str(),
                     {{"X-Twilio-Signature", sig}, {"Host", "hotline.example.org"},
                      {"X-Forwarded-Proto", "https"}, {"I-Twilio-Idempotency-Token", "proxy-test"}},
                     hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
}

double metric(HotlineServer& server, const std::string& series) {
  const std::string text = server.app().metrics().render();
  const auto at = text.find("\n" + series + " ");  // a sample line, not its # HELP line
  return at == std::string::npos ? 0 : std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("nginx is installed (script/bootstrap installs Debian's nginx)") {
  // Not a skip: the proxy is the supported deployment, and its test must run in CI.
  REQUIRE(::access(kNginx, X_OK) == 0);
  auto version = run({kNginx, "-v"});
  CHECK(version.exit_code == 0);
  CHECK(version.err.find("nginx/") != std::string::npos);
}

TEST_CASE("through nginx, signatures verify and a webhook is answered within 1 s while 300 "
          "slow or idle clients and a header flood hit the proxy") {
  REQUIRE(::access(kNginx, X_OK) == 0);
  TempDir dir, proxy_dir;
  HotlineServer server(test_config(dir));  // signatures on, 8 threads
  Nginx nginx(proxy_dir, server.port());

  // Signatures cover the URL Twilio called, query string included: nginx keeps it as it came,
  // and the server rebuilds it from HOTLINE_PUBLIC_URL, whatever Host nginx sends.
  auto signed_ok = twilio_posts(nginx.port(), "/twilio/sms?from=proxy", sms_form("+14145550160", "hola", "SMproxy0"));
  REQUIRE(signed_ok);
  CHECK(signed_ok->status == 200);
  CHECK(signed_ok->body.find("<Message>") != std::string::npos);
  auto forged = twilio_posts(nginx.port(), "/twilio/sms", sms_form("+14145550161", "hola", "SMproxyX"),
                             "not-the-auth-token-0123456789abcd");
  REQUIRE(forged);
  CHECK(forged->status == 403);
  // Only the webhooks are public.
  httplib::Client outside("127.0.0.1", nginx.port());
  auto metrics = outside.Get("/metrics");
  REQUIRE(metrics);
  CHECK(metrics->status == 404);

  SlowClients trickling(nginx.port(), 150, SlowClients::Kind::trickle, 1s, kAttacker);
  SlowClients idle(nginx.port(), 150, SlowClients::Kind::idle, 1s, kAttacker);
  HeaderFlood flood(nginx.port(), 2, kAttacker);
  std::this_thread::sleep_for(3s);  // every slow client connected and trickling

  for (int i = 1; i <= 5; ++i) {
    INFO("webhook " << i);
    const auto start = Clock::now();
    auto res = twilio_posts(nginx.port(), "/twilio/sms",
                            sms_form("+1414555017" + std::to_string(i), "hola", "SMproxy" + std::to_string(i)));
    const auto took = Clock::now() - start;
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("<Message>") != std::string::npos);
    CHECK(took < 1s);
    std::this_thread::sleep_for(1s);
  }
  trickling.stop();
  idle.stop();
  flood.stop();

  // nginx cut the slow clients itself (client_header_timeout 5 s) and refused the flood...
  CHECK(trickling.held().size() >= 150);
  CHECK(flood.sent() > 0);
  // ...and none of it reached the server: no request cut, no thread pool ever full.
  CHECK(metric(server, "hotline_http_requests_cut_total{reason=\"deadline\"}") == 0);
  CHECK(metric(server, "hotline_http_requests_cut_total{reason=\"head_too_large\"}") == 0);
  CHECK(metric(server, "hotline_http_pool_saturated_total") == 0);
}
