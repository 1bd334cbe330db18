// The flow loader and bundle checks: every problem at once, each with its exact text.
#include <catch2/catch.hpp>

#include "hotline/flow/bundle.hpp"
#include "support.hpp"

using namespace hotline;
using test_support::TempDir;

namespace {

std::string prompts_file(const std::string& extra = "") {
  std::string text;
  for (const char* key : {"menu", "advocate", "emergency", "help", "opted_out", "opted_in",
                          "language_set", "choose_language", "not_understood",
                          "unsupported_media", "flow_changed"}) {
    text += std::string(key) + ": text for " + key + "\n";
  }
  text += extra;
  if (!text.empty() && text.back() != '\n') text += '\n';
  // Prompts the channels say around the flow are required too (last, so line numbers above hold).
  for (const char* key : flow::kRelayPrompts) text += std::string(key) + ": text for " + key + "\n";
  for (const char* key : flow::kConsolePrompts) text += std::string(key) + ": text for " + key + "\n";
  for (const char* key : flow::kVoicePrompts) text += std::string(key) + ": text for " + key + "\n";
  return text;
}

// Writes a bundle tree and loads it; returns the diagnostics as staff would see them.
struct Fixture {
  TempDir dir;
  std::string flow = test_support::kTinyFlow, intents = test_support::kTinyIntents, en = prompts_file(), es = prompts_file();
  prompts::Variables details;
  Diagnostics diags;

  std::shared_ptr<const flow::Bundle> load() {
    dir.write("flows/hotline.yaml", flow);
    dir.write("flows/intents.yaml", intents);
    dir.write("prompts/en.yaml", en);
    dir.write("prompts/es.yaml", es);
    diags = Diagnostics{};
    return flow::load_bundle(dir.str(), details, diags);
  }
  // Diagnostics with the temp dir stripped, so the expected text is stable.
  std::string text() const {
    std::string out = diags.to_string();
    const std::string prefix = dir.str() + "/";
    for (auto pos = out.find(prefix); pos != std::string::npos; pos = out.find(prefix)) out.erase(pos, prefix.size());
    return out;
  }
};

void replace(std::string& s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  s.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("a correct bundle loads with no diagnostics") {
  Fixture f;
  auto bundle = f.load();
  REQUIRE(bundle);
  CHECK(f.text().empty());
  CHECK(bundle->flow.name == "tiny");
  CHECK(bundle->flow.steps.size() == 3);
  const flow::Step* menu = bundle->flow.find("menu");
  REQUIRE(menu);
  CHECK(menu->then == flow::Step::Then::wait);
  CHECK(menu->replies == std::vector<std::pair<std::string, std::string>>{{"1", "advocate"}});
}

TEST_CASE("the shipped flows, prompts and intents have no errors and no warnings") {
  Diagnostics diags;
  auto bundle = flow::load_bundle(HOTLINE_SOURCE_DIR, {}, diags);
  INFO(diags.to_string());
  CHECK(bundle);
  CHECK(diags.items().empty());
}

TEST_CASE("a step that names a missing step is reported where it is written") {
  Fixture f;
  replace(f.flow, "go: menu\n  emergency:", "go: menuu\n  emergency:");
  CHECK_FALSE(f.load());
  CHECK(f.text() == "flows/hotline.yaml:14:9: error[unknown-step]: there is no step named 'menuu'; did you mean `menu`?\n");
}

TEST_CASE("unknown fields name what is expected") {
  Fixture f;
  replace(f.flow, "    say: menu\n", "    sey: menu\n");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:8:5: error[unknown-field]: unknown field 'sey' in step 'menu'; expected "
        "say, replies, intents, otherwise, go, handoff or end\n");
}

TEST_CASE("a step must say what happens next, once") {
  Fixture f;
  replace(f.flow, "    say: emergency\n    go: menu\n", "    say: emergency\n");
  replace(f.flow, "    handoff: advocate\n    go: menu\n", "    handoff: advocate\n    go: menu\n    end: true\n");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:11:3: error[conflicting-next]: step 'advocate' has more than one of "
        "`replies:`, `go:` and `end:`\n"
        "flows/hotline.yaml:16:3: error[missing-next]: step 'emergency' must end with `replies:` "
        "(wait), `go:` (continue) or `end: true`\n");
}

TEST_CASE("a prompt missing in one language is an error in both directions") {
  Fixture f;
  f.en += "extra: only in English\n";
  replace(f.es, "advocate: text for advocate\n", "");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:12:10: error[missing-prompt]: prompt 'advocate' is missing in prompts/es.yaml\n"
        "prompts/en.yaml:2:1: error[missing-translation]: prompt 'advocate' has no es text in prompts/es.yaml\n"
        "prompts/en.yaml:" + std::to_string(12 + std::size(flow::kRelayPrompts) + std::size(flow::kConsolePrompts) +
                                          std::size(flow::kVoicePrompts)) +
            ":1: error[missing-translation]: prompt 'extra' has no es text in prompts/es.yaml\n");
}

