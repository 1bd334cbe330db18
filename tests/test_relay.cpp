// Whole advocate relays through a real server, with a local fake of Twilio's REST API that
// records what it is sent and fails on demand.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <regex>
#include <set>

#include "fake_twilio.hpp"
#include "relay_support.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline_server.hpp"
#include "raw_http.hpp"

using namespace hotline;
using namespace test_support;

namespace {

const std::string kTexter = "+14145551234";
const std::string kAna = "+15550100001";  // speaks es+en, written to in Spanish
const std::string kBen = "+15550100002";  // speaks es, written to in English
const std::string kFrom = "+15550100000"; // the hotline's number (fictional)
const std::string kAccount = kTestAccount;

const char* kRosterYaml = R"(
advocates:
  - id: ana
    phone: "+15550100001"
    languages: [es, en]
    prompt_language: es
    shifts: [{days: mon-fri, hours: "09:00-17:00"}]
  - id: ben
    phone: "+15550100002"
    languages: [es]
    shifts: [{days: mon-fri, hours: "09:00-17:00"}]
)";

const std::int64_t kWednesday10am = at("2026-03-11T15:00:00Z");  // 10:00 CDT
const std::int64_t kSunday = at("2026-03-15T18:00:00Z");         // 13:00 CDT, nobody on shift

std::shared_ptr<const routing::Roster> roster() { return roster_from(kRosterYaml); }

config::Config relay_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now) {
  return sending_config(dir, fake, now, kFrom);
}

int g_sid = 0;
std::string next_sid() { return "SMrelay" + std::to_string(100000 + ++g_sid); }


std::string text(HotlineServer& s, const std::string& from, const std::string& body) {
  return reply_of(s.post_signed("/twilio/sms", sms_form(from, body, next_sid())));
}

/// Offers (new conversations) this advocate has been sent, oldest first, as their codes.
std::vector<std::string> offered_codes(FakeTwilio& fake, const std::string& advocate) {
  std::vector<std::string> out;
  static const std::regex offer("^(?:Nueva conversación|New conversation) ([A-Z][0-9][A-Z0-9]{1,4}) ");
  for (const auto& r : fake.delivered_to(advocate)) {
    std::smatch m;
    if (std::regex_search(r.body, m, offer)) out.push_back(m[1].str());
  }
  return out;
}

/// `texter` asks for a person; returns the conversation's code, from the offer both advocates got.
std::string ask_for_person(HotlineServer& s, FakeTwilio& fake, const std::string& texter = kTexter) {
  const std::size_t before = offered_codes(fake, kAna).size();
  text(s, texter, "hola");
  CHECK_THAT(text(s, texter, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
  REQUIRE(eventually([&] {
    return offered_codes(fake, kAna).size() == before + 1 && offered_codes(fake, kBen).size() == before + 1;
  }));
  const std::string code = offered_codes(fake, kAna).back();
  CHECK(std::regex_match(code, std::regex("[ACDEFGHJKLMNPQRTUVWXY][34679][ACDEFGHJKLMNPQRTUVWXY34679]")));
  CHECK(offered_codes(fake, kBen).back() == code);
  return code;
}

std::size_t count(const std::vector<FakeRequest>& rs, const std::string& body) {
  return static_cast<std::size_t>(std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.body == body; }));
}

}  // namespace

TEST_CASE("claim, talk both ways, end") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);
  // The offer says what the person needs (here: only a person, by "0", which it does not
  // quote) and how to take it, in each advocate's language.
  CHECK(fake.delivered_to(kAna)[0].body == "Nueva conversación " + code + " (es): pidió hablar con una persona. Para tomarla, "
                                               "empiece su respuesta con " + code + " o envíe #take " + code + ".");
  CHECK(fake.delivered_to(kBen)[0].body == "New conversation " + code + " (es): asked for a person. To take it, start your "
                                               "reply with " + code + " or send #take " + code + ".");

  // Ana takes it by its code with a real first line: it reaches the texter too, from the hotline number.
  CHECK(text(server, kAna, code + " Hola, soy Ana. ¿En qué le ayudo?") ==
        code + " es suya. La persona recibirá sus respuestas desde el número de la línea. Escriba #end para cerrarla o #release para devolverla.");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2 && fake.delivered_to(kBen).size() == 2; }));
  CHECK(fake.delivered_to(kBen)[1].body == code + " was taken by another advocate. Nothing to do.");
  CHECK_THAT(fake.delivered_to(kTexter)[0].body, Catch::StartsWith("Ya está con usted una persona de apoyo."));
  CHECK(fake.delivered_to(kTexter)[1].body == "Hola, soy Ana. ¿En qué le ayudo?");

  // The texter's messages go to Ana with the code; the webhook answers nothing itself.
  CHECK(text(server, kTexter, "Tengo miedo de llamar") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 2; }));
  CHECK(fake.delivered_to(kAna)[1].body == code + ": Tengo miedo de llamar");
  CHECK(text(server, kAna, "Entiendo. Le explico.") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 3; }));
  CHECK(fake.delivered_to(kTexter)[2].body == "Entiendo. Le explico.");

  // Every request: the right account, Basic auth, the hotline's From, a status callback.
  for (const auto& r : fake.requests()) {
    CHECK(r.path == "/2010-04-01/Accounts/" + kAccount + "/Messages.json");
    CHECK(r.authorization.rfind("Basic ", 0) == 0);
    CHECK(r.from == kFrom);
    CHECK(r.status_callback == kPublicUrl + "/twilio/status");
  }

  CHECK(text(server, kAna, "#end") == code + " está cerrada. ¡Gracias!");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 4; }));
  CHECK_THAT(fake.delivered_to(kTexter)[3].body, Catch::StartsWith("La persona de apoyo cerró esta conversación."));
  CHECK(server.app().store().relays().empty());
  // After the end, the texter is back in the flow, and Ana has nothing open.
  CHECK_THAT(text(server, kTexter, "1"), Catch::Contains("testigo"));
  CHECK_THAT(text(server, kAna, "hola?"), Catch::StartsWith("No tiene ninguna conversación abierta;"));
}

