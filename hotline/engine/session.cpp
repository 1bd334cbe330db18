#include "hotline/engine/session.hpp"

#include <nlohmann/json.hpp>

namespace hotline::engine {

std::string encode_session(const Session& s) {
  nlohmann::json j = {{"v", 1}, {"step", s.step}, {"retries", s.retries},
                      {"intent", s.last_intent}, {"turns", s.turns}};
  if (s.lang) j["lang"] = lang_code(*s.lang);
  return j.dump();
}

std::optional<Session> decode_session(const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != 1) return std::nullopt;
  try {
    Session s;
    s.step = j.value("step", "");
    s.retries = j.value("retries", 0);
    s.last_intent = j.value("intent", "");
    s.turns = j.value("turns", 0);
    if (j.contains("lang")) s.lang = lang_from_code(j["lang"].get<std::string>());
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

}  // namespace hotline::engine
