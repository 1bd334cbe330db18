// application/x-www-form-urlencoded parsing and encoding (hotline/twilio/form.hpp).
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "hotline/twilio/form.hpp"

using hotline::twilio::encode_form;
using hotline::twilio::field;
using hotline::twilio::FormFields;
using hotline::twilio::parse_form;
using hotline::twilio::url_encode;

namespace {

FormFields parsed(std::string_view body) {
  auto f = parse_form(body);
  INFO("body: " << std::string(body));
  REQUIRE(f.has_value());
  return *f;
}

}  // namespace

TEST_CASE("parse_form reads a Twilio SMS webhook body", "[form]") {
  auto f = parsed(
      "ToCountry=US&SmsMessageSid=SM123&NumMedia=0&Body=Hola+%C2%BFc%C3%B3mo+est%C3%A1%3F+STOP"
      "&From=%2B15551230000&To=%2B15559870000&AccountSid=AC123&ApiVersion=2010-04-01");
  REQUIRE(f.size() == 8);
  CHECK(f[0] == std::pair<std::string, std::string>{"ToCountry", "US"});
  CHECK(field(f, "Body") == "Hola ¿cómo está? STOP");
  CHECK(field(f, "From") == "+15551230000");
  CHECK(field(f, "ApiVersion") == "2010-04-01");
  CHECK_FALSE(field(f, "MediaUrl0").has_value());
}

TEST_CASE("parse_form: empty body and empty segments", "[form]") {
  CHECK(parsed("").empty());
  CHECK(parsed("&").empty());
  CHECK(parsed("&&&").empty());
  // Empty segments are skipped, as URLSearchParams does.
  CHECK(parsed("a=1&&b=2&") == FormFields{{"a", "1"}, {"b", "2"}});
  CHECK(parsed("&a=1") == FormFields{{"a", "1"}});
}

TEST_CASE("parse_form: keys and values", "[form]") {
  CHECK(parsed("a=") == FormFields{{"a", ""}});
  CHECK(parsed("=v") == FormFields{{"", "v"}});
  CHECK(parsed("=") == FormFields{{"", ""}});
  // Only the first '=' separates.
  CHECK(parsed("a=b=c") == FormFields{{"a", "b=c"}});
  CHECK(parsed("a==") == FormFields{{"a", "="}});
}

TEST_CASE("parse_form: '+' is a space, %2B is a plus", "[form]") {
  CHECK(parsed("Body=a+b++c") == FormFields{{"Body", "a b  c"}});
  CHECK(parsed("From=%2B1555") == FormFields{{"From", "+1555"}});
  CHECK(parsed("my+key=1") == FormFields{{"my key", "1"}});
  CHECK(parsed("a=%20") == FormFields{{"a", " "}});
}

TEST_CASE("parse_form: percent escapes", "[form]") {
  CHECK(parsed("a=%41%42%43") == FormFields{{"a", "ABC"}});
  CHECK(parsed("a=%e2%82%ac&b=%E2%82%AC") == FormFields{{"a", "€"}, {"b", "€"}});
  CHECK(parsed("a=%26%3D%25") == FormFields{{"a", "&=%"}});
  CHECK(parsed("%61=%62") == FormFields{{"a", "b"}});
  // A decoded '&' or '=' does not split anything.
  CHECK(parsed("k%3Dx=v%26w=1") == FormFields{{"k=x", "v&w=1"}});
  // Raw UTF-8 (not %-encoded) is kept as is.
  CHECK(parsed("Body=¿Qué?") == FormFields{{"Body", "¿Qué?"}});
  // Values keep whatever bytes they carry, even invalid UTF-8.
  CHECK(parsed("a=%FF%C3") == FormFields{{"a", "\xFF\xC3"}});
}

TEST_CASE("parse_form rejects bodies that are not forms", "[form]") {
  for (const char* bad : {"a=%", "a=%4", "a=%4G", "a=%G4", "a=%%", "a=%-1", "a=%+1", "%zz=1", "a=1&b=%x",
                          "a", "a=1&b", "a=1&b&c=2", "a=%00", "%00=a", "a=x%00y"}) {
    INFO("body: " << bad);
    CHECK_FALSE(parse_form(bad).has_value());
  }
  CHECK_FALSE(parse_form(std::string_view("a=x\0y", 5)).has_value());
  CHECK_FALSE(parse_form(std::string_view("a\0=1", 4)).has_value());
  CHECK_FALSE(parse_form(std::string_view("\0", 1)).has_value());
}