TEST_CASE("an offer says the topic asked about before, and the person's own words once") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  text(server, kTexter, "hola");
  text(server, kTexter, "2");  // the status answer
  text(server, kTexter, "quiero hablar con alguien de mi caso por favor");
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
  CHECK_THAT(fake.delivered_to(kAna)[0].body,
             Catch::Contains("(es): quiere saber si la policía reporta su estatus: \"quiero hablar con alguien de mi caso por favor\"."));
  CHECK_THAT(fake.delivered_to(kBen)[0].body,
             Catch::Contains("(es): asked about whether police report immigration status: \"quiero hablar con alguien de mi caso por favor\"."));
}

TEST_CASE("emergencies first, even while waiting for an advocate and inside an open relay") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);

  // Waiting: asking again is told the request is waiting, with the 911 line, not "no entendí".
  const std::string waiting = text(server, kTexter, "es urgente, ya me escriben?");
  CHECK_THAT(waiting, Catch::Contains("Su mensaje le llegará a la persona de apoyo") && Catch::Contains("911"));
  CHECK_THAT(waiting, !Catch::Contains("no entendí"));
  // Waiting, an emergency gets the emergency answer at once.
  CHECK_THAT(text(server, kTexter, "alguien esta forzando la puerta"), Catch::Contains("llame al 911 de inmediato"));

  // In the open relay: the texter gets the 911 text from the hotline, and Ana is told.
  text(server, kAna, code + " Hola, soy Ana.");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2 && fake.delivered_to(kAna).size() == 3; }));
  // What they wrote while waiting reached Ana right after the take, the emergency marked.
  CHECK(fake.delivered_to(kAna)[1].body == code + " (mientras esperaba): es urgente, ya me escriben?");
  CHECK(fake.delivered_to(kAna)[2].body ==
        code + " PODRÍA ESTAR EN PELIGRO (la línea le dijo que llame al 911): alguien esta forzando la puerta");
  const auto before = fake.delivered_to(kAna).size();
  CHECK_THAT(text(server, kTexter, "ya entro un hombre a mi casa tiene una pistola"),
             Catch::Contains("llame al 911 de inmediato"));
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == before + 1; }));
  CHECK(fake.delivered_to(kAna).back().body ==
        code + " PODRÍA ESTAR EN PELIGRO (la línea le dijo que llame al 911): ya entro un hombre a mi casa tiene una pistola");
  // An ordinary message in the relay is only forwarded, as before.
  CHECK(text(server, kTexter, "gracias, ya estoy mejor") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == before + 2; }));
  CHECK(fake.delivered_to(kAna).back().body == code + ": gracias, ya estoy mejor");
}

TEST_CASE("the texter's number and words are not readable in the database") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    fake.fail_status = 500;  // keep everything in the outbox
    text(server, kTexter, "hola");
    text(server, kTexter, "Necesito ayuda con la policia urgente");
    text(server, kTexter, "0");
    REQUIRE(server.app().store().relays().size() == 1);
    REQUIRE(server.app().store().outbox_pending() >= 2);
  }
  std::string bytes;
  for (const char* f : {"hotline.sqlite3", "hotline.sqlite3-wal"}) bytes += read_file((dir.path() / f).string());
  REQUIRE(bytes.size() > 0);
  CHECK(bytes.find("4145551234") == std::string::npos);
  CHECK(bytes.find("5550100001") == std::string::npos);
  CHECK(bytes.find("Nueva conversaci") == std::string::npos);
}

TEST_CASE("two advocates racing: exactly one gets it") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);

  std::string ana_reply, ben_reply;
  std::thread a([&] {
    httplib::Client client("127.0.0.1", server.port());
    auto form = sms_form(kAna, code + " yo la tomo", next_sid());
    auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
    auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, twilio::encode_form(form), "application/x-www-form-urlencoded");
    if (res) ana_reply = res->body;
  });
  std::thread b([&] {
    httplib::Client client("127.0.0.1", server.port());
    auto form = sms_form(kBen, code + " I'll take it", next_sid() + "b");
    auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
    auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, twilio::encode_form(form), "application/x-www-form-urlencoded");
    if (res) ben_reply = res->body;
  });
  a.join();
  b.join();
  // (The loser hears "K7M no es suya" / "K7M is not yours": the code must come right before.)
  const bool ana_won = ana_reply.find(code + " es suya") != std::string::npos;
  const bool ben_won = ben_reply.find(code + " is yours") != std::string::npos;
  CHECK(ana_won != ben_won);
  if (ana_won) CHECK_THAT(ben_reply, Catch::Contains(code + " is not yours"));
  if (ben_won) CHECK_THAT(ana_reply, Catch::Contains(code + " no es suya"));
  auto relays = server.app().store().relays();
  REQUIRE(relays.size() == 1);
  CHECK(relays[0].advocate_id == (ana_won ? "ana" : "ben"));
  // The texter is told once that someone is there, plus the winner's first line.
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2; }));
  CHECK(count(fake.delivered_to(kTexter), ana_won ? "yo la tomo" : "I'll take it") == 1);
}

TEST_CASE("release hands it back; another advocate takes it by code") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);
  CHECK_THAT(text(server, kAna, "#take " + code), Catch::StartsWith(code + " es suya"));
  CHECK(fake.delivered_to(kTexter).size() <= 1);  // #take says nothing to the texter but "connected"

  CHECK(text(server, kAna, "#release") == code + " volvió a la fila para otra persona de apoyo.");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kBen), "Conversation " + code + " (es) is waiting for an advocate. Send #take " + code + " to take it.") == 1; }));
  CHECK(server.app().store().relays()[0].state == "queued");
  CHECK_THAT(text(server, kBen, code + " Hi, I can help"), Catch::StartsWith(code + " is yours."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "Hi, I can help") == 1; }));
  // Ana lets go for good: her texts now reach nobody, and she is told so.
  CHECK(text(server, kAna, code + " sigo aquí") == code + " no es suya (la tiene otra persona de apoyo); no se envió nada.");
  CHECK(count(fake.delivered_to(kTexter), "sigo aquí") == 0);
  CHECK(text(server, kBen, "#end " + code) == code + " is closed. Thank you.");
}

