// POST /twilio/sms against a real server on an ephemeral port with a real SQLite file.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <tuple>

#include "failing_store.hpp"
#include "hotline/common/utf8.hpp"
#include "hotline/engine/session.hpp"
#include "hotline/prompts/segments.hpp"
#include "hotline_server.hpp"
#include "relay_support.hpp"
#include "stderr_capture.hpp"

using namespace hotline;
using namespace test_support;

namespace {

int g_sid = 0;
std::string next_sid() { return "SM" + std::to_string(100000 + ++g_sid) + "0000000000000000000000000"; }


bool is_twiml(const std::string& body) {
  const std::string head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
  return body.rfind(head, 0) == 0 &&
         (body == head + "<Response/>" ||
          (body.find("<Response>", head.size()) == head.size() &&
           body.size() >= 11 && body.compare(body.size() - 11, 11, "</Response>") == 0));
}

}  // namespace

TEST_CASE("a signed SMS gets a TwiML answer in the texter's language") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  auto res = server.post_signed("/twilio/sms", sms_form("+14145551234", "Can I call the police without papers?", next_sid()));
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").rfind("text/xml", 0) == 0);
  CHECK(is_twiml(res->body));
  CHECK_THAT(reply_of(res), Catch::Contains("victim or") && Catch::Contains("witness"));

  res = server.post_signed("/twilio/sms", sms_form("+14145559876", "¿Me van a reportar a la migra si llamo?", next_sid()));
  CHECK_THAT(reply_of(res), Catch::Contains("comandante de turno"));
}

TEST_CASE("a missing or wrong signature gets 403 and changes nothing") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  auto form = sms_form("+14145551234", "hola", next_sid());

  auto res = server.post("/twilio/sms", twilio::encode_form(form));
  REQUIRE(res);
  CHECK(res->status == 403);
  res = server.post("/twilio/sms", twilio::encode_form(form), {{"X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl"}});
  CHECK(res->status == 403);
  // Signed for different content: the body was tampered with on the way.
  auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
  auto tampered = form;
  tampered[5].second = "STOP";
  res = server.post("/twilio/sms", twilio::encode_form(tampered), {{"X-Twilio-Signature", sig}});
  CHECK(res->status == 403);
  // Signed for another URL.
  auto other = twilio::compute_signature(kAuthToken, kPublicUrl + "/other", form);
  res = server.post("/twilio/sms", twilio::encode_form(form), {{"X-Twilio-Signature", other}});
  CHECK(res->status == 403);

  CHECK_FALSE(server.stored_session("+14145551234"));
  CHECK_FALSE(server.stored_response("+14145551234", twilio::field(form, "MessageSid").value()));
}

TEST_CASE("a body signed by its hash (bodySHA256) is checked before it is read as a form") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  auto sha256_hex = [](const std::string& body) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    REQUIRE(EVP_Digest(body.data(), body.size(), digest, &size, EVP_sha256(), nullptr) == 1);
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
      char byte[3];
      std::snprintf(byte, sizeof byte, "%02x", digest[i]);
      hex += byte;
    }
    return hex;
  };
  // As the libraries sign it: the URL alone (it pins the body by its hash), no fields.
  auto post_hashed = [&](const std::string& body, const std::string& hash) {
    const std::string target = "/twilio/sms?bodySHA256=" + hash;
    const auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + target, {});
    return server.post(target, body, {{"X-Twilio-Signature", sig}});
  };

  const std::string form = twilio::encode_form(sms_form("+14145551234", "hola", next_sid()));
  auto res = post_hashed(form, sha256_hex(form));
  REQUIRE(res);
  CHECK(res->status == 200);  // covered by the hash: read and answered
  CHECK(is_twiml(res->body));
  res = post_hashed(form + "x", sha256_hex(form));  // changed on the way
  CHECK(res->status == 403);
  // A JSON body: refused as unsigned when it is, and as not a form only once it is signed.
  const std::string json_body = R"({"From":"+14145551234","Body":"hola"})";
  res = server.post("/twilio/sms?bodySHA256=" + sha256_hex(json_body), json_body, {{"X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJl"}});
  CHECK(res->status == 403);
  res = post_hashed(json_body, sha256_hex(json_body));
  CHECK(res->status == 400);
}

