#include "hotline/app/servable.hpp"

#include <filesystem>

#include "hotline/channels/limits.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/flow/sources.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::app {
namespace {

namespace fs = std::filesystem;

// A relative path is the bundle's own: `hotline forget --root DIR` run from another folder must
// open DIR's database, not make a new empty one where it stands.
std::string under_root(const std::string& root, const std::string& path) {
  if (path.empty() || fs::path(path).is_absolute()) return path;
  return (fs::path(root) / path).lexically_normal().string();
}

}  // namespace

config::Config load_configuration(const BundleLocation& where, Diagnostics& diags) {
  const config::Environment env = where.env ? where.env : config::process_environment();
  std::string path = where.config_file;
  if (path.empty()) path = env("HOTLINE_CONFIG").value_or("");
  const bool is_default = path.empty();
  if (is_default) path = (fs::path(where.root) / "config" / "hotline.yaml").string();
  config::Config c = config::load_config(path, is_default, env, diags);
  c.root = where.root;
  c.config_file = path;
  if (!store::is_postgres_url(c.database) && c.database != ":memory:") c.database = under_root(c.root, c.database);
  c.advocates_file = under_root(c.root, c.advocates_file);
  c.blocklist_file = under_root(c.root, c.blocklist_file);
  return c;
}

Diagnostics environment_errors(const Diagnostics& diags) {
  Diagnostics found;
  for (const auto& d : diags.items()) {
    if (d.severity == Severity::error && d.where.file == "environment") found.add(d);
  }
  return found;
}

std::string roster_file(const config::Config& c) {
  if (c.advocates_file.empty()) return (fs::path(c.root) / "config" / "advocates.yaml").string();
  return under_root(c.root, c.advocates_file);
}

std::shared_ptr<const routing::Roster> load_bundle_roster(const config::Config& c, Diagnostics& diags) {
  // HOTLINE_ADVOCATES names a file that must exist; the default may be absent.
  return routing::load_roster(roster_file(c), c.advocates_file.empty(), diags);
}

Servable check_servable(const BundleLocation& where) {
  Servable s;
  s.config = load_configuration(where, s.diags);
  const config::Config& c = s.config;
  const std::string bundle_root = where.bundle_root.empty() ? c.root : where.bundle_root;
  s.bundle = flow::load_bundle(bundle_root, c.details, s.diags);

  s.roster = load_bundle_roster(c, s.diags);

  // The blocklist is hashed under a throwaway key and dropped here: only its problems matter,
  // and they never repeat a number. The running server reads it with its own BlocklistFile.
  channels::load_blocklist(c.blocklist_file, "hotline-check", s.diags);

  if (s.bundle) {
    s.tests = flowtest::check_conversations(bundle_root, *s.bundle, c.default_language, s.diags);
    const auto now = c.pinned_now_ms.value_or(system_now_ms());
    s.diags.append(flow::sources_due_for_review(*s.bundle, flow::day_of(now)));
  }
  return s;
}

}  // namespace hotline::app
