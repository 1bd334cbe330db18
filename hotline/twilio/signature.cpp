// X-Twilio-Signature, computed and checked the way the official helper libraries do it.
//
//   signature = base64(HMAC-SHA1(auth_token, url + k1 + v1 + k2 + v2 + ...))
//
// Details that matter for byte-for-byte agreement with the official `twilio` npm package
// (which tests/npm/sign.js runs as an oracle in test_signature):
//   - Keys are sorted, and a repeated key contributes each of its *distinct* values, sorted
//     (the Node library does `Array.from(new Set(values)).sort()`, the Python one
//     `sorted(set(values))`). So "Digits=1&Digits=1" signs "Digits1" once.
//   - JavaScript sorts strings by UTF-16 code unit, not by code point or UTF-8 byte. The two
//     orders differ only when a character above U+FFFF (an emoji: a surrogate pair, 0xD8xx)
//     meets one in U+E000..U+FFFF, but we follow the oracle there too.
//   - The URL is signed exactly as Twilio requested it. No normalisation beyond adding or
//     removing the scheme's default port, because that is the one difference Twilio itself
//     is known to introduce (it signs with or without :443 depending on the product).
#include "hotline/twilio/signature.hpp"

#include "hotline/crypto/hmac.hpp"
#include "hotline/twilio/url_forms.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace hotline::twilio {
namespace {

/// UTF-8 → UTF-16 code units, for sorting the way JavaScript's Array.prototype.sort does.
/// A byte that does not start a valid sequence becomes U+FFFD (what Node's decoder would
/// give); callers break ties on the raw bytes so distinct inputs never compare equal.
std::u16string utf16_units(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  std::size_t i = 0;
  auto cont = [&](std::size_t k) {
    return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80;
  };
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t len = 0;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
      cp = ((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu);
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2)) {
      cp = ((c & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
      len = 3;
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) len = 0;  // overlong or surrogate
    } else if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
      cp = ((c & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6) |
           (s[i + 3] & 0x3Fu);
      len = 4;
      if (cp < 0x10000 || cp > 0x10FFFF) len = 0;
    }
    if (len == 0) {
      out.push_back(u'\uFFFD');
      i += 1;
    } else if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
      i += len;
    } else {
      out.push_back(static_cast<char16_t>(cp));
      i += len;
    }
  }
  return out;
}

// JavaScript's order for two strings. When either is ASCII, comparing their bytes gives the
// UTF-16 order: they agree up to the first byte that differs, where the ASCII one has an ASCII
// character or has ended and the other has an ASCII character (same order either way) or a
// byte >= 0x80, which starts a unit >= 0x80 (a code point, a surrogate or U+FFFD) that sorts
// after any ASCII character, as the byte does. Twilio's field names and almost every value are
// ASCII, so UTF-16 units are made only for the rare pair of non-ASCII strings (two SMS bodies
// in Spanish as values of one repeated key, say).
bool js_less(const std::string& a, bool a_ascii, const std::string& b, bool b_ascii) {
  if (a_ascii || b_ascii) return a < b;
  const std::u16string ua = utf16_units(a), ub = utf16_units(b);
  if (ua != ub) return ua < ub;
  return a < b;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

/// Every key+value in the library's order: what is signed after the URL. Keys sorted, and for
/// each key its distinct values sorted: the fields sorted by (key, value), repeats skipped.
std::string signed_fields(const FormFields& fields) {
  struct Entry {
    const std::string* key;
    const std::string* value;
    bool key_ascii, value_ascii;
  };
  std::vector<Entry> entries;
  entries.reserve(fields.size());
  std::size_t total = 0;
  for (const auto& field : fields) {
    entries.push_back({&field.first, &field.second, is_ascii(field.first), is_ascii(field.second)});
    total += field.first.size() + field.second.size();
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (*a.key != *b.key) return js_less(*a.key, a.key_ascii, *b.key, b.key_ascii);
    return js_less(*a.value, a.value_ascii, *b.value, b.value_ascii);
  });
  std::string data;
  data.reserve(total);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    // A repeated key contributes each distinct value once (the library's `new Set(values)`).
    if (i > 0 && *entries[i - 1].key == *e.key && *entries[i - 1].value == *e.value) continue;
    data += *e.key;
    data += *e.value;
  }
  return data;
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(written < 0 ? 0 : static_cast<std::size_t>(written));
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0F]);
  }
  return out;
}

/// base64(HMAC-SHA1(auth_token, url + fields)).
/// Empty if OpenSSL fails, which no signature equals.
std::string signature_of(std::string_view auth_token, std::string_view url, std::string_view fields) {
  crypto::PreparedHmac::Mac mac{};
  unsigned int size = 0;
  try {
    // An empty token still hashes (as in the npm library).
    size = crypto::PreparedHmac::cached(crypto::PreparedHmac::Digest::sha1, auth_token).mac({url, fields}, mac);
  } catch (const std::exception&) {
    return {};
  }
  return base64(mac.data(), size);
}

/// Constant-time equality. The length check may leak, but lengths are fixed by the algorithm
/// (28 base64 characters, 64 hex digits) and are not secret.
bool ct_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// scheme://[userinfo@]host[:port]rest, split without normalising anything (the same split as
/// the npm library's splitUrl). nullopt when the URL has no "scheme://".
struct UrlParts {
  std::string_view scheme;    // "https://"
  std::string_view userinfo;  // "user:pw@" or ""
  std::string_view host;      // "example.com" or "[::1]"
  std::string_view port;      // ":443" or ""
  std::string_view rest;      // "/path?query"
};

