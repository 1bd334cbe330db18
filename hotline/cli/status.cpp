#include "hotline/cli/status.hpp"

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "hotline/app/servable.hpp"
#include "hotline/cli/bundle_root.hpp"
#include "hotline/common/diagnostic.hpp"
#include "hotline/http/client.hpp"

namespace hotline::cli {
namespace {

constexpr const char* kStatusHelp = R"(Usage: hotline status [--url URL] [--root DIR]

Asks the running server what it serves: the version of the flows and prompts in service and
since when, whether the files on disk are that version, and, when they are not, why: the last
refused edit's problems as file:line:col: error[code]: message (as `hotline check` says them),
an edit not loaded yet, or a configuration edit that waits for a restart.
  --url URL    the server, e.g. http://127.0.0.1:8080 (default: this machine, at HOTLINE_PORT,
               else the port in DIR/config/hotline.yaml or HOTLINE_CONFIG, else 8080)
  --root DIR   the hotline folder (default: found from the current folder up)
Sends HOTLINE_ADMIN_TOKEN as a Bearer token when it is set (the server needs it then).
Exit status: 0 the files on disk are serving; 1 they are not; 2 the server could not be asked.
)";

// Where `serve` listens, as it would read its configuration from `root`.
std::string default_url(const std::string& root) {
  Diagnostics ignored;  // `hotline check` reports problems; here only the address matters
  const config::Config c = app::load_configuration({root, "", {}}, ignored);
  std::string host = c.bind;
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";  // every address: ask this one
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(c.port);
}

// Files are named as `hotline check` names them from here: under the hotline folder found from
// the working directory (`local_root`, e.g. ".."), when the server serves that same folder;
// otherwise by the absolute path the server gives.
struct PathsFromHere {
  std::string server_root;  // absolute, from the server
  std::string local_root;   // as find_bundle_root wrote it; "" when none was found

  std::string operator()(const std::string& file) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (local_root.empty() || server_root.empty() || !fs::equivalent(local_root, server_root, ec)) return file;
    const fs::path under = fs::path(file).lexically_relative(server_root);
    if (under.empty() || *under.begin() == "..") return file;
    return (fs::path(local_root) / under).string();
  }
};

Diagnostic diagnostic_from(const nlohmann::json& j, Severity severity, const PathsFromHere& paths) {
  return {{paths(j.value("file", "")), j.value("line", 0), j.value("column", 0)}, severity, j.value("code", ""),
          j.value("message", "")};
}

std::string time_of(const nlohmann::json& iso) {
  // 2026-12-05T04:40:12Z → 2026-12-05 04:40:12 UTC: easier to read, still unambiguous.
  std::string t = iso.is_string() ? iso.get<std::string>() : "";
  if (t.size() == 20 && t[10] == 'T' && t.back() == 'Z') t = t.substr(0, 10) + " " + t.substr(11, 8) + " UTC";
  return t;
}

// Why a bundle was loaded, as a person would say it.
std::string because(const std::string& reason) {
  if (reason == "start") return "when the server started";
  if (reason == "files changed") return "after an edit";
  if (reason == "SIGHUP") return "on SIGHUP";
  if (reason == "admin request") return "on POST /admin/reload";
  return reason;
}