TEST_CASE("bad input from advocates and strangers gets a clear reply") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  CHECK_THAT(text(server, kAna, "hola"), Catch::StartsWith("No tiene ninguna conversación abierta;"));
  CHECK_THAT(text(server, kBen, "#end"), Catch::StartsWith("You have no open conversation;"));
  CHECK(text(server, kBen, "#frobnicate") == "That is not one of the # commands; nothing was sent. Send #help for the list.");
  CHECK_THAT(text(server, kBen, "#take"), Catch::StartsWith("Start with the code to write to a conversation"));
  CHECK_THAT(text(server, kBen, "Q9 hello"), Catch::StartsWith("You have no open conversation;"));
  // A stranger (not an advocate, no relay) trying a command.
  auto stranger = text(server, "+14145559876", "#end");
  CHECK_THAT(stranger, Catch::Contains("son solo para el personal de apoyo") && Catch::Contains("are for advocates"));

  const std::string code = ask_for_person(server, fake);
  text(server, kBen, "#take " + code);
  // A code nobody has (Q9 is of the old two-character shape; codes now have three).
  const std::string other = "Q9";
  CHECK_THAT(text(server, kBen, other + " hello"),
             Catch::StartsWith("You have no open conversation " + other + ". Yours: " + code + "."));
  CHECK(server.app().store().relays().size() == 1);
}

TEST_CASE("STOP mid-relay ends it and tells the advocate") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);
  text(server, kAna, "#take " + code);
  text(server, kTexter, "STOP");  // Twilio answers STOP itself; the hotline records it
  CHECK(server.app().store().is_opted_out(crypto::contact_key(kSecret, kTexter)));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), code + " terminó: la persona pidió no recibir más mensajes. La línea ya no le escribirá.") == 1; }));
  CHECK(server.app().store().relays().empty());
  CHECK_THAT(text(server, kAna, "¿sigue ahí?"), Catch::StartsWith("No tiene ninguna conversación abierta;"));
  CHECK(text(server, kAna, code + " ¿sigue ahí?") == code + " está cerrada; no se envió nada. Si la persona vuelve a escribir, llegará como una conversación nueva.");
}

TEST_CASE("after hours: the texter hears the hours; advocates hear of it when their shift starts") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kSunday), roster());
    text(server, kTexter, "hola");
    CHECK(text(server, kTexter, "0") ==
          "En este momento no hay personas de apoyo de turno. El horario es lun-vie 9:00-17:00. Su solicitud "
          "quedó guardada y alguien le escribirá aquí. Si está en peligro, llame al 911.");
    REQUIRE(server.app().store().relays().size() == 1);
    CHECK(server.app().store().relays()[0].state == "queued");
  }
  CHECK(fake.requests().empty());
  // Monday 9:05: the worker's sweep offers it to both.
  HotlineServer monday(relay_config(dir, fake, at("2026-03-16T14:05:00Z")), roster());
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
  CHECK_THAT(fake.delivered_to(kAna)[0].body, Catch::StartsWith("Nueva conversación"));
  // How long they have waited (Sunday 13:00 to Monday 9:05), and that they asked after hours.
  CHECK_THAT(fake.delivered_to(kAna)[0].body, Catch::Contains(". Lleva 20 h 5 min esperando. Escribió fuera del horario. Para tomarla"));
  CHECK_THAT(fake.delivered_to(kBen)[0].body, Catch::Contains(". Waiting 20 h 5 min. Asked after hours. To take it"));
  CHECK(fake.delivered_to(kTexter).empty());  // already told when to expect an answer
}

TEST_CASE("nobody takes it in time: the texter is told, and it stays queued") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    ask_for_person(server, fake);
  }
  // Past the 15-minute claim timeout. The first sweep offers it again (nobody took it within
  // relay.escalate_after_minutes), and that tells the texter; the claim timeout adds nothing.
  auto c = relay_config(dir, fake, kWednesday10am + 16 * 60'000);
  HotlineServer later(c, roster());
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 1 && fake.delivered_to(kAna).size() == 2; }));
  CHECK(fake.delivered_to(kTexter)[0].body ==
        "Su solicitud sigue en espera y ya se la volvimos a enviar a las personas de apoyo. Alguien le escribirá "
        "aquí. Si está en peligro ahora, llame al 911.");
  CHECK_THAT(fake.delivered_to(kAna)[1].body, Catch::StartsWith("Sigue en espera: nadie ha tomado"));
  CHECK(later.app().store().relays()[0].state == "queued");
  // Told once only, and the advocates are not offered it a third time within the next minutes.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // one more sweep (1 s poll)
  CHECK(fake.delivered_to(kTexter).size() == 1);
  CHECK(fake.delivered_to(kAna).size() == 2);
}

TEST_CASE("nobody takes it and it cannot be offered again: the claim timeout still tells the texter") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    ask_for_person(server, fake);
    // Both pause: nobody on shift can take it (and this roster has no coordinator).
    text(server, kAna, "#pause");
    text(server, kBen, "#pause");
  }
  HotlineServer later(relay_config(dir, fake, kWednesday10am + 16 * 60'000), roster());
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 1; }));
  CHECK(fake.delivered_to(kTexter)[0].body ==
        "Lo sentimos, aún no hay nadie libre. Su solicitud está guardada y alguien le escribirá aquí. "
        "Horario: lun-vie 9:00-17:00. En una emergencia, llame al 911.");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(fake.delivered_to(kTexter).size() == 1);
  CHECK(fake.delivered_to(kAna).size() == 1);  // the first offer only
}

