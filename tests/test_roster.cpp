// The advocate roster: loading with exact diagnostics, and shift queries across DST changes.
#include <catch2/catch.hpp>

#include "hotline/common/clock.hpp"
#include "hotline/routing/coverage.hpp"
#include "hotline/routing/roster.hpp"

using namespace hotline;
using namespace hotline::routing;

namespace {

std::int64_t at(const char* iso) {
  auto ms = parse_iso8601_ms(iso);
  REQUIRE(ms);
  return *ms;
}

std::vector<std::string> ids(const std::vector<Advocate>& advocates) {
  std::vector<std::string> out;
  for (const auto& a : advocates) out.push_back(a.id);
  return out;
}

std::shared_ptr<const Roster> shipped() {
  Diagnostics diags;
  auto roster = load_roster(std::string(HOTLINE_SOURCE_DIR) + "/config/advocates.yaml", false, diags);
  INFO(diags.to_string());
  REQUIRE(roster);
  CHECK(diags.items().empty());
  return roster;
}

using V = std::vector<std::string>;

}  // namespace

TEST_CASE("the shipped example roster loads cleanly and only has fictional numbers") {
  auto roster = shipped();
  REQUIRE(roster->all().size() == 3);
  for (const auto& a : roster->all()) CHECK(a.phone.rfind("+1555010", 0) == 0);
}

TEST_CASE("on_shift follows local time across the spring DST change") {
  auto roster = shipped();
  // Monday 2 March 2026 is on Central Standard Time (UTC-6): 09:00 local is 15:00Z.
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-02T14:59:00Z"))).empty());
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-02T15:00:00Z"))) == V{"example-maria"});
  // Monday 9 March 2026, the day after the change, is on CDT (UTC-5): 09:00 local is 14:00Z.
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-09T13:59:00Z"))).empty());
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-09T14:00:00Z"))) == V{"example-maria"});
  // 13:00 CDT: both Spanish speakers; Jose takes SMS only.
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-09T18:00:00Z"))) == V{"example-maria", "example-jose"});
  CHECK(ids(roster->on_shift(Lang::es, Channel::voice, at("2026-03-09T18:00:00Z"))) == V{"example-maria"});
  // 17:00 is the end of Maria's shift (exclusive); Jose stays until 20:00.
  CHECK(ids(roster->on_shift(Lang::es, Channel::sms, at("2026-03-09T22:00:00Z"))) == V{"example-jose"});
  // Tuesday: Ann works Mon/Wed/Fri only.
  CHECK(ids(roster->on_shift(Lang::en, Channel::sms, at("2026-03-10T15:00:00Z"))) == V{"example-maria"});
  CHECK(ids(roster->on_shift(Lang::en, Channel::sms, at("2026-03-11T15:00:00Z"))) == V{"example-maria", "example-ann"});
  // Sunday: nobody.
  CHECK(roster->on_shift(Lang::es, Channel::sms, at("2026-03-08T18:00:00Z")).empty());
}

TEST_CASE("next_shift_start finds the next local start, DST included") {
  auto roster = shipped();
  // Saturday 7 March 2026 09:00 CST: Jose starts at 10:00 CST = 16:00Z.
  CHECK(roster->next_shift_start(Lang::es, Channel::sms, at("2026-03-07T15:00:00Z")) == at("2026-03-07T16:00:00Z"));
  // Sunday 8 March after the change: Monday 09:00 is CDT = 14:00Z.
  CHECK(roster->next_shift_start(Lang::es, Channel::sms, at("2026-03-08T12:00:00Z")) == at("2026-03-09T14:00:00Z"));
  // In the autumn: Sunday 1 November 2026 is back on CST, Monday 09:00 = 15:00Z.
  CHECK(roster->next_shift_start(Lang::en, Channel::sms, at("2026-11-01T12:00:00Z")) == at("2026-11-02T15:00:00Z"));
  CHECK_FALSE(empty_roster()->next_shift_start(Lang::en, Channel::sms, at("2026-11-01T12:00:00Z")));
}

TEST_CASE("hours_text merges everyone's shifts per language") {
  auto roster = shipped();
  CHECK(roster->hours_text(Lang::es) == "lun-vie 9:00-20:00, sáb 10:00-14:00");
  CHECK(roster->hours_text(Lang::en) == "Mon-Fri 9:00-17:00");
  CHECK(empty_roster()->hours_text(Lang::es).empty());
}

TEST_CASE("call_hours_text counts only advocates who take calls") {
  auto roster = shipped();
  // Jose (texts only) covers weekday evenings and Saturdays: callers are not told those hours.
  CHECK(roster->call_hours_text(Lang::es) == "lun-vie 9:00-17:00");
  CHECK(roster->call_hours_text(Lang::en) == "Mon-Fri 9:00-17:00");
  CHECK(empty_roster()->call_hours_text(Lang::es).empty());
}

TEST_CASE("by_phone and by_id find advocates; strangers are not advocates") {
  auto roster = shipped();
  REQUIRE(roster->by_phone("+15550100002"));
  CHECK(roster->by_phone("+15550100002")->id == "example-jose");
  CHECK(roster->by_phone("+15550100002")->prompt_language == Lang::es);
  CHECK_FALSE(roster->by_phone("+14145551234"));
  CHECK(roster->by_id("example-ann")->prompt_language == Lang::en);
}

