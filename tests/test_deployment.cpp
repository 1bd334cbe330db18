// Deployment (issue #19): what an operator meets when starting the real binary in a container.
// - A data folder the server cannot write (a root-owned bind mount, a file where the folder
//   should be) stops the start with one line naming the path and the fix, exit status 1, never
//   an uncaught exception; with HOTLINE_SECRET set or not.
// - `hotline healthcheck` (the image's HEALTHCHECK) asks the port `serve` listens on, wherever
//   it is set: HOTLINE_PORT, the configuration file, --port.
// - The start-up wait for a database: its policy (delays, giving up, not retrying what waiting
//   cannot fix). tests/test_db_wait.cpp starts a real PostgreSQL late.
// Real processes, real files, real sockets.
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "hotline/app/store_wait.hpp"
#include "process.hpp"
#include "stderr_capture.hpp"

using namespace test_support;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> serve_args(const std::string& port = "0") {
  return {HOTLINE_BINARY, "serve", "--port", port, "--root", HOTLINE_SOURCE_DIR};
}

// Stops a server that started when it should not have, so the test fails instead of hanging.
RunResult run_expecting_refusal(std::vector<std::string> args, std::vector<std::string> env) {
  Process p(std::move(args), "", std::move(env));
  const std::string err = p.wait_for_stderr("not serving", 20);
  if (err.find("\"event\":\"serving\"") != std::string::npos) {
    p.signal(SIGTERM);
    p.wait();
    FAIL("the server started on a folder it cannot write:\n" << err);
  }
  RunResult r;
  r.exit_code = p.wait();
  r.out = p.out();
  r.err = p.err();
  return r;
}

// stderr's lines that are not JSON log lines (the log is one JSON object a line) nor `check`'s
// warnings (e.g. a source due for review, which depends on the date).
std::vector<std::string> plain_lines(const std::string& err) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < err.size()) {
    std::size_t end = err.find('\n', start);
    if (end == std::string::npos) end = err.size();
    const std::string line = err.substr(start, end - start);
    if (!line.empty() && line.front() != '{' && line.find(": warning[") == std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

// A TCP port on 127.0.0.1 that refuses connections while the socket lives: bound, never listening.
struct RefusingPort {
  RefusingPort() {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd); }
  int fd = -1;
  int port = 0;
};

// A port nothing uses right now (bound to 0, then freed), for a server told to take it.
int free_port() {
  RefusingPort p;
  return p.port;
}

const std::vector<std::vector<std::string>> kSecretOrNot = {{}, {"HOTLINE_SECRET=deployment-test-secret-0123456789"}};

}  // namespace

TEST_CASE("a data folder a file stands in for stops the start with one clear line") {
  // A path whose parent is a regular file: unwritable for every user, root included (tests may
  // run as root, whom permission bits do not stop).
  TempDir dir;
  const std::string file = dir.write("not-a-folder", "x");
  const std::string folder = file + "/data";
  for (const auto& extra : kSecretOrNot) {
    INFO((extra.empty() ? "without" : "with") << " HOTLINE_SECRET");
    auto env = extra;
    env.push_back("HOTLINE_DB=" + folder + "/hotline.sqlite3");
    const RunResult r = run_expecting_refusal(serve_args(), env);
    CHECK(r.exit_code == 1);
    const auto lines = plain_lines(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "hotline: not serving: cannot write to the data folder " + folder +
                          " (Not a directory): it holds the database, its lock and turn log; something that is not a "
                          "folder stands in the path: point HOTLINE_DB at a folder (docs/deployment.md, \"Data folder\")");
    CHECK(r.err.find("terminate") == std::string::npos);
    CHECK(r.err.find("filesystem_error") == std::string::npos);
  }
}

