#pragma once
// What a turn adds to the daily report (store::DailyCount): the channels' one way of naming the
// day, the channel and the language of a count, so SMS, voice and the relay count alike.
#include <cstdint>
#include <string>
#include <string_view>

#include "hotline/common/lang.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::channels {

/// The channel a texter's address is on: "whatsapp" for `whatsapp:+1…`, "sms" otherwise.
inline std::string count_channel(std::string_view address) {
  return address.substr(0, 9) == "whatsapp:" ? "whatsapp" : "sms";
}

/// A language as the report shows it: "en", "es", or "" while it is not known (bilingual reply).
inline std::string count_lang(Lang lang, bool known = true) { return known ? std::string(lang_code(lang)) : ""; }

/// Adds `n` of `metric` to what `turn` counts, on `day` (the hotline's local date).
inline void count(store::TurnRecord& turn, const std::string& day, const char* metric, const std::string& topic,
                  const std::string& lang, const std::string& channel, std::int64_t n = 1) {
  turn.counts.push_back({day, metric, topic, lang, channel, n});
}

}  // namespace hotline::channels
