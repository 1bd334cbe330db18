#pragma once
// The other spellings of a webhook URL that the official Twilio libraries also check a
// signature against, because Twilio's back end does not always sign the URL exactly as it was
// configured: the URL as a WHATWG URL parser serialises it (Node's `new URL(url).toString()`:
// `'` in the query becomes `%27`, a default port disappears, the host is lower-cased), and that
// URL with its query re-encoded by Node's legacy `querystring` module (`%27` back to `'`).
#include <optional>
#include <string>
#include <string_view>

namespace hotline::twilio {

/// The URL as `new URL(url).toString()` gives it, for http, https, ws, wss and ftp URLs.
/// nullopt when the parser would refuse the URL, or for another scheme (Twilio calls only
/// http and https) or a host that would need IDNA (not a host Twilio can call).
std::optional<std::string> normalized_url(std::string_view url);

/// The URL with its query parsed and re-serialised by Node's `querystring` (parse, then
/// stringify): pairs split on `&` and `=`, `+` read as a space, then each key and value
/// percent-encoded except `A-Z a-z 0-9 - . _ ~ ! ' ( ) *`. Unchanged without a query.
std::string with_legacy_query(std::string_view url);

}  // namespace hotline::twilio