TEST_CASE("a root-owned data folder stops a server that runs as another user with one clear line") {
  TempDir dir;
  const std::string folder = (dir.path() / "data").string();
  std::filesystem::create_directories(folder);
  std::vector<std::string> as_other_user;
  std::string uid;
  if (::geteuid() == 0) {
    // Root writes anywhere, so the server runs as nobody (65534), as the image runs as 10001,
    // in a folder root owns: the bind mount of issue #19.
    if (::access("/usr/bin/setpriv", X_OK) != 0) {
      WARN("skipped: running as root without setpriv, so no other user to run the server as");
      return;
    }
    ::chmod(dir.str().c_str(), 0755);
    ::chmod(folder.c_str(), 0755);
    as_other_user = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
    uid = "65534";
  } else {
    ::chmod(folder.c_str(), 0500);  // not writable by its owner either
    uid = std::to_string(::geteuid());
  }
  const std::string gid = ::geteuid() == 0 ? "65534" : std::to_string(::getegid());
  for (const auto& extra : kSecretOrNot) {
    INFO((extra.empty() ? "without" : "with") << " HOTLINE_SECRET");
    auto args = as_other_user;
    for (auto& a : serve_args()) args.push_back(a);
    auto env = extra;
    env.push_back("HOTLINE_DB=" + folder + "/hotline.sqlite3");
    const RunResult r = run_expecting_refusal(args, env);
    CHECK(r.exit_code == 1);
    const auto lines = plain_lines(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0] == "hotline: not serving: cannot write to the data folder " + folder +
                          " (Permission denied): it holds the database, its lock and turn log; give it to the user "
                          "hotline runs as (uid " + uid + "), e.g. `chown -R " + uid + ":" + gid + " " + folder +
                          "` (docs/deployment.md, \"Data folder\")");
    CHECK_FALSE(std::filesystem::exists(folder + "/.local-secret"));
  }
  ::chmod(folder.c_str(), 0700);
}

TEST_CASE("`hotline healthcheck` asks the port the server was configured with") {
  SECTION("HOTLINE_PORT: serve listens on it and healthcheck asks it") {
    TempDir data;
    const std::string port = std::to_string(free_port());
    const std::vector<std::string> env = {"HOTLINE_PORT=" + port,
                                          "HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string()};
    Process server({HOTLINE_BINARY, "serve", "--root", HOTLINE_SOURCE_DIR}, "", env);
    REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) == std::stoi(port));
    const auto healthy = run({HOTLINE_BINARY, "healthcheck", "--root", HOTLINE_SOURCE_DIR}, "", env);
    CHECK(healthy.exit_code == 0);
    CHECK(healthy.out == "healthy: http://127.0.0.1:" + port + "/healthz answered 200\n");

    // The shipped config says 8080: without HOTLINE_PORT the check asks 8080, not this server.
    // (Unless something else answers /healthz on 8080 here, it fails; either way it is not this
    // server's answer, so only the URL it asked is checked.)
    const auto default_port = run({HOTLINE_BINARY, "healthcheck", "--root", HOTLINE_SOURCE_DIR}, "",
                                  {"HOTLINE_PORT="});
    CHECK((default_port.out + default_port.err).find("http://127.0.0.1:8080/healthz") != std::string::npos);

    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
    // The server stopped: the same check now fails, saying what it asked and what came back.
    const auto stopped = run({HOTLINE_BINARY, "healthcheck", "--root", HOTLINE_SOURCE_DIR}, "", env);
    CHECK(stopped.exit_code == 1);
    CHECK(stopped.err == "unhealthy: http://127.0.0.1:" + port + "/healthz could not connect (nothing listening?)\n");
  }
  SECTION("server.port in the configuration file") {
    TempDir data;
    const std::string port = std::to_string(free_port());
    const std::string config = data.write("hotline.yaml", "server:\n  port: " + port + "\n");
    const std::vector<std::string> env = {"HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string(),
                                          "HOTLINE_PORT="};
    Process server({HOTLINE_BINARY, "serve", "--root", HOTLINE_SOURCE_DIR, "--config", config}, "", env);
    REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) == std::stoi(port));
    const auto healthy =
        run({HOTLINE_BINARY, "healthcheck", "--root", HOTLINE_SOURCE_DIR, "--config", config}, "", env);
    CHECK(healthy.exit_code == 0);
    CHECK(healthy.out == "healthy: http://127.0.0.1:" + port + "/healthz answered 200\n");
    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
  }
  SECTION("nothing answering, and bad usage") {
    RefusingPort closed;
    const auto refused = run({HOTLINE_BINARY, "healthcheck", "--port", std::to_string(closed.port)});
    CHECK(refused.exit_code == 1);
    CHECK(refused.err == "unhealthy: http://127.0.0.1:" + std::to_string(closed.port) +
                             "/healthz could not connect (nothing listening?)\n");
    // Exit status 1 for every failure: Docker reserves 2.
    const auto bad_env = run({HOTLINE_BINARY, "healthcheck", "--root", HOTLINE_SOURCE_DIR}, "", {"HOTLINE_PORT=80a"});
    CHECK(bad_env.exit_code == 1);
    CHECK(bad_env.err == "environment: error[bad-number]: HOTLINE_PORT must be a whole number from 1 to 65535, not "
                         "'80a'\nunhealthy: cannot tell which port to ask (see above)\n");
    CHECK(run({HOTLINE_BINARY, "healthcheck", "--port", "x"}).exit_code == 1);
    CHECK(run({HOTLINE_BINARY, "healthcheck", "--bogus"}).exit_code == 1);
  }
}

