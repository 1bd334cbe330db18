// One verdict on a bundle (app::check_servable): `hotline check`, `hotline serve` at start-up
// and a live reload of a running server agree on the same broken files. Real processes: the
// `hotline` binary, real files, the server's own file watcher.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <sstream>

#include "hotline/app/servable.hpp"
#include "process.hpp"

using namespace test_support;
namespace fs = std::filesystem;

namespace {

const std::string kHotline = HOTLINE_BINARY;

// Replaces the first `from` in a file of the tree.
void edit(const TempDir& dir, const std::string& relative, const std::string& from, const std::string& to) {
  std::string text = read_file((dir.path() / relative).string());
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  dir.write(relative, text);
}

// Waits (up to 10 s) for a log line holding every one of `parts`; returns it or "".
std::string wait_for_log_line(Process& p, const std::vector<std::string>& parts) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    std::istringstream lines(p.err());
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const auto& part : parts) all = all && line.find(part) != std::string::npos;
      if (all) return line;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

struct Breakage {
  const char* what;
  std::function<void(const TempDir& tree, const TempDir& outside)> apply;
  const char* code;  // the diagnostic all three must report
};

}  // namespace

TEST_CASE("check, start-up and reload agree on a failing test file, a bad blocklist, a missing roster, a bad config edit") {
  const std::vector<Breakage> breakages = {
      {"a failing conversation test",
       [](const TempDir& tree, const TempDir&) {
         tree.write("flows/tests/mine.yaml", "- test: my test\n  turns:\n    - send: hello\n      expect:\n"
                                             "        node: after_answer\n");
       },
       "test-failed"},
      {"a bad blocklist",
       [](const TempDir& tree, const TempDir&) { tree.write("config/blocklist.yaml", "blocked:\n  - 4145559876\n"); },
       "not-e164"},
      {"a missing roster (the one HOTLINE_ADVOCATES names)",
       [](const TempDir&, const TempDir& outside) { fs::remove(outside.path() / "team.yaml"); },
       "missing-file"},
      {"a bad config/hotline.yaml edit",
       [](const TempDir& tree, const TempDir&) { edit(tree, "config/hotline.yaml", "idle_minutes: 60", "idle_minutes: sixty"); },
       "expected-number"},
  };
  for (const auto& broken : breakages) {
    SECTION(broken.what) {
      TempDir tree, outside, data;
      copy_shipped_tree(tree);
      // The roster lives outside the tree, named by HOTLINE_ADVOCATES: the reload must watch it.
      fs::copy_file(tree.path() / "config/advocates.yaml", outside.path() / "team.yaml");
      const std::vector<std::string> env = {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN=",
                                            "HOTLINE_SECRET=servable-test-secret-0123456789",
                                            "HOTLINE_ADVOCATES=" + (outside.path() / "team.yaml").string()};
      const std::string error = std::string("error[") + broken.code + "]";
      REQUIRE(run({kHotline, "check", tree.str()}, "", env).exit_code == 0);

      // Reload: a server started on the clean files, its watcher seeing the edit.
      Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
      REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
      broken.apply(tree, outside);
      CHECK(wait_for_log_line(server, {"\"event\":\"reload_diagnostic\"", std::string("\"code\":\"") + broken.code + "\"",
                                       "\"severity\":\"error\""}) != "");
      CHECK(wait_for_log_line(server, {"\"event\":\"reload_refused\"", "\"reason\":\"files changed\""}) != "");
      server.signal(SIGTERM);
      CHECK(server.wait() == 0);

      // Check and start-up, on the same broken files, with no last good copy to start from
      // (test_last_good covers starting from one).
      fs::remove_all(data.path() / "last-good-bundle");
      auto checked = run({kHotline, "check", tree.str()}, "", env);
      CHECK(checked.exit_code == 1);
      CHECK_THAT(checked.out, Catch::Contains(error));
      auto started = run({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
      CHECK(started.exit_code == 1);
      CHECK_THAT(started.err, Catch::Contains(error) && Catch::Contains("not serving"));
      CHECK_THAT(started.err, !Catch::Contains("\"event\":\"serving\""));
    }
  }
}

TEST_CASE("a valid config/hotline.yaml edit is reloaded with a warning that it needs a restart; a roster edit needs none") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "",
                 {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN="});
  REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
  edit(tree, "config/hotline.yaml", "idle_minutes: 60", "idle_minutes: 30");
  CHECK(wait_for_log_line(server, {"\"event\":\"reload_diagnostic\"", "\"code\":\"restart-needed\"",
                                   "config/hotline.yaml", "\"severity\":\"warning\""}) != "");
  CHECK(wait_for_log_line(server, {"\"event\":\"reloaded\"", "\"reason\":\"files changed\""}) != "");
  // The roster is not among them: a roster that passes goes into service at once (test_reload).
  tree.write("config/advocates.yaml", read_file((tree.path() / "config/advocates.yaml").string()) + "# edited\n");
  CHECK(wait_for_log_line(server, {"\"event\":\"roster_reloaded\"", "\"advocates\":3"}) != "");
  CHECK_THAT(server.err(), !Catch::Contains("the roster changed since the server started"));
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}

TEST_CASE("a broken test file is reported and every other test file still runs") {
  TempDir tree;
  copy_shipped_tree(tree);
  tree.write("flows/tests/broken.yaml", "- test: [unclosed\n");
  tree.write("flows/tests/wrong-step.yaml",
             "- test: names a step that does not exist\n  turns:\n    - send: hola\n      expect: {node: nowhere}\n");
  auto r = run({kHotline, "check", tree.str()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains(tree.str() + "/flows/tests/broken.yaml:"));
  CHECK_THAT(r.out, Catch::Contains("error[unknown-step]"));
  CHECK_THAT(r.out, !Catch::Contains("no conversation tests"));
  // The shipped files still ran, all passing.
  CHECK_THAT(r.out, Catch::Contains(" passed, 0 failed; 2 test file(s) not run: fix the errors above\n"));
  auto s = hotline::app::check_servable({tree.str(), "", {}});
  CHECK_FALSE(s.ok());
  CHECK(s.tests.broken_files == 2);
  CHECK(s.tests.passed >= 30);
}

TEST_CASE("the database, roster and blocklist paths are under the root whatever the working directory") {
  TempDir tree;
  copy_shipped_tree(tree);
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOTLINE_DB") return "state/h.sqlite3";
    if (name == "HOTLINE_ADVOCATES") return "config/advocates.yaml";
    return std::nullopt;
  };
  hotline::Diagnostics diags;
  auto c = hotline::app::load_configuration({tree.str(), "", env}, diags);
  CHECK_FALSE(diags.has_errors());
  CHECK(c.database == (tree.path() / "state/h.sqlite3").string());
  CHECK(c.advocates_file == (tree.path() / "config/advocates.yaml").string());
  CHECK(c.blocklist_file == (tree.path() / "config/blocklist.yaml").string());
  // Absolute paths and PostgreSQL URLs are kept as they are.
  auto absolute = [](const std::string& name) -> std::optional<std::string> {
    if (name == "HOTLINE_DB") return "postgresql://u:p@db.example.org/hotline";
    return std::nullopt;
  };
  CHECK(hotline::app::load_configuration({tree.str(), "", absolute}, diags).database ==
        "postgresql://u:p@db.example.org/hotline");
}
