#include "hotline/cli/bundle_root.hpp"

namespace hotline::cli {

namespace fs = std::filesystem;

std::optional<std::string> find_bundle_root(const fs::path& start) {
  std::error_code ec;
  fs::path folder = fs::absolute(start, ec).lexically_normal();
  if (ec) return std::nullopt;
  if (folder.filename().empty() && folder.has_relative_path()) folder = folder.parent_path();  // "/a/b/"
  std::string relative = ".";
  for (int up = 0;; ++up) {
    if (fs::is_directory(folder / "flows", ec) && fs::is_directory(folder / "prompts", ec)) return relative;
    if (!folder.has_relative_path()) return std::nullopt;  // reached /
    folder = folder.parent_path();
    relative = up == 0 ? ".." : relative + "/..";
  }
}

std::string no_bundle_root_message(const fs::path& start) {
  std::error_code ec;
  return "hotline: no hotline folder (one holding flows/ and prompts/) in " + fs::absolute(start, ec).string() +
         " or any folder above it. Run this from the hotline folder or a folder inside it, or name "
         "it with --root DIR.";
}

}  // namespace hotline::cli
