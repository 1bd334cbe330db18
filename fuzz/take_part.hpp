#pragma once
// Fuzz inputs that carry several strings separate them with NUL bytes.
#include <string_view>

/// The part of `rest` before its first NUL (or all of it); `rest` moves past that NUL.
inline std::string_view take(std::string_view& rest) {
  auto at = rest.find('\0');
  auto part = rest.substr(0, at);
  rest = at == std::string_view::npos ? std::string_view{} : rest.substr(at + 1);
  return part;
}
