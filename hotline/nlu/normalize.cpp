// Folding and tokenising what people type. Everything downstream (keywords, intents, flow
// replies, language guess) compares folded text, so "Policía", "POLICIA" and "policia!!" are
// the same word. The input is untrusted (anyone can text the number), so this decodes UTF-8 by
// hand, bounds-checked, and never throws.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hotline/common/utf8.hpp"
#include "hotline/nlu/nlu.hpp"

namespace hotline::nlu {
namespace {

// Base letters for U+00C0..U+00FF, lowercase. Upper-case letters stand for several letters
// (A→ae, T→th, S→ss) and '_' for a symbol (× ÷) that becomes a space.
constexpr std::string_view kLatin1 =
    "aaaaaaAceeeeiiiidnooooo_ouuuuyTS"   // À..ß
    "aaaaaaAceeeeiiiidnooooo_ouuuuyTy";  // à..ÿ
static_assert(kLatin1.size() == 0x100 - 0xC0);

// Base letters for Latin Extended-A, U+0100..U+017F (Polish, Czech, Turkish, Romanian names…).
// 'J' stands for "ij" (Ĳ ĳ) and 'O' for "oe" (Œ œ).
constexpr std::string_view kLatinExtendedA =
    "aaaaaa"        // Ā ā Ă ă Ą ą
    "cccccccc"      // Ć ć Ĉ ĉ Ċ ċ Č č
    "dddd"          // Ď ď Đ đ
    "eeeeeeeeee"    // Ē ē Ĕ ĕ Ė ė Ę ę Ě ě
    "gggggggg"      // Ĝ ĝ Ğ ğ Ġ ġ Ģ ģ
    "hhhh"          // Ĥ ĥ Ħ ħ
    "iiiiiiiiii"    // Ĩ ĩ Ī ī Ĭ ĭ Į į İ ı
    "JJ"            // Ĳ ĳ
    "jj"            // Ĵ ĵ
    "kkk"           // Ķ ķ ĸ
    "llllllllll"    // Ĺ ĺ Ļ ļ Ľ ľ Ŀ ŀ Ł ł
    "nnnnnnnnn"     // Ń ń Ņ ņ Ň ň ŉ Ŋ ŋ
    "oooooo"        // Ō ō Ŏ ŏ Ő ő
    "OO"            // Œ œ
    "rrrrrr"        // Ŕ ŕ Ŗ ŗ Ř ř
    "ssssssss"      // Ś ś Ŝ ŝ Ş ş Š š
    "tttttt"        // Ţ ţ Ť ť Ŧ ŧ
    "uuuuuuuuuuuu"  // Ũ ũ Ū ū Ŭ ŭ Ů ů Ű ű Ų ų
    "ww"            // Ŵ ŵ
    "yyy"           // Ŷ ŷ Ÿ
    "zzzzzz"        // Ź ź Ż ż Ž ž
    "s";            // ſ
static_assert(kLatinExtendedA.size() == 0x180 - 0x100);

// Characters that vanish instead of separating words: apostrophes ("don't" → "dont", which the
// shorthand table then expands), combining accents (iPhones sometimes send "i" + U+0301), a
// stray acute accent typed on its own ("polici´a"), and invisible joiners and hyphens.
bool vanishes(char32_t cp) {
  return cp == U'\'' || cp == U'`' || cp == 0x00B4 || cp == 0x02BC || cp == 0x2018 ||
         cp == 0x2019 || cp == 0x00AD || (cp >= 0x0300 && cp <= 0x036F) ||
         (cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF;
}

class Folder {
 public:
  explicit Folder(std::size_t reserve) { out_.reserve(reserve); }

  void letter(char c) {
    if (space_ && !out_.empty()) out_ += ' ';
    space_ = false;
    out_ += c;
  }

  // A table entry: a base letter, or a code for several letters or a space.
  void base(char c) {
    switch (c) {
      case 'A': letter('a'), letter('e'); break;
      case 'O': letter('o'), letter('e'); break;
      case 'J': letter('i'), letter('j'); break;
      case 'T': letter('t'), letter('h'); break;
      case 'S': letter('s'), letter('s'); break;
      case '_': space(); break;
      default: letter(c);
    }
  }

  void space() { space_ = true; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
  bool space_ = false;
};

// SMS shorthand and contractions, as people text them, after folding. Sorted by `from` for
// binary search (checked at compile time). Only whole tokens are expanded, so "k" never touches
// "ok", and numbers are left alone because people answer menus with them.
struct Shorthand {
  std::string_view from;
  std::string_view to;
};
constexpr Shorthand kShorthand[] = {
    {"aki", "aqui"},
    {"aora", "ahora"},
    {"arent", "are not"},
    {"b4", "before"},
    {"bc", "because"},
    {"bcuz", "because"},
    {"bn", "bien"},
    {"cant", "can not"},
    {"cos", "because"},
    {"couldnt", "could not"},
    {"coz", "because"},
    {"cuz", "because"},
    {"d", "de"},
    {"didnt", "did not"},
    {"dnd", "donde"},
    {"doesnt", "does not"},
    {"dont", "do not"},
    {"gonna", "going to"},
    {"gotta", "got to"},
    {"havent", "have not"},
    {"hes", "he is"},
    {"idk", "i do not know"},
    {"im", "i am"},
    {"isnt", "is not"},
    {"ive", "i have"},
    {"k", "que"},
    {"ke", "que"},
    {"lemme", "let me"},
    {"migra", "inmigracion"},
    {"msj", "mensaje"},
    {"pa", "para"},
    {"pk", "porque"},
    {"plis", "please"},
    {"pliz", "please"},
    {"pls", "please"},
    {"plz", "please"},
    {"poli", "policia"},
    // "la polis" means the police force, not several officers: the singular is what phrases use.
    {"polis", "policia"},
    {"polisia", "policia"},
    {"polisias", "policias"},
    {"porfa", "por favor"},
    {"porfavor", "por favor"},
    {"porke", "porque"},
    {"porq", "porque"},
    {"ppl", "people"},
    {"pq", "porque"},
    {"pulicia", "policia"},
    {"pulicias", "policias"},
    {"q", "que"},
    {"qe", "que"},
    {"r", "are"},
    {"shes", "she is"},
    {"shouldnt", "should not"},
    {"sta", "esta"},
    {"stan", "estan"},
    {"stoy", "estoy"},
    {"tambn", "tambien"},
    {"tb", "tambien"},
    {"thats", "that is"},
    {"theres", "there is"},
    {"theyre", "they are"},
    {"thx", "thanks"},
    {"tmb", "tambien"},
    {"tmbn", "tambien"},
    {"tngo", "tengo"},
    {"u", "you"},
    {"ud", "usted"},
    {"uds", "ustedes"},
    {"ur", "your"},
    {"wanna", "want to"},
    {"wasnt", "was not"},
    {"werent", "were not"},
    {"whats", "what is"},
    {"wont", "will not"},
    {"wouldnt", "would not"},
    {"x", "por"},
    {"xa", "para"},
    {"xfa", "por favor"},
    {"xfavor", "por favor"},
    {"xk", "porque"},
    {"xq", "porque"},
    {"yall", "you all"},
    {"youre", "you are"},
};
constexpr bool shorthand_sorted() {
  for (std::size_t i = 1; i < std::size(kShorthand); ++i) {
    if (!(kShorthand[i - 1].from < kShorthand[i].from)) return false;
  }
  return true;
}
static_assert(shorthand_sorted(), "keep kShorthand sorted and free of duplicates");

std::string_view expand(std::string_view word) {
  auto it = std::lower_bound(std::begin(kShorthand), std::end(kShorthand), word,
                             [](const Shorthand& s, std::string_view w) { return s.from < w; });
  if (it != std::end(kShorthand) && it->from == word) return it->to;
  return word;
}

template <typename F>
void for_each_word(std::string_view text, F&& f) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) f(text.substr(start, i - start));
  }
}

}  // namespace

