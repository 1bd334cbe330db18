// Intent matching: which question a message asks, from the phrases in flows/intents.yaml.
//
// How a message is matched (kept simple enough that staff can predict it from the YAML comment):
// - The message and every phrase become tokens() (folded, shorthand expanded).
// - A phrase matches when its words appear in order, with at most one extra word between two of
//   them ("call police" matches "call the police").
// - A phrase word matches a message word exactly; or, for words of 5+ letters, with one typo
//   (two for 9+ letters: "emigracion" for "inmigracion"); or, for `deport*`, as a prefix (with
//   a typo too, but not in the first letter). A message word that some phrase spells exactly is
//   never taken for a typo of another word ("police" is not a misspelt "policy").
// - An intent scores the sum of its matched phrases' weights, words² (a 3-word phrase counts 9,
//   a single word 1), so specific phrases beat loose words. Highest score wins; ties go to the
//   higher priority, then to the intent written first. An intent with priority ≥ 100 wins
//   whenever it matches at all.
//
// Speed: this runs on every webhook, so all the phrase work is done once in the constructor. Per
// message, each token is looked up in a hash of the vocabulary, compared for typos only against
// words of a compatible length whose letter sets almost agree, and every phrase that starts with
// one of the message's words is then checked with a few bit operations over "which positions
// hold this word" masks.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "hotline/common/yaml_position.hpp"
#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

constexpr std::size_t kMaxTokens = 400;      // an SMS is at most 1600 characters (~300 words)
constexpr std::size_t kMaxFuzzyLength = 40;  // longer "words" are noise; exact match only
constexpr std::size_t kMinPrefixLetters = 3;

struct PhraseWord {
  std::string text;
  bool prefix = false;
  bool operator==(const PhraseWord&) const = default;
};

struct CompiledText {
  std::vector<PhraseWord> words;
  std::string problem_code;  // empty when the phrase is fine
  std::string problem;       // completes "… of intent 'x' …" messages; see the loader
};

bool is_alpha_word(std::string_view w) {
  return !w.empty() && std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Splits phrase text into words the way messages are split, keeping `*` (which fold() would
// turn into a space) as a prefix marker on the word it ends.
CompiledText compile_phrase(std::string_view text) {
  CompiledText out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < text.size() && !(text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    std::string_view chunk = text.substr(start, i - start);
    if (chunk.empty()) continue;
    const std::size_t star = chunk.find('*');
    if (star == std::string_view::npos) {
      for (auto& t : tokens(chunk)) out.words.push_back({std::move(t), false});
      continue;
    }
    if (star != chunk.size() - 1) {
      out.problem_code = "bad-wildcard";
      out.problem = "`*` can only end a word, as in deport*";
      return out;
    }
    // A prefix is not expanded as shorthand: "poli*" means words starting with "poli".
    const std::string folded = fold(chunk.substr(0, star));
    std::vector<std::string> parts;
    std::size_t p = 0;
    while (p < folded.size()) {
      std::size_t e = folded.find(' ', p);
      if (e == std::string::npos) e = folded.size();
      parts.emplace_back(folded.substr(p, e - p));
      p = e + 1;
    }
    if (parts.empty() || parts.back().size() < kMinPrefixLetters) {
      out.problem_code = "bad-wildcard";
      out.problem = "a word ending in * needs at least 3 letters before the *, or it matches too much";
      return out;
    }
    for (std::size_t k = 0; k < parts.size(); ++k) {
      out.words.push_back({std::move(parts[k]), k + 1 == parts.size()});
    }
  }
  if (out.words.empty()) {
    out.problem_code = "empty-phrase";
    out.problem = "has no words (punctuation and emoji are ignored)";
  }
  return out;
}

// Typos a phrase word forgives, by its length (see the YAML header comment).
int typos_allowed(std::string_view word) {
  if (!is_alpha_word(word)) return 0;
  return word.size() >= 9 ? 2 : word.size() >= 5 ? 1 : 0;
}

std::uint32_t letter_set(std::string_view w) {
  std::uint32_t mask = 0;
  for (char c : w) {
    if (c >= 'a' && c <= 'z') mask |= 1u << (c - 'a');  // digits never take part in typos
  }
  return mask;
}

// Optimal-string-alignment (Damerau) distance ≤ k, with an early exit once every cell in a row
// exceeds k. Both strings are at most kMaxFuzzyLength + 2 long.
bool within_distance(std::string_view a, std::string_view b, int k) {
  const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
  if (std::abs(n - m) > k) return false;
  constexpr int kCols = kMaxFuzzyLength + 4;
  if (m + 1 > kCols) return false;
  std::array<int, kCols> prev2{}, prev{}, cur{};
  for (int j = 0; j <= m; ++j) prev[j] = j;
  for (int i = 1; i <= n; ++i) {
    cur[0] = i;
    int row_min = cur[0];
    for (int j = 1; j <= m; ++j) {
      const int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      int v = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        v = std::min(v, prev2[j - 2] + 1);
      }
      cur[j] = v;
      row_min = std::min(row_min, v);
    }
    if (row_min > k) return false;
    prev2 = prev;
    prev = cur;
  }
  return prev[m] <= k;
}

// "deprtarme" starts with "deport" give or take a typo: some cut of the token is close to it.
// The first letter must agree, or "report*" words would all be taken for "deport*".
bool fuzzy_prefix(std::string_view token, std::string_view prefix, int k) {
  if (token.empty() || prefix.empty() || token[0] != prefix[0]) return false;
  const int p = static_cast<int>(prefix.size());
  for (int cut = p - k; cut <= p + k; ++cut) {
    if (cut < 1 || cut > static_cast<int>(token.size())) continue;
    if (within_distance(token.substr(0, cut), prefix, k)) return true;
  }
  return false;
}

constexpr unsigned lang_bit(Lang lang) { return lang == Lang::es ? 2u : 1u; }

}  // namespace

