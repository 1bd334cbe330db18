#pragma once
// `hotline healthcheck`: the image's HEALTHCHECK. Reads the port the way `serve` does (the
// configuration file, then HOTLINE_PORT) and asks GET /healthz of the server on this machine, so
// the check follows the port wherever it is set instead of hard-coding 8080.
namespace hotline::cli {

/// argv as main() got it, argv[1] == "healthcheck". Exit status 0 when /healthz answers 200,
/// else 1 (one line on stderr says what was asked and what came back), bad usage included:
/// Docker reserves 2.
int healthcheck(int argc, char** argv);

}  // namespace hotline::cli