TEST_CASE("in local mode (no auth token) signatures are not required") {
  TempDir dir;
  auto c = test_config(dir);
  c.twilio_auth_token.clear();
  HotlineServer server(c);
  auto res = server.post("/twilio/sms", twilio::encode_form(sms_form("+14145551234", "hello", next_sid())));
  CHECK_THAT(reply_of(res), Catch::Contains("Reply with a number"));
}

TEST_CASE("bad input gets a clear 4xx or a polite reply, never a crash") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string from = "+14145551234";

  SECTION("a body that is not a form") {
    auto res = server.post("/twilio/sms", "%zz=%", {{"X-Twilio-Signature", "x"}});
    REQUIRE(res);
    CHECK(res->status == 400);
  }
  SECTION("no From, or no MessageSid") {
    twilio::FormFields form = {{"Body", "hola"}, {"MessageSid", next_sid()}};
    auto res = server.post_signed("/twilio/sms", form);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_THAT(res->body, Catch::Contains("From"));
    res = server.post_signed("/twilio/sms", {{"Body", "hola"}, {"From", from}});
    CHECK(res->status == 400);
  }
  SECTION("an empty message, a 10 kB message, invalid UTF-8, emoji") {
    for (const std::string& body : {std::string(""), std::string(10 * 1024, 'x'),
                                    std::string("hola \xff\xfe policia"), std::string("\xF0\x9F\x98\xA2\xF0\x9F\x99\x8F")}) {
      auto res = server.post_signed("/twilio/sms", sms_form(from, body, next_sid()));
      REQUIRE(res);
      CHECK(res->status == 200);
      CHECK(is_twiml(res->body));
      CHECK(is_valid_utf8(res->body));
      CHECK_FALSE(reply_of(res).empty());
    }
  }
  SECTION("an MMS with no text") {
    server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));
    auto form = sms_form(from, "", next_sid());
    form.push_back({"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0"});
    form.push_back({"MediaContentType0", "image/jpeg"});
    for (auto& [k, v] : form) if (k == "NumMedia") v = "1";
    CHECK_THAT(reply_of(server.post_signed("/twilio/sms", form)), Catch::Contains("No puedo ver imágenes"));
  }
  SECTION("a body over the size limit") {
    auto res = server.post("/twilio/sms", "Body=" + std::string(70 * 1024, 'a'));
    REQUIRE(res);
    CHECK(res->status == 413);
  }
  SECTION("a GET, or an unknown route") {
    CHECK(server.client().Get("/twilio/sms")->status == 404);
    CHECK(server.client().Get("/nope")->status == 404);
  }
}

TEST_CASE("the same MessageSid delivered twice is answered the same and counted once") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string from = "+14145551234";
  server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));
  auto sid = next_sid();
  auto first = server.post_signed("/twilio/sms", sms_form(from, "2", sid));
  auto turns_after_first = server.stored_session(from)->data;
  auto again = server.post_signed("/twilio/sms", sms_form(from, "2", sid));
  REQUIRE(first);
  REQUIRE(again);
  CHECK(first->body == again->body);
  CHECK(server.stored_session(from)->data == turns_after_first);
}

TEST_CASE("an opted-out number gets no reply until it opts back in") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string from = "+14145551234";
  auto res = server.post_signed("/twilio/sms", sms_form(from, "PARAR", next_sid()));
  CHECK_THAT(reply_of(res), Catch::Contains("ALTA"));
  res = server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));
  REQUIRE(res);
  CHECK(res->body == "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
  res = server.post_signed("/twilio/sms", sms_form(from, "policia", next_sid()));
  CHECK(res->body == "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>");
  res = server.post_signed("/twilio/sms", sms_form(from, "ALTA", next_sid()));
  CHECK_THAT(reply_of(res), Catch::Contains("tenerle de vuelta"));
  res = server.post_signed("/twilio/sms", sms_form(from, "1", next_sid()));
  CHECK_THAT(reply_of(res), Catch::Contains("testigo"));
}

TEST_CASE("a restart loses no conversation") {
  TempDir dir;
  const std::string from = "+14145551234";
  {
    HotlineServer server(test_config(dir));
    server.post_signed("/twilio/sms", sms_form(from, "english", next_sid()));
  }
  HotlineServer restarted(test_config(dir));
  // "1" alone tells no language; the remembered choice (English) must survive the restart.
  auto res = restarted.post_signed("/twilio/sms", sms_form(from, "1", next_sid()));
  CHECK_THAT(reply_of(res), Catch::Contains("victim or"));
}

