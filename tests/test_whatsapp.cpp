// A texter on WhatsApp, end to end through a real server and the local stand-in for Twilio's
// REST API (which refuses mixed-channel From/To with 21910, as Twilio does, and free-form text
// to a recipient a test marks outside WhatsApp's 24-hour window with 63016): the menu, a
// question, the hand-off, an advocate's claim, both directions with the right senders, failed
// deliveries told to the advocate, the 24-hour window, STOP and START confirmed by the hotline,
// and `hotline forget`.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include "fake_twilio.hpp"
#include "hotline/channels/address.hpp"
#include "hotline/config/config.hpp"
#include "hotline/crypto/keys.hpp"
#include "process.hpp"
#include "relay_support.hpp"
#include "hotline_server.hpp"

using namespace hotline;
using namespace test_support;

namespace {

const std::string kTexter = "whatsapp:+14145551377";  // fictional
const std::string kAna = "+15550100001";   // speaks es+en, written to in Spanish
const std::string kBen = "+15550100002";   // speaks es, written to in English
const std::string kFrom = "+15550100000";  // the hotline's number (fictional)
const std::string kWhatsAppFrom = "whatsapp:" + kFrom;
const std::string kTemplate = "HX0123456789abcdef0123456789abcdef";  // a made-up Content SID

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

const std::int64_t kWednesday10am = at("2026-03-11T15:00:00Z");  // 10:00 CDT: both on shift
const std::int64_t kSaturday1pm = at("2026-03-14T18:00:00Z");    // nobody on shift until Monday 9:00

int g_sid = 0;

httplib::Result post(HotlineServer& s, const std::string& from, const std::string& body) {
  return s.post_signed("/twilio/sms", sms_form(from, body, "SMwa" + std::to_string(100000 + ++g_sid)));
}

std::string text(HotlineServer& s, const std::string& from, const std::string& body) {
  return reply_of(post(s, from, body));
}

std::size_t count(const std::vector<FakeRequest>& rs, const std::string& body) {
  return static_cast<std::size_t>(std::count_if(rs.begin(), rs.end(), [&](const auto& r) { return r.body == body; }));
}

std::string code_offered_to(FakeTwilio& fake, const std::string& advocate) {
  static const std::regex offer("^(?:Nueva conversación|New conversation) ([A-Z][0-9][A-Z0-9]{1,4}) ");
  for (const auto& r : fake.delivered_to(advocate)) {
    std::smatch m;
    if (std::regex_search(r.body, m, offer)) return m[1].str();
  }
  return "";
}

void drain(HotlineServer& s) {
  REQUIRE(eventually([&] { return s.app().store().outbox_pending() == 0; }));
}

config::Config whatsapp_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now, const std::string& template_sid = "") {
  auto c = sending_config(dir, fake, now, kFrom);
  c.relay_whatsapp_template_sid = template_sid;
  return c;
}

std::string not_delivered_63016(const std::string& code) {
  return code + ": su mensaje no se pudo entregar (WhatsApp solo entrega hasta 24 horas después del último mensaje "
                "de la persona; podrá escribirle cuando vuelva a escribir, error 63016). La persona no lo recibió.";
}

}  // namespace

