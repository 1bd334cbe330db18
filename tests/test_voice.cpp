// Whole phone calls as Twilio makes them: POST /twilio/voice, then each TwiML's `action` is
// followed with the next request, against a real server on an ephemeral port with a real SQLite
// file. Plus the TwiML cross-check against the official twilio library, and `simulate`.
#include <catch2/catch.hpp>

#include "node_oracle.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "failing_store.hpp"
#include "hotline/channels/voice.hpp"
#include "hotline/channels/voice_retries.hpp"
#include "hotline/twilio/signature.hpp"
#include "hotline_server.hpp"
#include "process.hpp"

using namespace hotline;
using namespace test_support;
using Catch::Contains;

namespace {

const std::string kHotlineNumber = "+14145550100";  // the number called (test value)
const std::string kCaller = "+14145551234";

int g_call = 0;
std::string next_call_sid() {
  return "CA" + std::to_string(100000 + ++g_call) + "00000000000000000000000000";
}

// ---- an in-test roster, until routing's lands -------------------------------------------------

class FakeRoster : public routing::Roster {
 public:
  std::vector<routing::Advocate> advocates;
  bool on = true;  // everyone is on shift, or nobody
  std::optional<std::int64_t> next_start;
  std::string hours_en, hours_es;

  std::vector<routing::Advocate> on_shift(Lang lang, Channel channel, std::int64_t) const override {
    std::vector<routing::Advocate> out;
    if (!on) return out;
    for (const auto& a : advocates) {
      bool speaks = std::find(a.languages.begin(), a.languages.end(), lang) != a.languages.end();
      if (speaks && (channel != Channel::voice || a.voice)) out.push_back(a);
    }
    return out;
  }
  std::optional<routing::Advocate> by_phone(const std::string&) const override { return std::nullopt; }
  std::optional<std::int64_t> next_shift_start(Lang, Channel, std::int64_t) const override {
    return next_start;
  }
  std::string hours_text(Lang lang) const override { return lang == Lang::es ? hours_es : hours_en; }
  const std::vector<routing::Advocate>& all() const override { return advocates; }
  std::optional<routing::Advocate> by_id(const std::string& id) const override {
    for (const auto& a : advocates) {
      if (a.id == id) return a;
    }
    return std::nullopt;
  }
};

routing::Advocate advocate(const std::string& id, const std::string& phone, std::vector<Lang> langs,
                           bool voice = true) {
  routing::Advocate a;
  a.id = id;
  a.name = id;
  a.phone = phone;
  a.languages = std::move(langs);
  a.voice = voice;
  return a;
}

std::shared_ptr<FakeRoster> team() {
  auto r = std::make_shared<FakeRoster>();
  r->advocates = {advocate("ana", "+14145550111", {Lang::es, Lang::en}),
                  advocate("beto", "+14145550112", {Lang::es}),
                  advocate("carl", "+14145550113", {Lang::en}),
                  advocate("dora", "+14145550114", {Lang::es}, /*voice=*/false)};
  return r;
}

// ---- reading TwiML the way Twilio would --------------------------------------------------------

std::string unescape(std::string s) {
  for (auto [from, to] : {std::pair{"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&amp;", "&"}}) {
    for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + 1)) {
      s.replace(at, std::string(from).size(), to);
    }
  }
  return s;
}

// Every tag closed in order: a document Twilio can parse.
bool well_formed(const std::string& body) {
  const std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  if (body.rfind(head, 0) != 0) return false;
  std::vector<std::string> open;
  std::regex tag(R"(<(/?)([A-Za-z]+)([^>]*?)(/?)>)");
  bool root_seen = false;
  for (auto it = std::sregex_iterator(body.begin() + head.size(), body.end(), tag); it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    if (open.empty() && root_seen) return false;  // something after </Response>
    if (m[1] == "/") {
      if (open.empty() || open.back() != m[2]) return false;
      open.pop_back();
    } else if (m[4] != "/") {
      open.push_back(m[2]);
    }
    if (!root_seen && m[2] != "Response") return false;
    root_seen = true;
  }
  return root_seen && open.empty();
}

struct Said {
  std::string language, voice, text;
};

struct Twiml {
  std::string body;

  bool has(const std::string& verb) const {
    return std::regex_search(body, std::regex("<" + verb + "[ />]"));
  }
  // An attribute of the first <verb …> element.
  std::string attr(const std::string& verb, const std::string& name) const {
    std::smatch m;
    if (!std::regex_search(body, m, std::regex("<" + verb + "( [^>]*)?/?>"))) return "";
    std::string attrs = m[1];
    std::smatch a;
    if (!std::regex_search(attrs, a, std::regex(" " + name + "=\"([^\"]*)\""))) return "";
    return unescape(a[1]);
  }
  std::vector<Said> says() const {
    std::vector<Said> out;
    std::regex say(R"re(<Say language="([^"]*)"(?: voice="([^"]*)")?>([^<]*)</Say>)re");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), say); it != std::sregex_iterator(); ++it) {
      out.push_back({(*it)[1], (*it)[2], unescape((*it)[3])});
    }
    return out;
  }
  std::string said() const {
    std::string all;
    for (const auto& s : says()) all += s.text + " ";
    return all;
  }
  std::vector<std::pair<std::string, std::string>> numbers() const {  // (number, url)
    std::vector<std::pair<std::string, std::string>> out;
    std::regex number(R"re(<Number url="([^"]*)" method="POST">([^<]*)</Number>)re");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), number); it != std::sregex_iterator(); ++it) {
      out.emplace_back((*it)[2], (*it)[1]);
    }
    return out;
  }
  // Whatever happens, a caller is never left with nothing: a question, a person or a voicemail.
  bool keeps_caller() const { return has("Gather") || has("Dial") || has("Record"); }
};

const std::string kEmpty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

// ---- a caller ----------------------------------------------------------------------------------

class Call {
 public:
  explicit Call(HotlineServer& server, std::string from = kCaller)
      : server_(server), from_(std::move(from)), sid_(next_call_sid()) {}

  const std::string& sid() const { return sid_; }
  std::string key() const { return channels::call_key(kSecret, sid_); }
  const Twiml& last() const { return last_; }

  twilio::FormFields fields(const std::string& status = "in-progress") const {
    return {{"AccountSid", "AC00000000000000000000000000000000"}, {"ApiVersion", "2010-04-01"},
            {"CallSid", sid_},   {"CallStatus", status},  {"Called", kHotlineNumber},
            {"Caller", from_},   {"Direction", "inbound"}, {"From", from_},
            {"To", kHotlineNumber}};
  }

