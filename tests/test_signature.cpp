// X-Twilio-Signature (hotline/twilio/signature.hpp): the known-answer vectors (tests/fixtures/twilio), tampering,
// URL port variants, the JSON-body variant, and a cross-check against the official `twilio` npm
// library run as an oracle (tests/npm/sign.js).
#include <catch2/catch.hpp>

#include "node_oracle.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "hotline/twilio/signature.hpp"

using hotline::twilio::compute_signature;
using hotline::twilio::FormFields;
using hotline::twilio::validate_signature;
using nlohmann::json;

namespace {

const std::string kVectorsPath = HOTLINE_SOURCE_DIR "/tests/fixtures/twilio/signature-vectors.json";

json load_vectors() {
  std::ifstream in(kVectorsPath);
  if (!in) FAIL("cannot read " << kVectorsPath << " (tests/fixtures/twilio)");
  return json::parse(in);
}

FormFields to_fields(const json& params) {
  FormFields fields;
  for (const auto& p : params) fields.emplace_back(p.at(0).get<std::string>(), p.at(1).get<std::string>());
  return fields;
}

using test_support::run_node;

}  // namespace

TEST_CASE("every known-answer vector computes and validates", "[signature]") {
  json vectors = load_vectors();
  REQUIRE(vectors.at("cases").size() >= 7);
  for (const auto& c : vectors.at("cases")) {
    const std::string name = c.at("name"), token = c.at("token"), url = c.at("url"), sig = c.at("signature");
    const FormFields fields = to_fields(c.at("params"));
    const std::string body = c.value("body", "");
    INFO("vector " << name);
    CHECK(compute_signature(token, url, fields) == sig);
    CHECK(validate_signature(token, url, fields, sig, body));
  }
}

TEST_CASE("tampered requests are rejected", "[signature]") {
  json vectors = load_vectors();
  for (const auto& c : vectors.at("cases")) {
    const std::string name = c.at("name"), token = c.at("token"), url = c.at("url"), sig = c.at("signature");
    const FormFields fields = to_fields(c.at("params"));
    const std::string body = c.value("body", "");
    INFO("vector " << name);

    // Missing or empty signature.
    CHECK_FALSE(validate_signature(token, url, fields, "", body));
    // One character of the signature changed, truncated, extended.
    std::string flipped = sig;
    flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
    CHECK_FALSE(validate_signature(token, url, fields, flipped, body));
    CHECK_FALSE(validate_signature(token, url, fields, sig.substr(0, sig.size() - 1), body));
    CHECK_FALSE(validate_signature(token, url, fields, sig + "=", body));
    // Another auth token.
    CHECK_FALSE(validate_signature(token + "6", url, fields, sig, body));
    // The URL changed: path, query, scheme.
    std::string other_path = url;
    other_path.insert(other_path.find('?') == std::string::npos ? other_path.size() : other_path.find('?'), "x");
    CHECK_FALSE(validate_signature(token, other_path, fields, sig, body));
    CHECK_FALSE(validate_signature(token, url + (url.find('?') == std::string::npos ? "?a=1" : "&a=1"), fields, sig, body));
    std::string other_scheme = url.rfind("https://", 0) == 0 ? "http://" + url.substr(8) : "https://" + url.substr(7);
    CHECK_FALSE(validate_signature(token, other_scheme, fields, sig, body));

    if (!fields.empty()) {
      // A value changed, a field dropped, a field added, a key renamed.
      FormFields changed = fields;
      changed.back().second += "0";
      CHECK_FALSE(validate_signature(token, url, changed, sig));
      FormFields dropped(fields.begin(), fields.end() - 1);
      CHECK_FALSE(validate_signature(token, url, dropped, sig));
      FormFields added = fields;
      added.emplace_back("Extra", "1");
      CHECK_FALSE(validate_signature(token, url, added, sig));
      FormFields renamed = fields;
      renamed.front().first += "x";
      CHECK_FALSE(validate_signature(token, url, renamed, sig));
      // A value moved from one key to another with the same concatenation is still caught
      // only if the concatenation differs; here it does.
      FormFields empty_value = fields;
      empty_value.front().second.clear();
      CHECK_FALSE(validate_signature(token, url, empty_value, sig));
    }
  }
}

TEST_CASE("field order in the body does not matter", "[signature]") {
  json vectors = load_vectors();
  for (const auto& c : vectors.at("cases")) {
    FormFields fields = to_fields(c.at("params"));
    if (fields.size() < 2) continue;
    std::reverse(fields.begin(), fields.end());
    INFO("vector " << c.at("name").get<std::string>());
    CHECK(compute_signature(c.at("token").get<std::string>(), c.at("url").get<std::string>(), fields) ==
          c.at("signature").get<std::string>());
  }
}

