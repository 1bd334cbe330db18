// Whole conversations through the pure engine with the shipped flows and prompts.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <tuple>

#include "hotline/engine/engine.hpp"
#include "support.hpp"

using namespace hotline;
using engine::Outcome;
using engine::Session;

namespace {

// A person texting: keeps the session between messages like the SMS channel does.
struct Person {
  Session session;
  Channel channel = Channel::sms;

  Outcome send(const std::string& text, bool has_media = false) {
    engine::Input input{text, channel, has_media, false};
    Outcome out = engine::step(*test_support::shipped_bundle(), session, input, {Lang::es});
    session = out.session;
    return out;
  }
};

template <typename E>
int count_events(const Outcome& out) {
  int n = 0;
  for (const auto& e : out.events) n += std::holds_alternative<E>(e) ? 1 : 0;
  return n;
}

std::vector<std::string> said_keys(const Outcome& out) {
  std::vector<std::string> keys;
  for (const auto& e : out.events) {
    if (auto* s = std::get_if<engine::Say>(&e)) keys.push_back(s->key);
  }
  return keys;
}

}  // namespace

TEST_CASE("a first question is answered directly, in its own language") {
  Person en;
  auto out = en.send("Can I call the police if I don't have papers?");
  CHECK(out.intent == "call_police");
  CHECK(out.lang == Lang::en);
  CHECK_THAT(engine::spoken_text(out), Catch::Contains("victim or") && Catch::Contains("witness"));
  CHECK(out.step == "after_answer");

  Person es;
  out = es.send("puedo llamar a la policia si no tengo papeles?");
  CHECK(out.intent == "call_police");
  CHECK(out.lang == Lang::es);
  CHECK_THAT(engine::spoken_text(out), Catch::Contains("víctima o testigo"));
}

TEST_CASE("a greeting gets the menu in the greeting's language") {
  Person es;
  auto out = es.send("hola");
  CHECK(out.lang == Lang::es);
  CHECK(said_keys(out) == std::vector<std::string>{"menu"});
  CHECK(out.step == "menu");

  Person en;
  out = en.send("hello");
  CHECK(out.lang == Lang::en);
  CHECK_THAT(engine::spoken_text(out), Catch::Contains("Reply with a number"));
}

TEST_CASE("a message that could be either language gets a short bilingual reply") {
  Person p;
  auto out = p.send("👍");
  CHECK(out.bilingual);
  // Once in English, once in Spanish: two texts, so a reply too long for one SMS can be two.
  CHECK(said_keys(out) == std::vector<std::string>{"choose_language", "choose_language"});
  auto text = engine::spoken_text(out);
  CHECK_THAT(text, Catch::Contains("ENGLISH") && Catch::Contains("ESPAÑOL"));
  CHECK_FALSE(p.session.lang.has_value());

  out = p.send("ESPAÑOL");
  CHECK(out.lang == Lang::es);
  CHECK(said_keys(out) == std::vector<std::string>{"language_set", "menu"});
}

TEST_CASE("menu numbers lead to the answers, and still work after an answer") {
  Person p;
  p.send("hola");
  CHECK(p.send("2").intent == "status_reporting");  // a menu number counts under its topic
  CHECK(p.session.step == "after_answer");
  auto out = p.send("3");
  CHECK(said_keys(out) == std::vector<std::string>{"complaint"});
  out = p.send("0");
  CHECK(said_keys(out) == std::vector<std::string>{"advocate"});
  CHECK(count_events<engine::Handoff>(out) == 1);
}

TEST_CASE("emergency is checked before anything else, at every step") {
  Person p;
  p.send("hola");
  p.send("xyzzy");
  p.send("xyzzy");
  p.send("xyzzy");
  REQUIRE(p.session.step == "offer_person");
  auto out = p.send("me esta golpeando ayuda");
  CHECK(out.intent == "emergency");
  CHECK(said_keys(out).front() == "emergency");
  CHECK_THAT(engine::spoken_text(out), Catch::Contains("911"));
}

