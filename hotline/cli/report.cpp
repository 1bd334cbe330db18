#include "hotline/cli/report.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>

#include "hotline/app/servable.hpp"
#include "hotline/cli/bundle_root.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/common/diagnostic.hpp"
#include "hotline/config/config.hpp"
#include "hotline/routing/roster.hpp"

namespace hotline::cli {
namespace {

namespace chr = std::chrono;

constexpr const char* kReportHelp = R"(Usage: hotline report [--from DATE] [--to DATE] [--week] [--csv] [--root DIR] [--config FILE]

What people asked, per day (or per week with --week), from the counts the hotline keeps in its
database (HOTLINE_DB, as `serve` and `forget` find it; read only, never created): conversations
and messages by channel, language and topic, the share not understood, hand-offs asked and
taken and how long they waited, voicemails and opt-outs. Counts only: no number, no words.
Days are the hotline's (the roster's time zone, America/Chicago unless it names another).
  --from DATE   first day, YYYY-MM-DD (default: six days before --to)
  --to DATE     last day, YYYY-MM-DD (default: today)
  --week        one block per week, Monday to Sunday (cut to the days asked for)
  --csv         period,metric,topic,lang,channel,count rows for a spreadsheet instead
  --root DIR    where config/ is (default: the hotline folder, found from here up, else .);
                a relative HOTLINE_DB is under it
  --config FILE configuration file (default DIR/config/hotline.yaml)
)";

/// "2026-12-05" as a day, if it is one.
std::optional<chr::sys_days> parse_day(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int y = std::stoi(std::string(text.substr(0, 4)));
  const auto m = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  const auto d = static_cast<unsigned>(std::stoi(std::string(text.substr(8, 2))));
  const chr::year_month_day ymd{chr::year{y}, chr::month{m}, chr::day{d}};
  if (!ymd.ok()) return std::nullopt;
  return chr::sys_days{ymd};
}

std::string day_text(chr::sys_days day) {
  const chr::year_month_day ymd{day};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return out;
}

std::string weekday_text(chr::sys_days day) {
  static constexpr const char* kNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  return kNames[chr::weekday{day}.c_encoding()];
}

/// The periods of first..last: each day, or each Monday-to-Sunday week cut to the range.
std::vector<std::pair<chr::sys_days, chr::sys_days>> periods(chr::sys_days first, chr::sys_days last, bool weekly) {
  std::vector<std::pair<chr::sys_days, chr::sys_days>> out;
  for (chr::sys_days start = first; start <= last;) {
    chr::sys_days end = start;
    if (weekly) {
      while (end < last && chr::weekday{end} != chr::Sunday) end += chr::days{1};
    }
    out.emplace_back(start, end);
    start = end + chr::days{1};
  }
  return out;
}

/// The period a day belongs to (its first day), for counts read from the store.
std::string period_of(const std::string& day, bool weekly, chr::sys_days first) {
  if (!weekly) return day;
  const auto d = parse_day(day);
  if (!d) return day;
  chr::sys_days start = *d;
  while (start > first && chr::weekday{start} != chr::Monday) start -= chr::days{1};
  return day_text(start);
}

/// One period's counts, summed: metric -> (key -> n) for each way of breaking them down.
struct Totals {
  std::map<std::string, std::int64_t> total;                                    // metric
  std::map<std::string, std::map<std::string, std::int64_t>> by_channel, by_lang, by_topic;
  bool any = false;
};

std::map<std::string, Totals> sum_by_period(const std::vector<store::DailyCount>& counts, bool weekly,
                                            chr::sys_days first) {
  std::map<std::string, Totals> out;
  for (const auto& c : counts) {
    Totals& t = out[period_of(c.day, weekly, first)];
    t.any = true;
    t.total[c.metric] += c.n;
    t.by_channel[c.metric][c.channel] += c.n;
    t.by_lang[c.metric][c.lang] += c.n;
    t.by_topic[c.metric][c.topic] += c.n;
  }
  return out;
}

