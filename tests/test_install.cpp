// The command and the folder (#18.6): `hotline` installed on the PATH with `cmake --install`,
// and every command finding the hotline folder (the one holding flows/ and prompts/) from any
// folder inside it, or saying which folder to run from. Real processes, real folders.
#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include "process.hpp"

using namespace test_support;
namespace fs = std::filesystem;

namespace {

const std::string kHotline = HOTLINE_BINARY;

/// `command` run by the shell in `folder` with this PATH, as staff type it in a terminal.
RunResult shell_in(const fs::path& folder, const std::string& command, const std::string& path,
                   const std::string& input = "") {
  return run({"/bin/sh", "-c", "cd '" + folder.string() + "' && " + command}, input,
             {"PATH=" + path, "HOTLINE_ADMIN_TOKEN="});
}

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  return last;
}

std::string no_folder_message(const fs::path& folder) {
  return "hotline: no hotline folder (one holding flows/ and prompts/) in " + folder.string() +
         " or any folder above it. Run this from the hotline folder or a folder inside it, or name it with "
         "--root DIR.";
}

}  // namespace

TEST_CASE("cmake --install puts hotline on the PATH, and `hotline check` works from inside flows/") {
  TempDir prefix, copy;
  auto installed = run({HOTLINE_CMAKE, "--install", HOTLINE_BUILD_DIR, "--prefix", prefix.str(), "--component", "hotline"});
  INFO(installed.out << installed.err);
  REQUIRE(installed.exit_code == 0);
  REQUIRE(fs::is_regular_file(prefix.path() / "bin" / "hotline"));
  const std::string path = (prefix.path() / "bin").string() + ":/usr/bin:/bin";

  copy_shipped_tree(copy);
  const fs::path flows = copy.path() / "flows";
  auto help = shell_in(flows, "hotline --help", path);
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::StartsWith("hotline: a bilingual SMS and voice hotline backend for Twilio\n"));
  CHECK_THAT(shell_in(flows, "command -v hotline", path).out, Catch::Equals((prefix.path() / "bin" / "hotline").string() + "\n"));

  // From flows/ (the folder staff edit in), the same verdict as from the root.
  auto here = shell_in(flows, "hotline check", path);
  auto from_root = shell_in(copy.path(), "hotline check", path);
  CHECK(here.exit_code == 0);
  CHECK_THAT(last_line(here.out), Catch::StartsWith("0 error(s), "));
  CHECK(last_line(here.out) == last_line(from_root.out));
  CHECK_THAT(here.err, !Catch::Contains("cannot read"));

  // simulate from prompts/ answers with this copy's flows.
  auto simulated = shell_in(copy.path() / "prompts", "hotline simulate --lang en", path, "hello\n");
  CHECK(simulated.exit_code == 0);
  CHECK_THAT(simulated.out, Catch::StartsWith("Simulating text messages (SMS) in English.") &&
                                Catch::Contains("Reply with a number"));

  // A broken edit, checked two folders down: the file named as it opens from there.
  {
    std::string flow = read_file((flows / "hotline.yaml").string());
    const auto at = flow.find("    go: police_discretion\n");
    REQUIRE(at != std::string::npos);
    flow.replace(at, 26, "    go: police_discretoin\n");
    copy.write("flows/hotline.yaml", flow);
  }
  auto broken = shell_in(flows / "examples", "hotline check", path);
  CHECK(broken.exit_code == 1);
  CHECK_THAT(broken.out, Catch::StartsWith("../../flows/hotline.yaml:") && Catch::Contains(": error[") &&
                             Catch::Contains("police_discretoin"));

}

TEST_CASE("outside any hotline folder, each command says which folder to run it from") {
  TempDir elsewhere;
  const std::string path = fs::path(kHotline).parent_path().string() + ":/usr/bin:/bin";
  for (const char* command : {"hotline check", "hotline simulate", "hotline graph", "hotline eval", "hotline serve",
                              "hotline forget +14145550123"}) {
    INFO(command);
    auto r = shell_in(elsewhere.path(), command, path, "hola\n");
    CHECK(r.exit_code == 2);
    CHECK(r.err == no_folder_message(elsewhere.path()) + "\n");
    CHECK(r.out.empty());
  }
  auto status = shell_in(elsewhere.path(), "hotline status", path);
  CHECK(status.exit_code == 2);
  CHECK(status.err == no_folder_message(elsewhere.path()) + " (Or name the server with --url http://127.0.0.1:PORT.)\n");
}

TEST_CASE("--root and check's DIR still name the folder, wherever the command runs") {
  TempDir good, broken;
  copy_shipped_tree(good);
  copy_shipped_tree(broken);
  broken.write("prompts/en.yaml", read_file((broken.path() / "prompts/en.yaml").string()) + "broken: [unclosed\n");
  const std::string path = fs::path(kHotline).parent_path().string() + ":/usr/bin:/bin";
  // Standing in the good copy, naming the broken one: the broken one is checked.
  auto named = shell_in(good.path() / "flows", "hotline check '" + broken.str() + "'", path);
  CHECK(named.exit_code == 1);
  CHECK_THAT(named.out, Catch::StartsWith(broken.str() + "/prompts/en.yaml:"));
  auto by_option = shell_in(good.path() / "flows", "hotline check --root '" + broken.str() + "'", path);
  CHECK(by_option.exit_code == 1);
  CHECK(by_option.out == named.out);
  // And the good copy, found from inside it, passes.
  CHECK(shell_in(good.path() / "flows", "hotline check", path).exit_code == 0);
}
