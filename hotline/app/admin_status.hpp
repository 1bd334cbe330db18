#pragma once
// GET /admin/status: what the running server serves and why an edit is not live, as JSON for
// `hotline status` (and for operators' own tools). Names files, versions, times and
// `hotline check`'s diagnostics; never a number, a message or a secret.
#include <nlohmann/json.hpp>
#include <string>

#include "hotline/flow/reloader.hpp"

namespace hotline::app {

/// {"flow", "root", "serving": {from_disk, version, since, reason, restart_needed: [...]},
///  "disk": {version, serving}, "last_refusal": null | {at, reason, version, current, errors, warnings}}.
/// Diagnostics are {file, line, column, code, message}, a file that exists named by its absolute
/// path (the server's working directory is not the caller's), as is `root`, the folder served.
/// Times are ISO 8601 UTC.
nlohmann::json admin_status(const flow::ReloadStatus& status, const std::string& flow_name,
                            const std::string& root);

}  // namespace hotline::app