  Twiml dial_in() { return post("/twilio/voice", fields("ringing")); }
  Twiml press(const std::string& digits) {
    auto f = fields();
    f.push_back({"Digits", digits});
    return post(gather_action(), f);
  }
  Twiml speak(const std::string& words, const std::string& confidence = "0.9") {
    auto f = fields();
    f.push_back({"SpeechResult", words});
    f.push_back({"Confidence", confidence});
    return post(gather_action(), f);
  }
  Twiml silence() { return post(gather_action(), fields()); }
  Twiml hang_up_in_gather() { return post(gather_action(), fields("completed")); }
  Twiml dial_ends(const std::string& dial_status) {
    std::string action = last_.attr("Dial", "action");
    if (action.empty()) action = "/twilio/voice/dial";  // e.g. a stale Dial after a restart
    auto f = fields();
    f.push_back({"DialCallStatus", dial_status});
    f.push_back({"DialCallSid", "CA" + std::string(32, '9')});
    f.push_back({"DialCallDuration", dial_status == "completed" ? "93" : "0"});
    return post(action, f);
  }
  Twiml recorded(const std::string& status = "in-progress") {
    std::string action = last_.attr("Record", "action");
    REQUIRE_FALSE(action.empty());
    auto f = fields(status);
    f.push_back({"RecordingUrl", "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0"});
    f.push_back({"RecordingSid", "RE00000000000000000000000000000000"});
    f.push_back({"RecordingDuration", "21"});
    return post(action, f);
  }
  Twiml status(const std::string& call_status) { return post("/twilio/voice/status", fields(call_status)); }

  // Twilio posting the last request again, as it does after a timeout or a dropped connection:
  // the same URL, the same body.
  Twiml again() { return post(last_path_, last_form_); }
  const std::string& last_path() const { return last_path_; }

  Twiml post(const std::string& path, const twilio::FormFields& form) {
    last_path_ = path;
    last_form_ = form;
    auto res = server_.post_signed(path, form);
    REQUIRE(res);
    INFO(path << " -> " << res->body);
    REQUIRE(res->status == 200);
    REQUIRE(res->get_header_value("Content-Type").rfind("text/xml", 0) == 0);
    REQUIRE(well_formed(res->body));
    CHECK(res->body.find(from_) == std::string::npos);  // the caller's number is never shown
    last_ = Twiml{res->body};
    return last_;
  }

 private:
  std::string gather_action() const {
    std::string action = last_.attr("Gather", "action");
    INFO(last_.body);
    REQUIRE_FALSE(action.empty());
    return action;
  }

  HotlineServer& server_;
  std::string from_, sid_;
  Twiml last_;
  std::string last_path_;
  twilio::FormFields last_form_;
};

struct Voicemails {
  std::mutex mutex;
  std::vector<channels::VoicemailNotice> notices;
  channels::VoicemailHook hook() {
    return [this](const channels::VoicemailNotice& n) {
      std::lock_guard<std::mutex> lock(mutex);
      notices.push_back(n);
    };
  }
};

std::vector<std::string> ids(const std::vector<routing::Advocate>& advocates) {
  std::vector<std::string> out;
  for (const auto& a : advocates) out.push_back(a.id);
  return out;
}

}  // namespace

// ---- the language menu -------------------------------------------------------------------------

TEST_CASE("a new call hears a short bilingual language menu, keypad or speech") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  auto t = call.dial_in();
  CHECK(t.attr("Gather", "input") == "dtmf speech");
  CHECK(t.attr("Gather", "numDigits") == "1");
  CHECK(t.attr("Gather", "speechTimeout") == "auto");
  CHECK(t.attr("Gather", "actionOnEmptyResult") == "true");
  CHECK(t.attr("Gather", "action") == "/twilio/voice/gather?turn=1");  // the call's first answer
  CHECK_THAT(t.attr("Gather", "hints"), Contains("English") && Contains("español"));
  auto says = t.says();
  REQUIRE(says.size() == 2);
  CHECK(says[0].language == "en-US");
  CHECK(says[0].voice == "Polly.Joanna");
  CHECK_THAT(says[0].text, Contains("press 1"));
  CHECK(says[1].language == "es-MX");
  CHECK(says[1].voice == "Polly.Mia");
  CHECK_THAT(says[1].text, Contains("oprima 2"));
  CHECK(t.attr("Redirect", "method") == "POST");
  REQUIRE(server.app().store().load(call.key()));

  SECTION("2 on the keypad: everything after is Spanish") {
    t = call.press("2");
    for (const auto& s : t.says()) CHECK(s.language == "es-MX");
    CHECK(t.attr("Gather", "language") == "es-MX");
    CHECK_THAT(t.said(), Contains("oprima 1") && Contains("persona"));
    CHECK_THAT(t.attr("Gather", "hints"), Contains("asesor"));
  }
  SECTION("saying \"English\"") {
    t = call.speak("English.");
    for (const auto& s : t.says()) CHECK(s.language == "en-US");
    CHECK(t.attr("Gather", "language") == "en-US");
    CHECK_THAT(t.said(), Contains("press 1") && Contains("say 'person'"));
    CHECK_THAT(t.said(), !Contains("Reply"));
  }
  SECTION("asking a question straight away is answered in its language") {
    t = call.speak("¿Me van a reportar a la migra si llamo a la policía?");
    CHECK_THAT(t.said(), Contains("comandante de turno"));
    CHECK(t.attr("Gather", "language") == "es-MX");
  }
  SECTION("silence or an unknown key re-asks in both languages; the third silence reaches a person") {
    CHECK(call.silence().says().size() == 2);
    CHECK(call.press("7").says().size() == 2);
    CHECK(call.silence().says().size() == 2);  // never Spanish alone, unannounced
    t = call.silence();
    CHECK_THAT(t.said(), Contains("connect you with an advocate") && Contains("comunicar con una persona"));
  }
  SECTION("'in English please' at the language menu is English") {
    t = call.speak("in english please");
    CHECK(t.attr("Gather", "language") == "en-US");
  }
}

// Twilio recognises speech in one language per <Gather>: the first menu listens in the default
// language, a menu asked again in the other. Each SpeechResult below is what that recogniser writes.
TEST_CASE("the language menu listens in the default language, then in the other; keys work in both") {
  TempDir dir;
  auto said_in = [](const Twiml& t, const std::string& language) {
    if (t.says().empty()) return false;
    for (const auto& s : t.says()) {
      if (s.language != language) return false;
    }
    return t.attr("Gather", "language") == language;
  };

  SECTION("Spanish first, as configured by default") {
    HotlineServer server(test_config(dir));
    for (const std::string words : {"English.", "Inglés.", "En inglés, por favor."}) {
      INFO(words);
      Call call(server);
      CHECK(call.dial_in().attr("Gather", "language") == "es-MX");
      CHECK(said_in(call.speak(words), "en-US"));
    }
    for (const std::string words : {"Español.", "En español."}) {
      INFO(words);
      Call call(server);
      call.dial_in();
      CHECK(said_in(call.speak(words), "es-MX"));
    }
    // Not understood (silence, a key that is no choice, words that are no language): the menu again
    // in both languages, now listening in English, then in Spanish again.
    const std::vector<std::function<Twiml(Call&)>> misses = {
        [](Call& c) { return c.silence(); }, [](Call& c) { return c.press("7"); },
        [](Call& c) { return c.speak("mmm", "0.9"); }};
    for (const auto& miss : misses) {
      Call call(server);
      call.dial_in();
      auto again = miss(call);
      CHECK(again.says().size() == 2);
      CHECK(again.attr("Gather", "language") == "en-US");
      CHECK_THAT(again.attr("Gather", "hints"), Contains("English") && Contains("español"));
      CHECK(miss(call).attr("Gather", "language") == "es-MX");
    }
    for (const auto& [words, language] : {std::pair{"English.", "en-US"}, {"Espanol.", "es-MX"},
                                          {"Spanish.", "es-MX"}, {"español", "es-MX"}}) {
      INFO(words);
      Call call(server);
      call.dial_in();
      call.silence();
      CHECK(said_in(call.speak(words), language));
    }
    for (const auto& [digit, language] : {std::pair{"1", "en-US"}, {"2", "es-MX"}}) {
      Call call(server);
      call.dial_in();
      call.silence();
      CHECK(said_in(call.press(digit), language));
    }
  }
  SECTION("English first when English is the default language") {
    auto c = test_config(dir);
    c.default_language = Lang::en;
    HotlineServer server(c);
    Call call(server);
    CHECK(call.dial_in().attr("Gather", "language") == "en-US");
    CHECK(call.silence().attr("Gather", "language") == "es-MX");
    CHECK(said_in(call.speak("Español."), "es-MX"));
  }
}