TEST_CASE("parse_form keeps repeated keys in order", "[form]") {
  auto f = parsed("Digits=5678&Sid=CA1&Digits=1234&Digits=5678");
  CHECK(f == FormFields{{"Digits", "5678"}, {"Sid", "CA1"}, {"Digits", "1234"}, {"Digits", "5678"}});
  CHECK(field(f, "Digits") == "5678");  // the first one
}

TEST_CASE("url_encode keeps RFC 3986 unreserved characters only", "[form]") {
  CHECK(url_encode("") == "");
  CHECK(url_encode("AZaz09-._~") == "AZaz09-._~");
  CHECK(url_encode("a b") == "a%20b");
  CHECK(url_encode("+1 (555) 123-4567") == "%2B1%20%28555%29%20123-4567");
  CHECK(url_encode("&=%?#/:@!*'") == "%26%3D%25%3F%23%2F%3A%40%21%2A%27");
  CHECK(url_encode("ñ") == "%C3%B1");
  CHECK(url_encode(std::string_view("\0\xFF", 2)) == "%00%FF");
}

TEST_CASE("encode_form", "[form]") {
  CHECK(encode_form({}) == "");
  CHECK(encode_form({{"To", "+15551112222"}, {"Body", "Hola, ¿qué tal?"}}) ==
        "To=%2B15551112222&Body=Hola%2C%20%C2%BFqu%C3%A9%20tal%3F");
  CHECK(encode_form({{"a", ""}, {"", "b"}}) == "a=&=b");
}

TEST_CASE("encode_form and parse_form round trip", "[form]") {
  const FormFields cases[] = {
      {},
      {{"a", "1"}},
      {{"Body", "Necesito ayuda. ¿Dónde está el albergue? ñÑáéíóúü ¡Sí! 😀"}},
      {{"k", "a+b c&d=e%f"}, {"k", ""}, {"", ""}, {"k", "x"}},
      {{"MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1?x=1&y=2"}},
      {{"tabs\tand\nnewlines\r", "\x01\x7F"}},
  };
  for (const auto& fields : cases) {
    auto body = encode_form(fields);
    INFO("body: " << body);
    auto back = parse_form(body);
    REQUIRE(back.has_value());
    CHECK(*back == fields);
  }
}

TEST_CASE("a 10 kB value survives", "[form]") {
  std::string big;
  for (int i = 0; big.size() < 10 * 1024; ++i) big += (i % 3 == 0) ? "ñ" : (i % 3 == 1 ? "a b" : "&=%+");
  FormFields fields{{"Body", big}, {"From", "+1555"}};
  auto body = encode_form(fields);
  CHECK(body.size() > 20 * 1024);
  auto back = parse_form(body);
  REQUIRE(back.has_value());
  CHECK(*back == fields);
  // Raw, with '+' for spaces, as a browser would send it.
  std::string raw = "Body=" + std::string(10 * 1024, 'x') + "+" + std::string(10, 'y');
  auto f = parse_form(raw);
  REQUIRE(f.has_value());
  CHECK((*f)[0].second.size() == 10 * 1024 + 11);
}

TEST_CASE("random fields round trip; random bodies never crash", "[form][fuzz]") {
  std::mt19937 rng(20240611);
  auto random_string = [&](std::size_t max_len, bool allow_nul) {
    std::uniform_int_distribution<std::size_t> len(0, max_len);
    std::uniform_int_distribution<int> byte(allow_nul ? 0 : 1, 255);
    std::string s(len(rng), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    FormFields fields;
    std::uniform_int_distribution<int> count(0, 6);
    for (int i = count(rng); i > 0; --i) fields.emplace_back(random_string(12, false), random_string(40, false));
    auto back = parse_form(encode_form(fields));
    REQUIRE(back.has_value());
    REQUIRE(*back == fields);
  }
  // Bodies built from the characters that matter to the parser, plus arbitrary bytes.
  const std::string alphabet = "a=&%+0F\xC3\xB1zG";
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<std::size_t> len(0, 24);
  for (int round = 0; round < 20000; ++round) {
    std::string body(len(rng), '\0');
    for (auto& c : body) c = alphabet[pick(rng)];
    if (round % 4 == 0) body += random_string(8, true);
    auto f = parse_form(body);
    if (!f) continue;
    // Whatever parses re-encodes to something that parses back to the same fields.
    auto again = parse_form(encode_form(*f));
    REQUIRE(again.has_value());
    REQUIRE(*again == *f);
    for (const auto& [k, v] : *f) {
      REQUIRE(k.find('\0') == std::string::npos);
      REQUIRE(v.find('\0') == std::string::npos);
    }
  }
}