TEST_CASE("a shift across midnight and across the end of the week") {
  Diagnostics diags;
  auto roster = parse_roster(R"(
advocates:
  - id: night
    phone: "+15550100009"
    languages: [en]
    shifts:
      - {days: sun, hours: "22:00-02:00"}
)", "night.yaml", diags);
  INFO(diags.to_string());
  REQUIRE(roster);
  // Sunday 23:00 CST and Monday 01:00 CST are on; Monday 02:00 is off.
  CHECK(roster->on_shift(Lang::en, Channel::sms, at("2026-01-12T05:00:00Z")).size() == 1);
  CHECK(roster->on_shift(Lang::en, Channel::sms, at("2026-01-12T07:00:00Z")).size() == 1);
  CHECK(roster->on_shift(Lang::en, Channel::sms, at("2026-01-12T08:00:00Z")).empty());
  CHECK(roster->hours_text(Lang::en) == "Sun 22:00-2:00");
}

TEST_CASE("roster problems are reported with file:line:col, all at once") {
  Diagnostics diags;
  auto roster = parse_roster(R"(timezone: America/Chicago
advocates:
  - id: ana
    phone: "414-555"
    languages: [es, fr]
    shifts:
      - {days: mon-fri, hours: "09:00-17:00"}
      - {days: wed, hours: "16:00-18:00"}
  - id: ana
    phone: "+15550100001"
    languages: [en]
    shifts:
      - {days: funday, hours: "9-5"}
    colour: blue
)", "advocates.yaml", diags);
  CHECK_FALSE(roster);
  CHECK(diags.to_string() ==
        "advocates.yaml:4:12: error[invalid-phone]: phone must be in E.164 form: + and the country code, then the number, digits only (8 to 15 digits)\n"
        "advocates.yaml:5:21: error[unknown-language]: language must be en or es\n"
        "advocates.yaml:8:9: warning[overlapping-shifts]: advocate 'ana' has shifts that overlap on Wed (this one and the one at line 7)\n"
        "advocates.yaml:9:5: warning[no-shifts]: advocate 'ana' has no shifts and is never on shift\n"
        "advocates.yaml:9:5: error[duplicate-id]: advocate id 'ana' is used twice (first at line 3)\n"
        "advocates.yaml:13:16: error[bad-days]: unknown day in 'funday'; use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri\n"
        "advocates.yaml:13:31: error[bad-hours]: hours are \"HH:MM-HH:MM\" in 24-hour time, e.g. \"09:00-17:00\" (quoted)\n"
        "advocates.yaml:14:5: error[unknown-field]: unknown setting 'colour' for an advocate; expected id, name, phone, languages, channels, prompt_language, role, max_open or shifts\n");
}

