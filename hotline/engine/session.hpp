#pragma once
// Where one conversation stands. Holds no phone number and no message text: only step ids,
// the language and counters, so a stored session reveals nothing about what was said.
#include <optional>
#include <string>

#include "hotline/common/lang.hpp"

namespace hotline::engine {

struct Session {
  std::string step;          // the step waiting for a reply; empty = not started
  std::optional<Lang> lang;  // remembered once known
  int retries = 0;           // unrecognised replies in a row at this step
  std::string last_intent;
  int turns = 0;
  std::string choices;       // "a+b": the two intents just offered as a numbered choice

};

std::string encode_session(const Session& s);
/// nullopt for data that is not a session this version wrote (the conversation starts over).
std::optional<Session> decode_session(const std::string& data);

}  // namespace hotline::engine