TEST_CASE("a WhatsApp texter end to end: menu, question, hand-off, both ways, failures told, the 24-hour window, STOP, START, forget") {
  TempDir dir;
  FakeTwilio fake;
  const auto roster = roster_from(kRosterYaml);
  const std::string key = channels::contact_key_of(kSecret, kTexter);
  std::string code;
  {
    HotlineServer server(whatsapp_config(dir, fake, kWednesday10am), roster);
    // The menu, and an answer to a question, straight from the webhook.
    CHECK_THAT(text(server, kTexter, "hola"), Catch::Contains("0 Hablar con alguien"));
    CHECK_THAT(text(server, kTexter, "¿Si llamo a la policía me preguntan mi estatus migratorio?"),
               Catch::Contains("comandante de turno"));
    // The hand-off: both advocates on shift are offered it by SMS, told how long WhatsApp lets them answer.
    CHECK_THAT(text(server, kTexter, "0"), Catch::Contains("Una persona de apoyo le escribirá"));
    REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
    code = code_offered_to(fake, kAna);
    REQUIRE_FALSE(code.empty());
    CHECK(code_offered_to(fake, kBen) == code);
    CHECK_THAT(fake.delivered_to(kAna)[0].body,
               Catch::Contains("WhatsApp: responda en menos de 24 h; después, solo si la persona vuelve a escribir."));
    CHECK_THAT(fake.delivered_to(kBen)[0].body, Catch::Contains("WhatsApp: reply within 24 h; after that, only once they write again."));

    // Ana claims it with words: the texter gets them on WhatsApp, from the hotline's WhatsApp sender.
    CHECK_THAT(text(server, kAna, code + " Hola, soy Ana."), Catch::StartsWith(code + " es suya."));
    REQUIRE(eventually([&] { return fake.delivered_to(kTexter).size() == 2; }));
    CHECK_THAT(fake.delivered_to(kTexter)[0].body, Catch::StartsWith("Ya está con usted una persona de apoyo."));
    CHECK(fake.delivered_to(kTexter)[1].body == "Hola, soy Ana.");
    // The texter's answer reaches Ana by SMS, from the SMS number.
    CHECK(text(server, kTexter, "Gracias, tengo una pregunta") == "");
    REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), code + ": Gracias, tengo una pregunta") == 1; }));

    // WhatsApp refuses free-form text (its window closed as far as it knows): the API's 63016
    // reaches Ana in words, not as a bare code.
    fake.close_window(kTexter);
    CHECK(text(server, kAna, code + " ¿Sigue ahí?") == "");
    REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), not_delivered_63016(code)) == 1; }));
    // The same error from a status callback (Twilio accepted it, WhatsApp did not deliver it).
    fake.reopen_window(kTexter);
    CHECK(text(server, kAna, code + " Le escribo otra vez.") == "");
    REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "Le escribo otra vez.") == 1; }));
    drain(server);  // the outbox has recorded the SID Twilio gave it: the callback names a message it knows
    std::string sid;
    for (const auto& r : fake.delivered_to(kTexter)) if (r.body == "Le escribo otra vez.") sid = r.sid;
    auto res = server.post_signed("/twilio/status", {{"MessageSid", sid}, {"MessageStatus", "undelivered"},
                                                     {"ErrorCode", "63016"}, {"AccountSid", kTestAccount}});
    REQUIRE(res);
    CHECK(res->status == 200);
    REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), not_delivered_63016(code)) == 2; }));
    drain(server);
  }

  // 25 hours after the texter last wrote (still Ana's shift): WhatsApp would refuse her words,
  // so they are not sent, and she hears why at once.
  {
    HotlineServer server(whatsapp_config(dir, fake, kWednesday10am + 25 * 3'600'000LL), roster);
    const auto to_texter = fake.delivered_to(kTexter).size();
    CHECK(text(server, kAna, code + " ¿Cómo le fue?") ==
          code + ": no se envió. WhatsApp solo entrega hasta 24 horas después del último mensaje de la persona, "
                 "que escribió hace 25 h. Cuando vuelva a escribir, lo recibirá aquí y podrá responderle.");
    CHECK(server.app().store().outbox_pending() == 0);  // nothing was queued to fail later
    // The texter writes: the window opens again, and Ana's answer goes through.
    CHECK(text(server, kTexter, "Perdón, estaba ocupada") == "");
    REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), code + ": Perdón, estaba ocupada") == 1; }));
    CHECK(text(server, kAna, code + " No se preocupe.") == "");
    REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "No se preocupe.") == 1; }));
    CHECK(fake.delivered_to(kTexter).size() == to_texter + 1);

    // Every message to the texter came from the WhatsApp sender, every one to an advocate from
    // the SMS number, and Twilio's stand-in refused none as mixed channels (21910).
    for (const auto& r : fake.delivered_to(kTexter)) CHECK(r.from == kWhatsAppFrom);
    for (const auto& r : fake.delivered_to(kAna)) CHECK(r.from == kFrom);
    for (const auto& r : fake.delivered_to(kBen)) CHECK(r.from == kFrom);
    for (const auto& r : fake.requests()) CHECK((r.answered == 201 || r.to == kTexter));

    // STOP on WhatsApp: Twilio confirms nothing there, so the hotline does, in the texter's
    // language, saying how to come back. The relay ends and Ana is told.
    CHECK(text(server, kTexter, "STOP") == "Ya no recibirá mensajes de esta línea. Si quiere volver, responda ALTA.");
    CHECK(server.app().store().is_opted_out(key));
    CHECK(server.app().store().relays().empty());
    REQUIRE(eventually([&] {
      return count(fake.delivered_to(kAna), code + " terminó: la persona pidió no recibir más mensajes. La línea ya no le escribirá.") == 1;
    }));
    // Nothing more reaches them: the next message is answered with silence.
    CHECK(text(server, kTexter, "hola") == "");
    // START (or ALTA) opts back in, confirmed, with the menu.
    const std::string back = text(server, kTexter, "START");
    CHECK_THAT(back, Catch::StartsWith("¡Qué gusto tenerle de vuelta!"));
    CHECK_THAT(back, Catch::Contains("0 Hablar con alguien"));
    CHECK_FALSE(server.app().store().is_opted_out(key));
    drain(server);
  }

  // `hotline forget` erases what was kept about the WhatsApp texter.
  auto forgot = run({HOTLINE_BINARY, "forget", kTexter, "--root", HOTLINE_SOURCE_DIR}, "",
                    {"HOTLINE_DB=" + (dir.path() / "hotline.sqlite3").string(), "TWILIO_AUTH_TOKEN=",
                     "HOTLINE_SECRET=" + kSecret});
  CHECK(forgot.exit_code == 0);
  CHECK_THAT(forgot.out, Catch::StartsWith("forgotten: " + key + " ("));
  auto store = store::open_sqlite((dir.path() / "hotline.sqlite3").string());
  CHECK_FALSE(store->load(key));
  CHECK_FALSE(store->relay_of(key));
  CHECK_FALSE(store->is_opted_out(key));
  // And the number is nowhere in the database's files, nor any of the texter's words.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(entry.path());
    CHECK(bytes.find("4145551377") == std::string::npos);
    CHECK(bytes.find("estaba ocupada") == std::string::npos);
  }
}

