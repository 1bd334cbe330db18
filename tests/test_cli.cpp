// The `hotline` command line as staff and operators use it: the real binary, real processes.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <regex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "hotline/crypto/keys.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/form.hpp"
#include "process.hpp"

using namespace test_support;

namespace {
const std::string kHotline = HOTLINE_BINARY;
const std::string kRoot = HOTLINE_SOURCE_DIR;

/// Splits a shell command line into words: spaces separate, single quotes group (all the
/// README's examples need).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      any = true;
    } else if (c == ' ' && !quoted) {
      if (any) words.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) words.push_back(word);
  return words;
}

/// What curl's --data-urlencode makes of a value: all but ALPHA, DIGIT and -._~ as %XX.
std::string curl_urlencode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += "0123456789ABCDEF"[c >> 4];
      out += "0123456789ABCDEF"[c & 15];
    }
  }
  return out;
}

/// The form body curl posts for these arguments: `-d x` as it is, `--data-urlencode name=value`
/// with the value encoded, joined with '&'.
std::string curl_form_body(const std::vector<std::string>& args) {
  std::string body;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    std::string part;
    if (args[i] == "-d" || args[i] == "--data") {
      part = args[i + 1];
    } else if (args[i] == "--data-urlencode") {
      const std::string& arg = args[i + 1];
      const auto eq = arg.find('=');
      part = eq == std::string::npos ? curl_urlencode(arg) : arg.substr(0, eq + 1) + curl_urlencode(arg.substr(eq + 1));
    } else {
      continue;
    }
    body += (body.empty() ? "" : "&") + part;
    ++i;
  }
  return body;
}

}  // namespace

TEST_CASE("--help explains every command, and each command has its own --help") {
  auto r = run({kHotline, "--help"});
  CHECK(r.exit_code == 0);
  for (const char* word : {"serve", "simulate", "check", "forget", "status", "TWILIO_AUTH_TOKEN", "HOTLINE_SECRET"}) {
    CHECK_THAT(r.out, Catch::Contains(word));
  }
  // The README says `hotline --help` lists everything: every variable of its table is there.
  int variables = 0;
  std::istringstream readme(read_file(kRoot + "/README.md"));
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::string name = line.substr(3, line.find('`', 3) - 3);
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return std::isupper(c) || c == '_'; })) continue;
    INFO(name);
    CHECK_THAT(r.out, Catch::Contains("  " + name + " "));
    ++variables;
  }
  CHECK(variables >= 9);
  for (const char* command : {"serve", "simulate", "check", "graph", "forget", "eval", "status", "roster", "report", "healthcheck"}) {
    auto sub = run({kHotline, command, "--help"});
    CHECK(sub.exit_code == 0);
    CHECK_THAT(sub.out, Catch::StartsWith(std::string("Usage: hotline ") + command));
  }
  auto unknown = run({kHotline, "frobnicate"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("unknown command 'frobnicate'"));
}

TEST_CASE("simulate prints one JSON object per reply with reply, lang, intent and node") {
  auto r = run({kHotline, "simulate", "--json", "--root", kRoot},
               "hola\n¿me pueden deportar si llamo a la poli?\n0\n");
  REQUIRE(r.exit_code == 0);
  std::istringstream lines(r.out);
  std::vector<nlohmann::json> replies;
  for (std::string line; std::getline(lines, line);) replies.push_back(nlohmann::json::parse(line));
  REQUIRE(replies.size() == 3);
  CHECK(replies[0]["node"] == "menu");
  CHECK(replies[0]["lang"] == "es");
  CHECK(replies[1]["intent"] == "status_reporting");
  CHECK_THAT(replies[1]["reply"].get<std::string>(), Catch::Contains("comandante de turno"));
  CHECK(replies[2]["node"] == "after_answer");
  CHECK(replies[1]["segments"].get<int>() <= 3);
}

TEST_CASE("simulate in plain text prints the replies") {
  auto r = run({kHotline, "simulate", "--root", kRoot}, "hello\n");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("Reply with a number"));
}

TEST_CASE("check passes the shipped files and reports a broken edit with file:line:col") {
  auto good = run({kHotline, "check", kRoot});
  CHECK(good.exit_code == 0);
  CHECK_THAT(good.out, Catch::Matches("[1-9][0-9]* conversation test\\(s\\): [0-9]+ passed, 0 failed\n"
                                      "0 error\\(s\\), 0 warning\\(s\\)\n"));

  TempDir dir;
  copy_shipped_tree(dir);
  std::string text = read_file((dir.path() / "flows/hotline.yaml").string());
  auto pos = text.find("go: after_answer");
  text.replace(pos, 16, "go: after_anwser");
  dir.write("flows/hotline.yaml", text);
  auto bad = run({kHotline, "check", dir.str()});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.out, Catch::Contains("/flows/hotline.yaml:") &&
                          Catch::Contains(": error[unknown-step]: there is no step named 'after_anwser'"));
  CHECK_THAT(bad.out, Catch::EndsWith("1 error(s), 0 warning(s)\n"));
}

