#pragma once
// Abuse limits, decided before anything touches the store: a blocklist staff edit
// (config/blocklist.yaml), a token bucket per contact and one for the whole hotline.
// Pure: the caller passes the clock, so tests control time. Contacts are their hashed keys
// (crypto::contact_key); no phone number is kept here, not even the blocked ones.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "hotline/common/clock.hpp"
#include "hotline/common/diagnostic.hpp"

namespace hotline::channels {

struct LimitSettings {
  double contact_per_minute = 20;   // messages one contact may send per minute (also the burst)
  double global_per_second = 200;   // webhooks the whole hotline takes per second (also the burst)
  std::size_t max_tracked_contacts = 100'000;  // memory bound: full buckets are forgotten first
};

enum class Verdict {
  allow,
  blocked,          // on the blocklist: answer nothing
  contact_notice,   // over the per-contact limit, first time in this burst: one short notice
  contact_limited,  // over the per-contact limit again: answer nothing
  global_limited,   // the hotline as a whole is over its limit: answer nothing
};

std::string_view verdict_name(Verdict v);

class Limiter {
 public:
  Limiter(LimitSettings settings, Clock clock);

  /// Decides for one inbound message from `contact_key` and takes its tokens when allowed.
  /// `stop`: the message is an opt-out keyword (STOP, PARAR…). Carriers require STOP to work,
  /// so one STOP a minute gets past the contact's own limit (taking none of its tokens); it
  /// still takes a global token and is refused like anything else when the hotline as a whole
  /// is over its limit, so a flood of STOPs costs no more than any other flood.
  Verdict check(const std::string& contact_key, bool stop = false);

  /// Replaces the blocklist (hashed contact keys).
  void set_blocklist(std::unordered_set<std::string> contact_keys);
  std::size_t tracked_contacts() const;

  /// How often a STOP may pass a contact's own limit.
  static constexpr std::int64_t kStopEveryMs = 60'000;

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t at_ms = 0;
    bool notified = false;
    std::optional<std::int64_t> stop_ms;  // when a STOP last got past this contact's limit
  };
  static void refill(Bucket& b, double capacity, double per_ms, std::int64_t now);
  void prune(std::int64_t now);

  LimitSettings settings_;
  Clock clock_;
  mutable std::mutex mutex_;
  std::unordered_set<std::string> blocked_;
  std::unordered_map<std::string, Bucket> contacts_;
  Bucket global_;
};

/// Reads a blocklist file (`blocked:` a list of E.164 numbers) and returns the numbers' contact
/// keys under `secret`. A missing file is an empty list. Problems go to `diags` without the
/// number itself, so a typo never lands in a log.
std::unordered_set<std::string> load_blocklist(const std::string& path, const std::string& secret,
                                               Diagnostics& diags);

/// Keeps a Limiter's blocklist in step with its file: refresh() re-reads it when its modification
/// time changed, at most once per `interval_ms`. Entries with errors are logged and skipped.
class BlocklistFile {
 public:
  BlocklistFile(std::string path, std::string secret, Clock clock, std::int64_t interval_ms = 2000);
  void refresh(Limiter& limiter);

 private:
  std::string path_, secret_;
  Clock clock_;
  std::int64_t interval_ms_;
  std::mutex mutex_;
  std::int64_t checked_ms_ = 0;
  bool loaded_ = false;
  std::optional<std::filesystem::file_time_type> mtime_;
};

}  // namespace hotline::channels
