#pragma once
// Minimal UTF-8 decoding shared by modules that count or fold characters.
#include <cstdint>
#include <string_view>

namespace hotline {

inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;

/// Decodes one code point at `i` and advances `i`. Invalid or truncated sequences, overlong
/// forms and surrogates yield kInvalidCodePoint and advance by one byte.
inline char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) { ++i; return b0; }
  int len = (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xE ? 3 : (b0 >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) { ++i; return kInvalidCodePoint; }
  char32_t cp = b0 & (0x7F >> len);
  for (int k = 1; k < len; ++k) {
    unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) { ++i; return kInvalidCodePoint; }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kInvalidCodePoint;
  }
  i += len;
  return cp;
}

inline bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (next_code_point(s, i) == kInvalidCodePoint) return false;
  }
  return true;
}

}  // namespace hotline