TEST_CASE("repeated keys: each distinct value, sorted", "[signature]") {
  // The vector 'repeated_key' signs Digits1234 then Digits5678 although 5678 came first.
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const std::string sig = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
  CHECK(validate_signature("12345", url, {{"Digits", "1234"}, {"Sid", "CA123"}, {"Digits", "5678"}, {"SidAccount", "AC123"}}, sig));
  // The official libraries (Node: new Set(values), Python: set(values)) sign a duplicate once.
  CHECK(validate_signature("12345", url,
                           {{"Sid", "CA123"}, {"SidAccount", "AC123"}, {"Digits", "5678"}, {"Digits", "1234"}, {"Digits", "5678"}},
                           sig));
  // But a value cannot be dropped.
  CHECK_FALSE(validate_signature("12345", url, {{"Sid", "CA123"}, {"SidAccount", "AC123"}, {"Digits", "5678"}}, sig));
}

TEST_CASE("ports: the URL is tried without its port, and with the scheme's when it has none", "[signature]") {
  json vectors = load_vectors();
  auto find = [&](const std::string& name) {
    for (const auto& c : vectors.at("cases")) {
      if (c.at("name") == name) return c;
    }
    FAIL("no vector " << name);
    return json{};
  };
  const FormFields fields = to_fields(find("form_post").at("params"));
  const std::string plain = find("form_post").at("signature");
  const std::string with443 = find("form_post_https_port_443").at("signature");
  const std::string with80 = find("form_post_http_port_80").at("signature");
  const std::string with1234 = find("form_post_http_port_1234").at("signature");

  // Signed without the port, received with it, and the other way round.
  CHECK(validate_signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", fields, plain));
  CHECK(validate_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", fields, with443));
  CHECK(validate_signature("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", fields, with80));
  CHECK(validate_signature("12345", "HTTP://mycompany.com/myapp.php?foo=1&bar=2",
                           fields, compute_signature("12345", "HTTP://mycompany.com:80/myapp.php?foo=1&bar=2", fields)));
  // The default port of the *other* scheme is not a default port.
  CHECK_FALSE(validate_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", fields, with80));
  CHECK_FALSE(validate_signature("12345", "http://mycompany.com:443/myapp.php?foo=1&bar=2", fields, with1234));
  // A non-default port: signed with it, or without any port (Twilio's back end is not
  // consistent about it, so the libraries strip whatever port the URL names).
  CHECK(validate_signature("12345", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", fields, with1234));
  CHECK(validate_signature("12345", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", fields, plain));
  // But a port is never added that the URL does not name.
  CHECK_FALSE(validate_signature("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", fields, with1234));
  CHECK_FALSE(validate_signature("12345", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", fields, with80));
  // Userinfo and IPv6 literals: the port is found after them.
  const std::string v6 = "https://[2001:db8::1]/sms";
  CHECK(validate_signature("t", "https://[2001:db8::1]:443/sms", fields, compute_signature("t", v6, fields)));
  CHECK(validate_signature("t", "https://u:p@example.com/sms", fields,
                           compute_signature("t", "https://u:p@example.com:443/sms", fields)));
  // No path at all.
  CHECK(validate_signature("t", "https://example.com", {}, compute_signature("t", "https://example.com:443", {})));
}

TEST_CASE("the libraries' own validation cases pass, and the official library agrees on each", "[signature][npm]") {
  const json vectors = load_vectors();
  const FormFields fields = {{"CallSid", "CA1234567890ABCDE"}, {"Digits", "1234"}, {"From", "+14158675309"}};
  json requests = json::array();
  for (const auto& c : vectors.at("validation_cases")) {
    const std::string token = c.at("token"), signed_url = c.at("signed_url"), received = c.at("received_url");
    const std::string sig = compute_signature(token, signed_url, fields);
    INFO(c.at("source").get<std::string>() << ": " << c.at("name").get<std::string>());
    CHECK(validate_signature(token, received, fields, sig) == c.at("valid").get<bool>());
    requests.push_back({{"token", token}, {"signature", sig}, {"url", received},
                        {"params", json::array({{"CallSid", "CA1234567890ABCDE"}, {"Digits", "1234"}, {"From", "+14158675309"}})}});
  }
  const json library = json::parse(run_node("validate.js", requests.dump()));
  REQUIRE(library.size() == vectors.at("validation_cases").size());
  for (std::size_t i = 0; i < library.size(); ++i) {
    INFO(vectors["validation_cases"][i].dump());
    CHECK(library[i].get<bool>() == vectors["validation_cases"][i].at("valid").get<bool>());
  }
}

TEST_CASE("every spelling of a URL is accepted or refused exactly as the official library does", "[signature][npm]") {
  // Signed as one spelling, received as another: ports, quotes and their escapes, letter case,
  // spaces and non-ASCII, dot segments, backslashes, empty queries, repeated and numeric keys,
  // user info and IPv6. Every pair is asked of our validator and of the library's.
  const std::vector<std::string> spellings = {
      "https://example.com/twilio/sms",
      "https://example.com:443/twilio/sms",
      "https://example.com:8443/twilio/sms",
      "https://EXAMPLE.com/twilio/sms",
      "HTTPS://example.com/twilio/sms",
      "https://example.com/twilio/./sms",
      "https://example.com/twilio/x/../sms",
      "https://example.com\\twilio\\sms",
      "https://example.com/twilio/sms?",
      "https://example.com/twilio/sms?lang=es&name=O'Brien",
      "https://example.com/twilio/sms?lang=es&name=O%27Brien",
      "https://example.com:443/twilio/sms?name=O%27Brien",
      "https://example.com/twilio/sms?q=a b",
      "https://example.com/twilio/sms?q=a%20b",
      "https://example.com/twilio/sms?q=a+b",
      "https://example.com/twilio/sms?q=se%C3%B1al&q=b",
      "https://example.com/twilio/sms?q=señal",
      "https://example.com/twilio/sms?b=2&a=1&2=x&10=y",
      "https://example.com/twilio/sms?a=1&&b=%zz",
      "https://example.com/tw ilio/sms",
      "https://example.com/tw%20ilio/sms",
      "https://example.com/twilio/sms#frag",
      "https://user:p%40ss@example.com/twilio/sms",
      "https://user:p@ss@example.com/twilio/sms",
      "https://[2001:DB8:0:0:0:0:0:1]/twilio/sms",
      "https://[2001:db8::1]:443/twilio/sms",
      "http://example.com/twilio/sms",
      "http://example.com:80/twilio/sms?x='",
  };
  json requests = json::array();
  std::vector<bool> ours;
  const FormFields fields = {{"Body", "¿Puedo llamar a la policía?"}, {"From", "+14145550123"}};
  for (const auto& signed_url : spellings) {
    const std::string sig = compute_signature("tok", signed_url, fields);
    for (const auto& received : spellings) {
      requests.push_back({{"token", "tok"}, {"signature", sig}, {"url", received},
                          {"params", json::array({{"Body", "¿Puedo llamar a la policía?"}, {"From", "+14145550123"}})}});
      ours.push_back(validate_signature("tok", received, fields, sig));
    }
  }
  const json library = json::parse(run_node("validate.js", requests.dump()));
  REQUIRE(library.size() == ours.size());
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < ours.size(); ++i) {
    INFO("signed " << spellings[i / spellings.size()] << ", received " << spellings[i % spellings.size()]);
    CHECK(ours[i] == library[i].get<bool>());
    accepted += ours[i] ? 1 : 0;
  }
  // Not a vacuous agreement: many pairs are accepted, far from all.
  CHECK(accepted > spellings.size());
  CHECK(accepted < ours.size() / 2);
}

TEST_CASE("JSON body variant: bodySHA256 in the URL", "[signature]") {
  json vectors = load_vectors();
  json c;
  for (const auto& v : vectors.at("cases")) {
    if (v.at("name") == "json_body") c = v;
  }
  REQUIRE(c.is_object());
  const std::string url = c.at("url"), body = c.at("body"), sig = c.at("signature");
  CHECK(validate_signature("12345", url, {}, sig, body));
  // The body is pinned by its hash.
  CHECK_FALSE(validate_signature("12345", url, {}, sig, body + " "));
  CHECK_FALSE(validate_signature("12345", url, {}, sig, ""));
  // Form fields next to a hashed body would be covered by nothing: refused.
  CHECK_FALSE(validate_signature("12345", url, {{"a", "1"}}, sig, body));
  // The hash in the URL is part of what is signed.
  std::string other_hash = url;
  other_hash.back() = other_hash.back() == '0' ? '1' : '0';
  CHECK_FALSE(validate_signature("12345", other_hash, {}, sig, body));
  // The port variants apply here too.
  std::string with_port = url;
  with_port.insert(std::string("https://mycompany.com").size(), ":443");
  CHECK(validate_signature("12345", with_port, {}, sig, body));
  // The digest is compared as the libraries compare it: lower-case hex, exactly.
  std::string upper = url;
  auto at = upper.find("bodySHA256=") + 11;
  for (auto i = at; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  CHECK_FALSE(validate_signature("12345", upper, {}, compute_signature("12345", upper, {}), body));
  const json library = json::parse(run_node("validate.js", json::array({
      {{"token", "12345"}, {"signature", sig}, {"url", url}, {"body", body}},
      {{"token", "12345"}, {"signature", compute_signature("12345", upper, {})}, {"url", upper}, {"body", body}},
      {{"token", "12345"}, {"signature", sig}, {"url", with_port}, {"body", body}}}).dump()));
  CHECK(library == json::array({true, false, true}));
}

TEST_CASE("signatures equal the official twilio npm library's", "[signature][npm]") {
  std::mt19937 rng(0x7e1e);
  auto pick = [&](const std::vector<std::string>& from) {
    return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(rng)];
  };
  auto chance = [&](int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; };

  const std::vector<std::string> keys = {
      "Body", "From", "To", "MessageSid", "AccountSid", "NumMedia", "MediaUrl0", "MediaContentType0",
      "Digits", "SpeechResult", "Confidence", "CallStatus", "OptOutType", "FromCity", "a", "A", "_", "b",
      "Año", "ñ", "é", "Z", "z", "key with space", "k=v", "k&v", "😀", "\xEF\xBC\x81" /* U+FF01 */};
  // Pieces to build values from: Spanish text, symbols the signature must not treat specially,
  // a character above U+FFFF and one in U+E000..U+FFFF (their order differs between UTF-8 bytes
  // and JavaScript's UTF-16 sort).
  const std::vector<std::string> pieces = {
      "Hola", " ", "¿Cómo está?", "ñ", "Ñ", "á", "ü", "¡Sí!", "STOP", "ayuda", "+1555", "&", "=", "%",
      "+", "?", "#", "/", "\"", "'", "<", ">", "\n", "\t", "😀", "\xEF\xBC\x81", "\xEE\x80\x80", "0", "1",
      "9", "A", "a", "z", "~"};
  const std::vector<std::string> urls = {
      "https://example.com/sms", "https://example.com/voice?lang=es", "https://hotline.example.org:443/voice/menu",
      "http://localhost:8080/sms?x=1&y=%20z", "https://example.com/a/b?q=%C3%B1&r=+&s=ñ",
      "https://[2001:db8::1]:8443/sms", "https://u:p@example.com/voice?retry=1"};
  const std::vector<std::string> tokens = {"12345", "0123456789abcdef0123456789abcdef", "ñ-token", ""};

  json cases = json::array();
  std::vector<FormFields> fields_of;
  for (int i = 0; i < 400; ++i) {
    FormFields fields;
    int n = std::uniform_int_distribution<int>(0, 8)(rng);
    for (int k = 0; k < n; ++k) {
      std::string key = pick(keys);
      std::string value;
      if (!chance(10)) {
        for (int p = std::uniform_int_distribution<int>(1, 6)(rng); p > 0; --p) value += pick(pieces);
      }
      fields.emplace_back(key, value);
      // Repeated keys: a second value, sometimes a duplicate of the first.
      if (chance(20)) fields.emplace_back(key, chance(30) ? value : pick(pieces) + pick(pieces));
    }
    json params = json::array();
    for (const auto& [k, v] : fields) params.push_back({k, v});
    cases.push_back({{"token", pick(tokens)}, {"url", pick(urls)}, {"params", params}});
    fields_of.push_back(std::move(fields));
  }

  json expected = json::parse(run_node("sign.js", cases.dump()));
  REQUIRE(expected.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string token = cases[i]["token"], url = cases[i]["url"], sig = expected[i];
    INFO("case " << i << ": " << cases[i].dump());
    REQUIRE(compute_signature(token, url, fields_of[i]) == sig);
    REQUIRE(validate_signature(token, url, fields_of[i], sig));
  }

  // And the single-request form of the script, as a person would run it.
  const std::string one = run_node("sign.js", cases[0].dump());
  CHECK(one == expected[0].get<std::string>() + "\n");
}

// fuzz/fuzz_signature, first finding (an error in the harness's property, not in the check): a
// URL naming a bodySHA256 that does not match the body is refused even with its own signature.
TEST_CASE("fuzz regression: a signed URL with a wrong bodySHA256 is refused", "[signature][fuzz]") {
  const std::string url = "https://hotline.example.org:443/twilio/voice?bodySHA256=abc";
  const std::string sig = compute_signature("tok", url, {});
  CHECK_FALSE(validate_signature("tok", url, {}, sig));
  CHECK_FALSE(validate_signature("tok", url, {}, sig, "{\"a\":1}"));
  CHECK(validate_signature("tok", "https://hotline.example.org/twilio/voice", {},
                           compute_signature("tok", "https://hotline.example.org/twilio/voice", {})));
}
