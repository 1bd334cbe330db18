#include "hotline/flow/sources.hpp"

#include <cstdio>
#include <filesystem>

#include <date/date.h>

#include "hotline/common/yaml_position.hpp"

namespace hotline::flow {
namespace {

constexpr const char* kMonthsEn[] = {"January", "February", "March",     "April",   "May",      "June",
                                     "July",    "August",   "September", "October", "November", "December"};
constexpr const char* kMonthsEs[] = {"enero", "febrero", "marzo",      "abril",   "mayo",      "junio",
                                     "julio", "agosto",  "septiembre", "octubre", "noviembre", "diciembre"};

// "2017-07" or "2017-07-15" (`month_ok`: the day may be left out).
std::optional<Day> parse_day(const std::string& text, bool month_ok) {
  Day d;
  char extra = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &d.year, &d.month, &d.day, &extra);
  if (n == 2 && month_ok && text.size() == 7) d.day = 0;
  else if (n != 3 || text.size() != 10) return std::nullopt;
  if (d.year < 1900 || d.year > 2999 || d.month < 1 || d.month > 12 || d.day < 0 || d.day > 31) return std::nullopt;
  return d;
}

}  // namespace

std::string Day::iso() const {
  char buf[16];
  if (day == 0) std::snprintf(buf, sizeof buf, "%04d-%02d", year, month);
  else std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
  return buf;
}

std::vector<Source> load_sources(const std::string& path, Diagnostics& diags) {
  std::vector<Source> out;
  if (!std::filesystem::exists(path)) return out;
  auto root = load_yaml_file(path, "sources file", diags);
  if (!root) return out;
  const YAML::Node list = (*root)["sources"];
  if (!root->IsMap() || !list || !list.IsMap()) {
    diags.error(position_of(path, *root), "expected-map",
                "the sources file starts with `sources:` and lists each source by a name, such as `wpr_2017:`");
    return out;
  }
  for (const auto& entry : list) {
    Source s;
    s.id = entry.first.as<std::string>();
    s.where = position_of(path, entry.first);
    if (!entry.second.IsMap()) {
      diags.error(s.where, "expected-map", "source '" + s.id + "' needs title, outlet, date, reviewed and review_by");
      continue;
    }
    bool has_date = false;
    for (const auto& field : entry.second) {
      const std::string name = field.first.as<std::string>();
      const std::string value = field.second.IsScalar() ? field.second.Scalar() : "";
      const Position at = position_of(path, field.second);
      if (name == "title") s.title = value;
      else if (name == "outlet") s.outlet = value;
      else if (name == "link") s.link = value;
      else if (name == "date" || name == "reviewed" || name == "review_by") {
        auto day = parse_day(value, name == "date");
        if (!day) {
          diags.error(at, "bad-date",
                      "`" + name + "` of source '" + s.id + "' must be a date like " +
                          (name == "date" ? "2017-07 (the month the facts are from) or 2017-07-15" : "2026-12-04"));
          continue;
        }
        if (name == "date") s.date = *day, has_date = true;
        else if (name == "reviewed") s.reviewed = day;
        else s.review_by = day;
      } else {
        diags.error(position_of(path, field.first), "unknown-field",
                    "unknown field '" + name + "' in source '" + s.id +
                        "'; expected title, outlet, date, link, reviewed or review_by");
      }
    }
    if (!has_date) {
      diags.error(s.where, "source-without-date",
                  "source '" + s.id + "' has no `date:`: answers must say how old their facts are (e.g. date: 2017-07)");
      continue;
    }
    if (s.title.empty() || s.outlet.empty()) {
      diags.error(s.where, "missing-field", "source '" + s.id + "' needs a `title:` and an `outlet:`");
    }
    if (!s.review_by) {
      diags.warning(s.where, "no-review-date",
                    "source '" + s.id + "' has no `review_by:` date, so nobody is reminded to check it still holds");
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::string date_placeholder(const std::string& source_id) { return "date_" + source_id; }

prompts::Variables source_dates(const std::vector<Source>& sources, Lang lang) {
  prompts::Variables vars;
  for (const auto& s : sources) {
    const int m = s.date.month - 1;
    vars[date_placeholder(s.id)] = lang == Lang::es ? std::string(kMonthsEs[m]) + " de " + std::to_string(s.date.year)
                                                    : std::string(kMonthsEn[m]) + " " + std::to_string(s.date.year);
  }
  return vars;
}

std::vector<const Source*> due_for_review(const std::vector<Source>& sources, const Day& today) {
  std::vector<const Source*> due;
  for (const auto& s : sources) {
    if (s.review_by && *s.review_by < today) due.push_back(&s);
  }
  return due;
}

Day day_of(std::int64_t unix_ms) {
  const auto days = date::floor<date::days>(date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(unix_ms)));
  const date::year_month_day ymd(days);
  return {static_cast<int>(ymd.year()), static_cast<int>(static_cast<unsigned>(ymd.month())),
          static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

}  // namespace hotline::flow
