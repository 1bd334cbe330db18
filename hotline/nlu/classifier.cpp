// The trained classifier (see classifier.hpp for what it is and why).
//
// Training is plain stochastic gradient descent on the softmax loss, with a learning rate that
// falls linearly to zero (as fastText does), a fixed number of passes and a fixed visiting order
// drawn from std::mt19937 with a fixed seed (the standard defines its output exactly). One
// thread, so the sums happen in the same order every time.
//
// Speed: this runs on every webhook. A message is tokenised once, its features are hashed from
// the tokens without building strings, looked up in a flat open-addressing table, and scored for
// the three heads from the same lookups.
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
constexpr std::uint32_t kSeed = 20171;
constexpr std::size_t kMaxWords = 300;  // an SMS is at most 1600 characters

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv(std::uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

std::uint64_t fnv(std::uint64_t h, char c) { return fnv(h, std::string_view(&c, 1)); }

std::uint64_t feature(char kind, std::string_view a, std::string_view b = {}) {
  std::uint64_t h = fnv(fnv(kFnvOffset, kind), a);
  if (!b.empty()) h = fnv(fnv(h, ' '), b);
  return h;
}

// The letter piece padded.substr(at, n) of "<word>", hashed without building the string.
std::uint64_t piece(std::string_view word, std::size_t at, std::size_t n) {
  std::uint64_t h = fnv(kFnvOffset, 'c');
  for (std::size_t i = at; i < at + n; ++i) {
    h = fnv(h, i == 0 ? '<' : i == word.size() + 1 ? '>' : word[i - 1]);
  }
  return h;
}

void sort_unique(std::vector<std::uint64_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// The features of a message, hashed, each once. `all`: whole words (after shorthand is
// expanded), pairs of neighbouring words, and the 3- to 6-letter pieces of each word with its
// edges marked ("<pol", "olic", "cia>"), which carry typos, missing accents and word endings.
// `words`: whole words, pairs and triples of words, and nothing else: the danger-now head reads
// these, so it weighs "last month" or "hace un año" against "gun" without the letter pieces of
// "gun" shouting. Two views that must agree catch what one misses.
struct Hashed {
  std::vector<std::uint64_t> all, words, whole;  // whole: just the words, for knows_a_word
  int alphabetic = 0;                            // words of 2+ letters a–z
};

Hashed hash_features(std::string_view text) {
  std::vector<std::string> toks = tokens(text);
  if (toks.size() > kMaxWords) toks.resize(kMaxWords);
  Hashed f;
  f.all.reserve(toks.size() * 16);
  for (std::size_t i = 0; i < toks.size(); ++i) {
    const std::string& w = toks[i];
    const std::uint64_t whole = feature('w', w);
    f.whole.push_back(whole);
    f.all.push_back(whole);
    f.words.push_back(whole);
    if (i + 1 < toks.size()) {
      const std::uint64_t pair = feature('b', w, toks[i + 1]);
      f.all.push_back(pair);
      f.words.push_back(pair);
    }
    if (i + 2 < toks.size()) f.words.push_back(feature('t', w + " " + toks[i + 1], toks[i + 2]));
    const std::size_t padded = w.size() + 2;
    for (std::size_t n = kMinGram; n <= kMaxGram; ++n) {
      for (std::size_t at = 0; at + n <= padded; ++at) f.all.push_back(piece(w, at, n));
    }
    if (w.size() >= 2 && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
      ++f.alphabetic;
    }
  }
  sort_unique(f.all);
  sort_unique(f.words);
  return f;
}

void softmax(float* z, std::size_t n) {
  const float top = *std::max_element(z, z + n);
  float sum = 0;
  for (std::size_t c = 0; c < n; ++c) {
    z[c] = std::exp(z[c] - top);
    sum += z[c];
  }
  for (std::size_t c = 0; c < n; ++c) z[c] /= sum;
}

// Feature hash → row, open addressing with linear probing: one or two cache lines a lookup,
// where std::unordered_map chases a pointer per node.
class FeatureIndex {
 public:
  int find(std::uint64_t h) const {
    if (keys_.empty()) return -1;
    h = h ? h : 1;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == h) return rows_[i];
      if (keys_[i] == 0) return -1;
    }
  }
  /// The row of `h`, adding it as the next row if new.
  int add(std::uint64_t h) {
    if ((size_ + 1) * 2 > keys_.size()) grow();
    h = h ? h : 1;
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      if (keys_[i] == h) return rows_[i];
      if (keys_[i] == 0) {
        keys_[i] = h;
        rows_[i] = static_cast<int>(size_);
        return static_cast<int>(size_++);
      }
    }
  }
  std::size_t size() const { return size_; }

 private:
  void grow() {
    std::vector<std::uint64_t> keys = std::move(keys_);
    std::vector<int> rows = std::move(rows_);
    const std::size_t capacity = std::max<std::size_t>(1024, keys.size() * 2);
    keys_.assign(capacity, 0);
    rows_.assign(capacity, -1);
    mask_ = capacity - 1;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == 0) continue;
      std::size_t j = keys[i] & mask_;
      while (keys_[j] != 0) j = (j + 1) & mask_;
      keys_[j] = keys[i];
      rows_[j] = rows[i];
    }
  }
  std::vector<std::uint64_t> keys_;
  std::vector<int> rows_;
  std::size_t mask_ = 0, size_ = 0;
};

