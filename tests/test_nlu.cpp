// Tests of the NLU module: folding, keywords, the shipped intents (what real people type, in both
// languages) and the diagnostics staff see when they edit flows/intents.yaml.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hotline/nlu/nlu.hpp"

using namespace hotline;
using namespace hotline::nlu;

namespace {

struct Shipped {
  std::optional<IntentModel> model;
  Diagnostics diags;
};

const Shipped& shipped() {
  static const Shipped s = [] {
    Shipped out;
    out.model = load_intents(std::string(HOTLINE_SOURCE_DIR) + "/flows/intents.yaml", out.diags);
    return out;
  }();
  return s;
}

const IntentModel& model() {
  REQUIRE(shipped().model.has_value());
  return *shipped().model;
}

std::string intent_of(std::string_view text) {
  auto m = classify(model(), text);
  return m ? m->intent : "(none)";
}

std::string lang_name(std::optional<Lang> lang) {
  return lang ? std::string(lang_code(*lang)) : "(none)";
}

// A temporary directory for YAML files written by a test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("hotline-nlu-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

struct LoadResult {
  bool loaded;
  std::string diagnostics;
};

LoadResult load_text(const std::string& yaml, std::string& path_out) {
  static TempDir dir;
  static int counter = 0;
  path_out = dir.write("intents" + std::to_string(++counter) + ".yaml", yaml);
  Diagnostics diags;
  auto model = load_intents(path_out, diags);
  return {model.has_value(), diags.to_string()};
}

}  // namespace

// -------------------------------------------------------------------------------------------------
// fold() and tokens()

TEST_CASE("fold lowercases, removes accents and turns punctuation into spaces", "[nlu][fold]") {
  const std::pair<std::string, std::string> cases[] = {
      {"Policía", "policia"},
      {"¿Puedo llamar a la POLICÍA?", "puedo llamar a la policia"},
      {"¡AUXILIO!", "auxilio"},
      {"ÑANDÚ pingüino ÁÉÍÓÚ àèìòù âêîôû ç", "nandu pinguino aeiou aeiou aeiou c"},
      {"Łódź Straße Œuvre Ærø Þór", "lodz strasse oeuvre aero thor"},
      {"Ĳssel ſ Ħ Ŵŷ", "ijssel s h wy"},
      {"3×4÷2", "3 4 2"},
      {"hola 😀👍🏽 amigo", "hola amigo"},
      {"👨‍👩‍👧", ""},
      {"  many   spaces\t\nand\r\nlines  ", "many spaces and lines"},
      {"call-the_police...now!!!", "call the police now"},
      {"don't", "dont"},
      {"I’m scared", "im scared"},
      {"polici\xCC\x81" "a", "policia"},  // "i" + combining acute, as some phones send it
      {"polici´a", "policia"},
      {"no\xE2\x80\x8Bway", "noway"},   // zero-width space
      {"\xEF\xBB\xBFhola", "hola"},     // byte-order mark
      {"ΑΒΓ привет 你好", ""},
      {"911", "911"},
      {"", ""},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    CHECK(fold(in) == out);
  }
}

TEST_CASE("fold replaces invalid UTF-8 with spaces and never reads past the end", "[nlu][fold]") {
  const std::pair<std::string, std::string> cases[] = {
      {"\xff\xfe", ""},
      {"a\xff" "b", "a b"},
      {"truncated \xC3", "truncated"},
      {"\xE2\x82", ""},
      {"\xC0\xAF" "x", "x"},           // overlong "/"
      {"\xED\xA0\x80" "y", "y"},       // a UTF-16 surrogate
      {"\xF4\x90\x80\x80" "z", "z"},   // above U+10FFFF
      {"\x80\x80\x80hola", "hola"},    // stray continuation bytes
      {"\xC3\xA9\xC3", "e"},           // é then a truncated sequence
      {std::string("a\0b", 3), "a b"},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    CHECK(fold(in) == out);
  }
}

TEST_CASE("fold and the matchers survive large and random input", "[nlu][fold][fuzz]") {
  std::string accents;
  for (int i = 0; i < 5000; ++i) accents += "é";  // 10 kB
  CHECK(fold(accents) == std::string(5000, 'e'));

  std::mt19937 rng(20240917);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 200; ++round) {
    std::string junk(round == 0 ? 10240 : 1 + round * 7, '\0');
    for (char& c : junk) c = static_cast<char>(byte(rng));
    const std::string folded = fold(junk);
    for (char c : folded) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ';
      REQUIRE(ok);
    }
    CHECK(folded.find("  ") == std::string::npos);
    CHECK((folded.empty() || (folded.front() != ' ' && folded.back() != ' ')));
    (void)tokens(junk);
    (void)match_keyword(junk);
    (void)classify(model(), junk);
    (void)guess_language(model(), junk);
  }
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    (void)classify(model(), one);
    (void)match_keyword(one);
  }
}

