#include "hotline/cli/commands.hpp"

int main(int argc, char** argv) { return hotline::cli::run(argc, argv); }