TEST_CASE("the API down for a while, then back: every message delivered exactly once") {
  TempDir dir;
  FakeTwilio fake;
  auto c = relay_config(dir, fake, kWednesday10am);
  SECTION("500") { fake.fail_status = 500; }
  SECTION("429") { fake.fail_status = 429; }
  SECTION("500 with a body that is not JSON") {
    fake.fail_status = 503;
    fake.malformed = true;
  }
  SECTION("no answer in time") { fake.delay_ms = 1500; fake.fail_status = 503; }
  HotlineServer server(c, roster());
  text(server, kTexter, "hola");
  text(server, kTexter, "0");
  REQUIRE(eventually([&] { return fake.requests().size() >= 4; }));  // tried, and tried again
  CHECK(fake.delivered().empty());
  fake.delay_ms = 0;
  fake.malformed = false;
  fake.fail_status = 0;
  REQUIRE(eventually([&] { return server.app().store().outbox_pending() == 0 && fake.delivered().size() == 2; }));
  CHECK(fake.delivered_to(kAna).size() == 1);
  CHECK(fake.delivered_to(kBen).size() == 1);
}

TEST_CASE("a 201 with an unreadable body counts as sent (never sent twice)") {
  TempDir dir;
  FakeTwilio fake;
  fake.malformed = true;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  text(server, kTexter, "hola");
  text(server, kTexter, "0");
  REQUIRE(eventually([&] { return server.app().store().outbox_pending() == 0 && fake.requests().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(fake.requests().size() == 2);
}

TEST_CASE("an opted-out recipient (21610) is dropped, not retried") {
  TempDir dir;
  FakeTwilio fake;
  fake.refuse_to = kBen;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  text(server, kTexter, "hola");
  text(server, kTexter, "0");
  REQUIRE(eventually([&] { return server.app().store().outbox_pending() == 0 && fake.requests().size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK(fake.requests().size() == 2);
  CHECK(fake.delivered_to(kBen).empty());
  CHECK(fake.delivered_to(kAna).size() == 1);
}

TEST_CASE("a restart with messages still in the outbox delivers them once") {
  TempDir dir;
  FakeTwilio fake;
  fake.fail_status = 500;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    text(server, kTexter, "hola");
    text(server, kTexter, "0");
    REQUIRE(eventually([&] { return fake.requests().size() >= 2; }));
    CHECK(server.app().store().outbox_pending() == 2);
  }
  fake.fail_status = 0;
  HotlineServer restarted(relay_config(dir, fake, kWednesday10am), roster());
  REQUIRE(eventually([&] { return restarted.app().store().outbox_pending() == 0 && fake.delivered().size() == 2; }));
  CHECK(fake.delivered_to(kAna).size() == 1);
  CHECK(fake.delivered_to(kBen).size() == 1);
}

TEST_CASE("status callbacks are signature-checked and erase delivered messages") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  text(server, kTexter, "hola");
  text(server, kTexter, "0");
  REQUIRE(eventually([&] { return fake.delivered().size() == 2 && server.app().store().outbox_pending() == 0; }));
  const std::string sid = FakeTwilio::sid_of(1000);
  twilio::FormFields status = {{"MessageSid", sid}, {"MessageStatus", "delivered"}, {"AccountSid", kAccount}};
  auto res = server.post("/twilio/status", twilio::encode_form(status));
  REQUIRE(res);
  CHECK(res->status == 403);
  CHECK(server.app().store().outbound_status(sid, "sent", "", 1));  // still known
  res = server.post_signed("/twilio/status", status);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(server.app().store().outbound_status(sid, "sent", "", 1));  // gone
  res = server.post_signed("/twilio/status", {{"MessageStatus", "delivered"}});
  CHECK(res->status == 400);

  // A signed callback with an empty body names nothing: answered at once with empty TwiML, with
  // a Content-Length of 0 or, as a bare POST, with none (which has no body in HTTP/1.1).
  const std::string signature =
      twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/status", twilio::FormFields{});
  for (const std::string length : {"Content-Length: 0\r\n", ""}) {
    RawConnection raw(server.port(), 10);
    REQUIRE(raw.connected());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(raw.send("POST /twilio/status HTTP/1.1\r\nHost: hotline.example.org\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n" + length +
                     "X-Twilio-Signature: " + signature + "\r\n\r\n"));
    const std::string answer = raw.read_response();
    CHECK(answer.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(raw_body(answer).find("<Response") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  }
}

// --- Words reach only a conversation the advocate chose -------------------------------------
// Each case below is one way the relay used to send an advocate's words to the wrong person.

namespace {

const std::string kTexter2 = "+14145552002";
const std::string kTexter3 = "+14145552003";

/// Waits until everything queued has gone out, so "nothing reached X" is a fact, not a race.
void drain(HotlineServer& s) {
  REQUIRE(eventually([&] { return s.app().store().outbox_pending() == 0; }));
}

/// The choices a held message is offered, as Ana reads them: her open conversations, then the
/// waiting ones offered to her, each group in the store's order (by when they opened, then by
/// code: every relay here opens at the same pinned time).
std::vector<std::string> choice_order(std::vector<std::string> mine, std::vector<std::string> waiting) {
  std::sort(mine.begin(), mine.end());
  std::sort(waiting.begin(), waiting.end());
  for (auto& code : waiting) mine.push_back(code + " (en espera, la toma)");
  return mine;
}

/// Ana's reply when her text is held, and the digit that sends it to `code`.
std::string held(const std::vector<std::string>& choices) {
  std::string list;
  for (std::size_t i = 0; i < choices.size(); ++i) list += (i ? ", " : "") + std::to_string(i + 1) + " = " + choices[i];
  return "No se envió: ¿para qué conversación es? " + list +
         ". Responda con el número para enviarlo, o empiece con el código.";
}
std::string digit_for(const std::vector<std::string>& choices, const std::string& code) {
  for (std::size_t i = 0; i < choices.size(); ++i) if (choices[i].rfind(code, 0) == 0) return std::to_string(i + 1);
  return "?";
}

std::string state_of(HotlineServer& s, const std::string& code) {
  for (const auto& r : s.app().store().relays()) if (r.code == code) return r.state + ":" + r.advocate_id;
  return "closed";
}

}  // namespace

TEST_CASE("a reply without a code takes no waiting conversation, neither the oldest nor the one just offered") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string first = ask_for_person(server, fake, kTexter);
  const std::string second = ask_for_person(server, fake, kTexter2);

  // Ana answers the offer she just read. Before, this took the *oldest* one.
  const auto choices = choice_order({}, {first, second});
  CHECK(text(server, kAna, "Hola, ¿en qué le ayudo?") == held(choices));
  drain(server);
  CHECK(fake.delivered_to(kTexter).empty());
  CHECK(fake.delivered_to(kTexter2).empty());
  CHECK(state_of(server, first) == "queued:");
  CHECK(state_of(server, second) == "queued:");
  // What she wrote is held sealed, never in the clear.
  {
    std::string bytes;
    for (const char* f : {"hotline.sqlite3", "hotline.sqlite3-wal"}) bytes += read_file((dir.path() / f).string());
    CHECK(bytes.find("en qué le ayudo") == std::string::npos);
  }

  // One reply sends it where she meant, taking that one; the other texter hears nothing.
  const std::string pick = digit_for(choices, second);
  CHECK_THAT(text(server, kAna, pick), Catch::StartsWith(second + " es suya."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter2), "Hola, ¿en qué le ayudo?") == 1; }));
  drain(server);
  CHECK(fake.delivered_to(kTexter).empty());
  CHECK(state_of(server, second) == "claimed:ana");
  CHECK(state_of(server, first) == "queued:");
  // Used once: the same digit again is not the held message again (Ana now has `second` open
  // and nothing else reached her since she wrote in it, so it is a plain text to that texter).
  CHECK(text(server, kAna, pick) == "");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter2), pick) == 1; }));
  CHECK(count(fake.delivered_to(kTexter2), "Hola, ¿en qué le ayudo?") == 1);
}

