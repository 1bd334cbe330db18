#pragma once
// `hotline roster`: who takes texts and calls now, and the week's coverage with its gaps.

#include <cstdint>
#include <optional>
#include <string>

#include "hotline/routing/roster.hpp"

namespace hotline::cli {

/// `--at TIME` as `hotline roster` and `hotline simulate` read it: an ISO 8601 time with its
/// zone, or a day and time in the roster's time zone ("tue 02:00", the next one from `now_ms`).
std::optional<std::int64_t> parse_at(const std::string& text, const routing::Roster& roster, std::int64_t now_ms);

/// What to say when parse_at cannot read `--at`.
extern const char* const kAtHelp;

/// Runs `hotline roster` with argv[2…] as its options; returns the exit status.
int roster_command(int argc, char** argv);

}  // namespace hotline::cli