struct IntentModel::Compiled {
  struct Word {
    std::string text;
    bool prefix = false;
    int typos = 0;
    std::uint32_t letters = 0;
  };
  struct Phrase {
    std::vector<int> words;  // vocabulary ids
    int intent = 0;          // index into intents_
    unsigned langs = 0;      // lang_bit()s of the lists it appears in
    int weight = 0;
  };

  std::vector<Word> vocab;
  std::unordered_map<std::string, int> exact;    // whole words → id
  std::vector<std::vector<int>> fuzzy_by_length;  // length → ids of words that forgive typos
  std::vector<int> prefixes;                      // ids of `word*`
  std::vector<Phrase> phrases;
  std::vector<std::vector<int>> phrases_by_first;  // vocab id → the phrases that start with it
  std::array<std::unordered_set<std::string>, 2> evidence;  // en, es: words only that language uses

  int word_id(const PhraseWord& w) {
    if (!w.prefix) {
      if (auto it = exact.find(w.text); it != exact.end()) return it->second;
    } else {
      for (int id : prefixes) {
        if (vocab[id].text == w.text) return id;
      }
    }
    const int id = static_cast<int>(vocab.size());
    vocab.push_back({w.text, w.prefix, typos_allowed(w.text), letter_set(w.text)});
    if (w.prefix) {
      prefixes.push_back(id);
    } else {
      exact.emplace(w.text, id);
      if (vocab.back().typos > 0) {
        if (fuzzy_by_length.size() <= w.text.size()) fuzzy_by_length.resize(w.text.size() + 1);
        fuzzy_by_length[w.text.size()].push_back(id);
      }
    }
    return id;
  }
};

struct Matcher {
  using Compiled = IntentModel::Compiled;

