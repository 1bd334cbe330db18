// The advocates' console, escalation and shift ends, end to end: a real server, two advocates
// and a coordinator texting from their own phones, several texters at once, and the local
// stand-in for Twilio's REST API recording every message the hotline sends. Time moves by
// restarting the server on the same database with a later pinned clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <regex>

#include "fake_twilio.hpp"
#include "relay_support.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline_server.hpp"

using namespace hotline;
using namespace test_support;

namespace {

const std::string kAna = "+15550100001";   // es, written to in Spanish, 9:00-17:00
const std::string kBen = "+15550100002";   // es, written to in English, 9:00-13:00
const std::string kCora = "+15550100003";  // coordinator, es, written to in English, 8:00-18:00
const std::string kFrom = "+15550100000";  // the hotline's number (fictional)
const std::string kAccount = kTestAccount;
const std::vector<std::string> kTexters = {"+14145551201", "+14145551202", "+14145551203", "+14145551204"};

const char* kRosterYaml = R"(
timezone: America/Chicago
max_open: 2
advocates:
  - id: ana
    phone: "+15550100001"
    languages: [es]
    prompt_language: es
    shifts: [{days: mon-fri, hours: "09:00-17:00"}]
  - id: ben
    phone: "+15550100002"
    languages: [es]
    shifts: [{days: mon-fri, hours: "09:00-13:00"}]
  - id: cora
    phone: "+15550100003"
    languages: [es]
    role: coordinator
    max_open: 5
    shifts: [{days: mon-fri, hours: "08:00-18:00"}]
)";

// Wednesday 11 March 2026, Milwaukee time (CDT, UTC-5).
std::int64_t wednesday(int hour, int minute) {
  return at("2026-03-11T00:00:00Z") + ((hour + 5) * 60 + minute) * 60'000LL;
}

std::shared_ptr<const routing::Roster> roster() { return roster_from(kRosterYaml); }

config::Config console_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now) {
  return sending_config(dir, fake, now, kFrom);
}

int g_sid = 0;
std::string text(HotlineServer& s, const std::string& from, const std::string& body) {
  return reply_of(s.post_signed("/twilio/sms", sms_form(from, body, "SMconsole" + std::to_string(100000 + ++g_sid))));
}

std::vector<std::string> bodies(FakeTwilio& fake, const std::string& to) {
  std::vector<std::string> out;
  for (const auto& r : fake.delivered_to(to)) out.push_back(r.body);
  return out;
}

std::size_t count_starting(FakeTwilio& fake, const std::string& to, const std::string& prefix) {
  const auto all = bodies(fake, to);
  return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const auto& b) { return b.rfind(prefix, 0) == 0; }));
}

/// Codes of the new conversations offered to this advocate, oldest first.
std::vector<std::string> offered_codes(FakeTwilio& fake, const std::string& advocate) {
  std::vector<std::string> out;
  static const std::regex offer("^(?:Nueva conversación|New conversation) ([A-Z][0-9][A-Z0-9]{1,4}) ");
  for (const auto& b : bodies(fake, advocate)) {
    std::smatch m;
    if (std::regex_search(b, m, offer)) out.push_back(m[1].str());
  }
  return out;
}