TEST_CASE("an idle conversation expires and starts fresh") {
  TempDir dir;
  const std::string from = "+14145551234";
  auto c = test_config(dir);
  c.session_idle_minutes = 60;
  {
    HotlineServer server(c);
    server.post_signed("/twilio/sms", sms_form(from, "english", next_sid()));
  }
  SECTION("within the idle time it continues") {
    c.pinned_now_ms = *c.pinned_now_ms + 59 * 60'000;
    HotlineServer later(c);
    CHECK_THAT(reply_of(later.post_signed("/twilio/sms", sms_form(from, "1", next_sid()))), Catch::Contains("victim or"));
  }
  SECTION("after it, the language is guessed again (default Spanish for a bare number)") {
    c.pinned_now_ms = *c.pinned_now_ms + 61 * 60'000;
    HotlineServer later(c);
    CHECK_THAT(reply_of(later.post_signed("/twilio/sms", sms_form(from, "1", next_sid()))), Catch::Contains("testigo"));
  }
}

TEST_CASE("many texters at once are all answered") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client client("127.0.0.1", server.port());
      for (int i = 0; i < 20; ++i) {
        auto form = sms_form("+1414555" + std::to_string(1000 + t), i % 2 ? "1" : "hola",
                             "SMconcurrent" + std::to_string(t) + "_" + std::to_string(i));
        auto sig = twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", form);
        auto res = client.Post("/twilio/sms", {{"X-Twilio-Signature", sig}}, twilio::encode_form(form),
                               "application/x-www-form-urlencoded");
        if (res && res->status == 200 && is_twiml(res->body)) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok == 160);
}

TEST_CASE("health and readiness endpoints answer") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  CHECK(server.client().Get("/healthz")->status == 200);
  auto ready = server.client().Get("/readyz");
  CHECK(ready->status == 200);
  CHECK(ready->body == "ready\n");
}

TEST_CASE("a turn the store cannot keep is answered 503, so Twilio uses the Fallback URL; counted and logged") {
  TempDir dir;
  auto control = std::make_shared<FailingStore::Switch>();
  const auto config = test_config(dir);
  HotlineServer server(config, std::make_unique<FailingStore>(store::open_sqlite(config.database), control));
  const std::string from = "+14145550177";
  const std::string text = "¿Puedo llamar a la policía sin papeles?";
  REQUIRE(reply_of(server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()))) != "");
  CHECK(store_failures(server, "/twilio/sms") == "0");  // there from the start, for rate()

  control->failing = true;  // e.g. the turn log past 100,000 unapplied turns, or a full disk
  StderrCapture capture;
  const std::string sid = next_sid();
  auto res = server.post_signed("/twilio/sms", sms_form(from, text, sid));
  REQUIRE(res);
  // Not 200 with an empty <Response/>, which Twilio takes as "say nothing": the text would be
  // lost without a trace. A 503 makes Twilio fetch the number's Fallback URL instead.
  CHECK(res->status == 503);
  CHECK(res->body.find("<Response") == std::string::npos);
  CHECK(control->refused == 1);
  CHECK(store_failures(server, "/twilio/sms") == "1");
  const auto failed = capture.wait_for("store_failed", 1);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].value("level", "") == "error");
  CHECK(failed[0].value("route", "") == "/twilio/sms");
  CHECK_THAT(failed[0].value("error", ""), Catch::Contains("waiting to be written"));
  const auto access = capture.wait_for("http_request", 1);
  REQUIRE(access.size() == 1);
  CHECK(access[0].value("status", 0) == 503);
  // The alert carries neither the number nor the words.
  CHECK(capture.text().find("4145550177") == std::string::npos);
  CHECK(capture.text().find("polic") == std::string::npos);
  CHECK(capture.text().find("papeles") == std::string::npos);

  // Nothing of the turn was kept: once the store works again, the same MessageSid (a
  // redelivery, or a proxy trying another replica) is handled as new and answered.
  CHECK_FALSE(server.stored_response(from, sid));
  control->failing = false;
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(from, text, sid))), Catch::Contains("911"));
  CHECK(store_failures(server, "/twilio/sms") == "1");
}

