#include "hotline/flow/bundle.hpp"

#include <malloc.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "hotline/common/yaml_syntax.hpp"
#include "hotline/nlu/examples.hpp"

#include "hotline/prompts/segments.hpp"

namespace hotline::flow {
namespace {

std::string quoted_list(const std::set<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

class BundleChecker {
 public:
  BundleChecker(const Bundle& bundle, Diagnostics& diags) : b_(bundle), diags_(diags) {}

  void run() {
    check_references();
    check_intents();
    check_examples();
    check_prompts_used();
    check_translations();
    check_go_loops();
    check_reachable();
    check_voice_wordings();
    check_ways_out();
  }

 private:
  void check_references() {
    for (const auto& ref : b_.flow.references) {
      if (!b_.flow.find(ref.target)) {
        std::vector<std::string> steps;
        for (const auto& [id, step] : b_.flow.steps) steps.push_back(id);
        diags_.error(ref.where, "unknown-step",
                     "there is no step named '" + ref.target + "'" + suggestion(ref.target, steps));
        if (auto guess = closest(ref.target, steps)) suggested_.insert(*guess);
      }
    }
  }

  void check_intents() {
    std::set<std::string> handled;
    auto check_known = [&](const std::map<std::string, std::string>& routes, const Position& where) {
      for (const auto& [intent, target] : routes) {
        handled.insert(intent);
        if (!b_.intents.has(intent)) {
          diags_.error(where, "unknown-intent",
                       "intent '" + intent + "' is not defined in flows/intents.yaml" +
                           suggestion(intent, intent_names()));
        }
      }
    };
    check_known(b_.flow.anywhere, b_.flow.where);
    for (const auto& [id, step] : b_.flow.steps) check_known(step.intents, step.where);
    for (const auto& intent : b_.intents.intents()) {
      if (!handled.count(intent.id)) {
        diags_.error(intent.where, "unhandled-intent",
                     "intent '" + intent.id + "' is not handled by the flow; add it to `anywhere:`");
      }
    }
  }

  // Every example names a defined intent; the same message is not taught as two answers; and
  // every intent has enough examples in each language to be learnt.
  void check_examples() {
    const auto& examples = b_.classifier.examples();
    std::map<std::string, const nlu::Example*> by_text;
    std::map<std::pair<std::string, Lang>, int> counts;
    for (const auto& ex : examples) {
      for (const auto& intent : ex.intents) {
        ++counts[{intent, ex.lang}];
        if (!b_.intents.has(intent)) {
          diags_.error(ex.where, "unknown-intent",
                       "intent '" + intent + "' is not defined in flows/intents.yaml" +
                           suggestion(intent, intent_names()));
        }
      }
      const std::string key = nlu::fold(ex.text);
      auto [it, inserted] = by_text.emplace(key, &ex);
      if (inserted) continue;
      const nlu::Example& first = *it->second;
      const std::string at = first.where.file + ":" + std::to_string(first.where.line);
      if (first.intents != ex.intents) {
        diags_.error(ex.where, "conflicting-example",
                     "this message is also an example of '" + join(first.intents) + "' (" + at +
                         "); one message can teach only one answer: keep one line");
      } else {
        diags_.warning(ex.where, "duplicate-example", "the same message is already at " + at);
      }
    }
    if (examples.empty()) return;
    for (const char* key : kUnderstandingPrompts) require_prompt(key, {b_.flow.file, 1, 1});
    for (const auto& intent : b_.intents.intents()) {
      for (Lang lang : kAllLangs) {
        const int n = counts[{intent.id, lang}];
        if (n < kFewExamples) {
          diags_.warning(intent.where, "few-examples",
                         "intent '" + intent.id + "' has " + std::to_string(n) + " " +
                             std::string(lang_code(lang)) + " examples in flows/examples/; with fewer than " +
                             std::to_string(kFewExamples) + " the hotline rarely recognises it");
        }
      }
      require_prompt(kTopicPrefix + intent.id, intent.where);
    }
  }

  static std::string join(const std::vector<std::string>& intents) {
    std::string out;
    for (const auto& i : intents) out += (out.empty() ? "" : "+") + i;
    return out;
  }
  static constexpr int kFewExamples = 20;

  // A prompt written but unusable (empty, not text) has its own diagnostic; only one the file
  // does not name at all is "missing".
  void require_prompt(const std::string& key, const Position& where) {
    for (Lang lang : kAllLangs) {
      if (!b_.prompts.declared(lang, key)) {
        std::vector<std::string> keys;
        for (const auto& [known, prompt] : b_.prompts.entries(lang)) keys.push_back(known);
        diags_.error(where, "missing-prompt",
                     "prompt '" + key + "' is missing in prompts/" + std::string(lang_code(lang)) +
                         ".yaml" + suggestion(key, keys));
      }
    }
  }

  // "; did you mean `menu`?" after the name of something that does not exist, or "".
  static std::string suggestion(const std::string& typed, const std::vector<std::string>& known) {
    auto guess = closest(typed, known);
    return guess ? "; did you mean `" + *guess + "`?" : "";
  }

  std::vector<std::string> intent_names() const {
    std::vector<std::string> names;
    for (const auto& intent : b_.intents.intents()) names.push_back(intent.id);
    return names;
  }

  void check_prompts_used() {
    for (const auto& [id, step] : b_.flow.steps) {
      if (!step.say.empty()) require_prompt(step.say, step.say_where);
    }
    Position flow_top{b_.flow.file, 1, 1};
    require_prompt(b_.flow.not_understood, flow_top);
    for (const char* key : kEnginePrompts) require_prompt(key, flow_top);
    for (const char* key : kRelayPrompts) require_prompt(key, flow_top);
    for (const char* key : kConsolePrompts) require_prompt(key, flow_top);
    for (const char* key : kVoicePrompts) require_prompt(key, flow_top);
  }

  // Every prompt in every language, with the same placeholders, configured and short enough.
  void check_translations() {
    for (Lang lang : kAllLangs) {
      for (const auto& [key, prompt] : b_.prompts.entries(lang)) {
        for (Lang other : kAllLangs) {
          if (other == lang) continue;
          const prompts::Prompt* twin = b_.prompts.find(other, key);
          if (!twin && b_.prompts.declared(other, key)) continue;  // there, but empty: said already
          if (!twin) {
            diags_.error(prompt.where, "missing-translation",
                         "prompt '" + key + "' has no " + std::string(lang_code(other)) +
                             " text in prompts/" + std::string(lang_code(other)) + ".yaml");
          } else if (lang < other) {
            compare_placeholders(key, prompt, *twin, other);
          }
        }
        check_details_and_length(key, prompt, lang);
      }
    }
  }

  void compare_placeholders(const std::string& key, const prompts::Prompt& a,
                            const prompts::Prompt& b, Lang b_lang) {
    auto names = [](const prompts::Prompt& p) {
      auto all = prompts::placeholders(p.sms);
      auto voice = prompts::placeholders(p.voice);
      all.insert(voice.begin(), voice.end());
      return all;
    };
    auto in_a = names(a), in_b = names(b);
    if (in_a != in_b) {
      diags_.error(a.where, "placeholder-mismatch",
                   "prompt '" + key + "' uses " + (in_a.empty() ? "no placeholders" : quoted_list(in_a)) +
                       " here but " + (in_b.empty() ? "none" : quoted_list(in_b)) + " in prompts/" +
                       std::string(lang_code(b_lang)) + ".yaml");
    }
  }

  void check_details_and_length(const std::string& key, const prompts::Prompt& prompt, Lang lang) {
    std::set<std::string> missing;
    const prompts::Variables dates = source_dates(b_.sources, lang);
    for (const auto& name : prompts::placeholders(prompt.sms + prompt.voice)) {
      const bool runtime = std::find(std::begin(kRuntimePlaceholders), std::end(kRuntimePlaceholders),
                                     name) != std::end(kRuntimePlaceholders);
      if (name.rfind("date_", 0) == 0) {
        if (!dates.count(name)) {
          diags_.error(prompt.where, "unknown-source",
                       "prompt '" + key + "' uses {" + name + "} but flows/sources.yaml has no source '" +
                           name.substr(5) + "'");
        }
        continue;
      }
      if (!runtime && !b_.details.count(name)) missing.insert(name);
    }
    if (!missing.empty()) {
      diags_.warning(prompt.where, "unset-detail",
                     "prompt '" + key + "' needs " + quoted_list(missing) +
                         " but config/hotline.yaml does not set it under `details:`");
    }
    prompts::Variables filled = b_.details;
    filled.insert(dates.begin(), dates.end());
    // A 7-segment answer must not go live on "0 errors": too long is an error, unless staff
    // wrote that this one may be long.
    const std::string over = prompts::over_the_limit(prompts::fill(prompt.sms, filled), lang);
    if (!over.empty() && !prompt.may_be_long) {
      diags_.error(prompt.where, "too-long",
                   "prompt '" + key + "' is " + over + "; or, if it must be long, add `long: true` to it");
    }
  }

  // A caller hears the SMS text when a prompt has no `voice:` wording, and "reply MENU" or
  // "write 0" means nothing on a call: every prompt a call can reach needs its own.
  void check_voice_wordings() {
    // A bundle with no voice wording at all is written for texts only (the tests' small ones).
    bool any_voice = false;
    for (Lang lang : kAllLangs) {
      for (const auto& [key, prompt] : b_.prompts.entries(lang)) any_voice = any_voice || !prompt.voice.empty();
    }
    if (!any_voice) return;
    std::set<std::string> on_calls = {"help", "not_understood", "flow_changed", "language_set"};
    if (!b_.classifier.empty()) on_calls.insert({"emergency_first", "clarify"});
    for (const auto& [id, step] : b_.flow.steps) {
      if (!step.say.empty()) on_calls.insert(step.say);
    }
    on_calls.insert(b_.flow.not_understood);
    for (Lang lang : kAllLangs) {
      for (const auto& key : on_calls) {
        const prompts::Prompt* prompt = b_.prompts.find(lang, key);
        if (prompt && prompt->voice.empty()) {
          diags_.warning(prompt->where, "no-voice-wording",
                         "prompt '" + key + "' can be said on a phone call but has no `voice:` wording, so a "
                         "caller hears the text message (\"reply…\"); add `sms:` and `voice:`");
        }
      }
    }
  }

  // A chain of `go:` that comes back to itself would never wait for the person.
  void check_go_loops() {
    for (const auto& [id, step] : b_.flow.steps) {
      std::set<std::string> seen{id};
      const Step* at = &step;
      while (at && at->then == Step::Then::go) {
        if (at->go == id) {
          looping_.insert(id);
          diags_.error(step.where, "endless-loop",
                       "step '" + id + "' leads back to itself through `go:` without waiting for a reply");
          break;
        }
        if (!seen.insert(at->go).second) break;  // a loop elsewhere; reported at its own steps
        at = b_.flow.find(at->go);
      }
    }
  }

  void check_reachable() {
    std::set<std::string> reached;
    std::vector<std::string> todo{b_.flow.start};
    for (const auto& [intent, target] : b_.flow.anywhere) todo.push_back(target);
    if (!b_.flow.after_retries.empty()) todo.push_back(b_.flow.after_retries);
    while (!todo.empty()) {
      std::string id = todo.back();
      todo.pop_back();
      const Step* step = b_.flow.find(id);
      if (!step || !reached.insert(id).second) continue;
      if (step->then == Step::Then::go) todo.push_back(step->go);
      for (const auto& [reply, target] : step->replies) todo.push_back(target);
      for (const auto& [intent, target] : step->intents) todo.push_back(target);
      if (!step->otherwise.empty()) todo.push_back(step->otherwise);
    }
    for (const auto& [id, step] : b_.flow.steps) {
      // A step that a misspelt name probably meant is unreached because of the typo: one message.
      if (!reached.count(id) && !suggested_.count(id)) {
        diags_.warning(step.where, "unreachable-step", "no path leads to step '" + id + "'");
      }
    }
    reached_ = std::move(reached);
  }

  // Where the person can go from a step: what the engine could do next from it.
  std::vector<std::string> next_steps(const Step& step) const {
    std::vector<std::string> next;
    if (step.then == Step::Then::go) next.push_back(step.go);
    if (step.then != Step::Then::wait) return next;
    for (const auto& [reply, target] : step.replies) next.push_back(target);
    for (const auto& [intent, target] : step.intents) next.push_back(target);
    for (const auto& [intent, target] : b_.flow.anywhere) {
      if (!step.intents.count(intent)) next.push_back(target);
    }
    if (!step.otherwise.empty()) next.push_back(step.otherwise);
    else if (!b_.flow.after_retries.empty()) next.push_back(b_.flow.after_retries);
    return next;
  }

  // "Never a dead end": from every step the person can wait at, some path must reach a person
  // (`handoff:`) or the end of the conversation. Steps in a go-loop or that nobody reaches
  // already have their own diagnostics.
  void check_ways_out() {
    std::map<std::string, std::vector<std::string>> comes_from;
    std::vector<std::string> todo;
    for (const auto& [id, step] : b_.flow.steps) {
      for (const auto& target : next_steps(step)) comes_from[target].push_back(id);
      if (!step.handoff.empty() || step.then == Step::Then::end) todo.push_back(id);
    }
    std::set<std::string> can_leave;
    while (!todo.empty()) {
      std::string id = todo.back();
      todo.pop_back();
      if (!can_leave.insert(id).second) continue;
      for (const auto& from : comes_from[id]) todo.push_back(from);
    }
    for (const auto& [id, step] : b_.flow.steps) {
      if (step.then != Step::Then::wait || can_leave.count(id) || !reached_.count(id) ||
          looping_.count(id)) {
        continue;
      }
      diags_.error(step.where, "no-way-out",
                   "step '" + id + "' is a loop with no way out: no reply or intent from it leads "
                   "to a person (`handoff: advocate`) or to `end: true`");
    }
  }

  const Bundle& b_;
  Diagnostics& diags_;
  std::set<std::string> looping_;  // steps reported as endless go-loops
  std::set<std::string> reached_;  // steps some path reaches
  std::set<std::string> suggested_;  // steps offered as "did you mean" for a misspelt name
};

// Training takes a fraction of a second; a reload that did not touch the examples, and the
// many bundles the tests load, reuse the model trained for the same examples.
nlu::Classifier trained_for(const std::vector<nlu::Example>& examples) {
  static std::mutex mutex;
  static std::map<std::uint64_t, nlu::Classifier> cache;
  const std::uint64_t key = nlu::examples_hash(examples);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  nlu::Classifier model = nlu::Classifier::train(examples);
  // Training leaves many small freed blocks behind; give them back rather than keep the peak.
  malloc_trim(0);
  std::lock_guard<std::mutex> lock(mutex);
  if (cache.size() >= 4) cache.erase(cache.begin());
  cache.emplace(key, model);
  return model;
}

}  // namespace

std::shared_ptr<const Bundle> load_bundle(const std::string& root,
                                          const prompts::Variables& details, Diagnostics& diags) {
  namespace fs = std::filesystem;
  const std::string flows = (fs::path(root) / "flows").string();
  const std::string prompt_dir = (fs::path(root) / "prompts").string();

  auto bundle = std::make_shared<Bundle>();
  bundle->details = details;
  Diagnostics local;
  auto flow = load_flow(flows + "/hotline.yaml", local);
  auto intents = nlu::load_intents(flows + "/intents.yaml", local);
  auto examples = nlu::load_examples_dir(flows + "/examples", local);
  bundle->classifier = trained_for(examples);
  bundle->sources = load_sources(flows + "/sources.yaml", local);
  for (Lang lang : kAllLangs) {
    prompts::load_prompts(prompt_dir + "/" + std::string(lang_code(lang)) + ".yaml", lang,
                          bundle->prompts, local);
  }
  // After a YAML slip, the checks across files would list everything the unreadable file holds
  // as missing: staff see the slip alone.
  const bool unreadable = std::any_of(local.items().begin(), local.items().end(), is_yaml_syntax_error);
  if (flow && intents && !unreadable) {
    bundle->flow = std::move(*flow);
    bundle->intents = std::move(*intents);
    BundleChecker(*bundle, local).run();
  }
  diags.append(local);
  if (local.has_errors() || !flow || !intents) return nullptr;
  return bundle;
}

std::map<std::string, std::set<std::string>> answers_relying_on_sources(const Bundle& bundle) {
  std::map<std::string, std::set<std::string>> out;
  for (Lang lang : kAllLangs) {
    for (const auto& [key, prompt] : bundle.prompts.entries(lang)) {
      for (const auto& name : prompts::placeholders(prompt.sms + prompt.voice)) {
        if (name.rfind("date_", 0) == 0) out[name.substr(5)].insert(key);
      }
    }
  }
  return out;
}

Diagnostics sources_due_for_review(const Bundle& bundle, const Day& today) {
  Diagnostics diags;
  const auto relying = answers_relying_on_sources(bundle);
  for (const Source* s : due_for_review(bundle.sources, today)) {
    std::string answers;
    if (auto it = relying.find(s->id); it != relying.end()) {
      for (const auto& key : it->second) answers += (answers.empty() ? "" : ", ") + key;
    }
    diags.warning(s->where, "source-review-due",
                  "source '" + s->id + "' (" + s->outlet + ", " + s->date.iso() + ") was due for review on " +
                      s->review_by->iso() + "; check its facts still hold and set `reviewed:` and `review_by:`. " +
                      (answers.empty() ? "No answer names its date." : "Answers that rely on it: " + answers + "."));
  }
  return diags;
}

}  // namespace hotline::flow
