#include "hotline/flowtest/flowtest.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "hotline/common/yaml_position.hpp"
#include "hotline/engine/engine.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/prompts/segments.hpp"

namespace hotline::flowtest {
namespace {

class Parser {
 public:
  Parser(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  TestFile parse(const YAML::Node& root) {
    TestFile out;
    out_ = &out;
    out.path = file_;
    if (root.IsNull()) return out;
    if (!root.IsSequence()) {
      error(root, "tests-not-list", "a test file is a list of tests, each starting with `- test:`");
      return out;
    }
    for (const auto& node : root) {
      if (auto t = parse_test(node)) out.tests.push_back(std::move(*t));
    }
    return out;
  }

 private:
  std::optional<TestCase> parse_test(const YAML::Node& node) {
    TestCase t;
    t.where = position_of(file_, node);
    if (!node.IsMap()) {
      error(node, "expected-map", "each test has `test:` (its name) and `turns:`");
      return std::nullopt;
    }
    for (const auto& field : node) {
      const auto key = key_text(file_, field.first, diags_);
      if (!key) continue;
      const std::string& name = *key;
      const YAML::Node& v = field.second;
      if (name == "test") {
        t.name = text(v, "test");
      } else if (name == "channel") {
        std::string c = text(v, "channel");
        if (c == "sms") t.channel = Channel::sms;
        else if (c == "voice") t.channel = Channel::voice;
        else if (!c.empty()) error(v, "unknown-channel", "`channel` must be sms or voice, not '" + c + "'");
      } else if (name == "lang") {
        t.lang = lang(v);
      } else if (name == "turns") {
        if (!v.IsSequence() || v.size() == 0) {
          error(v, "expected-list", "`turns` must be a list of `- send:` lines");
          continue;
        }
        for (const auto& turn : v) {
          if (auto parsed = parse_turn(turn)) t.turns.push_back(std::move(*parsed));
        }
      } else {
        unknown(field.first, "a test", "test, channel, lang or turns");
      }
    }
    if (!node["test"]) error(node, "missing-field", "the test has no `test:` (its name)");
    if (!node["turns"]) error(node, "missing-field", "test '" + t.name + "' has no `turns:`");
    return t;
  }

  std::optional<Turn> parse_turn(const YAML::Node& node) {
    Turn turn;
    turn.where = position_of(file_, node);
    if (!node.IsMap()) {
      error(node, "expected-map", "each turn is `- send: what the person writes` and `expect:`");
      return std::nullopt;
    }
    for (const auto& field : node) {
      const auto key = key_text(file_, field.first, diags_);
      if (!key) continue;
      const std::string& name = *key;
      const YAML::Node& v = field.second;
      if (name == "send") {
        if (!v.IsScalar()) error(v, "expected-text", "`send` must be the text the person sends");
        else turn.send = v.Scalar();
      } else if (name == "media") {
        turn.media = boolean(v, "media");
      } else if (name == "waiting") {
        turn.waiting = boolean(v, "waiting");
      } else if (name == "expect") {
        parse_expect(v, turn.expect);
      } else {
        unknown(field.first, "a turn", "send, media, waiting or expect");
      }
    }
    if (!node["send"] && !turn.media) error(node, "missing-field", "the turn has no `send:`");
    return turn;
  }

  void parse_expect(const YAML::Node& node, Expect& e) {
    e.where = position_of(file_, node);
    if (!node.IsMap()) {
      error(node, "expected-map", "`expect` lists what the reply must be, e.g. `node: menu`");
      return;
    }
    for (const auto& field : node) {
      const auto key = key_text(file_, field.first, diags_);
      if (!key) continue;
      const std::string& name = *key;
      const YAML::Node& v = field.second;
      if (name == "reply_contains") {
        e.reply_contains = texts(v, name);
      } else if (name == "reply_lacks") {
        e.reply_lacks = texts(v, name);
      } else if (name == "intent") {
        e.intent = text(v, name);
        out_->intents.push_back({*e.intent, position_of(file_, v)});
      } else if (name == "node") {
        e.node = text(v, name);
        out_->nodes.push_back({*e.node, position_of(file_, v)});
      } else if (name == "lang") {
        e.lang = lang(v);
      } else if (name == "handoff") {
        e.handoff = boolean(v, name);
      } else if (name == "opted_out") {
        e.opted_out = boolean(v, name);
      } else if (name == "max_segments") {
        try {
          int n = v.as<int>();
          if (n < 1 || n > 10) throw YAML::Exception(v.Mark(), "range");
          e.max_segments = n;
        } catch (const YAML::Exception&) {
          error(v, "expected-number", "`max_segments` must be a whole number from 1 to 10");
        }
      } else {
        unknown(field.first, "`expect`",
                "reply_contains, reply_lacks, intent, node, lang, handoff, opted_out or max_segments");
      }
    }
  }

  std::string text(const YAML::Node& v, const std::string& what) {
    if (!v.IsScalar() || v.Scalar().empty()) {
      error(v, "expected-text", "`" + what + "` must be a single text");
      return {};
    }
    return v.Scalar();
  }

  std::vector<std::string> texts(const YAML::Node& v, const std::string& what) {
    std::vector<std::string> out;
    if (v.IsScalar()) {
      out.push_back(text(v, what));
    } else if (v.IsSequence()) {
      for (const auto& item : v) out.push_back(text(item, what));
    } else {
      error(v, "expected-text", "`" + what + "` must be a text or a list of texts");
    }
    out.erase(std::remove(out.begin(), out.end(), std::string{}), out.end());
    return out;
  }

  std::optional<Lang> lang(const YAML::Node& v) {
    std::string code = v.IsScalar() ? v.Scalar() : std::string{};
    auto l = lang_from_code(code);
    if (!l) error(v, "unknown-language", "`lang` must be en or es");
    return l;
  }

  bool boolean(const YAML::Node& v, const std::string& what) {
    if (v.IsScalar()) {
      if (v.Scalar() == "true") return true;
      if (v.Scalar() == "false") return false;
    }
    error(v, "expected-true-false", "`" + what + "` must be true or false");
    return false;
  }

  void unknown(const YAML::Node& key, const std::string& where, const std::string& expected) {
    error(key, "unknown-field",
          "unknown field '" + (key.IsScalar() ? key.Scalar() : std::string()) + "' in " + where +
              "; expected " + expected);
  }

  void error(const YAML::Node& node, std::string code, std::string message) {
    diags_.error(position_of(file_, node), std::move(code), std::move(message));
  }

  TestFile* out_ = nullptr;
  std::string file_;
  Diagnostics& diags_;
};

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

std::string show_reply(const std::string& reply) {
  if (reply.empty()) return "      (no reply)\n";
  std::string out, line;
  for (std::size_t i = 0; i <= reply.size(); ++i) {
    if (i == reply.size() || reply[i] == '\n') {
      out += (line.empty() ? "      |" : "      | " + line) + "\n";
      line.clear();
    } else {
      line += reply[i];
    }
  }
  return out;
}

// What went differently from `expect`, one block of lines per field; empty when all is well.
std::string compare(const Expect& e, const engine::Outcome& o, const std::string& reply) {
  std::string diff;
  auto field = [&](const std::string& name, const std::string& expected, const std::string& got) {
    diff += "    " + name + ": expected " + expected + ", got " + got + "\n";
  };
  if (e.node) {
    const std::string got = o.step.empty() ? "end" : o.step;
    if (*e.node != got) field("node", *e.node, got);
  }
  if (e.intent) {
    const std::string got = o.intent.empty() ? "none" : o.intent;
    if (*e.intent != got) field("intent", *e.intent, got);
  }
  if (e.lang && *e.lang != o.lang) {
    field("lang", std::string(lang_code(*e.lang)), std::string(lang_code(o.lang)));
  }
  auto has_event = [&](auto tag) {
    for (const auto& ev : o.events) {
      if (std::holds_alternative<decltype(tag)>(ev)) return true;
    }
    return false;
  };
  auto yes_no = [](bool b) { return std::string(b ? "true" : "false"); };
  if (e.handoff && *e.handoff != has_event(engine::Handoff{})) {
    field("handoff", yes_no(*e.handoff), yes_no(!*e.handoff));
  }
  if (e.opted_out && *e.opted_out != has_event(engine::OptOut{})) {
    field("opted_out", yes_no(*e.opted_out), yes_no(!*e.opted_out));
  }
  if (e.max_segments) {
    // Per text message: a reply too long for one goes out as two (engine::message_texts).
    int segments = 0;
    for (const auto& m : engine::message_texts(o)) segments = std::max(segments, prompts::count_segments(m).segments);
    if (segments > *e.max_segments) {
      field("max_segments", "at most " + std::to_string(*e.max_segments),
            std::to_string(segments) + " segments");
    }
  }
  // Matched the way intents are: capitals, accents and punctuation do not matter, so a test
  // does not break when staff fix a typo or a capital letter.
  const std::string folded = " " + nlu::fold(reply) + " ";
  auto contains = [&](const std::string& text) {
    return folded.find(" " + nlu::fold(text) + " ") != std::string::npos;
  };
  bool show = false;
  for (const auto& want : e.reply_contains) {
    if (!contains(want)) {
      diff += "    reply: expected to contain " + quoted(want) + "\n";
      show = true;
    }
  }
  for (const auto& unwanted : e.reply_lacks) {
    if (contains(unwanted)) {
      diff += "    reply: expected not to contain " + quoted(unwanted) + "\n";
      show = true;
    }
  }
  if (show) diff += "    the reply was:\n" + show_reply(reply);
  return diff;
}

}  // namespace

std::optional<TestFile> load_test_file(const std::string& path, Diagnostics& diags) {
  auto loaded = load_yaml_file(path, "test file", diags);
  if (!loaded) return std::nullopt;
  const YAML::Node& root = *loaded;
  Diagnostics local;
  TestFile file = Parser(path, local).parse(root);
  diags.append(local);
  if (local.has_errors()) return std::nullopt;
  return file;
}

namespace {

// Every `*.yaml` in `dir`, in name order. A missing folder has none.
std::vector<std::string> test_file_paths(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return {};
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const auto ext = entry.path().extension();
    if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

std::vector<TestFile> load_test_dir(const std::string& dir, Diagnostics& diags) {
  std::vector<TestFile> files;
  for (const auto& path : test_file_paths(dir)) {
    if (auto f = load_test_file(path, diags)) files.push_back(std::move(*f));
  }
  return files;
}

void check_references(const std::vector<TestFile>& files, const flow::Bundle& bundle,
                      Diagnostics& diags) {
  for (const auto& file : files) {
    for (const auto& node : file.nodes) {
      if (node.name != "end" && !bundle.flow.find(node.name)) {
        diags.error(node.where, "unknown-step",
                    "there is no step named '" + node.name + "' (use `end` for a conversation that ended)");
      }
    }
    for (const auto& intent : file.intents) {
      if (intent.name != "none" && !bundle.intents.has(intent.name)) {
        diags.error(intent.where, "unknown-intent",
                    "intent '" + intent.name + "' is not defined in flows/intents.yaml (use `none` for "
                    "a message nothing matches)");
      }
    }
  }
}

Summary run_tests(const std::vector<TestFile>& files, const flow::Bundle& bundle,
                  Lang default_lang, Diagnostics& diags) {
  Summary summary;
  for (const auto& file : files) {
    for (const auto& test : file.tests) {
      engine::Session session;
      session.lang = test.lang;
      bool ok = true;
      for (std::size_t i = 0; i < test.turns.size() && ok; ++i) {
        const Turn& turn = test.turns[i];
        engine::Input input{turn.send, test.channel, turn.media, false};
        input.awaiting_advocate = turn.waiting;
        engine::Outcome outcome = engine::step(bundle, session, input, {default_lang});
        const std::string reply = engine::spoken_text(outcome);
        std::string diff = compare(turn.expect, outcome, reply);
        if (!diff.empty()) {
          ok = false;
          diags.error(turn.where, "test-failed",
                      "test '" + test.name + "', turn " + std::to_string(i + 1) + " of " +
                          std::to_string(test.turns.size()) + " (" + std::string(channel_name(test.channel)) +
                          ", send " + quoted(turn.send) + "):\n" + diff.substr(0, diff.size() - 1));
        }
        session = outcome.session;
        if (outcome.step.empty()) {  // ended: the next message starts afresh, same language
          engine::Session fresh;
          fresh.lang = session.lang;
          session = fresh;
        }
      }
      ok ? ++summary.passed : ++summary.failed;
    }
  }
  return summary;
}

Summary check_conversations(const std::string& root, const flow::Bundle& bundle,
                            Lang default_lang, Diagnostics& diags) {
  Summary summary;
  std::vector<TestFile> runnable;
  // File by file: one broken file is reported, and the others still run.
  for (const auto& path : test_file_paths((std::filesystem::path(root) / "flows" / "tests").string())) {
    Diagnostics file_diags;
    auto file = load_test_file(path, file_diags);
    if (file) check_references({*file}, bundle, file_diags);
    if (file && !file_diags.has_errors()) runnable.push_back(std::move(*file));
    else ++summary.broken_files;
    diags.append(file_diags);
  }
  const Summary ran = run_tests(runnable, bundle, default_lang, diags);
  summary.passed = ran.passed;
  summary.failed = ran.failed;
  return summary;
}

}  // namespace hotline::flowtest