TEST_CASE("hola or STOP from an advocate's phone takes nothing") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake, kTexter);
  CHECK(text(server, kBen, "hola") == "Not sent: which conversation is it for? 1 = " + code +
                                          " (waiting, takes it). Reply with the number to send it, or start with the code.");
  CHECK(text(server, kBen, "STOP") == "");  // a carrier keyword: Twilio's business, never a texter's
  CHECK(text(server, kAna, "hola") == held(choice_order({}, {code})));
  CHECK(text(server, kAna, "PARAR") == "");
  // The held "hola" was replaced by PARAR, which is never held: "1" now means nothing held.
  CHECK_THAT(text(server, kAna, "1"), Catch::StartsWith("No se envió"));
  drain(server);
  CHECK(fake.delivered_to(kTexter).empty());
  CHECK(state_of(server, code) == "queued:");
  // The conversation is still there for whoever takes it on purpose.
  CHECK_THAT(text(server, kBen, "#take " + code), Catch::StartsWith(code + " is yours."));
}

TEST_CASE("an advocate with one open conversation who answers a new offer is asked, and the open texter gets nothing") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string open = ask_for_person(server, fake, kTexter);
  CHECK_THAT(text(server, kAna, open + " Hola, soy Ana."), Catch::StartsWith(open + " es suya."));
  text(server, kTexter, "Tengo miedo de llamar");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), open + ": Tengo miedo de llamar") == 1; }));
  // Her one conversation, nothing else in between: no code needed.
  CHECK(text(server, kAna, "Estoy aquí con usted.") == "");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "Estoy aquí con usted.") == 1; }));

  // A new texter asks about a fine; the offer reaches Ana and Ben.
  const std::string fresh = ask_for_person(server, fake, kTexter2);
  const std::size_t texter_had = fake.delivered_to(kTexter).size();
  // Ana answers the offer. Before, this went to the texter writing about partner violence.
  const std::string answer = "Sí, puede preguntar por una multa sin miedo.";
  CHECK(text(server, kAna, answer) == held(choice_order({open}, {fresh})));
  drain(server);
  CHECK(fake.delivered_to(kTexter).size() == texter_had);
  CHECK(fake.delivered_to(kTexter2).empty());

  CHECK_THAT(text(server, kAna, "2"), Catch::StartsWith(fresh + " es suya."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter2), answer) == 1; }));
  drain(server);
  CHECK(fake.delivered_to(kTexter).size() == texter_had);

  // With two open, a text without a code is held again; a code sends it.
  CHECK(text(server, kAna, "¿Sigue ahí?") == held(choice_order({open, fresh}, {})));
  CHECK(text(server, kAna, open + " ¿Sigue ahí?") == "");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "¿Sigue ahí?") == 1; }));
  drain(server);
  CHECK(count(fake.delivered_to(kTexter2), "¿Sigue ahí?") == 0);

  // Back to one open conversation, in which she writes; then another offer reaches her. A
  // text without a code waits for her choice again.
  CHECK_THAT(text(server, kAna, "#end " + open), Catch::StartsWith(open + " está cerrada."));
  CHECK(text(server, kAna, fresh + " Un momento, por favor.") == "");
  const std::string third = ask_for_person(server, fake, kTexter3);
  CHECK(text(server, kAna, "Gracias por esperar") == held(choice_order({fresh}, {third})));
  CHECK(text(server, kAna, "1") == "");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter2), "Gracias por esperar") == 1; }));
  CHECK(count(fake.delivered_to(kTexter2), "Un momento, por favor.") == 1);
  drain(server);
  CHECK(fake.delivered_to(kTexter3).empty());
}

