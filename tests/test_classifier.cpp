// The trained classifier, the examples files it learns from, the understanding built on it,
// and `hotline eval`.
#include <catch2/catch.hpp>


#include "hotline/engine/engine.hpp"
#include "hotline/prompts/segments.hpp"
#include "hotline/nlu/classifier.hpp"
#include "hotline/nlu/examples.hpp"
#include "hotline/nlu/understand.hpp"
#include "tests/process.hpp"
#include "tests/support.hpp"

using namespace hotline;
using test_support::TempDir;

namespace {

nlu::Example ex(std::string intent, Lang lang, std::string text) {
  nlu::Example e;
  e.intents = {std::move(intent)};
  e.lang = lang;
  e.text = std::move(text);
  return e;
}

std::vector<nlu::Example> small_set() {
  return {
      ex("greeting", Lang::en, "hello there"),          ex("greeting", Lang::en, "hi good morning"),
      ex("greeting", Lang::es, "hola buenas tardes"),    ex("greeting", Lang::es, "buenos dias"),
      ex("emergency", Lang::en, "he has a gun right now"), ex("emergency", Lang::en, "someone is breaking in"),
      ex("emergency", Lang::es, "me quiere matar ahorita"), ex("emergency", Lang::es, "se metieron a mi casa"),
      ex("call_police", Lang::en, "can i call the police"), ex("call_police", Lang::en, "is it safe to call the cops"),
      ex("call_police", Lang::es, "puedo llamar a la policia"), ex("call_police", Lang::es, "es seguro llamar a la poli"),
  };
}

// `hotline eval` on `file` with `flags`; stdout and stderr together.
int eval_cli(const std::string& file, std::vector<std::string> flags, std::string& out) {
  std::vector<std::string> args = {HOTLINE_BINARY, "eval", "--root", HOTLINE_SOURCE_DIR, file};
  args.insert(args.end(), flags.begin(), flags.end());
  const auto r = test_support::run(args);
  out = r.out + r.err;
  return r.exit_code;
}

}  // namespace

TEST_CASE("training is deterministic: the same examples give the same probabilities", "[classifier]") {
  const auto a = nlu::Classifier::train(small_set());
  const auto b = nlu::Classifier::train(small_set());
  for (const char* text : {"hello", "can i call", "me quieren matar", "zzz policia"}) {
    const auto ra = a.rank(text), rb = b.rank(text);
    REQUIRE(ra.size() == rb.size());
    for (std::size_t i = 0; i < ra.size(); ++i) {
      CHECK(ra[i].intent == rb[i].intent);
      CHECK(ra[i].p == rb[i].p);  // bit for bit
    }
    CHECK(a.read(text).spanish == b.read(text).spanish);
    CHECK(a.read(text).danger == b.read(text).danger);
  }
  CHECK(nlu::examples_hash(small_set()) == nlu::examples_hash(small_set()));
  auto changed = small_set();
  changed[0].text += "!";
  CHECK(nlu::examples_hash(changed) != nlu::examples_hash(small_set()));
}

TEST_CASE("the classifier learns intents and languages, and does not guess from nothing", "[classifier]") {
  const auto model = nlu::Classifier::train(small_set());
  CHECK(model.rank("hola buenos dias").front().intent == "greeting");
  CHECK(model.rank("someone is breaking in right now").front().intent == "emergency");
  CHECK(model.rank("puedo llamar a la policia?").front().intent == "call_police");
  CHECK(model.read("puedo llamar a la policia").spanish > 0.8f);
  CHECK(model.read("can i call the police").spanish < 0.2f);
  CHECK(model.read("he has a gun right now").danger > model.read("can i call the police").danger);
  CHECK_FALSE(model.read("qwerty").knows_a_word);
  CHECK(model.rank("qwerty").empty());  // no word it knows: no guess
  CHECK(model.rank("").empty());
  const auto near = model.nearest("can i call the police please", 2);
  REQUIRE(near.size() == 2);
  CHECK(near[0].first->text == "can i call the police");
  CHECK(near[0].second >= near[1].second);
}

TEST_CASE("cross-validation judges each example by a model that never saw it", "[classifier]") {
  auto examples = small_set();
  examples.push_back(ex("call_police", Lang::en, "hello there"));  // contradicts the first line
  const auto ranked = nlu::cross_validate(examples, 3);
  REQUIRE(ranked.size() == examples.size());
  // Only a model that never saw "hello there" as call_police, but saw it as a greeting, can
  // rank it: so the line is read as a greeting whenever it is read at all.
  const auto& contradiction = ranked.back();
  if (!contradiction.empty()) CHECK(contradiction.front().intent == "greeting");
  int ranked_at_all = 0;
  for (const auto& r : ranked) ranked_at_all += r.empty() ? 0 : 1;
  CHECK(ranked_at_all >= 6);
}

