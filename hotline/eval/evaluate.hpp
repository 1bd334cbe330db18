#pragma once
// Measuring understanding: each labelled message is sent through the real engine, as the
// person's reply to the menu in a conversation whose language is not known yet, and what the
// hotline did is compared with the label. Pure: a bundle and examples in, figures out.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hotline/flow/bundle.hpp"
#include "hotline/nlu/classifier.hpp"

namespace hotline::eval {

/// What the hotline did with one labelled message.
struct Result {
  const nlu::Example* example = nullptr;
  std::string answered;               // the intent it answered ("" = not understood)
  std::string second;                 // a second answer in the same reply
  std::vector<std::string> asked;     // unsure: the two it asked between
  bool emergency_first = false;       // the 911 line came first
  std::string lang;                   // "en", "es", or "both" (the bilingual hello)

  bool labelled_emergency() const;
  bool right() const;                 // the answer is (one of) the label(s)
  bool caught() const;                // an emergency label got the emergency answer or the 911 line first
  bool false_emergency() const;       // not an emergency, answered as one
  bool right_language() const;
};

struct Report {
  std::vector<Result> results;
  nlohmann::json to_json() const;
  std::string to_text() const;  // figures, then the confusion matrix, then every miss
  double accuracy() const;
  double emergency_recall() const;
  double false_emergency_rate() const;
  double language_accuracy() const;
};

/// Runs every example through `bundle`'s engine.
Report evaluate(const flow::Bundle& bundle, const std::vector<nlu::Example>& examples);

/// The same, each example judged by a model trained without its fold (k-fold
/// cross-validation over the bundle's own examples): for choosing thresholds and features
/// without touching the frozen test set.
Report cross_validate(const flow::Bundle& bundle, int folds);

}  // namespace hotline::eval
