#include "hotline/nlu/understand.hpp"

#include <algorithm>
#include <array>
#include <set>

#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

// The thresholds below were chosen by 5-fold cross-validation on the training examples
// (`hotline eval --cross-validate`, docs/understanding.md), never on the frozen test set.

// The emergency answer needs the classifier this sure that emergency is the likeliest intent...
constexpr float kSureEmergency = 0.60f;
// ...and the second, words-only head (Classifier::Reading::danger) at least this sure of danger now;
// when it is not, the 911 line comes first and the question is answered ("a guy pulled a gun on
// me last month, can I still report it?").
constexpr float kDangerAgree = 0.30f;
// Below the top place, an emergency this likely gets the 911 line first, and so does a message
// the words-only model finds this likely to be danger now.
constexpr float kMaybeEmergency = 0.05f;
constexpr float kDangerMaybe = 0.20f;
// A part of a long message that reads as an emergency this surely makes the whole one.
constexpr float kClauseEmergency = 0.60f;
// Unsure: the best answer is weaker than this and the second close behind it: ask.
constexpr float kWeak = 0.45f;
constexpr float kClose = 0.20f;
// Below this nothing is understood.
constexpr float kFloor = 0.20f;
// A second question: a part of the message this surely about something else.
constexpr float kSecond = 0.75f;
// A message is clearly in a language when the classifier is this sure of it.
constexpr float kClearLanguage = 0.75f;
// ...and a one-word message ("gracias", "hey", "tres") this sure.
constexpr float kClearWord = 0.80f;
// Clauses ("…, and can they ask for papers?") are looked for in messages of this many words.
constexpr int kMinWordsForClauses = 6;

// Intents that answer a question, so they can be a second answer or one of two choices. A
// greeting or thanks is never worth a question back.
bool is_question(const std::string& intent) {
  return intent != kEmergency && intent != "greeting" && intent != "thanks" && intent != "out_of_scope";
}

const Score* find(const std::vector<Score>& ranked, std::string_view intent) {
  for (const auto& s : ranked) {
    if (s.intent == intent) return &s;
  }
  return nullptr;
}

// The parts of a message: sentences, and clauses joined by "and", "y", "but", "pero"…
std::vector<std::string> clauses(std::string_view text) {
  static const std::set<std::string> joins = {"and", "y", "but", "pero", "also", "tambien",
                                              "ademas", "plus", "e"};
  constexpr std::size_t kMinWords = 3;
  std::vector<std::string> parts;
  std::vector<std::string> part;
  auto flush = [&] {
    if (part.size() >= kMinWords) {
      std::string joined;
      for (const auto& w : part) joined += (joined.empty() ? "" : " ") + w;
      parts.push_back(std::move(joined));
    }
    part.clear();
  };
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const bool end = i == text.size();
    if (!end && text[i] != '?' && text[i] != '.' && text[i] != '!' && text[i] != '\n' && text[i] != ';') continue;
    for (auto& word : tokens(text.substr(start, i - start))) {
      if (joins.count(word)) flush();
      else part.push_back(std::move(word));
    }
    flush();
    start = i + 1;
  }
  return parts;
}

// The language a reading clearly shows (see clear_language in the header).
std::optional<Lang> language_of(const Classifier::Reading& r) {
  if (r.words == 0 || !r.knows_a_word) return std::nullopt;  // "2", "911", emoji, "qwerty"
  const float sure = r.words == 1 ? kClearWord : kClearLanguage;
  if (r.spanish >= sure) return Lang::es;
  if (r.spanish <= 1.f - sure) return Lang::en;
  return std::nullopt;
}

}  // namespace

