#include "hotline/cli/healthcheck.hpp"

#include <chrono>
#include <iostream>
#include <string>

#include "hotline/app/servable.hpp"
#include "hotline/http/probe.hpp"

namespace hotline::cli {
namespace {

constexpr const char* kHealthcheckHelp = R"(Usage: hotline healthcheck [--root DIR] [--config FILE] [--port N] [--timeout SECONDS]

Asks the `hotline serve` on this machine for GET /healthz and exits 0 when it answers 200, 1
otherwise (saying what it asked and what came back). The port is the one `serve` would take:
--port, else HOTLINE_PORT, else server.port in the configuration (default 8080). A server bound
to 0.0.0.0 or :: is asked on 127.0.0.1 or ::1; one bound to an address, on that address.
  --root DIR          where config/ is (default .), as for `serve`
  --config FILE       configuration file (default DIR/config/hotline.yaml, or HOTLINE_CONFIG)
  --port N            ask this port instead
  --timeout SECONDS   give up after this long (default 3)
)";

// Where a server listening on `bind` can be reached from this machine.
std::string loopback_for(const std::string& bind) {
  if (bind.empty() || bind == "0.0.0.0" || bind == "*") return "127.0.0.1";
  if (bind == "::" || bind == "[::]") return "::1";
  return bind;
}

bool whole_number(const std::string& text, int min, int max, int& into) {
  try {
    std::size_t used = 0;
    const int n = std::stoi(text, &used);
    if (used != text.size() || n < min || n > max) return false;
    into = n;
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int healthcheck(int argc, char** argv) {
  std::string root = ".", config_file, port_option, timeout_option = "3";
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHealthcheckHelp;
      return 0;
    }
    std::string* into = a == "--root" ? &root : a == "--config" ? &config_file : a == "--port" ? &port_option
                        : a == "--timeout" ? &timeout_option : nullptr;
    if (!into || i + 1 >= argc) {
      std::cerr << "hotline healthcheck: " << (into ? "option " + a + " needs a value" : "unknown argument " + a)
                << " (see --help)\n";
      return 1;
    }
    *into = argv[++i];
  }
  // The same reading of file and environment as `serve`. Only what decides the address is the
  // check's business (a bad HOTLINE_PORT, a broken configuration file); a missing secret, say,
  // is `serve`'s to report.
  Diagnostics diags;
  const config::Config c = app::load_configuration({root, config_file, {}}, diags);
  bool unusable = false;
  for (const auto& d : diags.items()) {
    const bool about_address = d.where.file == c.config_file || d.message.rfind("HOTLINE_PORT", 0) == 0;
    if (d.severity == Severity::error && about_address) {
      std::cerr << format_diagnostic(d) << "\n";
      unusable = true;
    }
  }
  if (unusable) {
    std::cerr << "unhealthy: cannot tell which port to ask (see above)\n";
    return 1;
  }
  int port = c.port, timeout_s = 3;
  if (!port_option.empty() && !whole_number(port_option, 1, 65535, port)) {
    std::cerr << "hotline healthcheck: --port must be a whole number from 1 to 65535\n";
    return 1;
  }
  if (!whole_number(timeout_option, 1, 60, timeout_s)) {
    std::cerr << "hotline healthcheck: --timeout must be a whole number of seconds from 1 to 60\n";
    return 1;
  }
  const std::string host = loopback_for(c.bind);
  const std::string url = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(port) + "/healthz";
  const auto answer = http::probe(host, port, "/healthz", std::chrono::seconds(timeout_s));
  if (answer.status == 200) {
    std::cout << "healthy: " << url << " answered 200\n";
    return 0;
  }
  std::cerr << "unhealthy: " << url << " "
            << (answer.status ? "answered " + std::to_string(answer.status) : answer.error) << "\n";
  return 1;
}

}  // namespace hotline::cli
