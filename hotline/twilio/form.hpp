#pragma once
// application/x-www-form-urlencoded, as Twilio sends it. Keeps order and repeated keys because
// the signature covers every field.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hotline::twilio {

using FormFields = std::vector<std::pair<std::string, std::string>>;

/// Decodes a form body. nullopt for a body that is not a form (bad %-escape, no '=' in a
/// non-empty field, a NUL byte). '+' is a space. Values keep whatever bytes they carry.
std::optional<FormFields> parse_form(std::string_view body);

/// Percent-encodes for a form body (RFC 3986 unreserved kept, space as %20).
std::string url_encode(std::string_view value);
std::string encode_form(const FormFields& fields);

/// The first value of `key`, if present.
std::optional<std::string> field(const FormFields& fields, std::string_view key);

}  // namespace hotline::twilio
