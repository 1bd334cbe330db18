// `hotline roster [--at TIME]`: for staff planning shifts. Names, never phone numbers: the
// output may be pasted into a chat or a ticket.
#include "hotline/cli/roster_command.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "hotline/app/servable.hpp"
#include "hotline/cli/bundle_root.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/routing/coverage.hpp"

namespace hotline::cli {
namespace {

constexpr const char* kRosterHelp = R"(Usage: hotline roster [--at TIME] [--root DIR]

Shows who takes texts and calls at a time (now by default), in which languages, and the week's
coverage: when somebody takes English and Spanish texts and calls, and the gaps when nobody does.
Reads the advocates file `serve` uses (HOTLINE_ADVOCATES, else DIR/config/advocates.yaml).
Shows names (or ids), never phone numbers.
  --at TIME    a day and time in the roster's time zone, e.g. "tue 02:00" (the next one from
               now), or an ISO 8601 time with its zone, e.g. 2026-12-08T10:00:00-06:00
  --root DIR   where config/ is (default: the hotline folder, found from here up)
Exit status 1 when the advocates file has errors (they are printed as `hotline check` does).
)";

constexpr const char* kDayKeys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// "tue 02:00" as minutes from Monday 00:00; nullopt when it is not that form.
std::optional<int> day_and_time(const std::string& text) {
  char day[8] = {};
  int h = 0, m = 0, used = 0;
  if (std::sscanf(text.c_str(), "%3s %d:%d%n", day, &h, &m, &used) != 3 ||
      static_cast<std::size_t>(used) != text.size() || h < 0 || h > 23 || m < 0 || m > 59) {
    return std::nullopt;
  }
  for (int d = 0; d < 7; ++d) {
    if (lower(day) == kDayKeys[d]) return d * 24 * 60 + h * 60 + m;
  }
  return std::nullopt;
}

std::string language_name(Lang lang) { return lang == Lang::es ? "Spanish" : "English"; }

/// What staff call an advocate here: the name, else the id (a phone number never).
std::string shown_name(const routing::Advocate& a) { return a.name.empty() ? a.id : a.name; }

/// "texts and calls in Spanish and English (coordinator)", from what they take at all.
std::string what_they_take(const routing::Advocate& a, bool texts_now, bool calls_now) {
  std::string out = texts_now && calls_now ? "texts and calls" : texts_now ? "texts" : "calls";
  out += " in ";
  for (std::size_t i = 0; i < a.languages.size(); ++i) {
    if (i > 0) out += i + 1 == a.languages.size() ? " and " : ", ";
    out += language_name(a.languages[i]);
  }
  if (a.coordinator) out += " (coordinator)";
  return out;
}

bool on_shift_for(const routing::Roster& roster, const routing::Advocate& a, Channel channel, std::int64_t at) {
  for (Lang lang : a.languages) {
    for (const auto& other : roster.on_shift(lang, channel, at)) {
      if (other.id == a.id) return true;
    }
  }
  return false;
}

}  // namespace

const char* const kAtHelp =
    "--at takes a day and time in the roster's time zone, e.g. \"tue 02:00\", or an ISO 8601 time with "
    "its zone, e.g. 2026-12-08T10:00:00-06:00";

std::optional<std::int64_t> parse_at(const std::string& text, const routing::Roster& roster, std::int64_t now_ms) {
  if (auto iso = parse_iso8601_ms(text)) return iso;
  if (auto minute = day_and_time(lower(text))) return roster.next_local_time(*minute, now_ms);
  return std::nullopt;
}

int roster_command(int argc, char** argv) {
  std::string at_text, root;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kRosterHelp;
      return 0;
    }
    auto value = [&](const std::string& name) -> std::optional<std::string> {
      if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
      if (a == name && i + 1 < argc) return std::string(argv[++i]);
      return std::nullopt;
    };
    if (auto v = value("--at")) {
      at_text = *v;
    } else if (auto r = value("--root")) {
      root = *r;
    } else {
      std::cerr << "hotline: roster takes --at TIME and --root DIR, not '" << a << "' (see --help)\n";
      return 2;
    }
  }

  if (root.empty()) {  // like every command: the hotline folder, found from here up
    const auto found = find_bundle_root(std::filesystem::current_path());
    if (!found) {
      std::cerr << no_bundle_root_message(std::filesystem::current_path()) << "\n";
      return 2;
    }
    root = *found;
  }
  Diagnostics diags;
  const config::Config c = app::load_configuration({root, "", {}}, diags);
  Diagnostics roster_diags;
  const auto roster = app::load_bundle_roster(c, roster_diags);
  if (!roster) {
    std::cerr << roster_diags.to_string() << "hotline: the advocates file has errors; fix them and run `hotline check`\n";
    return 1;
  }

  const std::int64_t now = c.pinned_now_ms.value_or(system_now_ms());
  std::int64_t at = now;
  if (!at_text.empty()) {
    const auto parsed = parse_at(at_text, *roster, now);
    if (!parsed) {
      std::cerr << "hotline: " << kAtHelp << "\n";
      return 2;
    }
    at = *parsed;
  }

  const auto& advocates = roster->all();
  std::cout << "On shift " << roster->local_time_text(at) << " (" << roster->time_zone() << "):\n";
  bool anyone = false;
  for (const auto& a : advocates) {
    const bool texts = a.sms && on_shift_for(*roster, a, Channel::sms, at);
    const bool calls = a.voice && on_shift_for(*roster, a, Channel::voice, at);
    if (!texts && !calls) continue;
    anyone = true;
    std::cout << "  " << shown_name(a) << ": " << what_they_take(a, texts, calls) << "\n";
  }
  if (!anyone) std::cout << "  nobody: texters are told the hours, callers may leave a voicemail\n";

  std::cout << "\nEach week:\n";
  std::vector<std::string> gaps;
  for (Lang lang : kAllLangs) {
    for (Channel channel : {Channel::sms, Channel::voice}) {
      const std::string what = language_name(lang) + (channel == Channel::sms ? " texts" : " calls");
      const auto spans = routing::coverage_spans(advocates, lang, channel);
      std::cout << "  " << what << ": " << (spans.empty() ? "nobody" : routing::week_spans_text(spans)) << "\n";
      for (const auto& gap : routing::coverage_gaps(advocates, lang, channel)) {
        gaps.push_back("  " + routing::week_span_text(gap) + ": nobody for " + what + "\n");
      }
    }
  }
  std::cout << "\nGaps (" << gaps.size() << "):\n";
  for (const auto& line : gaps) std::cout << line;
  if (gaps.empty()) std::cout << "  none: somebody takes every language and channel all week\n";
  return 0;
}

}  // namespace hotline::cli