TEST_CASE("examples files report each problem at its line and column", "[classifier][examples]") {
  TempDir dir;
  const auto path = dir.write("flows/examples/a.tsv",
                              "# a comment\n"
                              "greeting\ten\tsms\thello\n"
                              "greeting\tfr\tsms\tbonjour\n"
                              "greeting\ten\tfax\thi\n"
                              "only two\tfields\n"
                              "Bad-Name\ten\tsms\thi\n"
                              "call_police+status_reporting\tes\tvoice\tpuedo llamar y me piden papeles\n"
                              "\n");
  Diagnostics diags;
  const auto examples = nlu::load_examples_file(path, diags);
  REQUIRE(examples.size() == 2);
  CHECK(examples[0].where.line == 2);
  CHECK(examples[1].intents == std::vector<std::string>{"call_police", "status_reporting"});
  CHECK(examples[1].channel == Channel::voice);
  const std::string text = diags.to_string();
  CHECK_THAT(text, Catch::Contains(path + ":3:10: error[unknown-language]"));
  CHECK_THAT(text, Catch::Contains(path + ":4:13: error[unknown-channel]"));
  CHECK_THAT(text, Catch::Contains(path + ":5:1: error[example-fields]"));
  CHECK_THAT(text, Catch::Contains(path + ":6:1: error[bad-intent-id]"));
  CHECK(diags.error_count() == 4);
}

TEST_CASE("a bundle refuses examples of unknown intents and one message taught two ways", "[classifier][examples]") {
  TempDir dir;
  test_support::copy_shipped_tree(dir);
  dir.write("flows/examples/zz-bad.tsv",
            "no_such_intent\ten\tsms\tsomething new entirely\n"
            "thanks\ten\tsms\thello there friend\n"
            "greeting\ten\tsms\tHello there, friend!\n");
  Diagnostics diags;
  CHECK(flow::load_bundle(dir.str(), {}, diags) == nullptr);
  const std::string text = diags.to_string();
  CHECK_THAT(text, Catch::Contains("zz-bad.tsv:1:1: error[unknown-intent]"));
  CHECK_THAT(text, Catch::Contains("zz-bad.tsv:3:1: error[conflicting-example]"));
}

TEST_CASE("menu choices are read however they are written, and only when they are choices", "[understand]") {
  CHECK(nlu::menu_choice("el 2") == "2");
  CHECK(nlu::menu_choice("opción tres") == "3");
  CHECK(nlu::menu_choice("#1") == "1");
  CHECK(nlu::menu_choice("number five please") == "5");
  CHECK(nlu::menu_choice("0 porfa") == "0");
  CHECK_FALSE(nlu::menu_choice("1 o 2"));
  CHECK_FALSE(nlu::menu_choice("tengo 2 hijos"));
  CHECK_FALSE(nlu::menu_choice("hola"));
}

TEST_CASE("unsure between two questions, the hotline asks, and the number picks", "[understand]") {
  const auto bundle = test_support::shipped_bundle();
  engine::Session session;
  session.step = "menu";
  session.lang = Lang::en;
  session.turns = 1;
  // The question back is driven by the pending choice in the session; set one directly.
  session.choices = "call_police+status_reporting";
  engine::Input input{"2", Channel::sms, false, false};
  auto outcome = engine::step(*bundle, session, input);
  CHECK(outcome.intent == "status_reporting");
  CHECK(outcome.session.choices.empty());
  // And a session with a choice survives the round trip through the store's encoding.
  const auto decoded = engine::decode_session(engine::encode_session(session));
  REQUIRE(decoded);
  CHECK(decoded->choices == "call_police+status_reporting");
}

TEST_CASE("a second question gets its own message", "[understand]") {
  const auto bundle = test_support::shipped_bundle();
  engine::Session session;
  session.step = "menu";
  session.lang = Lang::en;
  session.turns = 1;
  engine::Outcome outcome;
  outcome.events.push_back(engine::Say{"a", "first answer"});
  outcome.events.push_back(engine::Say{"b", "more of it"});
  outcome.events.push_back(engine::Say{"c", "second answer", true});
  const auto messages = engine::message_texts(outcome);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0] == "first answer\n\nmore of it");
  CHECK(messages[1] == "second answer");
}

TEST_CASE("replies that would not fit three segments together go out as separate texts", "[understand]") {
  engine::Outcome outcome;
  const std::string two_parts(250, 'a');  // two GSM-7 segments each: four together
  outcome.events.push_back(engine::Say{"switched", two_parts});
  outcome.events.push_back(engine::Say{"menu", two_parts});
  outcome.events.push_back(engine::Say{"short", "ok"});
  const auto messages = engine::message_texts(outcome);
  REQUIRE(messages.size() == 2);
  CHECK(messages[0] == two_parts);
  CHECK(messages[1] == two_parts + "\n\nok");  // what still fits joins the last text
  for (const auto& m : messages) CHECK(prompts::count_segments(m).segments <= prompts::kMaxAnswerSegments);
}

TEST_CASE("hotline eval reports the figures and fails below a floor", "[eval]") {
  TempDir dir;
  const auto file = dir.write("labelled.tsv",
                              "emergency\ten\tsms\tsomeone is breaking into my house right now\n"
                              "greeting\tes\tsms\thola buenas tardes\n"
                              "status_reporting\ten\tvoice\twill the police tell immigration about me\n");
  std::string out;
  CHECK(eval_cli(file, {"--min-emergency-recall", "1.0"}, out) == 0);
  CHECK_THAT(out, Catch::Contains("all: 3 messages"));
  CHECK_THAT(out, Catch::Contains("emergencies caught 100.0 % of 1"));
  CHECK(eval_cli(file, {"--json"}, out) == 0);
  CHECK_THAT(out, Catch::Contains("\"by_channel\""));
  dir.write("labelled.tsv", "thanks\ten\tsms\tsomeone is breaking into my house right now\n");
  CHECK(eval_cli(file, {"--min-accuracy", "0.5"}, out) == 1);
  CHECK_THAT(out, Catch::Contains("misses (1)"));
  CHECK_THAT(out, Catch::Contains("min-accuracy"));
}
