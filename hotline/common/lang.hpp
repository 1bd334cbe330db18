#pragma once
// Languages the hotline speaks. Adding one means a prompts/<code>.yaml file and a case here.
#include <optional>
#include <string>
#include <string_view>

namespace hotline {

enum class Lang { en, es };

inline constexpr Lang kAllLangs[] = {Lang::en, Lang::es};

inline std::string_view lang_code(Lang lang) { return lang == Lang::es ? "es" : "en"; }

inline std::optional<Lang> lang_from_code(std::string_view code) {
  if (code == "en") return Lang::en;
  if (code == "es") return Lang::es;
  return std::nullopt;
}

/// Which channel a turn arrives on: the same flow serves both, prompts may differ.
enum class Channel { sms, voice };

inline std::string_view channel_name(Channel c) { return c == Channel::voice ? "voice" : "sms"; }

}  // namespace hotline
