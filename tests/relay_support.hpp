#pragma once
// What the relay's end-to-end tests (test_relay, test_console, test_callback) share: a roster
// from YAML text, times as ISO 8601, and a server configuration that sends through the stand-in
// for Twilio's API quickly (short timeouts and retries, no pacing to speak of).
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "fake_twilio.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/common/diagnostic.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline_server.hpp"

namespace test_support {

inline const std::string kTestAccount = "AC00000000000000000000000000000000";

inline std::int64_t at(const char* iso) { return *hotline::parse_iso8601_ms(iso); }

inline std::shared_ptr<const hotline::routing::Roster> roster_from(const char* yaml) {
  hotline::Diagnostics diags;
  auto r = hotline::routing::parse_roster(yaml, "advocates.yaml", diags);
  if (!r) throw std::runtime_error(diags.to_string());
  return r;
}

/// The test server's configuration, sending as `from` through `fake`, its clock pinned at `now`.
inline hotline::config::Config sending_config(const TempDir& dir, FakeTwilio& fake, std::int64_t now,
                                              const std::string& from) {
  auto c = test_config(dir);
  c.pinned_now_ms = now;
  c.twilio_account_sid = kTestAccount;
  c.twilio_from = from;
  c.twilio_api_base = fake.base();
  c.twilio_timeout_ms = 1000;
  c.outbox_retry_base_ms = 20;
  c.outbox_messages_per_second = 100;
  c.outbox_max_attempts = 1000;
  return c;
}

}  // namespace test_support
