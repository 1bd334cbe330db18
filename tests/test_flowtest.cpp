// Conversation tests staff write (flows/tests/*.yaml): the file format, its diagnostics, the
// failure report, and the shipped set against the shipped content.
#include <catch2/catch.hpp>

#include "hotline/flowtest/flowtest.hpp"
#include "support.hpp"

using namespace hotline;
using test_support::TempDir;

namespace {

// A tiny bundle whose texts the tests control, so the expected failure text is stable.
struct Tiny {
  TempDir dir;
  std::shared_ptr<const flow::Bundle> bundle;

  Tiny() {
    dir.write("flows/hotline.yaml", test_support::kTinyFlow);
    dir.write("flows/intents.yaml", test_support::kTinyIntents);
    std::string en, es;
    std::vector<std::string> keys{"menu", "advocate", "emergency"};
    for (const char* key : flow::kEnginePrompts) keys.push_back(key);
    for (const char* key : flow::kVoicePrompts) keys.push_back(key);
    for (const char* key : flow::kRelayPrompts) keys.push_back(key);
    for (const char* key : flow::kConsolePrompts) keys.push_back(key);
    for (const auto& key : keys) {
      en += key + ": " + key + " in English\n";
      es += key + ": " + key + " en español\n";
    }
    dir.write("prompts/en.yaml", en);
    dir.write("prompts/es.yaml", es);
    Diagnostics diags;
    bundle = flow::load_bundle(dir.str(), {}, diags);
    if (!bundle) FAIL(diags.to_string());
  }

  // Writes flows/tests/t.yaml, loads and runs it; returns diagnostics with the dir stripped.
  std::string run(const std::string& yaml, flowtest::Summary* summary = nullptr) {
    dir.write("flows/tests/t.yaml", yaml);
    Diagnostics diags;
    auto s = flowtest::check_conversations(dir.str(), *bundle, Lang::en, diags);
    if (summary) *summary = s;
    std::string out = diags.to_string();
    const std::string prefix = dir.str() + "/";
    for (auto pos = out.find(prefix); pos != std::string::npos; pos = out.find(prefix)) out.erase(pos, prefix.size());
    return out;
  }
};

}  // namespace

TEST_CASE("the shipped conversation tests pass against the shipped content") {
  Diagnostics diags;
  auto summary = flowtest::check_conversations(HOTLINE_SOURCE_DIR, *test_support::shipped_bundle(),
                                               Lang::es, diags);
  INFO(diags.to_string());
  CHECK(diags.items().empty());
  CHECK(summary.failed == 0);
  CHECK(summary.passed >= 30);
}

