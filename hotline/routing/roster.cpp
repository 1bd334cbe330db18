// The advocate roster: YAML loader with file:line:col diagnostics, and the pure queries the
// relay asks (who is on shift now, when the next shift starts, the hours in words).
// Time zones come from Howard Hinnant's date/tz library over the system tz database, so a
// 09:00 shift starts at 09:00 in Milwaukee on both sides of a daylight-saving change.
#include <date/tz.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hotline/common/yaml_position.hpp"
#include "hotline/routing/roster.hpp"

namespace hotline::routing {
namespace {

constexpr int kDay = 24 * 60;
constexpr const char* kDefaultZone = "America/Chicago";
constexpr const char* kDaysEn[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr const char* kDaysEs[] = {"lun", "mar", "mié", "jue", "vie", "sáb", "dom"};
constexpr const char* kDayKeys[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

std::string clock_text(int minute_of_day) {
  const int h = minute_of_day / 60, m = minute_of_day % 60;
  return std::to_string(h) + ":" + (m < 10 ? "0" : "") + std::to_string(m);
}

/// "+" then a country code that does not start with 0, 8 to 15 digits in all.
bool is_e164(const std::string& s) {
  if (s.size() < 9 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_id(const std::string& s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

class ShiftRoster final : public Roster {
 public:
  ShiftRoster(const date::time_zone* zone, std::vector<Advocate> advocates)
      : zone_(zone), day_zone_(zone ? zone : default_zone()), advocates_(std::move(advocates)) {}

  std::string local_date(std::int64_t now_ms) const override {
    if (!day_zone_) return Roster::local_date(now_ms);
    using namespace std::chrono;
    const auto local = day_zone_->to_local(sys_time<milliseconds>(milliseconds(now_ms)));
    return date::format("%F", floor<date::days>(local));
  }

  std::string time_zone() const override { return zone_ ? std::string(zone_->name()) : std::string(); }

  std::string local_time_text(std::int64_t at_ms) const override {
    if (!zone_) return Roster::local_time_text(at_ms);
    using namespace std::chrono;
    const date::zoned_time<minutes> local(zone_, floor<minutes>(sys_time<milliseconds>(milliseconds(at_ms))));
    const int day = minute_of_week(at_ms) / kDay;
    return std::string(kDaysEn[day]) + " " + date::format("%Y-%m-%d %H:%M %Z", local);
  }

  std::optional<std::int64_t> next_local_time(int minute_of_week_wanted, std::int64_t from_ms) const override {
    if (!zone_) return std::nullopt;
    return next_start(minute_of_week_wanted, from_ms, true);
  }

  std::vector<Advocate> on_shift(Lang lang, Channel channel, std::int64_t now_ms) const override {
    std::vector<Advocate> out;
    if (!zone_) return out;
    const int now = minute_of_week(now_ms);
    for (const auto& a : advocates_) {
      if (!eligible(a, lang, channel)) continue;
      for (const auto& s : a.shifts) {
        if ((now >= s.start && now < s.end) || (now + kMinutesPerWeek < s.end)) {
          out.push_back(a);
          break;
        }
      }
    }
    return out;
  }

  std::optional<Advocate> by_phone(const std::string& e164) const override {
    for (const auto& a : advocates_) if (a.phone == e164) return a;
    return std::nullopt;
  }

  std::optional<Advocate> by_id(const std::string& id) const override {
    for (const auto& a : advocates_) if (a.id == id) return a;
    return std::nullopt;
  }

  const std::vector<Advocate>& all() const override { return advocates_; }

  std::optional<std::int64_t> next_shift_start(Lang lang, Channel channel,
                                               std::int64_t now_ms) const override {
    if (!zone_) return std::nullopt;
    std::optional<std::int64_t> best;
    for (const auto& a : advocates_) {
      if (!eligible(a, lang, channel)) continue;
      for (const auto& s : a.shifts) {
        const std::int64_t ms = next_start(s.start, now_ms, false);
        if (!best || ms < *best) best = ms;
      }
    }
    return best;
  }

  std::string hours_text(Lang lang) const override { return hours_of(lang, false); }
  std::string call_hours_text(Lang lang) const override { return hours_of(lang, true); }

 private:
  // Per day, the merged intervals of everyone who speaks the language (and, for calls, takes
  // calls), by start day.
  std::string hours_of(Lang lang, bool calls_only) const {
    std::vector<std::vector<std::pair<int, int>>> days(7);
    for (const auto& a : advocates_) {
      if (!a.speaks(lang) || (calls_only && !a.voice)) continue;
      for (const auto& s : a.shifts) days[static_cast<std::size_t>(s.start / kDay)].push_back({s.start % kDay, s.start % kDay + (s.end - s.start)});
    }
    for (auto& d : days) {
      std::sort(d.begin(), d.end());
      std::vector<std::pair<int, int>> merged;
      for (auto iv : d) {
        if (!merged.empty() && iv.first <= merged.back().second) merged.back().second = std::max(merged.back().second, iv.second);
        else merged.push_back(iv);
      }
      d = std::move(merged);
    }
    const auto& names = lang == Lang::es ? kDaysEs : kDaysEn;
    std::string out;
    for (int d = 0; d < 7;) {
      if (days[static_cast<std::size_t>(d)].empty()) { ++d; continue; }
      int e = d;
      while (e + 1 < 7 && days[static_cast<std::size_t>(e + 1)] == days[static_cast<std::size_t>(d)]) ++e;
      if (!out.empty()) out += ", ";
      out += names[d];
      if (e > d) out += std::string(e == d + 1 ? "," : "-") + names[e];
      out += " ";
      bool first = true;
      for (auto [from, to] : days[static_cast<std::size_t>(d)]) {
        if (!first) out += "/";
        first = false;
        out += clock_text(from) + "-" + (to == kDay ? std::string("24:00") : clock_text(to % kDay));
      }
      d = e + 1;
    }
    return out;
  }

  // The next time the local clock reads `wanted` (minutes from Monday 00:00): strictly after
  // `now_ms`, or at it too when `or_now`.
  std::int64_t next_start(int wanted, std::int64_t now_ms, bool or_now) const {
    using namespace std::chrono;
    const auto local_now = zone_->to_local(sys_time<milliseconds>(milliseconds(now_ms)));
    const auto local_minute = floor<minutes>(local_now);
    const int now = minute_of_week(now_ms);
    const int delta = ((wanted - now) % kMinutesPerWeek + kMinutesPerWeek) % kMinutesPerWeek;
    auto candidate = local_minute + minutes(delta);
    if (candidate < local_now || (!or_now && candidate == local_now)) candidate += minutes(kMinutesPerWeek);
    // A start inside a spring-forward gap begins at the transition; in the repeated hour
    // of the autumn change, at its first occurrence.
    const auto sys = zone_->to_sys(candidate, date::choose::earliest);
    return duration_cast<milliseconds>(sys.time_since_epoch()).count();
  }

  static bool eligible(const Advocate& a, Lang lang, Channel channel) {
    return a.speaks(lang) && (channel == Channel::sms ? a.sms : a.voice);
  }

  int minute_of_week(std::int64_t now_ms) const {
    using namespace std::chrono;
    const auto local = zone_->to_local(sys_time<milliseconds>(milliseconds(now_ms)));
    const auto day = floor<date::days>(local);
    const date::weekday wd{day};
    const int monday_based = static_cast<int>((wd.c_encoding() + 6) % 7);
    return monday_based * kDay + static_cast<int>(floor<minutes>(local - day).count());
  }

  /// The roster's default zone, for the days of a roster that names none (an empty one); null
  /// when the system has no tz database.
  static const date::time_zone* default_zone() {
    try {
      return date::locate_zone(kDefaultZone);
    } catch (const std::exception&) {
      return nullptr;
    }
  }

  const date::time_zone* zone_;
  const date::time_zone* day_zone_;  // zone_, or the default zone when the roster has none
  std::vector<Advocate> advocates_;
};

class Parser {
 public:
  Parser(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  std::shared_ptr<const Roster> parse(const YAML::Node& root) {
    const std::size_t errors_before = diags_.error_count();
    const date::time_zone* zone = nullptr;
    std::vector<Advocate> advocates;
    std::string zone_name = kDefaultZone;
    std::optional<int> max_open;
    YAML::Node zone_node;
    if (!root.IsNull() && !root.IsMap()) {
      error(root, "roster-not-map", "the roster has `timezone:` and `advocates:`");
      return nullptr;
    }
    if (root.IsMap()) {
      for (const auto& field : root) {
        const std::string key = field.first.as<std::string>();
        if (key == "timezone") {
          zone_node = field.second;
          zone_name = scalar(field.second, "timezone");
        } else if (key == "max_open") {
          max_open = count(field.second, key);
        } else if (key == "advocates") {
          if (field.second.IsNull()) continue;
          if (!field.second.IsSequence()) {
            error(field.second, "expected-list", "`advocates` is a list, each entry starting with `- id:`");
            continue;
          }
          for (const auto& node : field.second) {
            if (auto a = advocate(node)) advocates.push_back(std::move(*a));
          }
        } else {
          error(field.first, "unknown-field", "unknown setting '" + key + "'; expected timezone, max_open or advocates");
        }
      }
    }
    try {
      zone = date::locate_zone(zone_name);
    } catch (const std::exception&) {
      Position where = zone_node ? position_of(file_, zone_node) : Position{file_, 0, 0};
      diags_.error(where, "unknown-timezone",
                   "unknown time zone '" + zone_name + "'; use a tz database name such as America/Chicago");
    }
    check_duplicates(advocates);
    for (auto& a : advocates) {
      if (max_open && !own_max_open_.count(a.id)) a.max_open = *max_open;
    }
    if (diags_.error_count() > errors_before) return nullptr;
    return std::make_shared<ShiftRoster>(zone, std::move(advocates));
  }

 private:
  std::optional<Advocate> advocate(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(node, "expected-map", "each advocate is a set of `name: value` settings starting with `- id:`");
      return std::nullopt;
    }
    Advocate a;
    a.where = position_of(file_, node);
    bool has_languages = false, has_phone = false, sets_max_open = false;
    for (const auto& field : node) {
      const std::string key = field.first.as<std::string>();
      const YAML::Node& v = field.second;
      if (key == "id") {
        a.id = scalar(v, key);
        if (!is_id(a.id)) error(v, "bad-id", "advocate id '" + a.id + "' must be 1 to 32 lowercase letters, digits, - or _ (it appears in logs)");
      } else if (key == "name") {
        a.name = scalar(v, key);
      } else if (key == "phone") {
        has_phone = true;
        a.phone = scalar(v, key);
        if (!is_e164(a.phone)) {
          error(v, "invalid-phone", "phone must be in E.164 form: + and the country code, then the number, digits only (8 to 15 digits)");
        }
      } else if (key == "languages") {
        has_languages = true;
        for_each_item(v, key, [&](const YAML::Node& item) {
          auto lang = lang_from_code(scalar(item, key));
          if (!lang) error(item, "unknown-language", "language must be en or es");
          else if (!a.speaks(*lang)) a.languages.push_back(*lang);
        });
      } else if (key == "channels") {
        a.sms = a.voice = false;
        for_each_item(v, key, [&](const YAML::Node& item) {
          const std::string c = scalar(item, key);
          if (c == "sms") a.sms = true;
          else if (c == "voice") a.voice = true;
          else error(item, "unknown-channel", "channel must be sms or voice");
        });
      } else if (key == "prompt_language") {
        auto lang = lang_from_code(scalar(v, key));
        if (lang) a.prompt_language = *lang;
        else error(v, "unknown-language", "prompt_language must be en or es");
      } else if (key == "shifts") {
        for_each_item(v, key, [&](const YAML::Node& item) { shifts(item, a); });
      } else if (key == "role") {
        const std::string role = scalar(v, key);
        if (role == "coordinator") a.coordinator = true;
        else if (role != "advocate") error(v, "unknown-role", "role must be advocate or coordinator");
      } else if (key == "max_open") {
        a.max_open = count(v, key);
        sets_max_open = true;
      } else {
        error(field.first, "unknown-field",
              "unknown setting '" + key + "' for an advocate; expected id, name, phone, languages, channels, "
              "prompt_language, role, max_open or shifts");
      }
    }
    if (sets_max_open) own_max_open_.insert(a.id);
    if (a.id.empty()) error(node, "missing-field", "this advocate has no `id:`");
    if (!has_phone) error(node, "missing-field", "advocate '" + a.id + "' has no `phone:`");
    if (!has_languages || a.languages.empty()) error(node, "missing-field", "advocate '" + a.id + "' has no `languages:` (en, es)");
    if (!a.sms && !a.voice) error(node, "no-channels", "advocate '" + a.id + "' takes neither sms nor voice");
    if (a.shifts.empty()) warning(node, "no-shifts", "advocate '" + a.id + "' has no shifts and is never on shift");
    check_overlaps(a);
    return a;
  }

  void shifts(const YAML::Node& node, Advocate& a) {
    if (!node.IsMap()) {
      error(node, "bad-shift", "a shift is `{days: mon-fri, hours: \"09:00-17:00\"}`");
      return;
    }
    std::vector<int> days;
    std::optional<std::pair<int, int>> hours;
    YAML::Node hours_node;
    for (const auto& field : node) {
      const std::string key = field.first.as<std::string>();
      if (key == "days") {
        days = parse_days(field.second);
      } else if (key == "hours") {
        hours_node = field.second;
        hours = parse_hours(field.second);
      } else {
        error(field.first, "unknown-field", "unknown setting '" + key + "' in a shift; expected days or hours");
      }
    }
    if (!node["days"]) error(node, "bad-shift", "this shift has no `days:` (e.g. mon-fri)");
    if (!hours_node) error(node, "bad-shift", "this shift has no `hours:` (e.g. \"09:00-17:00\")");
    if (!hours) return;
    for (int d : days) {
      const int start = d * kDay + hours->first;
      const int length = hours->second > hours->first ? hours->second - hours->first : hours->second + kDay - hours->first;
      a.shifts.push_back(Shift{start, start + length, position_of(file_, node)});
    }
  }

  std::vector<int> parse_days(const YAML::Node& v) {
    std::vector<std::string> parts;
    if (v.IsSequence()) {
      for (const auto& item : v) parts.push_back(scalar(item, "days"));
    } else if (v.IsScalar()) {
      std::stringstream in(v.Scalar());
      std::string part;
      while (std::getline(in, part, ',')) parts.push_back(part);
    } else {
      error(v, "bad-days", "`days` is a day (mon), a range (mon-fri) or a list ([mon, wed])");
      return {};
    }
    auto index = [](std::string name) -> int {
      name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      for (int i = 0; i < 7; ++i) if (name == kDayKeys[i]) return i;
      return -1;
    };
    std::set<int> out;
    for (const auto& part : parts) {
      const auto dash = part.find('-');
      const int a = index(part.substr(0, dash));
      const int b = dash == std::string::npos ? a : index(part.substr(dash + 1));
      if (a < 0 || b < 0) {
        error(v, "bad-days", "unknown day in '" + part + "'; use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri");
        continue;
      }
      for (int d = a;; d = (d + 1) % 7) {  // sat-mon wraps over the weekend
        out.insert(d);
        if (d == b) break;
      }
    }
    return {out.begin(), out.end()};
  }

  std::optional<std::pair<int, int>> parse_hours(const YAML::Node& v) {
    const std::string text = v.IsScalar() ? v.Scalar() : "";
    int h1, m1, h2, m2, n = 0;
    if (std::sscanf(text.c_str(), "%d:%d-%d:%d%n", &h1, &m1, &h2, &m2, &n) == 4 &&
        static_cast<std::size_t>(n) == text.size() && h1 >= 0 && h1 < 24 && m1 >= 0 && m1 < 60 &&
        h2 >= 0 && m2 >= 0 && m2 < 60 && (h2 < 24 || (h2 == 24 && m2 == 0))) {
      const int from = h1 * 60 + m1, to = h2 * 60 + m2;
      if (from == to) {
        error(v, "bad-shift", "this shift starts and ends at the same time; for a whole day write \"00:00-24:00\"");
        return std::nullopt;
      }
      return std::pair{from, to};
    }
    error(v, "bad-hours", "hours are \"HH:MM-HH:MM\" in 24-hour time, e.g. \"09:00-17:00\" (quoted)");
    return std::nullopt;
  }

  void check_overlaps(const Advocate& a) {
    for (std::size_t i = 0; i < a.shifts.size(); ++i) {
      for (std::size_t j = i + 1; j < a.shifts.size(); ++j) {
        const Shift &x = a.shifts[i], &y = a.shifts[j];
        auto overlaps = [](const Shift& p, const Shift& q, int shift) {
          return p.start + shift < q.end && q.start < p.end + shift;
        };
        if (overlaps(x, y, 0) || overlaps(x, y, kMinutesPerWeek) || overlaps(x, y, -kMinutesPerWeek)) {
          diags_.warning(y.where, "overlapping-shifts",
                         "advocate '" + a.id + "' has shifts that overlap on " + kDaysEn[x.start / kDay] +
                             " (this one and the one at line " + std::to_string(x.where.line) + ")");
        }
      }
    }
  }

  void check_duplicates(const std::vector<Advocate>& advocates) {
    std::map<std::string, const Advocate*> ids, phones;
    for (const auto& a : advocates) {
      if (!a.id.empty() && !ids.emplace(a.id, &a).second) {
        diags_.error(a.where, "duplicate-id", "advocate id '" + a.id + "' is used twice (first at line " + std::to_string(ids[a.id]->where.line) + ")");
      }
      if (!a.phone.empty() && !phones.emplace(a.phone, &a).second) {
        diags_.error(a.where, "duplicate-phone", "advocate '" + a.id + "' has the same phone as '" + phones[a.phone]->id + "'");
      }
    }
  }

  template <typename F>
  void for_each_item(const YAML::Node& v, const std::string& what, F&& f) {
    if (v.IsSequence()) {
      for (const auto& item : v) f(item);
    } else if (v.IsScalar()) {
      f(v);
    } else {
      error(v, "expected-list", "`" + what + "` is a list, e.g. [a, b]");
    }
  }

  /// A number of open conversations: 1 to 50.
  int count(const YAML::Node& v, const std::string& what) {
    const std::string text = scalar(v, what);
    int n = 0;
    std::size_t used = 0;
    try { n = std::stoi(text, &used); } catch (const std::exception&) { used = 0; }
    if (used == 0 || used != text.size() || n < 1 || n > 50) {
      error(v, "bad-max-open", "`" + what + "` is a whole number of open conversations, 1 to 50");
      return kDefaultMaxOpen;
    }
    return n;
  }

  std::string scalar(const YAML::Node& v, const std::string& what) {
    if (!v.IsScalar()) {
      error(v, "expected-text", "`" + what + "` must be a single value");
      return {};
    }
    return v.Scalar();
  }

  void error(const YAML::Node& node, std::string code, std::string message) {
    diags_.error(position_of(file_, node), std::move(code), std::move(message));
  }
  void warning(const YAML::Node& node, std::string code, std::string message) {
    diags_.warning(position_of(file_, node), std::move(code), std::move(message));
  }

  std::string file_;
  Diagnostics& diags_;
  std::set<std::string> own_max_open_;  // advocates with a max_open of their own
};

}  // namespace

std::shared_ptr<const Roster> parse_roster(const std::string& yaml_text, const std::string& file,
                                           Diagnostics& diags) {
  try {
    return Parser(file, diags).parse(YAML::Load(yaml_text));
  } catch (const YAML::ParserException& e) {
    diags.error(position_of(file, e.mark), "yaml-syntax", e.msg);
  } catch (const YAML::Exception& e) {
    diags.error(Position{file, 0, 0}, "unreadable", e.what());
  }
  return nullptr;
}

std::shared_ptr<const Roster> load_roster(const std::string& path, bool missing_ok, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (missing_ok && !std::filesystem::exists(path)) return empty_roster();
    diags.error(Position{path, 0, 0}, "missing-file", "cannot read the advocates file");
    return nullptr;
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_roster(text.str(), path, diags);
}

bool Roster::is_on_shift(const Advocate& advocate, std::int64_t now_ms) const {
  for (Lang lang : advocate.languages) {
    for (const auto& a : on_shift(lang, advocate.sms ? Channel::sms : Channel::voice, now_ms)) {
      if (a.id == advocate.id) return true;
    }
  }
  return false;
}

std::string Roster::local_date(std::int64_t now_ms) const {
  using namespace std::chrono;
  return date::format("%F", floor<date::days>(sys_time<milliseconds>(milliseconds(now_ms))));
}

std::shared_ptr<const Roster> empty_roster() {
  return std::make_shared<ShiftRoster>(nullptr, std::vector<Advocate>{});
}

}  // namespace hotline::routing