// A linear softmax head: rows × `width` weights, of which the first `classes` are used (width
// is a multiple of 8 so the inner loops are whole vectors).
struct Head {
  std::size_t classes = 0, width = 0;
  std::vector<float> weights, bias;

  void init(std::size_t rows, std::size_t n) {
    classes = n;
    width = n <= 2 ? n : (n + 7) / 8 * 8;  // two classes gain nothing from padding
    weights.assign(rows * width, 0.f);
    bias.assign(width, 0.f);
  }
  // Probabilities into z[0..classes).
  void score(const std::vector<int>& rows, float value, float* z) const {
    std::copy(bias.begin(), bias.end(), z);
    for (int r : rows) {
      const float* w = weights.data() + static_cast<std::size_t>(r) * width;
      for (std::size_t c = 0; c < width; ++c) z[c] += w[c] * value;
    }
    softmax(z, classes);
  }
  // One step of gradient descent towards `want`.
  void learn(const std::vector<int>& rows, float value, const float* want, float lr, float* z) {
    score(rows, value, z);
    for (std::size_t c = 0; c < width; ++c) z[c] = c < classes ? lr * (z[c] - want[c]) : 0.f;
    for (int r : rows) {
      float* w = weights.data() + static_cast<std::size_t>(r) * width;
      for (std::size_t c = 0; c < width; ++c) w[c] -= z[c] * value;
    }
    for (std::size_t c = 0; c < width; ++c) bias[c] -= z[c];
  }
};

constexpr std::size_t kMaxWidth = 64;  // intents a model can have (more are not learnt)

}  // namespace

struct Classifier::Impl {
  std::vector<std::string> labels;
  FeatureIndex ids;        // feature hash → row of `intent` and `lang`
  FeatureIndex word_ids;   // word feature hash → row of `danger`
  Head intent, lang, danger;
  std::vector<Example> examples;

  // Each feature weighs one over the square root of how many the message has, known or not, so
  // a long message does not shout louder than a short one.
  static float weight_of(std::size_t n) { return n == 0 ? 0.f : 1.f / std::sqrt(static_cast<float>(n)); }

  std::vector<int> rows_of(const std::vector<std::uint64_t>& hashes, const FeatureIndex& index) const {
    std::vector<int> rows;
    rows.reserve(hashes.size());
    for (auto h : hashes) {
      if (int r = index.find(h); r >= 0) rows.push_back(r);
    }
    return rows;
  }
};

