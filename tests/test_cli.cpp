// The `hotline` command line as staff and operators use it: the real binary, real processes.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hotline/crypto/keys.hpp"
#include "hotline/store/session_store.hpp"
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
  for (const char* word : {"serve", "simulate", "check", "forget", "TWILIO_AUTH_TOKEN", "HOTLINE_SECRET"}) {
    CHECK_THAT(r.out, Catch::Contains(word));
  }
  for (const char* command : {"serve", "simulate", "check", "graph"}) {
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
  CHECK(r.out == "forgotten: " + key("+14145550001") + "\n");
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
  CHECK_THAT(r.out, Catch::Contains("forgotten: v_one (a voicemail)"));
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
  CHECK(r.out == "forgotten: " + key + "\n");
  auto store = hotline::store::open_sqlite(db);
  CHECK_FALSE(store->load(key));
  CHECK_FALSE(store->response_for(key, "SM1"));
  CHECK_FALSE(store->response_for(key, "SM2"));
}