std::string fold(std::string_view utf8) {
  Folder out(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const char32_t cp = next_code_point(utf8, i);  // always advances, never past the end
    if (cp >= 'a' && cp <= 'z') {
      out.letter(static_cast<char>(cp));
    } else if (cp >= 'A' && cp <= 'Z') {
      out.letter(static_cast<char>(cp - 'A' + 'a'));
    } else if (cp >= '0' && cp <= '9') {
      out.letter(static_cast<char>(cp));
    } else if (vanishes(cp)) {
      // nothing: the letters on either side stay one word
    } else if (cp >= 0xC0 && cp <= 0xFF) {
      out.base(kLatin1[cp - 0xC0]);
    } else if (cp >= 0x100 && cp <= 0x17F) {
      out.base(kLatinExtendedA[cp - 0x100]);
    } else {
      // Punctuation (¿ ¡ included), symbols, emoji, other scripts, white space and invalid bytes.
      out.space();
    }
  }
  return out.take();
}

std::vector<std::string> tokens(std::string_view utf8) {
  const std::string folded = fold(utf8);
  std::vector<std::string> out;
  for_each_word(folded, [&](std::string_view word) {
    for_each_word(expand(word), [&](std::string_view part) { out.emplace_back(part); });
  });
  return out;
}

}  // namespace hotline::nlu
