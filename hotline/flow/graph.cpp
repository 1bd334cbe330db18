#include "hotline/flow/graph.hpp"

namespace hotline::flow {
namespace {

std::string q(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void edge(std::string& out, const std::string& from, const std::string& to, const std::string& label,
          const std::string& style = "") {
  out += "  " + q(from) + " -> " + q(to);
  std::string attrs;
  if (!label.empty()) attrs += "label=" + q(label);
  if (!style.empty()) attrs += (attrs.empty() ? "" : ", ") + style;
  if (!attrs.empty()) out += " [" + attrs + "]";
  out += ";\n";
}

}  // namespace

std::string to_dot(const Bundle& bundle) {
  const Flow& f = bundle.flow;
  std::string out = "digraph " + q(f.name) + " {\n";
  out += "  rankdir=LR;\n";
  out += "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
  out += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  \"(start)\" [shape=circle, label=\"start\", style=filled, fillcolor=\"#dddddd\"];\n";
  edge(out, "(start)", f.start, "");

  for (const auto& [id, step] : f.steps) {
    std::string label = id;
    if (!step.say.empty() && step.say != id) label += "\nsay: " + step.say;
    if (step.then == Step::Then::wait) label += "\n(waits for a reply)";
    std::string attrs = "label=" + q(label);
    if (!step.handoff.empty()) attrs += ", style=\"rounded,filled\", fillcolor=\"#c8e6c9\"";
    else if (step.then == Step::Then::end) attrs += ", shape=doubleoctagon";
    else if (step.then == Step::Then::go) attrs += ", style=\"rounded,dashed\"";
    out += "  " + q(id) + " [" + attrs + "];\n";
  }

  for (const auto& [id, step] : f.steps) {
    if (step.then == Step::Then::go) edge(out, id, step.go, "");
    for (const auto& [reply, target] : step.replies) edge(out, id, target, reply);
    for (const auto& [intent, target] : step.intents) edge(out, id, target, intent, "style=dashed");
    if (!step.otherwise.empty()) edge(out, id, step.otherwise, "otherwise", "style=dotted");
  }

  if (!f.anywhere.empty()) {
    out += "  \"(anywhere)\" [shape=note, label=\"anywhere\\n(at every question)\", style=filled, "
           "fillcolor=\"#fff3c4\"];\n";
    for (const auto& [intent, target] : f.anywhere) {
      edge(out, "(anywhere)", target, intent, "style=dashed, color=\"#8a6d00\"");
    }
  }
  if (!f.after_retries.empty()) {
    out += "  \"(not understood)\" [shape=note, label=" +
           q("not understood " + std::to_string(f.max_retries + 1) + " times") + "];\n";
    edge(out, "(not understood)", f.after_retries, "", "style=dotted");
  }
  out += "}\n";
  return out;
}

}  // namespace hotline::flow