TEST_CASE("an unknown time zone, a duplicate phone, a missing file, broken YAML") {
  Diagnostics diags;
  CHECK_FALSE(parse_roster(R"(timezone: America/Milwaukee
advocates:
  - {id: a, phone: "+15550100001", languages: [en], shifts: [{days: mon, hours: "09:00-10:00"}]}
  - {id: b, phone: "+15550100001", languages: [en], shifts: [{days: mon, hours: "09:00-10:00"}]}
)", "r.yaml", diags));
  CHECK(diags.to_string() ==
        "r.yaml:1:11: error[unknown-timezone]: unknown time zone 'America/Milwaukee'; use a tz database name such as America/Chicago\n"
        "r.yaml:4:5: error[duplicate-phone]: advocate 'b' has the same phone as 'a'\n");

  Diagnostics missing;
  CHECK_FALSE(load_roster("/nonexistent/advocates.yaml", false, missing));
  CHECK(missing.to_string() == "/nonexistent/advocates.yaml: error[missing-file]: cannot read the advocates file\n");
  Diagnostics ok;
  auto none = load_roster("/nonexistent/advocates.yaml", true, ok);
  REQUIRE(none);
  CHECK(none->all().empty());
  CHECK(ok.items().empty());

  Diagnostics broken;
  CHECK_FALSE(parse_roster("advocates: [\n", "b.yaml", broken));
  REQUIRE(broken.items().size() == 1);
  CHECK(broken.items()[0].code == "yaml-syntax");
}

TEST_CASE("coordinators and the cap on open conversations: the roster's default, an advocate's own") {
  Diagnostics diags;
  auto roster = parse_roster(R"(max_open: 4
advocates:
  - {id: a, phone: "+15550100001", languages: [en], shifts: [{days: mon, hours: "09:00-10:00"}]}
  - {id: b, phone: "+15550100002", languages: [es], role: coordinator, max_open: 1,
     shifts: [{days: mon, hours: "09:00-17:00"}]}
  - {id: c, phone: "+15550100003", languages: [es], role: advocate, shifts: [{days: tue, hours: "09:00-10:00"}]}
)", "r.yaml", diags);
  INFO(diags.to_string());
  REQUIRE(roster);
  CHECK(diags.items().empty());
  CHECK(roster->by_id("a")->max_open == 4);
  CHECK_FALSE(roster->by_id("a")->coordinator);
  CHECK(roster->by_id("b")->max_open == 1);
  CHECK(roster->by_id("b")->coordinator);
  CHECK_FALSE(roster->by_id("c")->coordinator);
  // Monday 9:30 in Milwaukee (CST): a and b are on shift, c is not.
  const std::int64_t monday = at("2026-03-02T15:30:00Z");
  CHECK(roster->is_on_shift(*roster->by_id("a"), monday));
  CHECK(roster->is_on_shift(*roster->by_id("b"), monday));
  CHECK_FALSE(roster->is_on_shift(*roster->by_id("c"), monday));
  CHECK_FALSE(roster->is_on_shift(*roster->by_id("a"), monday + 3'600'000));  // 10:30: a's shift is over

  Diagnostics none;
  auto plain = parse_roster("advocates:\n  - {id: a, phone: \"+15550100001\", languages: [en]}\n", "p.yaml", none);
  REQUIRE(plain);
  CHECK(plain->by_id("a")->max_open == kDefaultMaxOpen);

  Diagnostics bad;
  CHECK_FALSE(parse_roster(R"(max_open: 0
advocates:
  - {id: a, phone: "+15550100001", languages: [en], role: boss, max_open: two}
)", "r.yaml", bad));
  CHECK(bad.to_string() ==
        "r.yaml:1:11: error[bad-max-open]: `max_open` is a whole number of open conversations, 1 to 50\n"
        "r.yaml:3:5: warning[no-shifts]: advocate 'a' has no shifts and is never on shift\n"
        "r.yaml:3:59: error[unknown-role]: role must be advocate or coordinator\n"
        "r.yaml:3:75: error[bad-max-open]: `max_open` is a whole number of open conversations, 1 to 50\n");
}

TEST_CASE("the week's coverage and its gaps, by language and channel, over Sunday midnight") {
  Diagnostics diags;
  auto roster = parse_roster(R"(timezone: America/Chicago
advocates:
  - id: ana
    phone: "+15550100001"
    languages: [es]
    channels: [sms]
    shifts:
      - {days: mon-fri, hours: "09:00-17:00"}
  - id: bo
    phone: "+15550100002"
    languages: [es, en]
    shifts:
      - {days: sun, hours: "22:00-02:00"}
      - {days: tue, hours: "09:00-12:00"}
)", "r.yaml", diags);
  INFO(diags.to_string());
  REQUIRE(roster);
  const auto& all = roster->all();
  auto texts = [](const std::vector<WeekSpan>& spans) {
    std::vector<std::string> out;
    for (const auto& s : spans) out.push_back(week_span_text(s));
    return out;
  };
  CHECK(texts(coverage_gaps(all, Lang::es, Channel::sms)) ==
        V{"Mon 02:00–09:00", "Mon 17:00–Tue 09:00", "Tue 17:00–Wed 09:00", "Wed 17:00–Thu 09:00",
          "Thu 17:00–Fri 09:00", "Fri 17:00–Sun 22:00"});
  CHECK(week_spans_text(coverage_spans(all, Lang::es, Channel::sms)) ==
        "Mon–Fri 09:00–17:00, Sun 22:00–Mon 02:00");
  // Calls: only bo, whose Sunday night runs into Monday.
  CHECK(texts(coverage_gaps(all, Lang::es, Channel::voice)) == V{"Mon 02:00–Tue 09:00", "Tue 12:00–Sun 22:00"});
  CHECK(texts(coverage_spans(all, Lang::en, Channel::voice)) == V{"Tue 09:00–12:00", "Sun 22:00–Mon 02:00"});
  // Nobody at all.
  CHECK(texts(coverage_gaps({}, Lang::en, Channel::sms)) == V{"all week"});
  CHECK(coverage_spans({}, Lang::en, Channel::sms).empty());
  CHECK(week_span_text({5 * 24 * 60 + 14 * 60, 6 * 24 * 60}) == "Sat 14:00–24:00");
}

TEST_CASE("local times for staff: a time in the roster's zone, and the next \"tue 02:00\"") {
  auto roster = shipped();
  CHECK(roster->time_zone() == "America/Chicago");
  CHECK(roster->local_time_text(at("2026-12-08T16:00:00Z")) == "Tue 2026-12-08 10:00 CST");
  CHECK(roster->local_time_text(at("2026-07-07T15:00:00Z")) == "Tue 2026-07-07 10:00 CDT");
  const int tuesday_2am = 24 * 60 + 2 * 60;
  CHECK(roster->next_local_time(tuesday_2am, at("2026-12-08T16:00:00Z")) == at("2026-12-15T08:00:00Z"));
  CHECK(roster->next_local_time(tuesday_2am, at("2026-12-07T16:00:00Z")) == at("2026-12-08T08:00:00Z"));
  CHECK(roster->next_local_time(tuesday_2am, at("2026-12-08T08:00:00Z")) == at("2026-12-08T08:00:00Z"));
  CHECK_FALSE(empty_roster()->next_local_time(tuesday_2am, 0));
}
