// The trained classifier (see classifier.hpp for what it is and why).
//
// Training is plain stochastic gradient descent on the softmax loss, with a learning rate that
// falls linearly to zero (as fastText does), a fixed number of passes and a fixed visiting order
// drawn from std::mt19937 with a fixed seed (the standard defines its output exactly). One
// thread, so the sums happen in the same order every time.
#include "hotline/nlu/classifier.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <unordered_map>

#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

// Chosen by 5-fold cross-validation on the training examples (docs/understanding.md), never on
// the frozen test set.
constexpr int kEpochs = 25;
constexpr float kLearningRate = 2.0f;
constexpr std::size_t kMinGram = 3, kMaxGram = 6;
// Emergency examples could count more in training, to lean towards calling a doubtful message an
// emergency; measured, that only added false emergencies (the doubtful ones are caught by the
// 911 line first instead, see understand.cpp), so they count as much as any other.
constexpr float kEmergencyWeight = 1.0f;
constexpr std::uint32_t kSeed = 20171;

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t feature(char kind, std::string_view a, std::string_view b = {}) {
  std::uint64_t h = fnv(kFnvOffset, std::string_view(&kind, 1));
  h = fnv(h, a);
  if (!b.empty()) h = fnv(fnv(h, " "), b);
  return h;
}