  static std::shared_ptr<const Compiled> compile(
      const std::vector<Intent>& intents,
      const std::map<Lang, std::vector<std::string>>& language_words) {
    auto c = std::make_shared<Compiled>();
    // The same words listed twice for one intent (in one or both languages) count once, so a
    // bilingual word such as "daca" does not score double.
    std::map<std::pair<int, std::vector<int>>, std::size_t> seen;
    std::array<std::unordered_set<std::string>, 2> phrase_words;
    for (std::size_t i = 0; i < intents.size(); ++i) {
      for (const auto& [lang, list] : intents[i].phrases) {
        for (const auto& text : list) {
          CompiledText compiled = compile_phrase(text);
          if (!compiled.problem_code.empty()) continue;  // the loader has reported it
          std::vector<int> ids;
          for (const auto& w : compiled.words) {
            ids.push_back(c->word_id(w));
            if (!w.prefix) phrase_words[lang == Lang::es].insert(w.text);
          }
          auto key = std::make_pair(static_cast<int>(i), ids);
          if (auto it = seen.find(key); it != seen.end()) {
            c->phrases[it->second].langs |= lang_bit(lang);
            continue;
          }
          const int n = static_cast<int>(ids.size());
          seen.emplace(std::move(key), c->phrases.size());
          c->phrases.push_back({std::move(ids), static_cast<int>(i), lang_bit(lang), n * n});
        }
      }
    }
    // A phrase can only match where its first word is, so a message checks only the phrases
    // starting with one of its words (a few dozen) rather than all of them (about 900).
    c->phrases_by_first.assign(c->vocab.size(), {});
    for (std::size_t p = 0; p < c->phrases.size(); ++p) {
      c->phrases_by_first[static_cast<std::size_t>(c->phrases[p].words[0])].push_back(static_cast<int>(p));
    }
    // Language evidence: the curated common words, plus phrase words only one language uses.
    // A word both languages use ("no", "me", "ice", "daca") tells nothing apart.
    std::array<std::unordered_set<std::string>, 2> listed;
    for (const auto& [lang, words] : language_words) {
      for (const auto& w : words) {
        for (auto& t : tokens(w)) listed[lang == Lang::es].insert(std::move(t));
      }
    }
    for (int l = 0; l < 2; ++l) {
      for (const auto& w : listed[l]) {
        if (!listed[1 - l].count(w)) c->evidence[l].insert(w);
      }
      for (const auto& w : phrase_words[l]) {
        if (!phrase_words[1 - l].count(w) && !listed[1 - l].count(w)) c->evidence[l].insert(w);
      }
    }
    return c;
  }

  // Which message positions hold each vocabulary word: `blocks` words of 64 bits per vocab id.
  // The bits live in a per-thread buffer that is all zeros between calls: only the ids a
  // message touched (`touched`) are set, and only those are cleared again afterwards, instead
  // of zeroing vocab × blocks words (12 kB) for every message.
  struct Positions {
    std::size_t blocks = 1;
    std::uint64_t* bits = nullptr;
    std::vector<int>* touched = nullptr;
    std::uint64_t* of(int id) const { return bits + static_cast<std::size_t>(id) * blocks; }
    void set(int id, std::size_t pos) {
      std::uint64_t* row = of(id);
      if (std::all_of(row, row + blocks, [](std::uint64_t x) { return x == 0; })) touched->push_back(id);
      row[pos / 64] |= std::uint64_t{1} << (pos % 64);
    }
  };

  struct Scratch {
    std::vector<std::uint64_t> bits;  // zeros, but where a running call has set some
    std::vector<int> touched;
  };

