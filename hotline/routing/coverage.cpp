#include "hotline/routing/coverage.hpp"

#include <cstdio>

namespace hotline::routing {
namespace {

constexpr int kDay = 24 * 60;
constexpr const char* kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

std::string clock(int minute_of_day) {
  char text[8];
  std::snprintf(text, sizeof text, "%02d:%02d", minute_of_day / 60, minute_of_day % 60);
  return text;
}

bool takes(const Advocate& a, Lang lang, Channel channel) {
  return a.speaks(lang) && (channel == Channel::sms ? a.sms : a.voice);
}

}  // namespace

namespace {

// A minute-by-minute map of the week: 10,080 flags, simpler than merging intervals that wrap
// over Sunday midnight, and small.
std::vector<bool> covered_minutes(const std::vector<Advocate>& advocates, Lang lang, Channel channel) {
  std::vector<bool> covered(kMinutesPerWeek, false);
  for (const auto& a : advocates) {
    if (!takes(a, lang, channel)) continue;
    for (const auto& s : a.shifts) {
      for (int m = s.start; m < s.end; ++m) covered[static_cast<std::size_t>(m % kMinutesPerWeek)] = true;
    }
  }
  return covered;
}

// The runs of minutes whose flag is `wanted`, a run over Sunday midnight listed where it starts.
std::vector<WeekSpan> runs(const std::vector<bool>& covered, bool wanted) {
  std::vector<WeekSpan> out;
  for (int m = 0; m < kMinutesPerWeek;) {
    if (covered[static_cast<std::size_t>(m)] != wanted) {
      ++m;
      continue;
    }
    int end = m;
    while (end < kMinutesPerWeek && covered[static_cast<std::size_t>(end)] == wanted) ++end;
    out.push_back({m, end});
    m = end;
  }
  if (out.size() > 1 && out.front().start == 0 && out.back().end == kMinutesPerWeek) {
    out.back().end = kMinutesPerWeek + out.front().end;
    out.erase(out.begin());
  }
  return out;
}

}  // namespace

std::vector<WeekSpan> coverage_gaps(const std::vector<Advocate>& advocates, Lang lang, Channel channel) {
  return runs(covered_minutes(advocates, lang, channel), false);
}

std::vector<WeekSpan> coverage_spans(const std::vector<Advocate>& advocates, Lang lang, Channel channel) {
  return runs(covered_minutes(advocates, lang, channel), true);
}

std::string week_spans_text(const std::vector<WeekSpan>& spans) {
  std::string out;
  for (std::size_t i = 0; i < spans.size();) {
    // Spans on consecutive days at the same hours, each within its day: "Mon–Fri 09:00–17:00".
    std::size_t j = i;
    auto same_hours_next_day = [&](const WeekSpan& a, const WeekSpan& b) {
      return b.start == a.start + kDay && b.end == a.end + kDay && a.end - a.start < kDay &&
             (a.end - 1) / kDay == a.start / kDay && (b.end - 1) / kDay == b.start / kDay;
    };
    while (j + 1 < spans.size() && same_hours_next_day(spans[j], spans[j + 1])) ++j;
    if (!out.empty()) out += ", ";
    const std::string first = week_span_text(spans[i]);
    if (j == i) {
      out += first;
    } else {
      out += first.substr(0, 3) + (j == i + 1 ? "," : "–") + kDays[spans[j].start / kDay] + first.substr(3);
    }
    i = j + 1;
  }
  return out;
}

std::string week_span_text(const WeekSpan& span) {
  if (span.start == 0 && span.end == kMinutesPerWeek) return "all week";
  const int start_day = span.start / kDay;
  const std::string from = std::string(kDays[start_day]) + " " + clock(span.start % kDay);
  // Within one day (ending at its midnight at the latest): the day once.
  if (span.end - span.start <= kDay && (span.end - 1) / kDay == start_day) {
    return from + "–" + (span.end % kDay == 0 ? std::string("24:00") : clock(span.end % kDay));
  }
  const int end = span.end % kMinutesPerWeek;
  return from + "–" + kDays[end / kDay] + " " + clock(end % kDay);
}

}  // namespace hotline::routing
