#include "hotline/common/yaml_syntax.hpp"

#include <algorithm>
#include <optional>
#include <vector>

namespace hotline {
namespace {

struct Line {
  int number = 0;          // 1-based
  int indent = 0;          // leading spaces
  std::string_view text;   // after the indentation
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  int number = 0;
  for (std::size_t start = 0; start <= text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    Line line;
    line.number = ++number;
    while (line.indent < static_cast<int>(raw.size()) && raw[line.indent] == ' ') ++line.indent;
    line.text = raw.substr(line.indent);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

bool is_blank_or_comment(const Line& line) { return line.text.empty() || line.text.front() == '#'; }

// `key: value` as staff write it: the key, and the value after ": " (or nothing after a final
// ':'). nullopt for a line that is not a field.
struct Field {
  std::string_view key;
  std::string_view value;
  int value_column = 0;  // 1-based
};

std::optional<Field> field_of(const Line& line) {
  std::string_view text = line.text;
  int offset = line.indent;
  if (text.rfind("- ", 0) == 0) {  // a list item that is itself a field: `- send: hola`
    text.remove_prefix(2);
    offset += 2;
  }
  std::size_t colon = std::string_view::npos;
  if (!text.empty() && (text.front() == '"' || text.front() == '\'')) {
    const std::size_t close = text.find(text.front(), 1);
    if (close != std::string_view::npos && close + 1 < text.size() && text[close + 1] == ':') colon = close + 1;
  } else {
    for (std::size_t i = text.find(':'); i != std::string_view::npos; i = text.find(':', i + 1)) {
      if (i + 1 == text.size() || text[i + 1] == ' ') {
        colon = i;
        break;
      }
    }
  }
  if (colon == std::string_view::npos) return std::nullopt;
  Field f;
  f.key = text.substr(0, colon);
  std::size_t value_start = colon + 1;
  while (value_start < text.size() && text[value_start] == ' ') ++value_start;
  f.value = text.substr(value_start);
  f.value_column = offset + static_cast<int>(value_start) + 1;
  return f;
}

// `replies: &menu_replies`: an anchor naming the lines below, which belong to the key as if it
// had nothing after it.
bool only_anchor(std::string_view value) {
  return !value.empty() && value.front() == '&' && value.find(' ') == std::string_view::npos;
}

bool starts_block_text(std::string_view value) {
  return !value.empty() && (value.front() == '|' || value.front() == '>');
}

// Plain text (not quoted, not a block, not a list or map written on one line).
bool is_plain_text(std::string_view value) {
  return !value.empty() && std::string_view("\"'|>[{&*!#").find(value.front()) == std::string_view::npos;
}

bool contains_colon_space(std::string_view text) {
  return text.find(": ") != std::string_view::npos || (!text.empty() && text.back() == ':');
}

// A name staff use as a key (`voice`, `call_police`, `"1"`), as opposed to words of a sentence.
bool looks_like_key(std::string_view key) {
  if (key.empty()) return false;
  if (key.front() == '"' || key.front() == '\'') return true;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Diagnostic at(const std::string& path, int line, int column, const char* code, std::string message) {
  return Diagnostic{Position{path, line, column}, Severity::error, code, std::move(message)};
}

// The last line, up to `last`, whose indentation does not fit the lines above it.
std::optional<Diagnostic> indentation_slip(const std::string& path, const std::vector<Line>& lines, int last) {
  std::optional<Diagnostic> found;
  std::vector<int> levels;           // indentations of the fields and items still open
  bool opens = true;                 // the line above expects deeper lines (`key:` or `- `)
  int block_parent = -1;             // inside `key: >-`: the key's indentation
  int block_content = -1;            // ...and its text's, once seen
  // A `key:` with nothing after it, followed by a line at its own indentation: valid YAML (an
  // empty key), but if a later line cannot be placed, this is where the lines lost their step.
  const Line* unindented = nullptr;
  int previous_indent = -1;
  auto less = [&](const Line& l) {
    return at(path, l.number, l.indent + 1, "yaml-indent",
              "line " + std::to_string(l.number) +
                  " is indented less than the text above it: line it up with the lines it belongs to");
  };
  for (const Line& line : lines) {
    if (line.number > last) break;
    if (is_blank_or_comment(line)) continue;
    if (block_parent >= 0) {
      if (block_content < 0 && line.indent > block_parent) block_content = line.indent;
      if (block_content >= 0 && line.indent >= block_content) continue;  // the text itself
      if (line.indent > block_parent) {  // between the key and its text
        found = unindented && unindented->indent < line.indent ? less(*unindented) : less(line);
        continue;
      }
      block_parent = block_content = -1;
    }
    const auto field = field_of(line);
    const bool item = line.text.rfind("- ", 0) == 0 || line.text == "-";
    if (levels.empty() || line.indent > levels.back()) {
      if (opens || levels.empty()) {
        levels.push_back(line.indent);
      } else if (field && looks_like_key(field->key)) {
        found = at(path, line.number, line.indent + 1, "yaml-indent",
                   "line " + std::to_string(line.number) +
                       " is indented more than the line above it: line it up with the fields it belongs to");
      } else {
        opens = false;
        continue;  // the text above, continued on this line
      }
    } else {
      while (!levels.empty() && levels.back() > line.indent) levels.pop_back();
      const bool placed = !levels.empty() && levels.back() == line.indent;
      if (!placed && unindented && unindented->indent < line.indent) {
        found = less(*unindented);
      } else if (!placed || (!field && !item)) {
        found = less(line);
      }
      if (unindented && line.indent <= unindented->indent) unindented = nullptr;
      if (placed && opens && previous_indent == line.indent && field) unindented = &line;
    }
    previous_indent = line.indent;
    if (item) levels.push_back(line.indent + 2);
    const bool nothing_after = field && (field->value.empty() || only_anchor(field->value));
    opens = item ? !field || nothing_after : nothing_after;
    if (field && starts_block_text(field->value)) {
      block_parent = line.indent + (item ? 2 : 0);
      block_content = -1;
    }
  }
  return found;
}

}  // namespace

bool is_yaml_syntax_error(const Diagnostic& d) {
  return std::find(std::begin(kYamlSyntaxCodes), std::end(kYamlSyntaxCodes), d.code) != std::end(kYamlSyntaxCodes);
}

Diagnostic explain_yaml_error(const std::string& path, std::string_view text, int line, int column,
                              const std::string& parser_message) {
  const std::vector<Line> lines = split_lines(text);
  const int last = line < 0 ? static_cast<int>(lines.size()) : std::min<int>(line + 1, lines.size());

  // A tab anywhere in the indentation up to where the parser stopped: YAML allows only spaces.
  for (const Line& l : lines) {
    if (l.number > last) break;
    if (!l.text.empty() && l.text.front() == '\t') {
      return at(path, l.number, l.indent + 1, "yaml-tab",
                "line " + std::to_string(l.number) + " starts with a tab: use spaces");
    }
  }

  // `say: Call us: now`: the second ": " reads as a new field.
  if (last >= 1) {
    const Line& stopped = lines[last - 1];
    const auto field = field_of(stopped);
    if (field && is_plain_text(field->value) && contains_colon_space(field->value)) {
      return at(path, stopped.number, field->value_column, "yaml-colon",
                "this text contains ': ': put it in quotes (\"…\")");
    }
    // The same, on a line that continues the text above: `sms: Call us\n  today: now`.
    if (!field || !looks_like_key(field->key)) {
      for (int n = last - 1; n >= 1; --n) {
        const Line& above = lines[n - 1];
        if (is_blank_or_comment(above)) continue;
        const auto above_field = field_of(above);
        if (above.indent < stopped.indent && above_field && is_plain_text(above_field->value) &&
            contains_colon_space(stopped.text)) {
          return at(path, above.number, above_field->value_column, "yaml-colon",
                    "this text contains ': ' (on line " + std::to_string(stopped.number) +
                        "): put it in quotes (\"…\")");
        }
        if (above_field || above.indent < stopped.indent) break;  // only continued text goes on up
      }
    }
  }

  // `replies: *menu_replies` with no `&menu_replies` above it in the file.
  if (parser_message.find("referenced anchor is not defined") != std::string::npos && line >= 0) {
    return at(path, line + 1, column + 1, "yaml-syntax",
              "this `*name` refers to an anchor `&name` that is not defined above it in this file: "
              "check the spelling of both, or write the lines out in full");
  }

  if (auto slip = indentation_slip(path, lines, last)) return *slip;

  const int shown_line = line < 0 ? 0 : line + 1;
  return at(path, shown_line, shown_line ? column + 1 : 0, "yaml-syntax",
            "the file cannot be read from here (the YAML reader says \"" + parser_message +
                "\"): check the indentation and the quotes on this line and the lines just above");
}

}  // namespace hotline
