#pragma once
// How many SMS segments a text costs, counted as Twilio and carriers do: GSM-7 when every
// character is in the GSM 03.38 alphabet (160 a segment, 153 when split; ^{}[]~|€\ count two),
// otherwise UCS-2 (70 a segment, 67 when split; characters outside the BMP count two).
#include <string>
#include <string_view>

#include "hotline/common/lang.hpp"

namespace hotline::prompts {

enum class Encoding { gsm7, ucs2 };

struct SegmentCount {
  Encoding encoding = Encoding::gsm7;
  int units = 0;     // septets for GSM-7, UTF-16 code units for UCS-2
  int segments = 0;  // 0 for an empty text
};

SegmentCount count_segments(std::string_view utf8);

inline constexpr int kMaxAnswerSegments = 3;

/// The most characters `parts` SMS segments carry: 3 parts hold 459 GSM-7 or 201 UCS-2 characters.
int characters_in(Encoding encoding, int parts);

/// How far a text is over three segments, in the words staff use: "233 characters; the limit
/// for a 3-part Spanish text is 201: cut 32", and, for a UCS-2 text, which character made the
/// limit 201 rather than 459. Empty when the text fits.
std::string over_the_limit(std::string_view utf8, Lang lang);

}  // namespace hotline::prompts
