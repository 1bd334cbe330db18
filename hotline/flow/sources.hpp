#pragma once
// The sources the answers' facts come from, as staff keep them in flows/sources.yaml: each with
// its title, outlet, the month it reports on, a link, when staff last reviewed it and when it is
// due for review again. A prompt names a source's date with `{date_<id>}` ("July 2017" /
// "julio de 2017"), so a texter is told how old a fact is, and `hotline check` can say which
// answers rely on a source that is due for review.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"
#include "hotline/prompts/catalog.hpp"

namespace hotline::flow {

struct Day {
  int year = 0, month = 0, day = 0;  // day 0: the month as a whole
  auto operator<=>(const Day&) const = default;
  std::string iso() const;
};

struct Source {
  std::string id;
  std::string title, outlet, link;
  Day date;                     // the month (or day) the facts are from
  std::optional<Day> reviewed;  // when staff last checked the facts still hold
  std::optional<Day> review_by;
  Position where;
};

/// Reads flows/sources.yaml. A missing file is no sources (not an error).
std::vector<Source> load_sources(const std::string& path, Diagnostics& diags);

/// The placeholder a prompt uses for a source's date: "date_" + id.
std::string date_placeholder(const std::string& source_id);

/// `{date_<id>}` → "July 2017" or "julio de 2017", for every source, in `lang`.
prompts::Variables source_dates(const std::vector<Source>& sources, Lang lang);

/// The sources whose review_by day is before `today`.
std::vector<const Source*> due_for_review(const std::vector<Source>& sources, const Day& today);

/// The calendar day (UTC) of a Unix time in milliseconds.
Day day_of(std::int64_t unix_ms);

}  // namespace hotline::flow
