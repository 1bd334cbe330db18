#include "hotline/engine/engine.hpp"

#include <algorithm>
#include <utility>

#include "hotline/nlu/understand.hpp"
#include "hotline/prompts/segments.hpp"

namespace hotline::engine {
namespace {

// A flow checked by the loader cannot chain `go:` forever, but an engine that can loop must
// still stop: this bounds one turn whatever the flow says.
constexpr int kMaxStepsPerTurn = 32;

// After a switch of language, a question is answered only when understood at least this surely;
// otherwise the person gets "OK, in Spanish" and the menu.
constexpr float kClearAfterSwitch = 0.6f;

// Twilio itself answers these English opt-out words, so a reply of ours would be a duplicate
// (and blocked). Other opt-out words, Spanish ones among them, are ours to confirm.
bool twilio_confirms_opt_out(const std::string& folded) {
  for (const char* word : {"stop", "stopall", "unsubscribe", "cancel", "end", "quit"}) {
    if (folded == word) return true;
  }
  return false;
}

class Turn {
 public:
  Turn(const flow::Bundle& bundle, Session session, const Input& input, const Options& options)
      : b_(bundle), input_(input), options_(options), folded_(nlu::fold(input.text)),
        choice_(nlu::menu_choice(input.text)) {
    out_.session = std::move(session);
  }

  Outcome run() {
    Session& s = out_.session;
    const bool first_turn = s.turns == 0;
    ++s.turns;

    auto keyword = nlu::match_keyword(input_.text);
    // Opt-out and opt-in are SMS carrier conventions. A caller who says "stop", "yes" or "alto"
    // means something else, and a call has no messages to stop.
    if (input_.channel == Channel::voice &&
        (keyword.keyword == nlu::Keyword::stop || keyword.keyword == nlu::Keyword::start)) {
      keyword = {};
    }
    // "Yes" opts a number back in only if it was opted out; otherwise it answers a question
    // ("Would you like to talk with a person?").
    if (keyword.keyword == nlu::Keyword::start && !input_.opted_out && folded_ == "yes") {
      keyword = {};
    }
    if (keyword.keyword != nlu::Keyword::none) {
      handle_keyword(keyword);
      return finish();
    }

    nlu::Understanding u = understand();
    follow_language(u);
    // "No hablo bien inglés, en español porfa": a switch of language is the message, unless it
    // also asks something clearly (or might be an emergency).
    if (out_.lang_switched && u.intent != nlu::kEmergency && u.confidence < kClearAfterSwitch) {
      u.choices.clear();
      u.intent.clear();
      u.second.clear();
    }
    out_.intent = u.intent;
    if (!u.intent.empty()) s.last_intent = u.intent;

    const flow::Step* waiting = s.step.empty() ? nullptr : b_.flow.find(s.step);
    if (!waiting) {
      if (!s.step.empty()) say("flow_changed");  // the step was removed by an edit
      s.step = b_.flow.start;
      s.retries = 0;
      waiting = b_.flow.find(s.step);
    }
    if (!waiting || waiting->then != flow::Step::Then::wait) {
      go_to(b_.flow.start);
      return finish();
    }

    // Emergencies first, at every step: a doubtful one gets the 911 line before anything else.
    if (u.maybe_emergency) {
      out_.emergency_first = true;
      say("emergency_first");
    }
    if (u.choices.size() == 2 && !reply_target(*waiting)) {
      ask_between(*waiting, u.choices);
      return finish();
    }
    auto target = route(*waiting, u);
    if (target && input_.awaiting_advocate && leads_to_handoff(*target) &&
        b_.prompts.has(s.lang.value_or(options_.default_lang), "advocate_waiting")) {
      target.reset();  // asked again while waiting: say it is waiting, not a second hand-off
    }
    if (target) {
      go_to(*target);
      answer_second(u);
    } else if (input_.awaiting_advocate && b_.prompts.has(out_.session.lang.value_or(options_.default_lang), "advocate_waiting")) {
      // Asked for a person and waiting: "when will someone write?", "es urgente".
      say(input_.after_hours ? "advocate_waiting_after_hours" : "advocate_waiting");
      ask(*waiting);
    } else if (input_.has_media && folded_.empty()) {
      // A picture, a voice note, a location pin: say what the line can read, and wait where we
      // were. A first message like that does not tell the language: say it in both, then ask.
      out_.bilingual = !s.lang;
      say(media_prompt());
      if (!s.lang) say("choose_language");
      ask(*waiting);
    } else if (!s.lang) {
      // Nothing tells us the language yet: answer in both and let them choose, and after as many
      // tries as anyone else gets, offer a person (in both languages) rather than a dead end.
      out_.bilingual = true;
      out_.not_understood = true;
      if (++s.retries > b_.flow.max_retries && !b_.flow.after_retries.empty()) {
        go_to(b_.flow.after_retries);
      } else {
        say("choose_language");
        ask(*waiting);
      }
    } else if (out_.lang_switched) {
      say("language_set");  // "no hablo bien inglés, en español porfa"
      go_to(b_.flow.start);
    } else if (first_turn) {
      go_to(b_.flow.start);  // a first "hello there" deserves the menu, not an apology
    } else if (!waiting->otherwise.empty()) {
      go_to(waiting->otherwise);
    } else {
      reask(*waiting);
    }
    return finish();
  }