TEST_CASE("unrecognised replies are re-asked twice, then a person is offered") {
  Person p;
  CHECK_FALSE(p.send("hello").not_understood);
  auto first = p.send("qwerty");
  CHECK(said_keys(first) == std::vector<std::string>{"not_understood"});
  CHECK(first.not_understood);  // what the daily report counts as not understood
  CHECK(said_keys(p.send("asdfgh")) == std::vector<std::string>{"not_understood"});
  auto out = p.send("zxcvbn");
  CHECK(said_keys(out) == std::vector<std::string>{"offer_person"});
  CHECK(out.not_understood);  // not understood a third time: offered a person instead
  CHECK(out.step == "offer_person");
  auto handoff = p.send("0");
  CHECK(count_events<engine::Handoff>(handoff) == 1);
  CHECK_FALSE(handoff.not_understood);
}

TEST_CASE("on voice a re-ask repeats the options; on SMS it does not") {
  Person caller;
  caller.channel = Channel::voice;
  caller.send("hello");
  CHECK(said_keys(caller.send("qwerty")) == std::vector<std::string>{"not_understood", "menu"});
}

TEST_CASE("keywords work at any point") {
  SECTION("English STOP opts out silently: Twilio confirms it itself") {
    Person p;
    p.send("hello");
    auto out = p.send("STOP");
    CHECK(count_events<engine::OptOut>(out) == 1);
    CHECK(count_events<engine::End>(out) == 0);  // the session keeps its language for a START
    CHECK(out.step.empty());
    CHECK(engine::spoken_text(out).empty());
  }
  SECTION("on WhatsApp every opt-out word is confirmed by the hotline: Twilio confirms none there") {
    for (const std::string word : {"STOP", "unsubscribe", "Cancel", "PARAR"}) {
      INFO(word);
      Person p;
      p.send("hello");
      engine::Input input{word, Channel::sms, false, false};
      input.twilio_confirms_opt_out = false;
      auto out = engine::step(*test_support::shipped_bundle(), p.session, input, {Lang::es});
      CHECK(count_events<engine::OptOut>(out) == 1);
      CHECK(said_keys(out) == std::vector<std::string>{"opted_out"});
      CHECK(out.step.empty());
      // How to come back, in the person's language (English here; PARAR is Spanish).
      CHECK_THAT(engine::spoken_text(out), Catch::Contains(word == "PARAR" ? "ALTA" : "START"));
    }
  }
  SECTION("Spanish PARAR opts out with our own confirmation") {
    Person p;
    auto out = p.send("Parar");
    CHECK(count_events<engine::OptOut>(out) == 1);
    CHECK(out.lang == Lang::es);
    CHECK_THAT(engine::spoken_text(out), Catch::Contains("ALTA"));
  }
  SECTION("START opts back in and shows the menu") {
    Person p;
    auto out = p.send("start");
    CHECK(count_events<engine::OptIn>(out) == 1);
    CHECK(said_keys(out) == std::vector<std::string>{"opted_in", "menu"});
  }
  SECTION("YES opts back in only a number that had opted out; otherwise it is an answer") {
    Person p;
    p.send("hello");
    p.send("qwerty");
    p.send("qwerty");
    p.send("qwerty");
    REQUIRE(p.session.step == "offer_person");
    auto out = p.send("yes");
    CHECK(count_events<engine::OptIn>(out) == 0);
    CHECK(count_events<engine::Handoff>(out) == 1);
    engine::Input again{"YES", Channel::sms, false, /*opted_out=*/true};
    out = engine::step(*test_support::shipped_bundle(), p.session, again, {Lang::es});
    CHECK(count_events<engine::OptIn>(out) == 1);
  }
  SECTION("HELP answers and leaves the conversation where it was") {
    Person p;
    p.send("hola");
    p.send("1");
    auto out = p.send("ayuda");
    CHECK(said_keys(out) == std::vector<std::string>{"help"});
    CHECK(out.step == "after_answer");
  }
  SECTION("language keywords switch the language mid-conversation") {
    Person p;
    p.send("hola");
    REQUIRE(p.session.lang == Lang::es);
    auto out = p.send("english");
    CHECK(out.lang == Lang::en);
    CHECK_THAT(engine::spoken_text(out), Catch::Contains("Reply with a number"));
    out = p.send("1");
    CHECK(out.lang == Lang::en);
  }
  SECTION("MENU goes back to the menu") {
    Person p;
    p.send("hola");
    p.send("4");
    CHECK(said_keys(p.send("menú")) == std::vector<std::string>{"menu"});
  }
}

