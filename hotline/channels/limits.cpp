#include "hotline/channels/limits.hpp"

#include <algorithm>
#include <system_error>

#include "hotline/channels/address.hpp"
#include "hotline/common/log.hpp"
#include "hotline/common/yaml_position.hpp"
#include "hotline/crypto/keys.hpp"

namespace hotline::channels {

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::allow: return "allow";
    case Verdict::blocked: return "blocked";
    case Verdict::contact_notice: return "contact_notice";
    case Verdict::contact_limited: return "contact_limited";
    case Verdict::global_limited: return "global_limited";
  }
  return "?";
}

Limiter::Limiter(LimitSettings settings, Clock clock)
    : settings_(settings), clock_(std::move(clock)) {
  global_.tokens = settings_.global_per_second;
  global_.at_ms = clock_();
}

void Limiter::refill(Bucket& b, double capacity, double per_ms, std::int64_t now) {
  if (now > b.at_ms) {
    b.tokens = std::min(capacity, b.tokens + static_cast<double>(now - b.at_ms) * per_ms);
  }
  // A clock that went backwards refills nothing and moves the mark back.
  b.at_ms = now;
}

void Limiter::prune(std::int64_t now) {
  const double capacity = settings_.contact_per_minute;
  const double per_ms = capacity / 60'000.0;
  for (auto it = contacts_.begin(); it != contacts_.end();) {
    refill(it->second, capacity, per_ms, now);
    if (it->second.tokens >= capacity) it = contacts_.erase(it);
    else ++it;
  }
  // Still too many (a flood from very many numbers): forget them all rather than grow.
  if (contacts_.size() >= settings_.max_tracked_contacts) contacts_.clear();
}

Verdict Limiter::check(const std::string& contact_key, bool stop) {
  const std::int64_t now = clock_();
  std::lock_guard<std::mutex> lock(mutex_);
  if (blocked_.count(contact_key)) return Verdict::blocked;

  const double capacity = settings_.contact_per_minute;
  auto found = contacts_.find(contact_key);
  if (found == contacts_.end()) {
    if (contacts_.size() >= settings_.max_tracked_contacts) prune(now);
    found = contacts_.emplace(contact_key, Bucket{capacity, now, false, std::nullopt}).first;
  }
  Bucket& mine = found->second;
  refill(mine, capacity, capacity / 60'000.0, now);
  // A whole token, allowing for the rounding of many small refills.
  constexpr double kWhole = 1 - 1e-9;
  // One notice a burst: a burst ends only when the bucket is full again (the contact slowed
  // down for as long as a whole burst takes to come back), not when one token trickles back,
  // or a steady flood would be answered with a notice every few seconds.
  if (mine.tokens >= capacity - 1e-9) mine.notified = false;
  bool past_limit = false;  // a STOP let past this contact's own limit
  if (mine.tokens < kWhole) {
    // A clock that went backwards does not hold a STOP back.
    past_limit = stop && (!mine.stop_ms || now - *mine.stop_ms >= kStopEveryMs || now < *mine.stop_ms);
    if (!past_limit) {
      if (mine.notified) return Verdict::contact_limited;
      mine.notified = true;
      return Verdict::contact_notice;
    }
  }

  refill(global_, settings_.global_per_second, settings_.global_per_second / 1000.0, now);
  if (global_.tokens < kWhole) return Verdict::global_limited;
  global_.tokens = std::max(0.0, global_.tokens - 1);
  if (past_limit) {
    mine.stop_ms = now;
    return Verdict::allow;
  }
  mine.tokens = std::max(0.0, mine.tokens - 1);
  return Verdict::allow;
}

void Limiter::set_blocklist(std::unordered_set<std::string> contact_keys) {
  std::lock_guard<std::mutex> lock(mutex_);
  blocked_ = std::move(contact_keys);
}

std::size_t Limiter::tracked_contacts() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return contacts_.size();
}

std::unordered_set<std::string> load_blocklist(const std::string& path, const std::string& secret,
                                               Diagnostics& diags) {
  std::unordered_set<std::string> keys;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return keys;
  auto root = load_yaml_file(path, "blocklist", diags);
  if (!root || root->IsNull()) return keys;
  if (!root->IsMap()) {
    diags.error(position_of(path, *root), "blocklist-not-map",
                "the blocklist is `blocked:` followed by a list of numbers");
    return keys;
  }
  for (const auto& field : *root) {
    const auto key = key_text(path, field.first, diags);
    if (!key) continue;
    const std::string& name = *key;
    if (name != "blocked") {
      diags.error(position_of(path, field.first), "unknown-key",
                  "unknown setting `" + name + "`: the blocklist has only `blocked:`");
      continue;
    }
    const YAML::Node& list = field.second;
    if (list.IsNull()) continue;
    if (!list.IsSequence()) {
      diags.error(position_of(path, list), "expected-list", "`blocked:` must be a list of numbers");
      continue;
    }
    for (const auto& entry : list) {
      const std::string number = entry.IsScalar() ? entry.Scalar() : "";
      if (!is_e164(number)) {
        // The entry itself is not repeated: it may be most of somebody's phone number.
        diags.error(position_of(path, entry), "not-e164",
                    "this entry is not a number in E.164 form (+ country code and digits, e.g. "
                    "+14145550123, in quotes)");
        continue;
      }
      keys.insert(crypto::contact_key(secret, number));
    }
  }
  return keys;
}

BlocklistFile::BlocklistFile(std::string path, std::string secret, Clock clock, std::int64_t interval_ms)
    : path_(std::move(path)), secret_(std::move(secret)), clock_(std::move(clock)), interval_ms_(interval_ms) {}

void BlocklistFile::refresh(Limiter& limiter) {
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is at it: go on with the current list
  const std::int64_t now = clock_();
  if (loaded_ && now - checked_ms_ < interval_ms_ && now >= checked_ms_) return;
  checked_ms_ = now;
  std::error_code ec;
  auto mtime = std::filesystem::last_write_time(path_, ec);
  std::optional<std::filesystem::file_time_type> current;
  if (!ec) current = mtime;
  if (loaded_ && current == mtime_) return;
  mtime_ = current;
  loaded_ = true;
  Diagnostics diags;
  auto keys = load_blocklist(path_, secret_, diags);
  // Entries with a problem are skipped and logged; the good ones still block.
  if (diags.has_errors()) log::error("blocklist_problems", {{"problems", diags.to_string()}});
  log::info("blocklist_loaded", {{"entries", keys.size()}});
  limiter.set_blocklist(std::move(keys));
}

}  // namespace hotline::channels