 private:
  void handle_keyword(const nlu::KeywordMatch& keyword) {
    Session& s = out_.session;
    // STOP, START and HELP are what carriers tell everyone to send, so they tell the language
    // only of someone we do not know yet: a Spanish speaker who sends STOP, then START, is still
    // answered in Spanish. A Spanish keyword (PARAR, ALTA, AYUDA) is Spanish whoever sends it.
    if (keyword.lang && (!s.lang || *keyword.lang == Lang::es)) s.lang = keyword.lang;
    switch (keyword.keyword) {
      case nlu::Keyword::stop:
        out_.events.emplace_back(OptOut{});
        if (!(input_.twilio_confirms_opt_out && twilio_confirms_opt_out(folded_))) say("opted_out");
        // Not End: the session (step cleared, language kept) lives out its idle time, so a
        // START soon after answers in the same language.
        s.step.clear();
        break;
      case nlu::Keyword::start:
        out_.events.emplace_back(OptIn{});
        say("opted_in");
        go_to(b_.flow.start);
        break;
      case nlu::Keyword::help: {
        say("help");
        if (const flow::Step* waiting = b_.flow.find(s.step)) ask(*waiting);
        break;
      }
      case nlu::Keyword::english:
      case nlu::Keyword::spanish:
        s.lang = keyword.keyword == nlu::Keyword::english ? Lang::en : Lang::es;
        say("language_set");
        go_to(b_.flow.start);
        break;
      case nlu::Keyword::menu:
        go_to(b_.flow.start);
        break;
      case nlu::Keyword::none:
        break;
    }
  }

  // What the message asks: a pending numbered choice first, then the trained classifier (or,
  // for a bundle without examples, the phrases of flows/intents.yaml).
  nlu::Understanding understand() {
    Session& s = out_.session;
    const std::string pending = std::exchange(s.choices, {});
    if (!pending.empty()) {
      const auto plus = pending.find('+');
      if (const auto& pick = choice_; pick && (*pick == "1" || *pick == "2") &&
                                                      plus != std::string::npos) {
        nlu::Understanding chosen;
        chosen.intent = *pick == "1" ? pending.substr(0, plus) : pending.substr(plus + 1);
        chosen.chosen = true;
        return chosen;
      }
    }
    if (!b_.classifier.empty()) return nlu::understand(b_.classifier, input_.text);
    nlu::Understanding u;
    if (auto match = nlu::classify(b_.intents, input_.text)) u.intent = match->intent;
    return u;
  }

  // The reply language follows the person: set from the first message that shows it, and
  // switched by a message clearly written in the other language.
  void follow_language(const nlu::Understanding& u) {
    Session& s = out_.session;
    std::optional<Lang> clear;
    if (!b_.classifier.empty()) {
      clear = u.lang;
    } else {
      clear = nlu::guess_language(b_.intents, input_.text);
    }
    if (!s.lang) {
      s.lang = clear;
    } else if (clear && *clear != *s.lang && !choice_) {  // "opción tres" is a number
      s.lang = clear;
      out_.lang_switched = true;
    }
  }

  // The step a reply of the waiting step leads to: the reply exactly, or a loosely written
  // menu choice ("el 2", "opción tres").
  const std::string* reply_target(const flow::Step& waiting) const {
    for (const auto& [reply, target] : waiting.replies) {
      if (folded_ == reply || (choice_ && *choice_ == reply)) return &target;
    }
    return nullptr;
  }

