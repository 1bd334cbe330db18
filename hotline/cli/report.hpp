#pragma once
// `hotline report`: what people asked, per day or per week, from the daily counts the turns
// keep in the database (store::DailyCount): counts only, never a contact or a word.
#include <string>
#include <vector>

#include "hotline/store/session_store.hpp"

namespace hotline::cli {

/// The command: `hotline report [--from DATE] [--to DATE] [--week] [--csv] [--root DIR]
/// [--config FILE]`. argv[1] is "report".
int report(int argc, char** argv);

/// The report for people: one block per day of `first`..`last` ("YYYY-MM-DD", both included),
/// or per week (Monday to Sunday) when `weekly`, from `counts` (any order).
std::string report_text(const std::vector<store::DailyCount>& counts, const std::string& first,
                        const std::string& last, bool weekly);

/// The same counts for a spreadsheet: `period,metric,topic,lang,channel,count`, one row per
/// count, summed per week when `weekly`. A period is named by its first day: the day, or the
/// week's Monday (`first` for a week cut short by the range).
std::string report_csv(const std::vector<store::DailyCount>& counts, const std::string& first, bool weekly);

}  // namespace hotline::cli
