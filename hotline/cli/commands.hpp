#pragma once
// The `hotline` command line: serve, simulate, check. main() only calls run().
#include <iosfwd>

namespace hotline::cli {

int run(int argc, char** argv);

}  // namespace hotline::cli
