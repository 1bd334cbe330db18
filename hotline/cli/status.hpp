#pragma once
// `hotline status`: asks the running server (GET /admin/status) what it serves and why an edit
// is not live, and says it in plain words, refused edits in `hotline check`'s form.
namespace hotline::cli {

/// argv[1] is "status". Exit status: 0 the server serves the files on disk; 1 it does not (an
/// edit refused, not loaded yet, or waiting for a restart); 2 it could not be asked.
int status_command(int argc, char** argv);

}  // namespace hotline::cli