TEST_CASE("a closed code is answered closed, and is not given to anyone else for 30 days") {
  TempDir dir;
  FakeTwilio fake;
  std::string closed;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    closed = ask_for_person(server, fake, kTexter);
    CHECK_THAT(text(server, kAna, closed + " Hola"), Catch::StartsWith(closed + " es suya."));
    CHECK_THAT(text(server, kAna, "#end"), Catch::StartsWith(closed + " está cerrada."));
    CHECK(text(server, kAna, closed + " una cosa más") ==
          closed + " está cerrada; no se envió nada. Si la persona vuelve a escribir, llegará como una conversación nueva.");
    CHECK_THAT(text(server, kBen, closed + " hello?"), Catch::StartsWith(closed + " is closed; nothing was sent."));

    // Every other three-character code is taken (closed just now and 35 days from now, as if by
    // other conversations): only the closed one is free of the three-character codes. A new
    // texter still does not get it.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((dir.path() / "hotline.sqlite3").string().c_str(), &db) == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    const std::string letters = "ACDEFGHJKLMNPQRTUVWXY", digits = "34679", tail = letters + digits;
    std::string sql = "BEGIN;";
    for (char a : letters) for (char b : digits) for (char c : tail) {
      const std::string code{a, b, c};
      if (code != closed) sql += "INSERT INTO closed_codes VALUES ('" + code + "', " + std::to_string(kWednesday10am + 35 * 86'400'000LL) + ");";
    }
    sql += "COMMIT;";
    REQUIRE(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);

    text(server, kTexter2, "hola");
    CHECK_THAT(text(server, kTexter2, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
    REQUIRE(eventually([&] { return offered_codes(fake, kAna).size() == 2; }));
    const std::string next = offered_codes(fake, kAna).back();
    CHECK(next != closed);
    CHECK(next.size() == 4);  // the space grew rather than reuse a code an advocate may still answer
    // The late reply to the old code still reaches nobody; the new texter hears nothing of it.
    CHECK_THAT(text(server, kAna, closed + " ¿me oye?"), Catch::StartsWith(closed + " está cerrada;"));
    drain(server);
    CHECK(fake.delivered_to(kTexter2).empty());
  }
  // Five weeks later (a Wednesday again), its 30 days are over: the code may be given again.
  HotlineServer later(relay_config(dir, fake, kWednesday10am + 35 * 86'400'000LL), roster());
  text(later, kTexter3, "hola");
  CHECK_THAT(text(later, kTexter3, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
  REQUIRE(eventually([&] {
    const auto codes = offered_codes(fake, kAna);
    return !codes.empty() && std::count(codes.begin(), codes.end(), closed) == 2;
  }));
}

TEST_CASE("more than 105 texters waiting at once: every one is answered and gets a code of their own") {
  TempDir dir;
  FakeTwilio fake;
  auto c = relay_config(dir, fake, kWednesday10am);
  c.limits_global_per_second = 100000;  // this test is its own flood; the limiter is not under test
  HotlineServer server(c, roster());
  constexpr int kWaiting = 130;  // before, the 106th (or earlier: codes were drawn at random) got an empty reply
  for (int i = 0; i < kWaiting; ++i) {
    const std::string texter = "+1414556" + std::to_string(1000 + i);
    text(server, texter, "hola");
    INFO("texter " << i + 1);
    CHECK_THAT(text(server, texter, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
  }
  const auto relays = server.app().store().relays();
  REQUIRE(relays.size() == kWaiting);
  std::set<std::string> codes;
  for (const auto& r : relays) codes.insert(r.code);
  CHECK(codes.size() == kWaiting);
  REQUIRE(eventually([&] { return offered_codes(fake, kBen).size() == kWaiting; }, std::chrono::seconds(30)));
}

TEST_CASE("a held text is kept only minutes: then it is erased, and a late 1 sends nothing") {
  TempDir dir;
  FakeTwilio fake;
  auto held_rows = [&] {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2((dir.path() / "hotline.sqlite3").string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM advocate_notes WHERE held != ''", -1, &stmt, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
    const int n = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return n;
  };
  std::string code;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    code = ask_for_person(server, fake, kTexter);
    CHECK_THAT(text(server, kAna, "Buenos días, ¿qué necesita?"), Catch::StartsWith("No se envió"));
    CHECK(held_rows() == 1);
  }
  // Eleven minutes later: the housekeeper (it runs at start, then every minute) erases it.
  HotlineServer later(relay_config(dir, fake, kWednesday10am + 11 * 60'000), roster());
  REQUIRE(eventually([&] { return held_rows() == 0; }));
  // "1" is now a text like any other: with no conversation of her own open, it is held itself.
  CHECK(text(later, kAna, "1") == held(choice_order({}, {code})));
  drain(later);
  // The texter got nothing from Ana: only the hotline's notice that the request still waits
  // (it has been offered again: nobody took it in 5 minutes).
  for (const auto& r : fake.delivered_to(kTexter)) CHECK_THAT(r.body, Catch::StartsWith("Su solicitud sigue en espera"));
  CHECK(state_of(later, code) == "queued:");
}

// --- Context in every offer, and no silent failure (#20, points 3 and 4) ----------------------

TEST_CASE("words written while waiting reach only whoever takes that conversation; a release note goes to the next") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string first = ask_for_person(server, fake, kTexter);
  const std::string second = ask_for_person(server, fake, kTexter2);
  // Not understood while waiting: acknowledged, not "no entendí", and kept.
  const std::string ack = text(server, kTexter, "es urgente, ya me escriben?");
  CHECK_THAT(ack, Catch::StartsWith("Su mensaje le llegará a la persona de apoyo que tome su solicitud."));
  CHECK_THAT(ack, Catch::Contains("911") && !Catch::Contains("no entendí"));
  CHECK_THAT(text(server, kTexter2, "sigo esperando, ya me escriben?"), Catch::StartsWith("Su mensaje le llegará"));
  // Kept sealed: not readable in the database's files.
  {
    std::string bytes;
    for (const char* f : {"hotline.sqlite3", "hotline.sqlite3-wal"}) bytes += read_file((dir.path() / f).string());
    REQUIRE(bytes.size() > 0);
    CHECK(bytes.find("es urgente") == std::string::npos);
    CHECK(bytes.find("sigo esperando") == std::string::npos);
  }
  // Ben takes the first: its words reach him right after the take, and nobody else.
  CHECK_THAT(text(server, kBen, "#take " + first), Catch::StartsWith(first + " is yours."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kBen), first + " (while waiting): es urgente, ya me escriben?") == 1; }));
  drain(server);
  for (const auto& r : fake.delivered()) CHECK(r.body.find("sigo esperando") == std::string::npos);
  for (const auto& r : fake.delivered_to(kAna)) CHECK(r.body.find("es urgente") == std::string::npos);

  // He hands it back with a note: Ana's re-offer carries it, and the words are not sent twice.
  CHECK(text(server, kBen, "#release " + first + " needs a referral for a lawyer") == first + " is back in the queue for another advocate.");
  REQUIRE(eventually([&] {
    return count(fake.delivered_to(kAna), "La conversación " + first + " (es) espera a alguien de apoyo. Nota de quien la atendió antes: "
                                          "\"needs a referral for a lawyer\" Envíe #take " + first + " para tomarla.") == 1;
  }));
  // Ana takes the second: only the second texter's words reach her.
  CHECK_THAT(text(server, kAna, second + " Hola"), Catch::StartsWith(second + " es suya."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), second + " (mientras esperaba): sigo esperando, ya me escriben?") == 1; }));
  drain(server);
  for (const auto& r : fake.delivered_to(kAna)) CHECK(r.body.find("es urgente") == std::string::npos);
}

