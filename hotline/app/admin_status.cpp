#include "hotline/app/admin_status.hpp"

#include <ctime>
#include <filesystem>

namespace hotline::app {
namespace {

std::string iso8601_utc(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string absolute(const std::string& path) {
  std::error_code ec;
  auto full = std::filesystem::absolute(path, ec).lexically_normal();
  if (ec) return path;
  if (full.filename().empty() && full.has_relative_path()) full = full.parent_path();  // "/srv/hotline/." → "/srv/hotline"
  return full.string();
}

nlohmann::json diagnostic_json(const Diagnostic& d) {
  // "environment" and other names that are no file stay as they are.
  std::error_code ec;
  const std::string file = std::filesystem::exists(d.where.file, ec) ? absolute(d.where.file) : d.where.file;
  return {{"file", file}, {"line", d.where.line}, {"column", d.where.column},
          {"code", d.code}, {"message", d.message}};
}

}  // namespace

nlohmann::json admin_status(const flow::ReloadStatus& s, const std::string& flow_name, const std::string& root) {
  // A configuration edit passes a reload but is used only after a restart: that is
  // "not live" too, and staff must hear it.
  nlohmann::json restart_needed = nlohmann::json::array();
  for (const auto& d : s.serving_warnings.items()) {
    if (d.code == "restart-needed") restart_needed.push_back(diagnostic_json(d));
  }
  nlohmann::json out = {
      {"flow", flow_name},
      {"root", absolute(root)},
      {"serving", {{"from_disk", s.from_disk},
                   {"version", s.serving_version},
                   {"since", iso8601_utc(s.serving_since_ms)},
                   {"reason", s.serving_reason},
                   {"restart_needed", restart_needed}}},
      {"disk", {{"version", s.disk_version}, {"serving", s.from_disk && s.disk_version == s.serving_version}}},
      {"last_refusal", nullptr}};
  if (s.last_refusal) {
    const flow::Refusal& r = *s.last_refusal;
    nlohmann::json errors = nlohmann::json::array(), warnings = nlohmann::json::array();
    for (const auto& d : r.diags.items()) (d.severity == Severity::error ? errors : warnings).push_back(diagnostic_json(d));
    // Current: it is about the files on disk now, and nothing was swapped in after it.
    const bool current = r.version == s.disk_version && (!s.from_disk || r.at_ms >= s.serving_since_ms);
    out["last_refusal"] = {{"at", iso8601_utc(r.at_ms)}, {"reason", r.reason}, {"version", r.version},
                           {"current", current}, {"errors", errors}, {"warnings", warnings}};
  }
  return out;
}

}  // namespace hotline::app
