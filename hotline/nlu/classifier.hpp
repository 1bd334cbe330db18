#pragma once
// The trained classifier: which question a message asks, and which language it is written in,
// learned from the labelled examples staff keep in flows/examples/*.tsv.
//
// A linear model (multinomial logistic regression) over sparse features of the folded message:
// words, pairs of neighbouring words, and the letter sequences (3 to 5 letters) inside each
// word, so "deportar", "deportan" and "deprotar" share most of their evidence. Training is
// deterministic: the same examples give the same model, bit for bit, on one build. Pure: built
// from data in memory, no I/O, no clock, no global randomness.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"

namespace hotline::nlu {

/// One labelled message: what it asks (usually one intent; two for a message that asks two
/// things, the one to answer first on the left), the language to answer in, and how it came
/// (typed, or a call's speech transcript).
struct Example {
  std::string text;
  std::vector<std::string> intents;
  Lang lang = Lang::en;
  Channel channel = Channel::sms;
  Position where;
};

struct Score {
  std::string intent;
  float p = 0;  // probability; the scores of one message add up to 1
};

class Classifier {
 public:
  Classifier() = default;

  /// Learns from `examples` (those whose text has no features are skipped).
  static Classifier train(const std::vector<Example>& examples);

  bool empty() const { return impl_ == nullptr; }
  /// Every intent the examples name, in first-seen order.
  const std::vector<std::string>& labels() const;
  /// Everything the model reads in a message, from one pass over it.
  struct Reading {
    std::vector<Score> intents;  // most likely first; empty when no word of it was seen in training
    float spanish = 0.5f;        // the probability that it is Spanish (0.5 when nothing tells)
    float danger = 0.f;          // the words-only head: the probability of danger now
    bool knows_a_word = false;   // some whole word of it was in the training examples
    int words = 0;               // its words of two or more letters
  };
  Reading read(std::string_view text) const;

  /// Every intent with its probability, most likely first. Empty for an untrained model or a
  /// message with no word the model has seen.
  std::vector<Score> rank(std::string_view text) const;
  /// The `k` training examples that share the most features with `text`, most alike first,
  /// with their similarity (cosine, 0..1): what `hotline simulate --explain` shows.
  std::vector<std::pair<const Example*, float>> nearest(std::string_view text, std::size_t k) const;
  const std::vector<Example>& examples() const;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

/// k-fold cross-validation, deterministic: for each example (by index), the ranking given by a
/// model trained on the other folds. What `hotline check` reports misread examples from.
std::vector<std::vector<Score>> cross_validate(const std::vector<Example>& examples, int folds);

/// Which of `folds` folds example `index` belongs to: a fixed scramble of the index, so each fold
/// mixes every file and writer.
int fold_of(std::size_t index, int folds);

/// The content hash of a set of examples (text, labels, language, channel), so that a model
/// trained once can be reused for the same examples (a reload that did not touch them).
std::uint64_t examples_hash(const std::vector<Example>& examples);

}  // namespace hotline::nlu