namespace {
// The 1-based line of `what` in `text`.
int line_of(const std::string& text, const std::string& what) {
  const auto pos = text.find(what);
  REQUIRE(pos != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
}

// A copy of the shipped tree with one edit in one file; `check` on it, as staff would run it.
struct EditedCopy {
  TempDir dir;
  std::string text;
  std::string file;
  explicit EditedCopy(const std::string& relative) : file(relative) {
    copy_shipped_tree(dir);
    text = read_file((dir.path() / relative).string());
  }
  void replace(const std::string& from, const std::string& to) {
    const auto pos = text.find(from);
    REQUIRE(pos != std::string::npos);
    text.replace(pos, from.size(), to);
  }
  RunResult check() {
    dir.write(file, text);
    return run({kHotline, "check", dir.str()});
  }
  std::string where(int line, int column) const {
    return dir.str() + "/" + file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};
}  // namespace

TEST_CASE("check: a YAML slip is the only thing reported, in plain words, at the line that has it") {
  const std::string blocks = ". Nothing else in the prompts file is read or checked until this is fixed\n"
                             "1 error(s), 0 warning(s)\n";
  SECTION("a prompt's text indented two spaces less than its key") {
    EditedCopy copy("prompts/es.yaml");
    copy.replace("\ncall_police:\n  sms: >-\n", "\ncall_police:\nsms: >-\n");
    const int line = line_of(copy.text, "\nsms: >-\n") + 1;
    auto r = copy.check();
    CHECK(r.exit_code == 1);
    CHECK(r.out == copy.where(line, 1) + ": error[yaml-indent]: line " + std::to_string(line) +
                       " is indented less than the text above it: line it up with the lines it belongs to" + blocks);
  }
  SECTION("a tab") {
    EditedCopy copy("prompts/es.yaml");
    copy.replace("\nsupport:\n  sms: >-\n", "\nsupport:\n\tsms: >-\n");
    const int line = line_of(copy.text, "\tsms: >-");
    auto r = copy.check();
    CHECK(r.exit_code == 1);
    CHECK(r.out == copy.where(line, 1) + ": error[yaml-tab]: line " + std::to_string(line) +
                       " starts with a tab: use spaces" + blocks);
  }
  SECTION("': ' inside a text") {
    EditedCopy copy("prompts/es.yaml");
    copy.replace("\nsupport:\n  sms: >-\n", "\nsupport:\n  sms: Nota: no está sola.\n  old: >-\n");
    const int line = line_of(copy.text, "  sms: Nota: no");
    auto r = copy.check();
    CHECK(r.exit_code == 1);
    CHECK(r.out == copy.where(line, 8) + ": error[yaml-colon]: this text contains ': ': put it in quotes (\"…\")" + blocks);
  }
}

TEST_CASE("check: a misspelt step is reported once, with the step it probably means") {
  EditedCopy copy("flows/hotline.yaml");
  copy.replace("    go: police_discretion\n", "    go: police_discretoin\n");
  const int line = line_of(copy.text, "go: police_discretoin");
  auto r = copy.check();
  CHECK(r.exit_code == 1);
  CHECK(r.out == copy.where(line, 9) +
                     ": error[unknown-step]: there is no step named 'police_discretoin'; did you mean "
                     "`police_discretion`?\n"
                     "1 error(s), 0 warning(s)\n");
}

TEST_CASE("check: an answer over three segments is an error in characters to cut, unless it says `long: true`") {
  EditedCopy copy("prompts/es.yaml");
  copy.replace("Si hay peligro,\n    llame al 911.\n  voice: >-\n    Mucha gente",
               "Si hay peligro,\n    llame al 911. Su llamada es importante para nosotros.\n  voice: >-\n    Mucha gente");
  const int line = line_of(copy.text, "\nsupport:\n") + 1;
  auto r = copy.check();
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::StartsWith(
                        copy.where(line, 1) +
                        ": error[too-long]: prompt 'support' is 239 characters; the limit for a 3-part Spanish text "
                        "is 201: cut 38 ('ú' is not in the basic SMS alphabet, GSM-7, so the whole text goes as "
                        "UCS-2: 67 characters a part instead of 153); or, if it must be long, add `long: true` to it\n"));
  CHECK_THAT(r.out, Catch::EndsWith("1 error(s), 0 warning(s)\n"));

  copy.replace("\nsupport:\n  sms: >-\n", "\nsupport:\n  long: true\n  sms: >-\n");
  // `check` takes it; the staff's own conversation test still holds this answer to 3 segments.
  auto allowed = copy.check();
  CHECK_THAT(allowed.out, !Catch::Contains("[too-long]"));
  CHECK_THAT(allowed.out, Catch::Contains("max_segments: expected at most 3, got 4 segments"));
}

TEST_CASE("check reports a broken blocklist with file:line:col, never repeating the number") {
  TempDir dir;
  copy_shipped_tree(dir);
  dir.write("config/blocklist.yaml", "blocked:\n  - \"+14145550199\"\n  - 4145559876\nblockd: []\n");
  auto bad = run({kHotline, "check", dir.str()});
  CHECK(bad.exit_code == 1);
  const std::string file = dir.str() + "/config/blocklist.yaml";
  CHECK_THAT(bad.out, Catch::Contains(
                          file + ":3:5: error[not-e164]: this entry is not a number in E.164 form (+ country "
                                 "code and digits, e.g. +14145550123, in quotes)\n" +
                          file + ":4:1: error[unknown-key]: unknown setting `blockd`: the blocklist has only "
                                 "`blocked:`\n"));
  CHECK_THAT(bad.out, Catch::EndsWith("2 error(s), 0 warning(s)\n"));
  CHECK_THAT(bad.out, !Catch::Contains("4145559876") && !Catch::Contains("4145550199"));

  // A YAML syntax error, and a blocklist named in the configuration instead of the default one.
  std::string config = read_file((dir.path() / "config/hotline.yaml").string());
  auto at = config.find("blocklist: config/blocklist.yaml");
  REQUIRE(at != std::string::npos);
  config.replace(at, 32, "blocklist: config/blocked.yaml");
  dir.write("config/hotline.yaml", config);
  dir.write("config/blocked.yaml", "blocked: [\"+14145550199\"\n");
  auto syntax = run({kHotline, "check", dir.str()});
  CHECK(syntax.exit_code == 1);
  CHECK_THAT(syntax.out, Catch::Contains(dir.str() + "/config/blocked.yaml:2:1: error[yaml-syntax]: "));
  CHECK_THAT(syntax.out, Catch::EndsWith("1 error(s), 0 warning(s)\n"));

  dir.write("config/blocked.yaml", "blocked: [\"+14145550199\"]\n");
  CHECK(run({kHotline, "check", dir.str()}).exit_code == 0);
}

TEST_CASE("serve starts, answers a webhook, and stops cleanly on SIGTERM") {
  TempDir data;
  Process server({kHotline, "serve", "--port", "0", "--root", kRoot},
                 "", {"HOTLINE_DB=" + (data.path() / "h.sqlite3").string(), "TWILIO_AUTH_TOKEN="});
  std::string log = server.wait_for_stderr("\"event\":\"serving\"");
  auto at = log.find("\"port\":");
  REQUIRE(at != std::string::npos);
  int port = std::stoi(log.substr(at + 7));
  CHECK_THAT(log, Catch::Contains("local_mode"));  // no token: clearly logged

  httplib::Client client("127.0.0.1", port);
  auto res = client.Post("/twilio/sms", "From=%2B14145551234&MessageSid=SMcli1&Body=hello",
                         "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_THAT(res->body, Catch::Contains("Reply with a number"));
  // Over the body limit: refused, and logged once.
  auto large = client.Post("/twilio/sms", "Body=" + std::string(70 * 1024, 'a'), "application/x-www-form-urlencoded");
  REQUIRE(large);
  CHECK(large->status == 413);

  server.signal(SIGTERM);
  CHECK(server.wait() == 0);
  CHECK_THAT(server.err(), Catch::Contains("\"event\":\"shutdown\""));
  const std::string err = server.err();
  std::size_t too_large = 0;
  for (auto at = err.find("body too large"); at != std::string::npos; at = err.find("body too large", at + 1)) ++too_large;
  CHECK(too_large == 1);
  // Privacy: the log never carries the number or the text.
  CHECK_THAT(server.err(), !Catch::Contains("4145551234") && !Catch::Contains("hello"));
}

TEST_CASE("serve refuses to start with a token but no public URL or secret") {
  auto r = run({kHotline, "serve", "--port", "0", "--root", kRoot}, "",
               {"TWILIO_AUTH_TOKEN=abc", "HOTLINE_PUBLIC_URL=", "HOTLINE_SECRET="});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("environment: error[missing-setting]: HOTLINE_PUBLIC_URL is required"));
  CHECK_THAT(r.err, Catch::Contains("environment: error[missing-setting]: HOTLINE_SECRET must be set"));
}

TEST_CASE("check runs staff's conversation tests and shows a failing turn as expected vs got") {
  TempDir dir;
  copy_shipped_tree(dir);
  dir.write("flows/tests/mine.yaml", "- test: my test\n  turns:\n    - send: hello\n      expect:\n"
                                     "        node: after_answer\n        reply_contains: Reply with a number\n");
  auto r = run({kHotline, "check", dir.str()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.out, Catch::Contains(dir.str() + "/flows/tests/mine.yaml:3:7: error[test-failed]: test 'my test', "
                                    "turn 1 of 1 (sms, send \"hello\"):\n"
                                    "    node: expected after_answer, got menu\n"));
  CHECK_THAT(r.out, Catch::Contains(" passed, 1 failed\n") && Catch::EndsWith("1 error(s), 0 warning(s)\n"));
}

TEST_CASE("forget erases one person's conversation and opt-out, and nobody else's") {
  TempDir data;
  const std::string db = (data.path() / "h.sqlite3").string();
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=",
                                        "HOTLINE_SECRET=forget-test-secret-0123456789"};
  {
    Process server({kHotline, "serve", "--port", "0", "--root", kRoot}, "", env);
    std::string log = server.wait_for_stderr("\"event\":\"serving\"");
    auto at = log.find("\"port\":");
    REQUIRE(at != std::string::npos);
    httplib::Client client("127.0.0.1", std::stoi(log.substr(at + 7)));
    for (auto [from, body, sid] : {std::tuple{"%2B14145550001", "hola", "SMf1"},
                                   std::tuple{"%2B14145550001", "PARAR", "SMf2"},
                                   std::tuple{"%2B14145550002", "hola", "SMf3"}}) {
      auto res = client.Post("/twilio/sms", std::string("From=") + from + "&MessageSid=" + sid + "&Body=" + body,
                             "application/x-www-form-urlencoded");
      REQUIRE(res);
      REQUIRE(res->status == 200);
    }
    server.signal(SIGTERM);
    REQUIRE(server.wait() == 0);
  }
  auto key = [](const std::string& number) {
    return hotline::crypto::contact_key("forget-test-secret-0123456789", number);
  };
  {
    auto store = hotline::store::open_sqlite(db);
    REQUIRE(store->is_opted_out(key("+14145550001")));
    REQUIRE(store->load(key("+14145550002")));
  }
  auto r = run({kHotline, "forget", "+14145550001", "--root", kRoot}, "", env);
  CHECK(r.exit_code == 0);
  // A conversation and an opt-out at least: what was found is counted.
  CHECK_THAT(r.out, Catch::StartsWith("forgotten: " + key("+14145550001") + " (") &&
                        Catch::EndsWith(" record(s) erased)\n") && !Catch::Contains("(0 record"));
  auto store = hotline::store::open_sqlite(db);
  CHECK_FALSE(store->is_opted_out(key("+14145550001")));
  CHECK_FALSE(store->load(key("+14145550001")));
  CHECK_FALSE(store->response_for(key("+14145550001"), "SMf1"));
  CHECK(store->load(key("+14145550002")));

  auto bad = run({kHotline, "forget", "4145550001"}, "", env);
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("E.164"));
}

