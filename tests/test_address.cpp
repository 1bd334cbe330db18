// From → the address a contact is keyed by (channels/address.hpp).
#include <catch2/catch.hpp>

#include "hotline/channels/address.hpp"
#include "hotline/channels/message_content.hpp"
#include "hotline/crypto/keys.hpp"

using hotline::channels::is_e164;
using hotline::channels::normalize_address;

TEST_CASE("an E.164 number is kept as it is, surrounding whitespace dropped", "[address]") {
  CHECK(normalize_address("+14145550123") == "+14145550123");
  CHECK(normalize_address("+14145550123\r\n") == "+14145550123");
  CHECK(normalize_address("\t+5215512345678 ") == "+5215512345678");
}

TEST_CASE("a + sent unencoded, decoded as a space, is read as the + it was", "[address]") {
  // `curl -d From=+14145550123` sends a raw +, which form decoding turns into a space.
  CHECK(normalize_address(" 14145550123") == "+14145550123");
  CHECK(normalize_address(" 14145550123\n") == "+14145550123");
  CHECK(normalize_address("whatsapp: 14145550123") == "whatsapp:+14145550123");
  // Only one space can come from one +; digits alone are no E.164 number.
  CHECK_FALSE(normalize_address("  14145550123"));
  CHECK_FALSE(normalize_address(" 1234"));
  CHECK_FALSE(normalize_address("14145550123"));
}

TEST_CASE("addresses of channels Twilio delivers, and short codes", "[address]") {
  CHECK(normalize_address("whatsapp:+14145550123") == "whatsapp:+14145550123");
  CHECK(normalize_address("WhatsApp:+14145550123") == "whatsapp:+14145550123");
  CHECK(normalize_address("messenger:1234567890123") == "messenger:1234567890123");
  CHECK(normalize_address("898211") == "898211");
  CHECK(normalize_address("611") == "611");
}

TEST_CASE("anything else is refused", "[address]") {
  for (const char* from : {"", " ", "hello", "+", "+1", "+0123456789", "+1 414 555 0123", "+1-414-555-0123",
                           "4145550123", "+14145550123x", "+1234567890123456", "whatsapp:", "whatsapp:hello",
                           "whatsapp:+1", "messenger:", "messenger:abc", "sip:alice@example.org", "client:alice",
                           "tel:+14145550123", "Anonymous", "+1414555\n0123", "12"}) {
    INFO('"' << from << '"');
    CHECK_FALSE(normalize_address(from));
  }
}

TEST_CASE("is_e164: + and 7 to 15 digits, the first not 0", "[address]") {
  CHECK(is_e164("+1234567"));
  CHECK(is_e164("+123456789012345"));
  CHECK_FALSE(is_e164("+123456"));
  CHECK_FALSE(is_e164("+1234567890123456"));
  CHECK_FALSE(is_e164("+0234567"));
  CHECK_FALSE(is_e164("1234567"));
}

TEST_CASE("one person, two channels: SMS and WhatsApp addresses of a number share one contact key", "[address]") {
  using namespace hotline::channels;
  const std::string secret = "address-test-secret-0123456789";
  CHECK(person_of("whatsapp:+14145550123") == "+14145550123");
  CHECK(person_of("+14145550123") == "+14145550123");
  CHECK(person_of("messenger:1234567890") == "messenger:1234567890");
  CHECK(contact_key_of(secret, "whatsapp:+14145550123") == contact_key_of(secret, "+14145550123"));
  CHECK(contact_key_of(secret, "+14145550123") == hotline::crypto::contact_key(secret, "+14145550123"));
  CHECK(contact_key_of(secret, "+14145550124") != contact_key_of(secret, "+14145550123"));
  // The key a WhatsApp texter had before: the hash of the whole address, for either form.
  const std::string old = hotline::crypto::contact_key(secret, "whatsapp:+14145550123");
  CHECK(legacy_whatsapp_key_of(secret, "+14145550123") == old);
  CHECK(legacy_whatsapp_key_of(secret, "whatsapp:+14145550123") == old);
  CHECK(old != contact_key_of(secret, "+14145550123"));
  CHECK_FALSE(legacy_whatsapp_key_of(secret, "messenger:1234567890"));
  CHECK_FALSE(legacy_whatsapp_key_of(secret, "898211"));
  CHECK(is_whatsapp("whatsapp:+14145550123"));
  CHECK_FALSE(is_whatsapp("+14145550123"));
}

TEST_CASE("what a message brought: its text, a button's, a location pin, media by kind", "[address][content]") {
  using hotline::channels::message_content;
  using hotline::engine::Attachment;
  auto text = message_content({{"Body", "hola"}, {"NumMedia", "0"}});
  CHECK(text.text == "hola");
  CHECK_FALSE(text.has_media);
  CHECK(text.attachment == Attachment::none);

  CHECK(message_content({{"Body", ""}, {"ButtonText", "Talk to a person"}, {"ButtonPayload", "0"}}).text == "Talk to a person");
  CHECK(message_content({{"Body", " "}, {"ButtonPayload", "2"}}).text == "2");
  CHECK(message_content({{"Body", "typed"}, {"ButtonText", "tapped"}}).text == "typed");

  auto pin = message_content({{"Body", "749 W State St"}, {"Latitude", "43.03"}, {"Longitude", "-87.90"},
                              {"Address", "749 W State St"}, {"NumMedia", "0"}});
  CHECK(pin.has_media);
  CHECK(pin.attachment == Attachment::location);
  CHECK(pin.text.empty());  // the place is the pin's, not words to the hotline

  for (const auto& [type, kind] : std::vector<std::pair<std::string, Attachment>>{
           {"audio/ogg", Attachment::voice_note}, {"audio/amr", Attachment::voice_note},
           {"image/jpeg", Attachment::picture}, {"video/mp4", Attachment::other},
           {"application/pdf", Attachment::other}, {"", Attachment::other}}) {
    INFO(type);
    auto media = message_content({{"Body", ""}, {"NumMedia", "1"}, {"MediaContentType0", type}});
    CHECK(media.has_media);
    CHECK(media.attachment == kind);
  }
  auto captioned = message_content({{"Body", "mire esto"}, {"NumMedia", "2"}, {"MediaContentType0", "image/png"}});
  CHECK(captioned.text == "mire esto");
  CHECK(captioned.attachment == Attachment::picture);
}