// ---- each intent, both languages, keypad and speech ---------------------------------------------

TEST_CASE("keypad: every menu number is answered aloud, in both languages") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::vector<std::pair<std::string, std::string>> en = {
      {"1", "victim or witness"}, {"2", "shift commander"}, {"3", "go to bat"},
      {"4", "permanently vigilant"}, {"5", "988"}};
  const std::vector<std::pair<std::string, std::string>> es = {
      {"1", "víctima o testigo"}, {"2", "comandante de turno"}, {"3", "José Pérez"},
      {"4", "siempre vigilante"}, {"5", "988"}};
  for (const auto& [lang_key, table] : {std::pair{"1", en}, std::pair{"2", es}}) {
    for (const auto& [digit, expected] : table) {
      INFO(lang_key << " then " << digit);
      Call call(server);
      call.dial_in();
      call.press(lang_key);
      auto t = call.press(digit);
      CHECK_THAT(t.said(), Contains(expected));
      CHECK_THAT(t.said(), !Contains("Reply") && !Contains("Responda"));
      CHECK(t.attr("Gather", "language") == (std::string(lang_key) == "1" ? "en-US" : "es-MX"));
      // After an answer the caller can still pick another number.
      t = call.press(digit == "1" ? "2" : "1");
      CHECK_THAT(t.said(), Contains(std::string(lang_key) == "1" ? (digit == "1" ? "shift commander" : "victim or witness")
                                                                 : (digit == "1" ? "comandante de turno" : "víctima o testigo")));
    }
  }
}

TEST_CASE("speech: questions in the caller's own words reach every intent, in both languages") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::vector<std::pair<std::string, std::string>> en = {
      {"Can I call the police if I don't have papers?", "victim or witness"},
      {"Will the police report me to ICE?", "shift commander"},
      {"The officer treated me badly.", "go to bat"},
      {"What changed?", "permanently vigilant"},
      {"I'm so stressed.", "988"},
      {"How do I renew my DACA?", "other immigration questions"},
      {"Someone is breaking into my house.", "hang up and call 911 right away"}};
  const std::vector<std::pair<std::string, std::string>> es = {
      {"¿Puedo llamar a la policía si no tengo papeles?", "víctima o testigo"},
      {"¿Me van a pedir papeles?", "comandante de turno"},
      {"El policía me trató mal.", "José Pérez"},
      {"¿Qué cambió?", "siempre vigilante"},
      {"Tengo mucha ansiedad.", "988"},
      {"¿Cómo renuevo mi DACA?", "otros temas de inmigración"},
      {"Me está golpeando.", "cuelgue y llame al 911 de inmediato"}};
  for (const auto& [choice, table] : {std::pair{"English", en}, std::pair{"Español", es}}) {
    for (const auto& [words, expected] : table) {
      INFO(words);
      Call call(server);
      call.dial_in();
      call.speak(choice);
      auto t = call.speak(words);
      CHECK_THAT(t.said(), Contains(expected));
      CHECK(t.attr("Gather", "language") == (std::string(choice) == "English" ? "en-US" : "es-MX"));
    }
  }
}

TEST_CASE("spoken numbers work like keys; 'stop' or 'yes' on a call is not an SMS opt-out") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  call.dial_in();
  call.speak("Dos.");
  CHECK_THAT(call.speak("Uno.").said(), Contains("víctima o testigo"));
  auto t = call.speak("alto");
  CHECK(t.has("Gather"));
  CHECK_THAT(t.said(), Contains("no le entendí"));
}

// ---- reaching a person ---------------------------------------------------------------------------

TEST_CASE("0 or 'persona' rings, at once, every on-shift advocate who speaks the caller's language") {
  TempDir dir;
  auto roster = team();
  HotlineServer server(test_config(dir), roster);
  Call call(server);
  call.dial_in();
  Twiml t;
  std::vector<std::string> expected = {"+14145550111", "+14145550112"};
  std::string lang = "es";

  SECTION("0 at the Spanish menu") {
    call.press("2");
    t = call.press("0");
  }
  SECTION("saying 'persona' after an answer") {
    call.speak("español");
    call.speak("¿Qué cambió?");
    t = call.speak("Persona.");
  }
  SECTION("saying 'asesor'") {
    call.press("2");
    t = call.speak("Quiero hablar con un asesor");
  }
  SECTION("saying 'advocate' in English") {
    call.press("1");
    call.press("3");
    t = call.speak("advocate");
    expected = {"+14145550111", "+14145550113"};
    lang = "en";
  }
  SECTION("0 at the language menu (default language)") {
    t = call.press("0");
  }
  SECTION("three silences in a call reach a person") {
    call.press("2");
    call.silence();
    CHECK_THAT(call.silence().said(), Contains("no le entendí"));
    t = call.silence();
  }
  SECTION("'sí' when offered a person") {
    call.press("2");
    call.press("9");
    call.press("9");
    call.press("9");
    t = call.speak("Sí.");
  }
  INFO(t.body);
  REQUIRE(t.has("Dial"));
  std::vector<std::string> numbers;
  for (const auto& [number, url] : t.numbers()) {
    numbers.push_back(number);
    CHECK(url == "/twilio/voice/whisper/" + lang);
  }
  CHECK(numbers == expected);
  CHECK(t.attr("Dial", "callerId") == kHotlineNumber);
  CHECK(t.attr("Dial", "answerOnBridge") == "true");
  CHECK_THAT(t.attr("Dial", "action"), Catch::StartsWith("/twilio/voice/dial?turn="));
  CHECK(t.attr("Dial", "timeout") == "20");
  CHECK_THAT(t.said(), Contains(lang == "es" ? "no verá su número" : "will not see your phone number"));

  auto done = call.dial_ends("completed");
  CHECK_THAT(done.said(), Contains(lang == "es" ? "Gracias por llamar" : "Thank you for calling"));
  CHECK(done.has("Hangup"));
  CHECK_FALSE(server.app().store().load(call.key()));
}

