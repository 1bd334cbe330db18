// A replica started before its database (issue #19, point 4): docker compose on a fresh volume,
// or a reboot, can start `hotline serve` while PostgreSQL is not accepting connections yet. The
// replica must wait and try again, saying so each time, and serve once the database is up,
// instead of exiting at once. A real PostgreSQL server of the test's own is started late on a
// TCP port the replica was already pointed at. Skipped (exit 77) when no PostgreSQL server could
// be started for this run (script/with-postgres found none).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "postgres_support.hpp"
#include "process.hpp"
#include "raw_http.hpp"

using namespace test_support;

namespace {

// Debian's PostgreSQL binaries, as script/with-postgres finds them.
std::string postgres_bindir() {
  std::string best;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const auto bin = e.path() / "bin";
    if (std::filesystem::exists(bin / "pg_ctl") && bin.string() > best) best = bin.string();
  }
  return best;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// A PostgreSQL cluster of this test's own, made at once and started when asked, on 127.0.0.1.
// As root (initdb refuses root) it runs as the postgres user, as script/with-postgres does.
class LatePostgres {
 public:
  explicit LatePostgres(int port) : port_(port), bindir_(postgres_bindir()) {
    std::filesystem::permissions(dir_.path(), std::filesystem::perms::all);
    if (::geteuid() == 0) as_owner_ = "runuser -u postgres -- ";
    made_ = !bindir_.empty() &&
            shell(bindir_ + "/initdb -D " + data() + " -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >" +
                  dir_.str() + "/initdb.log 2>&1");
  }
  ~LatePostgres() {
    if (started_) shell(bindir_ + "/pg_ctl -D " + data() + " -m immediate stop >/dev/null 2>&1");
  }
  bool made() const { return made_; }
  bool start() {
    started_ = shell(bindir_ + "/pg_ctl -D " + data() + " -l " + dir_.str() + "/server.log -w -t 30 -o \"" +
                     "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " + dir_.str() +
                     " -c fsync=off\" start >/dev/null 2>&1");
    return started_;
  }
  std::string url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"; }

 private:
  std::string data() const { return dir_.str() + "/data"; }
  bool shell(const std::string& command) const { return std::system((as_owner_ + command).c_str()) == 0; }

  TempDir dir_;
  int port_;
  std::string bindir_, as_owner_;
  bool made_ = false, started_ = false;
};

}  // namespace

TEST_CASE("a replica started before PostgreSQL waits, says so each try, and serves once it is up") {
  LatePostgres postgres(free_port());
  REQUIRE(postgres.made());
  TempDir dir;
  Process replica({HOTLINE_BINARY, "serve", "--port", "0", "--root", HOTLINE_SOURCE_DIR}, "",
                  {"HOTLINE_DB=" + postgres.url(), "HOTLINE_SECRET=db-wait-test-secret-0123456789",
                   "HOTLINE_DB_WAIT_SECONDS=60"});
  // Nothing listens yet: the first try fails, is logged, and the replica is still running.
  const std::string before = replica.wait_for_stderr("\"event\":\"database_unreachable\"", 20);
  REQUIRE(before.find("\"event\":\"database_unreachable\"") != std::string::npos);
  CHECK(before.find("\"attempt\":1") != std::string::npos);
  CHECK(before.find("\"retry_in_s\":1.0") != std::string::npos);
  CHECK(before.find("not serving") == std::string::npos);

  REQUIRE(postgres.start());
  const std::string log = replica.wait_for_stderr("\"event\":\"serving\"", 40);
  const int port = port_of(log);
  REQUIRE(port > 0);
  CHECK(log.find("\"event\":\"database_reached\"") != std::string::npos);
  RawConnection readiness(port, 10);
  REQUIRE(readiness.send("GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  CHECK(readiness.read_response().rfind("HTTP/1.1 200 ", 0) == 0);
  replica.signal(SIGTERM);
  CHECK(replica.wait() == 0);
}

int main(int argc, char** argv) { return test_support::run_with_postgres(argc, argv); }