TEST_CASE("tokens expands SMS shorthand from a table", "[nlu][tokens]") {
  using V = std::vector<std::string>;
  const std::pair<std::string, V> cases[] = {
      {"q onda xq", {"que", "onda", "porque"}},
      {"pq k ke porq", {"porque", "que", "que", "porque"}},
      {"la poli", {"la", "policia"}},
      {"las polis", {"las", "policia"}},
      {"los pulicias", {"los", "policias"}},
      {"la MIGRA", {"la", "inmigracion"}},
      {"ud y uds", {"usted", "y", "ustedes"}},
      {"tmb tb", {"tambien", "tambien"}},
      {"x favor d nada", {"por", "favor", "de", "nada"}},
      {"r u ok", {"are", "you", "ok"}},
      {"pls plz", {"please", "please"}},
      {"cuz bc", {"because", "because"}},
      {"I'm scared, u?", {"i", "am", "scared", "you"}},
      {"cant dont wont", {"can", "not", "do", "not", "will", "not"}},
      {"ppl", {"people"}},
      {"ok", {"ok"}},
      {"1", {"1"}},
      {"poligono", {"poligono"}},  // only whole words are expanded
      {"", {}},
  };
  for (const auto& [in, out] : cases) {
    INFO(in);
    CHECK(tokens(in) == out);
  }
}

// -------------------------------------------------------------------------------------------------
// Keywords