TEST_CASE("forget erases a voicemail from that number waiting to be called back, and nobody else's") {
  TempDir data;
  const std::string db = (data.path() / "h.sqlite3").string();
  const std::string secret = "forget-test-secret-0123456789";
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=" + secret};
  {
    auto store = hotline::store::open_sqlite(db);
    hotline::store::TurnRecord t;
    t.contact_key = "v_one";
    t.keep_session = true;
    t.now_ms = 1'000;
    for (auto [code, call, number] : {std::tuple{"K7M", "v_one", "+14145550001"}, std::tuple{"Q3A", "v_two", "+14145550002"}}) {
      hotline::store::Relay r;
      r.code = code;
      r.contact_key = call;
      r.texter_sealed = hotline::crypto::seal(secret, number, "relays.texter");  // as the relay seals it
      r.lang = "es";
      r.state = "queued";
      r.created_ms = 1'000;
      t.relays.push_back({r, false, 0});
    }
    store->commit_turn(t);
    REQUIRE(store->relays().size() == 2);
  }
  auto r = run({kHotline, "forget", "+14145550001", "--root", kRoot}, "", env);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("forgotten: c_") && Catch::Contains("(1 record(s) erased)"));
  CHECK(r.out.find("+1414") == std::string::npos);
  auto store = hotline::store::open_sqlite(db);
  REQUIRE(store->relays().size() == 1);
  CHECK(store->relays()[0].code == "Q3A");
}

TEST_CASE("the README's curl example keeps the texter under +14145550123, and forget erases it") {
  // The README's request, as curl would send it.
  std::string readme_line;
  {
    std::istringstream readme(read_file(kRoot + "/README.md"));
    for (std::string line; std::getline(readme, line);) {
      if (line.rfind("curl -s localhost:8080/twilio/sms ", 0) == 0) readme_line = line;
    }
  }
  REQUIRE_FALSE(readme_line.empty());
  const auto args = shell_words(readme_line);
  REQUIRE(std::find(args.begin(), args.end(), "MessageSid=SM1") != args.end());
  const std::string readme_body = curl_form_body(args);
  // And the same with `-d From=+14145550123`, as the README used to write it: the + goes raw
  // and form decoding reads it as a space.
  std::string raw_plus_body = readme_body;
  const std::string encoded_from = "From=%2B14145550123";
  REQUIRE(raw_plus_body.find(encoded_from) != std::string::npos);
  raw_plus_body.replace(raw_plus_body.find(encoded_from), encoded_from.size(), "From=+14145550123");
  raw_plus_body.replace(raw_plus_body.find("MessageSid=SM1"), 14, "MessageSid=SM2");

  TempDir data;
  const std::string db = (data.path() / "h.sqlite3").string();
  const std::string secret = "readme-test-secret-0123456789";
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=" + secret};
  {
    Process server({kHotline, "serve", "--port", "0", "--root", kRoot}, "", env);  // local mode, as in the README
    std::string log = server.wait_for_stderr("\"event\":\"serving\"");
    auto at = log.find("\"port\":");
    REQUIRE(at != std::string::npos);
    httplib::Client client("127.0.0.1", std::stoi(log.substr(at + 7)));
    for (const std::string& body : {readme_body, raw_plus_body}) {
      INFO(body);
      auto res = client.Post("/twilio/sms", body, "application/x-www-form-urlencoded");
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK_THAT(res->body, Catch::Contains("<Message>"));
    }
    server.signal(SIGTERM);
    REQUIRE(server.wait() == 0);
    CHECK_THAT(server.err(), !Catch::Contains("4145550123") && !Catch::Contains("policía"));
  }
  const std::string key = hotline::crypto::contact_key(secret, "+14145550123");
  {
    auto store = hotline::store::open_sqlite(db);
    // Both requests are one texter's conversation, kept under the number's hash.
    REQUIRE(store->load(key));
    CHECK(store->response_for(key, "SM1"));
    CHECK(store->response_for(key, "SM2"));
    CHECK_FALSE(store->load(hotline::crypto::contact_key(secret, " 14145550123")));
  }
  auto r = run({kHotline, "forget", "+14145550123", "--root", kRoot}, "", env);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("forgotten: " + key + " (") && Catch::EndsWith(" record(s) erased)\n"));
  // Said again, it finds nothing, and says so.
  auto again = run({kHotline, "forget", "+14145550123", "--root", kRoot}, "", env);
  CHECK(again.exit_code == 0);
  CHECK(again.out == "nothing was kept about " + key + "\n");
  auto store = hotline::store::open_sqlite(db);
  CHECK_FALSE(store->load(key));
  CHECK_FALSE(store->response_for(key, "SM1"));
  CHECK_FALSE(store->response_for(key, "SM2"));
}

