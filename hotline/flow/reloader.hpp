#pragma once
// Safe live reload: builds a new bundle from the files on disk, checks it, and swaps it into
// the BundleHolder only when it has no error. A refused bundle is logged with every diagnostic
// and the old one keeps serving. Loading happens on the caller's thread (SIGHUP watcher, the
// file watcher, or an operator's POST /admin/reload), never on a webhook's; webhooks in flight
// keep the snapshot they took.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
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

  /// A cheap summary of the watched files (name, size, mtime), to notice edits.
  std::string fingerprint() const;

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
};

}  // namespace hotline::flow