  // Where a reply leads from a waiting step. Emergency comes before everything, then the
  // step's own replies (exactly, or as a loosely written menu choice: "el 2", "opción tres"),
  // then intents (the step's own, then the flow's `anywhere`).
  std::optional<std::string> route(const flow::Step& waiting, const nlu::Understanding& u) {
    // An emergency, or the answer to "1 or 2?", comes before the step's own numbers.
    if (u.intent == nlu::kEmergency || u.chosen) {
      if (auto target = intent_target(waiting, u.intent)) return target;
    }
    if (const std::string* target = reply_target(waiting)) {
      if (out_.intent.empty()) {
        out_.intent = intent_leading_to(*target);
        if (!out_.intent.empty()) out_.session.last_intent = out_.intent;
      }
      return *target;
    }
    if (!u.intent.empty()) return intent_target(waiting, u.intent);
    return std::nullopt;
  }

  std::optional<std::string> intent_target(const flow::Step& waiting, const std::string& intent) const {
    if (auto it = waiting.intents.find(intent); it != waiting.intents.end()) return it->second;
    if (auto it = b_.flow.anywhere.find(intent); it != b_.flow.anywhere.end()) return it->second;
    return std::nullopt;
  }

  // The intent whose answer a menu number gives ("2" → status_reporting), so a choice counts
  // under its topic.
  std::string intent_leading_to(const std::string& target) const {
    for (const auto& [intent, step] : b_.flow.anywhere) {
      if (step == target) return intent;
    }
    return {};
  }

  bool leads_to_handoff(std::string target) const {
    for (int n = 0; n < kMaxStepsPerTurn; ++n) {
      const flow::Step* step = b_.flow.find(target);
      if (!step) return false;
      if (!step->handoff.empty()) return true;
      if (step->then != flow::Step::Then::go) return false;
      target = step->go;
    }
    return false;
  }

  // Unsure between two questions: ask, with both named, and wait where we were.
  void ask_between(const flow::Step& waiting, const std::vector<std::string>& choices) {
    Session& s = out_.session;
    out_.asked = choices;
    out_.intent.clear();
    s.choices = choices[0] + "+" + choices[1];
    say("clarify");
    ask(waiting);
  }

  // A message that asked two things gets the second answer too, as its own message.
  void answer_second(const nlu::Understanding& u) {
    if (u.second.empty() || u.intent == nlu::kEmergency) return;
    const flow::Step* at = b_.flow.find(out_.session.step);
    if (!at) return;
    auto target = intent_target(*at, u.second);
    if (!target || leads_to_handoff(*target)) return;
    out_.second_intent = u.second;
    const std::size_t before = out_.events.size();
    go_to(*target);
    for (std::size_t i = before; i < out_.events.size(); ++i) {
      if (auto* said = std::get_if<Say>(&out_.events[i])) {
        said->new_message = true;
        break;
      }
    }
  }

  // What to say about a message that brought no text: the prompt for its kind when the bundle
  // has one (they are optional), else the general "I can only read text".
  std::string media_prompt() const {
    const char* key = "unsupported_media";
    switch (input_.attachment) {
      case Attachment::picture: key = "media_picture"; break;
      case Attachment::voice_note: key = input_.calls_welcome ? "media_voice_note_call" : "media_voice_note"; break;
      case Attachment::location: key = "media_location"; break;
      case Attachment::none:
      case Attachment::other: break;
    }
    const Lang lang = out_.session.lang.value_or(options_.default_lang);
    return b_.prompts.has(lang, key) ? key : "unsupported_media";
  }

  void reask(const flow::Step& waiting) {
    Session& s = out_.session;
    out_.not_understood = true;
    ++s.retries;
    if (s.retries > b_.flow.max_retries && !b_.flow.after_retries.empty()) {
      go_to(b_.flow.after_retries);
      return;
    }
    say(b_.flow.not_understood);
    // A listener needs the options again; a texter has them on screen, and repeating them
    // would push the reply past three segments.
    if (input_.channel == Channel::voice && !waiting.say.empty()) say(waiting.say);
    ask(waiting);
  }

