#pragma once
// A fresh, empty schema on the PostgreSQL server that script/with-postgres started, per test.
// Each schema is a separate hotline database as far as the store can tell (the URL sets its
// search_path), so tests running at once never see each other's rows.
#include <catch2/catch.hpp>  // after the test file's CATCH_CONFIG_RUNNER
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace test_support {

/// HOTLINE_TEST_PG, or "" when no server was started for this run.
inline std::string postgres_server_url() {
  const char* url = std::getenv("HOTLINE_TEST_PG");
  return url ? url : "";
}

/// Runs SQL on the test server as its superuser; throws with the server's message on failure.
inline void postgres_admin(const std::string& sql, const std::string& url = postgres_server_url()) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("test postgres: " + why);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  std::string why = ok ? "" : PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) throw std::runtime_error("test postgres: " + why + " in: " + sql);
}

/// One value from a query on `url` ("" when no row).
inline std::string postgres_value(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string value;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) value = PQgetvalue(r, 0, 0);
    PQclear(r);
  }
  PQfinish(c);
  return value;
}

/// Creates an empty schema and returns a URL whose connections use it.
inline std::string fresh_postgres_url() {
  static std::atomic<int> counter{0};
  const std::string schema = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
                             std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000);
  postgres_admin("CREATE SCHEMA " + schema);
  const std::string base = postgres_server_url();
  return base + (base.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

/// main() of a test executable that needs the server: without one it prints why and exits 77,
/// which CTest reports as skipped (SKIP_RETURN_CODE in CMakeLists.txt).
inline int run_with_postgres(int argc, char** argv) {
  if (postgres_server_url().empty()) {
    std::puts("SKIPPED: HOTLINE_TEST_PG is not set, so there is no PostgreSQL server for this run "
              "(script/test starts one with script/with-postgres)");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

}  // namespace test_support
