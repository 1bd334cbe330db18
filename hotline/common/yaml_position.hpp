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