  /// Positions in this thread's scratch buffer; the caller clears them (see Cleared).
  static Positions locate(const Compiled& c, const std::vector<std::string>& toks, Scratch& scratch,
                          std::size_t blocks) {
    Positions at;
    at.blocks = blocks;
    if (scratch.bits.size() < c.vocab.size() * blocks) scratch.bits.resize(c.vocab.size() * blocks, 0);
    at.bits = scratch.bits.data();
    at.touched = &scratch.touched;
    for (std::size_t pos = 0; pos < toks.size(); ++pos) {
      const std::string& t = toks[pos];
      // A word that some phrase spells exactly is not a typo of another one: otherwise
      // "police" and "policy", or "quiero" and "quiere", would be the same word.
      const auto exact = c.exact.find(t);
      if (exact != c.exact.end()) at.set(exact->second, pos);
      const bool fuzzy_ok = exact == c.exact.end() && t.size() >= 3 &&
                            t.size() <= kMaxFuzzyLength && is_alpha_word(t);
      if (fuzzy_ok && !c.fuzzy_by_length.empty()) {
        const std::uint32_t letters = letter_set(t);
        // Only words within two letters of the token's length can be within two typos.
        const std::size_t lo = std::max<std::size_t>(t.size() - 2, 5);
        const std::size_t hi = std::min(t.size() + 2, c.fuzzy_by_length.size() - 1);
        for (std::size_t len = lo; len <= hi; ++len) {
          for (int id : c.fuzzy_by_length[len]) {
            const auto& w = c.vocab[id];
            const int diff = static_cast<int>(len) - static_cast<int>(t.size());
            if (std::abs(diff) > w.typos) continue;
            // One edit changes at most two letters of the set of letters used: a cheap filter
            // that rejects almost every pair before the distance is computed.
            if (std::popcount(letters ^ w.letters) > 2 * w.typos) continue;
            if (w.text != t && within_distance(t, w.text, w.typos)) at.set(id, pos);
          }
        }
      }
      for (int id : c.prefixes) {
        const auto& w = c.vocab[id];
        if (t.starts_with(w.text) ||
            (fuzzy_ok && w.typos > 0 && fuzzy_prefix(t, w.text, w.typos))) {
          at.set(id, pos);
        }
      }
    }
    return at;
  }

  // Each phrase word must follow the previous one directly or after one extra word: shift the
  // candidate end positions by one and by two, and keep those where the next word is.
  static bool phrase_matches(const Compiled::Phrase& phrase, Positions& at,
                             std::vector<std::uint64_t>& cur, std::vector<std::uint64_t>& next) {
    const std::size_t blocks = at.blocks;
    if (blocks == 1) {
      std::uint64_t m = *at.of(phrase.words[0]);
      for (std::size_t k = 1; m && k < phrase.words.size(); ++k) {
        m = ((m << 1) | (m << 2)) & *at.of(phrase.words[k]);
      }
      return m != 0;
    }
    const std::uint64_t* first = at.of(phrase.words[0]);
    cur.assign(first, first + blocks);
    for (std::size_t k = 1; k < phrase.words.size(); ++k) {
      const std::uint64_t* want = at.of(phrase.words[k]);
      bool any = false;
      for (std::size_t b = 0; b < blocks; ++b) {
        const std::uint64_t carry1 = b > 0 ? cur[b - 1] >> 63 : 0;
        const std::uint64_t carry2 = b > 0 ? cur[b - 1] >> 62 : 0;
        next[b] = ((cur[b] << 1) | carry1 | (cur[b] << 2) | carry2) & want[b];
        any = any || next[b];
      }
      if (!any) return false;
      cur.swap(next);
    }
    return std::any_of(cur.begin(), cur.end(), [](std::uint64_t x) { return x != 0; });
  }