TEST_CASE("at most 10 advocates ring, and a configured caller id is shown to them") {
  TempDir dir;
  auto roster = std::make_shared<FakeRoster>();
  for (int i = 0; i < 12; ++i) {
    roster->advocates.push_back(advocate("a" + std::to_string(i), "+1414555020" + std::to_string(i % 10) + std::to_string(i / 10), {Lang::es}));
  }
  auto c = test_config(dir);
  c.voice.caller_id = "+14145550199";
  c.voice.ring_seconds = 25;
  HotlineServer server(c, roster);
  Call call(server);
  call.dial_in();
  auto t = call.press("0");
  CHECK(t.numbers().size() == 10);
  CHECK(t.attr("Dial", "callerId") == "+14145550199");
  CHECK(t.attr("Dial", "timeout") == "25");
}

TEST_CASE("an advocate's leg hears a whisper and must press 1, so voicemail never takes the call") {
  TempDir dir;
  HotlineServer server(test_config(dir), team());
  auto leg = [](const std::string& extra_key = "", const std::string& extra = "") {
    twilio::FormFields f = {{"CallSid", "CA" + std::string(32, '7')}, {"ParentCallSid", "CA" + std::string(32, '1')},
                            {"CallStatus", "in-progress"}, {"Direction", "outbound-dial"},
                            {"From", kHotlineNumber}, {"To", "+14145550111"}};
    if (!extra_key.empty()) f.push_back({extra_key, extra});
    return f;
  };
  auto res = server.post_signed("/twilio/voice/whisper/es", leg());
  REQUIRE(res);
  REQUIRE(res->status == 200);
  Twiml t{res->body};
  CHECK(t.attr("Gather", "numDigits") == "1");
  CHECK(t.attr("Gather", "action") == "/twilio/voice/whisper/accept");
  CHECK(t.attr("Gather", "actionOnEmptyResult") == "true");
  CHECK_THAT(t.said(), Contains("español") && Contains("Oprima 1"));
  CHECK(t.says().at(0).language == "es-MX");
  CHECK(t.has("Hangup"));
  res = server.post_signed("/twilio/voice/whisper/en", leg());
  CHECK_THAT(Twiml{res->body}.said(), Contains("in English. Press 1"));

  res = server.post_signed("/twilio/voice/whisper/accept", leg("Digits", "1"));
  REQUIRE(res);
  CHECK(res->body == kEmpty);  // an empty response bridges the call
  for (const std::string& digits : {"2", "", "#"}) {
    res = server.post_signed("/twilio/voice/whisper/accept", leg("Digits", digits));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(Twiml{res->body}.has("Hangup"));
  }
}

// ---- nobody answers ---------------------------------------------------------------------------------

TEST_CASE("nobody answers: the caller may leave a voicemail, and the advocates on shift are offered it") {
  TempDir dir;
  Voicemails voicemails;
  auto roster = team();
  auto c = test_config(dir);
  c.twilio_from = kHotlineNumber;  // no account credentials: queued texts stay in the outbox
  HotlineServer server(c, roster, voicemails.hook());
  Call call(server);
  call.dial_in();
  call.press("2");
  REQUIRE(call.press("0").has("Dial"));
  std::string status = GENERATE(as<std::string>{}, "no-answer", "busy", "failed");
  INFO(status);
  auto t = call.dial_ends(status);
  CHECK_THAT(t.said(), Contains("nadie puede atenderle") && Contains("Después del tono"));
  CHECK_THAT(t.said(), !Contains("Horario"));  // advocates are on shift: no hours to tell
  CHECK(t.attr("Record", "action") == "/twilio/voice/record?turn=4");  // the menu, Spanish, 0, no answer
  CHECK(t.attr("Record", "playBeep") == "true");
  CHECK(t.attr("Record", "maxLength") == "120");
  CHECK(t.has("Hangup"));
  CHECK(t.body.find("<Record") < t.body.find("<Hangup"));

  t = call.recorded();
  CHECK_THAT(t.said(), Contains("recibimos su mensaje"));
  CHECK(t.has("Hangup"));
  REQUIRE(voicemails.notices.size() == 1);
  const auto& n = voicemails.notices[0];
  CHECK(n.lang == Lang::es);
  CHECK(ids(n.notify) == std::vector<std::string>{"ana", "beto"});
  CHECK(n.caller == kCaller);
  CHECK(n.call_key == call.key());
  CHECK(n.recording_sid == "RE00000000000000000000000000000000");
  CHECK(n.duration_seconds == 21);
  CHECK_FALSE(server.app().store().load(call.key()));
  // The daily report counts the call, what the caller answered, the hand-off and the voicemail
  // (on the roster's day: this roster names no time zone, so UTC's).
  std::string counted;
  for (const auto& k : server.app().store().daily_counts("2027-01-15", "2027-01-15")) {
    counted += k.metric + " " + k.topic + " " + k.lang + " " + k.channel + " " + std::to_string(k.n) + "\n";
  }
  // The call; "2" (the language menu: no topic) and "0" (a person) heard; the hand-off; the voicemail.
  CHECK(counted ==
        "conversations   voice 1\n"
        "handoffs_asked advocate es voice 1\n"
        "messages  es voice 1\n"
        "messages advocate es voice 1\n"
        "voicemails  es voice 1\n");

  // Each advocate on shift is offered it by text, through the outbox, with a code to call back
  // through the hotline (tests/test_callback.cpp); never the caller's number nor the recording link.
  auto queued = server.app().store().claim_outbound(std::numeric_limits<std::int64_t>::max() - 1, 10,
                                                     std::numeric_limits<std::int64_t>::max());
  REQUIRE(queued.size() == 2);
  std::vector<std::string> to;
  for (const auto& row : queued) {
    to.push_back(crypto::open(kSecret, row.to_sealed, "outbox.to").value_or("?"));
    auto body = crypto::open(kSecret, row.body_sealed, "outbox.body").value_or("");
    CHECK_THAT(body, Contains("#call ") && Contains("21 s") && !Contains("/Recordings/") && !Contains(kCaller));
    CHECK(row.contact_key == call.key());
  }
  std::sort(to.begin(), to.end());
  CHECK(to == std::vector<std::string>{"+14145550111", "+14145550112"});
  // Forgetting the caller (as `hotline forget` does: its voicemails are found by their sealed
  // number) erases all that was kept under the call: the voicemail, both offers, the call.
  const auto calls = channels::voicemails_from(server.app().store(), kSecret, kCaller);
  REQUIRE(calls == std::vector<std::string>{call.key()});
  CHECK(server.app().store().forget(calls[0]) == 4);
  CHECK(channels::voicemails_from(server.app().store(), kSecret, kCaller).empty());
}

