#pragma once
// Who can take a conversation: advocates with their languages, channels and weekly shifts,
// from config/advocates.yaml (or HOTLINE_ADVOCATES). Pure: the caller passes the time.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"

namespace hotline::routing {

/// One weekly shift in the organisation's local time. `start`/`end` are minutes from Monday
/// 00:00 local; `end` may pass the end of the week (a Sunday-night shift ending Monday).
struct Shift {
  int start = 0;
  int end = 0;
  Position where;
};

inline constexpr int kMinutesPerWeek = 7 * 24 * 60;

struct Advocate {
  std::string id;     // short, stable, safe to log (e.g. "maria")
  std::string name;   // shown to nobody but staff
  std::string phone;  // E.164; never logged
  std::vector<Lang> languages;
  bool sms = true;
  bool voice = true;
  Lang prompt_language = Lang::en;  // the language the hotline writes to the advocate in
  std::vector<Shift> shifts;        // local time of the roster's time zone (DST-correct)
  Position where;
  /// `role: coordinator`: also hears of requests nobody takes, and of those nobody on shift
  /// can take in their language (escalation), whatever languages they speak.
  bool coordinator = false;
  /// No offers while this many conversations are open with them (`max_open`, or the roster's).
  int max_open = 3;

  bool speaks(Lang lang) const {
    for (Lang l : languages) if (l == lang) return true;
    return false;
  }
};

class Roster {
 public:
  virtual ~Roster() = default;
  /// Advocates on shift at `now_ms` who speak `lang` and take `channel`, in roster order.
  virtual std::vector<Advocate> on_shift(Lang lang, Channel channel, std::int64_t now_ms) const = 0;
  /// The advocate whose phone this is, if any (an advocate texting the hotline).
  virtual std::optional<Advocate> by_phone(const std::string& e164) const = 0;
  /// When the next shift for `lang`/`channel` starts after `now_ms`, if any; for "we will call back".
  virtual std::optional<std::int64_t> next_shift_start(Lang lang, Channel channel,
                                                       std::int64_t now_ms) const = 0;
  /// Human-readable hours for a language, e.g. "Mon-Fri 9:00-17:00" (for after-hours replies).
  virtual std::string hours_text(Lang lang) const = 0;
  /// The same for calls: the hours someone who speaks `lang` takes calls (what callers hear).
  virtual std::string call_hours_text(Lang lang) const { return hours_text(lang); }
  /// Every advocate, in roster order.
  virtual const std::vector<Advocate>& all() const = 0;
  /// The advocate with this id, if any.
  virtual std::optional<Advocate> by_id(const std::string& id) const = 0;
  /// Whether `advocate` is on one of their shifts at `now_ms` (for texts: only if they take sms).
  virtual bool is_on_shift(const Advocate& advocate, std::int64_t now_ms) const;
  /// The roster's time zone as written ("America/Chicago"); "" for a roster with none.
  virtual std::string time_zone() const { return ""; }
  /// `at_ms` in the roster's local time, for staff: "Tue 2026-12-08 10:00 CST".
  virtual std::string local_time_text(std::int64_t at_ms) const { return std::to_string(at_ms); }
  /// The first time at or after `from_ms` that is `minute_of_week` (minutes from Monday 00:00)
  /// in the roster's local time; what `hotline roster --at "tue 02:00"` means.
  virtual std::optional<std::int64_t> next_local_time(int minute_of_week, std::int64_t from_ms) const {
    (void)minute_of_week;
    (void)from_ms;
    return std::nullopt;
  }
  /// The date at `now_ms` in the roster's time zone, "2026-12-05": the hotline's day, which the
  /// daily report counts by. (This default, for a roster without a time zone, is UTC's date.)
  virtual std::string local_date(std::int64_t now_ms) const;
};

/// How many open conversations an advocate may have before offers stop, unless the roster's
/// `max_open:` (or the advocate's) says otherwise.
inline constexpr int kDefaultMaxOpen = 3;

/// The roster parsed from YAML text (`file` names it in diagnostics). Every problem goes to
/// `diags` as file:line:col; returns nullptr when there is an error. Loads the time zone from
/// the system tz database (/usr/share/zoneinfo), so calls on the result do no I/O.
///
///     timezone: America/Chicago          # optional; the default
///     max_open: 3                        # optional; open conversations before offers stop
///     advocates:
///       - id: maria                      # letters, digits, - and _; safe to log
///         name: Maria Example            # optional; what `hotline roster` shows (the id if none)
///         phone: "+15550100001"          # E.164
///         languages: [es, en]
///         channels: [sms, voice]         # optional; both by default
///         prompt_language: es            # optional; the hotline writes to her in English by default
///         role: coordinator              # optional; hears of requests nobody takes (escalation)
///         max_open: 2                    # optional; the roster's max_open by default
///         shifts:
///           - {days: mon-fri, hours: "09:00-17:00"}
///           - {days: [sat], hours: "22:00-02:00"}   # ends on Sunday
std::shared_ptr<const Roster> parse_roster(const std::string& yaml_text, const std::string& file,
                                           Diagnostics& diags);

/// Reads and parses the roster file. A missing file is an error unless `missing_ok`, in which
/// case the result is an empty roster (nobody is ever on shift).
std::shared_ptr<const Roster> load_roster(const std::string& path, bool missing_ok, Diagnostics& diags);

/// A roster with nobody in it.
std::shared_ptr<const Roster> empty_roster();

}  // namespace hotline::routing
