#pragma once
// Structured logs: one JSON object a line on stderr. Callers pass ids, step names, intents and
// outcomes — never a phone number or message text (see docs/architecture.md, Privacy).
#include <nlohmann/json.hpp>
#include <string_view>

namespace hotline::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
void write(Level level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

inline void info(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::info, event, std::move(fields));
}
inline void warn(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::warn, event, std::move(fields));
}
inline void error(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::error, event, std::move(fields));
}

}  // namespace hotline::log
