#pragma once
// yaml-cpp marks are 0-based; staff and editors count from 1.
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "hotline/common/diagnostic.hpp"

namespace hotline {

inline Position position_of(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0) return Position{file, 0, 0};
  return Position{file, mark.line + 1, mark.column + 1};
}

inline Position position_of(const std::string& file, const YAML::Node& node) {
  return position_of(file, node.Mark());
}

/// A mapping key as text (what `as<std::string>()` gives), or nullopt when the key is itself a
/// list or a map: YAML allows `[a, b]: c` and `? {a: b}`, nothing staff write means one, and
/// `as<std::string>()` throws on it. That is reported at the key; the caller skips the entry.
inline std::optional<std::string> key_text(const std::string& file, const YAML::Node& key,
                                           Diagnostics& diags) {
  if (key.IsScalar() || key.IsNull()) return key.as<std::string>();
  diags.error(position_of(file, key), "complex-key",
              "a key must be a name, a number or text, not a list or a map");
  return std::nullopt;
}

}  // namespace hotline

#include <fstream>
#include <optional>
#include <sstream>

#include "hotline/common/yaml_syntax.hpp"

namespace hotline {

/// Reads and parses a YAML file staff edit. A missing file or a syntax error becomes a
/// diagnostic (`what` names the file's role, e.g. "flow file") and nullopt. A syntax error is
/// told in plain words at the line that has the slip, with what it holds up.
inline std::optional<YAML::Node> load_yaml_file(const std::string& path, const std::string& what,
                                                Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(Position{path, 0, 0}, "missing-file", "cannot read the " + what);
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    Diagnostic d = explain_yaml_error(path, text.str(), e.mark.line, e.mark.column, e.msg);
    d.message += ". Nothing else in the " + what + " is read or checked until this is fixed";
    diags.add(std::move(d));
  }
  return std::nullopt;
}

}  // namespace hotline
