#include "hotline/twilio/url_forms.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <utility>
#include <vector>

namespace hotline::twilio {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void percent_encode_byte(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 0x0F]);
}

bool is_c0_or_above_tilde(unsigned char c) { return c < 0x20 || c > 0x7E; }

// The WHATWG URL standard's percent-encode sets, for the parts a webhook URL has.
bool in_userinfo_set(unsigned char c) {
  return is_c0_or_above_tilde(c) || std::string_view(" \"#<>?`{}/:;=@[\\]^|").find(static_cast<char>(c)) != std::string_view::npos;
}
bool in_path_set(unsigned char c) {
  return is_c0_or_above_tilde(c) || std::string_view(" \"#<>?`{}").find(static_cast<char>(c)) != std::string_view::npos;
}
bool in_special_query_set(unsigned char c) {
  return is_c0_or_above_tilde(c) || std::string_view(" \"#<>'").find(static_cast<char>(c)) != std::string_view::npos;
}
bool in_fragment_set(unsigned char c) {
  return is_c0_or_above_tilde(c) || std::string_view(" \"<>`").find(static_cast<char>(c)) != std::string_view::npos;
}

template <typename InSet>
void append_encoded(std::string& out, std::string_view text, InSet in_set) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (in_set(c)) {
      percent_encode_byte(out, c);
    } else {
      out.push_back(ch);
    }
  }
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// %XX sequences to bytes; a `%` not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

/// Bytes as UTF-8, each ill-formed part (its maximal subpart) replaced by U+FFFD, as Node's
/// Buffer.toString('utf8') does.
std::string valid_utf8(std::string_view s) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      out.push_back(s[i++]);
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      out += kReplacement;
      ++i;
      continue;
    }
    std::size_t k = 1;
    for (; k <= need && i + k < s.size(); ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
      if (b < min || b > max) break;
    }
    if (k == need + 1) {
      out.append(s.substr(i, k));
    } else {
      out += kReplacement;
    }
    i += k;
  }
  return out;
}

/// An IPv6 literal (without its brackets) as the URL standard serialises it: lower-case hex,
/// no leading zeros, the first longest run of two or more zero pieces as "::".
std::optional<std::string> ipv6(std::string_view literal) {
  std::array<unsigned char, 16> bytes{};
  const std::string text(literal);
  if (::inet_pton(AF_INET6, text.c_str(), bytes.data()) != 1) return std::nullopt;
  std::array<unsigned, 8> pieces{};
  for (int i = 0; i < 8; ++i) pieces[i] = (bytes[2 * i] << 8) | bytes[2 * i + 1];
  int best_start = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (pieces[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && pieces[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  static constexpr char kLowerHex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += i == 0 ? "::" : ":";
      i += best_len - 1;
      continue;
    }
    std::string piece;
    unsigned v = pieces[i];
    do {
      piece.insert(piece.begin(), kLowerHex[v & 0xF]);
      v >>= 4;
    } while (v != 0);
    out += piece;
    if (i != 7) out += ':';
  }
  return out;
}

/// The host of a special URL, or nullopt where the parser would fail or need IDNA.
std::optional<std::string> host_of(std::string_view raw) {
  if (raw.empty()) return std::nullopt;
  if (raw.front() == '[') {
    if (raw.back() != ']') return std::nullopt;
    const auto v6 = ipv6(raw.substr(1, raw.size() - 2));
    if (!v6) return std::nullopt;
    return "[" + *v6 + "]";
  }
  const std::string host = lower(percent_decode(raw));
  for (const char ch : host) {
    const auto c = static_cast<unsigned char>(ch);
    // Non-ASCII needs IDNA (not done here); the rest are the standard's forbidden domain points.
    if (c >= 0x7F || c <= 0x20 || std::string_view("#%/:<>?@[\\]^|").find(ch) != std::string_view::npos) {
      return std::nullopt;
    }
  }
  return host;
}

bool is_single_dot(std::string_view s) { return s == "." || lower(s) == "%2e"; }
bool is_double_dot(std::string_view s) {
  const std::string l = lower(s);
  return l == ".." || l == ".%2e" || l == "%2e." || l == "%2e%2e";
}

/// A special URL's path ("" or starting with '/' or '\'), serialised: '\' read as '/', dot
/// segments resolved, each segment percent-encoded.
std::string path_of(std::string_view raw) {
  std::vector<std::string> segments;
  std::string text(raw);
  std::replace(text.begin(), text.end(), '\\', '/');
  std::string_view rest(text);
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  for (;;) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (is_double_dot(segment)) {
      if (!segments.empty()) segments.pop_back();
      if (last) segments.emplace_back();
    } else if (is_single_dot(segment)) {
      if (last) segments.emplace_back();
    } else {
      std::string encoded;
      append_encoded(encoded, segment, in_path_set);
      segments.push_back(std::move(encoded));
    }
    if (last) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out;
  for (const auto& s : segments) out += "/" + s;
  return out.empty() ? "/" : out;
}

std::string_view default_port_of(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return "80";
  if (scheme == "https" || scheme == "wss") return "443";
  if (scheme == "ftp") return "21";
  return {};
}

/// Node's querystring.escape: UTF-8 bytes percent-encoded but for A-Z a-z 0-9 - . _ ~ ! ' ( ) *.
void append_query_escaped(std::string& out, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || std::string_view("-._~!'()*").find(ch) != std::string_view::npos) {
      out.push_back(ch);
    } else {
      percent_encode_byte(out, c);
    }
  }
}