  static std::optional<IntentMatch> classify(const IntentModel& model, std::string_view text) {
    if (!model.compiled_) return std::nullopt;
    const Compiled& c = *model.compiled_;
    std::vector<std::string> toks = tokens(text);
    if (toks.empty()) return std::nullopt;
    if (toks.size() > kMaxTokens) toks.resize(kMaxTokens);
    const std::size_t blocks = std::max<std::size_t>(1, (toks.size() + 63) / 64);
    thread_local Scratch scratch;
    // Leaves the scratch bits all zeros again, whatever happens below.
    struct Cleared {
      Scratch& s;
      std::size_t blocks;
      ~Cleared() {
        for (int id : s.touched) {
          std::fill_n(s.bits.data() + static_cast<std::size_t>(id) * blocks, blocks, std::uint64_t{0});
        }
        s.touched.clear();
      }
    } cleared{scratch, blocks};
    Positions at = locate(c, toks, scratch, blocks);

    const std::size_t n = model.intents_.size();
    std::vector<int> score(n, 0);
    std::vector<unsigned> only_lang(n, 0);  // languages shown by phrases of one language only
    std::vector<std::uint64_t> cur(at.blocks), next(at.blocks);
    // Sums and ORs, so the order the phrases are checked in does not matter.
    for (int first : *at.touched) {
      for (int p : c.phrases_by_first[static_cast<std::size_t>(first)]) {
        const auto& phrase = c.phrases[static_cast<std::size_t>(p)];
        if (!phrase_matches(phrase, at, cur, next)) continue;
        score[phrase.intent] += phrase.weight;
        if (phrase.langs == 1u || phrase.langs == 2u) only_lang[phrase.intent] |= phrase.langs;
      }
    }

    int best = -1;
    auto rank = [&](std::size_t i) {
      const int priority = model.intents_[i].priority;
      const bool urgent = priority >= kUrgentPriority;
      return std::make_tuple(urgent, urgent ? priority : 0, score[i], priority,
                             -static_cast<int>(i));
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (score[i] == 0) continue;
      if (best < 0 || rank(i) > rank(static_cast<std::size_t>(best))) best = static_cast<int>(i);
    }
    if (best < 0) return std::nullopt;

    IntentMatch match;
    match.intent = model.intents_[best].id;
    match.score = score[best];
    if (only_lang[best] == lang_bit(Lang::en)) match.lang = Lang::en;
    if (only_lang[best] == lang_bit(Lang::es)) match.lang = Lang::es;
    return match;
  }

  static std::optional<Lang> guess_language(const IntentModel& model, std::string_view text) {
    if (!model.compiled_) return std::nullopt;
    const Compiled& c = *model.compiled_;
    std::vector<std::string> toks = tokens(text);
    if (toks.size() > kMaxTokens) toks.resize(kMaxTokens);
    int en = 0, es = 0;
    for (const auto& t : toks) {
      if (c.evidence[0].count(t)) ++en;
      else if (c.evidence[1].count(t)) ++es;
    }
    if (en > es) return Lang::en;
    if (es > en) return Lang::es;
    return std::nullopt;
  }
};

IntentModel::IntentModel(std::vector<Intent> intents,
                         std::map<Lang, std::vector<std::string>> language_words)
    : intents_(std::move(intents)), language_words_(std::move(language_words)) {
  compiled_ = Matcher::compile(intents_, language_words_);
}

bool IntentModel::has(std::string_view id) const {
  return std::any_of(intents_.begin(), intents_.end(),
                     [&](const Intent& intent) { return intent.id == id; });
}

std::optional<IntentMatch> classify(const IntentModel& model, std::string_view text) {
  return Matcher::classify(model, text);
}

std::optional<Lang> guess_language(const IntentModel& model, std::string_view text) {
  return Matcher::guess_language(model, text);
}

// ---------------------------------------------------------------------------------------------
// Loading flows/intents.yaml

