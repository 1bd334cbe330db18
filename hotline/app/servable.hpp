#pragma once
// Whether a bundle can be served: the one verdict that `hotline check`, `hotline serve` at
// start-up and a live reload all ask for, so the three never disagree about the same files.
//
// A bundle is everything staff and operators edit beside the code: flows (with intents,
// examples and sources), prompts, the conversation tests in flows/tests, config/hotline.yaml
// (or the file HOTLINE_CONFIG / --config names) with the environment, the advocates roster
// (HOTLINE_ADVOCATES, or config/advocates.yaml) and the blocklist (`limits: blocklist:`).
#include <memory>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/config/config.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/flowtest/flowtest.hpp"
#include "hotline/routing/roster.hpp"

namespace hotline::app {

/// Where a bundle is.
struct BundleLocation {
  std::string root = ".";    // where flows/, prompts/ and config/ are
  std::string config_file;   // empty: HOTLINE_CONFIG, else <root>/config/hotline.yaml (may be absent)
  config::Environment env;   // empty: the process environment
  /// Where flows/ and prompts/ are read, when not from `root`: the last good copy kept beside
  /// the database (app/last_good.hpp). The configuration and the roster still come from `root`.
  std::string bundle_root;
};

/// The configuration of a bundle: the file, then the environment, with every file path in it
/// (the database, the roster, the blocklist) made absolute against `root` when relative, so it
/// names the same file whatever the working directory. Problems go to `diags`.
config::Config load_configuration(const BundleLocation& where, Diagnostics& diags);

/// The errors among `diags` that are the server's environment's (its database URL, secret,
/// tokens): what stops a command that only opens the database (forget, report), whereas the
/// bundle's own errors are `check`'s business.
Diagnostics environment_errors(const Diagnostics& diags);

/// The advocates file a bundle uses: `advocates_file` (HOTLINE_ADVOCATES or the configuration),
/// else <root>/config/advocates.yaml; `check`, `serve`, a reload and `hotline roster` agree.
std::string roster_file(const config::Config& c);

/// The roster at roster_file(c): a file named by the configuration must exist; the default
/// may be absent (nobody is ever on shift). Problems go to `diags`; nullptr on an error.
std::shared_ptr<const routing::Roster> load_bundle_roster(const config::Config& c, Diagnostics& diags);

struct Servable {
  config::Config config;                          // as load_configuration reads it
  std::shared_ptr<const flow::Bundle> bundle;     // null when flows or prompts do not load
  std::shared_ptr<const routing::Roster> roster;  // null when the roster does not load
  flowtest::Summary tests;                        // the conversation tests that ran
  Diagnostics diags;                              // everything found, warnings too

  /// No error anywhere: this is what may be served.
  bool ok() const { return bundle && roster && !diags.has_errors(); }
};

/// Loads and checks the whole bundle at `where`: configuration, flows, prompts, roster,
/// blocklist, and (when the flows load) the conversation tests and the sources' review dates.
Servable check_servable(const BundleLocation& where);

}  // namespace hotline::app