TEST_CASE("nobody on shift: the caller hears only the hours the roster gives, then voicemail") {
  TempDir dir;
  Voicemails voicemails;
  auto c = test_config(dir);

  SECTION("a roster with hours and a shift starting soon") {
    auto roster = team();
    roster->on = false;
    roster->next_start = *c.pinned_now_ms + 30 * 60'000;
    roster->hours_es = "de lunes a viernes, de 9:00 a 17:00";
    HotlineServer server(c, roster, voicemails.hook());
    Call call(server);
    call.dial_in();
    call.press("2");
    auto t = call.press("0");
    CHECK_FALSE(t.has("Dial"));
    CHECK_THAT(t.said(), Contains("nadie puede atenderle") && Contains("menos de una hora") &&
                             Contains("de lunes a viernes, de 9:00 a 17:00"));
    REQUIRE(t.has("Record"));
    call.recorded("completed");  // the caller hung up after the message
    REQUIRE(voicemails.notices.size() == 1);
    CHECK(voicemails.notices[0].notify.empty());
    CHECK_FALSE(server.app().store().load(call.key()));
  }
  SECTION("a shift far off is not announced as soon") {
    auto roster = team();
    roster->on = false;
    roster->next_start = *c.pinned_now_ms + 20 * 3'600'000LL;
    HotlineServer server(c, roster);
    Call call(server);
    call.dial_in();
    call.press("1");
    auto t = call.press("0");
    CHECK_THAT(t.said(), Contains("no advocate can answer") && !Contains("within the hour") &&
                             !Contains("at these times"));
    CHECK(t.has("Record"));
  }
  SECTION("no roster at all: no hours are invented") {
    HotlineServer server(c);
    Call call(server);
    call.dial_in();
    call.press("1");
    auto t = call.press("0");
    CHECK_THAT(t.said(), Contains("no advocate can answer") && Contains("After the tone"));
    CHECK_THAT(t.said(), !Contains("at these times") && !Contains("within the hour"));
    CHECK(t.has("Record"));
  }
}

// ---- re-asking, hanging up, bad input ----------------------------------------------------------------

TEST_CASE("no input or unrecognised input is re-asked twice, then a person is offered") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  call.dial_in();
  call.press("1");
  auto t = call.silence();
  CHECK_THAT(t.said(), Contains("did not catch that") && Contains("press 1"));  // the options again
  t = call.press("8");
  CHECK_THAT(t.said(), Contains("did not catch that"));
  t = call.speak("police", "0.05");  // too unsure to use: not understood, not an answer
  CHECK_THAT(t.said(), Contains("still did not understand") && Contains("say 'yes'"));
  CHECK(t.keeps_caller());
  t = call.silence();  // offered a person and still nothing: connect (here: nobody on shift)
  CHECK_THAT(t.said(), Contains("connect you") && Contains("no advocate can answer"));
  CHECK(t.has("Record"));
}

TEST_CASE("speech confidence: the threshold is configurable") {
  TempDir dir;
  auto c = test_config(dir);
  SECTION("default threshold: clear speech is used") {
    HotlineServer server(c);
    Call call(server);
    call.dial_in();
    call.press("1");
    CHECK_THAT(call.speak("can i call the police", "0.62").said(), Contains("victim or witness"));
  }
  SECTION("a strict threshold: the same speech is asked again") {
    c.voice.min_confidence = 0.8;
    HotlineServer server(c);
    Call call(server);
    call.dial_in();
    call.press("1");
    CHECK_THAT(call.speak("can i call the police", "0.62").said(), Contains("did not catch that"));
  }
}

TEST_CASE("a caller who hangs up mid-menu leaves nothing behind") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  call.dial_in();
  call.press("2");
  REQUIRE(server.app().store().load(call.key()));

  SECTION("Twilio posts the gather with CallStatus completed") {
    auto t = call.hang_up_in_gather();
    CHECK(t.body == kEmpty);
    CHECK_FALSE(server.app().store().load(call.key()));
    CHECK(call.status("completed").body == kEmpty);
  }
  SECTION("the status callback says completed") {
    CHECK(call.status("completed").body == kEmpty);
    CHECK_FALSE(server.app().store().load(call.key()));
    // A late callback for the finished call still gets valid TwiML, not an error.
    auto t = call.post("/twilio/voice/gather", call.fields());
    CHECK(t.keeps_caller());
  }
  SECTION("ringing or in-progress status changes keep the call") {
    call.status("in-progress");
    CHECK(server.app().store().load(call.key()));
  }
}

TEST_CASE("bad voice requests get a clean 4xx or valid TwiML, never an error page") {
  TempDir dir;
  HotlineServer server(test_config(dir), team());
  const std::vector<std::string> routes = {"/twilio/voice", "/twilio/voice/gather", "/twilio/voice/dial",
                                           "/twilio/voice/record", "/twilio/voice/status",
                                           "/twilio/voice/whisper/es", "/twilio/voice/whisper/accept"};
  SECTION("no CallSid: 400; unsigned or wrongly signed: 403; not a form: 400") {
    for (const auto& route : routes) {
      INFO(route);
      auto res = server.post_signed(route, {{"From", kCaller}, {"CallStatus", "in-progress"}});
      REQUIRE(res);
      CHECK(res->status == 400);
      Call call(server);
      res = server.post(route, twilio::encode_form(call.fields()));
      CHECK(res->status == 403);
      res = server.post(route, twilio::encode_form(call.fields()), {{"X-Twilio-Signature", "bm9wZQ=="}});
      CHECK(res->status == 403);
      res = server.post(route, "%zz=%", {{"X-Twilio-Signature", "x"}});
      CHECK(res->status == 400);
    }
  }
  SECTION("callbacks for a call the hotline does not know") {
    Call gather(server);
    CHECK(gather.post("/twilio/voice/gather", gather.fields()).says().size() == 2);  // the language menu
    Call dial(server);
    auto t = dial.post("/twilio/voice/dial", [&] {
      auto f = dial.fields();
      f.push_back({"DialCallStatus", "no-answer"});
      return f;
    }());
    CHECK(t.has("Record"));
    Call done(server);
    CHECK(done.post("/twilio/voice/record", done.fields()).has("Hangup"));
  }
  SECTION("odd input in a live call") {
    for (const std::string& digits : {std::string("#"), std::string("*"), std::string(200, '9'), std::string("\xff\xfe")}) {
      Call call(server);
      call.dial_in();
      call.press("1");
      CHECK(call.press(digits).keeps_caller());
    }
    Call call(server);
    call.dial_in();
    call.press("1");
    CHECK(call.speak("\xF0\x9F\x98\xA2 \xff policia", "not a number").keeps_caller());
    CHECK(call.speak(std::string(5000, 'a')).keeps_caller());
  }
}