TEST_CASE("a passing test file gives no diagnostics") {
  Tiny t;
  flowtest::Summary s;
  CHECK(t.run(R"(- test: menu then a person
  lang: en
  turns:
    - send: hi
      expect: {node: menu, lang: en, reply_contains: menu in English, intent: none}
    - send: "1"
      expect:
        handoff: true
        node: menu
        reply_contains: [advocate in English, menu in English]
        reply_lacks: español
        max_segments: 1
- test: Spanish, chosen before
  lang: es
  channel: voice
  turns:
    - send: auxilio
      expect: {intent: emergency, lang: es, reply_contains: emergency en español}
    - send: STOP
      expect: {opted_out: false, node: menu}
- test: STOP by text ends the conversation
  turns:
    - send: STOP
      expect: {opted_out: true, node: end, reply_lacks: menu}
- test: matching ignores capitals, accents and punctuation, but wants whole words
  lang: es
  turns:
    - send: hi
      expect: {reply_contains: "MENU, EN ESPANOL!", reply_lacks: [menu en espa, enu]}
)", &s) == "");
  CHECK(s.passed == 4);
  CHECK(s.failed == 0);
}

TEST_CASE("a failing turn shows what was expected and what the hotline answered") {
  Tiny t;
  flowtest::Summary s;
  CHECK(t.run(R"(- test: wrong expectations
  turns:
    - send: hi
      expect: {node: menu}
    - send: help me now
      expect:
        intent: advocate
        node: advocate
        handoff: true
        reply_contains: [call 911, emergency in English]
        reply_lacks: menu
    - send: never reached
      expect: {node: menu}
)", &s) ==
        "flows/tests/t.yaml:5:7: error[test-failed]: test 'wrong expectations', turn 2 of 3 (sms, send \"help me now\"):\n"
        "    node: expected advocate, got menu\n"
        "    intent: expected advocate, got emergency\n"
        "    handoff: expected true, got false\n"
        "    reply: expected to contain \"call 911\"\n"
        "    reply: expected not to contain \"menu\"\n"
        "    the reply was:\n"
        "      | emergency in English\n"
        "      |\n"
        "      | menu in English\n");
  CHECK(s.passed == 0);
  CHECK(s.failed == 1);
}

TEST_CASE("a malformed test file is reported with file:line:col, every problem at once") {
  Tiny t;
  CHECK(t.run(R"(- test: typos
  chanel: sms
  turns:
    - sned: hi
      expect: {nod: menu, lang: fr, handoff: maybe}
- turns: []
- test: no turns
  channel: fax
)") ==
        "flows/tests/t.yaml:2:3: error[unknown-field]: unknown field 'chanel' in a test; expected test, channel, lang or turns\n"
        "flows/tests/t.yaml:4:7: error[unknown-field]: unknown field 'sned' in a turn; expected send, media, waiting or expect\n"
        "flows/tests/t.yaml:4:7: error[missing-field]: the turn has no `send:`\n"
        "flows/tests/t.yaml:5:16: error[unknown-field]: unknown field 'nod' in `expect`; expected reply_contains, "
        "reply_lacks, intent, node, lang, handoff, opted_out or max_segments\n"
        "flows/tests/t.yaml:5:33: error[unknown-language]: `lang` must be en or es\n"
        "flows/tests/t.yaml:5:46: error[expected-true-false]: `handoff` must be true or false\n"
        "flows/tests/t.yaml:6:3: error[missing-field]: the test has no `test:` (its name)\n"
        "flows/tests/t.yaml:6:10: error[expected-list]: `turns` must be a list of `- send:` lines\n"
        "flows/tests/t.yaml:7:3: error[missing-field]: test 'no turns' has no `turns:`\n"
        "flows/tests/t.yaml:8:12: error[unknown-channel]: `channel` must be sms or voice, not 'fax'\n");
}

TEST_CASE("YAML syntax errors in a test file point at the line") {
  Tiny t;
  CHECK_THAT(t.run("- test: x\n  turns: [\n"), Catch::StartsWith("flows/tests/t.yaml:3:1: error[yaml-syntax]: "));
  CHECK(t.run("test: not a list\n") ==
        "flows/tests/t.yaml:1:1: error[tests-not-list]: a test file is a list of tests, each starting with `- test:`\n");
}

TEST_CASE("a test naming a step or intent that does not exist is an error, not a failure") {
  Tiny t;
  flowtest::Summary s;
  CHECK(t.run(R"(- test: typos in names
  turns:
    - send: hi
      expect: {node: menuu, intent: greting}
    - send: hi
      expect: {node: end, intent: none}
)", &s) ==
        "flows/tests/t.yaml:4:22: error[unknown-step]: there is no step named 'menuu' (use `end` for a "
        "conversation that ended)\n"
        "flows/tests/t.yaml:4:37: error[unknown-intent]: intent 'greting' is not defined in flows/intents.yaml "
        "(use `none` for a message nothing matches)\n");
  CHECK(s.passed + s.failed == 0);  // not run while the file has errors
}

// fuzz/fuzz_flow_loader found that a list or a map as a key threw out of the YAML loaders; the
// conversation-test loader read its keys the same way.
TEST_CASE("fuzz regression: a list or a map as a key in a test file is an error, not an exception", "[fuzz]") {
  Tiny t;
  CHECK(t.run("- test: keys\n  ? :\n  turns:\n    - send: hi\n      [expect]: {node: menu}\n") ==
        "flows/tests/t.yaml:2:5: error[complex-key]: a key must be a name, a number or text, not a list or a map\n"
        "flows/tests/t.yaml:5:7: error[complex-key]: a key must be a name, a number or text, not a list or a map\n");
}