/// `texter` asks for a person; returns the new conversation's code (from the store).
std::string ask_for_person(HotlineServer& s, const std::string& texter) {
  const auto before = s.app().store().relays();
  text(s, texter, "hola");
  CHECK_THAT(text(s, texter, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
  for (const auto& r : s.app().store().relays()) {
    if (std::none_of(before.begin(), before.end(), [&](const auto& b) { return b.code == r.code; })) return r.code;
  }
  FAIL("no relay was opened");
  return "";
}

/// Waits for the outbox to have sent everything queued so far.
void drained(HotlineServer& s) {
  REQUIRE(eventually([&] { return s.app().store().outbox_pending() == 0; }));
}

}  // namespace

TEST_CASE("console: #list, #pause and #available, the cap on open conversations, #help, unknown commands") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(console_config(dir, fake, wednesday(10, 0)), roster());
  const std::string c1 = ask_for_person(server, kTexters[0]);
  const std::string c2 = ask_for_person(server, kTexters[1]);
  drained(server);
  CHECK(offered_codes(fake, kAna) == std::vector<std::string>{c1, c2});
  CHECK(offered_codes(fake, kBen) == std::vector<std::string>{c1, c2});

  // Ana takes both: she is at her cap (max_open: 2), so the third request is not offered to her.
  CHECK_THAT(text(server, kAna, "#take " + c1), Catch::StartsWith(c1 + " es suya"));
  CHECK_THAT(text(server, kAna, "#TAKE " + c2), Catch::StartsWith(c2 + " es suya"));
  const std::string c3 = ask_for_person(server, kTexters[2]);
  drained(server);
  CHECK(offered_codes(fake, kAna) == std::vector<std::string>{c1, c2});
  CHECK(offered_codes(fake, kBen) == std::vector<std::string>{c1, c2, c3});

  // #list, in any case: her conversations with what they asked and since when, and the queue
  // (oldest first; with the clock pinned, equally old ones come in the order of their codes).
  CHECK(text(server, kAna, "#List") == "Suyas (2 de 2): " + std::min(c1, c2) + " (es) pidió hablar con una persona, abierta hace 0 min; " +
                                           std::max(c1, c2) + " (es) pidió hablar con una persona, abierta hace 0 min. " +
                                           "En espera de alguien de apoyo: 1 (" + c3 + " (es) 0 min).");
  CHECK(text(server, kBen, "#list") == "You have no open conversation. Waiting for an advocate: 1 (" + c3 + " (es) 0 min).");

  // Ben pauses: of those on shift, only Cora (a coordinator who speaks Spanish) gets the next offer.
  CHECK(text(server, kBen, "#pause") == "Paused: you get no new offers. Your open conversations stay yours. Send #available to get offers again.");
  CHECK(server.app().store().advocate_note("ben").paused);
  const std::string c4 = ask_for_person(server, kTexters[3]);
  drained(server);
  CHECK(offered_codes(fake, kBen) == std::vector<std::string>{c1, c2, c3});
  CHECK(offered_codes(fake, kAna) == std::vector<std::string>{c1, c2});
  CHECK(offered_codes(fake, kCora) == std::vector<std::string>{c1, c2, c3, c4});
  CHECK(count_starting(fake, kCora, "Coordinator:") == 0);  // someone could take it: no escalation yet
  CHECK_THAT(text(server, kBen, "#LIST"), Catch::EndsWith("You are paused: #available to get offers."));

  // Available again: what is waiting is offered within a sweep (a second).
  CHECK(text(server, kBen, "#Available") == "Available: you will get offers again.");
  REQUIRE(eventually([&] { return offered_codes(fake, kBen).size() == 4; }));
  CHECK(offered_codes(fake, kBen).back() == c4);
  CHECK_FALSE(server.app().store().advocate_note("ben").paused);

  // #help in each advocate's language; an unknown #word is named, and nothing is sent.
  CHECK_THAT(text(server, kAna, "#help"), Catch::StartsWith("Comandos: K7M texto = escribir a K7M"));
  CHECK_THAT(text(server, kBen, "#Help"), Catch::StartsWith("Commands: K7M text = write to K7M"));
  const std::size_t texter_messages = fake.delivered_to(kTexters[0]).size();
  CHECK(text(server, kAna, "#hola " + c1) == "Ese no es uno de los comandos con #; no se envió nada. Envíe #help para ver la lista.");
  CHECK(text(server, kBen, "#lsit") == "That is not one of the # commands; nothing was sent. Send #help for the list.");
  drained(server);
  CHECK(fake.delivered_to(kTexters[0]).size() == texter_messages);
}

TEST_CASE("console: a pause is kept across a restart") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(console_config(dir, fake, wednesday(10, 0)), roster());
    text(server, kBen, "#pause");
  }
  HotlineServer later(console_config(dir, fake, wednesday(10, 30)), roster());
  ask_for_person(later, kTexters[0]);
  drained(later);
  CHECK(offered_codes(fake, kAna).size() == 1);
  CHECK(offered_codes(fake, kBen).empty());
}