TEST_CASE("a call whose step the store cannot keep gets 503, so Twilio plays the Fallback URL") {
  TempDir dir;
  auto control = std::make_shared<FailingStore::Switch>();
  const auto config = test_config(dir);
  HotlineServer server(config, std::make_unique<FailingStore>(store::open_sqlite(config.database), control));
  Call call(server);
  call.dial_in();
  call.press("2");  // español
  const auto kept = server.app().store().load(call.key());
  REQUIRE(kept);

  control->failing = true;
  // Not the hotline's own spoken apology, which would hide the failure from Twilio: a 503, on
  // which Twilio fetches the number's Voice Fallback URL (deploy/fallback/voice.xml).
  auto gather = call.fields();
  gather.push_back({"Digits", "1"});
  auto res = server.post_signed("/twilio/voice/gather", gather);
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(res->body.find("<Response") == std::string::npos);
  Call another(server);
  res = server.post_signed("/twilio/voice", another.fields("ringing"));
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(store_failures(server, "/twilio/voice/gather") == "1");
  CHECK(store_failures(server, "/twilio/voice") == "1");
  CHECK(store_failures(server, "/twilio/voice/dial") == "0");
  CHECK(server.app().store().load(call.key())->data == kept->data);  // nothing of the step kept

  // Once the store works again the call goes on from where it was.
  control->failing = false;
  CHECK(call.press("1").keeps_caller());
}

TEST_CASE("the Fallback URL's answer shipped in deploy/fallback/voice.xml: 911 and 'call again', in both languages") {
  const std::string file = read_file(std::string(HOTLINE_SOURCE_DIR) + "/deploy/fallback/voice.xml");
  // Formatted for people; Twilio ignores the whitespace between elements.
  std::string xml = std::regex_replace(file, std::regex(R"(>\s+<)"), "><");
  while (!xml.empty() && std::isspace(static_cast<unsigned char>(xml.back()))) xml.pop_back();
  REQUIRE(well_formed(xml));
  const Twiml twiml{xml};
  const auto said = twiml.says();
  REQUIRE(said.size() == 2);
  CHECK(said[0].language == "es-MX");
  CHECK_THAT(said[0].text, Contains("llame al 911") && Contains("vuelva a llamar"));
  CHECK(said[1].language == "en-US");
  CHECK_THAT(said[1].text, Contains("call 911") && Contains("call again later"));
  CHECK(twiml.has("Hangup"));
  CHECK_FALSE(twiml.keeps_caller());
}

TEST_CASE("a caller's From is read as a texter's: blocked however its + arrived; a withheld number is answered") {
  TempDir dir;
  auto config = test_config(dir);
  config.blocklist_file = dir.write("blocklist.yaml", "blocked:\n  - \"+14145550666\"\n");
  HotlineServer server(config);
  // " 14145550666" is what form decoding makes of an unencoded +: the same number.
  for (const std::string from : {"+14145550666", " 14145550666"}) {
    INFO('"' << from << '"');
    Call call(server, from);
    CHECK(call.dial_in().has("Reject"));
  }
  // A caller who hides their number is not refused: the call is answered, with no per-number limit.
  Call anonymous(server, "Anonymous");
  CHECK(anonymous.dial_in().keeps_caller());
}

TEST_CASE("a call survives a server restart mid-call") {
  TempDir dir;
  std::string sid;
  {
    HotlineServer server(test_config(dir));
    Call first(server);
    first.dial_in();
    first.press("1");
    sid = first.sid();
  }
  HotlineServer restarted(test_config(dir));
  Call again(restarted);
  auto f = again.fields();
  for (auto& [k, v] : f) if (k == "CallSid") v = sid;
  f.push_back({"Digits", "2"});
  auto t = again.post("/twilio/voice/gather", f);
  CHECK_THAT(t.said(), Contains("shift commander"));  // still English, still in the flow
}

// ---- Twilio posting a callback again ---------------------------------------------------------------

namespace {

// Every file of the test's database (the SQLite file, its WAL, the turn log) as one string.
std::string database_bytes(const TempDir& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.is_regular_file()) all += read_file(entry.path().string());
  }
  return all;
}

// Callers' answers counted in /metrics (hotline_conversation_turns_total, channel voice, every label).
double voice_turns(HotlineServer& server) {
  std::istringstream text(server.app().metrics().render());
  double sum = 0;
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("hotline_conversation_turns_total{", 0) == 0 && line.find("channel=\"voice\"") != std::string::npos) {
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return sum;
}

}  // namespace

TEST_CASE("a gather Twilio posts again gets the same TwiML, and the call moves on once") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  call.dial_in();

  SECTION("the language chosen, posted twice") {
    const auto first = call.press("1");
    CHECK(first.attr("Gather", "action") == "/twilio/voice/gather?turn=2");
    const auto kept = server.app().store().load(call.key());
    REQUIRE(kept);
    const double counted = voice_turns(server);
    CHECK(counted >= 1);
    CHECK(call.again().body == first.body);
    CHECK(server.app().store().load(call.key())->data == kept->data);
    CHECK(voice_turns(server) == counted);  // one answer, counted once
  }
  SECTION("an answer not understood, posted again, is not counted again; the same key pressed again is") {
    call.press("1");
    const auto t = call.press("8");
    CHECK_THAT(t.said(), Contains("did not catch that"));
    CHECK(call.again().body == t.body);
    CHECK(call.again().body == t.body);
    // 8 pressed again at the same step follows a later answer: a new gather, the second miss
    // (re-asked once more), then the third (a person offered).
    const auto second = call.press("8");
    CHECK_THAT(second.said(), Contains("did not catch that") && !Contains("still"));
    CHECK_THAT(call.press("8").said(), Contains("still did not understand"));
  }
  SECTION("speech posted again") {
    call.press("1");
    const auto t = call.speak("can i call the police");
    CHECK_THAT(t.said(), Contains("victim or witness"));
    CHECK(call.again().body == t.body);
    CHECK_THAT(call.speak("xyzzy plugh").said(), Contains("did not catch that"));
  }
  SECTION("an empty result posted again (silence is counted once)") {
    call.press("1");
    const auto t = call.silence();
    CHECK(call.again().body == t.body);
    CHECK(call.again().body == t.body);
    // One silence so far, not three: the next is the second (asked again), only the third connects.
    CHECK_THAT(call.silence().said(), Contains("did not catch that") && !Contains("connect you"));
    CHECK_THAT(call.silence().said(), Contains("connect you"));
  }
  SECTION("the same gather at once on two connections: one turn, the same answer twice") {
    call.press("1");
    const std::string action = call.last().attr("Gather", "action");
    auto form = call.fields();
    form.push_back({"Digits", "8"});
    auto post = [&] {
      httplib::Client client("127.0.0.1", server.port());
      client.set_read_timeout(20, 0);
      const auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + action, form);
      auto res = client.Post(action.c_str(), {{"X-Twilio-Signature", sig}}, twilio::encode_form(form),
                             "application/x-www-form-urlencoded");
      return res && res->status == 200 ? res->body : std::string("<failed>");
    };
    auto a = std::async(std::launch::async, post);
    auto b = std::async(std::launch::async, post);
    const std::string first = a.get(), second = b.get();
    CHECK(first == second);
    CHECK_THAT(first, Contains("did not catch that"));
  }
  SECTION("the answer is remembered sealed: its words are nowhere in the database's files") {
    const auto t = call.press("2");
    const auto said = t.says().at(0).text;
    REQUIRE(said.size() > 40);
    const std::string words = said.substr(0, 40);
    CHECK(call.again().body == t.body);  // it is remembered...
    const std::string stored = database_bytes(dir);
    REQUIRE_FALSE(stored.empty());
    CHECK(stored.find(words) == std::string::npos);  // ...but not in words anyone can read
  }
}

