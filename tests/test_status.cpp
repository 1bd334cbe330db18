// `hotline status` and GET /admin/status (#18.1): what the running server serves, and why an
// edit is not live, in one command. Real processes: `hotline serve` on a real port with real
// SQLite files, its own file watcher, and the `hotline` binary asking it.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "process.hpp"

using namespace test_support;
namespace fs = std::filesystem;

namespace {

const std::string kHotline = HOTLINE_BINARY;
const std::string kAdminToken = "status-test-admin-token-0123456789";

// A port nothing listens on right now (the kernel's pick), for a config file to name.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

void edit(const TempDir& dir, const std::string& relative, const std::string& from, const std::string& to) {
  std::string text = read_file((dir.path() / relative).string());
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  dir.write(relative, text);
}

std::vector<std::string> env_for(const TempDir& data) {
  return {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN=",
          "HOTLINE_SECRET=status-test-secret-0123456789", "HOTLINE_ADMIN_TOKEN="};
}

/// `hotline status ARGS` run from `folder`, as staff type it there, with this admin token.
RunResult status_from(const fs::path& folder, const std::string& args = "", const std::string& token = "") {
  return run({"/bin/sh", "-c", "cd '" + folder.string() + "' && exec '" + kHotline + "' status " + args}, "",
             {"HOTLINE_ADMIN_TOKEN=" + token});
}

/// The text with versions and times replaced, so the rest is compared exactly.
std::string normalized(const std::string& text) {
  std::string out = std::regex_replace(text, std::regex("version [0-9a-f]{12}"), "version <v>");
  return std::regex_replace(out, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC"), "<time>");
}

/// The versions named in the text, in order.
std::vector<std::string> versions_in(const std::string& text) {
  std::vector<std::string> found;
  const std::regex version("version ([0-9a-f]{12})");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), version); it != std::sregex_iterator(); ++it) {
    found.push_back((*it)[1]);
  }
  return found;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

bool eventually(const std::function<bool()>& test) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < until) {
    if (test()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

/// The error lines of `hotline check` run in `folder`: what status run there must repeat word
/// for word.
std::string check_errors(const fs::path& folder, const std::vector<std::string>& env) {
  auto r = run({"/bin/sh", "-c", "cd '" + folder.string() + "' && exec '" + kHotline + "' check"}, "", env);
  std::istringstream in(r.out);
  std::string errors;
  for (std::string line; std::getline(in, line);) {
    if (line.find(": error[") != std::string::npos) errors += line + "\n";
  }
  return errors;
}

}  // namespace

TEST_CASE("hotline status, run in flows/, finds a refused edit in one command, in check's words") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  const int port = free_port();
  edit(tree, "config/hotline.yaml", "  port: 8080\n", "  port: " + std::to_string(port) + "\n");
  const auto env = env_for(data);
  // Started as script/server starts it: in the hotline folder, which is then ".".
  Process server({"/bin/sh", "-c", "cd '" + tree.str() + "' && exec '" + kHotline + "' serve"}, "", env);
  REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) == port);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const fs::path flows = tree.path() / "flows";

  // Serving what is on disk: exit 0.
  auto fine = status_from(flows);
  CHECK(fine.exit_code == 0);
  CHECK(normalized(fine.out) == "server: " + url + "\n"
                                "serving: flow 'hotline', version <v>, since <time> (loaded when the server started)\n"
                                "files on disk: version <v>, the one serving\n");
  const auto started = versions_in(fine.out);
  REQUIRE(started.size() == 2);
  CHECK(started[0] == started[1]);

  // A misspelt step: the watcher refuses it and the old version keeps serving.
  edit(tree, "flows/hotline.yaml", "    go: police_discretion\n", "    go: police_discretoin\n");
  REQUIRE(eventually([&] { return count_of(server.err(), "\"event\":\"reload_refused\"") == 1; }));
  const std::string errors = check_errors(flows, env);
  REQUIRE(count_of(errors, "\n") == 1);
  CHECK_THAT(errors, Catch::StartsWith("../flows/hotline.yaml:") && Catch::Contains("police_discretoin"));
  auto refused = status_from(flows);
  CHECK(refused.exit_code == 1);
  CHECK(normalized(refused.out) ==
        "server: " + url + "\n"
        "serving: flow 'hotline', version <v>, since <time> (loaded when the server started)\n"
        "files on disk: version <v>, REFUSED at <time> (after an edit) with 1 error(s):\n" + errors +
        "The server keeps serving version <v>. Fix the errors above (`hotline check` lists the same); the server "
        "loads the files within a second of an edit that passes.\n");
  const auto now = versions_in(refused.out);
  REQUIRE(now.size() == 3);
  CHECK(now[0] == started[0]);  // still serving what it started with
  CHECK(now[1] != started[0]);  // the files on disk are another version
  CHECK(now[2] == started[0]);
  CHECK(refused.err.empty());

  // Fixed (put back as it was): served again, under the version it had, since the reload.
  edit(tree, "flows/hotline.yaml", "    go: police_discretoin\n", "    go: police_discretion\n");
  REQUIRE(eventually([&] { return count_of(server.err(), "\"event\":\"reloaded\"") == 1; }));
  auto fixed = status_from(tree.path() / "prompts");
  CHECK(fixed.exit_code == 0);
  CHECK(normalized(fixed.out) == "server: " + url + "\n"
                                 "serving: flow 'hotline', version <v>, since <time> (loaded after an edit)\n"
                                 "files on disk: version <v>, the one serving\n");
  CHECK(versions_in(fixed.out) == started);

  // A configuration edit passes, but waits for a restart: not live either.
  edit(tree, "config/hotline.yaml", "idle_minutes: 60", "idle_minutes: 61");
  REQUIRE(eventually([&] { return count_of(server.err(), "\"event\":\"reloaded\"") == 2; }));
  auto restart = status_from(tree.path());
  CHECK(restart.exit_code == 1);
  CHECK(normalized(restart.out) ==
        "server: " + url + "\n"
        "serving: flow 'hotline', version <v>, since <time> (loaded after an edit)\n"
        "files on disk: version <v>, the one serving\n"
        "waiting for a restart (a reload puts only flows, prompts and `details:` in service):\n"
        "./config/hotline.yaml: warning[restart-needed]: this file changed since the server started: "
        "`details:` are in use now, every other setting takes effect at the next restart\n");

  // No server: exit 2, and what to do.
  server.signal(SIGTERM);
  REQUIRE(server.wait() == 0);
  auto gone = status_from(flows);
  CHECK(gone.exit_code == 2);
  CHECK(gone.out.empty());
  CHECK(gone.err == "hotline status: cannot reach the server at " + url +
                        " (nothing is listening there). Is `hotline serve` running? It listens at HOTLINE_PORT, else the port in "
                        "config/hotline.yaml (`server: port:`); if it was started with --port, name it: --url "
                        "http://127.0.0.1:PORT\n");
}

