#pragma once
// The SQLite data folder, checked before anything is written to it, so that a folder the server
// cannot write (a bind mount owned by root, a read-only volume, a file where a folder should be)
// stops the start with one line that names the path and what to do, instead of an uncaught
// std::filesystem error or SQLite's "unable to open database file".
#include <string>

namespace hotline::app {

/// Makes the folder of the SQLite `database` (owner-only, 0700) when it does not exist, and checks
/// that this process can create files in it. Returns "" when it can (and for PostgreSQL URLs and
/// ":memory:"), else one line without a trailing newline: the path, the system's reason, and the
/// fix, e.g. "cannot write to the data folder /srv/hotline/data (Permission denied): … chown …".
std::string data_folder_problem(const std::string& database);

/// The local-mode secret kept beside the database (`<folder>/.local-secret`, 0600): read when it
/// is there (32+ characters), else made when `create` is true. "" when absent and not made
/// (`forget` must not invent a key nothing was ever stored under). Throws std::runtime_error with
/// one line naming the file when it cannot be read or written.
std::string local_secret(const std::string& database, bool create = true);

}  // namespace hotline::app
