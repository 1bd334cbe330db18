#pragma once
// Understanding what people really type (or say): any case, with or without accents, typos,
// SMS shorthand, Spanglish. Pure functions over data loaded from flows/intents.yaml.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"

namespace hotline::nlu {

/// Lowercases, removes accents (á→a, ñ→n, ü→u), turns punctuation and emoji into spaces,
/// collapses white space, and replaces invalid UTF-8 with spaces. Never throws.
/// Apostrophes join rather than split ("don't" → "dont", which tokens() expands to "do not").
std::string fold(std::string_view utf8);

/// fold(), split on spaces, then SMS shorthand expanded ("q"→"que", "xq"/"pq"→"porque",
/// "poli"→"policia", "migra"→"inmigracion", "ud"→"usted", "u"→"you", "pls"→"please", …).
std::vector<std::string> tokens(std::string_view utf8);

/// Whether `id` can name an intent: lowercase letters, digits and _, starting with a letter.
bool is_valid_intent_id(std::string_view id);

/// Carrier-style keywords: they count only when they are the whole message (case- and
/// accent-insensitive, surrounding spaces and punctuation ignored).
enum class Keyword { none, stop, start, help, english, spanish, menu };
struct KeywordMatch {
  Keyword keyword = Keyword::none;
  std::optional<Lang> lang;  // the language the keyword is written in, when it has one (PARAR → es)
};
KeywordMatch match_keyword(std::string_view text);

/// One intent: phrases per language. A phrase is one or more words; a word ending in `*`
/// matches any word starting with it ("deport*"). Words of 5+ letters tolerate one typo.
struct Intent {
  std::string id;
  int priority = 0;  // higher is checked first and wins ties; `emergency` is highest
  std::map<Lang, std::vector<std::string>> phrases;
  Position where;  // where it is defined, for diagnostics
};

/// An intent whose priority is at least this wins whenever any of its phrases matches,
/// whatever else matched ("checked before everything else"): `emergency`.
inline constexpr int kUrgentPriority = 100;

/// The intents of a bundle, ready to match. Built once at load; immutable afterwards.
/// `language_words` are common words per language that help guess_language() when no intent
/// phrase tells the languages apart.
class IntentModel {
 public:
  IntentModel() = default;
  explicit IntentModel(std::vector<Intent> intents,
                       std::map<Lang, std::vector<std::string>> language_words = {});
  const std::vector<Intent>& intents() const { return intents_; }
  const std::map<Lang, std::vector<std::string>>& language_words() const { return language_words_; }
  bool has(std::string_view id) const;

 private:
  std::vector<Intent> intents_;
  std::map<Lang, std::vector<std::string>> language_words_;
  // Phrases compiled to word ids, the vocabulary indexed for exact, typo and prefix matching,
  // and the language evidence sets. Shared so copying a model (into a Bundle) is cheap.
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
  friend struct Matcher;
};

/// Loads flows/intents.yaml, reporting every problem as a diagnostic.
std::optional<IntentModel> load_intents(const std::string& path, Diagnostics& diags);

struct IntentMatch {
  std::string intent;
  int score = 0;                // larger = more evidence
  std::optional<Lang> lang;     // the language of the phrases that matched, if one only
};

/// Best intent for a message, or nullopt. `emergency` (the highest priority) wins whenever it
/// matches at all.
std::optional<IntentMatch> classify(const IntentModel& model, std::string_view text);

/// Guesses the language of a message from common words and the intent phrases;
/// nullopt when it could be either ("ok", "911", "hi", emoji).
std::optional<Lang> guess_language(const IntentModel& model, std::string_view text);

}  // namespace hotline::nlu
