// The intent matcher on any text: fold, tokens, keywords, classify and the language guess,
// with the shipped intents.
#include <cstdlib>
#include <string_view>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/utf8.hpp"
#include "hotline/nlu/nlu.hpp"

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
  static const hotline::nlu::IntentModel model = [] {
    hotline::Diagnostics diags;
    auto m = hotline::nlu::load_intents(HOTLINE_SOURCE_DIR "/flows/intents.yaml", diags);
    if (!m) std::abort();
    return *m;
  }();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string folded = hotline::nlu::fold(text);
  if (!hotline::is_valid_utf8(folded)) std::abort();  // folding must never make broken UTF-8
  hotline::nlu::tokens(text);
  hotline::nlu::match_keyword(text);
  hotline::nlu::classify(model, text);
  hotline::nlu::guess_language(model, text);
  return 0;
}
