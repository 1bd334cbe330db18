#pragma once
// Safe live reload: builds a new bundle from the files on disk, checks it, and swaps it into
// the BundleHolder only when it has no error. A refused bundle is logged with every diagnostic
// and the old one keeps serving. Loading happens on the caller's thread (SIGHUP watcher, the
// file watcher, or an operator's POST /admin/reload), never on a webhook's; webhooks in flight
// keep the snapshot they took.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/flow/bundle.hpp"

namespace hotline::flow {

struct ReloadResult {
  bool swapped = false;  // the new bundle is serving
  Diagnostics diags;     // everything found, warnings too
};

struct ReloadSettings {
  std::string root = ".";       // where flows/ and prompts/ are
  prompts::Variables details;   // organisation details, for `load` left empty
  /// Loads and checks the whole bundle as `hotline check` does (app::check_servable): the
  /// bundle when it may be served, otherwise nullptr, with every diagnostic in `diags`.
  /// Empty: flows/ and prompts/ under `root` alone (load_bundle).
  std::function<std::shared_ptr<const Bundle>(Diagnostics& diags)> load;
  /// Single files to watch besides flows/**/*.yaml and prompts/*.yaml: absolute, or relative
  /// to root (the configuration, the roster and the blocklist the server started with).
  std::vector<std::string> extra_files;
  /// Told after each reload whether the new bundle was swapped in (for metrics). May be empty.
  std::function<void(bool swapped)> observe;
};

/// An edit the reloader refused (or, at start, the files on disk `serve` could not serve).
struct Refusal {
  std::int64_t at_ms = 0;  // Unix milliseconds, real time
  std::string reason;      // "files changed", "SIGHUP", "admin request", "start"
  std::string version;     // of the files refused (Reloader::version)
  Diagnostics diags;       // everything found, in `hotline check`'s form
};

/// What is serving and why an edit is not (GET /admin/status, `hotline status`).
struct ReloadStatus {
  bool from_disk = true;          // false: the last good copy kept beside the database serves
  std::string serving_version;    // the files the serving bundle was loaded from ("" when not from disk)
  std::int64_t serving_since_ms = 0;
  std::string serving_reason;     // what loaded it: "start", "files changed", "SIGHUP", "admin request"
  Diagnostics serving_warnings;   // the warnings of that load (restart-needed among them)
  std::string disk_version;       // the watched files as they are now
  std::optional<Refusal> last_refusal;  // the latest refused reload, if any since start
};

class Reloader {
 public:
  Reloader(BundleHolder& holder, ReloadSettings settings);
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  /// Loads, checks and (when clean of errors) swaps in the files as they are now. Logs the
  /// outcome as JSON lines. Safe from any thread; reloads run one at a time.
  ReloadResult reload(const std::string& reason = "request");

  /// Polls the watched files' sizes and modification times every `interval` and reloads when
  /// they change. Idempotent; stop() (or the destructor) ends the thread.
  void watch(std::chrono::milliseconds interval = std::chrono::milliseconds(500));
  void stop();

  /// A cheap summary of the watched files (each one's path under root and a hash of its
  /// content), to notice edits.
  std::string fingerprint() const;
  /// The same for any root and single files (what a server about to load them will watch).
  static std::string fingerprint_of(const std::string& root, const std::vector<std::string>& extra_files);
  /// A short name for the watched files' contents: 12 hex digits, the same for the same files.
  std::string version() const { return version_of(fingerprint()); }
  static std::string version_of(const std::string& fingerprint);

  /// What serves, since when, and the last refusal. Reads the files on disk (a few kB).
  ReloadStatus status() const;
  /// The bundle handed in was loaded from files whose fingerprint, read before loading, was
  /// this: status() names its version, and watch() reloads at once if the files differ now (an
  /// edit saved while the server was starting is not missed). Call before watch().
  void loaded_from(std::string fingerprint);
  /// `serve` started from the last good copy because the files on disk were refused: says so
  /// in status(), with the refusal's diagnostics, until a reload swaps in the files on disk.
  void serving_last_good(Diagnostics disk_refusal);

  /// Reloads finished so far, swapped or refused (lets tests wait for the watcher).
  std::uint64_t attempts() const { return attempts_.load(); }

 private:
  BundleHolder& holder_;
  ReloadSettings settings_;
  std::mutex reload_mutex_;
  std::mutex watch_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread watcher_;
  std::atomic<std::uint64_t> attempts_{0};
  mutable std::mutex status_mutex_;
  ReloadStatus status_;  // all but disk_version, kept by reload() and serving_last_good()
  std::string loaded_fingerprint_;  // from loaded_from(); "" = the files when watch() starts
};

}  // namespace hotline::flow
