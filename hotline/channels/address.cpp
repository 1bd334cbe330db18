#include "hotline/channels/address.hpp"

#include <algorithm>

#include "hotline/crypto/keys.hpp"

namespace hotline::channels {
namespace {

constexpr std::string_view kWhatsAppScheme = "whatsapp:";

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool all_digits(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_digit); }

std::string_view trim_start(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}
std::string_view trim_end(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// A phone number, its end already trimmed: E.164 after leading whitespace, or digits after
/// exactly one space, which is what form decoding makes of an unencoded "+".
std::optional<std::string> phone_number(std::string_view s) {
  if (s.size() >= 2 && s[0] == ' ' && is_digit(s[1])) {
    std::string number = "+" + std::string(s.substr(1));
    if (is_e164(number)) return number;
    return std::nullopt;
  }
  s = trim_start(s);
  if (is_e164(s)) return std::string(s);
  return std::nullopt;
}

}  // namespace

bool is_e164(std::string_view number) {
  return number.size() >= 8 && number.size() <= 16 && number[0] == '+' && number[1] != '0' &&
         all_digits(number.substr(1));
}

std::optional<std::string> normalize_address(std::string_view from) {
  from = trim_end(from);
  // A space before digits can only be a + (" 1234" is not the short code 1234).
  if (from.size() >= 2 && from[0] == ' ' && is_digit(from[1])) return phone_number(from);
  if (auto number = phone_number(from)) return number;
  const std::string_view trimmed = trim_start(from);
  if (trimmed.size() >= 3 && trimmed.size() <= 6 && all_digits(trimmed)) return std::string(trimmed);

  const auto colon = trimmed.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string scheme(trimmed.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
  const std::string_view rest = trimmed.substr(colon + 1);
  if (scheme == "whatsapp") {
    if (auto number = phone_number(rest)) return "whatsapp:" + *number;
  } else if (scheme == "messenger") {
    if (rest.size() <= 64 && all_digits(rest)) return "messenger:" + std::string(rest);
  }
  return std::nullopt;
}

bool is_whatsapp(std::string_view address) { return address.starts_with(kWhatsAppScheme); }

std::string person_of(std::string_view address) {
  if (is_whatsapp(address)) address.remove_prefix(kWhatsAppScheme.size());
  return std::string(address);
}

std::string contact_key_of(std::string_view secret, std::string_view address) {
  return crypto::contact_key(secret, person_of(address));
}

std::optional<std::string> legacy_whatsapp_key_of(std::string_view secret, std::string_view address) {
  const std::string person = person_of(address);
  if (!is_e164(person)) return std::nullopt;
  return crypto::contact_key(secret, std::string(kWhatsAppScheme) + person);
}

}  // namespace hotline::channels
