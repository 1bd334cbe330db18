// Voicemail keeps its promise: a caller's voicemail becomes a coded request offered to the
// advocates on shift who take calls in the caller's language, and its owner calls back through
// the hotline (`#call K7M`): the hotline rings the advocate, plays the message, then dials the
// caller, the hotline's number shown to both. A real server, a real SQLite file, real roster
// YAML, and the local stand-in for Twilio's REST API.
#include <catch2/catch.hpp>

#include <regex>

#include "fake_twilio.hpp"
#include "relay_support.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline_server.hpp"

using namespace hotline;
using namespace test_support;
using Catch::Contains;

namespace {

const std::string kCaller = "+14145551234";
const std::string kHotline = "+15550100000";  // the hotline's number (fictional)
const std::string kAna = "+15550100001";      // es + en, takes calls, written to in Spanish
const std::string kBen = "+15550100002";      // en only, takes calls
const std::string kCarla = "+15550100003";    // es, texts only (Saturdays too)
const std::string kAccount = kTestAccount;
const std::string kRecording = "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0123";

const char* kRosterYaml = R"(
advocates:
  - id: ana
    phone: "+15550100001"
    languages: [es, en]
    prompt_language: es
    shifts: [{days: mon-fri, hours: "09:00-17:00"}]
  - id: ben
    phone: "+15550100002"
    languages: [en]
    shifts: [{days: mon-fri, hours: "09:00-17:00"}]
  - id: carla
    phone: "+15550100003"
    languages: [es]
    channels: [sms]
    shifts: [{days: mon-fri, hours: "09:00-17:00"}, {days: [sat], hours: "10:00-14:00"}]
)";

const std::int64_t kWednesday10am = at("2026-03-11T15:00:00Z");  // 10:00 CDT
const std::int64_t kSunday = at("2026-03-15T18:00:00Z");         // 13:00 CDT, nobody on shift

std::shared_ptr<const routing::Roster> roster() { return roster_from(kRosterYaml); }

config::Config callback_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now) {
  return sending_config(dir, fake, now, kHotline);
}

int g_sid = 0;
std::string next_sid(const char* prefix) { return prefix + std::to_string(100000 + ++g_sid) + std::string(26, '0'); }

std::string post_ok(HotlineServer& s, const std::string& path, const twilio::FormFields& form) {
  auto res = s.post_signed(path, form);
  REQUIRE(res);
  INFO(path << " -> " << res->body);
  REQUIRE(res->status == 200);
  REQUIRE(res->get_header_value("Content-Type").rfind("text/xml", 0) == 0);
  return res->body;
}

std::string text(HotlineServer& s, const std::string& from, const std::string& body) {
  return reply_of(s.post_signed("/twilio/sms", sms_form(from, body, next_sid("SM"))));
}

twilio::FormFields call_fields(const std::string& sid, const std::string& from, const std::string& to,
                               const std::string& direction = "inbound") {
  return {{"AccountSid", kAccount}, {"ApiVersion", "2010-04-01"}, {"CallSid", sid}, {"CallStatus", "in-progress"},
          {"Direction", direction}, {"From", from},                 {"To", to}};
}

/// A Spanish caller asks for a person (0), nobody answers, and they leave a 21-second message.
/// Returns what the hotline said before the tone.
std::string leave_spanish_voicemail(HotlineServer& s, bool advocates_on_shift, const std::string& caller = kCaller) {
  const std::string sid = next_sid("CA");
  auto f = call_fields(sid, caller, kHotline);
  post_ok(s, "/twilio/voice", f);
  auto press = [&](const std::string& digits) {
    auto g = f;
    g.push_back({"Digits", digits});
    return post_ok(s, "/twilio/voice/gather", g);
  };
  press("2");
  std::string said = press("0");
  if (advocates_on_shift) {
    REQUIRE_THAT(said, Contains("<Dial"));
    auto d = f;
    d.push_back({"DialCallStatus", "no-answer"});
    said = post_ok(s, "/twilio/voice/dial", d);
  }
  REQUIRE_THAT(said, Contains("<Record"));
  auto r = f;
  r.push_back({"RecordingUrl", kRecording});
  r.push_back({"RecordingSid", "RE00000000000000000000000000000123"});
  r.push_back({"RecordingDuration", "21"});
  CHECK_THAT(post_ok(s, "/twilio/voice/record", r), Contains("recibimos su mensaje"));
  return said;
}