Understanding understand(const Classifier& model, std::string_view text) {
  Understanding u;
  // Numbers are exact: a number the step does not offer ("8", "911") is not a question.
  const std::string folded = fold(text);
  if (std::all_of(folded.begin(), folded.end(), [](char c) { return (c >= '0' && c <= '9') || c == ' '; })) return u;
  const Classifier::Reading reading = model.read(text);
  u.lang = language_of(reading);
  u.spanish = reading.spanish;
  u.ranked = reading.intents;
  if (u.ranked.empty()) return u;
  // A part of a message can only be a clause of its own when the message is long enough.
  std::vector<std::vector<Score>> part_ranks;
  if (reading.words >= kMinWordsForClauses) {
    const auto parts = clauses(text);
    if (parts.size() > 1) {
      for (const auto& part : parts) part_ranks.push_back(model.rank(part));
    }
  }

  const Score* emergency = find(u.ranked, kEmergency);
  bool urgent = u.ranked.front().intent == kEmergency && u.ranked.front().p >= kSureEmergency;
  for (const auto& ranked : part_ranks) {
    if (!ranked.empty() && ranked.front().intent == kEmergency && ranked.front().p >= kClauseEmergency) {
      urgent = true;
    }
  }
  if (urgent && reading.danger < kDangerAgree) {
    urgent = false;  // the two heads disagree: the 911 line first, and the question answered
    u.maybe_emergency = true;
  }
  if (urgent) {
    u.intent = kEmergency;
    u.confidence = emergency ? emergency->p : 0;
    return u;
  }
  if (emergency && emergency->p >= kMaybeEmergency) u.maybe_emergency = true;
  if (reading.danger >= kDangerMaybe) u.maybe_emergency = true;

  // The best two answers other than emergency.
  std::vector<const Score*> answers;
  for (const auto& s : u.ranked) {
    if (s.intent != kEmergency) answers.push_back(&s);
  }
  if (answers.empty() || answers[0]->p < kFloor) return u;
  const Score& best = *answers[0];
  const Score* next = answers.size() > 1 ? answers[1] : nullptr;
  const bool unsure = next && is_question(best.intent) && is_question(next->intent) &&
                      best.p < kWeak && best.p - next->p < kClose;
  if (unsure) {
    u.choices = {best.intent, next->intent};
    return u;
  }
  u.intent = best.intent;
  u.confidence = best.p;

  // Two questions in one message: a part that is surely about another question.
  if (is_question(u.intent)) {
    for (const auto& ranked : part_ranks) {
      if (ranked.empty()) continue;
      const Score& top = ranked.front();
      if (top.intent != u.intent && is_question(top.intent) && top.p >= kSecond) {
        u.second = top.intent;
        break;
      }
    }
  }
  return u;
}

std::optional<Lang> clear_language(const Classifier& model, std::string_view text, float* spanish) {
  const Classifier::Reading reading = model.read(text);
  if (spanish) *spanish = reading.spanish;
  return language_of(reading);
}

std::optional<std::string> menu_choice(std::string_view text) {
  static const std::set<std::string> filler = {
      "el", "la", "lo", "los", "las", "opcion", "opciones", "option", "opt", "numero", "number",
      "num", "nro", "nr", "the", "a", "de", "del", "quiero", "i", "want", "choose", "pick",
      "elijo", "escojo", "please", "por", "favor", "ok", "okay", "pues", "este", "um", "uh",
      "es", "is", "it", "mi", "my", "respuesta", "answer", "reply", "seria", "would", "be",
      "eh", "ah", "mm", "hmm", "go", "with", "con", "dame", "give", "me", "let", "see", "ver",
      "press", "marco", "marcar", "oprimo", "presiono", "la", "dale", "no", "n", "o"};
  static const std::array<std::pair<const char*, const char*>, 14> words = {{
      {"cero", "0"}, {"zero", "0"}, {"uno", "1"}, {"una", "1"}, {"one", "1"}, {"dos", "2"},
      {"two", "2"}, {"tres", "3"}, {"three", "3"}, {"cuatro", "4"}, {"four", "4"},
      {"cinco", "5"}, {"five", "5"}, {"primera", "1"}}};
  const auto toks = tokens(text);
  if (toks.empty() || toks.size() > 6) return std::nullopt;
  std::optional<std::string> number;
  for (const auto& t : toks) {
    std::optional<std::string> here;
    if (t.size() == 1 && t[0] >= '0' && t[0] <= '9') here = t;
    for (const auto& [word, digit] : words) {
      if (t == word) here = digit;
    }
    if (here) {
      if (number && *number != *here) return std::nullopt;  // "1 or 2": not a choice
      number = here;
    } else if (!filler.count(t)) {
      return std::nullopt;
    }
  }
  return number;
}

}  // namespace hotline::nlu
