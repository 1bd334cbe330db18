#include "hotline/engine/engine.hpp"

namespace hotline::engine {
namespace {

// A flow checked by the loader cannot chain `go:` forever, but an engine that can loop must
// still stop: this bounds one turn whatever the flow says.
constexpr int kMaxStepsPerTurn = 32;

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
      : b_(bundle), input_(input), options_(options) {
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
    if (keyword.keyword == nlu::Keyword::start && !input_.opted_out && nlu::fold(input_.text) == "yes") {
      keyword = {};
    }
    if (keyword.keyword != nlu::Keyword::none) {
      handle_keyword(keyword);
      return finish();
    }

    auto match = nlu::classify(b_.intents, input_.text);
    if (match) {
      out_.intent = match->intent;
      s.last_intent = match->intent;
    }
    if (!s.lang) {
      s.lang = nlu::guess_language(b_.intents, input_.text);
      if (!s.lang && match) s.lang = match->lang;
    }

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

    if (auto target = route(*waiting, match)) {
      go_to(*target);
    } else if (!s.lang) {
      // Nothing tells us the language yet: answer in both and let them choose.
      out_.bilingual = true;
      say("choose_language");
      ask(*waiting);
    } else if (input_.has_media && nlu::fold(input_.text).empty()) {
      say("unsupported_media");
      ask(*waiting);
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
    if (keyword.lang && (keyword.keyword == nlu::Keyword::stop ||
                         keyword.keyword == nlu::Keyword::start ||
                         keyword.keyword == nlu::Keyword::help || !s.lang)) {
      s.lang = keyword.lang;
    }
    switch (keyword.keyword) {
      case nlu::Keyword::stop:
        out_.events.emplace_back(OptOut{});
        if (!twilio_confirms_opt_out(nlu::fold(input_.text))) say("opted_out");
        out_.events.emplace_back(End{});
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

  // Where a reply leads from a waiting step. Emergency comes before everything, then the
  // step's own replies, then intents (the step's own, then the flow's `anywhere`).
  std::optional<std::string> route(const flow::Step& waiting,
                                   const std::optional<nlu::IntentMatch>& match) const {
    auto intent_target = [&](const std::string& intent) -> std::optional<std::string> {
      if (auto it = waiting.intents.find(intent); it != waiting.intents.end()) return it->second;
      if (auto it = b_.flow.anywhere.find(intent); it != b_.flow.anywhere.end()) return it->second;
      return std::nullopt;
    };
    if (match && match->intent == "emergency") {
      if (auto target = intent_target(match->intent)) return target;
    }
    const std::string folded = nlu::fold(input_.text);
    for (const auto& [reply, target] : waiting.replies) {
      if (folded == reply) return target;
    }
    if (match) return intent_target(match->intent);
    return std::nullopt;
  }

  void reask(const flow::Step& waiting) {
    Session& s = out_.session;
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
    for (auto& event : out_.events) {
      auto* said = std::get_if<Say>(&event);
      if (!said) continue;
      if (out_.bilingual) {
        said->text = b_.prompts.render(Lang::en, said->key, input_.channel, b_.details) + "\n" +
                     b_.prompts.render(Lang::es, said->key, input_.channel, b_.details);
      } else {
        said->text = b_.prompts.render(out_.lang, said->key, input_.channel, b_.details);
      }
    }
    return std::move(out_);
  }

  const flow::Bundle& b_;
  const Input& input_;
  const Options& options_;
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

}  // namespace hotline::engine
