#pragma once
// From a message to what the hotline should do with it: the question to answer, a second one
// asked in the same message, whether it might be an emergency, or two likely questions to ask
// the person to choose between. Pure: the classifier's probabilities and fixed thresholds.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotline/nlu/classifier.hpp"

namespace hotline::nlu {

/// The intent the hotline must never miss.
inline constexpr const char* kEmergency = "emergency";

struct Understanding {
  std::string intent;                // what to answer; "" when not understood
  float confidence = 0;              // the classifier's probability for it
  std::string second;                // another question the same message asks, answered after
  bool maybe_emergency = false;      // not sure, but it could be: the 911 line comes first
  std::vector<std::string> choices;  // unsure between these two: ask, do not guess
  bool chosen = false;               // the person picked `intent` from a numbered choice
  std::vector<Score> ranked;         // every intent's probability, for --explain
  std::optional<Lang> lang;          // the language it is clearly written in, if any (clear_language)
  float spanish = 0.5f;              // the probability that it is Spanish
};

/// What a message asks, by the trained classifier.
Understanding understand(const Classifier& model, std::string_view text);

/// The language a message is clearly written in, or nullopt when it could be either ("ok",
/// "911", "2", a name). `spanish` receives the classifier's probability that it is Spanish.
std::optional<Lang> clear_language(const Classifier& model, std::string_view text,
                                   float* spanish = nullptr);

/// A loosely written menu choice ("el 2", "opcion tres", "#1", "number five please"): the
/// number, as the menu writes it ("0".."9"), or nullopt.
std::optional<std::string> menu_choice(std::string_view text);

}  // namespace hotline::nlu