TEST_CASE("STOP on WhatsApp is confirmed in English too, and by every opt-out word; on SMS Twilio still confirms it") {
  TempDir dir;
  FakeTwilio fake;
  HotlineServer server(whatsapp_config(dir, fake, kWednesday10am), roster_from(kRosterYaml));
  int n = 0;
  for (const std::string word : {"STOP", "unsubscribe", "Cancel", "quit"}) {
    INFO(word);
    const std::string texter = "whatsapp:+1414555140" + std::to_string(++n);
    CHECK(text(server, texter, "hello") != "");
    CHECK(text(server, texter, word) == "You will not get more messages from this line. Reply START to come back.");
    CHECK(server.app().store().is_opted_out(channels::contact_key_of(kSecret, texter)));
    CHECK(text(server, texter, "START") != "");
    CHECK_FALSE(server.app().store().is_opted_out(channels::contact_key_of(kSecret, texter)));
  }
  // The same word by SMS: Twilio answers it itself, so the hotline says nothing (as before).
  CHECK(text(server, "+14145551409", "hello") != "");
  CHECK(text(server, "+14145551409", "STOP") == "");
  CHECK(server.app().store().is_opted_out(crypto::contact_key(kSecret, "+14145551409")));
  CHECK(fake.requests().empty());  // confirmations are answers to the webhook, not sends
}