std::int64_t get(const std::map<std::string, std::int64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

/// "sms 4, voice 1" in a fixed order (then any other, by name), leaving out zeros.
std::string listed(const std::map<std::string, std::int64_t>& m, const std::vector<std::string>& order,
                   const std::map<std::string, std::string>& names = {}) {
  std::vector<std::string> keys = order;
  for (const auto& [k, n] : m) {
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  std::string out;
  for (const auto& k : keys) {
    const std::int64_t n = get(m, k);
    if (n == 0) continue;
    auto name = names.find(k);
    if (!out.empty()) out += ", ";
    out += (name != names.end() ? name->second : k) + " " + std::to_string(n);
  }
  return out;
}

/// Topics, the most asked first (ties by name); "" (nothing understood) is "none".
std::string topics(const std::map<std::string, std::int64_t>& m) {
  std::vector<std::pair<std::string, std::int64_t>> v;
  for (const auto& [topic, n] : m) v.emplace_back(topic.empty() ? "none" : topic, n);
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::string out;
  for (const auto& [topic, n] : v) {
    if (n == 0) continue;
    if (!out.empty()) out += ", ";
    out += topic + " " + std::to_string(n);
  }
  return out;
}

std::string duration_text(std::int64_t seconds) {
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) {
    return std::to_string(seconds / 60) + " min" + (seconds % 60 ? " " + std::to_string(seconds % 60) + " s" : "");
  }
  const std::int64_t minutes = (seconds + 30) / 60;
  return std::to_string(minutes / 60) + " h" + (minutes % 60 ? " " + std::to_string(minutes % 60) + " min" : "");
}

std::string line(const std::string& label, std::int64_t n, const std::string& detail = "") {
  std::string number = std::to_string(n);
  std::string out = "  " + label + std::string(label.size() < 16 ? 16 - label.size() : 1, ' ');
  out += std::string(number.size() < 5 ? 5 - number.size() : 0, ' ') + number;
  if (!detail.empty()) out += "   " + detail;
  return out + "\n";
}

const std::vector<std::string> kChannels = {"sms", "whatsapp", "voice"};
const std::vector<std::string> kLangs = {"en", "es", ""};
const std::map<std::string, std::string> kLangNames = {{"", "not known yet"}};

std::string breakdown(const Totals& t, const std::string& metric) {
  auto channels = t.by_channel.find(metric), langs = t.by_lang.find(metric);
  std::string out = channels == t.by_channel.end() ? "" : listed(channels->second, kChannels);
  const std::string l = langs == t.by_lang.end() ? "" : listed(langs->second, kLangs, kLangNames);
  if (!l.empty()) out += (out.empty() ? "" : "; ") + l;
  return out;
}

std::string block(const Totals& t) {
  using namespace store;
  std::string out;
  const std::int64_t conversations = get(t.total, kCountConversations), messages = get(t.total, kCountMessages);
  out += line("conversations", conversations, breakdown(t, kCountConversations));
  out += line("messages", messages, breakdown(t, kCountMessages));
  if (auto by_topic = t.by_topic.find(kCountMessages); by_topic != t.by_topic.end()) {
    out += "    by topic     " + topics(by_topic->second) + "\n";
  }
  const std::int64_t not_understood = get(t.total, kCountNotUnderstood);
  out += line("not understood", not_understood,
              messages > 0 ? std::to_string((not_understood * 100 + messages / 2) / messages) + "% of messages" : "");
  const std::int64_t asked = get(t.total, kCountHandoffsAsked), taken = get(t.total, kCountHandoffsClaimed);
  out += line("hand-offs asked", asked);
  out += line("hand-offs taken", taken,
              taken > 0 ? "average wait " + duration_text((get(t.total, kCountClaimSeconds) + taken / 2) / taken) : "");
  out += line("voicemails", get(t.total, kCountVoicemails));
  out += line("opt-outs", get(t.total, kCountOptOuts));
  return out;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string option(const std::map<std::string, std::string>& options, const std::string& name,
                   const std::string& fallback = "") {
  auto it = options.find(name);
  return it == options.end() ? fallback : it->second;
}


}  // namespace

std::string report_text(const std::vector<store::DailyCount>& counts, const std::string& first,
                        const std::string& last, bool weekly) {
  const auto from = parse_day(first), to = parse_day(last);
  if (!from || !to) return "";
  const auto totals = sum_by_period(counts, weekly, *from);
  std::string out = "Hotline report, " + first + " to " + last + (weekly ? ", per week" : ", per day") +
                    ". Counts only: no numbers, no words.\n";
  for (const auto& [start, end] : periods(*from, *to, weekly)) {
    out += "\n" + day_text(start) + " (" + weekday_text(start) + ")";
    if (end != start) out += " to " + day_text(end) + " (" + weekday_text(end) + ")";
    out += "\n";
    auto it = totals.find(day_text(start));
    out += it == totals.end() ? "  nothing counted\n" : block(it->second);
  }
  return out;
}

std::string report_csv(const std::vector<store::DailyCount>& counts, const std::string& first, bool weekly) {
  const auto from = parse_day(first).value_or(chr::sys_days{});
  std::map<std::vector<std::string>, std::int64_t> rows;  // sorted: period, metric, topic, lang, channel
  for (const auto& c : counts) rows[{period_of(c.day, weekly, from), c.metric, c.topic, c.lang, c.channel}] += c.n;
  std::string out = "period,metric,topic,lang,channel,count\n";
  for (const auto& [key, n] : rows) {
    for (const auto& field : key) out += csv_field(field) + ",";
    out += std::to_string(n) + "\n";
  }
  return out;
}

int report(int argc, char** argv) {
  std::map<std::string, std::string> options;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kReportHelp;
      return 0;
    }
    if (a == "--csv" || a == "--week") {
      options[a.substr(2)] = "true";
    } else if (a == "--from" || a == "--to" || a == "--root" || a == "--config") {
      if (i + 1 >= argc) {
        std::cerr << "hotline: option " << a << " needs a value\n";
        return 2;
      }
      options[a.substr(2)] = argv[++i];
    } else {
      std::cerr << "hotline: report does not take '" << a << "' (see hotline report --help)\n";
      return 2;
    }
  }
  Diagnostics diags;
  app::BundleLocation where;
  // Like every command, the hotline folder found from here up; a folder with only config/ works too.
  where.root = option(options, "root", find_bundle_root(std::filesystem::current_path()).value_or("."));
  where.config_file = option(options, "config");
  config::Config c = app::load_configuration(where, diags);
  if (const Diagnostics environment = app::environment_errors(diags); environment.has_errors()) {
    std::cerr << environment.to_string();
    return 1;
  }
  // The hotline's days are the roster's time zone's; a roster with errors is `check`'s business,
  // and the default zone is the hotline's usual one.
  Diagnostics roster_diags;
  auto roster = routing::load_roster(app::roster_file(c), true, roster_diags);
  if (!roster) roster = routing::empty_roster();
  const std::string today = roster->local_date(make_clock(c.pinned_now_ms)());

  const std::string last = option(options, "to", today);
  const auto to = parse_day(last);
  if (!to) {
    std::cerr << "hotline: --to takes a date as YYYY-MM-DD, e.g. 2026-12-05; got '" << last << "'\n";
    return 2;
  }
  const std::string first = option(options, "from", day_text(*to - chr::days{6}));
  const auto from = parse_day(first);
  if (!from) {
    std::cerr << "hotline: --from takes a date as YYYY-MM-DD, e.g. 2026-11-29; got '" << first << "'\n";
    return 2;
  }
  if (*from > *to) {
    std::cerr << "hotline: --from " << first << " is after --to " << last << ": nothing to report\n";
    return 2;
  }
  if (!store::is_postgres_url(c.database) && !std::filesystem::exists(c.database)) {
    std::cerr << "hotline: no database at " << c.database << " (set HOTLINE_DB, or --root, to the server's)\n";
    return 1;
  }
  try {
    const auto counts = store::read_daily_counts(c.database, first, last);
    const bool weekly = options.contains("week");
    std::cout << (options.contains("csv") ? report_csv(counts, first, weekly) : report_text(counts, first, last, weekly));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "hotline: cannot report: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace hotline::cli