TEST_CASE("forget --root from another folder uses that root's database and secret, and never creates one") {
  namespace fs = std::filesystem;
  TempDir tree, empty;
  copy_shipped_tree(tree);
  // Local mode, default database: data/hotline.sqlite3 and data/.local-secret under the root,
  // though this process (and so the server) runs in another folder.
  const std::vector<std::string> env = {"HOTLINE_DB=", "TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=", "HOTLINE_CONFIG="};
  REQUIRE(fs::current_path() != tree.path());
  {
    Process server({kHotline, "serve", "--port", "0", "--root", tree.str()}, "", env);
    const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
    REQUIRE(port > 0);
    httplib::Client client("127.0.0.1", port);
    auto res = client.Post("/twilio/sms", "From=%2B14145550123&MessageSid=SMroot1&Body=hola",
                           "application/x-www-form-urlencoded");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    server.signal(SIGTERM);
    REQUIRE(server.wait() == 0);
  }
  const fs::path data = tree.path() / "data";
  REQUIRE(fs::exists(data / "hotline.sqlite3"));
  REQUIRE(fs::exists(data / ".local-secret"));
  // The folder that holds the database and the secret is the owner's alone.
  CHECK((fs::status(data).permissions() & fs::perms::all) == fs::perms::owner_all);
  CHECK((fs::status(data / ".local-secret").permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  const std::string key = hotline::crypto::contact_key(read_file((data / ".local-secret").string()).substr(0, 64),
                                                       "+14145550123");

  auto forgotten = run({kHotline, "forget", "+14145550123", "--root", tree.str()}, "", env);
  CHECK(forgotten.exit_code == 0);
  CHECK_THAT(forgotten.out, Catch::StartsWith("forgotten: " + key + " ("));
  CHECK_FALSE(hotline::store::open_sqlite((data / "hotline.sqlite3").string())->load(key));

  // A root without a database: refused, and nothing is created there.
  auto nowhere = run({kHotline, "forget", "+14145550123", "--root", empty.str()}, "", env);
  CHECK(nowhere.exit_code == 1);
  CHECK_THAT(nowhere.err, Catch::Contains("no database at " + empty.str() + "/data/hotline.sqlite3") &&
                              Catch::Contains("nothing was forgotten"));
  CHECK(nowhere.out.empty());
  CHECK_FALSE(fs::exists(empty.path() / "data"));

  // A database but no secret (none set, none beside it): refused, and no new secret is made.
  fs::remove(data / ".local-secret");
  auto keyless = run({kHotline, "forget", "+14145550123", "--root", tree.str()}, "", env);
  CHECK(keyless.exit_code == 1);
  CHECK_THAT(keyless.err, Catch::Contains("HOTLINE_SECRET is not set") && Catch::Contains("nothing was forgotten"));
  CHECK_FALSE(fs::exists(data / ".local-secret"));
}

TEST_CASE("a HOTLINE_SECRET shorter than 16 characters is refused in local mode too") {
  auto r = run({kHotline, "serve", "--port", "0", "--root", kRoot}, "",
               {"TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=short", "HOTLINE_DB=:memory:"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("environment: error[bad-secret]: HOTLINE_SECRET must be 16 characters or more"));
  auto checked = run({kHotline, "check", kRoot}, "", {"TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=short"});
  CHECK(checked.exit_code == 1);
  CHECK_THAT(checked.out, Catch::Contains("error[bad-secret]"));
}

TEST_CASE("every hotline command in the README's and the staff guide's examples runs as written") {
  // The README's ```sh blocks and the staff guide's indented `hotline …` lines, run from the
  // repository root as a reader would (CTest runs here), with "hola" typed where they read
  // stdin. Files they write go to a temporary folder instead; `path/to/copy` is a copy.
  struct Example {
    std::string source, line;
  };
  std::vector<Example> examples;
  {
    std::istringstream readme(read_file(kRoot + "/README.md"));
    bool in_sh = false;
    for (std::string line; std::getline(readme, line);) {
      if (line.rfind("```", 0) == 0) {
        in_sh = line == "```sh";
        continue;
      }
      if (in_sh && line.find("bin/hotline ") != std::string::npos) examples.push_back({"README.md", line});
    }
  }
  {
    std::istringstream guide(read_file(kRoot + "/docs/staff-guide.md"));
    for (std::string line; std::getline(guide, line);) {
      if (line.rfind("    hotline ", 0) == 0) examples.push_back({"docs/staff-guide.md", line.substr(4)});
    }
  }
  REQUIRE(examples.size() >= 10);  // 2 in the README, 8 in the staff guide when this was written
  TempDir scratch, copy;
  copy_shipped_tree(copy);
  const bool graphviz = std::system("command -v dot >/dev/null 2>&1") == 0;
  for (const auto& example : examples) {
    INFO(example.source << ": " << example.line);
    std::string command = example.line.substr(0, example.line.find(" #"));
    while (!command.empty() && command.back() == ' ') command.pop_back();
    std::string input = "hola\n";
    if (command.rfind("echo ", 0) == 0) {  // echo TEXT | command
      const auto pipe = command.find(" | ");
      REQUIRE(pipe != std::string::npos);
      input = command.substr(5, pipe - 5) + "\n";
      command = command.substr(pipe + 3);
    }
    bool to_file = false;  // command > FILE: the output is what matters
    if (const auto redirect = command.find(" > "); redirect != std::string::npos) {
      command = command.substr(0, redirect);
      to_file = true;
    }
    auto args = shell_words(command);
    REQUIRE_FALSE(args.empty());
    REQUIRE((args[0] == "hotline" || args[0] == "build/bin/hotline"));
    args[0] = kHotline;
    std::string written;
    for (std::size_t i = 1; i < args.size(); ++i) {
      if (args[i] == "path/to/copy") args[i] = copy.str();
      if (args[i - 1] == "-o") args[i] = written = (scratch.path() / std::filesystem::path(args[i]).filename()).string();
    }
    auto r = run(args, input);
    if (!written.empty() && !graphviz) {
      // Without Graphviz the picture cannot be drawn: it says so, and keeps the DOT text.
      CHECK(r.exit_code == 1);
      CHECK_THAT(r.err, Catch::Contains("is graphviz installed?"));
      CHECK_THAT(read_file(written + ".dot"), Catch::StartsWith("digraph"));
      continue;
    }
    CHECK(r.exit_code == 0);
    if (!written.empty()) CHECK_THAT(read_file(written), Catch::Contains("<svg"));
    else CHECK_FALSE(r.out.empty());
    if (to_file) CHECK_THAT(r.out, Catch::StartsWith("digraph"));
    if (std::find(args.begin(), args.end(), "--json") != args.end()) {
      std::istringstream lines(r.out);
      for (std::string line; std::getline(lines, line);) {
        CHECK_FALSE(nlohmann::json::parse(line).value("reply", "").empty());
      }
    }
  }
}

namespace {
/// The fenced blocks (```) of a Markdown section, in order, their common indentation removed.
std::vector<std::string> fenced_blocks(const std::string& markdown, const std::string& heading) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  bool in_section = false, in_block = false;
  std::size_t indent = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0) in_section = line == heading;
    if (!in_section) continue;
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, 3, "```") == 0) {
      if (!in_block) {
        indent = first;
        blocks.emplace_back();
      }
      in_block = !in_block;
      continue;
    }
    if (in_block) blocks.back() += (line.size() >= indent ? line.substr(indent) : std::string()) + "\n";
  }
  return blocks;
}

