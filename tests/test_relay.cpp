// Whole advocate relays through a real server, with a local fake of Twilio's REST API that
// records what it is sent and fails on demand.
#include <catch2/catch.hpp>

#include <regex>

#include "fake_twilio.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline_server.hpp"

using namespace hotline;
using namespace test_support;

namespace {

const std::string kTexter = "+14145551234";
const std::string kAna = "+15550100001";  // speaks es+en, written to in Spanish
const std::string kBen = "+15550100002";  // speaks es, written to in English
const std::string kFrom = "+15550100000"; // the hotline's number (fictional)
const std::string kAccount = "AC00000000000000000000000000000000";

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

std::int64_t at(const char* iso) { return *parse_iso8601_ms(iso); }
const std::int64_t kWednesday10am = at("2026-03-11T15:00:00Z");  // 10:00 CDT
const std::int64_t kSunday = at("2026-03-15T18:00:00Z");         // 13:00 CDT, nobody on shift

std::shared_ptr<const routing::Roster> roster() {
  Diagnostics diags;
  auto r = routing::parse_roster(kRosterYaml, "advocates.yaml", diags);
  if (!r) throw std::runtime_error(diags.to_string());
  return r;
}

config::Config relay_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now) {
  auto c = test_config(dir);
  c.pinned_now_ms = now;
  c.twilio_account_sid = kAccount;
  c.twilio_from = kFrom;
  c.twilio_api_base = fake.base();
  c.twilio_timeout_ms = 1000;
  c.outbox_retry_base_ms = 20;
  c.outbox_messages_per_second = 100;
  c.outbox_max_attempts = 1000;
  return c;
}

int g_sid = 0;
std::string next_sid() { return "SMrelay" + std::to_string(100000 + ++g_sid); }


std::string text(HotlineServer& s, const std::string& from, const std::string& body) {
  return reply_of(s.post_signed("/twilio/sms", sms_form(from, body, next_sid())));
}

/// The texter asks for a person; returns the conversation code from the offer Ana got.
std::string ask_for_person(HotlineServer& s, FakeTwilio& fake) {
  text(s, kTexter, "hola");
  CHECK_THAT(text(s, kTexter, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
  const std::string offer = fake.delivered_to(kAna)[0].body;
  std::smatch m;
  REQUIRE(std::regex_search(offer, m, std::regex("Nueva conversación ([A-Z][0-9]) \\(es\\): 0\\. Responda para tomarla\\.")));
  CHECK(fake.delivered_to(kBen)[0].body == "New conversation " + m[1].str() + " (es): 0. Reply to take it.");
  return m[1].str();
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

  // Ana takes it with a real first line: it reaches the texter too, from the hotline number.
  CHECK(text(server, kAna, "Hola, soy Ana. ¿En qué le ayudo?") ==
        code + " es suya. Sus respuestas le llegan desde el número de la línea. #end para cerrarla, #release para devolverla.");
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
  CHECK_THAT(text(server, kAna, "hola?"), Catch::StartsWith("No tiene ninguna conversación abierta."));
}

TEST_CASE("emergencies first, even while waiting for an advocate and inside an open relay") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);

  // Waiting: asking again is told the request is waiting, with the 911 line, not "no entendí".
  const std::string waiting = text(server, kTexter, "es urgente, ya me escriben?");
  CHECK_THAT(waiting, Catch::Contains("en espera") && Catch::Contains("911"));
  CHECK_THAT(waiting, !Catch::Contains("no entendí"));
  // Waiting, an emergency gets the emergency answer at once.
  CHECK_THAT(text(server, kTexter, "alguien esta forzando la puerta"), Catch::Contains("llame al 911 de inmediato"));

  // In the open relay: the texter gets the 911 text from the hotline, and Ana is told.
  text(server, kAna, code + " Hola, soy Ana.");
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2; }));
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
    auto form = sms_form(kAna, "yo la tomo", next_sid());
    auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
    auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, twilio::encode_form(form), "application/x-www-form-urlencoded");
    if (res) ana_reply = res->body;
  });
  std::thread b([&] {
    httplib::Client client("127.0.0.1", server.port());
    auto form = sms_form(kBen, "I'll take it", next_sid() + "b");
    auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
    auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, twilio::encode_form(form), "application/x-www-form-urlencoded");
    if (res) ben_reply = res->body;
  });
  a.join();
  b.join();
  const bool ana_won = ana_reply.find("es suya") != std::string::npos;
  const bool ben_won = ben_reply.find("is yours") != std::string::npos;
  CHECK(ana_won != ben_won);
  if (ana_won) CHECK_THAT(ben_reply, Catch::Contains(code + " was taken by another advocate"));
  if (ben_won) CHECK_THAT(ana_reply, Catch::Contains("Otra persona de apoyo ya tomó " + code));
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
  CHECK_THAT(text(server, kAna, "ok"), Catch::StartsWith(code + " es suya"));
  CHECK(fake.delivered_to(kTexter).size() <= 1);  // "ok" alone is not passed on

  CHECK(text(server, kAna, "#release") == code + " volvió a la fila para otra persona de apoyo.");
  REQUIRE(eventually([&] { return count(fake.delivered_to(kBen), "Conversation " + code + " (es) is waiting for an advocate. Reply " + code + " to take it.") == 1; }));
  CHECK(server.app().store().relays()[0].state == "queued");
  CHECK_THAT(text(server, kBen, code + " Hi, I can help"), Catch::StartsWith(code + " is yours."));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "Hi, I can help") == 1; }));
  // Ana lets go for good: her texts now reach nobody, and she is told so.
  CHECK_THAT(text(server, kAna, code + " sigo aquí"), Catch::Contains("Otra persona de apoyo ya tomó " + code));
  CHECK(text(server, kBen, "#end " + code) == code + " is closed. Thank you.");
}

