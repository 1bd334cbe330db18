#include "hotline/flow/graph.hpp"

#include <cstdint>
#include <cstdio>

#include "hotline/flow/sources.hpp"

namespace hotline::flow {
namespace {

// No hyphens: Graphviz writes a "-" in an SVG comment as "&#45;".
constexpr const char* kHashComment = "hotline flow hash ";
// Labels: the start of the text, a few short lines, so a box stays readable.
constexpr std::size_t kLabelChars = 70;
constexpr std::size_t kLineChars = 26;

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

/// Text for a Graphviz HTML-like label.
std::string html(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
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

bool continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// The first `limit` bytes of `text`, cut at a space (never inside a UTF-8 character), with "…".
std::string shortened(std::string text, std::size_t limit) {
  for (char& c : text) if (c == '\n') c = ' ';
  if (text.size() <= limit) return text;
  std::size_t cut = text.rfind(' ', limit);
  if (cut == std::string::npos || cut < limit / 2) {
    cut = limit;
    while (cut > 0 && continuation_byte(text[cut])) --cut;
  }
  while (cut > 0 && (text[cut - 1] == ' ' || text[cut - 1] == ',' || text[cut - 1] == ':')) --cut;
  return text.substr(0, cut) + "…";
}

/// Breaks `text` into lines of about `width` bytes at spaces.
std::string wrapped(const std::string& text, std::size_t width) {
  std::string out, line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t space = text.find(' ', start);
    if (space == std::string::npos) space = text.size();
    const std::string word = text.substr(start, space - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = space + 1;
  }
  return out + line;
}

/// A prompt as an English texter reads it: organisation details and sources' dates filled in.
std::string english(const Bundle& b, const std::string& key) {
  prompts::Variables vars = b.details;
  for (auto& [name, value] : source_dates(b.sources, Lang::en)) vars[name] = value;
  return b.prompts.render(Lang::en, key, Channel::sms, vars);
}

/// What a step says, as staff wrote it: the first line of its English text (the menu's
/// heading, an answer's first words), shortened; a silent step by its name.
std::string step_words(const Bundle& b, const Step& step) {
  std::string text = step.say.empty() ? std::string() : english(b, step.say);
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  if (text.empty()) {
    text = step.id;
    for (char& c : text) if (c == '_') c = ' ';
  }
  return shortened(text, kLabelChars);
}

/// The menu's own line for a reply ("1 Can I call the police?"), else the reply itself.
std::string reply_words(const Bundle& b, const Step& step, const std::string& reply) {
  if (!step.say.empty()) {
    const std::string text = english(b, step.say);
    std::size_t start = 0;
    while (start < text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string line = text.substr(start, end - start);
      if (line.size() > reply.size() + 1 && line.compare(0, reply.size(), reply) == 0 &&
          (line[reply.size()] == ' ' || line[reply.size()] == ':' || line[reply.size()] == '.')) {
        return shortened(line, 32);
      }
      start = end + 1;
    }
  }
  return reply;
}

/// An intent in staff's words: its `topic_<intent>` text ("whether you can call the police").
std::string intent_words(const Bundle& b, const std::string& intent) {
  const std::string topic = english(b, std::string(kTopicPrefix) + intent);
  return topic.empty() ? intent : topic;
}

std::string legend() {
  auto row = [](const std::string& shape, const std::string& meaning) {
    return "<TR><TD ALIGN=\"LEFT\">" + html(shape) + "</TD><TD ALIGN=\"LEFT\">" + html(meaning) + "</TD></TR>";
  };
  return "  \"(legend)\" [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" "
         "CELLPADDING=\"4\"><TR><TD COLSPAN=\"2\"><B>How to read this picture</B></TD></TR>" +
         row("box", "the hotline says this and waits for a reply") +
         row("dashed box", "says this and goes straight on") +
         row("green box", "hands the person to an advocate") +
         row("double-edged box", "says this and the conversation ends") +
         row("\"1 …\" on an arrow", "the menu reply that leads there") +
         row("dashed arrow", "a question asked at that step") +
         row("dotted arrow", "anything else, or not understood") +
         "</TABLE>>];\n";
}

}  // namespace

std::string flow_picture_hash(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string to_dot(const Bundle& bundle) {
  const Flow& f = bundle.flow;
  std::string body;
  body += "  rankdir=LR;\n";
  body += "  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n";
  body += "  edge [fontname=\"Helvetica\", fontsize=10];\n";
  body += "  \"(start)\" [shape=circle, label=\"start\", style=filled, fillcolor=\"#dddddd\"];\n";
  edge(body, "(start)", f.start, "");

  for (const auto& [id, step] : f.steps) {
    std::string label = wrapped(step_words(bundle, step), kLineChars);
    if (step.then == Step::Then::wait) label += "\n(waits for a reply)";
    std::string attrs = "label=" + q(label);
    if (!step.handoff.empty()) attrs += ", style=\"rounded,filled\", fillcolor=\"#c8e6c9\"";
    else if (step.then == Step::Then::end) attrs += ", shape=doubleoctagon";
    else if (step.then == Step::Then::go) attrs += ", style=\"rounded,dashed\"";
    body += "  " + q(id) + " [" + attrs + "];\n";
  }

  for (const auto& [id, step] : f.steps) {
    if (step.then == Step::Then::go) edge(body, id, step.go, "");
    for (const auto& [reply, target] : step.replies) edge(body, id, target, reply_words(bundle, step, reply));
    for (const auto& [intent, target] : step.intents) {
      edge(body, id, target, wrapped(intent_words(bundle, intent), kLineChars), "style=dashed");
    }
    if (!step.otherwise.empty()) edge(body, id, step.otherwise, "anything else", "style=dotted");
  }

  // One table instead of an arrow per question: a dozen dashed arrows from one box crossed
  // the whole picture.
  if (!f.anywhere.empty()) {
    body += "  \"(anywhere)\" [shape=plaintext, label=<<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" "
            "CELLPADDING=\"4\" BGCOLOR=\"#fff3c4\"><TR><TD COLSPAN=\"2\"><B>At any question, someone who asks "
            "about…</B></TD></TR>";
    for (const auto& [intent, target] : f.anywhere) {
      const Step* step = f.find(target);
      body += "<TR><TD ALIGN=\"LEFT\">" + html(intent_words(bundle, intent)) + "</TD><TD ALIGN=\"LEFT\">hears: " +
              html(step ? shortened(step_words(bundle, *step), 40) : target) + "</TD></TR>";
    }
    body += "</TABLE>>];\n";
  }
  if (!f.after_retries.empty()) {
    body += "  \"(not understood)\" [shape=note, label=" +
            q("not understood " + std::to_string(f.max_retries + 1) + " times") + "];\n";
    edge(body, "(not understood)", f.after_retries, "", "style=dotted");
  }
  body += legend();
  return "digraph " + q(f.name) + " {\n  comment=" + q(kHashComment + flow_picture_hash(body)) + ";\n" + body + "}\n";
}

void check_flow_picture(const Bundle& bundle, const std::string& picture_text, const std::string& picture_file,
                        Diagnostics& diags) {
  const std::string dot = to_dot(bundle);
  const auto at = dot.find(kHashComment);
  const std::string wanted = dot.substr(at, std::string(kHashComment).size() + 16);
  if (picture_text.find(wanted) != std::string::npos) return;
  diags.warning(Position{picture_file, 1, 1}, "flow-picture-outdated",
                "this picture does not show the flow as it is now (flows/ or prompts/ changed since it was "
                "drawn): draw it again with `hotline graph -o " + picture_file + "`");
}

}  // namespace hotline::flow
