#pragma once
// The official `twilio` npm package as an independent oracle: runs a script in tests/npm with
// JSON on stdin and returns what it prints.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace test_support {

/// Runs `node tests/npm/<script>` with `input` on stdin and returns its stdout. Fails (never
/// skips) when the npm packages are not installed, so a CI without them goes red.
inline std::string run_node(const std::string& script, const std::string& input) {
  const std::filesystem::path npm_dir = std::filesystem::path(HOTLINE_SOURCE_DIR) / "tests" / "npm";
  if (!std::filesystem::exists(npm_dir / "node_modules" / "twilio" / "package.json")) {
    FAIL("tests/npm/node_modules is missing: run script/bootstrap (it runs `npm ci` in tests/npm)");
  }
  auto in_path = std::filesystem::temp_directory_path() /
                 ("hotline-node-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()) + ".json");
  std::ofstream(in_path, std::ios::binary) << input;
  std::string cmd = "node '" + (npm_dir / script).string() + "' < '" + in_path.string() + "'";
  std::string out;
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) {
    std::filesystem::remove(in_path);
    FAIL("popen failed for: " << cmd);
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  int status = ::pclose(pipe);
  std::filesystem::remove(in_path);
  INFO("command: " << cmd);
  REQUIRE(status == 0);
  return out;
}

}  // namespace test_support
