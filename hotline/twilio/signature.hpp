#pragma once
// X-Twilio-Signature: base64(HMAC-SHA1(auth token, url + sorted key/value pairs)).
#include <string>
#include <string_view>

#include "hotline/twilio/form.hpp"

namespace hotline::twilio {

/// The signature Twilio would send for this URL and form fields.
std::string compute_signature(std::string_view auth_token, std::string_view url,
                              const FormFields& fields);

/// True when `signature` matches the URL as given, or with the default port (:443/:80)
/// added or removed. Compares in constant time. Handles the JSON-body variant
/// (bodySHA256 in the URL) when `raw_body` is given and `fields` is empty.
bool validate_signature(std::string_view auth_token, std::string_view url,
                        const FormFields& fields, std::string_view signature,
                        std::string_view raw_body = {});

}  // namespace hotline::twilio
