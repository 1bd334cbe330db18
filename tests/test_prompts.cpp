// Prompt catalog, placeholders, and SMS segment counting as Twilio counts.
#include <catch2/catch.hpp>

#include "hotline/prompts/catalog.hpp"
#include "hotline/prompts/segments.hpp"
#include "support.hpp"

using namespace hotline;
using namespace hotline::prompts;

TEST_CASE("GSM-7 text: 160 characters in one segment, 153 each when split") {
  CHECK(count_segments("").segments == 0);
  CHECK(count_segments(std::string(160, 'a')).segments == 1);
  CHECK(count_segments(std::string(161, 'a')).segments == 2);
  CHECK(count_segments(std::string(306, 'a')).segments == 2);
  CHECK(count_segments(std::string(307, 'a')).segments == 3);
  CHECK(count_segments(std::string(459, 'a')).segments == 3);
  CHECK(count_segments(std::string(460, 'a')).segments == 4);
  // ñ, ¿, ¡ and é are in the GSM alphabet: Spanish without á í ó ú stays GSM-7.
  auto spanish = count_segments("¿Señor? ¡Qué bien! café");
  CHECK(spanish.encoding == Encoding::gsm7);
  CHECK(spanish.units == 23);
}

TEST_CASE("the GSM extension characters count twice") {
  auto c = count_segments("{[€]}");
  CHECK(c.encoding == Encoding::gsm7);
  CHECK(c.units == 10);
  CHECK(count_segments(std::string(80, '{')).segments == 1);
  CHECK(count_segments(std::string(81, '{')).segments == 2);
}

TEST_CASE("one accent outside GSM-7 makes the whole text UCS-2: 70, then 67 a segment") {
  std::string base(69, 'a');
  auto one = count_segments(base + "á");
  CHECK(one.encoding == Encoding::ucs2);
  CHECK(one.units == 70);
  CHECK(one.segments == 1);
  CHECK(count_segments(base + "áa").segments == 2);
  CHECK(count_segments(std::string(200, 'a') + "í").segments == 3);  // 201 = 3 x 67
  CHECK(count_segments(std::string(201, 'a') + "í").segments == 4);
  // A curly apostrophe is enough to switch a whole English text to UCS-2.
  CHECK(count_segments("don\u2019t").encoding == Encoding::ucs2);
}

TEST_CASE("emoji outside the BMP take two UTF-16 units") {
  auto c = count_segments("hi \xF0\x9F\x98\x80");  // U+1F600
  CHECK(c.encoding == Encoding::ucs2);
  CHECK(c.units == 5);
}

TEST_CASE("placeholders are found and filled; unknown ones render empty") {
  CHECK(placeholders("Call {org_name} at {org_phone}.") == std::set<std::string>{"org_name", "org_phone"});
  CHECK(placeholders("no braces").empty());
  CHECK(fill("Hi {name}, {missing}!", {{"name", "Ana"}}) == "Hi Ana, !");
  CHECK(fill("unclosed {brace", {}) == "unclosed {brace");
}

TEST_CASE("prompts load with sms and voice variants, and render per channel") {
  test_support::TempDir dir;
  auto path = dir.write("en.yaml",
                        "menu:\n  sms: Reply 1.\n  voice: Press 1.\n"
                        "plain: >-\n  Folded\n  text.\n");
  Catalog catalog;
  Diagnostics diags;
  load_prompts(path, Lang::en, catalog, diags);
  CHECK(diags.items().empty());
  CHECK(catalog.render(Lang::en, "menu", Channel::sms, {}) == "Reply 1.");
  CHECK(catalog.render(Lang::en, "menu", Channel::voice, {}) == "Press 1.");
  CHECK(catalog.render(Lang::en, "plain", Channel::voice, {}) == "Folded text.");
  CHECK(catalog.render(Lang::es, "menu", Channel::sms, {}).empty());
}

TEST_CASE("prompt file problems are all reported with their positions") {
  test_support::TempDir dir;
  auto path = dir.write("es.yaml",
                        "ok: Hola\n"
                        "Bad-Key: x\n"
                        "empty: \"\"\n"
                        "menu:\n  sms: Hola\n  vocie: Hola\n"
                        "list: [a, b]\n"
                        "ok: again\n");
  Catalog catalog;
  Diagnostics diags;
  load_prompts(path, Lang::es, catalog, diags);
  std::string text = diags.to_string();
  const std::string p = path + ":";
  CHECK(text ==
        p + "2:1: error[bad-prompt-key]: prompt key 'Bad-Key' may use only lowercase letters, digits and _\n" +
        p + "3:8: error[empty-prompt]: prompt 'empty' is empty\n" +
        p + "6:3: error[unknown-field]: unknown field 'vocie' in prompt 'menu'; expected sms, voice or long\n" +
        p + "7:7: error[prompt-not-text]: prompt 'list' must be text\n" +
        p + "8:1: error[duplicate-prompt]: prompt 'ok' is defined twice\n");
}

TEST_CASE("over the limit, in staff words: characters, the limit, how many to cut, and the character to blame") {
  std::string english;
  for (int i = 0; i < 20; ++i) english += "We can’t. ";  // a curly apostrophe makes it UCS-2
  CHECK(over_the_limit(english, Lang::en).empty());     // 200: fits in 3 parts of 67
  english += "We can’t. ";
  CHECK(over_the_limit(english, Lang::en) ==
        "210 characters; the limit for a 3-part English text is 201: cut 9 ('’' is not in the basic SMS "
        "alphabet, GSM-7, so the whole text goes as UCS-2: 67 characters a part instead of 153)");
}

TEST_CASE("every shipped prompt fits in three SMS segments in both languages") {
  auto bundle = test_support::shipped_bundle();
  for (Lang lang : kAllLangs) {
    for (const auto& [key, prompt] : bundle->prompts.entries(lang)) {
      INFO(lang_code(lang) << " " << key << ": " << prompt.sms);
      CHECK(count_segments(prompt.sms).segments <= kMaxAnswerSegments);
    }
  }
}