TEST_CASE("serve refuses a HOTLINE_PORT or HOTLINE_DB_WAIT_SECONDS that is not a number it can use") {
  TempDir data;
  const std::string db = "HOTLINE_DB=" + (data.path() / "hotline.sqlite3").string();
  const auto port = run({HOTLINE_BINARY, "check", HOTLINE_SOURCE_DIR}, "", {db, "HOTLINE_PORT=80a"});
  CHECK(port.exit_code == 1);
  CHECK(port.out.find("environment: error[bad-number]: HOTLINE_PORT must be a whole number from 1 to 65535, not '80a'") !=
        std::string::npos);
  const auto wait = run({HOTLINE_BINARY, "check", HOTLINE_SOURCE_DIR}, "", {db, "HOTLINE_DB_WAIT_SECONDS=-1"});
  CHECK(wait.exit_code == 1);
  CHECK(wait.out.find("HOTLINE_DB_WAIT_SECONDS must be a whole number from 0 to 3600, not '-1'") != std::string::npos);
}

TEST_CASE("a replica whose PostgreSQL never comes up tries within HOTLINE_DB_WAIT_SECONDS, then gives up in one line") {
  RefusingPort nothing;  // real libpq, a real refused connection
  const std::string port = std::to_string(nothing.port);
  const auto started = std::chrono::steady_clock::now();
  const RunResult r = run(serve_args(), "",
                          {"HOTLINE_DB=postgresql://hotline:s3cret-pw@127.0.0.1:" + port + "/hotline",
                           "HOTLINE_SECRET=deployment-test-secret-0123456789", "HOTLINE_DB_WAIT_SECONDS=3"});
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(r.exit_code == 1);
  CHECK(took >= 3s);  // it waited 1 s, then 2 s, before the third and last try
  CHECK(r.err.find("s3cret-pw") == std::string::npos);
  CHECK(r.err.find("\"event\":\"database_unreachable\"") != std::string::npos);
  for (const char* attempt : {"\"attempt\":1", "\"attempt\":2", "\"attempt\":3"}) {
    CHECK(r.err.find(attempt) != std::string::npos);
  }
  CHECK(r.err.find("\"attempt\":4") == std::string::npos);
  const auto lines = plain_lines(r.err);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].rfind("hotline: not serving: cannot open the database postgresql://hotline:***@127.0.0.1:" + port +
                           "/hotline: cannot connect to PostgreSQL: ",
                       0) == 0);
  CHECK(lines[0].find("Connection refused") != std::string::npos);
}

