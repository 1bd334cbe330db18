#include "hotline/common/clock.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace hotline {

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parse_iso8601_ms(std::string_view text) {
  int y, mo, d, h, mi, consumed = 0;
  double s;
  std::string str(text);
  if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s < 0 || s >= 61) return std::nullopt;
  std::string_view zone = text.substr(consumed);
  int offset_minutes = 0;
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int zh = std::stoi(std::string(zone.substr(1, 2))), zm = std::stoi(std::string(zone.substr(4, 2)));
    offset_minutes = (zone[0] == '-' ? -1 : 1) * (zh * 60 + zm);
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  using namespace std::chrono;
  auto days = sys_days{year{y} / month{static_cast<unsigned>(mo)} / day{static_cast<unsigned>(d)}};
  if (!year_month_day{days}.ok()) return std::nullopt;
  auto ms = duration_cast<milliseconds>(days.time_since_epoch()).count() +
            (static_cast<std::int64_t>(h) * 3600 + mi * 60 - offset_minutes * 60) * 1000 +
            static_cast<std::int64_t>(s * 1000 + 0.5);
  return ms;
}

Clock make_clock(std::optional<std::int64_t> pinned) {
  if (pinned) return [ms = *pinned] { return ms; };
  return system_now_ms;
}

}  // namespace hotline
