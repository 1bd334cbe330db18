#include <yaml-cpp/yaml.h>

#include "hotline/common/yaml_position.hpp"
#include "hotline/flow/model.hpp"
#include "hotline/nlu/nlu.hpp"

namespace hotline::flow {
namespace {

class FlowParser {
 public:
  FlowParser(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  std::optional<Flow> parse(const YAML::Node& root) {
    Flow flow;
    flow.file = file_;
    flow.where = position_of(file_, root);
    if (!root.IsMap()) {
      error(root, "flow-not-map", "a flow file starts with `flow:`, `start:` and `steps:`");
      return std::nullopt;
    }
    for (const auto& field : root) {
      const auto key = key_text(file_, field.first, diags_);
      if (!key) continue;
      const std::string& name = *key;
      const YAML::Node& value = field.second;
      if (name == "flow") {
        flow.name = scalar(value, "flow");
      } else if (name == "start") {
        flow.start = step_name(value, "start");
      } else if (name == "anywhere") {
        flow.anywhere = step_map(value, "anywhere");
      } else if (name == "max_retries") {
        flow.max_retries = small_number(value, "max_retries");
      } else if (name == "after_retries") {
        flow.after_retries = step_name(value, "after_retries");
      } else if (name == "not_understood") {
        flow.not_understood = scalar(value, "not_understood");
      } else if (name == "steps") {
        parse_steps(value, flow);
      } else {
        error(field.first, "unknown-field",
              "unknown field '" + name +
                  "' in the flow; expected flow, start, anywhere, steps, max_retries, "
                  "after_retries or not_understood");
      }
    }
    for (const char* required : {"flow", "start", "steps"}) {
      if (!root[required]) {
        error(root, "missing-field", std::string("the flow has no `") + required + ":`");
      }
    }
    // A flow with mistakes is still returned, so the bundle can check prompts and references
    // in the same run; the caller refuses to serve it because of the errors.
    flow.references = std::move(references_);
    return flow;
  }

 private:
  void error(const YAML::Node& node, std::string code, std::string message) {
    diags_.error(position_of(file_, node), std::move(code), std::move(message));
  }

  // A scalar that names a step: remembered with its position for the reference check.
  std::string step_name(const YAML::Node& node, const std::string& what) {
    std::string name = scalar(node, what);
    if (!name.empty()) references_.push_back({name, position_of(file_, node)});
    return name;
  }

  std::string scalar(const YAML::Node& node, const std::string& what) {
    if (!node.IsScalar() || node.Scalar().empty()) {
      error(node, "expected-text", "`" + what + "` must be a single name");
      return {};
    }
    return node.Scalar();
  }

  int small_number(const YAML::Node& node, const std::string& what) {
    int n = -1;
    if (node.IsScalar()) {
      try {
        n = node.as<int>();
      } catch (const YAML::Exception&) {
      }
    }
    if (n < 0 || n > 10) {
      error(node, "expected-number", "`" + what + "` must be a whole number from 0 to 10");
      return 0;
    }
    return n;
  }

  std::map<std::string, std::string> step_map(const YAML::Node& node, const std::string& what) {
    std::map<std::string, std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsMap()) {
      error(node, "expected-map", "`" + what + "` must be a list of `name: step` lines");
      return out;
    }
    for (const auto& entry : node) {
      if (auto name = key_text(file_, entry.first, diags_)) {
        out[*name] = step_name(entry.second, what + "." + *name);
      }
    }
    return out;
  }

  void parse_steps(const YAML::Node& node, Flow& flow) {
    if (!node.IsMap()) {
      error(node, "expected-map", "`steps` must be a list of named steps");
      return;
    }
    for (const auto& entry : node) {
      const auto key = key_text(file_, entry.first, diags_);
      if (!key) continue;
      const std::string& id = *key;
      if (flow.steps.count(id)) {
        error(entry.first, "duplicate-step", "step '" + id + "' is defined twice");
        continue;
      }
      if (auto step = parse_step(id, entry.first, entry.second)) flow.steps[id] = std::move(*step);
    }
  }

  std::optional<Step> parse_step(const std::string& id, const YAML::Node& key,
                                 const YAML::Node& node) {
    Step step;
    step.id = id;
    step.where = position_of(file_, key);
    if (!node.IsMap()) {
      error(node, "expected-map", "step '" + id + "' must have fields such as `say:` and `go:`");
      return std::nullopt;
    }
    int endings = 0;
    for (const auto& field : node) {
      const auto key = key_text(file_, field.first, diags_);
      if (!key) continue;
      const std::string& name = *key;
      const YAML::Node& value = field.second;
      if (name == "say") {
        step.say = scalar(value, id + ".say");
        step.say_where = position_of(file_, value);
      } else if (name == "handoff") {
        step.handoff = scalar(value, id + ".handoff");
        if (!step.handoff.empty() && step.handoff != "advocate") {
          error(value, "unknown-handoff",
                "step '" + id + "' hands off to '" + step.handoff + "'; the only handoff is advocate");
        }
      } else if (name == "go") {
        step.then = Step::Then::go;
        step.go = step_name(value, id + ".go");
        ++endings;
      } else if (name == "end") {
        if (!value.IsScalar() || value.Scalar() != "true") {
          error(value, "expected-true", "`end` can only be `true`");
        }
        step.then = Step::Then::end;
        ++endings;
      } else if (name == "replies") {
        step.then = Step::Then::wait;
        parse_replies(id, value, step);
        ++endings;
      } else if (name == "intents") {
        step.intents = step_map(value, id + ".intents");
      } else if (name == "otherwise") {
        step.otherwise = step_name(value, id + ".otherwise");
      } else {
        error(field.first, "unknown-field",
              "unknown field '" + name + "' in step '" + id +
                  "'; expected say, replies, intents, otherwise, go, handoff or end");
      }
    }
    if (endings == 0) {
      error(key, "missing-next",
            "step '" + id + "' must end with `replies:` (wait), `go:` (continue) or `end: true`");
    } else if (endings > 1) {
      error(key, "conflicting-next",
            "step '" + id + "' has more than one of `replies:`, `go:` and `end:`");
    }
    if (step.then != Step::Then::wait && (!step.intents.empty() || !step.otherwise.empty())) {
      error(key, "intents-without-replies",
            "step '" + id + "' has `intents:` or `otherwise:` but does not wait for a reply");
    }
    return step;
  }

  void parse_replies(const std::string& id, const YAML::Node& node, Step& step) {
    if (node.IsNull()) return;  // waits, and only `anywhere` intents apply
    if (!node.IsMap()) {
      error(node, "expected-map", "`replies` of step '" + id + "' must be `\"1\": step` lines");
      return;
    }
    for (const auto& entry : node) {
      // Replies are matched the way people type them: case and accents do not matter.
      const auto key = key_text(file_, entry.first, diags_);
      if (!key) continue;
      std::string reply = nlu::fold(*key);
      if (reply.empty()) {
        error(entry.first, "empty-reply", "a reply of step '" + id + "' is empty");
        continue;
      }
      step.replies.emplace_back(reply, step_name(entry.second, id + ".replies." + reply));
    }
  }

  std::string file_;
  Diagnostics& diags_;
  std::vector<StepReference> references_;
};

}  // namespace

std::optional<Flow> load_flow(const std::string& path, Diagnostics& diags) {
  auto loaded = load_yaml_file(path, "flow file", diags);
  if (!loaded) return std::nullopt;
  const YAML::Node& root = *loaded;
  Diagnostics local;
  auto flow = FlowParser(path, local).parse(root);
  diags.append(local);
  return flow;
}

}  // namespace hotline::flow
