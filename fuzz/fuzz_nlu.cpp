// Understanding any text: fold, tokens, keywords, the phrase matcher and the language guess
// with the shipped intents, and the classifier trained on the shipped examples (understand, the
// clear language, a menu choice), whose probabilities must stay probabilities.
#include <cstdlib>
#include <string_view>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/utf8.hpp"
#include "hotline/nlu/examples.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/nlu/understand.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const hotline::nlu::IntentModel model = [] {
    hotline::Diagnostics diags;
    auto m = hotline::nlu::load_intents(HOTLINE_SOURCE_DIR "/flows/intents.yaml", diags);
    if (!m) std::abort();
    return *m;
  }();
  static const hotline::nlu::Classifier classifier = [] {
    // One file of the shipped examples: a model as rich in features, trained in a fraction of
    // the time, so the fuzzer spends its seconds on inputs.
    hotline::Diagnostics diags;
    return hotline::nlu::Classifier::train(
        hotline::nlu::load_examples_file(HOTLINE_SOURCE_DIR "/flows/examples/es-shorthand.tsv", diags));
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string folded = hotline::nlu::fold(text);
  if (!hotline::is_valid_utf8(folded)) std::abort();  // folding must never make broken UTF-8
  hotline::nlu::tokens(text);
  hotline::nlu::match_keyword(text);
  hotline::nlu::classify(model, text);
  hotline::nlu::guess_language(model, text);
  const auto u = hotline::nlu::understand(classifier, text);
  float sum = 0;
  for (const auto& s : u.ranked) {
    if (!(s.p >= 0.f && s.p <= 1.f)) std::abort();
    sum += s.p;
  }
  if (!u.ranked.empty() && (sum < 0.99f || sum > 1.01f)) std::abort();
  if (!(u.spanish >= 0.f && u.spanish <= 1.f)) std::abort();
  hotline::nlu::menu_choice(text);
  return 0;
}
