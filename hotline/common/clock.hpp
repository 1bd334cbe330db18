#pragma once
// Time as the hotline sees it. HOTLINE_NOW (ISO 8601) pins it, so tests and `hotline simulate`
// are repeatable.
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

namespace hotline {

using Clock = std::function<std::int64_t()>;  // Unix milliseconds

std::int64_t system_now_ms();

/// "2026-11-29T14:05:00Z", "2026-11-29T08:05:00-06:00" or with fractions; nullopt otherwise.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text);

/// The system clock, or a fixed one when `pinned` (HOTLINE_NOW) is set.
Clock make_clock(std::optional<std::int64_t> pinned);

}  // namespace hotline
