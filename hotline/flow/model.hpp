#pragma once
// A conversation flow as staff write it in flows/hotline.yaml. Immutable once loaded.
//
//   flow: hotline
//   start: menu
//   anywhere:              # intents that work at every question
//     emergency: emergency
//     advocate: advocate
//   steps:
//     menu:
//       say: menu          # prompt key (prompts/en.yaml, prompts/es.yaml)
//       replies:           # wait for the person's answer: what they send -> next step
//         "1": call_police
//     call_police:
//       say: call_police
//       go: more           # continue at once
//     advocate:
//       say: advocate_connecting
//       handoff: advocate  # hand the conversation to a person
//       go: more
//     goodbye:
//       say: goodbye
//       end: true
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"

namespace hotline::flow {

/// A step does (optionally) say something, (optionally) hands off to a person, and then
/// exactly one of: waits for a reply, goes on to another step, or ends the conversation.
struct Step {
  enum class Then { wait, go, end };

  std::string id;
  std::string say;      // prompt key, empty = silent
  Position say_where;
  std::string handoff;  // "" or "advocate"
  Then then = Then::wait;
  std::string go;                                       // with Then::go
  std::vector<std::pair<std::string, std::string>> replies;  // folded reply -> step, in file order
  std::map<std::string, std::string> intents;           // intent -> step, overrides `anywhere`
  std::string otherwise;                                // step for anything unrecognised
  Position where;
};

/// Every place a step is named, so a typo can be reported where it was written.
struct StepReference {
  std::string target;
  Position where;
};

struct Flow {
  std::string name;
  std::string start;
  std::map<std::string, std::string> anywhere;  // intent -> step
  std::map<std::string, Step> steps;
  int max_retries = 2;             // unrecognised replies re-asked before `after_retries`
  std::string after_retries;       // step that offers a person when re-asking did not help
  std::string not_understood = "not_understood";  // prompt key said before re-asking
  std::vector<StepReference> references;
  std::string file;
  Position where;

  const Step* find(const std::string& id) const {
    auto it = steps.find(id);
    return it == steps.end() ? nullptr : &it->second;
  }
};

/// Parses a flow file. Structural problems (YAML, fields, types) go to `diags`, and whatever
/// could be read is still returned (nullopt only when the file is unreadable or not YAML), so
/// references to steps, prompts and intents can be checked in the same run by the bundle.
std::optional<Flow> load_flow(const std::string& path, Diagnostics& diags);

}  // namespace hotline::flow