/// A JavaScript array index ("0", "17", not "017" nor 2^32 - 1): such object keys come first,
/// in numeric order, whatever order they were added in.
bool is_array_index(const std::string& key) {
  if (key.empty() || key.size() > 10 || !std::all_of(key.begin(), key.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  if (key.size() > 1 && key[0] == '0') return false;
  return std::stoull(key) < 4294967295ull;
}

}  // namespace

std::optional<std::string> normalized_url(std::string_view url) {
  // The parser drops leading and trailing C0 controls and spaces, and tabs and newlines anywhere.
  while (!url.empty() && static_cast<unsigned char>(url.front()) <= 0x20) url.remove_prefix(1);
  while (!url.empty() && static_cast<unsigned char>(url.back()) <= 0x20) url.remove_suffix(1);
  std::string input;
  for (const char c : url) {
    if (c != '\t' && c != '\n' && c != '\r') input.push_back(c);
  }
  const std::size_t colon = input.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string scheme = lower(std::string_view(input).substr(0, colon));
  const std::string_view default_port = default_port_of(scheme);
  if (default_port.empty()) return std::nullopt;

  std::string_view rest = std::string_view(input).substr(colon + 1);
  while (!rest.empty() && (rest.front() == '/' || rest.front() == '\\')) rest.remove_prefix(1);
  const std::size_t authority_end = std::min(rest.find_first_of("/\\?#"), rest.size());
  const std::string_view authority = rest.substr(0, authority_end);
  rest.remove_prefix(authority_end);

  std::string userinfo;
  std::string_view host_port = authority;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view credentials = authority.substr(0, at);
    host_port = authority.substr(at + 1);
    const std::size_t sep = credentials.find(':');
    std::string user, password;
    append_encoded(user, credentials.substr(0, sep), in_userinfo_set);
    if (sep != std::string_view::npos) append_encoded(password, credentials.substr(sep + 1), in_userinfo_set);
    if (!user.empty() || !password.empty()) userinfo = user + (password.empty() ? "" : ":" + password) + "@";
  }
  const std::size_t bracket = host_port.rfind(']');
  const std::size_t port_colon = host_port.find(':', bracket == std::string_view::npos ? 0 : bracket + 1);
  const auto host = host_of(host_port.substr(0, port_colon));
  if (!host) return std::nullopt;
  std::string port;
  if (port_colon != std::string_view::npos) {
    const std::string_view digits = host_port.substr(port_colon + 1);
    if (!std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); })) return std::nullopt;
    if (!digits.empty()) {
      std::size_t value = 0;
      for (const char d : digits) {
        value = value * 10 + static_cast<std::size_t>(d - '0');
        if (value > 65535) return std::nullopt;
      }
      if (std::to_string(value) != default_port) port = ":" + std::to_string(value);
    }
  }

  const std::size_t hash = rest.find('#');
  const std::string_view before_fragment = rest.substr(0, hash);
  const std::size_t question = before_fragment.find('?');
  std::string out = scheme + "://" + userinfo + *host + port + path_of(before_fragment.substr(0, question));
  if (question != std::string_view::npos) {
    out += '?';
    append_encoded(out, before_fragment.substr(question + 1), in_special_query_set);
  }
  if (hash != std::string_view::npos) {
    out += '#';
    append_encoded(out, rest.substr(hash + 1), in_fragment_set);
  }
  return out;
}

std::string with_legacy_query(std::string_view url) {
  const std::size_t question = url.find('?');
  if (question == std::string_view::npos || question + 1 == url.size()) return std::string(url);
  // querystring.parse: keys in first-seen order, a repeated key's values in order.
  std::vector<std::pair<std::string, std::vector<std::string>>> fields;
  auto decode = [](std::string_view s) {
    std::string spaced(s);
    std::replace(spaced.begin(), spaced.end(), '+', ' ');
    return valid_utf8(percent_decode(spaced));
  };
  std::string_view query = url.substr(question + 1);
  std::size_t pairs = 0;
  for (;;) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty() && pairs < 1000) {  // the parser's maxKeys
      ++pairs;
      const std::size_t eq = pair.find('=');
      std::string key = decode(pair.substr(0, eq));
      std::string value = eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
      auto it = std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
      if (it == fields.end()) {
        fields.push_back({std::move(key), {std::move(value)}});
      } else {
        it->second.push_back(std::move(value));
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  // querystring.stringify walks Object.keys(): array indices first, numerically.
  std::stable_partition(fields.begin(), fields.end(), [](const auto& f) { return is_array_index(f.first); });
  const auto indices_end = std::find_if(fields.begin(), fields.end(), [](const auto& f) { return !is_array_index(f.first); });
  std::sort(fields.begin(), indices_end, [](const auto& a, const auto& b) { return std::stoull(a.first) < std::stoull(b.first); });

  std::string out(url.substr(0, question + 1));
  bool first = true;
  for (const auto& [key, values] : fields) {
    for (const auto& value : values) {
      if (!first) out += '&';
      first = false;
      append_query_escaped(out, key);
      out += '=';
      append_query_escaped(out, value);
    }
  }
  return out;
}

}  // namespace hotline::twilio