TEST_CASE("a Dial's or a voicemail's result posted again: the same answers, one voicemail") {
  TempDir dir;
  Voicemails voicemails;
  auto c = test_config(dir);
  c.twilio_from = kHotlineNumber;  // no account credentials: queued texts stay in the outbox
  HotlineServer server(c, team(), voicemails.hook());
  Call call(server);
  call.dial_in();
  call.press("2");
  REQUIRE(call.press("0").has("Dial"));
  const auto record = call.dial_ends("no-answer");
  REQUIRE(record.has("Record"));
  CHECK(call.again().body == record.body);

  const auto saved = call.recorded();
  CHECK_THAT(saved.said(), Contains("recibimos su mensaje"));
  CHECK_FALSE(server.app().store().load(call.key()));  // the call is over: its state is erased...
  CHECK(call.again().body == saved.body);              // ...its last answer is still remembered
  CHECK(call.again().body == saved.body);
  CHECK(voicemails.notices.size() == 1);
  CHECK(server.app().store().relays().size() == 1);
  const auto offers = server.app().store().claim_outbound(std::numeric_limits<std::int64_t>::max() - 1, 10,
                                                          std::numeric_limits<std::int64_t>::max());
  CHECK(offers.size() == 2);  // ana and beto, once each
}

TEST_CASE("a new call posted again is not started over") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  const auto menu = call.dial_in();
  const std::string incoming = call.last_path();
  const auto incoming_form = call.fields("ringing");
  call.press("1");
  const auto kept = server.app().store().load(call.key());
  REQUIRE(kept);
  CHECK(call.post(incoming, incoming_form).body == menu.body);
  CHECK(server.app().store().load(call.key())->data == kept->data);  // still in English, in the flow
}

TEST_CASE("the turn in a callback's URL is covered by its signature") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  Call call(server);
  call.dial_in();
  auto form = call.fields();
  form.push_back({"Digits", "1"});
  auto signed_for = [&](const std::string& path) {
    return httplib::Headers{{"X-Twilio-Signature", twilio::compute_signature(kAuthToken, kPublicUrl + path, form)}};
  };
  auto res = server.post("/twilio/voice/gather?turn=1", twilio::encode_form(form), signed_for("/twilio/voice/gather"));
  REQUIRE(res);
  CHECK(res->status == 403);
  res = server.post("/twilio/voice/gather?turn=7", twilio::encode_form(form), signed_for("/twilio/voice/gather?turn=1"));
  REQUIRE(res);
  CHECK(res->status == 403);
  // A turn we never write, correctly signed, is answered as an unnumbered callback: as new.
  for (const std::string path : {"/twilio/voice/gather?turn=x1", "/twilio/voice/gather?turn=1234567890"}) {
    INFO(path);
    res = server.post(path, twilio::encode_form(form), signed_for(path));
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(Twiml{res->body}.keeps_caller());
  }
}

TEST_CASE("a callback's request id: the same for a retry, new for anything else, and says nothing") {
  const std::string sid = "CA" + std::string(32, '1');
  twilio::FormFields one = {{"CallSid", sid}, {"Digits", "1"}, {"turn", "3"}};
  const std::string id = channels::callback_request_id(kSecret, sid, "gather", 3, one);
  CHECK_THAT(id, Catch::Matches("gather\\.3\\.[0-9a-f]{16}"));
  CHECK(channels::callback_request_id(kSecret, sid, "gather", 3, one) == id);
  CHECK(channels::callback_request_id(kSecret, sid, "gather", 4, one) != id);
  CHECK(channels::callback_request_id(kSecret, sid, "dial", 3, one) != id);
  CHECK(channels::callback_request_id(kSecret, "CA" + std::string(32, '2'), "gather", 3, one) != id);
  CHECK(channels::callback_request_id("another-secret-0123456789", sid, "gather", 3, one) != id);
  twilio::FormFields two = {{"CallSid", sid}, {"Digits", "2"}};
  CHECK(channels::callback_request_id(kSecret, sid, "gather", 3, two) != id);
  twilio::FormFields speech = {{"CallSid", sid}, {"SpeechResult", "Digits=1"}};
  CHECK(channels::callback_request_id(kSecret, sid, "gather", 3, speech) != id);
  twilio::FormFields words = {{"CallSid", sid}, {"SpeechResult", "necesito ayuda Tlacuache"}};
  CHECK_THAT(channels::callback_request_id(kSecret, sid, "gather", 3, words), !Contains("Tlacuache"));
  CHECK_THROWS_AS(channels::callback_request_id("", sid, "gather", 3, one), std::invalid_argument);

  CHECK(channels::turn_of(one) == 3);
  for (const std::string bad : {"", "x", "-1", "3a", "1234567890"}) {
    INFO('"' << bad << '"');
    CHECK_FALSE(channels::turn_of({{"turn", bad}}));
  }
  CHECK_FALSE(channels::turn_of({{"Digits", "1"}}));
  CHECK(channels::with_turn("/twilio/voice/gather", 12) == "/twilio/voice/gather?turn=12");
  CHECK(channels::with_turn("/twilio/voice/gather", 0) == "/twilio/voice/gather");
}

// ---- TwiML cross-check with the official library ------------------------------------------------

namespace {

// Renders each description with tests/npm/twiml.js (the official twilio npm library).
std::vector<std::string> oracle(const nlohmann::json& docs) {
  return nlohmann::json::parse(test_support::run_node("twiml.js", docs.dump())).get<std::vector<std::string>>();
}

nlohmann::json verb(const std::string& name, std::vector<std::pair<std::string, std::string>> attrs,
                    std::optional<std::string> text = std::nullopt, nlohmann::json children = nullptr) {
  nlohmann::json v = {{"verb", name}, {"attrs", nlohmann::json::array()}};
  for (auto& [k, val] : attrs) v["attrs"].push_back({k, val});
  if (text) v["text"] = *text;
  if (!children.is_null()) v["children"] = children;
  return v;
}

}  // namespace