// The features of a message, hashed, each once: whole words (after shorthand is expanded),
// pairs of neighbouring words, and the 3- to 6-letter pieces of each word with its edges
// marked ("<pol", "olic", "cia>"), which carry typos, missing accents and word endings.
std::vector<std::uint64_t> features_of(std::string_view text) {
  std::vector<std::string> words = tokens(text);
  constexpr std::size_t kMaxWords = 300;
  if (words.size() > kMaxWords) words.resize(kMaxWords);
  std::vector<std::uint64_t> out;
  out.reserve(words.size() * 12);
  std::string padded;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    out.push_back(feature('w', w));
    if (i + 1 < words.size()) out.push_back(feature('b', w, words[i + 1]));
    padded = "<" + w + ">";
    for (std::size_t n = kMinGram; n <= kMaxGram; ++n) {
      for (std::size_t at = 0; at + n <= padded.size(); ++at) {
        out.push_back(feature('c', std::string_view(padded).substr(at, n)));
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Whole words, pairs and triples of words, and nothing else: the second, emergency-only model
// (Classifier::danger) reads these, so it weighs "last month" or "hace un año" against "gun"
// without the letter pieces of "gun" shouting. Two views that must agree catch what one misses.
std::vector<std::uint64_t> word_features_of(std::string_view text) {
  std::vector<std::string> words = tokens(text);
  if (words.size() > 300) words.resize(300);
  std::vector<std::uint64_t> out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    out.push_back(feature('w', words[i]));
    if (i + 1 < words.size()) out.push_back(feature('b', words[i], words[i + 1]));
    if (i + 2 < words.size()) out.push_back(feature('t', words[i] + " " + words[i + 1], words[i + 2]));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void softmax(std::vector<float>& z) {
  const float top = *std::max_element(z.begin(), z.end());
  float sum = 0;
  for (float& v : z) {
    v = std::exp(v - top);
    sum += v;
  }
  for (float& v : z) v /= sum;
}

}  // namespace

struct Classifier::Impl {
  std::vector<std::string> labels;
  std::unordered_map<std::uint64_t, int> ids;  // feature hash → row
  std::vector<float> intent_weights;           // rows × labels
  std::vector<float> intent_bias;
  std::vector<float> lang_weights;             // rows × 2 (en, es)
  std::vector<float> lang_bias = {0, 0};
  std::unordered_map<std::uint64_t, int> word_ids;  // word feature hash → row of danger_weights
  std::vector<float> danger_weights;               // word rows × 2 (not now, now)
  std::vector<float> danger_bias = {0, 0};

  std::vector<int> word_rows_of(std::string_view text, float& value) const {
    const auto hashes = word_features_of(text);
    value = hashes.empty() ? 0.f : 1.f / std::sqrt(static_cast<float>(hashes.size()));
    std::vector<int> rows;
    for (auto h : hashes) {
      if (auto it = word_ids.find(h); it != word_ids.end()) rows.push_back(it->second);
    }
    return rows;
  }
  std::vector<Example> examples;
  std::vector<std::vector<int>> example_rows;  // each example's feature rows, sorted

  // The rows of the features this model knows, and the weight every feature gets: one over
  // the square root of how many the message has, known or not, so a long message does not
  // shout louder than a short one.
  std::vector<int> rows_of(std::string_view text, float& value) const {
    const auto hashes = features_of(text);
    value = hashes.empty() ? 0.f : 1.f / std::sqrt(static_cast<float>(hashes.size()));
    std::vector<int> rows;
    rows.reserve(hashes.size());
    for (auto h : hashes) {
      if (auto it = ids.find(h); it != ids.end()) rows.push_back(it->second);
    }
    return rows;
  }

  // Whether some whole word of the message was seen in training: letter pieces alone ("asdf",
  // "mumble") are too weak to guess from.
  bool knows_a_word(std::string_view text) const {
    for (const auto& w : tokens(text)) {
      if (ids.count(feature('w', w))) return true;
    }
    return false;
  }

  static void scores(const std::vector<float>& weights, const std::vector<float>& bias,
                     const std::vector<int>& rows, float value, std::vector<float>& z) {
    const std::size_t n = bias.size();
    z.assign(bias.begin(), bias.end());
    for (int r : rows) {
      const float* w = weights.data() + static_cast<std::size_t>(r) * n;
      for (std::size_t c = 0; c < n; ++c) z[c] += w[c] * value;
    }
    softmax(z);
  }
};

Classifier Classifier::train(const std::vector<Example>& examples) {
  auto impl = std::make_shared<Impl>();
  std::unordered_map<std::string, int> label_index;
  struct Row {
    std::vector<int> rows;
    float value;
    std::vector<int> labels;
    int lang;
    std::vector<int> word_rows;
    float word_value;
  };
  std::vector<Row> data;
  data.reserve(examples.size());
  for (const auto& ex : examples) {
    auto hashes = features_of(ex.text);
    if (hashes.empty() || ex.intents.empty()) continue;
    Row row;
    row.value = 1.f / std::sqrt(static_cast<float>(hashes.size()));
    for (auto h : hashes) {
      auto [it, inserted] = impl->ids.emplace(h, static_cast<int>(impl->ids.size()));
      row.rows.push_back(it->second);
    }
    std::sort(row.rows.begin(), row.rows.end());
    const auto word_hashes = word_features_of(ex.text);
    row.word_value = word_hashes.empty() ? 0.f : 1.f / std::sqrt(static_cast<float>(word_hashes.size()));
    for (auto h : word_hashes) {
      auto [it, inserted] = impl->word_ids.emplace(h, static_cast<int>(impl->word_ids.size()));
      row.word_rows.push_back(it->second);
    }
    for (const auto& intent : ex.intents) {
      auto [it, inserted] = label_index.emplace(intent, static_cast<int>(impl->labels.size()));
      if (inserted) impl->labels.push_back(intent);
      row.labels.push_back(it->second);
    }
    row.lang = ex.lang == Lang::es ? 1 : 0;
    impl->examples.push_back(ex);
    impl->example_rows.push_back(row.rows);
    data.push_back(std::move(row));
  }
  if (data.empty()) return {};

  const std::size_t n_labels = impl->labels.size();
  const std::size_t n_rows = impl->ids.size();
  impl->intent_weights.assign(n_rows * n_labels, 0.f);
  impl->intent_bias.assign(n_labels, 0.f);
  impl->lang_weights.assign(n_rows * 2, 0.f);
  impl->danger_weights.assign(impl->word_ids.size() * 2, 0.f);
  const auto emergency = label_index.find("emergency");

  std::mt19937 rng(kSeed);
  std::vector<std::size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  const double total_steps = static_cast<double>(kEpochs) * static_cast<double>(data.size());
  double step = 0;
  std::vector<float> z, target;
  auto learn = [&](std::vector<float>& weights, std::vector<float>& bias, const std::vector<int>& rows,
                   float value, const std::vector<float>& want, float lr) {
    const std::size_t n = bias.size();
    Impl::scores(weights, bias, rows, value, z);
    for (std::size_t c = 0; c < n; ++c) z[c] = lr * (z[c] - want[c]);
    for (int r : rows) {
      float* w = weights.data() + static_cast<std::size_t>(r) * n;
      for (std::size_t c = 0; c < n; ++c) w[c] -= z[c] * value;
    }
    for (std::size_t c = 0; c < n; ++c) bias[c] -= z[c];
  };
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    // Fisher–Yates with the engine's raw output: std::shuffle's algorithm is the library's own.
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    for (std::size_t i : order) {
      const Row& row = data[i];
      const float lr = kLearningRate * static_cast<float>(1.0 - step / total_steps);
      ++step;
      target.assign(n_labels, 0.f);
      for (int l : row.labels) target[static_cast<std::size_t>(l)] += 1.f / static_cast<float>(row.labels.size());
      const bool urgent = emergency != label_index.end() &&
                          std::find(row.labels.begin(), row.labels.end(), emergency->second) != row.labels.end();
      learn(impl->intent_weights, impl->intent_bias, row.rows, row.value, target,
            urgent ? lr * kEmergencyWeight : lr);
      learn(impl->lang_weights, impl->lang_bias, row.rows, row.value,
            {row.lang == 0 ? 1.f : 0.f, row.lang == 1 ? 1.f : 0.f}, lr);
      learn(impl->danger_weights, impl->danger_bias, row.word_rows, row.word_value,
            {urgent ? 0.f : 1.f, urgent ? 1.f : 0.f}, lr);
    }
  }
  Classifier model;
  model.impl_ = std::move(impl);
  return model;
}

const std::vector<std::string>& Classifier::labels() const {
  static const std::vector<std::string> none;
  return impl_ ? impl_->labels : none;
}

const std::vector<Example>& Classifier::examples() const {
  static const std::vector<Example> none;
  return impl_ ? impl_->examples : none;
}

std::vector<Score> Classifier::rank(std::string_view text) const {
  if (!impl_) return {};
  float value = 0;
  const auto rows = impl_->rows_of(text, value);
  // Nothing known to the model ("asdf", a name, emoji): no guess from the priors alone.
  if (rows.empty() || !impl_->knows_a_word(text)) return {};
  std::vector<float> z;
  Impl::scores(impl_->intent_weights, impl_->intent_bias, rows, value, z);
  std::vector<Score> out;
  out.reserve(z.size());
  for (std::size_t c = 0; c < z.size(); ++c) out.push_back({impl_->labels[c], z[c]});
  std::stable_sort(out.begin(), out.end(), [](const Score& a, const Score& b) { return a.p > b.p; });
  return out;
}

float Classifier::danger(std::string_view text) const {
  if (!impl_) return 0.f;
  float value = 0;
  const auto rows = impl_->word_rows_of(text, value);
  if (rows.empty()) return 0.f;
  std::vector<float> z;
  Impl::scores(impl_->danger_weights, impl_->danger_bias, rows, value, z);
  return z[1];
}

bool Classifier::knows_a_word(std::string_view text) const { return impl_ && impl_->knows_a_word(text); }

float Classifier::spanish(std::string_view text) const {
  if (!impl_) return 0.5f;
  float value = 0;
  const auto rows = impl_->rows_of(text, value);
  if (rows.empty()) return 0.5f;
  std::vector<float> z;
  Impl::scores(impl_->lang_weights, impl_->lang_bias, rows, value, z);
  return z[1];
}

std::vector<std::pair<const Example*, float>> Classifier::nearest(std::string_view text,
                                                                  std::size_t k) const {
  if (!impl_) return {};
  float value = 0;
  auto rows = impl_->rows_of(text, value);
  if (rows.empty()) return {};
  std::sort(rows.begin(), rows.end());
  const float query_size = static_cast<float>(features_of(text).size());
  std::vector<std::pair<const Example*, float>> out;
  for (std::size_t i = 0; i < impl_->examples.size(); ++i) {
    const auto& theirs = impl_->example_rows[i];
    std::size_t shared = 0;
    for (std::size_t a = 0, b = 0; a < rows.size() && b < theirs.size();) {
      if (rows[a] < theirs[b]) ++a;
      else if (theirs[b] < rows[a]) ++b;
      else ++shared, ++a, ++b;
    }
    if (shared == 0) continue;
    const float cosine = static_cast<float>(shared) / std::sqrt(query_size * static_cast<float>(theirs.size()));
    out.emplace_back(&impl_->examples[i], cosine);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<std::vector<Score>> cross_validate(const std::vector<Example>& examples, int folds) {
  std::vector<std::vector<Score>> out(examples.size());
  if (folds < 2) return out;
  // Folds by a fixed scramble of the index, so each fold mixes every file and writer.
  auto fold_of = [&](std::size_t i) {
    return static_cast<int>((i * 2654435761u) % 1000003u % static_cast<std::size_t>(folds));
  };
  for (int f = 0; f < folds; ++f) {
    std::vector<Example> rest;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (fold_of(i) != f) rest.push_back(examples[i]);
    }
    const Classifier model = Classifier::train(rest);
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (fold_of(i) == f) out[i] = model.rank(examples[i].text);
    }
  }
  return out;
}

std::uint64_t examples_hash(const std::vector<Example>& examples) {
  std::uint64_t h = kFnvOffset;
  for (const auto& ex : examples) {
    h = fnv(h, ex.text);
    for (const auto& intent : ex.intents) h = fnv(fnv(h, "\x1f"), intent);
    h = fnv(h, lang_code(ex.lang));
    h = fnv(h, channel_name(ex.channel));
    h = fnv(h, "\x1e");
  }
  return h;
}

}  // namespace hotline::nlu