TEST_CASE("asked on WhatsApp after hours: claimed 44 h later, by template when one is configured, else the advocate is told") {
  for (const std::string template_sid : {std::string(), kTemplate}) {
    INFO("relay.whatsapp_template_sid=" << template_sid);
    TempDir dir;
    FakeTwilio fake;
    const auto roster = roster_from(kRosterYaml);
    {
      HotlineServer server(whatsapp_config(dir, fake, kSaturday1pm, template_sid), roster);
      CHECK(text(server, kTexter, "hola") != "");
      auto res = post(server, kTexter, "0");
      REQUIRE(res);
      CHECK_THAT(res->body, Catch::Contains("En este momento no hay personas de apoyo de turno."));
      // Without a template the texter learns, in a message of its own, how to stay reachable.
      const std::string window =
          "<Message>Por WhatsApp solo podemos escribirle hasta 24 horas después de su último mensaje. Si nadie le ha "
          "escrito para entonces, mándenos cualquier mensaje aquí; su solicitud sigue guardada.</Message>";
      CHECK((res->body.find(window) != std::string::npos) == template_sid.empty());
    }
    CHECK(fake.requests().empty());
    // Monday 9:05, 44 hours later: WhatsApp now takes only templates for this texter.
    fake.close_window(kTexter);
    HotlineServer monday(whatsapp_config(dir, fake, at("2026-03-16T14:05:00Z"), template_sid), roster);
    REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
    const std::string code = code_offered_to(fake, kAna);
    REQUIRE_FALSE(code.empty());
    const std::string closed_note = "WhatsApp: la persona escribió hace más de 24 h; no le llegará nada hasta que vuelva a escribir.";
    CHECK((fake.delivered_to(kAna)[0].body.find(closed_note) != std::string::npos) == template_sid.empty());
    const std::string claimed = text(monday, kAna, code + " Hola, soy Ana, ¿en qué le ayudo?");
    drain(monday);
    if (template_sid.empty()) {
      CHECK(claimed == code + " es suya, pero no se envió nada: WhatsApp solo entrega hasta 24 horas después del último "
                              "mensaje de la persona. Cuando vuelva a escribir, lo recibirá aquí. #end para cerrarla.");
      CHECK(fake.requests().size() == 3);  // the two offers and Ben's "taken": nothing to the texter
      CHECK(fake.delivered_to(kTexter).empty());
      // Closing it sends the person no "closed" notice WhatsApp would refuse (63016).
      CHECK(text(monday, kAna, "#end") == code + " está cerrada. ¡Gracias!");
      drain(monday);
      CHECK(fake.requests().size() == 3);
      CHECK(monday.app().store().relays().empty());
    } else {
      CHECK_THAT(claimed, Catch::StartsWith(code + " es suya."));
      // One message: the template, carrying Ana's words, from the WhatsApp sender; accepted.
      REQUIRE(fake.delivered_to(kTexter).size() == 1);
      const auto sent = fake.delivered_to(kTexter)[0];
      CHECK(sent.from == kWhatsAppFrom);
      CHECK(sent.content_sid == kTemplate);
      CHECK(nlohmann::json::parse(sent.content_variables) == nlohmann::json{{"1", "Hola, soy Ana, ¿en qué le ayudo?"}});
      CHECK(sent.body.empty());
      for (const auto& r : fake.requests()) CHECK(r.answered == 201);
      // The texter answers: free-form text flows again, both ways.
      fake.reopen_window(kTexter);
      CHECK(text(monday, kTexter, "Gracias") == "");
      REQUIRE(eventually([&] { return count(fake.delivered_to(kAna), code + ": Gracias") == 1; }));
      CHECK(text(monday, kAna, code + " Con gusto.") == "");
      REQUIRE(eventually([&] { return count(fake.delivered_to(kTexter), "Con gusto.") == 1; }));
      CHECK(fake.delivered_to(kTexter).back().content_sid.empty());
    }
  }
}

TEST_CASE("the hotline's own notices to a WhatsApp texter keep to the 24 hours too: none goes out that WhatsApp would refuse") {
  TempDir dir;
  FakeTwilio fake;
  const auto roster = roster_from(kRosterYaml);
  {
    HotlineServer wednesday(whatsapp_config(dir, fake, kWednesday10am), roster);
    CHECK(text(wednesday, kTexter, "hola") != "");
    CHECK(text(wednesday, kTexter, "0") != "");
    REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 1 && fake.delivered_to(kBen).size() == 1; }));
    drain(wednesday);
  }
  // The server was down until Thursday 11:00, 25 hours on, and nobody had taken it: it is
  // offered again, and the texter would be told they are still waiting and that nobody
  // answered, but their 24 hours ended at 10:00.
  fake.close_window(kTexter);
  auto tried_texter = [&] {
    const auto all = fake.requests();
    return std::count_if(all.begin(), all.end(), [](const FakeRequest& r) { return r.to == kTexter; });
  };
  const auto before = tried_texter();
  HotlineServer thursday(whatsapp_config(dir, fake, at("2026-03-12T16:00:00Z")), roster);
  REQUIRE(eventually([&] { return fake.delivered_to(kAna).size() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a sweep or two more
  drain(thursday);
  CHECK(tried_texter() == before);  // not even tried: WhatsApp would refuse it (63016)
  CHECK(thursday.app().store().relays().size() == 1);  // still waiting for whoever writes first
}

TEST_CASE("relay.whatsapp_template_sid must be a Content SID, said at its line") {
  TempDir dir;
  auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  Diagnostics good;
  auto c = config::load_config(dir.write("good.yaml", "relay:\n  whatsapp_template_sid: " + kTemplate + "\n"), false, none, good);
  CHECK_FALSE(good.has_errors());
  CHECK(c.relay_whatsapp_template_sid == kTemplate);

  Diagnostics bad;
  const std::string file = dir.write("bad.yaml", "relay:\n  whatsapp_template_sid: MG123\n");
  auto d = config::load_config(file, false, none, bad);
  CHECK(d.relay_whatsapp_template_sid.empty());
  CHECK(bad.error_count() == 1);
  CHECK_THAT(bad.to_string(), Catch::Contains(file + ":2:26: error[bad-content-sid]: `whatsapp_template_sid` must be "
                                              "the Content SID of an approved WhatsApp template"));
}