/// The voicemail offers texted to `advocate`, as their codes.
std::vector<std::string> voicemail_codes(FakeTwilio& fake, const std::string& advocate) {
  std::vector<std::string> out;
  static const std::regex offer("^(?:Nuevo mensaje de voz|New voicemail) ([A-Z][0-9][A-Z0-9]{1,4}) ");
  for (const auto& r : fake.delivered_to(advocate)) {
    std::smatch m;
    if (std::regex_search(r.body, m, offer)) out.push_back(m[1].str());
  }
  return out;
}

std::string attr(const std::string& twiml, const std::string& verb, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(twiml, m, std::regex("<" + verb + "[^>]* " + name + "=\"([^\"]*)\""))) return "";
  return m[1].str();
}

std::string element(const std::string& twiml, const std::string& verb) {
  std::smatch m;
  if (!std::regex_search(twiml, m, std::regex("<" + verb + "[^>]*>([^<]*)</" + verb + ">"))) return "";
  return m[1].str();
}

}  // namespace

TEST_CASE("a voicemail is offered to the advocate who takes calls in its language, taken, and called back through the hotline") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(callback_config(dir, fake, kWednesday10am), roster());
  leave_spanish_voicemail(server, true);

  // Only Ana (Spanish, takes calls) is told; Ben speaks no Spanish, Carla takes no calls.
  REQUIRE(eventually([&] { return voicemail_codes(fake, kAna).size() == 1; }));
  const std::string code = voicemail_codes(fake, kAna)[0];
  CHECK(std::regex_match(code, std::regex("[A-Z][0-9][A-Z0-9]")));
  CHECK(fake.delivered_to(kAna)[0].body ==
        "Nuevo mensaje de voz " + code + " (es, 21 s, dejado hace 0 min). Para devolver la llamada a través de la "
        "línea, envíe #take " + code + " y luego #call " + code + ".");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(fake.delivered_to(kBen).empty());
  CHECK(fake.delivered_to(kCarla).empty());
  for (const auto& r : fake.requests()) {
    CHECK(r.body.find(kCaller) == std::string::npos);     // advocates never see the number
    CHECK(r.body.find("Recordings") == std::string::npos);  // nor Twilio's credentialed link
  }

  // The code belongs to the voicemail alone, so #take takes it; words are never texted to a caller.
  CHECK_THAT(text(server, kAna, "#take " + code), Contains(code + " (mensaje de voz) es suyo") && Contains("#call " + code));
  CHECK_THAT(text(server, kAna, code + " hola"), Contains("es un mensaje de voz: no se envió nada"));
  CHECK_THAT(text(server, kBen, "#call " + code), Contains("is not yours"));

  // #call: the stand-in gets a Calls create ringing Ana from the hotline number.
  CHECK_THAT(text(server, kAna, "#call " + code), Contains("Le estamos llamando para " + code));
  REQUIRE(eventually([&] { return fake.calls().size() == 1; }));
  const FakeCall call = fake.calls()[0];
  CHECK(call.answered == 201);
  CHECK(call.path == "/2010-04-01/Accounts/" + kAccount + "/Calls.json");
  CHECK(call.authorization.rfind("Basic ", 0) == 0);
  CHECK(call.from == kHotline);
  CHECK(call.to == kAna);
  CHECK(call.method == "POST");
  const std::string path = "/twilio/voice/callback?code=" + code;
  CHECK(call.url == kPublicUrl + path);

  // Ana answers: Twilio fetches the URL (signed, the query included). She hears which callback
  // this is and the message, then the caller is dialled showing the hotline's number.
  const auto leg = call_fields(call.sid, kHotline, kAna, "outbound-api");
  CHECK(server.post(path, twilio::encode_form(leg))->status == 403);  // unsigned: refused
  std::string twiml = post_ok(server, path, leg);
  CHECK_THAT(element(twiml, "Say"), Contains("mensaje de voz " + code + ", de 21 segundos"));
  CHECK(element(twiml, "Play") == kRecording);
  CHECK(attr(twiml, "Dial", "callerId") == kHotline);
  CHECK(element(twiml, "Number") == kCaller);
  const std::string done = attr(twiml, "Dial", "action");
  CHECK(done == "/twilio/voice/callback/done?code=" + code);
  CHECK(twiml.find("<Play") < twiml.find("<Dial"));

  // The caller does not answer: it stays Ana's, and she is told how to try again.
  auto ended = leg;
  ended.push_back({"DialCallStatus", "no-answer"});
  CHECK_THAT(post_ok(server, done, ended), Contains("no contestó") && Contains("<Hangup"));
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 2; }));
  CHECK(fake.delivered_to(kAna)[1].body == code + ": la persona no contestó. Envíe #call " + code +
                                               " para intentarlo más tarde, o #end " + code + " para cerrarlo.");
  REQUIRE(server.app().store().relays().size() == 1);
  CHECK(server.app().store().relays()[0].advocate_id == "ana");

  // Again, and this time they talk: the voicemail closes, the caller's sealed number with it.
  CHECK_THAT(text(server, kAna, "#call"), Contains("Le estamos llamando para " + code));  // her only voicemail
  REQUIRE(eventually([&] { return fake.calls().size() == 2; }));
  CHECK(fake.calls()[1].to == kAna);
  twiml = post_ok(server, path, call_fields(fake.calls()[1].sid, kHotline, kAna, "outbound-api"));
  CHECK(element(twiml, "Number") == kCaller);
  auto talked = call_fields(fake.calls()[1].sid, kHotline, kAna, "outbound-api");
  talked.push_back({"DialCallStatus", "completed"});
  CHECK_THAT(post_ok(server, done, talked), Contains("La llamada terminó"));
  CHECK(server.app().store().relays().empty());
  const auto closed = server.app().store().closed_codes_since(kWednesday10am);
  CHECK(std::find(closed.begin(), closed.end(), code) != closed.end());
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 3; }));
  CHECK(fake.delivered_to(kAna)[2].body == code + ": la llamada de vuelta terminó y quedó cerrada. Se borró el número de la persona.");

  // A late fetch of the callback URL dials nobody; a late #call meets a closed code.
  twiml = post_ok(server, path, leg);
  CHECK(twiml.find("<Dial") == std::string::npos);
  CHECK(twiml.find(kCaller) == std::string::npos);
  CHECK_THAT(text(server, kAna, "#call " + code), Contains("está cerrada"));
  CHECK(fake.calls().size() == 2);
  CHECK(fake.delivered_to(kCaller).empty());  // the caller is never texted
}