TEST_CASE("a picture without text gets a polite reply") {
  Person p;
  p.send("hello");
  auto out = p.send("", /*has_media=*/true);
  CHECK(said_keys(out) == std::vector<std::string>{"unsupported_media"});
  CHECK_THAT(engine::spoken_text(out), Catch::Contains("911"));  // like every "not understood"
}

namespace {

Outcome send_attachment(Person& p, engine::Attachment attachment, bool calls_welcome = false) {
  engine::Input input;
  input.channel = p.channel;
  input.has_media = true;
  input.attachment = attachment;
  input.calls_welcome = calls_welcome;
  Outcome out = engine::step(*test_support::shipped_bundle(), p.session, input, {Lang::es});
  p.session = out.session;
  return out;
}

}  // namespace

TEST_CASE("a voice note, a picture and a location pin each get their own answer, and the menu still waits") {
  Person p;
  p.send("Can I call the police?");
  const std::string step = p.session.step;
  using engine::Attachment;
  for (const auto& [attachment, calls, key] : std::vector<std::tuple<Attachment, bool, std::string>>{
           {Attachment::voice_note, false, "media_voice_note"},
           {Attachment::voice_note, true, "media_voice_note_call"},
           {Attachment::picture, false, "media_picture"},
           {Attachment::location, false, "media_location"},
           {Attachment::other, false, "unsupported_media"}}) {
    INFO(key);
    auto out = send_attachment(p, attachment, calls);
    CHECK(said_keys(out) == std::vector<std::string>{key});
    CHECK(out.lang == Lang::en);
    CHECK_THAT(engine::spoken_text(out), Catch::Contains("911"));
    CHECK(out.step == step);  // nothing lost: where they were still waits
    CHECK(p.session.retries == 0);
  }
  CHECK_THAT(engine::spoken_text(send_attachment(p, Attachment::location)),
             Catch::Contains("does not need your location"));
}

TEST_CASE("a first message with only media: its notice and the language question, all English then all Spanish") {
  Person p;
  auto out = send_attachment(p, engine::Attachment::picture);
  CHECK(out.bilingual);
  CHECK(said_keys(out) == std::vector<std::string>{"media_picture", "choose_language", "media_picture", "choose_language"});
  const std::string text = engine::spoken_text(out);
  CHECK(text.find("I cannot see pictures") < text.find("Reply ENGLISH"));
  CHECK(text.find("Reply ENGLISH") < text.find("No puedo ver imágenes"));
  CHECK(text.find("No puedo ver imágenes") < text.find("responda ESPAÑOL"));
  CHECK_FALSE(p.session.lang.has_value());
  // Then a word in Spanish sets the language as ever.
  CHECK(p.send("hola").lang == Lang::es);
}


TEST_CASE("a conversation whose step was removed by an edit starts over with a note") {
  Person p;
  p.session.step = "a_step_that_was_deleted";
  p.session.lang = Lang::en;
  p.session.turns = 3;
  auto out = p.send("blah blah");
  CHECK(said_keys(out).front() == "flow_changed");
  CHECK(out.step == "menu");
}

TEST_CASE("the engine is deterministic: the same input gives the same outcome") {
  Person a, b;
  for (const char* msg : {"hola", "2", "me van a deportar?", "0"}) {
    auto x = a.send(msg), y = b.send(msg);
    CHECK(engine::spoken_text(x) == engine::spoken_text(y));
    CHECK(x.step == y.step);
  }
}

TEST_CASE("sessions round-trip through their stored form, and junk is refused") {
  Session s;
  s.step = "after_answer";
  s.lang = Lang::es;
  s.retries = 1;
  s.last_intent = "complaint";
  s.turns = 7;
  auto back = engine::decode_session(engine::encode_session(s));
  REQUIRE(back);
  CHECK(back->step == s.step);
  CHECK(back->lang == s.lang);
  CHECK(back->retries == 1);
  CHECK(back->last_intent == "complaint");
  CHECK(back->turns == 7);
  CHECK_FALSE(engine::decode_session("not json"));
  CHECK_FALSE(engine::decode_session("{\"v\":99}"));
  CHECK_FALSE(engine::decode_session("{\"v\":1,\"step\":5}"));
}

