#pragma once
// How many SMS segments a text costs, counted as Twilio and carriers do: GSM-7 when every
// character is in the GSM 03.38 alphabet (160 a segment, 153 when split; ^{}[]~|€\ count two),
// otherwise UCS-2 (70 a segment, 67 when split; characters outside the BMP count two).
#include <string_view>

namespace hotline::prompts {

enum class Encoding { gsm7, ucs2 };

struct SegmentCount {
  Encoding encoding = Encoding::gsm7;
  int units = 0;     // septets for GSM-7, UTF-16 code units for UCS-2
  int segments = 0;  // 0 for an empty text
};

SegmentCount count_segments(std::string_view utf8);

inline constexpr int kMaxAnswerSegments = 3;

}  // namespace hotline::prompts
