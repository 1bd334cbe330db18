#include <exception>
#include <iostream>

#include "hotline/cli/commands.hpp"

// Every command reports its own errors; this is the last resort, so that nothing an operator
// meets at start-up is an "uncaught exception" abort with a core dump instead of one line.
int main(int argc, char** argv) {
  try {
    return hotline::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hotline: " << e.what() << "\n";
    return 1;
  }
}
