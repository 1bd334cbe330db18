// Carrier keywords. Carriers (and Twilio's Advanced Opt-Out) treat a message as a keyword only
// when it is the whole message, so "stop please" or "no pares" is an ordinary message; doing the
// same here keeps the hotline's opt-out record in step with what the carrier enforces.
#include <string_view>

#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

struct KeywordEntry {
  std::string_view word;  // folded: lowercase, no accents
  Keyword keyword;
  std::optional<Lang> lang;
};

constexpr KeywordEntry kKeywords[] = {
    // Opt-out: Twilio's English defaults, plus the Spanish words US carriers honour.
    {"stop", Keyword::stop, Lang::en},
    {"stopall", Keyword::stop, Lang::en},
    {"unsubscribe", Keyword::stop, Lang::en},
    {"cancel", Keyword::stop, Lang::en},
    {"end", Keyword::stop, Lang::en},
    {"quit", Keyword::stop, Lang::en},
    {"revoke", Keyword::stop, Lang::en},
    {"optout", Keyword::stop, Lang::en},
    {"parar", Keyword::stop, Lang::es},
    {"alto", Keyword::stop, Lang::es},
    {"baja", Keyword::stop, Lang::es},
    {"cancelar", Keyword::stop, Lang::es},
    // Opt-in.
    {"start", Keyword::start, Lang::en},
    {"unstop", Keyword::start, Lang::en},
    {"yes", Keyword::start, Lang::en},
    {"alta", Keyword::start, Lang::es},
    {"iniciar", Keyword::start, Lang::es},
    // Help.
    {"help", Keyword::help, Lang::en},
    {"info", Keyword::help, Lang::en},
    {"ayuda", Keyword::help, Lang::es},
    // Language: `lang` is the language the word is written in, not the one asked for.
    {"english", Keyword::english, Lang::en},
    {"ingles", Keyword::english, Lang::es},
    {"spanish", Keyword::spanish, Lang::en},
    {"espanol", Keyword::spanish, Lang::es},
    // Menu. "menu" is the same word in both languages (MENÚ is decided below).
    {"menu", Keyword::menu, std::nullopt},
    {"inicio", Keyword::menu, Lang::es},
};

// "MENÚ" with its accent can only be Spanish; folding has removed the accent, so look for it in
// the raw text: ú is C3 BA, Ú is C3 9A, and some phones send u + combining acute (CC 81).
bool has_u_acute(std::string_view raw) {
  for (std::string_view form : {"\xC3\xBA", "\xC3\x9A", "u\xCC\x81", "U\xCC\x81"}) {
    if (raw.find(form) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

KeywordMatch match_keyword(std::string_view text) {
  const std::string folded = fold(text);  // trims, and "STOP!" folds to "stop"
  for (const auto& entry : kKeywords) {
    if (folded != entry.word) continue;
    KeywordMatch match{entry.keyword, entry.lang};
    if (entry.keyword == Keyword::menu && !entry.lang && has_u_acute(text)) match.lang = Lang::es;
    return match;
  }
  return {};
}

}  // namespace hotline::nlu
