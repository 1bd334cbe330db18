#pragma once
// yaml-cpp marks are 0-based; staff and editors count from 1.
#include <yaml-cpp/yaml.h>

#include "hotline/common/diagnostic.hpp"

namespace hotline {

inline Position position_of(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0) return Position{file, 0, 0};
  return Position{file, mark.line + 1, mark.column + 1};
}

inline Position position_of(const std::string& file, const YAML::Node& node) {
  return position_of(file, node.Mark());
}

}  // namespace hotline

#include <optional>

namespace hotline {

/// Reads and parses a YAML file staff edit. A missing file or a syntax error becomes a
/// diagnostic (`what` names the file's role, e.g. "flow file") and nullopt.
inline std::optional<YAML::Node> load_yaml_file(const std::string& path, const std::string& what,
                                                Diagnostics& diags) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    diags.error(Position{path, 0, 0}, "missing-file", "cannot read the " + what);
  } catch (const YAML::Exception& e) {
    diags.error(position_of(path, e.mark), "yaml-syntax", e.msg);
  }
  return std::nullopt;
}

}  // namespace hotline