namespace {

std::string lang_name(Lang lang) { return lang == Lang::es ? "Spanish (es)" : "English (en)"; }


std::string phrase_key(const std::vector<PhraseWord>& words) {
  std::string key;
  for (const auto& w : words) key += (key.empty() ? "" : " ") + w.text + (w.prefix ? "*" : "");
  return key;
}

class IntentsParser {
 public:
  IntentsParser(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  std::optional<IntentModel> parse(const YAML::Node& root) {
    if (!root.IsMap()) {
      error(root, "intents-not-map",
            "the intents file starts with `intents:` (and, optionally, `language_words:`)");
      return std::nullopt;
    }
    bool has_intents = false;
    for (const auto& field : root) {
      const std::string name = key_text(field.first);
      if (name == "intents") {
        has_intents = true;
        parse_intents(field.second);
      } else if (name == "language_words") {
        parse_language_words(field.second);
      } else {
        error(field.first, "unknown-field",
              "unknown field '" + name + "' in the intents file; expected intents or language_words");
      }
    }
    if (!has_intents) error(root, "missing-field", "the intents file has no `intents:`");
    if (diags_.has_errors()) return std::nullopt;
    return IntentModel(std::move(intents_), std::move(language_words_));
  }

 private:
  struct FirstUse {
    std::string intent;
    Lang lang;
    std::string text;
    int line;
  };

  void error(const YAML::Node& node, std::string code, std::string message) {
    diags_.error(position_of(file_, node), std::move(code), std::move(message));
  }
  void warning(const YAML::Node& node, std::string code, std::string message) {
    diags_.warning(position_of(file_, node), std::move(code), std::move(message));
  }

  static std::string key_text(const YAML::Node& key) {
    return key.IsScalar() ? key.Scalar() : std::string("(not a name)");
  }

  void parse_intents(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(node, "expected-map", "`intents` must be a list of named intents, such as `emergency:`");
      return;
    }
    std::map<std::string, int> defined;  // id → line
    for (const auto& entry : node) {
      const std::string id = key_text(entry.first);
      if (!is_valid_intent_id(id)) {
        error(entry.first, "bad-intent-id",
              "intent name '" + id +
                  "' must be lowercase letters, digits and _, starting with a letter, like call_police");
        continue;
      }
      const int line = position_of(file_, entry.first).line;
      if (auto it = defined.find(id); it != defined.end()) {
        error(entry.first, "duplicate-intent",
              "intent '" + id + "' is defined twice (first on line " + std::to_string(it->second) + ")");
        continue;
      }
      defined.emplace(id, line);
      parse_intent(id, entry.first, entry.second);
    }
  }

  void parse_intent(const std::string& id, const YAML::Node& key, const YAML::Node& node) {
    Intent intent;
    intent.id = id;
    intent.where = position_of(file_, key);
    if (!node.IsMap()) {
      error(node.IsNull() ? key : node, "expected-map",
            "intent '" + id + "' must have `en:` and `es:` lists of phrases");
      return;
    }
    for (const auto& field : node) {
      const std::string name = key_text(field.first);
      const YAML::Node& value = field.second;
      if (name == "priority") {
        bool ok = value.IsScalar();
        if (ok) {
          try {
            intent.priority = value.as<int>();
          } catch (const YAML::Exception&) {
            ok = false;
          }
        }
        if (!ok) {
          error(value.IsNull() ? field.first : value, "expected-number",
                "`priority` of intent '" + id + "' must be a whole number, such as 100 or -10");
        }
      } else if (auto lang = lang_from_code(name)) {
        parse_phrases(intent, *lang, value);
      } else {
        error(field.first, "unknown-field",
              "unknown field '" + name + "' in intent '" + id + "'; expected priority, en or es");
      }
    }
    for (Lang lang : kAllLangs) {
      if (intent.phrases[lang].empty()) {
        warning(key, "missing-language",
                "intent '" + id + "' has no " + lang_name(lang) + " phrases, so " +
                    (lang == Lang::es ? "Spanish" : "English") + " messages cannot match it");
      }
    }
    intents_.push_back(std::move(intent));
  }

  void parse_phrases(Intent& intent, Lang lang, const YAML::Node& list) {
    const std::string code(lang_code(lang));
    if (list.IsNull()) return;  // `es:` with nothing under it: reported as a missing language
    if (!list.IsSequence()) {
      error(list, "expected-list",
            "`" + code + "` of intent '" + intent.id +
                "' must be a list of phrases, one per line starting with -");
      return;
    }
    for (const auto& item : list) {
      if (item.IsNull() || (item.IsScalar() && item.Scalar().empty())) {
        error(item, "empty-phrase",
              "intent '" + intent.id + "' has an empty phrase in `" + code +
                  "`; write words or remove the line");
        continue;
      }
      if (!item.IsScalar()) {
        error(item, "expected-text",
              "each phrase of intent '" + intent.id + "' must be plain text on one line");
        continue;
      }
      const std::string& text = item.Scalar();
      CompiledText compiled = compile_phrase(text);
      if (compiled.problem_code == "empty-phrase") {
        error(item, "empty-phrase",
              "phrase '" + text + "' of intent '" + intent.id + "' " + compiled.problem);
        continue;
      }
      if (!compiled.problem_code.empty()) {
        error(item, compiled.problem_code,
              "in phrase '" + text + "' of intent '" + intent.id + "', " + compiled.problem);
        continue;
      }
      check_duplicate(intent.id, lang, text, compiled.words, item);
      intent.phrases[lang].push_back(text);
    }
  }