TEST_CASE("after hours a caller hears when someone takes calls; the voicemail waits for the next shift") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(callback_config(dir, fake, kSunday), roster());
    const std::string said = leave_spanish_voicemail(server, false);
    // The hours of advocates who take calls: Carla's Saturday texting shift is not among them.
    CHECK_THAT(said, Contains("lun-vie 9:00-17:00"));
    CHECK_THAT(said, !Contains("sáb"));
    REQUIRE(server.app().store().relays().size() == 1);
    CHECK(server.app().store().relays()[0].state == "queued");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  CHECK(fake.requests().empty());  // nobody is texted on a Sunday
  // Monday 9:05: the sweep offers it to Ana, saying how long it has waited.
  HotlineServer monday(callback_config(dir, fake, at("2026-03-16T14:05:00Z")), roster());
  REQUIRE(eventually([&] { return voicemail_codes(fake, kAna).size() == 1; }));
  CHECK_THAT(fake.delivered_to(kAna)[0].body, Contains("(es, 21 s, dejado hace 20 h)"));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // one more sweep: offered once
  CHECK(fake.delivered_to(kAna).size() == 1);
  CHECK(fake.delivered_to(kBen).empty());
  CHECK(fake.delivered_to(kCarla).empty());
  CHECK(fake.delivered_to(kCaller).empty());
}

TEST_CASE("a caller who withheld their number: the advocate hears the message, and nobody is dialled") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(callback_config(dir, fake, kWednesday10am), roster());
  leave_spanish_voicemail(server, true, "Anonymous");
  REQUIRE(eventually([&] { return voicemail_codes(fake, kAna).size() == 1; }));
  const std::string code = voicemail_codes(fake, kAna)[0];
  CHECK_THAT(text(server, kAna, "#call " + code), Contains("Le estamos llamando para " + code));
  REQUIRE(eventually([&] { return fake.calls().size() == 1; }));
  const std::string twiml = post_ok(server, "/twilio/voice/callback?code=" + code,
                                    call_fields(fake.calls()[0].sid, kHotline, kAna, "outbound-api"));
  CHECK(element(twiml, "Play") == kRecording);
  CHECK_THAT(twiml, Contains("ocultó su número") && Contains("#end " + code) && Contains("<Hangup"));
  CHECK(twiml.find("<Dial") == std::string::npos);
  CHECK(twiml.find("<Play") < twiml.find("ocultó"));
  REQUIRE(server.app().store().relays().size() == 1);  // Ana closes it with #end
  CHECK_THAT(text(server, kAna, "#end " + code), Contains(code));
  CHECK(server.app().store().relays().empty());
}
