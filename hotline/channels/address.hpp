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

}  // namespace hotline::channels