std::optional<UrlParts> split_url(std::string_view url) {
  std::size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  if (!std::isalpha(static_cast<unsigned char>(url[0]))) return std::nullopt;
  for (std::size_t i = 1; i < sep; ++i) {
    unsigned char c = static_cast<unsigned char>(url[i]);
    if (!std::isalnum(c) && c != '+' && c != '.' && c != '-') return std::nullopt;
  }
  UrlParts p;
  p.scheme = url.substr(0, sep + 3);
  std::size_t auth_start = sep + 3;
  std::size_t auth_end = url.find_first_of("/?#", auth_start);
  if (auth_end == std::string_view::npos) auth_end = url.size();
  std::string_view authority = url.substr(auth_start, auth_end - auth_start);
  std::size_t at = authority.rfind('@');
  std::size_t host_start = at == std::string_view::npos ? 0 : at + 1;
  p.userinfo = authority.substr(0, host_start);
  std::string_view host_port = authority.substr(host_start);
  // A colon only starts the port after the closing bracket of an IPv6 literal.
  std::size_t bracket = host_port.rfind(']');
  std::size_t colon = host_port.find(':', bracket == std::string_view::npos ? 0 : bracket + 1);
  p.host = host_port.substr(0, colon);
  p.port = colon == std::string_view::npos ? std::string_view{} : host_port.substr(colon);
  p.rest = url.substr(auth_end);
  return p;
}

std::string join(const UrlParts& p, std::string_view port) {
  std::string out;
  out.reserve(p.scheme.size() + p.userinfo.size() + p.host.size() + port.size() + p.rest.size());
  out.append(p.scheme).append(p.userinfo).append(p.host).append(port).append(p.rest);
  return out;
}

/// The library's addPort: the URL with the scheme's standard port when it names none (":443"
/// for https, ":80" for anything else, as the library does).
std::string add_port(std::string_view url) {
  const auto parts = split_url(url);
  if (!parts || !parts->port.empty()) return std::string(url);
  const bool https = parts->scheme.size() == 8 && std::equal(parts->scheme.begin(), parts->scheme.end(), "https://",
                                                             [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
  return join(*parts, https ? ":443" : ":80");
}

/// The library's removePort: the URL without whatever port it names, default or not.
std::string remove_port(std::string_view url) {
  const auto parts = split_url(url);
  return parts ? join(*parts, {}) : std::string(url);
}

/// Candidate URLs in the order the library tries them, each once. The URL as received first
/// (with and without its port): the string Twilio signed, so almost every webhook matches on
/// the first HMAC. The normalised forms (normalized_url(), and its query re-encoded the legacy
/// way) are made only if those fail.
std::vector<std::string> as_received(std::string_view url) {
  std::vector<std::string> out{remove_port(url)};
  if (std::string with = add_port(url); with != out[0]) out.push_back(std::move(with));
  return out;
}
std::vector<std::string> as_normalized(std::string_view url, const std::vector<std::string>& tried) {
  std::vector<std::string> out;
  auto add = [&](std::string candidate) {
    if (std::find(tried.begin(), tried.end(), candidate) != tried.end()) return;
    if (std::find(out.begin(), out.end(), candidate) != out.end()) return;
    out.push_back(std::move(candidate));
  };
  const auto normalized = normalized_url(url);
  if (!normalized) return out;
  const std::string without = remove_port(*normalized), with = add_port(*normalized);
  add(without);
  add(with);
  add(with_legacy_query(without));
  add(with_legacy_query(with));
  return out;
}

/// The first value of `name` in the URL's query string, raw (not %-decoded: the only use is a
/// hex digest, which never needs escaping).
std::optional<std::string_view> query_param(std::string_view url, std::string_view name) {
  std::size_t q = url.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    std::size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

std::string compute_signature(std::string_view auth_token, std::string_view url, const FormFields& fields) {
  return signature_of(auth_token, url, signed_fields(fields));
}

bool validate_signature(std::string_view auth_token, std::string_view url, const FormFields& fields,
                        std::string_view signature, std::string_view raw_body) {
  // An empty header is never valid, whatever an empty token or URL would hash to.
  if (signature.empty()) return false;

  const FormFields no_fields;
  const FormFields* fields_signed = &fields;
  if (auto expected_hash = query_param(url, "bodySHA256")) {
    // JSON-body variant: the URL alone is signed and it pins the body by hash. A request is
    // either a form (signed field by field) or hashed, never both: form fields here would be
    // covered by neither the signature nor the hash, so refuse them.
    if (!fields.empty()) return false;
    // Compared as the libraries do: the lower-case hex digest, exactly (the value is percent-
    // decoded first, as URLSearchParams.get does; a hex digest has nothing to decode).
    if (!ct_equal(*expected_hash, sha256_hex(raw_body))) return false;
    fields_signed = &no_fields;
  }

  // The URL as configured first (what Twilio signs for SMS and voice webhooks), then with or
  // without the default port. Stopping at the first match is safe: both URLs are public, so the
  // time taken tells an attacker nothing it did not know, and each comparison is constant-time.
  // It saves an HMAC of the whole request on almost every webhook. The fields are sorted and
  // joined once for all candidates.
  const std::string data = signed_fields(*fields_signed);
  const std::vector<std::string> received = as_received(url);
  for (const auto& candidate : received) {
    if (ct_equal(signature_of(auth_token, candidate, data), signature)) return true;
  }
  for (const auto& candidate : as_normalized(url, received)) {
    if (ct_equal(signature_of(auth_token, candidate, data), signature)) return true;
  }
  return false;
}

}  // namespace hotline::twilio