/// Inserts `lines` (each indented by `indent` spaces) right after the first line equal to `after`.
void insert_after(const TempDir& dir, const std::string& relative, const std::string& after,
                  const std::string& lines, const std::string& indent) {
  std::string text = read_file((dir.path() / relative).string());
  const auto at = text.find("\n" + after + "\n");
  REQUIRE(at != std::string::npos);
  std::string indented;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) indented += line.empty() ? "\n" : indent + line + "\n";
  text.insert(at + after.size() + 2, indented);
  dir.write(relative, text);
}
}  // namespace

TEST_CASE("the staff guide's 'Add a question' and its conversation test do what the guide says") {
  const std::string guide = read_file(kRoot + "/docs/staff-guide.md");
  const auto add = fenced_blocks(guide, "## Add a question");
  REQUIRE(add.size() == 2);  // the intent, then the flow's lines
  const auto test = fenced_blocks(guide, "## Write a conversation test");
  REQUIRE(test.size() == 2);  // the test, then what `hotline check` shows when it fails

  TempDir tree;
  copy_shipped_tree(tree);
  // 1. The question's name and phrases, under `intents:`.
  insert_after(tree, "flows/intents.yaml", "intents:", add[0], "  ");
  // 3. The step and its `anywhere:` line, each where it belongs in flows/hotline.yaml.
  const auto steps_at = add[1].find("steps:\n");
  REQUIRE(add[1].rfind("anywhere:\n", 0) == 0);
  REQUIRE(steps_at != std::string::npos);
  insert_after(tree, "flows/hotline.yaml", "anywhere:", add[1].substr(10, steps_at - 10), "");
  insert_after(tree, "flows/hotline.yaml", "steps:", add[1].substr(steps_at + 7), "");
  // 4. The answer and its topic in both languages (the topics are the guide's own words; the
  //    answers stand for what staff would write from a checked source).
  insert_after(tree, "prompts/en.yaml", "topic_call_police: \"whether you can call the police\"",
               "bring_someone: \"(the answer staff write)\"\ntopic_bring_someone: \"whether someone can come with you\"", "");
  std::string es = read_file((tree.path() / "prompts/es.yaml").string());
  es += "\nbring_someone: \"(la respuesta que escribe el personal)\"\ntopic_bring_someone: \"si alguien puede acompañarle\"\n";
  tree.write("prompts/es.yaml", es);
  REQUIRE(guide.find("\"whether someone can come with you\" / \"si alguien puede\n   acompañarle\"") != std::string::npos);

  // Without step 2 (examples), and the test of step 5, `hotline check` fails as the guide shows.
  tree.write("flows/tests/mine.yaml", test[0]);
  auto r = run({kHotline, "check", tree.str()});
  CHECK(r.exit_code == 1);
  std::string out = r.out;
  const std::string prefix = tree.str() + "/";
  for (auto pos = out.find(prefix); pos != std::string::npos; pos = out.find(prefix)) out.erase(pos, prefix.size());
  INFO(out);
  std::istringstream shown(test[1]);
  for (std::string line; std::getline(shown, line);) {
    // "..." in the guide stands for text it leaves out.
    std::string pattern;
    for (std::size_t i = 0; i < line.size(); ++i) {
      if (line.compare(i, 3, "...") == 0) {
        pattern += ".*";
        i += 2;
      } else {
        if (std::strchr("\\^$.|?*+()[]{}", line[i])) pattern += '\\';
        pattern += line[i];
      }
    }
    INFO("the guide shows: " << line);
    CHECK(std::regex_search(out, std::regex("(^|\n)" + pattern + "(\n|$)")));
  }
  // Every other part of the question is in place: the only errors are the test's.
  CHECK_THAT(out, !Catch::Contains("error[unknown-") && !Catch::Contains("error[missing-") &&
                      !Catch::Contains("error[unhandled-intent]"));
}

