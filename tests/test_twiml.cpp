// TwiML writer (hotline/twilio/twiml.hpp): the reference outputs in tests/fixtures/twilio/protocol-notes.md,
// escaping, well-formedness on hostile input, and a cross-check against the official `twilio`
// npm library run as an oracle (tests/npm/twiml.js).
#include <catch2/catch.hpp>

#include "node_oracle.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "hotline/twilio/twiml.hpp"

using hotline::twilio::Attributes;
using hotline::twilio::TwiML;
using hotline::twilio::xml_escape_attr;
using hotline::twilio::xml_escape_text;
using nlohmann::json;

namespace {

const std::string kDecl = R"(<?xml version="1.0" encoding="UTF-8"?>)";

using test_support::run_node;

/// A verb as both the C++ writer and tests/npm/twiml.js can render it.
struct Verb {
  std::string name;
  Attributes attrs;
  std::optional<std::string> text;
  std::vector<Verb> children;
};

struct Doc {
  std::string response;  // "voice" or "messaging"
  std::vector<Verb> verbs;
};

void add(TwiML& twiml, const Verb& v) {
  if (!v.children.empty()) {
    TwiML inner;
    for (const auto& c : v.children) add(inner, c);
    twiml.nest(v.name, v.attrs, inner);
  } else {
    twiml.verb(v.name, v.attrs, v.text.value_or(""));
  }
}

std::string render(const Doc& doc) {
  TwiML twiml;
  for (const auto& v : doc.verbs) add(twiml, v);
  return twiml.str();
}

json to_json(const Verb& v) {
  json attrs = json::array();
  for (const auto& [k, val] : v.attrs) attrs.push_back({k, val});
  json j = {{"verb", v.name}, {"attrs", attrs}};
  if (v.text) j["text"] = *v.text;
  if (!v.children.empty()) {
    j["children"] = json::array();
    for (const auto& c : v.children) j["children"].push_back(to_json(c));
  }
  return j;
}

json to_json(const Doc& doc) {
  json verbs = json::array();
  for (const auto& v : doc.verbs) verbs.push_back(to_json(v));
  return {{"response", doc.response}, {"verbs", verbs}};
}

// The five reference documents of tests/fixtures/twilio/protocol-notes.md, as verb descriptions.
const Doc kMenu{"voice",
                {{"Gather",
                  {{"input", "dtmf speech"}, {"numDigits", "1"}, {"timeout", "5"}, {"action", "/voice/menu"},
                   {"method", "POST"}, {"language", "es-MX"}, {"hints", "ventas, soporte"},
                   {"speechTimeout", "auto"}, {"actionOnEmptyResult", "true"}},
                  std::nullopt,
                  {{"Say", {{"language", "es-MX"}, {"voice", "Polly.Mia"}}, "Para ventas oprima 1. ¿Cómo está? <&>", {}}}},
                 {"Redirect", {{"method", "POST"}}, "/voice/menu?retry=1", {}}}};
const Doc kDial{"voice",
                {{"Dial",
                  {{"action", "/voice/dial-status"}, {"timeout", "20"}, {"callerId", "+15550001111"}, {"answerOnBridge", "true"}},
                  std::nullopt,
                  {{"Number", {{"url", "/voice/whisper"}}, "+15551112222", {}},
                   {"Number", {{"url", "/voice/whisper"}}, "+15553334444", {}}}}}};
const Doc kVoicemail{"voice",
                     {{"Say", {{"language", "es-US"}, {"voice", "Polly.Lupe"}}, "Deje su mensaje", {}},
                      {"Record", {{"maxLength", "120"}, {"transcribe", "true"}, {"playBeep", "true"}, {"action", "/voice/recorded"}}, std::nullopt, {}},
                      {"Hangup", {}, std::nullopt, {}}}};
const Doc kMessage{"messaging", {{"Message", {}, "Gracias & adiós", {}}}};
const Doc kEmpty{"voice", {}};

}  // namespace