  // The same words in two intents make a message count for both, which is almost never meant;
  // the same words twice in one list are harmless but untidy. Compared after folding, so
  // "policía" and "poli" are the same phrase.
  void check_duplicate(const std::string& intent, Lang lang, const std::string& text,
                       const std::vector<PhraseWord>& words, const YAML::Node& item) {
    const std::string key = phrase_key(words);
    auto [it, inserted] =
        first_use_.emplace(key, FirstUse{intent, lang, text, position_of(file_, item).line});
    if (inserted) return;
    const FirstUse& first = it->second;
    if (first.intent == intent && first.lang != lang) return;  // "daca" in en and es: fine
    std::string message = "phrase '" + text + "' is already in intent '" + first.intent + "'";
    if (first.text != text) message += " as '" + first.text + "'";
    message += " (line " + std::to_string(first.line) + ")";
    if (first.intent != intent) message += "; a message with it counts for both";
    warning(item, "duplicate-phrase", message);
  }

  void parse_language_words(const YAML::Node& node) {
    if (!node.IsMap()) {
      error(node, "expected-map", "`language_words` must have `en:` and `es:` lists of words");
      return;
    }
    std::map<std::string, Lang> seen;
    for (const auto& field : node) {
      const std::string name = key_text(field.first);
      const auto lang = lang_from_code(name);
      if (!lang) {
        error(field.first, "unknown-language",
              "unknown language '" + name + "' in language_words; expected en or es");
        continue;
      }
      const std::string where = "language_words." + name;
      if (!field.second.IsSequence()) {
        error(field.second.IsNull() ? field.first : field.second, "expected-list",
              "`" + where + "` must be a list of words");
        continue;
      }
      for (const auto& item : field.second) {
        const std::string text = item.IsScalar() ? item.Scalar() : std::string();
        const std::string folded = fold(text);
        if (folded.empty() || folded.find(' ') != std::string::npos) {
          error(item, "expected-word", "'" + text + "' in " + where + " must be a single word");
          continue;
        }
        if (auto it = seen.find(folded); it != seen.end()) {
          if (it->second == *lang) {
            warning(item, "duplicate-word", "'" + text + "' is listed twice in " + where);
          } else {
            warning(item, "ambiguous-word",
                    "'" + text + "' is already in language_words." +
                        std::string(lang_code(it->second)) +
                        "; a word in both lists tells nothing apart, so this one is ignored");
          }
          continue;
        }
        seen.emplace(folded, *lang);
        language_words_[*lang].push_back(text);
      }
    }
  }

  std::string file_;
  Diagnostics& diags_;
  std::vector<Intent> intents_;
  std::map<Lang, std::vector<std::string>> language_words_;
  std::map<std::string, FirstUse> first_use_;
};

}  // namespace

bool is_valid_intent_id(std::string_view id) {
  if (id.empty() || !(id[0] >= 'a' && id[0] <= 'z')) return false;
  return std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

std::optional<IntentModel> load_intents(const std::string& path, Diagnostics& diags) {
  auto loaded = load_yaml_file(path, "intents file", diags);
  if (!loaded) return std::nullopt;
  const YAML::Node& root = *loaded;
  Diagnostics local;
  auto model = IntentsParser(path, local).parse(root);
  diags.append(local);
  return model;
}

}  // namespace hotline::nlu
