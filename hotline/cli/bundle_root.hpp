#pragma once
// Which folder a command works on when it is not told (--root, or check's and graph's DIR):
// the bundle's root, the folder holding flows/ and prompts/, found from the working directory
// up, so `hotline check` works the same from flows/ or prompts/examples/ as from the root.
#include <filesystem>
#include <optional>
#include <string>

namespace hotline::cli {

/// `start` itself when it holds flows/ and prompts/, else the nearest folder above it that
/// does, written relative to `start` ("." , "..", "../.."), so paths in diagnostics stay short
/// and open from where staff stand. nullopt when no folder up to / holds both.
std::optional<std::string> find_bundle_root(const std::filesystem::path& start);

/// What to tell staff when find_bundle_root finds nothing from `start`.
std::string no_bundle_root_message(const std::filesystem::path& start);

}  // namespace hotline::cli