TEST_CASE("a database another process holds locked gets 503 too, not an empty answer") {
  TempDir dir;
  const auto config = test_config(dir);
  HotlineServer server(config);
  const std::string from = "+14145550178";
  REQUIRE(reply_of(server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()))) != "");

  // A real SQLite failure: another connection holds the write lock past the store's 5 s busy
  // timeout, so the opt-out (a transaction of its own) cannot be written.
  sqlite3* blocker = nullptr;
  REQUIRE(sqlite3_open(config.database.c_str(), &blocker) == SQLITE_OK);
  // The server's applier may be writing the first turn right now: wait for it, then hold the lock.
  sqlite3_busy_timeout(blocker, 5000);
  REQUIRE(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  const std::string sid = next_sid();
  auto res = server.post_signed("/twilio/sms", sms_form(from, "PARAR", sid));
  sqlite3_exec(blocker, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(blocker);
  REQUIRE(res);
  CHECK(res->status == 503);
  CHECK(store_failures(server, "/twilio/sms") == "1");
  CHECK_FALSE(server.app().store().is_opted_out(crypto::contact_key(kSecret, from)));

  // The lock gone, the same message is handled: the opt-out is kept and confirmed.
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(from, "PARAR", sid))), Catch::Contains("ALTA"));
  CHECK(server.app().store().is_opted_out(crypto::contact_key(kSecret, from)));
}

TEST_CASE("the Fallback URL's answer shipped in deploy/fallback/sms.xml: 911 and 'write again', in Spanish and English") {
  const std::string xml = read_file(std::string(HOTLINE_SOURCE_DIR) + "/deploy/fallback/sms.xml");
  // Plain TwiML, nothing but <Response> and its <Message>s: a TwiML Bin or a static file.
  CHECK(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>\n", 0) == 0);
  CHECK_THAT(xml, Catch::EndsWith("\n</Response>\n"));
  const std::regex message(R"(<Message>([^<>&]*)</Message>)");
  std::vector<std::string> texts;
  for (auto it = std::sregex_iterator(xml.begin(), xml.end(), message); it != std::sregex_iterator(); ++it) {
    texts.push_back((*it)[1]);
  }
  REQUIRE(texts.size() == 2);
  CHECK(std::regex_replace(xml, std::regex(R"(<Message>[^<>&]*</Message>|\s)"), "") ==
        "<?xmlversion=\"1.0\"encoding=\"UTF-8\"?><Response></Response>");
  CHECK_THAT(texts[0], Catch::Contains("llame al 911") && Catch::Contains("otra vez"));
  CHECK_THAT(texts[1], Catch::Contains("call 911") && Catch::Contains("again later"));
  for (const auto& text : texts) {
    INFO(text);
    CHECK(prompts::count_segments(text).segments <= 2);  // each its own SMS, short
  }
}

TEST_CASE("a From whose + came unencoded is the same texter; a From that is no address gets 400") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  REQUIRE_THAT(reply_of(server.post_signed("/twilio/sms", sms_form("+14145550123", "english", next_sid()))),
               Catch::Contains("Reply with a number"));
  // `curl -d From=+14145550123` sends the + raw, and form decoding makes it a space: it is
  // still the texter who chose English, and the conversation is kept under the + number.
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(" 14145550123", "1", next_sid()))),
             Catch::Contains("victim or"));
  CHECK_FALSE(server.stored_session(" 14145550123"));
  CHECK(server.stored_session("+14145550123"));

  for (const char* from : {"hello", "4145550123", "+1 414 555 0123", "sip:someone@example.org"}) {
    INFO(from);
    auto res = server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK_THAT(res->body, Catch::Contains("From"));
    CHECK_FALSE(server.stored_session(from));
  }
}

// --- What else WhatsApp and MMS bring: voice notes, pictures, location pins, buttons (#17.5) ---

namespace {

/// A message with media and no text, as Twilio posts it.
twilio::FormFields media_form(const std::string& from, const std::string& content_type, const std::string& to = "+14145550100") {
  auto form = sms_form(from, "", next_sid());
  for (auto& [k, v] : form) {
    if (k == "NumMedia") v = "1";
    if (k == "To") v = to;
  }
  form.push_back({"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0"});
  form.push_back({"MediaContentType0", content_type});
  return form;
}

/// Each <Message> of a TwiML answer.
std::vector<std::string> messages_of(const httplib::Result& res) {
  REQUIRE(res);
  REQUIRE(res->status == 200);
  std::vector<std::string> out;
  static const std::regex message("<Message>([^<]*)</Message>");
  for (std::sregex_iterator it(res->body.begin(), res->body.end(), message), end; it != end; ++it) {
    out.push_back((*it)[1].str());
  }
  return out;
}

/// Every byte under `dir` (the database, its WAL and turn log), to search for what must not be kept.
std::string files_under(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) all += read_file(entry.path());
  }
  return all;
}

