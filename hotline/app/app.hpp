#pragma once
// The running hotline: store, current bundle, channels and HTTP server wired together.
// `hotline serve` and the integration tests build exactly this.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "hotline/channels/callback.hpp"
#include "hotline/channels/limits.hpp"
#include "hotline/channels/relay.hpp"
#include "hotline/channels/sms.hpp"
#include "hotline/channels/voice.hpp"
#include "hotline/common/metrics.hpp"
#include "hotline/config/config.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/flow/reloader.hpp"
#include "hotline/http/server.hpp"
#include "hotline/store/housekeeper.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/outbox.hpp"
#include "hotline/twilio/rest_client.hpp"

namespace hotline::app {

/// The voice channel's settings from the configuration (also used by `hotline simulate`).
channels::VoiceSettings voice_settings(const config::Config& c);
/// The relay's settings from the config, callbacks' number and public URL included.
channels::RelaySettings relay_settings(const config::Config& c);

/// What a server on `c` watches besides flows/ and prompts/: its configuration file, its roster
/// and its blocklist, absolute or under c.root.
std::vector<std::string> watched_files(const config::Config& c);

class App {
 public:
  /// Opens the store (throws std::runtime_error with a clear message when it cannot).
  /// `roster` decides whom calls ring; nullptr = nobody on shift (callers may leave voicemail).
  /// A reload that passes puts the roster on disk in its place (relay().roster()).
  App(config::Config config, std::shared_ptr<const flow::Bundle> bundle,
      std::shared_ptr<const routing::Roster> roster = nullptr);
  /// The same on a store already open, instead of the one `config.database` names (the tests
  /// hand it a real store that fails on demand).
  App(config::Config config, std::unique_ptr<store::SessionStore> store,
      std::shared_ptr<const flow::Bundle> bundle, std::shared_ptr<const routing::Roster> roster = nullptr);
  ~App();

  /// Binds the port; returns it (config port 0 = any free port) or -1.
  int bind();
  /// Serves until stop(). Starts the outbox worker (when Twilio credentials and TWILIO_FROM
  /// are set) and the housekeeper first, so their threads inherit the signal mask `serve` set up.
  /// After stop(): returns once the listener is closed, every webhook in flight has been
  /// answered, the outbox worker has finished the send in hand and the housekeeper has stopped.
  /// The store closes when the App is destroyed.
  bool run();
  /// Begins a graceful stop (safe from any thread, e.g. a signal watcher); run() returns when done.
  void stop();

  flow::BundleHolder& bundles() { return bundles_; }
  /// Loads flows/ and prompts/ from config.root again, checks them (conversation tests too)
  /// and swaps them in; a bundle with an error is refused and logged, the old one serves on.
  flow::ReloadResult reload(const std::string& reason = "request") { return reloader_->reload(reason); }
  /// Reloads whenever the files under config.root change (polled every `interval`).
  void watch_files(std::chrono::milliseconds interval = std::chrono::milliseconds(500)) {
    reloader_->watch(interval);
  }
  const flow::Reloader& reloader() const { return *reloader_; }
  /// The bundle was loaded from files with this fingerprint (flow::Reloader::fingerprint_of of
  /// c.root and watched_files(c)), read before loading: see Reloader::loaded_from.
  void loaded_from(std::string fingerprint) { reloader_->loaded_from(std::move(fingerprint)); }
  store::SessionStore& store() { return *store_; }
  const config::Config& config() const { return config_; }
  /// What GET /metrics serves (request counts, conversation turns, outbox, reloads, limits).
  metrics::Registry& metrics() { return metrics_; }
  /// Says on /readyz and /metrics (`hotline_bundle_from_disk` 0) that the flows and prompts
  /// serving are the last good copy, not the files on disk; `why` names the on-disk errors.
  /// The next reload that swaps in the files on disk ends it. `disk_refusal`, the diagnostics
  /// of the files on disk, is what GET /admin/status shows as the last refusal.
  void serving_last_good(std::string why, Diagnostics disk_refusal = {});
  /// Called when a caller leaves a voicemail (to tell the advocates on shift). Set before run().
  void on_voicemail(channels::VoicemailHook hook) { voicemail_hook_ = std::move(hook); }
  /// The SMS relay between texters and advocates.
  channels::RelayService& relay() { return *relay_; }
  /// Whether outbound messages are being sent (credentials and TWILIO_FROM configured).
  bool sending() const { return outbox_ != nullptr; }

 private:
  config::Config config_;
  metrics::Registry metrics_;  // before everything that records into it
  metrics::CounterFamily* verdicts_ = nullptr;
  void stop_workers();
  // Abuse limits and the blocklist, asked before a webhook reaches the store.
  channels::Verdict guard(const std::string& contact_key, bool stop = false);
  std::unique_ptr<channels::Limiter> limiter_;
  std::unique_ptr<channels::BlocklistFile> blocklist_;
  std::atomic<std::int64_t> global_limit_logged_ms_{0};
  std::unique_ptr<store::SessionStore> store_;
  flow::BundleHolder bundles_;
  std::unique_ptr<channels::SmsChannel> sms_;
  channels::VoicemailHook voicemail_hook_;
  std::unique_ptr<channels::VoiceChannel> voice_;
  std::unique_ptr<channels::RelayService> relay_;
  std::unique_ptr<channels::CallbackChannel> callback_;
  std::unique_ptr<twilio::RestClient> rest_;
  std::unique_ptr<twilio::OutboxWorker> outbox_;  // after what it uses: stopped and destroyed first
  std::unique_ptr<store::Housekeeper> housekeeper_;
  std::unique_ptr<http::Server> server_;
  std::atomic<bool> bundle_from_disk_{true};
  std::mutex not_from_disk_mutex_;
  std::string not_from_disk_;  // why /readyz says the bundle is the last good copy; "" = from disk
  std::unique_ptr<flow::Reloader> reloader_;  // last: its watcher stops before the rest goes
};

}  // namespace hotline::app
