#pragma once
// The week's coverage, for `hotline roster`: when somebody takes texts or calls in a language,
// and the gaps when nobody does. Pure: minutes of the roster's local week, no clock, no I/O.
#include <string>
#include <vector>

#include "hotline/common/lang.hpp"
#include "hotline/routing/roster.hpp"

namespace hotline::routing {

/// A stretch of the local week, in minutes from Monday 00:00. `end` passes kMinutesPerWeek for
/// a stretch that runs over Sunday midnight into Monday.
struct WeekSpan {
  int start = 0;
  int end = 0;
  bool operator==(const WeekSpan&) const = default;
};

/// When nobody who speaks `lang` and takes `channel` is on shift, in week order. A gap over
/// Sunday midnight is one span; the whole week uncovered is {0, kMinutesPerWeek}.
std::vector<WeekSpan> coverage_gaps(const std::vector<Advocate>& advocates, Lang lang, Channel channel);

/// When somebody who speaks `lang` and takes `channel` is on shift, in week order: the
/// complement of coverage_gaps, spans over Sunday midnight joined the same way.
std::vector<WeekSpan> coverage_spans(const std::vector<Advocate>& advocates, Lang lang, Channel channel);

/// The spans in words, days with the same hours joined: "Mon–Fri 09:00–17:00, Sat 10:00–14:00".
std::string week_spans_text(const std::vector<WeekSpan>& spans);

/// "Tue 02:00–09:00", "Fri 17:00–Mon 09:00", "Sat 14:00–24:00", or "all week".
std::string week_span_text(const WeekSpan& span);

}  // namespace hotline::routing