const char* kRosterTakingCalls = R"(
advocates:
  - id: ana
    phone: "+15550100001"
    languages: [es, en]
    shifts: [{days: mon-sun, hours: "00:00-23:59"}]
)";

}  // namespace

TEST_CASE("a voice note, a picture, a location pin or another file each get their own answer, with 911") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string from = "whatsapp:+14145551301";
  server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));  // Spanish from here on

  const std::string voice_note = reply_of(server.post_signed("/twilio/sms", media_form(from, "audio/ogg")));
  CHECK_THAT(voice_note, Catch::Contains("no notas de voz") && Catch::Contains("911"));
  CHECK_THAT(voice_note, !Catch::Contains("llame a este número"));  // nobody takes calls here
  const std::string picture = reply_of(server.post_signed("/twilio/sms", media_form(from, "image/jpeg")));
  CHECK_THAT(picture, Catch::Contains("No puedo ver imágenes") && Catch::Contains("911"));
  const std::string video = reply_of(server.post_signed("/twilio/sms", media_form(from, "video/mp4")));
  CHECK_THAT(video, Catch::Contains("Solo puedo leer mensajes de texto.") && Catch::Contains("911"));

  auto pin = sms_form(from, "", next_sid());
  pin.push_back({"Latitude", "43.0389025"});
  pin.push_back({"Longitude", "-87.9064736"});
  pin.push_back({"Address", "749 W State St, Milwaukee"});
  pin.push_back({"Label", "Casa de Maria"});
  pin.push_back({"ProfileName", "Maria Lopez"});
  pin.push_back({"WaId", "14145551301"});
  StderrCapture capture;
  const std::string location = reply_of(server.post_signed("/twilio/sms", pin));
  CHECK_THAT(location, Catch::Contains("no necesita su ubicación") && Catch::Contains("911"));
  capture.wait_for("http_request", 1);
  // Neither the coordinates, the place, nor who sent it are logged or kept.
  const std::string kept = capture.text() + files_under(dir.path());
  for (const std::string secret : {"43.0389", "87.9064", "State St", "Casa de Maria", "Maria Lopez", "4145551301"}) {
    INFO(secret);
    CHECK(kept.find(secret) == std::string::npos);
  }
  // Still waiting at the menu: the next message is answered as ever.
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(from, "2", next_sid()))),
             Catch::Contains("comandante de turno"));
}

TEST_CASE("a voice note is told to call only when the number it went to takes calls and advocates take calls") {
  TempDir dir;
  auto config = test_config(dir);
  config.twilio_from = "+14145550100";  // the number sms_form writes to
  HotlineServer server(config, test_support::roster_from(kRosterTakingCalls));
  const std::string from = "whatsapp:+14145551302";
  server.post_signed("/twilio/sms", sms_form(from, "Can I call the police?", next_sid()));
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", media_form(from, "audio/ogg"))),
             Catch::Contains("not voice notes") && Catch::Contains("call this number to talk") && Catch::Contains("911"));
  // Written to another number (a WhatsApp sender that is not the calling number): no call offered.
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", media_form(from, "audio/ogg", "whatsapp:+14155238886"))),
             Catch::Contains("not voice notes") && !Catch::Contains("call this number"));
}

TEST_CASE("a tapped button reads as its text typed; its payload when it has no text") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string from = "whatsapp:+14145551303";
  server.post_signed("/twilio/sms", sms_form(from, "hola", next_sid()));
  auto button = sms_form(from, "", next_sid());
  button.push_back({"ButtonText", "¿Me reportarán a inmigración?"});
  button.push_back({"ButtonPayload", "status"});
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", button)), Catch::Contains("comandante de turno"));
  auto payload_only = sms_form(from, "", next_sid());
  payload_only.push_back({"ButtonPayload", "1"});
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", payload_only)), Catch::Contains("testigo"));
}