TEST_CASE("SIGTERM while a replica waits for its database stops it at once, cleanly") {
  RefusingPort nothing;
  Process replica(serve_args(), "",
                  {"HOTLINE_DB=postgresql://hotline@127.0.0.1:" + std::to_string(nothing.port) + "/hotline",
                   "HOTLINE_SECRET=deployment-test-secret-0123456789", "HOTLINE_DB_WAIT_SECONDS=600"});
  REQUIRE(replica.wait_for_stderr("\"event\":\"database_unreachable\"").find("database_unreachable") !=
          std::string::npos);
  const auto signalled = std::chrono::steady_clock::now();
  replica.signal(SIGTERM);
  CHECK(replica.wait() == 0);
  CHECK(std::chrono::steady_clock::now() - signalled < 3s);  // not at the end of a 600 s wait
  CHECK(replica.err().find("stopped while waiting for the database") != std::string::npos);
}

TEST_CASE("the start-up wait for a database: doubling delays within the bound, then the last error") {
  using ms = std::chrono::milliseconds;
  hotline::app::StoreWait wait;  // the defaults `serve` uses with HOTLINE_DB_WAIT_SECONDS unset
  CHECK(hotline::app::retry_delays(wait) == std::vector<ms>{1s, 2s, 4s, 8s, 16s, 16s});  // 47 s of 60
  wait.total = 0s;
  CHECK(hotline::app::retry_delays(wait).empty());
  wait.total = 10s;
  CHECK(hotline::app::retry_delays(wait) == std::vector<ms>{1s, 2s, 4s});

  const std::string url = "postgresql://hotline:s3cret-pw@db.invalid:5432/hotline";
  std::vector<ms> paused;
  auto pause = [&](ms d) {
    paused.push_back(d);
    return true;
  };
  SECTION("an unreachable server is tried after each delay, each try logged without the password") {
    int tries = 0;
    StderrCapture log;
    auto opener = [&]() -> std::unique_ptr<hotline::store::SessionStore> {
      ++tries;
      throw hotline::store::StoreUnreachable("cannot connect to PostgreSQL: Connection refused");
    };
    CHECK_THROWS_AS(hotline::app::open_waiting(url, opener, wait, pause), hotline::store::StoreUnreachable);
    CHECK(tries == 4);
    CHECK(paused == std::vector<ms>{1s, 2s, 4s});
    const std::string text = log.text();
    CHECK(text.find("s3cret-pw") == std::string::npos);
    CHECK(text.find("postgresql://hotline:***@db.invalid:5432/hotline") != std::string::npos);
    CHECK(text.find("\"attempt\":1") != std::string::npos);
    CHECK(text.find("\"retry_in_s\":4.0") != std::string::npos);
    CHECK(text.find("giving up") != std::string::npos);
  }
  SECTION("what waiting cannot fix fails at once") {
    int tries = 0;
    auto opener = [&]() -> std::unique_ptr<hotline::store::SessionStore> {
      ++tries;
      throw hotline::store::StoreError("the database's schema is newer than this release");
    };
    CHECK_THROWS_AS(hotline::app::open_waiting(url, opener, wait, pause), hotline::store::StoreError);
    CHECK(tries == 1);
    CHECK(paused.empty());
  }
  SECTION("a stop during the wait ends it without another try") {
    int tries = 0;
    auto opener = [&]() -> std::unique_ptr<hotline::store::SessionStore> {
      ++tries;
      throw hotline::store::StoreUnreachable("cannot connect to PostgreSQL: the database system is starting up");
    };
    CHECK(hotline::app::open_waiting(url, opener, wait, [](ms) { return false; }) == nullptr);
    CHECK(tries == 1);
  }
}