  void go_to(std::string target) {
    Session& s = out_.session;
    for (int n = 0; n < kMaxStepsPerTurn; ++n) {
      const flow::Step* step = b_.flow.find(target);
      if (!step) break;
      if (!step->say.empty()) say(step->say);
      if (!step->handoff.empty()) out_.events.emplace_back(Handoff{step->handoff});
      switch (step->then) {
        case flow::Step::Then::wait:
          s.step = step->id;
          s.retries = 0;
          ask(*step);
          return;
        case flow::Step::Then::go:
          target = step->go;
          continue;
        case flow::Step::Then::end:
          s.step.clear();
          out_.events.emplace_back(End{});
          return;
      }
    }
    // Only reachable with an unchecked flow: wait at the start rather than nowhere.
    s.step = b_.flow.start;
  }

  void ask(const flow::Step& waiting) {
    Ask a{waiting.id, {}};
    for (const auto& [reply, target] : waiting.replies) a.replies.push_back(reply);
    out_.events.emplace_back(std::move(a));
  }

  void say(const std::string& key) {
    out_.events.emplace_back(Say{key, {}});  // text is rendered in finish(), once the language is final
  }

  Outcome finish() {
    const Session& s = out_.session;
    out_.lang = s.lang.value_or(options_.default_lang);
    out_.step = s.step;
    auto render = [&](Lang lang, const std::string& key) {
      prompts::Variables vars = b_.details;
      for (const auto& [name, value] : flow::source_dates(b_.sources, lang)) vars[name] = value;
      for (const auto& [name, value] : input_.runtime) vars[name] = value;
      if (out_.asked.size() == 2) {
        vars["first"] = b_.prompts.render(lang, flow::kTopicPrefix + out_.asked[0], input_.channel, {});
        vars["second"] = b_.prompts.render(lang, flow::kTopicPrefix + out_.asked[1], input_.channel, {});
      }
      return b_.prompts.render(lang, key, input_.channel, vars);
    };
    // In both languages when the language is not known yet: each text in English, then in
    // Spanish, as two texts (a reply that would be too long for one SMS goes out as two).
    // Several texts (a picture's notice and the language question) are said all in English,
    // then all in Spanish, so each language reads as one message.
    std::vector<Event> events;
    std::vector<Event> spanish;
    for (auto& event : out_.events) {
      auto* said = std::get_if<Say>(&event);
      if (!said) {
        events.push_back(std::move(event));
      } else if (out_.bilingual) {
        events.emplace_back(Say{said->key, render(Lang::en, said->key), said->new_message});
        spanish.emplace_back(Say{said->key, render(Lang::es, said->key), false});
      } else {
        said->text = render(out_.lang, said->key);
        events.push_back(std::move(event));
      }
    }
    // The Spanish texts go right after the last English one (before any Ask that follows it).
    if (!spanish.empty()) {
      auto after_english = events.end();
      for (auto it = events.begin(); it != events.end(); ++it) {
        if (std::holds_alternative<Say>(*it)) after_english = std::next(it);
      }
      events.insert(after_english, std::make_move_iterator(spanish.begin()), std::make_move_iterator(spanish.end()));
    }
    out_.events = std::move(events);
    return std::move(out_);
  }

  const flow::Bundle& b_;
  const Input& input_;
  const Options& options_;
  const std::string folded_;                 // the message folded once for the whole turn
  const std::optional<std::string> choice_;  // and read as a menu choice once
  Outcome out_;
};

}  // namespace

Outcome step(const flow::Bundle& bundle, Session session, const Input& input,
             const Options& options) {
  return Turn(bundle, std::move(session), input, options).run();
}

std::string spoken_text(const Outcome& outcome) {
  std::string text;
  for (const auto& event : outcome.events) {
    if (const auto* said = std::get_if<Say>(&event); said && !said->text.empty()) {
      if (!text.empty()) text += "\n\n";
      text += said->text;
    }
  }
  return text;
}

std::vector<std::string> message_texts(const Outcome& outcome) {
  std::vector<std::string> messages;
  for (const auto& event : outcome.events) {
    const auto* said = std::get_if<Say>(&event);
    if (!said || said->text.empty()) continue;
    // A reply stays within three SMS segments: what would push it over starts a second message.
    const bool fits = !messages.empty() &&
                      prompts::count_segments(messages.back() + "\n\n" + said->text).segments <=
                          prompts::kMaxAnswerSegments;
    if (messages.empty() || said->new_message || !fits) {
      messages.push_back(said->text);
    } else {
      messages.back() += "\n\n" + said->text;
    }
  }
  return messages;
}

}  // namespace hotline::engine