TEST_CASE("escalation: offered again after a few minutes, then to the coordinator; each texter told once") {
  TempDir dir;
  FakeTwilio fake;
  std::string c1, c2;
  {
    HotlineServer server(console_config(dir, fake, wednesday(10, 0)), roster());
    c1 = ask_for_person(server, kTexters[0]);
    drained(server);
  }
  CHECK(fake.delivered_to(kTexters[0]).empty());
  {
    // 10:06: nobody took c1 in 5 minutes: both advocates hear of it again, the texter is told once.
    HotlineServer server(console_config(dir, fake, wednesday(10, 6)), roster());
    REQUIRE(eventually([&] { return fake.delivered_to(kTexters[0]).size() == 1; }));
    CHECK(fake.delivered_to(kTexters[0])[0].body ==
          "Su solicitud sigue en espera y ya se la volvimos a enviar a las personas de apoyo. Alguien le escribirá "
          "aquí. Si está en peligro ahora, llame al 911.");
    REQUIRE(eventually([&] {
      return count_starting(fake, kAna, "Sigue en espera: nadie ha tomado " + c1 + " (es) en 6 min: pidió hablar con una persona.") == 1 &&
             count_starting(fake, kBen, "Still waiting: nobody has taken " + c1 + " (es) in 6 min: asked for a person.") == 1;
    }));
    CHECK(count_starting(fake, kCora, "Coordinator:") == 0);
    c2 = ask_for_person(server, kTexters[1]);  // a second texter, whose wait starts now
    drained(server);
  }
  {
    // 10:12: c1 goes to the coordinator; c2 (waiting since 10:06) is offered again.
    HotlineServer server(console_config(dir, fake, wednesday(10, 12)), roster());
    REQUIRE(eventually([&] {
      return count_starting(fake, kCora, "Coordinator: nobody has taken " + c1 + " (es) in 6 min: asked for a person.") == 1 &&
             count_starting(fake, kBen, "Still waiting: nobody has taken " + c2 + " (es)") == 1 &&
             fake.delivered_to(kTexters[1]).size() == 1;
    }));
    drained(server);
    CHECK(count_starting(fake, kCora, "Coordinator: nobody has taken " + c2) == 0);
  }
  {
    // 10:20, past the 15-minute claim timeout: nothing more for anyone; the coordinator takes c1.
    HotlineServer server(console_config(dir, fake, wednesday(10, 20)), roster());
    REQUIRE(eventually([&] { return count_starting(fake, kCora, "Coordinator: nobody has taken " + c2) == 1; }));
    CHECK_THAT(text(server, kCora, "#take " + c1), Catch::StartsWith(c1 + " is yours."));
    REQUIRE(eventually([&] {
      return count_starting(fake, kAna, "Otra persona de apoyo ya tomó " + c1) == 1 &&
             count_starting(fake, kBen, c1 + " was taken by another advocate.") == 1;
    }));
    drained(server);
    CHECK(fake.delivered_to(kTexters[0]).size() == 2);  // "still waiting" once, then "connected"
    CHECK_THAT(fake.delivered_to(kTexters[0])[1].body, Catch::StartsWith("Ya está con usted una persona de apoyo."));
    CHECK(fake.delivered_to(kTexters[1]).size() == 1);
    CHECK(count_starting(fake, kAna, "Sigue en espera: nadie ha tomado " + c1) == 1);  // offered again once only
  }
}

TEST_CASE("escalation: nobody on shift speaks the texter's language: the coordinator hears at once") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(console_config(dir, fake, wednesday(10, 0)), roster());
  const auto before = server.app().store().relays().size();
  text(server, kTexters[0], "hello");
  CHECK_THAT(text(server, kTexters[0], "0"), Catch::Contains("An advocate will write to you here"));
  REQUIRE(server.app().store().relays().size() == before + 1);
  const std::string code = server.app().store().relays().back().code;
  CHECK(server.app().store().relays().back().lang == "en");
  REQUIRE(eventually([&] {
    return count_starting(fake, kCora, "Coordinator: nobody on shift can take " + code + " (en) now: asked for a person.") == 1;
  }));
  CHECK(offered_codes(fake, kAna).empty());
  CHECK(offered_codes(fake, kBen).empty());
  CHECK_THAT(text(server, kCora, code + " Hi, I'm Cora. How can I help?"), Catch::StartsWith(code + " is yours."));
  REQUIRE(eventually([&] { return bodies(fake, kTexters[0]).size() == 2; }));
  CHECK(bodies(fake, kTexters[0])[1] == "Hi, I'm Cora. How can I help?");
}