Classifier Classifier::train(const std::vector<Example>& examples) {
  auto impl = std::make_shared<Impl>();
  std::unordered_map<std::string, int> label_index;
  struct Row {
    std::vector<int> rows, word_rows;
    float value = 0, word_value = 0;
    std::vector<int> labels;
    int lang = 0;
  };
  std::vector<Row> data;
  data.reserve(examples.size());
  for (const auto& ex : examples) {
    const Hashed f = hash_features(ex.text);
    if (f.all.empty() || ex.intents.empty()) continue;
    Row row;
    row.value = Impl::weight_of(f.all.size());
    for (auto h : f.all) row.rows.push_back(impl->ids.add(h));
    std::sort(row.rows.begin(), row.rows.end());
    row.word_value = Impl::weight_of(f.words.size());
    for (auto h : f.words) row.word_rows.push_back(impl->word_ids.add(h));
    for (const auto& intent : ex.intents) {
      auto [it, inserted] = label_index.emplace(intent, static_cast<int>(impl->labels.size()));
      if (inserted) impl->labels.push_back(intent);
      row.labels.push_back(it->second);
    }
    row.lang = ex.lang == Lang::es ? 1 : 0;
    impl->examples.push_back(ex);
    data.push_back(std::move(row));
  }
  if (data.empty() || impl->labels.size() > kMaxWidth) return {};

  const std::size_t n_labels = impl->labels.size();
  impl->intent.init(impl->ids.size(), n_labels);
  impl->lang.init(impl->ids.size(), 2);
  impl->danger.init(impl->word_ids.size(), 2);
  const auto emergency = label_index.find("emergency");

  std::mt19937 rng(kSeed);
  std::vector<std::size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  const double total_steps = static_cast<double>(kEpochs) * static_cast<double>(data.size());
  double step = 0;
  float z[kMaxWidth], want[kMaxWidth];
  for (int epoch = 0; epoch < kEpochs; ++epoch) {
    // Fisher–Yates with the engine's raw output: std::shuffle's algorithm is the library's own.
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng() % i]);
    for (std::size_t i : order) {
      const Row& row = data[i];
      const float lr = kLearningRate * static_cast<float>(1.0 - step / total_steps);
      ++step;
      std::fill(want, want + kMaxWidth, 0.f);
      for (int l : row.labels) want[l] += 1.f / static_cast<float>(row.labels.size());
      impl->intent.learn(row.rows, row.value, want, lr, z);
      const float lang_want[2] = {row.lang == 0 ? 1.f : 0.f, row.lang == 1 ? 1.f : 0.f};
      impl->lang.learn(row.rows, row.value, lang_want, lr, z);
      const bool urgent = emergency != label_index.end() &&
                          std::find(row.labels.begin(), row.labels.end(), emergency->second) != row.labels.end();
      const float danger_want[2] = {urgent ? 0.f : 1.f, urgent ? 1.f : 0.f};
      impl->danger.learn(row.word_rows, row.word_value, danger_want, lr, z);
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

Classifier::Reading Classifier::read(std::string_view text) const {
  Reading r;
  if (!impl_) return r;
  const Hashed f = hash_features(text);
  r.words = f.alphabetic;
  r.knows_a_word = std::any_of(f.whole.begin(), f.whole.end(), [&](auto h) { return impl_->ids.find(h) >= 0; });
  const auto rows = impl_->rows_of(f.all, impl_->ids);
  float z[kMaxWidth];
  if (!rows.empty()) {
    const float value = Impl::weight_of(f.all.size());
    impl_->lang.score(rows, value, z);
    r.spanish = z[1];
    // Nothing known to the model ("asdf", a name, emoji): no guess from the priors alone.
    if (r.knows_a_word) {
      impl_->intent.score(rows, value, z);
      r.intents.reserve(impl_->labels.size());
      for (std::size_t c = 0; c < impl_->labels.size(); ++c) r.intents.push_back({impl_->labels[c], z[c]});
      std::stable_sort(r.intents.begin(), r.intents.end(), [](const Score& a, const Score& b) { return a.p > b.p; });
    }
  }
  const auto word_rows = impl_->rows_of(f.words, impl_->word_ids);
  if (!word_rows.empty()) {
    impl_->danger.score(word_rows, Impl::weight_of(f.words.size()), z);
    r.danger = z[1];
  }
  return r;
}

std::vector<Score> Classifier::rank(std::string_view text) const { return read(text).intents; }

std::vector<std::pair<const Example*, float>> Classifier::nearest(std::string_view text,
                                                                  std::size_t k) const {
  if (!impl_) return {};
  const Hashed f = hash_features(text);
  auto rows = impl_->rows_of(f.all, impl_->ids);
  if (rows.empty()) return {};
  std::sort(rows.begin(), rows.end());
  const float query_size = static_cast<float>(f.all.size());
  std::vector<std::pair<const Example*, float>> out;
  // Only `simulate --explain` asks, so the examples' features are found again here rather than
  // kept in memory for every message's sake.
  for (std::size_t i = 0; i < impl_->examples.size(); ++i) {
    auto theirs = impl_->rows_of(hash_features(impl_->examples[i].text).all, impl_->ids);
    std::sort(theirs.begin(), theirs.end());
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
  for (int f = 0; f < folds; ++f) {
    std::vector<Example> rest;
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (fold_of(i, folds) != f) rest.push_back(examples[i]);
    }
    const Classifier model = Classifier::train(rest);
    for (std::size_t i = 0; i < examples.size(); ++i) {
      if (fold_of(i, folds) == f) out[i] = model.rank(examples[i].text);
    }
  }
  return out;
}

int fold_of(std::size_t index, int folds) {
  return static_cast<int>((index * 2654435761u) % 1000003u % static_cast<std::size_t>(folds));
}

std::uint64_t examples_hash(const std::vector<Example>& examples) {
  std::uint64_t h = kFnvOffset;
  for (const auto& ex : examples) {
    h = fnv(h, ex.text);
    for (const auto& intent : ex.intents) h = fnv(fnv(h, '\x1f'), intent);
    h = fnv(h, lang_code(ex.lang));
    h = fnv(h, channel_name(ex.channel));
    h = fnv(h, '\x1e');
  }
  return h;
}

}  // namespace hotline::nlu