TEST_CASE("GET /admin/status: JSON for tools, behind HOTLINE_ADMIN_TOKEN when it is set, and status sends it") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  auto env = env_for(data);
  env.push_back("HOTLINE_ADMIN_TOKEN=" + kAdminToken);
  Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);

  httplib::Client client("127.0.0.1", port);
  auto refused = client.Get("/admin/status");
  REQUIRE(refused);
  CHECK(refused->status == 401);
  auto answer = client.Get("/admin/status", {{"Authorization", "Bearer " + kAdminToken}});
  REQUIRE(answer);
  CHECK(answer->status == 200);
  const auto status = nlohmann::json::parse(answer->body);
  CHECK(status["flow"] == "hotline");
  CHECK(status["root"] == tree.str());
  CHECK(status["serving"]["from_disk"] == true);
  CHECK(status["serving"]["reason"] == "start");
  CHECK(std::regex_match(status["serving"]["since"].get<std::string>(),
                         std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")));
  CHECK(status["serving"]["version"].get<std::string>().size() == 12);
  CHECK(status["disk"]["version"] == status["serving"]["version"]);
  CHECK(status["disk"]["serving"] == true);
  CHECK(status["last_refusal"].is_null());

  // Staff without the token are told what to set, not shown a 401.
  auto without = status_from(tree.path(), "--url " + url);
  CHECK(without.exit_code == 2);
  CHECK(without.err == "hotline status: the server at " + url +
                           " refused (401): set HOTLINE_ADMIN_TOKEN to the server's token, or run this on the "
                           "server's machine\n");
  auto with = status_from(tree.path(), "--url " + url + "/", kAdminToken);
  CHECK(with.exit_code == 0);
  CHECK_THAT(with.out, Catch::StartsWith("server: " + url + "\nserving: flow 'hotline', version "));

  // A refused edit, structured: file, line, column, code and message of each error.
  tree.write("prompts/en.yaml", read_file((tree.path() / "prompts/en.yaml").string()) + "broken: [unclosed\n");
  REQUIRE(eventually([&] { return server.err().find("\"event\":\"reload_refused\"") != std::string::npos; }));
  const auto after = nlohmann::json::parse(client.Get("/admin/status", {{"Authorization", "Bearer " + kAdminToken}})->body);
  CHECK(after["disk"]["serving"] == false);
  CHECK(after["disk"]["version"] != after["serving"]["version"]);
  const auto& refusal = after["last_refusal"];
  CHECK(refusal["current"] == true);
  CHECK(refusal["reason"] == "files changed");
  CHECK(refusal["version"] == after["disk"]["version"]);
  REQUIRE(refusal["errors"].size() >= 1);
  CHECK(refusal["errors"][0]["file"] == tree.str() + "/prompts/en.yaml");
  CHECK(refusal["errors"][0]["line"].get<int>() > 0);
  CHECK(refusal["errors"][0]["column"].get<int>() > 0);
  CHECK_FALSE(refusal["errors"][0]["code"].get<std::string>().empty());
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}

TEST_CASE("hotline status says when the server started from the last good copy, and why") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  const auto env = env_for(data);
  {  // A clean start keeps the copy.
    Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
    REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
    server.signal(SIGTERM);
    REQUIRE(server.wait() == 0);
  }
  edit(tree, "flows/hotline.yaml", "    go: police_discretion\n", "    go: police_discretoin\n");
  const std::string errors = check_errors(tree.path(), env);
  REQUIRE(count_of(errors, "\n") == 1);
  CHECK_THAT(errors, Catch::StartsWith("./flows/hotline.yaml:"));
  Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  auto r = status_from(tree.path(), "--url " + url);
  CHECK(r.exit_code == 1);
  CHECK(normalized(r.out) ==
        "server: " + url + "\n"
        "serving: flow 'hotline' from the last good copy kept beside the database, since <time>: the files on disk "
        "did not pass when the server started\n"
        "files on disk: version <v>, REFUSED at <time> (when the server started) with 1 error(s):\n" + errors +
        "The server keeps serving the last good copy. Fix the errors above (`hotline check` lists the same); the "
        "server loads the files within a second of an edit that passes.\n");
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}