TEST_CASE("placeholders must match across languages and be configured") {
  Fixture f;
  replace(f.en, "menu: text for menu", "menu: Welcome to {org_name}");
  replace(f.es, "menu: text for menu", "menu: Bienvenido a {organizacion}");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "prompts/en.yaml:1:1: error[placeholder-mismatch]: prompt 'menu' uses 'org_name' here but "
        "'organizacion' in prompts/es.yaml\n"
        "prompts/en.yaml:1:1: warning[unset-detail]: prompt 'menu' needs 'org_name' but "
        "config/hotline.yaml does not set it under `details:`\n"
        "prompts/es.yaml:1:1: warning[unset-detail]: prompt 'menu' needs 'organizacion' but "
        "config/hotline.yaml does not set it under `details:`\n");
}

TEST_CASE("an intent the flow does not handle is an error, and so is an unknown one") {
  Fixture f;
  replace(f.flow, "  advocate: advocate\nsteps:", "  advocat: advocate\nsteps:");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:1:1: error[unknown-intent]: intent 'advocat' is not defined in flows/intents.yaml; "
        "did you mean `advocate`?\n"
        "flows/intents.yaml:6:3: error[unhandled-intent]: intent 'advocate' is not handled by the flow; "
        "add it to `anywhere:`\n");
}

TEST_CASE("a loop of go: steps that never waits is an error; a step nobody reaches is a warning") {
  Fixture f;
  f.flow += "  ping:\n    go: pong\n  pong:\n    go: ping\n";
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:18:3: error[endless-loop]: step 'ping' leads back to itself through `go:` "
        "without waiting for a reply\n"
        "flows/hotline.yaml:18:3: warning[unreachable-step]: no path leads to step 'ping'\n"
        "flows/hotline.yaml:20:3: error[endless-loop]: step 'pong' leads back to itself through `go:` "
        "without waiting for a reply\n"
        "flows/hotline.yaml:20:3: warning[unreachable-step]: no path leads to step 'pong'\n");
}

TEST_CASE("an answer over three SMS segments is an error that says how much to cut, and why accents count") {
  Fixture f;
  std::string long_spanish;
  for (int i = 0; i < 21; ++i) long_spanish += "Información ";  // 251 UCS-2 characters once trimmed
  replace(f.es, "menu: text for menu", "menu: " + long_spanish);
  std::string long_english;
  for (int i = 0; i < 47; ++i) long_english += "Call 911. ";  // 469 GSM-7 characters once trimmed
  replace(f.en, "help: text for help", "help: " + long_english);
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "prompts/en.yaml:4:1: error[too-long]: prompt 'help' is 469 characters; the limit for a 3-part English "
        "text is 459: cut 10; or, if it must be long, add `long: true` to it\n"
        "prompts/es.yaml:1:1: error[too-long]: prompt 'menu' is 251 characters; the limit for a 3-part Spanish "
        "text is 201: cut 50 ('ó' is not in the basic SMS alphabet, GSM-7, so the whole text goes as UCS-2: 67 "
        "characters a part instead of 153); or, if it must be long, add `long: true` to it\n");
}

TEST_CASE("`long: true` lets a prompt be longer than three segments; `long` takes only true or false") {
  Fixture f;
  std::string long_spanish;
  for (int i = 0; i < 21; ++i) long_spanish += "Información ";
  replace(f.es, "menu: text for menu", "menu:\n  long: true\n  sms: " + long_spanish);
  CHECK(f.load());
  CHECK(f.text().empty());
  replace(f.es, "long: true", "long: yes please");
  CHECK_FALSE(f.load());
  CHECK(f.text() == "prompts/es.yaml:2:9: error[expected-true]: `long` of prompt 'menu' can only be `true` or `false`\n");
}

TEST_CASE("YAML syntax errors point at the line and column") {
  Fixture f;
  f.flow = "flow: tiny\nstart: [menu\nsteps: {}\n";
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:3:6: error[yaml-syntax]: the file cannot be read from here (the YAML reader says "
        "\"end of sequence flow not found\"): check the indentation and the quotes on this line and the lines "
        "just above. Nothing else in the flow file is read or checked until this is fixed\n");
}

TEST_CASE("after a YAML slip in a prompts file, the slip alone is reported, not every prompt as missing") {
  Fixture f;
  replace(f.es, "help: text for help\n", "help:\n  sms: text for help\n   voice: said\n");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "prompts/es.yaml:6:4: error[yaml-indent]: line 6 is indented more than the line above it: line it up "
        "with the fields it belongs to. Nothing else in the prompts file is read or checked until this is fixed\n");
  f.es = prompts_file();
  replace(f.es, "help: text for help", "help: Call us: now");
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "prompts/es.yaml:4:7: error[yaml-colon]: this text contains ': ': put it in quotes (\"…\"). Nothing "
        "else in the prompts file is read or checked until this is fixed\n");
}