// The server's answer, in plain words; returns the exit status.
int describe(const nlohmann::json& s, const std::string& local_root, std::ostream& out) {
  const PathsFromHere paths{s.value("root", ""), local_root};
  const auto& serving = s.at("serving");
  const auto& disk = s.at("disk");
  const auto& refusal = s.at("last_refusal");
  const bool from_disk = serving.value("from_disk", true);
  const std::string serving_version = serving.value("version", "");
  const std::string disk_version = disk.value("version", "");
  if (from_disk) {
    out << "serving: flow '" << s.value("flow", "") << "', version " << serving_version << ", since "
        << time_of(serving.at("since")) << " (loaded " << because(serving.value("reason", "")) << ")\n";
  } else {
    out << "serving: flow '" << s.value("flow", "") << "' from the last good copy kept beside the database, since "
        << time_of(serving.at("since")) << ": the files on disk did not pass when the server started\n";
  }
  int status = 0;
  const bool refused_now = refusal.is_object() && refusal.value("current", false);
  if (disk.value("serving", false)) {
    out << "files on disk: version " << disk_version << ", the one serving\n";
  } else if (refused_now) {
    const auto& errors = refusal.at("errors");
    out << "files on disk: version " << disk_version << ", REFUSED at " << time_of(refusal.at("at")) << " ("
        << because(refusal.value("reason", "")) << ") with " << errors.size() << " error(s):\n";
    Diagnostics diags;
    for (const auto& e : errors) diags.add(diagnostic_from(e, Severity::error, paths));
    out << diags.to_string();
    out << (from_disk ? "The server keeps serving version " + serving_version + "."
                      : std::string("The server keeps serving the last good copy."))
        << " Fix the errors above (`hotline check` lists the same); the server loads the files within a second "
           "of an edit that passes.\n";
    status = 1;
  } else {
    out << "files on disk: version " << disk_version << ", changed since and not loaded yet: the server "
        << "looks every half second; run `hotline status` again\n";
    status = 1;
  }
  Diagnostics restart;
  for (const auto& w : serving.value("restart_needed", nlohmann::json::array())) {
    restart.add(diagnostic_from(w, Severity::warning, paths));
  }
  if (!restart.items().empty()) {
    out << "waiting for a restart (a reload puts only flows, prompts and `details:` in service):\n"
        << restart.to_string();
    status = 1;
  }
  return status;
}

}  // namespace

int status_command(int argc, char** argv) {
  std::string url, root;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kStatusHelp;
      return 0;
    }
    if ((a == "--url" || a == "--root") && i + 1 < argc) {
      (a == "--url" ? url : root) = argv[++i];
    } else if (a.rfind("--url=", 0) == 0) {
      url = a.substr(6);
    } else if (a.rfind("--root=", 0) == 0) {
      root = a.substr(7);
    } else {
      std::cerr << "hotline status: unexpected '" << a << "' (see --help)\n";
      return 2;
    }
  }
  // The hotline folder: where the configuration names the port, and how files are named here.
  if (root.empty()) root = find_bundle_root(std::filesystem::current_path()).value_or("");
  if (url.empty()) {
    if (root.empty()) {
      std::cerr << no_bundle_root_message(std::filesystem::current_path())
                << " (Or name the server with --url http://127.0.0.1:PORT.)\n";
      return 2;
    }
    url = default_url(root);
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  const char* token = std::getenv("HOTLINE_ADMIN_TOKEN");
  const http::GetResult answer = http::get(url, "/admin/status", token ? token : "");
  if (answer.status == 0) {
    std::cerr << "hotline status: cannot reach the server at " << url << " (" << answer.error
              << "). Is `hotline serve` running? It listens at HOTLINE_PORT, else the port in "
                 "config/hotline.yaml (`server: port:`); if it was started with --port, name it: --url http://127.0.0.1:PORT\n";
    return 2;
  }
  if (answer.status == 401 || answer.status == 403) {
    std::cerr << "hotline status: the server at " << url << " refused (" << answer.status
              << "): set HOTLINE_ADMIN_TOKEN to the server's token, or run this on the server's machine\n";
    return 2;
  }
  nlohmann::json body = nlohmann::json::parse(answer.body, nullptr, false);
  if (answer.status != 200 || body.is_discarded() || !body.is_object() || !body.contains("serving") ||
      !body.contains("disk") || !body.contains("last_refusal")) {
    std::cerr << "hotline status: " << url << " did not answer as a hotline server does (HTTP " << answer.status
              << " to GET /admin/status); is the URL the hotline's own port?\n";
    return 2;
  }
  std::cout << "server: " << url << "\n";
  return describe(body, root, std::cout);
}

}  // namespace hotline::cli
