#pragma once
// A texter's or caller's address (Twilio's `From`) in the one form a contact is keyed by.
//
// The contact's hash must not depend on how the address reached us. A `+` sent unencoded in a
// form body (`curl -d From=+14145550123`) is decoded as a space, and " 14145550123" would be
// another contact than "+14145550123": one `hotline forget +14145550123` never finds.
#include <optional>
#include <string>
#include <string_view>

namespace hotline::channels {

/// "+" and 7 to 15 digits, the first not 0 (E.164), e.g. "+14145550123".
bool is_e164(std::string_view number);

/// The address a `From` (or a number typed by an operator) stands for, or nullopt when it is
/// neither a phone number nor an address of a channel Twilio delivers. Surrounding whitespace
/// is dropped, but a single leading space before digits is read as the `+` it was:
///   "+14145550123", " 14145550123"                    -> "+14145550123"
///   "whatsapp:+14145550123", "whatsapp: 14145550123"  -> "whatsapp:+14145550123"
///   "messenger:1234567890"                            -> as it is (a Messenger user id)
///   "12345"                                           -> as it is (a short code, 3 to 6 digits)
/// The scheme is lower-cased.
std::optional<std::string> normalize_address(std::string_view from);

// One person, two channels. A texter who writes by SMS from +14145550123 and on WhatsApp as
// whatsapp:+14145550123 is one person with one conversation: one language, one opt-out (STOP on
// either channel stops both), one relay to an advocate. So a contact is keyed by the person's
// bare number; the channel stays in the address each message came from, which is where replies
// go (flow replies answer the webhook itself; the relay sends to the address last written from).

/// The part of a normalized address a contact is keyed by: a WhatsApp address's phone number
/// ("whatsapp:+14145550123" -> "+14145550123"); any other address as it is.
std::string person_of(std::string_view address);

/// The contact key (crypto::contact_key) of the person behind a normalized address: the same
/// for "+14145550123" and "whatsapp:+14145550123".
std::string contact_key_of(std::string_view secret, std::string_view address);

/// The key a WhatsApp texter was stored under before contacts were keyed by the person (the
/// hash of "whatsapp:+…"), for the person behind `address` when they have a phone number; else
/// nullopt. Rows under it are moved to contact_key_of (channels/legacy_contact.hpp), and
/// `hotline forget` erases it too.
std::optional<std::string> legacy_whatsapp_key_of(std::string_view secret, std::string_view address);

/// True for a WhatsApp address ("whatsapp:+…").
bool is_whatsapp(std::string_view address);

}  // namespace hotline::channels