TEST_CASE("the README's reference outputs, byte for byte", "[twiml]") {
  const std::pair<const Doc*, std::string> refs[] = {
      {&kMenu,
       kDecl + R"(<Response><Gather input="dtmf speech" numDigits="1" timeout="5" action="/voice/menu" method="POST" language="es-MX" hints="ventas, soporte" speechTimeout="auto" actionOnEmptyResult="true"><Say language="es-MX" voice="Polly.Mia">Para ventas oprima 1. ¿Cómo está? &lt;&amp;&gt;</Say></Gather><Redirect method="POST">/voice/menu?retry=1</Redirect></Response>)"},
      {&kDial,
       kDecl + R"(<Response><Dial action="/voice/dial-status" timeout="20" callerId="+15550001111" answerOnBridge="true"><Number url="/voice/whisper">+15551112222</Number><Number url="/voice/whisper">+15553334444</Number></Dial></Response>)"},
      {&kVoicemail,
       kDecl + R"(<Response><Say language="es-US" voice="Polly.Lupe">Deje su mensaje</Say><Record maxLength="120" transcribe="true" playBeep="true" action="/voice/recorded"/><Hangup/></Response>)"},
      {&kMessage, kDecl + R"(<Response><Message>Gracias &amp; adiós</Message></Response>)"},
      {&kEmpty, kDecl + R"(<Response/>)"},
  };
  // The literals above are the protocol notes' own lines (tests/fixtures/twilio/protocol-notes.md).
  std::ifstream readme(HOTLINE_SOURCE_DIR "/tests/fixtures/twilio/protocol-notes.md");
  std::string readme_text(std::istreambuf_iterator<char>(readme), {});
  REQUIRE_FALSE(readme_text.empty());
  for (const auto& [doc, expected] : refs) {
    CHECK(render(*doc) == expected);
    CHECK(readme_text.find(expected + "\n") != std::string::npos);
  }
  // The convenience helper and an untouched builder.
  CHECK(TwiML().message("Gracias & adiós").str() == refs[3].second);
  CHECK(TwiML().str() == kDecl + "<Response/>");
}

TEST_CASE("text escaping: & < > and CR only", "[twiml]") {
  CHECK(xml_escape_text("") == "");
  CHECK(xml_escape_text("plain ¿Cómo está? ñ 😀") == "plain ¿Cómo está? ñ 😀");
  CHECK(xml_escape_text("a&b<c>d") == "a&amp;b&lt;c&gt;d");
  CHECK(xml_escape_text("\"quoted\" 'single'") == "\"quoted\" 'single'");
  CHECK(xml_escape_text("line1\nline2\ttab\rcr") == "line1\nline2\ttab&#xD;cr");
  CHECK(xml_escape_text("&amp; stays double-escaped") == "&amp;amp; stays double-escaped");
  CHECK(xml_escape_text("]]>") == "]]&gt;");
}

TEST_CASE("attribute escaping: & < \" TAB LF CR, not > or '", "[twiml]") {
  CHECK(xml_escape_attr("") == "");
  CHECK(xml_escape_attr("a&b<c>d") == "a&amp;b&lt;c>d");
  CHECK(xml_escape_attr("\"quoted\" 'single'") == "&quot;quoted&quot; 'single'");
  CHECK(xml_escape_attr("line1\nline2\ttab\rcr") == "line1&#xA;line2&#x9;tab&#xD;cr");
  CHECK(xml_escape_attr("/voice/menu?a=1&b=ñ") == "/voice/menu?a=1&amp;b=ñ");
}

TEST_CASE("empty elements self-close", "[twiml]") {
  CHECK(TwiML().verb("Hangup").str() == kDecl + "<Response><Hangup/></Response>");
  CHECK(TwiML().verb("Say", {{"voice", "Polly.Mia"}}, "").str() == kDecl + R"(<Response><Say voice="Polly.Mia"/></Response>)");
  CHECK(TwiML().nest("Gather", {{"input", "dtmf"}}, TwiML()).str() == kDecl + R"(<Response><Gather input="dtmf"/></Response>)");
  CHECK(TwiML().verb("Pause", {{"length", ""}}).str() == kDecl + R"(<Response><Pause length=""/></Response>)");
}

TEST_CASE("a repeated attribute keeps its first place and its last value", "[twiml]") {
  CHECK(TwiML().verb("Say", {{"voice", "a"}, {"language", "es-MX"}, {"voice", "b"}}, "x").body() ==
        R"(<Say voice="b" language="es-MX">x</Say>)");
}

TEST_CASE("output is well-formed whatever the text", "[twiml]") {
  // Characters XML 1.0 forbids are dropped (the npm library would throw for text).
  CHECK(xml_escape_text(std::string("a\0b\x01\x08\x0B\x0C\x0E\x1F\x7F" "c", 11)) == "ab\x7F" "c");
  CHECK(xml_escape_attr(std::string("a\0b\x01\x1F" "c", 6)) == "abc");
  CHECK(xml_escape_text("x\xEF\xBF\xBEy\xEF\xBF\xBFz") == "xyz");  // U+FFFE, U+FFFF
  CHECK(xml_escape_text("\xEF\xBF\xBD") == "\xEF\xBF\xBD");          // U+FFFD itself is fine
  // Invalid UTF-8 becomes U+FFFD, one per maximal ill-formed subpart.
  const std::string R = "\xEF\xBF\xBD";
  CHECK(xml_escape_text("a\xFF" "b") == "a" + R + "b");
  CHECK(xml_escape_text("a\xC3") == "a" + R);                   // truncated at the end
  CHECK(xml_escape_text("\xE2\x82" "A") == R + "A");            // truncated 3-byte sequence
  CHECK(xml_escape_text("\xC0\xAF") == R + R);                  // overlong '/'
  CHECK(xml_escape_text("\xED\xA0\x80") == R + R + R);          // encoded surrogate
  CHECK(xml_escape_text("\xF4\x90\x80\x80") == R + R + R + R);  // above U+10FFFF
  CHECK(xml_escape_text("\xF0\x9F\x98") == R);                  // truncated emoji
  CHECK(xml_escape_text("\x80\x80") == R + R);                  // stray continuation bytes
  // Text that is nothing but forbidden characters leaves an empty, self-closed element.
  CHECK(TwiML().verb("Say", {}, "\x01\x02").body() == "<Say/>");
}