TEST_CASE("shift end: a reminder, #keep on purpose, and texts re-offered rather than sent to the off-shift phone") {
  TempDir dir;
  FakeTwilio fake;
  std::string c1, c2;
  {
    HotlineServer server(console_config(dir, fake, wednesday(12, 50)), roster());
    c1 = ask_for_person(server, kTexters[0]);
    c2 = ask_for_person(server, kTexters[1]);
    CHECK_THAT(text(server, kBen, c1 + " Hi, I'm Ben."), Catch::StartsWith(c1 + " is yours."));
    CHECK_THAT(text(server, kBen, c2 + " Hi, Ben here."), Catch::StartsWith(c2 + " is yours."));
    drained(server);
  }
  HotlineServer server(console_config(dir, fake, wednesday(13, 5)), roster());
  // Ben's shift ended at 13:00: one reminder, naming both (oldest first; with the clock pinned,
  // both are equally old and come in the order of their codes).
  REQUIRE(eventually([&] { return count_starting(fake, kBen, "Your shift has ended") == 1; }));
  const std::string first = std::min(c1, c2), second = std::max(c1, c2);
  CHECK(count_starting(fake, kBen, "Your shift has ended and you still have " + first + ", " + second + " open. If they "
                                   "write, their texts go to the advocates on shift, not to you. To keep one: #keep " +
                                   first + ". To hand one back now: #release " + first + ".") == 1);
  CHECK(text(server, kBen, "#keep " + c2) ==
        "You keep " + c2 + ": their texts keep coming to you after your shift. #release " + c2 + " hands it back.");
  CHECK_THAT(text(server, kBen, "#list"), Catch::Contains(c2 + " (es) asked for a person, open 15 min, kept"));
  drained(server);
  const std::size_t ben_before = bodies(fake, kBen).size();

  // c1's texter writes: not to Ben's phone; offered to Ana (on shift) with the words, and the
  // texter is told.
  CHECK(text(server, kTexters[0], "¿sigue ahí? tengo otra pregunta") ==
        "La persona de apoyo con quien hablaba terminó su turno. Pasamos su mensaje a otra persona de apoyo, que le "
        "escribirá aquí. Si está en peligro ahora, llame al 911.");
  // c2's texter writes: Ben kept it, so it reaches him.
  CHECK(text(server, kTexters[1], "gracias, una cosa más") == "");
  REQUIRE(eventually([&] {
    return count_starting(fake, kAna, "Nueva conversación " + c1 + " (es): pidió hablar con una persona: \"¿sigue ahí? tengo otra pregunta\"") == 1 &&
           bodies(fake, kBen).size() == ben_before + 1;
  }));
  drained(server);
  CHECK(bodies(fake, kBen).back() == c2 + ": gracias, una cosa más");
  for (const auto& b : bodies(fake, kBen)) CHECK(b.find("tengo otra pregunta") == std::string::npos);
  CHECK(server.app().store().relay_of(crypto::contact_key(kSecret, kTexters[0]))->state == "queued");

  // Ana takes it; Ben's late words to c1 go nowhere.
  CHECK_THAT(text(server, kAna, c1 + " Hola, soy Ana; sigo yo."), Catch::StartsWith(c1 + " es suya"));
  CHECK(text(server, kBen, c1 + " one more thing") == c1 + " is not yours (another advocate has it); nothing was sent.");
  // Ben hands c2 back after all: offered to Ana.
  CHECK(text(server, kBen, "#release " + c2) == c2 + " is back in the queue for another advocate.");
  REQUIRE(eventually([&] { return count_starting(fake, kAna, "La conversación " + c2 + " (es) espera") == 1; }));
  drained(server);
  const auto texter1 = bodies(fake, kTexters[0]);
  CHECK(std::count(texter1.begin(), texter1.end(), "Hola, soy Ana; sigo yo.") == 1);
  CHECK(std::count(texter1.begin(), texter1.end(), "one more thing") == 0);
}

TEST_CASE("an advocate taken off the roster while the server runs: their texter's words go to those on shift") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(console_config(dir, fake, wednesday(11, 0)), roster());
  const std::string code = ask_for_person(server, kTexters[0]);
  CHECK_THAT(text(server, kBen, code + " Hi, I'm Ben."), Catch::StartsWith(code + " is yours."));
  CHECK(text(server, kBen, "#keep " + code) ==
        "You keep " + code + ": their texts keep coming to you after your shift. #release " + code + " hands it back.");
  drained(server);
  const std::size_t ben_before = bodies(fake, kBen).size();

  // What a reload that passes does with an edited roster (test_reload drives the real file).
  std::string without_ben = kRosterYaml;
  const auto from = without_ben.find("  - id: ben"), to = without_ben.find("  - id: cora");
  without_ben.erase(from, to - from);
  server.app().relay().set_roster(roster_from(without_ben.c_str()));

  CHECK(text(server, kTexters[0], "¿sigue ahí?") ==
        "La persona de apoyo con quien hablaba terminó su turno. Pasamos su mensaje a otra persona de apoyo, que le "
        "escribirá aquí. Si está en peligro ahora, llame al 911.");
  REQUIRE(eventually([&] {
    return count_starting(fake, kAna, "Nueva conversación " + code + " (es): pidió hablar con una persona: \"¿sigue ahí?\"") == 1;
  }));
  drained(server);
  CHECK(bodies(fake, kBen).size() == ben_before);
  CHECK(server.app().store().relay_of(crypto::contact_key(kSecret, kTexters[0]))->state == "queued");
}
