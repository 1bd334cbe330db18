#pragma once
// Conversation tests that staff write in flows/tests/*.yaml and `hotline check` runs.
// A file is a list of tests; each test is a conversation of turns:
//
//   - test: hola gets the menu in Spanish
//     channel: sms            # sms (default) or voice
//     lang: es                # optional: the language the person already chose
//     turns:
//       - send: hola
//         expect:
//           node: menu                       # the step the conversation now waits at
//           lang: es                         # the language of the reply
//           reply_contains: Responda con un número   # text, or a list of texts
//       - send: "1"
//         expect: {intent: none, node: after_answer, reply_contains: [testigo, "911"]}
//
// Tests run the real engine on the loaded bundle, with no server and nothing stored.
#include <optional>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"
#include "hotline/flow/bundle.hpp"

namespace hotline::flowtest {

/// What one turn must produce. Unset fields are not checked.
struct Expect {
  // Texts are found as whole words, ignoring capitals, accents and punctuation ("reply 0"
  // matches "Reply 0."), as intents are matched.
  std::vector<std::string> reply_contains;  // every text must appear in the reply
  std::vector<std::string> reply_lacks;     // no text may appear in the reply
  std::optional<std::string> intent;        // "none" = nothing was understood
  std::optional<std::string> node;          // step waited at; "end" = the conversation ended
  std::optional<Lang> lang;
  std::optional<bool> handoff;    // handed to an advocate in this turn
  std::optional<bool> opted_out;  // the person opted out in this turn
  std::optional<int> max_segments;  // SMS segments of the reply, at most
  Position where;
};

struct Turn {
  std::string send;
  bool media = false;  // a picture arrived with the message
  bool waiting = false;  // the person asked for an advocate and nobody has taken it yet
  Expect expect;
  Position where;
};

struct TestCase {
  std::string name;
  Channel channel = Channel::sms;
  std::optional<Lang> lang;
  std::vector<Turn> turns;
  Position where;
};

/// A step or intent a test names, where it is written.
struct Named {
  std::string name;
  Position where;
};

struct TestFile {
  std::string path;
  std::vector<TestCase> tests;
  std::vector<Named> intents, nodes;  // checked against the bundle
};

/// Parses one test file; structural problems go to `diags` with file:line:col.
std::optional<TestFile> load_test_file(const std::string& path, Diagnostics& diags);

/// Every `*.yaml` in `dir`, in name order. A missing folder has no tests.
std::vector<TestFile> load_test_dir(const std::string& dir, Diagnostics& diags);

/// Errors for steps and intents a test names that the bundle does not have.
void check_references(const std::vector<TestFile>& files, const flow::Bundle& bundle,
                      Diagnostics& diags);

struct Summary {
  int passed = 0;
  int failed = 0;
  int broken_files = 0;  // test files not run: unreadable, or naming a step or intent that does not exist
};

/// Runs every test; each failure is an error[test-failed] at the failing turn, whose message
/// shows what was expected and what the hotline answered. `default_lang` is the language for
/// replies that nothing in the message tells (config `default_language`).
Summary run_tests(const std::vector<TestFile>& files, const flow::Bundle& bundle,
                  Lang default_lang, Diagnostics& diags);

/// Loads `<root>/flows/tests`, checks references and runs the tests: what `hotline check`
/// and a reload do after the bundle itself is valid. A broken file is reported and counted,
/// and every other file still runs.
Summary check_conversations(const std::string& root, const flow::Bundle& bundle,
                            Lang default_lang, Diagnostics& diags);

}  // namespace hotline::flowtest
