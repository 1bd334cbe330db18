#include "hotline/prompts/segments.hpp"

#include <algorithm>
#include <array>

#include "hotline/common/utf8.hpp"

namespace hotline::prompts {
namespace {

// GSM 03.38 basic character set (one septet each), as code points.
constexpr char32_t kGsmBasic[] = {
    U'@', U'£', U'$', U'¥', U'è', U'é', U'ù', U'ì', U'ò', U'Ç', U'\n', U'Ø', U'ø', U'\r', U'Å', U'å',
    U'Δ', U'_', U'Φ', U'Γ', U'Λ', U'Ω', U'Π', U'Ψ', U'Σ', U'Θ', U'Ξ', U'Æ', U'æ', U'ß', U'É', U' ',
    U'!', U'"', U'#', U'¤', U'%', U'&', U'\'', U'(', U')', U'*', U'+', U',', U'-', U'.', U'/', U':',
    U';', U'<', U'=', U'>', U'?', U'¡', U'Ä', U'Ö', U'Ñ', U'Ü', U'§', U'¿', U'ä', U'ö', U'ñ', U'ü',
    U'à'};
// The extension table: each costs an escape plus the character.
constexpr char32_t kGsmExtended[] = {U'^', U'{', U'}', U'\\', U'[', U'~', U']', U'|', U'€', U'\f'};

constexpr int gsm_septets_slow(char32_t cp) {
  if ((cp >= U'0' && cp <= U'9') || (cp >= U'A' && cp <= U'Z') || (cp >= U'a' && cp <= U'z')) {
    return 1;
  }
  if (std::find(std::begin(kGsmBasic), std::end(kGsmBasic), cp) != std::end(kGsmBasic)) return 1;
  if (std::find(std::begin(kGsmExtended), std::end(kGsmExtended), cp) != std::end(kGsmExtended)) {
    return 2;
  }
  return 0;  // not representable in GSM-7
}

// Every reply is counted for the log, so Latin-1 (all of English and Spanish) is a table.
struct Latin1Septets {
  std::array<signed char, 256> septets{};
  constexpr Latin1Septets() {
    for (char32_t cp = 0; cp < 256; ++cp) septets[cp] = static_cast<signed char>(gsm_septets_slow(cp));
  }
};
constexpr Latin1Septets kLatin1Septets;

int gsm_septets(char32_t cp) {
  return cp < 256 ? kLatin1Septets.septets[cp] : gsm_septets_slow(cp);
}

int segments_for(int units, int single, int split) {
  if (units == 0) return 0;
  if (units <= single) return 1;
  return (units + split - 1) / split;
}

}  // namespace

int characters_in(Encoding encoding, int parts) {
  const int single = encoding == Encoding::gsm7 ? 160 : 70;
  const int split = encoding == Encoding::gsm7 ? 153 : 67;
  return parts <= 1 ? single : parts * split;
}

std::string over_the_limit(std::string_view utf8, Lang lang) {
  const SegmentCount count = count_segments(utf8);
  if (count.segments <= kMaxAnswerSegments) return {};
  const int limit = characters_in(count.encoding, kMaxAnswerSegments);
  std::string out = std::to_string(count.units) + " characters; the limit for a " +
                    std::to_string(kMaxAnswerSegments) + "-part " +
                    (lang == Lang::es ? "Spanish" : "English") + " text is " + std::to_string(limit) +
                    ": cut " + std::to_string(count.units - limit);
  if (count.encoding == Encoding::ucs2) {
    // Name the character that cost the text more than half its room: it may be a curly quote
    // the editor typed, which staff can replace, rather than an accent the words need.
    std::string_view culprit;
    for (std::size_t i = 0; i < utf8.size() && culprit.empty();) {
      const std::size_t start = i;
      const char32_t cp = next_code_point(utf8, i);
      if (cp == kInvalidCodePoint || gsm_septets(cp) == 0) culprit = utf8.substr(start, i - start);
    }
    out += " ('" + std::string(culprit) + "' is not in the basic SMS alphabet, GSM-7, so the whole text goes as UCS-2: " +
           std::to_string(characters_in(Encoding::ucs2, 2) / 2) + " characters a part instead of " +
           std::to_string(characters_in(Encoding::gsm7, 2) / 2) + ")";
  }
  return out;
}

SegmentCount count_segments(std::string_view utf8) {
  int septets = 0;
  int utf16_units = 0;
  bool gsm = true;
  for (std::size_t i = 0; i < utf8.size();) {
    char32_t cp = next_code_point(utf8, i);
    if (cp == kInvalidCodePoint) cp = U'\uFFFD';
    utf16_units += cp > 0xFFFF ? 2 : 1;
    int s = gsm_septets(cp);
    if (s == 0) gsm = false;
    septets += s;
  }
  if (gsm) return {Encoding::gsm7, septets, segments_for(septets, 160, 153)};
  return {Encoding::ucs2, utf16_units, segments_for(utf16_units, 70, 67)};
}

}  // namespace hotline::prompts
