#pragma once
// Small helpers shared by the tests: temporary directories and the shipped bundle.
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>

#include "hotline/flow/bundle.hpp"

namespace test_support {

/// A fresh directory under the system temp dir, removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("hotline-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

  /// Writes `text` to `relative` (creating folders) and returns the full path.
  std::string write(const std::string& relative, const std::string& text) const {
    auto full = path_ / relative;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream(full, std::ios::binary) << text;
    return full.string();
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A tiny flow and its intents whose every line the tests control, so the expected
/// diagnostics and failure reports are stable (line numbers included).
inline const char* const kTinyFlow = R"(flow: tiny
start: menu
anywhere:
  emergency: emergency
  advocate: advocate
steps:
  menu:
    say: menu
    replies:
      "1": advocate
  advocate:
    say: advocate
    handoff: advocate
    go: menu
  emergency:
    say: emergency
    go: menu
)";

inline const char* const kTinyIntents = R"(intents:
  emergency:
    priority: 100
    en: [help me now]
    es: [auxilio]
  advocate:
    en: [talk to a person]
    es: [hablar con una persona]
)";

/// The flows and prompts shipped in the repository, loaded once.
inline std::shared_ptr<const hotline::flow::Bundle> shipped_bundle() {
  static auto bundle = [] {
    hotline::Diagnostics diags;
    auto b = hotline::flow::load_bundle(HOTLINE_SOURCE_DIR, {}, diags);
    if (!b) throw std::runtime_error("shipped bundle does not load:\n" + diags.to_string());
    return b;
  }();
  return bundle;
}

/// Copies the shipped flows/, prompts/ and config/ into `dir`, so a test can edit them.
inline void copy_shipped_tree(const TempDir& dir) {
  namespace fs = std::filesystem;
  for (const char* sub : {"flows", "prompts", "config"}) {
    fs::copy(fs::path(HOTLINE_SOURCE_DIR) / sub, dir.path() / sub,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }
}

}  // namespace test_support
