// A restart with a refused edit still on disk serves the last bundle that passed, loudly
// (#16.8). Real processes: the `hotline` binary on an ephemeral port, real SQLite files, signed
// webhooks, the server's own file watcher.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <httplib.h>

#include "hotline/twilio/form.hpp"
#include "hotline/twilio/signature.hpp"
#include "process.hpp"

using namespace test_support;
namespace fs = std::filesystem;

namespace {

const std::string kHotline = HOTLINE_BINARY;
const std::string kAuthToken = "last-good-test-auth-token";
const std::string kPublicUrl = "https://hotline.example.org";
const std::string kOriginal = "This line answers";
const std::string kEdited = "Edited: answers";

void edit(const TempDir& dir, const std::string& relative, const std::string& from, const std::string& to) {
  std::string text = read_file((dir.path() / relative).string());
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  dir.write(relative, text);
}

std::vector<std::string> env_for(const TempDir& data) {
  return {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN=" + kAuthToken,
          "HOTLINE_PUBLIC_URL=" + kPublicUrl, "HOTLINE_SECRET=last-good-test-secret-0123456789"};
}

std::string signed_sms(httplib::Client& client, const std::string& sid, const std::string& body) {
  hotline::twilio::FormFields form = {{"MessageSid", sid}, {"AccountSid", "AC0"}, {"From", "+14145550123"},
                                      {"To", "+15550100000"}, {"Body", body}, {"NumMedia", "0"}};
  const std::string signature = hotline::twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
  auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", signature}}, hotline::twilio::encode_form(form),
                         "application/x-www-form-urlencoded");
  return res && res->status == 200 ? res->body : std::string{};
}

std::string get(httplib::Client& client, const std::string& path) {
  auto res = client.Get(path.c_str());
  return res ? std::to_string(res->status) + " " + res->body : std::string{};
}

bool eventually(const std::function<bool()>& test) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < until) {
    if (test()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

}  // namespace

TEST_CASE("a restart with a refused prompt edit on disk serves the last good copy, loudly, until the files pass") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  const auto env = env_for(data);
  const fs::path kept = data.path() / "last-good-bundle";

  {  // A clean start keeps a copy of what passed, owner-only.
    Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
    REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
    REQUIRE(fs::is_regular_file(kept / "prompts/en.yaml"));
    CHECK(read_file((kept / "prompts/en.yaml").string()) == read_file((tree.path() / "prompts/en.yaml").string()));
    CHECK(fs::is_regular_file(kept / "flows/hotline.yaml"));
    CHECK(fs::is_directory(kept / "flows/tests"));
    CHECK(mode_of(kept) == 0700);
    CHECK(mode_of(kept / "flows") == 0700);
    CHECK(mode_of(kept / "prompts/en.yaml") == 0600);
    CHECK_FALSE(fs::exists(kept / "config"));  // never the configuration or the roster
    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
  }

  // A prompt edit that does not pass, left on disk over the restart.
  edit(tree, "prompts/en.yaml", kOriginal, kEdited);
  tree.write("prompts/en.yaml", read_file((tree.path() / "prompts/en.yaml").string()) + "broken: [unclosed\n");
  REQUIRE(run({kHotline, "check", tree.str()}, "", env).exit_code == 1);

  Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  const std::string log = server.err();
  CHECK_THAT(log, Catch::Contains("\"event\":\"serving_last_good_bundle\"") && Catch::Contains("\"level\":\"error\""));
  // The on-disk diagnostics, in the file:line:col form staff know from `hotline check`.
  CHECK_THAT(log, Catch::Contains(tree.str() + "/prompts/en.yaml:"));
  // The copy kept from the clean start is not overwritten by the broken files.
  CHECK_THAT(read_file((kept / "prompts/en.yaml").string()), !Catch::Contains(kEdited));

  httplib::Client client("127.0.0.1", port);
  const std::string answer = signed_sms(client, "SMlastgood1", "hello");
  CHECK_THAT(answer, Catch::Contains("<Message>") && Catch::Contains(kOriginal));
  CHECK_THAT(answer, !Catch::Contains(kEdited));
  CHECK_THAT(get(client, "/readyz"), Catch::StartsWith("200 ready: serving the last good"));
  CHECK_THAT(get(client, "/metrics"), Catch::Contains("\nhotline_bundle_from_disk 0\n"));

  // Staff fix the file: the watcher's reload serves it, and the hotline says so again.
  edit(tree, "prompts/en.yaml", "broken: [unclosed\n", "");
  CHECK(eventually([&] { return get(client, "/metrics").find("\nhotline_bundle_from_disk 1\n") != std::string::npos; }));
  CHECK(get(client, "/readyz") == "200 ready\n");
  CHECK_THAT(signed_sms(client, "SMlastgood2", "menu"), Catch::Contains(kEdited));
  // And what passed is the copy now.
  CHECK_THAT(read_file((kept / "prompts/en.yaml").string()), Catch::Contains(kEdited));
  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}

TEST_CASE("with no good copy kept, broken files on disk are refused as before") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  tree.write("prompts/en.yaml", read_file((tree.path() / "prompts/en.yaml").string()) + "broken: [unclosed\n");
  auto started = run({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env_for(data));
  CHECK(started.exit_code == 1);
  CHECK_THAT(started.err, Catch::Contains(tree.str() + "/prompts/en.yaml:") && Catch::Contains("not serving"));
  CHECK_THAT(started.err, !Catch::Contains("\"event\":\"serving\"") && !Catch::Contains("serving_last_good_bundle"));
  CHECK_FALSE(fs::exists(data.path() / "last-good-bundle"));
}

TEST_CASE("a kept copy that does not pass either is not served: refused as before") {
  TempDir tree, data;
  copy_shipped_tree(tree);
  const auto env = env_for(data);
  {
    Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
    REQUIRE(port_of(server.wait_for_stderr("\"event\":\"serving\"")) > 0);
    server.signal(SIGTERM);
    CHECK(server.wait() == 0);
  }
  const fs::path kept_prompt = data.path() / "last-good-bundle/prompts/en.yaml";
  REQUIRE(fs::is_regular_file(kept_prompt));
  fs::permissions(kept_prompt, fs::perms::owner_write | fs::perms::owner_read);
  { std::ofstream(kept_prompt, std::ios::app) << "broken: [unclosed\n"; }
  tree.write("prompts/es.yaml", read_file((tree.path() / "prompts/es.yaml").string()) + "roto: [sin cerrar\n");
  auto started = run({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
  CHECK(started.exit_code == 1);
  CHECK_THAT(started.err, Catch::Contains("does not pass either") && Catch::Contains("not serving"));
  CHECK_THAT(started.err, !Catch::Contains("\"event\":\"serving\""));
}