TEST_CASE("bad input from advocates and strangers gets a clear reply") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  CHECK_THAT(text(server, kAna, "hola"), Catch::StartsWith("No tiene ninguna conversación abierta."));
  CHECK_THAT(text(server, kBen, "#end"), Catch::StartsWith("You have no open conversation."));
  CHECK_THAT(text(server, kBen, "#frobnicate"), Catch::StartsWith("Write to your conversation as usual."));
  CHECK_THAT(text(server, kBen, "Q9 hello"), Catch::StartsWith("You have no open conversation."));
  // A stranger (not an advocate, no relay) trying a command.
  auto stranger = text(server, "+14145559876", "#end");
  CHECK_THAT(stranger, Catch::Contains("son para el personal de apoyo") && Catch::Contains("are for advocates"));

  const std::string code = ask_for_person(server, fake);
  text(server, kBen, "taking it");
  // A code that is not Ben's: codes are random, and "Q9" is one of the 105 they can be.
  const std::string other = code == "Q9" ? "Q7" : "Q9";
  CHECK_THAT(text(server, kBen, other + " hello"),
             Catch::StartsWith("You have no open conversation " + other + ". Yours: " + code + "."));
  CHECK(server.app().store().relays().size() == 1);
}

TEST_CASE("STOP mid-relay ends it and tells the advocate") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
  const std::string code = ask_for_person(server, fake);
  text(server, kAna, "ok");
  text(server, kTexter, "STOP");  // Twilio answers STOP itself; the hotline records it
  CHECK(server.app().store().is_opted_out(crypto::contact_key(kSecret, kTexter)));
  REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), code + " terminó: la persona envió STOP. La línea ya no le enviará mensajes.") == 1; }));
  CHECK(server.app().store().relays().empty());
  CHECK_THAT(text(server, kAna, "¿sigue ahí?"), Catch::StartsWith("No tiene ninguna conversación abierta."));
}

TEST_CASE("after hours: the texter hears the hours; advocates hear of it when their shift starts") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kSunday), roster());
    text(server, kTexter, "hola");
    CHECK(text(server, kTexter, "0") ==
          "Ahora no hay nadie de apoyo en turno. Horario: lun-vie 9:00-17:00. Su solicitud está guardada y "
          "alguien le escribirá aquí. Si está en peligro, llame al 911.");
    REQUIRE(server.app().store().relays().size() == 1);
    CHECK(server.app().store().relays()[0].state == "queued");
  }
  CHECK(fake.requests().empty());
  // Monday 9:05: the worker's sweep offers it to both.
  HotlineServer monday(relay_config(dir, fake, at("2026-03-16T14:05:00Z")), roster());
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
  CHECK_THAT(fake.delivered_to(kAna)[0].body, Catch::StartsWith("Nueva conversación"));
  CHECK(fake.delivered_to(kTexter).empty());  // already told when to expect an answer
}

TEST_CASE("nobody takes it in time: the texter is told, and it stays queued") {
  TempDir dir;
  FakeTwilio fake;
  {
    HotlineServer server(relay_config(dir, fake, kWednesday10am), roster());
    ask_for_person(server, fake);
  }
  auto c = relay_config(dir, fake, kWednesday10am + 16 * 60'000);  // the default timeout is 15 min
  HotlineServer later(c, roster());
  REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 1; }));
  CHECK(fake.delivered_to(kTexter)[0].body ==
        "Lo sentimos, aún no hay nadie libre. Su solicitud está guardada y alguien le escribirá aquí. "
        "Horario: lun-vie 9:00-17:00. En una emergencia, llame al 911.");
  CHECK(later.app().store().relays()[0].state == "queued");
  // Told once only, and the advocates are not offered it twice.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // one more sweep (1 s poll)
  CHECK(fake.delivered_to(kTexter).size() == 1);
  CHECK(fake.delivered_to(kAna).size() == 1);
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
  CHECK(server.app().store().outbound_status(sid, "sent", 1));  // still known
  res = server.post_signed("/twilio/status", status);
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK_FALSE(server.app().store().outbound_status(sid, "sent", 1));  // gone
  res = server.post_signed("/twilio/status", {{"MessageStatus", "delivered"}});
  CHECK(res->status == 400);
}
