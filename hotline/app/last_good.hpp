#pragma once
// The last bundle that passed `hotline check`, kept beside the database, so that a restart
// with a refused edit still on disk serves the hotline (loudly) instead of taking it down.
//
// What is kept is what staff edit and the bundle loader reads: flows/ (intents, examples,
// sources, conversation tests) and prompts/. Never the configuration, the roster or secrets:
// those are always read from where they are.
#include <string>

#include "hotline/config/config.hpp"

namespace hotline::app {

/// `<folder of the SQLite database>/last-good-bundle`; empty for PostgreSQL and ":memory:"
/// (no folder of the server's own to keep it in).
std::string last_good_folder(const config::Config& c);

/// Copies `root`'s flows/ and prompts/ into `folder`, replacing the copy there in one step:
/// written and synced in `<folder>.new`, then exchanged with the old copy by one rename, so a
/// crash leaves the old copy or the new one, never a mix. Folders 0700, files 0600.
/// Returns "" when kept, else why not (the caller logs it and serves on).
std::string keep_last_good(const std::string& root, const std::string& folder);

}  // namespace hotline::app