TEST_CASE("voice TwiML matches the official twilio library byte for byte") {
  channels::VoiceSettings settings;
  settings.secret = kSecret;
  using Reply = channels::VoiceReply;

  Reply gather;
  gather.say = {{Lang::en, "k", "Hello & welcome. <Press> 1 \"now\""}, {Lang::es, "k", "¿Cómo está? Oprima 2."}};
  gather.then = Reply::Then::gather;
  gather.lang = Lang::es;
  gather.hints = {"persona", "sí", "no"};
  gather.turn = 3;

  Reply dial;
  dial.say = {{Lang::es, "advocate", "Voy a comunicarle."}};
  dial.then = Reply::Then::dial;
  dial.lang = Lang::es;
  dial.dial = {"+14145550111", "+14145550112"};
  dial.turn = 4;

  Reply record;
  record.say = {{Lang::en, "voice_no_answer", "Sorry."}, {Lang::en, "voice_leave_message", "After the tone…"}};
  record.then = Reply::Then::record;
  record.lang = Lang::en;  // turn 0: not numbered, no query string

  Reply hangup;
  hangup.then = Reply::Then::hangup;

  auto say_en = [](const std::string& text) {
    return verb("Say", {{"language", "en-US"}, {"voice", "Polly.Joanna"}}, text);
  };
  auto say_es = [](const std::string& text) {
    return verb("Say", {{"language", "es-MX"}, {"voice", "Polly.Mia"}}, text);
  };
  nlohmann::json docs = nlohmann::json::array();
  docs.push_back({{"response", "voice"},
                  {"verbs",
                   {verb("Gather",
                         {{"input", "dtmf speech"}, {"action", "/twilio/voice/gather?turn=3"}, {"method", "POST"},
                          {"language", "es-MX"}, {"hints", "persona, sí, no"}, {"numDigits", "1"},
                          {"timeout", "5"}, {"speechTimeout", "auto"}, {"actionOnEmptyResult", "true"}},
                         std::nullopt,
                         {say_en("Hello & welcome. <Press> 1 \"now\""), say_es("¿Cómo está? Oprima 2.")}),
                    verb("Redirect", {{"method", "POST"}}, "/twilio/voice/gather?turn=3")}}});
  docs.push_back({{"response", "voice"},
                  {"verbs",
                   {say_es("Voy a comunicarle."),
                    verb("Dial",
                         {{"action", "/twilio/voice/dial?turn=4"}, {"method", "POST"}, {"timeout", "20"},
                          {"callerId", kHotlineNumber}, {"answerOnBridge", "true"}},
                         std::nullopt,
                         {verb("Number", {{"url", "/twilio/voice/whisper/es"}, {"method", "POST"}}, "+14145550111"),
                          verb("Number", {{"url", "/twilio/voice/whisper/es"}, {"method", "POST"}}, "+14145550112")})}}});
  docs.push_back({{"response", "voice"},
                  {"verbs",
                   {say_en("Sorry."), say_en("After the tone…"),
                    verb("Record", {{"action", "/twilio/voice/record"}, {"method", "POST"},
                                    {"maxLength", "120"}, {"playBeep", "true"}}),
                    verb("Hangup", {})}}});
  docs.push_back({{"response", "voice"}, {"verbs", {verb("Hangup", {})}}});
  docs.push_back({{"response", "voice"},
                  {"verbs",
                   {verb("Gather",
                         {{"input", "dtmf"}, {"action", "/twilio/voice/whisper/accept"}, {"method", "POST"},
                          {"numDigits", "1"}, {"timeout", "8"}, {"actionOnEmptyResult", "true"}},
                         std::nullopt,
                         {say_es(test_support::shipped_bundle()->prompts.render(Lang::es, "voice_whisper", Channel::voice, {}))}),
                    verb("Hangup", {})}}});
  docs.push_back({{"response", "voice"}, {"verbs", nlohmann::json::array()}});

  auto expected = oracle(docs);
  REQUIRE(expected.size() == 6);
  CHECK(channels::voice_twiml(gather, settings, kHotlineNumber) == expected[0]);
  CHECK(channels::voice_twiml(dial, settings, kHotlineNumber) == expected[1]);
  CHECK(channels::voice_twiml(record, settings, kHotlineNumber) == expected[2]);
  CHECK(channels::voice_twiml(hangup, settings, kHotlineNumber) == expected[3]);
  CHECK(channels::whisper_twiml(*test_support::shipped_bundle(), settings, Lang::es) == expected[4]);
  CHECK(channels::whisper_answer_twiml("1") == expected[5]);
}

// ---- simulate -----------------------------------------------------------------------------------------

TEST_CASE("hotline simulate --channel voice walks a call in the terminal") {
  const std::string hotline = HOTLINE_BINARY;
  // Sunday 03:00 in Milwaukee: nobody on the shipped roster takes calls then.
  auto r = run({hotline, "simulate", "--channel", "voice", "--at", "2026-12-13T09:00:00Z", "--root", HOTLINE_SOURCE_DIR},
               "2\n1\n\n0\nmi mensaje\n");
  REQUIRE(r.exit_code == 0);
  INFO(r.out << r.err);
  CHECK_THAT(r.out, Contains("[en] Hello.") && Contains("[es] Hola."));  // the language menu
  CHECK_THAT(r.out, Contains("víctima o testigo"));
  CHECK_THAT(r.out, Contains("no le entendí"));
  CHECK_THAT(r.out, Contains("Después del tono"));  // nobody on shift: voicemail
  CHECK_THAT(r.out, Contains("recibimos su mensaje") && Contains("(call ended"));
  CHECK_THAT(r.out, !Contains("connecting you to an advocate"));

  auto j = run({hotline, "simulate", "--channel", "voice", "--json", "--lang", "en", "--root", HOTLINE_SOURCE_DIR},
               "can i call the police\n");
  REQUIRE(j.exit_code == 0);
  std::istringstream lines(j.out);
  std::vector<nlohmann::json> replies;
  for (std::string line; std::getline(lines, line);) replies.push_back(nlohmann::json::parse(line));
  REQUIRE(replies.size() == 3);  // the menu, the choice of English, the answer
  CHECK(replies[2]["intent"] == "call_police");
  CHECK(replies[2]["lang"] == "en");
  CHECK(replies[2]["then"] == "gather");
}

TEST_CASE("hotline simulate --channel voice --at: in hours the roster's advocate is rung, after hours voicemail") {
  const std::string hotline = HOTLINE_BINARY;
  // Tuesday 10:00 in Milwaukee: Maria (example) takes Spanish calls. "0" asks for a person.
  auto in_hours = run({hotline, "simulate", "--channel", "voice", "--lang", "es", "--at", "tue 10:00", "--root",
                       HOTLINE_SOURCE_DIR},
                      "0\nanswered\n", {"HOTLINE_NOW=2026-12-07T12:00:00Z"});
  REQUIRE(in_hours.exit_code == 0);
  INFO(in_hours.out << in_hours.err);
  CHECK_THAT(in_hours.out, Contains("(connecting you to an advocate: 1 on shift would ring, simulated, nobody is "
                                    "called; type 'answered' or 'no-answer')"));
  CHECK_THAT(in_hours.out, !Contains("Después del tono") && !Contains("+1555"));
  // The same call at 02:00: voicemail, with the hours someone takes Spanish calls.
  auto after_hours = run({hotline, "simulate", "--channel", "voice", "--lang", "es", "--at", "tue 02:00", "--root",
                          HOTLINE_SOURCE_DIR},
                         "0\n", {"HOTLINE_NOW=2026-12-07T12:00:00Z"});
  REQUIRE(after_hours.exit_code == 0);
  CHECK_THAT(after_hours.out, Contains("Después del tono") && Contains("lun-vie 9:00-17:00"));
  CHECK_THAT(after_hours.out, !Contains("connecting you to an advocate"));

  auto bad = run({hotline, "simulate", "--channel", "voice", "--at", "later", "--root", HOTLINE_SOURCE_DIR}, "");
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Contains("--at takes a day and time"));
}