namespace {
// The session codec as it was written with nlohmann::json, the reference the direct one must
// match byte for byte (encoding) and decision for decision (decoding).
std::string reference_encode(const Session& s) {
  nlohmann::json j = {{"v", 1}, {"step", s.step}, {"retries", s.retries},
                      {"intent", s.last_intent}, {"turns", s.turns}};
  if (s.lang) j["lang"] = lang_code(*s.lang);
  return j.dump();
}

std::optional<Session> reference_decode(const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != 1) return std::nullopt;
  try {
    Session s;
    s.step = j.value("step", "");
    s.retries = j.value("retries", 0);
    s.last_intent = j.value("intent", "");
    s.turns = j.value("turns", 0);
    if (j.contains("lang")) s.lang = lang_from_code(j["lang"].get<std::string>());
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

std::string describe(const std::optional<Session>& s) {
  if (!s) return "none";
  return s->step + "|" + (s->lang ? std::string(lang_code(*s->lang)) : "-") + "|" + std::to_string(s->retries) +
         "|" + s->last_intent + "|" + std::to_string(s->turns);
}
}  // namespace

TEST_CASE("the session codec writes and reads exactly what nlohmann::json did") {
  std::vector<Session> sessions(5);
  sessions[1].step = "after_answer";
  sessions[1].lang = Lang::es;
  sessions[1].retries = 2;
  sessions[1].last_intent = "call_police";
  sessions[1].turns = 123456;
  sessions[2].step = "with \"quotes\" and \\ and \t";
  sessions[2].lang = Lang::en;
  sessions[2].last_intent = "ñandú";
  sessions[3].retries = -1;
  sessions[3].turns = 2147483647;
  sessions[4].step = std::string("nul\0inside", 10);
  for (const auto& s : sessions) {
    const std::string encoded = engine::encode_session(s);
    CHECK(encoded == reference_encode(s));
    CHECK(describe(engine::decode_session(encoded)) == describe(reference_decode(encoded)));
    CHECK(describe(engine::decode_session(encoded)) == describe(s));
  }
  const std::vector<std::string> stored = {
      "", "{}", "[]", "null", "1", "{\"v\":1}", "{\"v\":2,\"step\":\"menu\"}", "{\"v\":\"1\"}",
      "{\"v\":1,\"step\":\"menu\",\"turns\":3}", "{ \"v\" : 1 , \"step\" : \"menu\" }",
      "{\"v\":1,\"step\":\"m\\u0065nu\"}", "{\"v\":1,\"step\":\"menu\",\"step\":\"other\"}",
      "{\"v\":1,\"turns\":1.5}", "{\"v\":1,\"turns\":01}", "{\"v\":1,\"turns\":-0}",
      "{\"v\":1,\"turns\":12345678901}", "{\"v\":1,\"turns\":\"3\"}", "{\"v\":1,\"lang\":\"fr\"}",
      "{\"v\":1,\"lang\":5}", "{\"v\":1,\"extra\":[1,2],\"step\":\"a\"}", "{\"v\":1,\"extra\":\"x\"}",
      "{\"v\":1,\"step\":\"caf\xc3\xa9\"}", "{\"v\":1,\"step\":\"bad \xff\"}", "{\"v\":1}trailing",
      "{\"v\":1,}", "{\"v\":1,\"step\":\"unterminated}", "{\"intent\":\"\",\"retries\":0,\"step\":\"\",\"turns\":0,\"v\":1}"};
  for (const auto& data : stored) {
    INFO(data);
    std::optional<Session> expected;
    bool threw = false;
    try {
      expected = reference_decode(data);
    } catch (const nlohmann::json::exception&) {
      threw = true;
    }
    if (threw) {
      CHECK_THROWS(engine::decode_session(data));
    } else {
      CHECK(describe(engine::decode_session(data)) == describe(expected));
    }
  }
}

TEST_CASE("every answer says it is general information where it matters, in both languages") {
  auto bundle = test_support::shipped_bundle();
  // call_police is always followed by police_discretion, which carries it.
  for (const char* key : {"police_discretion", "status_reporting", "complaint"}) {
    INFO(key);
    CHECK_THAT(bundle->prompts.render(Lang::en, key, Channel::sms, {}), Catch::Contains("not legal advice"));
    CHECK_THAT(bundle->prompts.render(Lang::es, key, Channel::sms, {}),
               Catch::Contains("no es asesoría legal", Catch::CaseSensitive::No) ||
                   Catch::Contains("no asesoría legal"));
  }
}
