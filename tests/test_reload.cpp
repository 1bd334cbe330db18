// Safe live reload: a checked edit is served within two seconds, a broken one is refused and
// the old text keeps serving, and webhooks in flight are never disturbed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>

#include "hotline/flow/reloader.hpp"
#include "hotline_server.hpp"
#include "process.hpp"

using namespace hotline;
using namespace test_support;

namespace {

using SteadyClock = std::chrono::steady_clock;

// Replaces the first `from` in a file of the tree.
void edit(const TempDir& dir, const std::string& relative, const std::string& from, const std::string& to) {
  std::string text = read_file((dir.path() / relative).string());
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  dir.write(relative, text);
}

// Asks for the menu by SMS, as Twilio would, and returns the TwiML answer. Each ask is a new
// texter: one number polled every 50 ms would pass its limit (20 a minute) while waiting for a
// reload, and then hear "slow down" instead of the menu.
std::string ask_menu(HotlineServer& server, int n) {
  auto res = server.post_signed("/twilio/sms", sms_form("+1414556" + std::to_string(1000 + n), "hello",
                                                        "SMreload" + std::to_string(n)));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  return res->body;
}

// Polls `ask` until its answer contains `needle`, for at most `limit`.
template <typename Ask>
bool eventually_contains(Ask ask, const std::string& needle, std::chrono::milliseconds limit) {
  auto until = SteadyClock::now() + limit;
  do {
    if (ask().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (SteadyClock::now() < until);
  return false;
}

// Waits (up to 10 s) for a log line that contains every one of `parts`; returns it or "".
std::string wait_for_log_line(Process& p, const std::vector<std::string>& parts) {
  auto until = SteadyClock::now() + std::chrono::seconds(10);
  while (SteadyClock::now() < until) {
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

const std::string kOld = "Reply with a number";
const std::string kNew = "UPDATED TODAY. Reply with a number";

}  // namespace

TEST_CASE("Reloader swaps in a clean edit and refuses a broken one, keeping the old bundle") {
  TempDir tree;
  copy_shipped_tree(tree);
  Diagnostics first;
  auto initial = flow::load_bundle(tree.str(), {}, first);
  REQUIRE(initial);
  flow::BundleHolder holder(initial);
  flow::Reloader reloader(holder, {tree.str(), {}, nullptr, {}});

  edit(tree, "prompts/en.yaml", kOld, kNew);
  auto ok = reloader.reload();
  CHECK(ok.swapped);
  CHECK_FALSE(ok.diags.has_errors());
  CHECK(holder.get() != initial);
  CHECK(holder.get()->prompts.find(Lang::en, "menu")->sms.find("UPDATED TODAY") != std::string::npos);

  auto serving = holder.get();
  edit(tree, "flows/hotline.yaml", "go: after_answer", "go: after_anwser");
  auto refused = reloader.reload();
  CHECK_FALSE(refused.swapped);
  CHECK(holder.get() == serving);
  std::string text = refused.diags.to_string();
  CHECK_THAT(text, Catch::Contains("error[unknown-step]: there is no step named 'after_anwser'"));
  CHECK(reloader.attempts() == 2);
}

TEST_CASE("a reload whose conversation tests fail is refused") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  auto config = test_config(data);
  config.root = tree.str();
  HotlineServer server(config);
  auto serving = server.app().bundles().get();

  // The answer changes but the staff test still expects the old wording.
  edit(tree, "prompts/es.yaml", "comandante de turno", "jefe");
  auto result = server.app().reload("test");
  CHECK_FALSE(result.swapped);
  CHECK(server.app().bundles().get() == serving);
  CHECK_THAT(result.diags.to_string(),
             Catch::Contains("error[test-failed]") && Catch::Contains("expected to contain \"comandante de turno\""));
}

TEST_CASE("a running server serves a checked prompt edit within two seconds and refuses a broken one") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  auto config = test_config(data);
  config.root = tree.str();
  HotlineServer server(config);
  server.app().watch_files();
  int n = 0;
  auto ask = [&] { return ask_menu(server, ++n); };

  std::string before = ask();
  CHECK_THAT(before, Catch::Contains(kOld) && !Catch::Contains("UPDATED TODAY"));

  // A tested change: the conversation tests in flows/tests still pass with it.
  edit(tree, "prompts/en.yaml", kOld, kNew);
  CHECK(eventually_contains(ask, "UPDATED TODAY", std::chrono::milliseconds(2000)));

  // A broken edit (a step that does not exist) together with new text: refused as a whole.
  const auto attempts = server.app().reloader().attempts();
  edit(tree, "prompts/en.yaml", "UPDATED TODAY", "BROKEN EDIT");
  edit(tree, "flows/hotline.yaml", "go: after_answer", "go: after_anwser");
  auto until = SteadyClock::now() + std::chrono::seconds(5);
  while (server.app().reloader().attempts() == attempts && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(server.app().reloader().attempts() > attempts);
  std::string after = ask();
  CHECK_THAT(after, Catch::Contains("UPDATED TODAY") && !Catch::Contains("BROKEN EDIT"));

  // Fixing the edit publishes it.
  edit(tree, "flows/hotline.yaml", "go: after_anwser", "go: after_answer");
  CHECK(eventually_contains(ask, "BROKEN EDIT", std::chrono::milliseconds(2000)));
}

TEST_CASE("reloading while webhooks are in flight answers every one of them") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  auto config = test_config(data);
  config.root = tree.str();
  HotlineServer server(config);

  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread sender([&] {
    httplib::Client client("127.0.0.1", server.port());
    for (int i = 0; i < 40; ++i) {
      hotline::twilio::FormFields form = sms_form("+1414555" + std::to_string(1000 + i), "hola", "SMinflight" + std::to_string(i));
      auto sig = hotline::twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
      auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, hotline::twilio::encode_form(form),
                             "application/x-www-form-urlencoded");
      (res && res->status == 200 && res->body.find("Responda") != std::string::npos) ? ++answered : ++failed;
    }
    done = true;
  });
  int reloads = 0;
  while (!done) {
    edit(tree, "prompts/es.yaml", "Responda", "Responda");  // same text, new mtime
    CHECK(server.app().reload("test").swapped);
    ++reloads;
  }
  sender.join();
  CHECK(reloads > 0);
  CHECK(answered == 40);
  CHECK(failed == 0);
}

TEST_CASE("`hotline serve` reloads on SIGHUP and logs a refused edit as JSON lines") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  Process server({HOTLINE_BINARY, "serve", "--port", "0", "--root", tree.str()}, "",
                 {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN="});
  std::string log = server.wait_for_stderr("\"event\":\"serving\"");
  auto at = log.find("\"port\":");
  REQUIRE(at != std::string::npos);
  httplib::Client client("127.0.0.1", std::stoi(log.substr(at + 7)));
  int n = 0;
  auto ask = [&] {
    auto res = client.Post("/twilio/sms", "From=%2B14145551234&MessageSid=SMhup" + std::to_string(++n) + "&Body=hello",
                           "application/x-www-form-urlencoded");
    return res ? res->body : std::string{};
  };
  CHECK_THAT(ask(), Catch::Contains(kOld));

  edit(tree, "flows/hotline.yaml", "go: after_answer", "go: after_anwser");
  server.signal(SIGHUP);
  CHECK(wait_for_log_line(server, {"\"event\":\"reload_refused\"", "\"reason\":\"SIGHUP\""}) != "");
  CHECK(wait_for_log_line(server, {"\"event\":\"reload_diagnostic\"", "\"code\":\"unknown-step\"",
                                   "\"severity\":\"error\""}) != "");
  CHECK_THAT(ask(), Catch::Contains(kOld));

  edit(tree, "flows/hotline.yaml", "go: after_anwser", "go: after_answer");
  edit(tree, "prompts/en.yaml", kOld, kNew);
  server.signal(SIGHUP);
  CHECK(wait_for_log_line(server, {"\"event\":\"reloaded\"", "\"reason\":\"SIGHUP\""}) != "");
  CHECK(eventually_contains(ask, "UPDATED TODAY", std::chrono::milliseconds(2000)));

  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}

TEST_CASE("a reload renders prompts with the details: config/hotline.yaml has now, and says the rest waits for a restart") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  auto config = test_config(data);
  config.root = tree.str();
  HotlineServer server(config);
  int n = 0;

  // A short name: the Spanish menu is near its three segments.
  edit(tree, "prompts/en.yaml", kOld, "{org_name} " + kOld);
  edit(tree, "prompts/es.yaml", "Responda con un número:", "{org_name} Responda con un número:");
  edit(tree, "config/hotline.yaml", "details: {}", "details: {org_name: Zq9}");
  auto result = server.app().reload("test");
  INFO(result.diags.to_string());
  CHECK(result.swapped);
  CHECK_THAT(ask_menu(server, ++n), Catch::Contains("Zq9 " + kOld));
  CHECK_THAT(result.diags.to_string(),
             Catch::Contains("config/hotline.yaml: warning[restart-needed]: this file changed since the server "
                             "started: `details:` are in use now, every other setting takes effect at the next restart"));
}

TEST_CASE("an edit saved while the server was loading is loaded by the watcher, not taken for what serves") {
  TempDir tree;
  copy_shipped_tree(tree);
  // serve reads the fingerprint, then loads; staff save an edit in between.
  const std::string before = flow::Reloader::fingerprint_of(tree.str(), {});
  Diagnostics diags;
  auto loaded = flow::load_bundle(tree.str(), {}, diags);
  REQUIRE(loaded);
  edit(tree, "prompts/en.yaml", "This line answers", "Edited: answers");

  flow::BundleHolder holder(loaded);
  flow::ReloadSettings settings;
  settings.root = tree.str();
  flow::Reloader reloader(holder, settings);
  reloader.loaded_from(before);
  const auto at_start = reloader.status();
  CHECK(at_start.serving_version == flow::Reloader::version_of(before));
  CHECK(at_start.disk_version != at_start.serving_version);  // said, not hidden

  reloader.watch(std::chrono::milliseconds(20));
  const auto until = SteadyClock::now() + std::chrono::seconds(20);
  while (reloader.attempts() == 0 && SteadyClock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  reloader.stop();
  REQUIRE(reloader.attempts() == 1);
  CHECK(holder.get() != loaded);
  const auto after = reloader.status();
  CHECK(after.serving_version == after.disk_version);
  CHECK(after.serving_reason == "files changed");
}

TEST_CASE("`hotline serve` puts an edited roster into service without a restart, and refuses a broken one") {
  TempDir data, tree;
  copy_shipped_tree(tree);
  Process server({HOTLINE_BINARY, "serve", "--port", "0", "--root", tree.str()}, "",
                 {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN="});
  std::string log = server.wait_for_stderr("\"event\":\"serving\"");
  auto at = log.find("\"port\":");
  REQUIRE(at != std::string::npos);
  httplib::Client client("127.0.0.1", std::stoi(log.substr(at + 7)));
  int n = 0;
  // "#help" from a phone: an advocate's gets the console's list of commands, anyone else's is
  // told that # messages are for advocates.
  auto help_from_new_advocate = [&] {
    auto res = client.Post("/twilio/sms", "From=%2B15550100077&MessageSid=SMroster" + std::to_string(++n) + "&Body=%23help",
                           "application/x-www-form-urlencoded");
    return res ? res->body : std::string{};
  };
  const std::string kAdvocateHelp = "Commands: K7M text = write to K7M";
  const std::string kNotAnAdvocate = "Messages starting with # are for advocates";
  CHECK_THAT(help_from_new_advocate(), Catch::Contains(kNotAnAdvocate));
  // A caller who presses 1 (English) then 0 (a person): whom the hotline rings.
  int calls = 0;
  auto call_for_person = [&] {
    char sid[35];
    std::snprintf(sid, sizeof sid, "CA%032d", ++calls);
    const std::string call = std::string("CallSid=") + sid + "&From=%2B14145559876&To=%2B15550100000&CallStatus=";
    std::string body;
    for (const std::string& step : {std::string("/twilio/voice?ringing"), std::string("/twilio/voice/gather?1"),
                                    std::string("/twilio/voice/gather?0")}) {
      const auto q = step.find('?');
      const std::string path = step.substr(0, q), value = step.substr(q + 1);
      auto res = client.Post(path, call + (path == "/twilio/voice" ? value : "in-progress&Digits=" + value),
                             "application/x-www-form-urlencoded");
      body = res ? res->body : std::string{};
    }
    return body;
  };
  const std::string kRingsNewAdvocate = ">+15550100077</Number>";
  CHECK_THAT(call_for_person(), !Catch::Contains(kRingsNewAdvocate));

  // A staff member adds an advocate, as docs/staff-guide.md says: the watcher checks the file
  // and puts it into service.
  std::string roster = read_file((tree.path() / "config/advocates.yaml").string());
  roster += "\n  - id: new-advocate\n    name: New (test)\n    phone: \"+15550100077\"\n    languages: [en]\n"
            "    shifts:\n      - {days: mon-sun, hours: \"00:00-24:00\"}\n";
  tree.write("config/advocates.yaml", roster);
  CHECK(wait_for_log_line(server, {"\"event\":\"roster_reloaded\"", "\"advocates\":4"}) != "");
  CHECK(eventually_contains(help_from_new_advocate, kAdvocateHelp, std::chrono::milliseconds(2000)));
  CHECK_THAT(call_for_person(), Catch::Contains(kRingsNewAdvocate));  // calls too
  CHECK_THAT(server.err(), !Catch::Contains("restart-needed"));  // nothing waits for a restart

  // A typo in a phone: refused where it is, and the roster in service stays.
  const int line = 1 + static_cast<int>(std::count(roster.begin(), roster.begin() + static_cast<std::ptrdiff_t>(roster.find("\"+15550100077\"")), '\n'));
  auto broken = roster;
  broken.replace(broken.find("\"+15550100077\""), 14, "\"15550100077\"");
  tree.write("config/advocates.yaml", broken);
  const std::string refused = wait_for_log_line(server, {"\"event\":\"reload_diagnostic\"", "\"code\":\"invalid-phone\""});
  CHECK_THAT(refused, Catch::Contains("config/advocates.yaml\"") && Catch::Contains("\"line\":" + std::to_string(line) + ",") &&
                          Catch::Contains("\"column\":12,") && Catch::Contains("\"severity\":\"error\""));
  CHECK(wait_for_log_line(server, {"\"event\":\"reload_refused\"", "\"reason\":\"files changed\""}) != "");
  CHECK_THAT(help_from_new_advocate(), Catch::Contains(kAdvocateHelp));
  CHECK_THAT(call_for_person(), Catch::Contains(kRingsNewAdvocate));
  // Nothing in the log names the phone number.
  CHECK_THAT(server.err(), !Catch::Contains("5550100077"));

  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
}