TEST_CASE("STOP before anyone takes it: the offers are withdrawn and the relay ends; others go on") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string leaving = ask_for_person(server, fake, kTexter);
  const std::string staying = ask_for_person(server, fake, kTexter2);
  text(server, kTexter, "STOP");
  REQUIRE(eventually([&] {
    return count(fake.delivered_to(kAna), "Se retiró " + leaving + ": la persona envió STOP antes de que alguien la tomara. No tiene que hacer nada.") == 1 &&
           count(fake.delivered_to(kBen), leaving + " is withdrawn: the person texted STOP before anyone took it. Nothing to do.") == 1;
  }));
  CHECK(state_of(server, leaving) == "closed");
  CHECK(state_of(server, staying) == "queued:");
  CHECK(text(server, kAna, "#take " + leaving) == leaving + " está cerrada; no se envió nada. Si la persona vuelve a escribir, llegará como una conversación nueva.");
  CHECK_THAT(text(server, kAna, "#take " + staying), Catch::StartsWith(staying + " es suya."));
  drain(server);
  CHECK(fake.delivered_to(kTexter).empty());  // the one who left hears nothing more from the relay
}

TEST_CASE("an advocate's message that is not delivered is reported to them with the code") {
  TempDir dir;
  FakeTwilio fake;
  fake.refuse_to = kTexter;  // opted out at the carrier: every send to them is refused with 21610
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string blocked = ask_for_person(server, fake, kTexter);
  const std::string other = ask_for_person(server, fake, kTexter2);
  text(server, kAna, blocked + " Hola, soy Ana");
  REQUIRE(eventually([&] {
    return count(fake.delivered_to(kAna), blocked + ": su mensaje no se pudo entregar (bloqueó los mensajes del número de la línea, "
                                          "error 21610). La persona no lo recibió.") == 1;
  }));
  // A status callback saying a delivered-to-Twilio message failed reaches its writer too.
  text(server, kBen, other + " Hi, this is Ben");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter2), "Hi, this is Ben") == 1; }));
  drain(server);  // the outbox has recorded the SID Twilio gave it: the callback names a message it knows
  std::string sid;
  for (const auto& r : fake.delivered_to(kTexter2)) if (r.body == "Hi, this is Ben") sid = r.sid;
  auto res = server.post_signed("/twilio/status", {{"MessageSid", sid}, {"MessageStatus", "undelivered"},
                                                   {"ErrorCode", "30006"}, {"AccountSid", kAccount}});
  REQUIRE(res);
  CHECK(res->status == 200);
  REQUIRE(eventually([&] {
    return count(fake.delivered_to(kBen), other + ": your message could not be delivered (error 30006). The person did not get it.") == 1;
  }));
  drain(server);
  // Each writer hears only of their own message.
  for (const auto& r : fake.delivered_to(kAna)) CHECK(r.body.find("30006") == std::string::npos);
  for (const auto& r : fake.delivered_to(kBen)) CHECK(r.body.find("21610") == std::string::npos);
  // Delivered messages tell nobody anything.
  const auto ana_before = fake.delivered_to(kAna).size();
  for (const auto& r : fake.delivered_to(kTexter2)) {
    server.post_signed("/twilio/status", {{"MessageSid", r.sid}, {"MessageStatus", "delivered"}, {"AccountSid", kAccount}});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a sweep
  drain(server);
  CHECK(fake.delivered_to(kAna).size() == ana_before);
}

TEST_CASE("a reply still in the outbox when the person says STOP is not sent; its writer is told why") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);
  text(server, kAna, "#take " + code);
  drain(server);
  fake.fail_status = 503;  // Twilio unreachable for a while: Ana's reply waits in the outbox
  text(server, kAna, code + " Hola, soy Ana");
  REQUIRE(eventually([&] { return fake.requests().size() >= 1 && server.app().store().outbox_pending() > 0; }));
  text(server, kTexter, "STOP");
  fake.fail_status = 0;
  REQUIRE(eventually([&] {
    return count(fake.delivered_to(kAna), code + ": su mensaje no se pudo entregar (la persona envió STOP y la línea ya no le "
                                          "envía nada). La persona no lo recibió.") == 1;
  }));
  drain(server);
  for (const auto& r : fake.delivered_to(kTexter)) CHECK(r.body.find("soy Ana") == std::string::npos);
}

TEST_CASE("an offer that reaches no advocate: the texter is told; one that reaches someone is enough") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string lost = ask_for_person(server, fake, kTexter);
  const std::string half = ask_for_person(server, fake, kTexter2);
  auto fail_offer = [&](const std::string& advocate, const std::string& code) {
    for (const auto& r : fake.delivered_to(advocate)) {
      if (r.body.find(code) == std::string::npos) continue;
      auto res = server.post_signed("/twilio/status", {{"MessageSid", r.sid}, {"MessageStatus", "undelivered"},
                                                       {"ErrorCode", "30003"}, {"AccountSid", kAccount}});
      REQUIRE(res);
      CHECK(res->status == 200);
    }
  };
  drain(server);  // the offers' SIDs are recorded: the callbacks name messages the outbox knows
  fail_offer(kAna, lost);
  fail_offer(kBen, lost);
  fail_offer(kBen, half);
  const std::string told =
      "Lo sentimos, en este momento no pudimos comunicarnos con una persona de apoyo. Su solicitud está guardada y "
      "alguien le escribirá aquí. Horario: lun-vie 9:00-17:00. En una emergencia, llame al 911.";
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), told) == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // another sweep: told once
  drain(server);
  CHECK(count(fake.delivered_to(kTexter), told) == 1);
  CHECK(fake.delivered_to(kTexter2).empty());  // Ana has the offer: still waiting, not "unreachable"
  CHECK(state_of(server, lost) == "queued:");  // offered again when someone new comes on shift
}