TEST_CASE("a first message with only a picture gets the notice and the language question in both languages") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  for (const auto& [type, english, spanish] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"image/jpeg", "I cannot see pictures", "No puedo ver imágenes"},
           {"audio/ogg", "not voice notes", "no notas de voz"}}) {
    INFO(type);
    const auto messages = messages_of(server.post_signed("/twilio/sms", media_form("+1414555" + std::to_string(1310 + type.size()), type)));
    REQUIRE(messages.size() >= 2);
    std::string all;
    for (const auto& m : messages) {
      all += m + "\n";
      CHECK(prompts::count_segments(m).segments <= prompts::kMaxAnswerSegments);
    }
    // English first, then Spanish; each language's notice before its language question.
    const auto en = all.find(english), en_choice = all.find("Reply ENGLISH"), es = all.find(spanish),
               es_choice = all.find("responda ESPAÑOL");
    REQUIRE(en != std::string::npos);
    REQUIRE(en_choice != std::string::npos);
    REQUIRE(es != std::string::npos);
    REQUIRE(es_choice != std::string::npos);
    CHECK(en < en_choice);
    CHECK(en_choice < es);
    CHECK(es < es_choice);
    CHECK_THAT(all, Catch::Contains("911"));
  }
}

// --- One person, two channels (#17.4) ---

TEST_CASE("one person on SMS and WhatsApp: one language, one conversation, one opt-out") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  const std::string sms = "+14145551320", whatsapp = "whatsapp:+14145551320";

  // The language chosen by SMS holds on WhatsApp (the default would be Spanish).
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(sms, "ENGLISH", next_sid()))), Catch::Contains("English"));
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(whatsapp, "2", next_sid()))), Catch::Contains("shift commander"));
  REQUIRE(server.stored_session(sms));
  CHECK(server.stored_session(sms)->data == server.stored_session(whatsapp)->data);
  CHECK_FALSE(server.app().store().load(crypto::contact_key(kSecret, whatsapp)));  // no second contact

  // STOP on WhatsApp stops the SMS answers too; only START (on either) brings them back.
  server.post_signed("/twilio/sms", sms_form(whatsapp, "STOP", next_sid()));
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form(sms, "Can I call the police?", next_sid()))) == "");
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form(whatsapp, "hola", next_sid()))) == "");
  CHECK(reply_of(server.post_signed("/twilio/sms", media_form(whatsapp, "image/jpeg"))) == "");
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(sms, "START", next_sid()))), Catch::Contains("Welcome back"));
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(whatsapp, "1", next_sid()))), Catch::Contains("witness"));

  // And the other way round: STOP by SMS silences WhatsApp.
  server.post_signed("/twilio/sms", sms_form(sms, "STOP", next_sid()));
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form(whatsapp, "2", next_sid()))) == "");
}

TEST_CASE("what an older hotline kept under a WhatsApp address's own key moves to the person") {
  TempDir dir;
  const std::string sms = "+14145551330", whatsapp = "whatsapp:+14145551330";
  const std::string legacy = crypto::contact_key(kSecret, whatsapp);
  {
    // As the hotline before one-person keys left it: an opt-out, and an English conversation.
    HotlineServer server(test_config(dir));
    auto& store = server.app().store();
    engine::Session session;
    session.lang = Lang::en;
    session.step = "menu";
    session.turns = 1;
    store::TurnRecord turn;
    turn.contact_key = legacy;
    turn.session_data = engine::encode_session(session);
    turn.now_ms = *test_config(dir).pinned_now_ms - 60'000;
    store.commit_turn(turn);
    store.set_opted_out(legacy, true, turn.now_ms);
  }
  HotlineServer server(test_config(dir));
  // The opt-out given on WhatsApp holds by SMS: nothing is said until START.
  CHECK(reply_of(server.post_signed("/twilio/sms", sms_form(sms, "hola", next_sid()))) == "");
  CHECK_FALSE(server.app().store().is_opted_out(legacy));
  CHECK(server.app().store().is_opted_out(crypto::contact_key(kSecret, sms)));
  CHECK_FALSE(server.app().store().load(legacy));
  // START answers in the language of the conversation kept under the old key.
  CHECK_THAT(reply_of(server.post_signed("/twilio/sms", sms_form(whatsapp, "START", next_sid()))), Catch::Contains("Welcome back"));
}
