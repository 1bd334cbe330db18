// application/x-www-form-urlencoded bodies, as Twilio posts them to our webhooks.
//
// The parser is deliberately strict about the things that would make two readings of the
// same body disagree (a broken %-escape, a field with no '='), because the signature is
// computed over the *decoded* fields: if we guessed at a malformed body we could end up
// accepting a signature for fields we did not actually see. It is lenient only where every
// reader agrees (empty segments between '&'s are skipped, as the WHATWG URL standard and
// every form library do).
//
// Decisions, for the record:
//   - ""                → empty list (Twilio sends an empty body for some status callbacks).
//   - "a=1&&b=2", "a=1&" → empty segments are skipped.
//   - "a"               → nullopt. Twilio never sends a field without '=', and URLSearchParams
//                          would read it as a="" while PHP/Rails differ; rejecting avoids the
//                          ambiguity for a body that only a non-Twilio client could produce.
//   - "=v"              → one field with an empty key (kept: the signature covers it).
//   - '+'               → space, in keys and values.
//   - "%zz", "%4", "%"  → nullopt (bad escape).
//   - NUL, raw or %00   → nullopt: no legitimate field carries one, and C APIs downstream
//                          (SQLite text, logs) would silently truncate at it.
//   - other bytes       → kept as they are, including invalid UTF-8 ("values keep whatever
//                          bytes they carry"); validation of text is the caller's job.
#include "hotline/twilio/form.hpp"

#include <algorithm>

namespace hotline::twilio {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Decodes one key or value; nullopt on a bad escape or a NUL byte. Copies runs of ordinary
/// bytes at once rather than byte by byte (every webhook decodes ~40 of these).
std::optional<std::string> decode_component(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '+' && c != '%' && c != '\0') continue;
    out.append(in.data() + run, i - run);
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;  // fewer than two characters after '%'
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      char decoded = static_cast<char>((hi << 4) | lo);
      if (decoded == '\0') return std::nullopt;
      out.push_back(decoded);
      i += 2;
    } else {
      return std::nullopt;  // a raw NUL
    }
    run = i + 1;
  }
  out.append(in.data() + run, in.size() - run);
  return out;
}

}  // namespace

std::optional<FormFields> parse_form(std::string_view body) {
  FormFields fields;
  fields.reserve(static_cast<std::size_t>(std::count(body.begin(), body.end(), '&')) + 1);
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t amp = body.find('&', pos);
    if (amp == std::string_view::npos) amp = body.size();
    std::string_view segment = body.substr(pos, amp - pos);
    pos = amp + 1;
    if (segment.empty()) continue;
    std::size_t eq = segment.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    auto key = decode_component(segment.substr(0, eq));
    if (!key) return std::nullopt;
    // Only the first '=' separates; later ones belong to the value ("a=b=c" is a → "b=c").
    auto value = decode_component(segment.substr(eq + 1));
    if (!value) return std::nullopt;
    fields.emplace_back(std::move(*key), std::move(*value));
  }
  return fields;
}

std::string url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3 / 2);
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      // Space as %20 rather than '+': both decode to a space in a form body, and %20 is also
      // right when the same helper builds a URL path or query.
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0F]);
    }
  }
  return out;
}

std::string encode_form(const FormFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (!out.empty()) out.push_back('&');
    out += url_encode(key);
    out.push_back('=');
    out += url_encode(value);
  }
  return out;
}

std::optional<std::string> field(const FormFields& fields, std::string_view key) {
  for (const auto& [k, v] : fields) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace hotline::twilio