TEST_CASE("forget takes the number in either form and forgets the person, old WhatsApp key included") {
  TempDir data;
  const std::string db = (data.path() / "h.sqlite3").string();
  const std::string secret = "forget-test-secret-0123456789";
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=", "HOTLINE_SECRET=" + secret};
  auto key = [&](const std::string& address) { return hotline::crypto::contact_key(secret, address); };
  // The person's key (SMS and WhatsApp alike), and what an older hotline kept under the WhatsApp
  // address's own key.
  const std::string person = key("+14145550007"), old_whatsapp = key("whatsapp:+14145550007");
  auto keep_both = [&] {
    auto store = hotline::store::open_sqlite(db);
    for (const std::string& k : {person, old_whatsapp, key("+14145550008")}) store->set_opted_out(k, true, 1'000);
  };
  const std::string both = "forgotten: " + person + " (1 record(s) erased)\n"
                           "forgotten: " + old_whatsapp + " (1 record(s) erased): kept on WhatsApp apart, before SMS "
                           "and WhatsApp were one contact\n";
  for (const std::string typed : {"+14145550007", "whatsapp:+14145550007"}) {
    INFO(typed);
    keep_both();
    auto r = run({kHotline, "forget", typed, "--root", kRoot}, "", env);
    CHECK(r.exit_code == 0);
    CHECK(r.out == both);
    auto store = hotline::store::open_sqlite(db);
    CHECK_FALSE(store->is_opted_out(person));
    CHECK_FALSE(store->is_opted_out(old_whatsapp));
    CHECK(store->is_opted_out(key("+14145550008")));
  }
  auto r = run({kHotline, "forget", "whatsapp:+14145550007", "--root", kRoot}, "", env);
  CHECK(r.out == "nothing was kept about " + person + "\n");
}

TEST_CASE("simulate greets with one line, and shows under each reply its topic and segments (not with --json)") {
  const std::string banner =
      "Simulating text messages (SMS), in the language each message is written in (--lang en|es sets one). Type "
      "a message, then Enter; Ctrl-D quits. --explain shows why each reply was chosen.\n";
  const std::string input = "hello\nwill the police ask about my immigration status?\n";
  auto text = run({kHotline, "simulate", "--root", kRoot}, input);
  auto json = run({kHotline, "simulate", "--json", "--root", kRoot}, input);
  REQUIRE(text.exit_code == 0);
  REQUIRE(json.exit_code == 0);
  // --json is for programs: no banner, one object a line, as before.
  std::istringstream lines(json.out);
  std::vector<nlohmann::json> turns;
  for (std::string line; std::getline(lines, line);) turns.push_back(nlohmann::json::parse(line));
  REQUIRE(turns.size() == 2);
  CHECK(turns[0]["intent"] == "greeting");
  CHECK(turns[1]["intent"] == "status_reporting");
  // The person's view: the banner, then each reply with the same turn's topic and segments.
  auto summary = [](const nlohmann::json& turn) {
    const std::string intent = turn["intent"];
    const int segments = turn["segments"];
    return "  [topic: " + (intent.empty() ? std::string("none") : intent) + "; " + std::to_string(segments) +
           (segments == 1 ? " segment]\n" : " segments]\n");
  };
  CHECK(text.out == banner + turns[0]["reply"].get<std::string>() + "\n" + summary(turns[0]) + "\n" +
                        turns[1]["reply"].get<std::string>() + "\n" + summary(turns[1]) + "\n");
  CHECK(summary(turns[0]) == "  [topic: greeting; 2 segments]\n");
  CHECK(summary(turns[1]) == "  [topic: status_reporting; 2 segments]\n");

  auto spanish = run({kHotline, "simulate", "--root", kRoot, "--lang", "es", "--explain"}, "");
  CHECK(spanish.out ==
        "Simulating text messages (SMS) in Spanish. Type a message, then Enter; Ctrl-D quits. --explain is on: why "
        "each reply was chosen is under it.\n");
  auto call = run({kHotline, "simulate", "--root", kRoot, "--channel", "voice", "--lang", "en"}, "");
  CHECK_THAT(call.out, Catch::StartsWith("Simulating a phone call in English. Type the keys pressed or the words said, "
                                         "then Enter (an empty line is silence); Ctrl-D quits.\n"));
}

TEST_CASE("hotline roster: who is on shift, the week's coverage and every gap, by name and never by number") {
  auto r = run({kHotline, "roster", "--root", kRoot, "--at", "2026-12-08T16:00:00Z"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  const std::string english_gaps = "  Mon 17:00–Tue 09:00: nobody for English X\n"
                                    "  Tue 17:00–Wed 09:00: nobody for English X\n"
                                    "  Wed 17:00–Thu 09:00: nobody for English X\n"
                                    "  Thu 17:00–Fri 09:00: nobody for English X\n"
                                    "  Fri 17:00–Mon 09:00: nobody for English X\n";
  auto with = [](std::string text, const std::string& what) {
    for (auto at = text.find(" X\n"); at != std::string::npos; at = text.find(" X\n")) text.replace(at, 3, " " + what + "\n");
    return text;
  };
  std::string spanish_calls_gaps = with(english_gaps, "calls");
  for (auto at = spanish_calls_gaps.find("English"); at != std::string::npos; at = spanish_calls_gaps.find("English")) {
    spanish_calls_gaps.replace(at, 7, "Spanish");
  }
  CHECK(r.out ==
        "On shift Tue 2026-12-08 10:00 CST (America/Chicago):\n"
        "  Maria (example): texts and calls in Spanish and English\n"
        "\n"
        "Each week:\n"
        "  English texts: Mon–Fri 09:00–17:00\n"
        "  English calls: Mon–Fri 09:00–17:00\n"
        "  Spanish texts: Mon–Fri 09:00–20:00, Sat 10:00–14:00\n"
        "  Spanish calls: Mon–Fri 09:00–17:00\n"
        "\n"
        "Gaps (21):\n" +
            with(english_gaps, "texts") + with(english_gaps, "calls") +
            "  Mon 20:00–Tue 09:00: nobody for Spanish texts\n"
            "  Tue 20:00–Wed 09:00: nobody for Spanish texts\n"
            "  Wed 20:00–Thu 09:00: nobody for Spanish texts\n"
            "  Thu 20:00–Fri 09:00: nobody for Spanish texts\n"
            "  Fri 20:00–Sat 10:00: nobody for Spanish texts\n"
            "  Sat 14:00–Mon 09:00: nobody for Spanish texts\n" +
            spanish_calls_gaps);

  // Friday 13:00: Ann too, and Jose, who takes only texts.
  auto friday = run({kHotline, "roster", "--root", kRoot, "--at", "fri 13:00"},
                    "", {"HOTLINE_NOW=2026-12-08T16:00:00Z"});
  CHECK(friday.exit_code == 0);
  CHECK_THAT(friday.out, Catch::StartsWith("On shift Fri 2026-12-11 13:00 CST (America/Chicago):\n"
                                           "  Maria (example): texts and calls in Spanish and English\n"
                                           "  Jose (example): texts in Spanish\n"
                                           "  Ann (example): texts and calls in English\n\n"));
  for (const char* digits : {"5550100001", "5550100002", "5550100003", "0100"}) CHECK_THAT(r.out + friday.out, !Catch::Contains(digits));
}

TEST_CASE("hotline roster: an advocate without a name by id, nobody on shift, a bad --at, a broken roster") {
  TempDir dir;
  dir.write("config/advocates.yaml",
            "timezone: America/Chicago\nadvocates:\n  - id: ana\n    phone: \"+15550100001\"\n    languages: [es]\n"
            "    role: coordinator\n    shifts:\n      - {days: mon-sun, hours: \"00:00-24:00\"}\n");
  auto ana = run({kHotline, "roster", "--root", dir.str(), "--at", "2026-12-08T16:00:00Z"});
  CHECK(ana.exit_code == 0);
  CHECK(ana.out ==
        "On shift Tue 2026-12-08 10:00 CST (America/Chicago):\n"
        "  ana: texts and calls in Spanish (coordinator)\n"
        "\n"
        "Each week:\n"
        "  English texts: nobody\n"
        "  English calls: nobody\n"
        "  Spanish texts: all week\n"
        "  Spanish calls: all week\n"
        "\n"
        "Gaps (2):\n"
        "  all week: nobody for English texts\n"
        "  all week: nobody for English calls\n");

  dir.write("config/advocates.yaml",
            "advocates:\n  - id: ana\n    phone: \"+15550100001\"\n    languages: [es]\n"
            "    shifts:\n      - {days: sat, hours: \"10:00-14:00\"}\n");
  auto nobody = run({kHotline, "roster", "--root", dir.str(), "--at", "2026-12-08T16:00:00Z"});
  CHECK_THAT(nobody.out, Catch::StartsWith("On shift Tue 2026-12-08 10:00 CST (America/Chicago):\n"
                                           "  nobody: texters are told the hours, callers may leave a voicemail\n\n"));

  auto bad_time = run({kHotline, "roster", "--root", dir.str(), "--at", "someday"});
  CHECK(bad_time.exit_code == 2);
  CHECK(bad_time.err == "hotline: --at takes a day and time in the roster's time zone, e.g. \"tue 02:00\", or an "
                        "ISO 8601 time with its zone, e.g. 2026-12-08T10:00:00-06:00\n");

  const std::string file = dir.write("config/advocates.yaml",
            "advocates:\n  - id: ana\n    phone: \"4145550100\"\n    languages: [es]\n"
            "    shifts:\n      - {days: sat, hours: \"10:00-14:00\"}\n");
  auto broken = run({kHotline, "roster", "--root", dir.str()});
  CHECK(broken.exit_code == 1);
  CHECK(broken.out.empty());
  CHECK(broken.err == file + ":3:12: error[invalid-phone]: phone must be in E.164 form: + and the country code, "
                             "then the number, digits only (8 to 15 digits)\n"
                             "hotline: the advocates file has errors; fix them and run `hotline check`\n");
  CHECK_THAT(broken.err, !Catch::Contains("4145550100"));

  auto help = run({kHotline, "roster", "--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::StartsWith("Usage: hotline roster"));
}

// --- hotline report ----------------------------------------------------------------------------

namespace {

/// A `hotline serve` in local mode with the clock at `now`, for the length of `talk`.
template <typename Talk>
void serve_at(const std::string& now, const std::vector<std::string>& env, Talk talk) {
  std::vector<std::string> at = env;
  at.push_back("HOTLINE_NOW=" + now);
  Process server({kHotline, "serve", "--port", "0", "--root", kRoot}, "", at);
  const int port = port_of(server.wait_for_stderr("\"event\":\"serving\""));
  REQUIRE(port > 0);
  httplib::Client client("127.0.0.1", port);
  auto post = [&](const std::string& path, const hotline::twilio::FormFields& form) {
    auto res = client.Post(path.c_str(), hotline::twilio::encode_form(form), "application/x-www-form-urlencoded");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    return res->body;
  };
  talk(post);
  server.signal(SIGTERM);
  REQUIRE(server.wait() == 0);
}

}  // namespace

TEST_CASE("report: what people asked, per day and per week, from real turns, for people and for spreadsheets") {
  TempDir data;
  const std::string db = (data.path() / "h.sqlite3").string();
  const std::string roster = data.write("advocates.yaml",
                                        "timezone: America/Chicago\n"
                                        "advocates:\n"
                                        "  - id: ana\n"
                                        "    name: Ana\n"
                                        "    phone: \"+15550109001\"\n"
                                        "    languages: [es, en]\n"
                                        "    shifts:\n"
                                        "      - {days: [fri, sat], hours: \"08:00-18:00\"}\n");
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=", "HOTLINE_ADVOCATES=" + roster,
                                        "HOTLINE_SECRET=report-test-secret-0123456789"};
  auto sms = [](const std::string& from, const std::string& sid, const std::string& body) {
    return hotline::twilio::FormFields{{"From", from}, {"MessageSid", sid}, {"Body", body}};
  };
  // Friday 4 December, 09:00 in Milwaukee.
  serve_at("2026-12-04T15:00:00Z", env, [&](auto post) {
    post("/twilio/sms", sms("+14145550001", "SM1", "¿Puedo llamar a la policía?"));
    post("/twilio/sms", sms("+14145550001", "SM1", "¿Puedo llamar a la policía?"));  // redelivered: no count
    post("/twilio/sms", sms("+14145550001", "SM2", "2"));                             // the menu's 2
    post("/twilio/sms", sms("+14145550001", "SM3", "zzz qqq"));
    post("/twilio/sms", sms("whatsapp:+14145550002", "SM4", "hello"));
    post("/twilio/sms", sms("whatsapp:+14145550002", "SM5", "0"));                    // a person, please
    post("/twilio/voice", {{"CallSid", "CA1"}, {"From", "+14145550003"}, {"CallStatus", "ringing"}});
  });
  std::string code;
  {
    auto store = hotline::store::open_sqlite(db);
    const auto relays = store->relays();
    REQUIRE(relays.size() == 1);
    code = relays.front().code;
  }
  // 3 min 20 s later (a restart between: the counts are in the database), Ana takes it, and the
  // first texter sends STOP.
  serve_at("2026-12-04T15:03:20Z", env, [&](auto post) {
    CHECK_THAT(post("/twilio/sms", sms("+15550109001", "SM6", "#take " + code)), Catch::Contains(code));
    post("/twilio/sms", sms("+14145550001", "SM7", "STOP"));
  });
  // Saturday: one more, in Spanish; and the texter forgotten, which leaves the counts.
  serve_at("2026-12-05T16:00:00Z", env, [&](auto post) { post("/twilio/sms", sms("+14145550004", "SM8", "hola")); });
  REQUIRE(run({kHotline, "forget", "+14145550001", "--root", kRoot}, "", env).exit_code == 0);

  const std::vector<std::string> at_saturday = [&] {
    auto e = env;
    e.push_back("HOTLINE_NOW=2026-12-05T20:00:00Z");
    return e;
  }();
  auto daily = run({kHotline, "report", "--from", "2026-12-03", "--to", "2026-12-05", "--root", kRoot}, "", at_saturday);
  CHECK(daily.exit_code == 0);
  CHECK(daily.err == "");
  // Friday: three conversations (SMS, WhatsApp, a call whose language was not chosen yet); six
  // messages (the redelivered SM1 counts once; "2" under the topic it chose, "zzz qqq" and STOP
  // under none); one not understood; one hand-off, taken after 3 min 20 s; one opt-out. The
  // forgotten texter's counts stay.
  CHECK(daily.out ==
        "Hotline report, 2026-12-03 to 2026-12-05, per day. Counts only: no numbers, no words.\n"
        "\n"
        "2026-12-03 (Thu)\n"
        "  nothing counted\n"
        "\n"
        "2026-12-04 (Fri)\n"
        "  conversations       3   sms 1, whatsapp 1, voice 1; en 1, es 1, not known yet 1\n"
        "  messages            6   sms 4, whatsapp 2; en 2, es 4\n"
        "    by topic     none 2, advocate 1, call_police 1, greeting 1, status_reporting 1\n"
        "  not understood      1   17% of messages\n"
        "  hand-offs asked     1\n"
        "  hand-offs taken     1   average wait 3 min 20 s\n"
        "  voicemails          0\n"
        "  opt-outs            1\n"
        "\n"
        "2026-12-05 (Sat)\n"
        "  conversations       1   sms 1; es 1\n"
        "  messages            1   sms 1; es 1\n"
        "    by topic     greeting 1\n"
        "  not understood      0   0% of messages\n"
        "  hand-offs asked     0\n"
        "  hand-offs taken     0\n"
        "  voicemails          0\n"
        "  opt-outs            0\n");
  // The default: the seven days up to today (the hotline's today, in Milwaukee), per week
  // (Monday to Sunday, cut to those days).
  auto week = run({kHotline, "report", "--week", "--root", kRoot}, "", at_saturday);
  CHECK(week.exit_code == 0);
  CHECK(week.out ==
        "Hotline report, 2026-11-29 to 2026-12-05, per week. Counts only: no numbers, no words.\n"
        "\n"
        "2026-11-29 (Sun)\n"
        "  nothing counted\n"
        "\n"
        "2026-11-30 (Mon) to 2026-12-05 (Sat)\n"
        "  conversations       4   sms 2, whatsapp 1, voice 1; en 1, es 2, not known yet 1\n"
        "  messages            7   sms 5, whatsapp 2; en 2, es 5\n"
        "    by topic     greeting 2, none 2, advocate 1, call_police 1, status_reporting 1\n"
        "  not understood      1   14% of messages\n"
        "  hand-offs asked     1\n"
        "  hand-offs taken     1   average wait 3 min 20 s\n"
        "  voicemails          0\n"
        "  opt-outs            1\n");
  auto csv = run({kHotline, "report", "--csv", "--from", "2026-12-04", "--to", "2026-12-05", "--root", kRoot}, "",
                 at_saturday);
  CHECK(csv.exit_code == 0);
  CHECK(csv.out ==
        "period,metric,topic,lang,channel,count\n"
        "2026-12-04,claim_seconds,,en,whatsapp,200\n"
        "2026-12-04,conversations,,,voice,1\n"
        "2026-12-04,conversations,call_police,es,sms,1\n"
        "2026-12-04,conversations,greeting,en,whatsapp,1\n"
        "2026-12-04,handoffs_asked,,en,whatsapp,1\n"
        "2026-12-04,handoffs_claimed,,en,whatsapp,1\n"
        "2026-12-04,messages,,es,sms,2\n"
        "2026-12-04,messages,advocate,en,whatsapp,1\n"
        "2026-12-04,messages,call_police,es,sms,1\n"
        "2026-12-04,messages,greeting,en,whatsapp,1\n"
        "2026-12-04,messages,status_reporting,es,sms,1\n"
        "2026-12-04,not_understood,,es,sms,1\n"
        "2026-12-04,opt_outs,,es,sms,1\n"
        "2026-12-05,conversations,greeting,es,sms,1\n"
        "2026-12-05,messages,greeting,es,sms,1\n");
  // Per week in a spreadsheet: Thursday to Monday is two periods, each named by its first day in
  // the range (Thursday 3rd, Monday 7th); Friday's and Saturday's counts are in the first.
  auto weekly_csv = run({kHotline, "report", "--csv", "--week", "--from", "2026-12-03", "--to", "2026-12-07",
                         "--root", kRoot}, "", at_saturday);
  CHECK(weekly_csv.out ==
        "period,metric,topic,lang,channel,count\n"
        "2026-12-03,claim_seconds,,en,whatsapp,200\n"
        "2026-12-03,conversations,,,voice,1\n"
        "2026-12-03,conversations,call_police,es,sms,1\n"
        "2026-12-03,conversations,greeting,en,whatsapp,1\n"
        "2026-12-03,conversations,greeting,es,sms,1\n"
        "2026-12-03,handoffs_asked,,en,whatsapp,1\n"
        "2026-12-03,handoffs_claimed,,en,whatsapp,1\n"
        "2026-12-03,messages,,es,sms,2\n"
        "2026-12-03,messages,advocate,en,whatsapp,1\n"
        "2026-12-03,messages,call_police,es,sms,1\n"
        "2026-12-03,messages,greeting,en,whatsapp,1\n"
        "2026-12-03,messages,greeting,es,sms,1\n"
        "2026-12-03,messages,status_reporting,es,sms,1\n"
        "2026-12-03,not_understood,,es,sms,1\n"
        "2026-12-03,opt_outs,,es,sms,1\n");
}

TEST_CASE("report: a wrong date or a missing database is said plainly, and no database is created") {
  TempDir data;
  const std::string db = (data.path() / "none.sqlite3").string();
  const std::vector<std::string> env = {"HOTLINE_DB=" + db, "TWILIO_AUTH_TOKEN=", "HOTLINE_NOW=2026-12-05T20:00:00Z"};
  auto bad = run({kHotline, "report", "--from", "2026-13-01", "--root", kRoot}, "", env);
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "hotline: --from takes a date as YYYY-MM-DD, e.g. 2026-11-29; got '2026-13-01'\n");
  auto reversed = run({kHotline, "report", "--from", "2026-12-06", "--to", "2026-12-05", "--root", kRoot}, "", env);
  CHECK(reversed.exit_code == 2);
  CHECK(reversed.err == "hotline: --from 2026-12-06 is after --to 2026-12-05: nothing to report\n");
  auto unknown = run({kHotline, "report", "--days", "3", "--root", kRoot}, "", env);
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err == "hotline: report does not take '--days' (see hotline report --help)\n");
  auto missing = run({kHotline, "report", "--root", kRoot}, "", env);
  CHECK(missing.exit_code == 1);
  CHECK(missing.err == "hotline: no database at " + db + " (set HOTLINE_DB, or --root, to the server's)\n");
  CHECK_FALSE(std::filesystem::exists(db));
}

TEST_CASE("the staff guide's 'YAML you will meet' shows lines of the shipped files, and what it says of them holds") {
  const std::string guide = read_file(kRoot + "/docs/staff-guide.md");
  const auto blocks = fenced_blocks(guide, "## YAML you will meet");
  REQUIRE(blocks.size() == 4);  // >-, |-, {days: …}, the anchors
  std::set<std::string> shipped;
  for (const char* file : {"/flows/hotline.yaml", "/prompts/en.yaml", "/config/advocates.yaml"}) {
    std::istringstream in(read_file(kRoot + file));
    for (std::string line; std::getline(in, line);) shipped.insert(line.substr(std::min(line.size(), line.find_first_not_of(' '))));
  }
  for (const auto& block : blocks) {
    std::istringstream in(block);
    for (std::string line; std::getline(in, line);) {
      const std::string text = line.substr(std::min(line.size(), line.find_first_not_of(' ')));
      if (text.empty() || text.ends_with("...")) continue;  // "..." stands for the rest
      INFO("the guide shows: " << line);
      CHECK(shipped.count(text) == 1);
    }
  }
  // A text with ": " left unquoted, and a *name with no &name above it, are what the guide says.
  TempDir tree;
  copy_shipped_tree(tree);
  const std::string prompts = read_file((tree.path() / "prompts/en.yaml").string());
  const std::string quoted = "relay_waiting_forward: \"{code} (while waiting): {message}\"";
  REQUIRE(prompts.find(quoted) != std::string::npos);
  std::string unquoted = prompts;
  unquoted.replace(unquoted.find(quoted), quoted.size(), "relay_waiting_forward: Waiting: {message}");
  tree.write("prompts/en.yaml", unquoted);
  auto colon = run({kHotline, "check", tree.str()});
  CHECK(colon.exit_code == 1);
  CHECK_THAT(colon.out + colon.err, Catch::Contains("error[yaml-colon]"));
  tree.write("prompts/en.yaml", prompts);
  const std::string flow = read_file((tree.path() / "flows/hotline.yaml").string());
  std::string no_anchor = flow;
  no_anchor.replace(no_anchor.find("replies: &menu_replies"), 22, "replies: &menu_numbers");
  tree.write("flows/hotline.yaml", no_anchor);
  auto alias = run({kHotline, "check", tree.str()});
  CHECK(alias.exit_code == 1);
  CHECK_THAT(alias.out + alias.err, Catch::Contains("error[yaml-syntax]"));
  tree.write("flows/hotline.yaml", flow);
  CHECK(run({kHotline, "check", tree.str()}).exit_code == 0);
}