TEST_CASE("a WhatsApp texter's advocate writes back on WhatsApp, from the hotline's WhatsApp sender") {
  const std::string texter = "whatsapp:+14145551299";
  for (const std::string configured : {"", "whatsapp:+14155238886"}) {
    INFO("TWILIO_WHATSAPP_FROM=" << configured);
    TempDir dir;
    FakeTwilio fake;
    auto config = relay_config(dir, fake, kWednesday10am);
    config.twilio_whatsapp_from = configured;
    HotlineServer server(config, roster());
    const std::string code = ask_for_person(server, fake, texter);
    text(server, kAna, code + " Hola, soy Ana.");
    REQUIRE(eventually([&] { return fake.delivered_to(texter).size() == 2; }));
    const std::string expected_from = configured.empty() ? "whatsapp:" + kFrom : configured;
    for (const auto& r : fake.delivered_to(texter)) CHECK(r.from == expected_from);
    CHECK(fake.delivered_to(texter)[1].body == "Hola, soy Ana.");
    // The texter's answer reaches Ana by SMS, from the SMS number.
    CHECK(text(server, texter, "Gracias") == "");
    REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 2; }));
    CHECK(fake.delivered_to(kAna)[1].from == kFrom);
    for (const auto& r : fake.requests()) CHECK(r.answered == 201);  // nothing refused as mixed channels
  }
}

TEST_CASE("the stand-in refuses a WhatsApp recipient from an SMS number, as Twilio does (21910)") {
  FakeTwilio fake;
  httplib::Client client(fake.base());
  auto res = client.Post("/2010-04-01/Accounts/" + kAccount + "/Messages.json",
                         twilio::encode_form({{"To", "whatsapp:+14145551299"}, {"From", kFrom}, {"Body", "x"}}),
                         "application/x-www-form-urlencoded");
  REQUIRE(res);
  CHECK(res->status == 400);
  CHECK_THAT(res->body, Catch::Contains("21910"));
}

TEST_CASE("one person on two channels: the advocate's words go where the texter last wrote from") {
  const std::string whatsapp = "whatsapp:" + kTexter;
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);  // by SMS
  text(server, kAna, code + " Hola, soy Ana.");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2; }));  // "connected", then Ana's words

  // The same person writes on WhatsApp: it is the same conversation, Ana gets it with the code,
  // and her answer goes to WhatsApp, from the hotline's WhatsApp sender.
  CHECK(text(server, whatsapp, "Le escribo por WhatsApp") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 2; }));
  CHECK(fake.delivered_to(kAna)[1].body == code + ": Le escribo por WhatsApp");
  CHECK(server.app().store().relays().size() == 1);
  CHECK(text(server, kAna, "Recibido.") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(whatsapp).size() == 1; }));
  CHECK(fake.delivered_to(whatsapp)[0].body == "Recibido.");
  CHECK(fake.delivered_to(whatsapp)[0].from == "whatsapp:" + kFrom);
  CHECK(fake.delivered_to(kTexter).size() == 2);  // nothing more by SMS

  // Back to SMS: the next answer follows.
  CHECK(text(server, kTexter, "Ahora por SMS") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 3; }));
  CHECK(text(server, kAna, "Bien.") == "");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 3; }));
  CHECK(fake.delivered_to(kTexter)[2].body == "Bien.");
  CHECK(fake.delivered_to(kTexter)[2].from == kFrom);
  CHECK(fake.delivered_to(whatsapp).size() == 1);
}

TEST_CASE("one person on two channels: a request waiting for an advocate is answered on the channel last used") {
  const std::string whatsapp = "whatsapp:" + kTexter;
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake, whatsapp);
  // While it waits, the person writes a menu number by SMS: no relay change but the channel.
  CHECK_FALSE(text(server, kTexter, "0").empty());
  CHECK(text(server, kAna, code + " Hola.") != "");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2; }));
  CHECK(fake.delivered_to(kTexter)[1].body == "Hola.");
  CHECK(fake.delivered_to(whatsapp).empty());
}

TEST_CASE("a picture or voice note in a conversation with an advocate: the texter is asked to write, the advocate told, nothing passed on") {
  const std::string whatsapp = "whatsapp:" + kTexter;
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake, whatsapp);
  const std::string media_url = "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0";
  auto media = [&](const std::string& type) {
    auto form = sms_form(whatsapp, "", next_sid());
    for (auto& [k, v] : form) if (k == "NumMedia") v = "1";
    form.push_back({"MediaUrl0", media_url});
    form.push_back({"MediaContentType0", type});
    return reply_of(server.post_signed("/twilio/sms", form));
  };
  const std::string asked =
      "Su persona de apoyo solo recibe mensajes de texto, no imágenes, notas de voz ni ubicaciones. Escríbalo con "
      "palabras, por favor. Si está en peligro ahora, llame al 911.";
  // Still waiting for someone to take it: asked to write; nothing is kept for the advocate.
  CHECK(media("audio/ogg") == asked);
  text(server, kAna, code + " Hola, soy Ana.");
  REQUIRE(eventually([&] { return fake.delivered_to(whatsapp).size() == 2; }));
  const std::size_t ana_before = fake.delivered_to(kAna).size();
  // Taken: asked to write, and Ana is told in her language.
  CHECK(media("image/jpeg") == asked);
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == ana_before + 1; }));
  CHECK(fake.delivered_to(kAna).back().body ==
        code + ": la persona envió una imagen, una nota de voz o una ubicación, que la línea no reenvía. Se le pidió "
               "que lo escriba.");
  for (const auto& r : fake.requests()) CHECK(r.body.find(media_url) == std::string::npos);
  CHECK(server.app().store().relays().size() == 1);
}