TEST_CASE("every problem in every file is reported at once") {
  Fixture f;
  replace(f.flow, "    say: menu\n", "    say: menuu\n    colour: red\n");
  replace(f.es, "help: text for help\n", "help: \"\"\n");
  CHECK_FALSE(f.load());
  // The flow's own mistakes do not hide the cross-checks: the misspelt prompt and the
  // missing Spanish text are reported in the same run.
  // An empty prompt is "empty", once: not also missing where it is used, nor untranslated.
  CHECK(f.text() ==
        "flows/hotline.yaml:8:10: error[missing-prompt]: prompt 'menuu' is missing in prompts/en.yaml; did you "
        "mean `menu`?\n"
        "flows/hotline.yaml:8:10: error[missing-prompt]: prompt 'menuu' is missing in prompts/es.yaml; did you "
        "mean `menu`?\n"
        "flows/hotline.yaml:9:5: error[unknown-field]: unknown field 'colour' in step 'menu'; expected "
        "say, replies, intents, otherwise, go, handoff or end\n"
        "prompts/es.yaml:4:7: error[empty-prompt]: prompt 'help' is empty\n");
  replace(f.es, "help: \"\"\n", "help:\n");
  CHECK_FALSE(f.load());
  CHECK_THAT(f.text(), Catch::EndsWith("prompts/es.yaml:4:1: error[empty-prompt]: prompt 'help' is empty\n"));
}

TEST_CASE("steps that only lead to each other, never to a person or an end, are a loop with no way out") {
  Fixture f;
  replace(f.flow, "      \"1\": advocate\n", "      \"1\": advocate\n      \"2\": quiz\n");
  f.flow += R"(  quiz:
    say: menu
    replies:
      "1": quiz2
    intents:
      advocate: quiz
      emergency: quiz2
  quiz2:
    say: menu
    replies:
      "1": quiz
    intents:
      advocate: quiz2
      emergency: quiz
)";
  CHECK_FALSE(f.load());
  CHECK(f.text() ==
        "flows/hotline.yaml:19:3: error[no-way-out]: step 'quiz' is a loop with no way out: no reply or "
        "intent from it leads to a person (`handoff: advocate`) or to `end: true`\n"
        "flows/hotline.yaml:26:3: error[no-way-out]: step 'quiz2' is a loop with no way out: no reply or "
        "intent from it leads to a person (`handoff: advocate`) or to `end: true`\n");

  // One reply that leads to a person is a way out for both.
  replace(f.flow, "      \"1\": quiz\n", "      \"1\": quiz\n      \"0\": advocate\n");
  CHECK(f.load());
  CHECK(f.text().empty());
}

TEST_CASE("`after_retries` and `anywhere` intents are ways out of every waiting step") {
  Fixture f;
  replace(f.flow, "      \"1\": advocate\n", "      \"2\": quiz\n");
  f.flow += "  quiz:\n    say: menu\n    replies:\n      \"1\": menu\n";
  CHECK(f.load());  // `anywhere: advocate` reaches a person from menu and quiz
  CHECK(f.text().empty());
}

// fuzz/fuzz_flow_loader, first findings: a key that is itself a list or a map (the fuzzer's
// smallest was `? :`) made yaml-cpp's as<std::string>() throw out of the flow and prompts
// loaders, so `hotline check` died on it and a live reload would have ended the server.
TEST_CASE("fuzz regression: a list or a map as a key is an error at the key, not an exception", "[fuzz]") {
  Fixture f;
  f.flow = std::string("? :\n") + f.flow;
  replace(f.flow, "    say: menu\n", "    say: menu\n    [a]: b\n");
  replace(f.flow, "\"1\": advocate", "{x: 1}: advocate");
  replace(f.flow, "  emergency: emergency\n", "  emergency: emergency\n  [z]: menu\n");
  f.en = "? :\n" + f.en;
  replace(f.es, "menu: text for menu", "menu:\n  sms: texto\n  [voice]: texto");
  CHECK_FALSE(f.load());
  const std::string complex = ": error[complex-key]: a key must be a name, a number or text, not a list or a map\n";
  // The Spanish menu with a bad variant is refused; its own error says why, once.
  CHECK(f.text() == "flows/hotline.yaml:1:3" + complex +
                        "flows/hotline.yaml:6:3" + complex +
                        "flows/hotline.yaml:11:5" + complex +
                        "flows/hotline.yaml:13:7" + complex +
                        "prompts/en.yaml:1:3" + complex +
                        "prompts/es.yaml:3:3" + complex);
}