TEST_CASE("keywords count only as the whole message", "[nlu][keywords]") {
  struct Case {
    const char* text;
    Keyword keyword;
    std::optional<Lang> lang;
  };
  const Case cases[] = {
      {"STOP", Keyword::stop, Lang::en},
      {" STOP! ", Keyword::stop, Lang::en},
      {"stop.", Keyword::stop, Lang::en},
      {"Stopall", Keyword::stop, Lang::en},
      {"UNSUBSCRIBE", Keyword::stop, Lang::en},
      {"cancel", Keyword::stop, Lang::en},
      {"End", Keyword::stop, Lang::en},
      {"quit", Keyword::stop, Lang::en},
      {"REVOKE", Keyword::stop, Lang::en},
      {"optout", Keyword::stop, Lang::en},
      {"Parar", Keyword::stop, Lang::es},
      {"ALTO", Keyword::stop, Lang::es},
      {"baja", Keyword::stop, Lang::es},
      {"Cancelar", Keyword::stop, Lang::es},
      {"START", Keyword::start, Lang::en},
      {"unstop", Keyword::start, Lang::en},
      {"Yes", Keyword::start, Lang::en},
      {"ALTA", Keyword::start, Lang::es},
      {"iniciar", Keyword::start, Lang::es},
      {"HELP", Keyword::help, Lang::en},
      {"info", Keyword::help, Lang::en},
      {"¿Ayuda?", Keyword::help, Lang::es},
      {"ENGLISH", Keyword::english, Lang::en},
      {"Inglés", Keyword::english, Lang::es},
      {"ingles", Keyword::english, Lang::es},
      {"Español", Keyword::spanish, Lang::es},
      {"ESPANOL", Keyword::spanish, Lang::es},
      {"spanish", Keyword::spanish, Lang::en},
      {"MENU", Keyword::menu, std::nullopt},
      {"menu", Keyword::menu, std::nullopt},
      {"MENÚ", Keyword::menu, Lang::es},
      {"menú", Keyword::menu, Lang::es},
      {"MENU\xCC\x81", Keyword::menu, Lang::es},
      {"Inicio", Keyword::menu, Lang::es},
      // Not keywords: more than the word, or a different word.
      {"stop please", Keyword::none, std::nullopt},
      {"no pares", Keyword::none, std::nullopt},
      {"please stop texting me", Keyword::none, std::nullopt},
      {"I need help", Keyword::none, std::nullopt},
      {"stopp", Keyword::none, std::nullopt},
      {"s t o p", Keyword::none, std::nullopt},
      {"", Keyword::none, std::nullopt},
      {"!!!", Keyword::none, std::nullopt},
      {"hola", Keyword::none, std::nullopt},
      {"1", Keyword::none, std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const KeywordMatch m = match_keyword(c.text);
    CHECK(static_cast<int>(m.keyword) == static_cast<int>(c.keyword));
    CHECK(lang_name(m.lang) == lang_name(c.lang));
  }
}

// -------------------------------------------------------------------------------------------------
// The shipped intents

TEST_CASE("the shipped flows/intents.yaml loads without any diagnostic", "[nlu][intents]") {
  INFO(shipped().diags.to_string());
  CHECK(shipped().diags.items().empty());
  REQUIRE(shipped().model);
  for (const char* id : {"emergency", "call_police", "status_reporting", "complaint",
                         "policy_change", "support", "advocate", "out_of_scope", "greeting"}) {
    INFO(id);
    CHECK(model().has(id));
  }
  CHECK_FALSE(model().has("weather"));
}

namespace {

struct IntentCase {
  const char* intent;
  Lang lang;  // the language the text is (mostly) written in
  const char* text;
};

// What people really send: no accents, capitals, typos, shorthand, Spanglish.
const IntentCase kIntentCases[] = {
    // emergency, English
    {"emergency", Lang::en, "someone is breaking in"},
    {"emergency", Lang::en, "SOMEONE IS BREAKING IN!!!"},
    {"emergency", Lang::en, "help someone is breaking into my house"},
    {"emergency", Lang::en, "he is hitting me"},
    {"emergency", Lang::en, "hes hitting me right now"},
    {"emergency", Lang::en, "my husband is beating me up"},
    {"emergency", Lang::en, "there is a man with a gun outside"},
    {"emergency", Lang::en, "gun"},
    {"emergency", Lang::en, "he has a knife"},
    {"emergency", Lang::en, "my friend is bleeding a lot"},
    {"emergency", Lang::en, "help me now pls"},
    {"emergency", Lang::en, "there is a fire in my building"},
    {"emergency", Lang::en, "someone is in my house right now"},
    {"emergency", Lang::en, "he's going to kill me"},
    {"emergency", Lang::en, "im in danger"},
    {"emergency", Lang::en, "they r shooting outside"},
    {"emergency", Lang::en, "my baby is not breathing"},
    {"emergency", Lang::en, "he is gonna kill me, can i call police without papers?"},
    // emergency, Spanish
    {"emergency", Lang::es, "me está golpeando"},
    {"emergency", Lang::es, "me esta golpeando mi esposo"},
    {"emergency", Lang::es, "ME ESTA GOLPIANDO"},
    {"emergency", Lang::es, "mi esposo me quiere matar"},
    {"emergency", Lang::es, "tiene una pistola"},
    {"emergency", Lang::es, "¡Auxilio!"},
    {"emergency", Lang::es, "socorro"},
    {"emergency", Lang::es, "hay alguien en mi casa"},
    {"emergency", Lang::es, "tiene un cuchilo"},
    {"emergency", Lang::es, "mi hijo esta sangrando"},
    {"emergency", Lang::es, "hay un incendio"},
    {"emergency", Lang::es, "me estan robando ahorita"},
    {"emergency", Lang::es, "ayudenme por favor"},
    {"emergency", Lang::es, "es una emergencia"},
    {"emergency", Lang::es, "mi pareja me sta pegando"},

    // call_police, English
    {"call_police", Lang::en, "can I call the police without papers?"},
    {"call_police", Lang::en, "can i call police if im undocumented"},
    {"call_police", Lang::en, "should i call 911"},
    {"call_police", Lang::en, "Should I contact the police?"},
    {"call_police", Lang::en, "is it safe to call the cops"},
    {"call_police", Lang::en, "i saw a crime can i be a witness"},
    {"call_police", Lang::en, "i was robbed yesterday"},
    {"call_police", Lang::en, "someone stole my car"},
    {"call_police", Lang::en, "I'm scared to call the police"},
    {"call_police", Lang::en, "can I report a robbery from last week?"},
    {"call_police", Lang::en, "I was hit last year, can I report it?"},
    {"call_police", Lang::en, "my car was broken into"},
    {"call_police", Lang::en, "im a victim of a crime, can i go to the police"},
    {"call_police", Lang::en, "can i call the polise"},
    {"call_police", Lang::en, "can I call la policia?"},
    // call_police, Spanish
    {"call_police", Lang::es, "¿puedo ser testigo?"},
    {"call_police", Lang::es, "puedo llamar a la policia si no tengo papeles"},
    {"call_police", Lang::es, "puedo llamar a la poli si no tengo papeles"},
    {"call_police", Lang::es, "pueod llamar a la polisia"},
    {"call_police", Lang::es, "me robaron"},
    {"call_police", Lang::es, "me robaron el carro, q hago"},
    {"call_police", Lang::es, "quiero denunciar un robo"},
    {"call_police", Lang::es, "fui victima de un crimen"},
    {"call_police", Lang::es, "vi un crimen, puedo ser testigo?"},
    {"call_police", Lang::es, "es seguro llamar al 911?"},
    {"call_police", Lang::es, "tengo miedo de llamar a la policia"},
    {"call_police", Lang::es, "me golpearon el año pasado, puedo denunciar?"},
    {"call_police", Lang::es, "puedo reportar un delito sin papeles"},
    {"call_police", Lang::es, "soy indocumentada, puedo llamar a la policía?"},
    {"call_police", Lang::es, "Puedo yamar a la polisia"},

    // status_reporting, English
    {"status_reporting", Lang::en, "will police report me to ICE?"},
    {"status_reporting", Lang::en, "will the police report me to ice"},
    {"status_reporting", Lang::en, "Will they ask for my papers?"},
    {"status_reporting", Lang::en, "if i call the police will they deport me"},
    {"status_reporting", Lang::en, "can the cops ask my status"},
    {"status_reporting", Lang::en, "are they going to call immigration"},
    {"status_reporting", Lang::en, "will i be deported if i call 911"},
    {"status_reporting", Lang::en, "do police work with ice"},
    {"status_reporting", Lang::en, "deportation"},
    {"status_reporting", Lang::en, "ICE"},
    {"status_reporting", Lang::en, "is milwaukee a sanctuary city"},
    {"status_reporting", Lang::en, "what is a shift commander"},
    {"status_reporting", Lang::en, "do they share information with ICE?"},
    {"status_reporting", Lang::en, "im afraid of being deported"},
    {"status_reporting", Lang::en, "will the police tell imigration"},
    // status_reporting, Spanish
    {"status_reporting", Lang::es, "¿me van a pedir papeles?"},
    {"status_reporting", Lang::es, "me van a pedir papeles"},
    {"status_reporting", Lang::es, "la policia le avisa a inmigracion?"},
    {"status_reporting", Lang::es, "la poli le avisa a la migra"},
    {"status_reporting", Lang::es, "migra"},
    {"status_reporting", Lang::es, "me pueden deportar si llamo a la policia"},
    {"status_reporting", Lang::es, "me van a deportar?"},
    {"status_reporting", Lang::es, "si llamo a la policia me deportan"},
    {"status_reporting", Lang::es, "preguntan mi estatus migratorio?"},
    {"status_reporting", Lang::es, "la policia trabaja con migracion?"},
    {"status_reporting", Lang::es, "tengo miedo q me deporten"},
    {"status_reporting", Lang::es, "emigracion me va a agarrar?"},
    {"status_reporting", Lang::es, "deportarme"},
    {"status_reporting", Lang::es, "xq la poli pide papeles"},
    {"status_reporting", Lang::es, "le dan mi informacion a ICE?"},

    // complaint, English
    {"complaint", Lang::en, "the officer treated me badly"},
    {"complaint", Lang::en, "The officer was rude to me"},
    {"complaint", Lang::en, "i want to file a complaint"},
    {"complaint", Lang::en, "racist cop"},
    {"complaint", Lang::en, "the police didnt help me"},
    {"complaint", Lang::en, "they did not follow the policy"},
    {"complaint", Lang::en, "the officer asked for my papers"},
    {"complaint", Lang::en, "police reported me to ice"},
    {"complaint", Lang::en, "how do i complain about a cop"},
    {"complaint", Lang::en, "the cop yelled at me"},
    {"complaint", Lang::en, "police brutality"},
    {"complaint", Lang::en, "i got bad service from the police"},
    {"complaint", Lang::en, "i want my alderman to know about this"},
    // complaint, Spanish
    {"complaint", Lang::es, "no siguieron la política"},
    {"complaint", Lang::es, "el policía me trató mal"},
    {"complaint", Lang::es, "me trataron mal"},
    {"complaint", Lang::es, "quiero poner una queja"},
    {"complaint", Lang::es, "queja"},
    {"complaint", Lang::es, "el oficial fue grosero conmigo"},
    {"complaint", Lang::es, "me pidio papeles el policia"},
    {"complaint", Lang::es, "la policia no me ayudo"},
    {"complaint", Lang::es, "me discriminaron por ser latino"},
    {"complaint", Lang::es, "abuso policial"},
    {"complaint", Lang::es, "fue racista"},
    {"complaint", Lang::es, "me reportaron a migracion"},
    {"complaint", Lang::es, "como pongo una queja con el concejal"},
    {"complaint", Lang::es, "no siguieron la politca"},

    // policy_change, English
    {"policy_change", Lang::en, "what changed?"},
    {"policy_change", Lang::en, "What changed with the police policy"},
    {"policy_change", Lang::en, "is there a new policy"},
    {"policy_change", Lang::en, "what did the fire and police commission approve"},
    {"policy_change", Lang::en, "I heard the policy changed"},
    {"policy_change", Lang::en, "i saw in the news the police policy changed"},
    {"policy_change", Lang::en, "whats new"},
    {"policy_change", Lang::en, "did the commission approve it"},
    {"policy_change", Lang::en, "is the old policy back"},
    {"policy_change", Lang::en, "any updates on the policy"},
    {"policy_change", Lang::en, "policy"},
    {"policy_change", Lang::en, "fire and police commision"},
    // policy_change, Spanish
    {"policy_change", Lang::es, "¿qué cambió?"},
    {"policy_change", Lang::es, "q cambio"},
    {"policy_change", Lang::es, "que cambio con la politica"},
    {"policy_change", Lang::es, "hay una nueva politica?"},
    {"policy_change", Lang::es, "que aprobo la comision"},
    {"policy_change", Lang::es, "vi en las noticias que cambiaron la politica"},
    {"policy_change", Lang::es, "es cierto que cambiaron las reglas"},
    {"policy_change", Lang::es, "que paso con la politica de la policia"},
    {"policy_change", Lang::es, "la comision de bomberos y policia"},
    {"policy_change", Lang::es, "novedades?"},
    {"policy_change", Lang::es, "que hay de nuevo"},

    // support, English
    {"support", Lang::en, "I'm so stressed"},
    {"support", Lang::en, "im so stressed out"},
    {"support", Lang::en, "i have a lot of anxiety"},
    {"support", Lang::en, "I'm scared"},
    {"support", Lang::en, "i cant sleep"},
    {"support", Lang::en, "i feel so alone"},
    {"support", Lang::en, "my kids are scared"},
    {"support", Lang::en, "I am depressed"},
    {"support", Lang::en, "i keep crying"},
    {"support", Lang::en, "I'm worried about my family"},
    {"support", Lang::en, "i need a therapist"},
    {"support", Lang::en, "i am so nervus"},
    {"support", Lang::en, "having a panic attack"},
    // support, Spanish
    {"support", Lang::es, "tengo mucha ansiedad"},
    {"support", Lang::es, "estoy muy estresada"},
    {"support", Lang::es, "Estoy nerviosa"},
    {"support", Lang::es, "no puedo dormir"},
    {"support", Lang::es, "tengo miedo"},
    {"support", Lang::es, "me siento sola"},
    {"support", Lang::es, "estoy muy triste"},
    {"support", Lang::es, "no paro de llorar"},
    {"support", Lang::es, "estoy deprimido"},
    {"support", Lang::es, "mis hijos tienen miedo"},
    {"support", Lang::es, "me quiero morir"},
    {"support", Lang::es, "tengo mucha ansieda"},
    {"support", Lang::es, "estoy muy preocupada x mi familia"},

    // advocate, English
    {"advocate", Lang::en, "I want to talk to a person"},
    {"advocate", Lang::en, "talk to a human"},
    {"advocate", Lang::en, "real person please"},
    {"advocate", Lang::en, "can i speak to someone"},
    {"advocate", Lang::en, "human"},
    {"advocate", Lang::en, "advocate"},
    {"advocate", Lang::en, "can someone call me back"},
    {"advocate", Lang::en, "i need to talk to somebody"},
    {"advocate", Lang::en, "is anyone there?"},
    {"advocate", Lang::en, "connect me with an advocate"},
    {"advocate", Lang::en, "i want to talk to a person about ice"},
    {"advocate", Lang::en, "can u have someone call me"},
    // advocate, Spanish
    {"advocate", Lang::es, "pásame con un asesor"},
    {"advocate", Lang::es, "pasame con un asesor"},
    {"advocate", Lang::es, "quiero hablar con alguien"},
    {"advocate", Lang::es, "persona"},
    {"advocate", Lang::es, "asesor"},
    {"advocate", Lang::es, "hablar con una persona real"},
    {"advocate", Lang::es, "necesito hablar con alguien porfa"},
    {"advocate", Lang::es, "me pueden llamar?"},
    {"advocate", Lang::es, "llamame"},
    {"advocate", Lang::es, "hay alguien ahi?"},
    {"advocate", Lang::es, "kiero ablar con alguien"},
    {"advocate", Lang::es, "quiero hablar con una persona sobre la migra"},

    // out_of_scope, English
    {"out_of_scope", Lang::en, "how do I renew DACA?"},
    {"out_of_scope", Lang::en, "how do i get a green card"},
    {"out_of_scope", Lang::en, "can i get a visa"},
    {"out_of_scope", Lang::en, "i need an immigration lawyer"},
    {"out_of_scope", Lang::en, "how to apply for asylum"},
    {"out_of_scope", Lang::en, "citizenship"},
    {"out_of_scope", Lang::en, "work permit"},
    {"out_of_scope", Lang::en, "how do I get a drivers license"},
    {"out_of_scope", Lang::en, "my landlord is evicting me"},
    {"out_of_scope", Lang::en, "can you help me with my taxes"},
    {"out_of_scope", Lang::en, "when is my court date"},
    {"out_of_scope", Lang::en, "u visa"},
    // out_of_scope, Spanish
    {"out_of_scope", Lang::es, "como renuevo el daca"},
    {"out_of_scope", Lang::es, "necesito un abogado de inmigracion"},
    {"out_of_scope", Lang::es, "quiero pedir asilo"},
    {"out_of_scope", Lang::es, "ciudadania"},
    {"out_of_scope", Lang::es, "renovar permiso de trabajo"},
    {"out_of_scope", Lang::es, "licencia de manejo"},
    {"out_of_scope", Lang::es, "como saco la green card"},
    {"out_of_scope", Lang::es, "tarjeta verde"},
    {"out_of_scope", Lang::es, "como arreglo mis papeles"},
    {"out_of_scope", Lang::es, "necesito una visa"},
    {"out_of_scope", Lang::es, "tengo cita en la corte"},
    {"out_of_scope", Lang::es, "pasaporte"},

    // greeting
    {"greeting", Lang::en, "hi"},
    {"greeting", Lang::en, "Hello!"},
    {"greeting", Lang::en, "hey there"},
    {"greeting", Lang::en, "good morning"},
    {"greeting", Lang::es, "hola"},
    {"greeting", Lang::es, "Buenas"},
    {"greeting", Lang::es, "buenos días"},
    {"greeting", Lang::es, "Hola buenas tardes"},
};

}  // namespace

TEST_CASE("every intent is recognised in both languages, the way people write", "[nlu][intents]") {
  std::map<std::pair<std::string, Lang>, int> per_intent;
  for (const auto& c : kIntentCases) {
    INFO(c.text);
    CHECK(intent_of(c.text) == c.intent);
    ++per_intent[{c.intent, c.lang}];
  }
  for (const char* id : {"emergency", "call_police", "status_reporting", "complaint",
                         "policy_change", "support", "advocate", "out_of_scope"}) {
    for (Lang lang : kAllLangs) {
      INFO(id << " " << lang_code(lang));
      CHECK(per_intent[{id, lang}] >= 10);
    }
  }
}

TEST_CASE("a greeting with a question is the question", "[nlu][intents]") {
  CHECK(intent_of("hola, puedo llamar a la policia?") == "call_police");
  CHECK(intent_of("hi, will police report me to ice?") == "status_reporting");
  CHECK(intent_of("hola poli") == "call_police");  // a tie goes to the higher priority
}

TEST_CASE("emergency wins on danger now, and only then", "[nlu][intents][emergency]") {
  // Danger words win even when the message asks something else as well.
  CHECK(intent_of("there is a gun, will they ask for my papers") == "emergency");
  CHECK(intent_of("tiene una pistola y tengo miedo de la migra") == "emergency");
  // Past crimes, and words that only look like danger, are not emergencies.
  const std::pair<const char*, const char*> not_emergency[] = {
      {"can I report a robbery from last week?", "call_police"},
      {"I was hit last year, can I report it?", "call_police"},
      {"me golpearon el año pasado", "call_police"},
      {"me robaron el celular ayer", "call_police"},
      {"fire and police commission", "policy_change"},
      {"the officer was rude", "complaint"},
      {"someone was in my house last night", "call_police"},
      {"I'm scared", "support"},
      {"tengo miedo", "support"},
  };
  for (const auto& [text, intent] : not_emergency) {
    INFO(text);
    CHECK(intent_of(text) == intent);
  }
}

TEST_CASE("messages that match nothing return no intent", "[nlu][intents]") {
  for (const char* text : {"", "ok", "1", "2", "0", "👍", "asdfgh", "mmm", "si", "no", "\xff\xfe"}) {
    INFO(text);
    CHECK_FALSE(classify(model(), text).has_value());
  }
}

TEST_CASE("a thank-you is recognised, but never hides a question asked with it", "[nlu][intents]") {
  for (const char* text : {"gracias", "Muchas gracias!", "thanks", "thank you so much", "ok gracias"}) {
    INFO(text);
    CHECK(intent_of(text) == "thanks");
  }
  CHECK(intent_of("gracias, y si me piden papeles?") == "status_reporting");
  CHECK(intent_of("thanks, can I call the police without papers?") == "call_police");
}

TEST_CASE("classify reports the language of the phrases that matched", "[nlu][intents][lang]") {
  struct Case {
    const char* text;
    const char* intent;
    std::optional<Lang> lang;
  };
  const Case cases[] = {
      {"can I call the police without papers?", "call_police", Lang::en},
      {"puedo llamar a la policia", "call_police", Lang::es},
      {"he is hitting me", "emergency", Lang::en},
      {"me esta golpeando", "emergency", Lang::es},
      {"me van a pedir papeles", "status_reporting", Lang::es},
      {"will they deport me", "status_reporting", Lang::en},
      {"pasame con un asesor", "advocate", Lang::es},
      {"daca", "out_of_scope", std::nullopt},  // the same word in both lists
      {"ICE", "status_reporting", std::nullopt},
      {"911", "call_police", std::nullopt},
      {"hola", "greeting", Lang::es},
      {"hi", "greeting", Lang::en},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto m = classify(model(), c.text);
    REQUIRE(m);
    CHECK(m->intent == c.intent);
    CHECK(lang_name(m->lang) == lang_name(c.lang));
    CHECK(m->score > 0);
  }
}

TEST_CASE("more specific phrases score higher", "[nlu][intents]") {
  auto loose = classify(model(), "police");
  auto specific = classify(model(), "can I call the police without papers");
  REQUIRE(loose);
  REQUIRE(specific);
  CHECK(specific->score > loose->score);
}

TEST_CASE("guess_language picks the language with clearly more evidence", "[nlu][lang]") {
  const std::pair<const char*, std::optional<Lang>> cases[] = {
      {"ok", std::nullopt},
      {"911", std::nullopt},
      {"😀", std::nullopt},
      {"", std::nullopt},
      {"hi", Lang::en},
      {"hola", Lang::es},
      {"hola hi", std::nullopt},
      {"can I call la policia?", Lang::en},
      {"puedo call the police?", Lang::en},
      {"hi hola", std::nullopt},
      {"what is the new policy", Lang::en},
      {"que cambio", Lang::es},
      {"q onda", Lang::es},
      {"r u there", Lang::en},
      {"Necesito ayuda por favor", Lang::es},
      {"I need help please", Lang::en},
      {"mi esposo me pega", Lang::es},
      {"estoy muy estresada", Lang::es},
      {"im so stressed", Lang::en},
      {"gun", Lang::en},
      {"pistola", Lang::es},
      {"la migra", Lang::es},
      {"ICE", std::nullopt},
      {"DACA", std::nullopt},
  };
  for (const auto& [text, lang] : cases) {
    INFO(text);
    CHECK(lang_name(guess_language(model(), text)) == lang_name(lang));
  }
  // The written language of most Spanish and English test messages is recognised.
  int right = 0, total = 0;
  for (const auto& c : kIntentCases) {
    ++total;
    if (guess_language(model(), c.text) == c.lang) ++right;
  }
  INFO(right << " of " << total);
  CHECK(right * 100 >= total * 85);
}

TEST_CASE("an empty model matches nothing", "[nlu][intents]") {
  IntentModel empty;
  CHECK_FALSE(classify(empty, "help me").has_value());
  CHECK_FALSE(guess_language(empty, "hola").has_value());
  CHECK_FALSE(empty.has("emergency"));
}

TEST_CASE("a model built in code matches prefixes, typos and gaps", "[nlu][intents]") {
  std::vector<Intent> intents(3);
  intents[0].id = "urgent";
  intents[0].priority = 100;
  intents[0].phrases[Lang::en] = {"on fire"};
  intents[1].id = "deport";
  intents[1].phrases[Lang::en] = {"deport*", "call police"};
  intents[1].phrases[Lang::es] = {"inmigracion"};
  intents[2].id = "police";
  intents[2].phrases[Lang::en] = {"call police", "police station", "nearest police station"};
  const IntentModel m(intents, {{Lang::en, {"the"}}, {Lang::es, {"la"}}});

  CHECK(m.has("deport"));
  CHECK(classify(m, "DEPORTATION")->intent == "deport");
  CHECK(classify(m, "deportarme")->intent == "deport");
  CHECK(classify(m, "deprtarme")->intent == "deport");  // a typo inside the prefix
  CHECK(classify(m, "emigracion")->intent == "deport");  // two typos in an 11-letter word
  CHECK(classify(m, "imigracion")->lang == Lang::es);
  CHECK_FALSE(classify(m, "report").has_value());      // not a prefix of it
  CHECK_FALSE(classify(m, "stati").has_value());       // 5 letters, 2 typos from "station"
  // "call police" is in two intents: a tie, so the one written first wins.
  CHECK(classify(m, "call the police")->intent == "deport");
  // One word may sit between phrase words; two may not.
  CHECK(classify(m, "where is the nearest police station")->intent == "police");
  CHECK(classify(m, "nearest big police station")->intent == "police");
  CHECK_FALSE(classify(m, "call the city police").has_value());
  // Urgent intents win whatever else matched.
  CHECK(classify(m, "the police station is on fire, call police, deportation")->intent == "urgent");
  CHECK_FALSE(classify(m, "fire").has_value());
  // Long messages: phrases are found across the 64-word blocks the matcher works in.
  for (int before = 60; before <= 66; ++before) {
    std::string filler;
    for (int i = 0; i < before; ++i) filler += "blah ";
    INFO(before);
    auto near = classify(m, filler + "nearest big police station");
    REQUIRE(near);
    CHECK(near->intent == "police");
    CHECK(near->score == 9 + 4);  // "nearest police station" and "police station"
    CHECK_FALSE(classify(m, filler + "nearest big old police, call the city police"));
  }
  CHECK(guess_language(m, "the") == Lang::en);
  CHECK(guess_language(m, "la inmigracion") == Lang::es);
}

TEST_CASE("classify leaves nothing behind between messages, models and threads", "[nlu][intents]") {
  // The matcher keeps a scratch buffer per thread and clears only what a message touched: one
  // message, a long one, or one from another model, must never change the next one's answer.
  std::vector<Intent> small(1);
  small[0].id = "police";
  small[0].phrases[Lang::en] = {"call police", "police station"};
  const IntentModel other(small, {});
  std::string long_message;
  for (int i = 0; i < 150; ++i) long_message += i % 7 ? "blah " : "police ";
  const std::vector<std::string> messages = {
      "¿Puedo llamar a la policía si me roban?", "hola", "1", long_message + "can I call the police",
      "will police ask about my immigration status", "", "😀😀", "how do I file a complaint against an officer",
      "qué cambió con la política", "gracias", long_message, "police station", "deportation"};
  auto answer = [](const IntentModel& m, const std::string& text) {
    auto r = classify(m, text);
    return r ? r->intent + "/" + std::to_string(r->score) : std::string("-");
  };
  // Each message alone, on a thread of its own (a fresh scratch buffer).
  std::vector<std::string> alone, alone_other;
  for (const auto& text : messages) {
    std::thread([&] {
      alone.push_back(answer(model(), text));
      alone_other.push_back(answer(other, text));
    }).join();
  }
  // Then all of them on this thread, twice, alternating the two models.
  for (int round = 0; round < 2; ++round) {
    for (std::size_t i = 0; i < messages.size(); ++i) {
      INFO(messages[i]);
      CHECK(answer(model(), messages[i]) == alone[i]);
      CHECK(answer(other, messages[i]) == alone_other[i]);
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Diagnostics for staff

TEST_CASE("load_intents reports an unknown field with its position", "[nlu][diagnostics]") {
  std::string path;
  auto r = load_text(
      "intents:\n"
      "  emergency:\n"
      "    priority: 100\n"
      "    phrase: [gun]\n"
      "    en: [gun]\n"
      "    es: [pistola]\n",
      path);
  CHECK_FALSE(r.loaded);
  CHECK(r.diagnostics == path +
                             ":4:5: error[unknown-field]: unknown field 'phrase' in intent "
                             "'emergency'; expected priority, en or es\n");
}

TEST_CASE("load_intents reports YAML syntax errors at yaml-cpp's mark", "[nlu][diagnostics]") {
  std::string path;
  auto r = load_text(
      "intents:\n"
      "  emergency:\n"
      "    en: [gun, knife\n"
      "    es: [pistola]\n",
      path);
  CHECK_FALSE(r.loaded);
  CHECK(r.diagnostics == path + ":4:7: error[yaml-syntax]: end of sequence flow not found\n");
}

TEST_CASE("load_intents reports a missing file", "[nlu][diagnostics]") {
  Diagnostics diags;
  CHECK_FALSE(load_intents("/nonexistent/intents.yaml", diags).has_value());
  CHECK(diags.to_string() ==
        "/nonexistent/intents.yaml: error[missing-file]: cannot read the intents file\n");
}

TEST_CASE("load_intents reports every problem in one pass", "[nlu][diagnostics]") {
  std::string path;
  auto r = load_text(
      "intents:\n"                                   // 1
      "  emergency:\n"                               // 2
      "    priority: high\n"                         // 3
      "    en:\n"                                    // 4
      "      - gun\n"                                // 5
      "      - \"\"\n"                               // 6
      "      - \"¿?\"\n"                             // 7
      "    es: [pistola, de*porta, a*]\n"            // 8
      "  Call-Police:\n"                             // 9
      "    en: [police]\n"                           // 10
      "  support:\n"                                 // 11
      "    en: scared\n"                             // 12
      "    es: [{miedo: 1}]\n"                       // 13
      "  emergency:\n"                               // 14
      "    en: [knife]\n"                            // 15
      "  advocate: person\n"                         // 16
      "language_words:\n"                            // 17
      "  fr: [le]\n"                                 // 18
      "  en: [the, two words]\n"                     // 19
      "extra: 1\n",                                  // 20
      path);
  CHECK_FALSE(r.loaded);
  const std::string p = path;
  CHECK(r.diagnostics ==
        p + ":3:15: error[expected-number]: `priority` of intent 'emergency' must be a whole "
            "number, such as 100 or -10\n" +
        p + ":6:9: error[empty-phrase]: intent 'emergency' has an empty phrase in `en`; write "
            "words or remove the line\n" +
        p + ":7:9: error[empty-phrase]: phrase '¿?' of intent 'emergency' has no words "
            "(punctuation and emoji are ignored)\n" +
        p + ":8:19: error[bad-wildcard]: in phrase 'de*porta' of intent 'emergency', `*` can only "
            "end a word, as in deport*\n" +
        p + ":8:29: error[bad-wildcard]: in phrase 'a*' of intent 'emergency', a word ending in * "
            "needs at least 3 letters before the *, or it matches too much\n" +
        p + ":9:3: error[bad-intent-id]: intent name 'Call-Police' must be lowercase letters, "
            "digits and _, starting with a letter, like call_police\n" +
        p + ":11:3: warning[missing-language]: intent 'support' has no English (en) phrases, so "
            "English messages cannot match it\n" +
        p + ":11:3: warning[missing-language]: intent 'support' has no Spanish (es) phrases, so "
            "Spanish messages cannot match it\n" +
        p + ":12:9: error[expected-list]: `en` of intent 'support' must be a list of phrases, one "
            "per line starting with -\n" +
        p + ":13:10: error[expected-text]: each phrase of intent 'support' must be plain text on "
            "one line\n" +
        p + ":14:3: error[duplicate-intent]: intent 'emergency' is defined twice (first on line "
            "2)\n" +
        p + ":16:13: error[expected-map]: intent 'advocate' must have `en:` and `es:` lists of "
            "phrases\n" +
        p + ":18:3: error[unknown-language]: unknown language 'fr' in language_words; expected en "
            "or es\n" +
        p + ":19:13: error[expected-word]: 'two words' in language_words.en must be a single "
            "word\n" +
        p + ":20:1: error[unknown-field]: unknown field 'extra' in the intents file; expected "
            "intents or language_words\n");
}

TEST_CASE("duplicate phrases are warnings and the model still loads", "[nlu][diagnostics]") {
  std::string path;
  auto r = load_text(
      "intents:\n"
      "  call_police:\n"
      "    en: [police, visa]\n"
      "    es: [policía, visa]\n"
      "  out_of_scope:\n"
      "    en: [visa, green card, green  CARD]\n"
      "    es: [poli]\n"
      "language_words:\n"
      "  en: [the, no, the]\n"
      "  es: [la, no]\n",
      path);
  CHECK(r.loaded);
  const std::string p = path;
  CHECK(r.diagnostics ==
        p + ":6:10: warning[duplicate-phrase]: phrase 'visa' is already in intent 'call_police' "
            "(line 3); a message with it counts for both\n" +
        p + ":6:28: warning[duplicate-phrase]: phrase 'green  CARD' is already in intent "
            "'out_of_scope' as 'green card' (line 6)\n" +
        p + ":7:10: warning[duplicate-phrase]: phrase 'poli' is already in intent 'call_police' "
            "as 'policía' (line 4); a message with it counts for both\n" +
        p + ":9:17: warning[duplicate-word]: 'the' is listed twice in language_words.en\n" +
        p + ":10:12: warning[ambiguous-word]: 'no' is already in language_words.en; a word in "
            "both lists tells nothing apart, so this one is ignored\n");
}

TEST_CASE("load_intents rejects a file that is not a map of intents", "[nlu][diagnostics]") {
  std::string path;
  auto r = load_text("- emergency\n- call_police\n", path);
  CHECK_FALSE(r.loaded);
  CHECK(r.diagnostics == path +
                             ":1:1: error[intents-not-map]: the intents file starts with "
                             "`intents:` (and, optionally, `language_words:`)\n");
  r = load_text("language_words:\n  en: [the]\n", path);
  CHECK_FALSE(r.loaded);
  CHECK(r.diagnostics == path + ":1:1: error[missing-field]: the intents file has no `intents:`\n");
  r = load_text("intents: []\n", path);
  CHECK_FALSE(r.loaded);
  CHECK(r.diagnostics == path +
                             ":1:10: error[expected-map]: `intents` must be a list of named "
                             "intents, such as `emergency:`\n");
}

TEST_CASE("the staff guide's keyword table is what the hotline reads as keywords") {
  std::ifstream in(std::string(HOTLINE_SOURCE_DIR) + "/docs/staff-guide.md");
  REQUIRE(in);
  const std::map<std::string, Keyword> meanings = {
      {"stop messages (opt-out)", Keyword::stop}, {"start again (opt-in)", Keyword::start},
      {"help", Keyword::help}, {"back to the menu", Keyword::menu}};
  int rows = 0;
  std::set<std::string> documented;
  bool in_table = false;
  for (std::string line; std::getline(in, line);) {
    if (line == "| meaning | words |") { in_table = true; continue; }
    if (!in_table || line.rfind("|---", 0) == 0) continue;
    if (line.rfind("| ", 0) != 0) break;
    const auto bar = line.find(" | ", 2);
    const std::string meaning = line.substr(2, bar - 2);
    std::string list = line.substr(bar + 3, line.rfind(" |") - bar - 3);
    ++rows;
    std::istringstream items(list);
    for (std::string word; std::getline(items, word, ',');) {
      while (!word.empty() && word.front() == ' ') word.erase(0, 1);
      INFO(meaning << ": " << word);
      const auto m = match_keyword(word);
      if (meaning == "language") {
        CHECK((m.keyword == Keyword::english || m.keyword == Keyword::spanish));
      } else {
        REQUIRE(meanings.count(meaning));
        CHECK(m.keyword == meanings.at(meaning));
      }
      documented.insert(word);
    }
  }
  CHECK(rows == 5);
  // Every word a texter may use to stop or start messages is told to staff, not only STOP.
  for (const char* w : {"STOP", "END", "QUIT", "CANCEL", "PARAR", "ALTO", "BAJA", "START", "YES", "ALTA"}) {
    INFO(w);
    CHECK(documented.count(w) == 1);
  }
}