TEST_CASE("TwiML equals the official twilio npm library's", "[twiml][npm]") {
  const std::string tricky = "a&b<c>d\"e'f\ng\rh\ti ]]> &amp; ¿Cómo está? ñ 😀 \xEF\xBC\x81";
  std::vector<Doc> docs = {kMenu, kDial, kVoicemail, kMessage, kEmpty, {"messaging", {}}};
  docs.push_back({"voice", {{"Say", {{"voice", tricky}}, tricky, {}}}});
  docs.push_back({"voice", {{"Say", {{"language", "es-MX"}, {"loop", ""}}, "", {}}, {"Gather", {}, std::nullopt, {}}}});
  docs.push_back({"messaging",
                  {{"Message", {{"to", "+15551112222"}, {"statusCallback", "/sms/status?a=1&b=2"}}, std::nullopt,
                    {{"Body", {}, "Hola, ¿en qué le podemos ayudar?", {}},
                     {"Media", {}, "https://example.com/a.png?x=1&y=2", {}}}},
                   {"Redirect", {{"method", "POST"}}, "/sms/next", {}}}});
  {
    Verb dial{"Dial", {{"timeout", "20"}, {"callerId", "+15550001111"}}, std::nullopt, {}};
    for (int i = 0; i < 10; ++i) {
      dial.children.push_back({"Number", {{"url", "/voice/whisper?advocate=" + std::to_string(i)}, {"statusCallbackEvent", "initiated ringing answered completed"}}, "+1555000000" + std::to_string(i), {}});
    }
    docs.push_back({"voice", {dial, {"Say", {}, "Nadie contestó.", {}}, {"Hangup", {}, std::nullopt, {}}}});
  }
  docs.push_back({"voice",
                  {{"Gather", {{"input", "speech"}, {"language", "es-US"}}, std::nullopt,
                    {{"Say", {{"voice", "Polly.Lupe"}}, "Diga su nombre", {}},
                     {"Pause", {{"length", "1"}}, std::nullopt, {}},
                     {"Play", {{"loop", "2"}}, "https://example.com/tone.mp3", {}}}},
                   {"Reject", {{"reason", "busy"}}, std::nullopt, {}},
                   {"Say", {{"voice", "a"}, {"language", "es-MX"}, {"voice", "b"}}, "repeated attribute", {}}}});

  // Random documents from the same building blocks.
  std::mt19937 rng(0x7c1);
  auto pick = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  const std::vector<std::string> pieces = {"Hola", " ", "¿Cómo está?", "ñ", "&", "<", ">", "\"", "'", "\n", "\r",
                                           "\t", "]]>", "&lt;", "😀", "\xEF\xBC\x81", "=", "/", "?", "1"};
  auto random_text = [&](int max) {
    std::string s;
    for (int n = std::uniform_int_distribution<int>(0, max)(rng); n > 0; --n) s += pick(pieces);
    return s;
  };
  const std::vector<std::string> attr_names = {"voice", "language", "action", "method", "timeout", "url", "hints"};
  for (int i = 0; i < 150; ++i) {
    Doc doc{i % 2 ? "voice" : "messaging", {}};
    for (int n = std::uniform_int_distribution<int>(0, 4)(rng); n > 0; --n) {
      Attributes attrs;
      for (int a = std::uniform_int_distribution<int>(0, 3)(rng); a > 0; --a) attrs.emplace_back(pick(attr_names), random_text(4));
      if (doc.response == "messaging") {
        doc.verbs.push_back({"Message", attrs, random_text(5), {}});
      } else if (n % 3 == 0) {
        Verb gather{"Gather", attrs, std::nullopt, {}};
        for (int c = std::uniform_int_distribution<int>(0, 2)(rng); c > 0; --c) gather.children.push_back({"Say", {}, random_text(5), {}});
        doc.verbs.push_back(gather);
      } else {
        doc.verbs.push_back({n % 3 == 1 ? "Say" : "Redirect", attrs, random_text(5), {}});
      }
    }
    docs.push_back(doc);
  }

  json request = json::array();
  for (const auto& d : docs) request.push_back(to_json(d));
  json expected = json::parse(run_node("twiml.js", request.dump()));
  REQUIRE(expected.size() == docs.size());
  for (std::size_t i = 0; i < docs.size(); ++i) {
    INFO("document " << i << ": " << request[i].dump());
    CHECK(render(docs[i]) == expected[i].get<std::string>());
  }

  // The single-document form of the script, as a person would run it.
  CHECK(run_node("twiml.js", to_json(kDial).dump()) == render(kDial) + "\n");
}
