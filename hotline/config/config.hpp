#pragma once
// Settings: a YAML file staff and operators edit (config/hotline.yaml) plus environment
// variables for secrets and per-deployment values. Secrets never live in the file.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/lang.hpp"
#include "hotline/prompts/catalog.hpp"

namespace hotline::config {

/// Phone calls (`voice:` in config/hotline.yaml): how each language sounds, and how long the
/// hotline rings advocates and records voicemail.
struct VoiceConfig {
  struct Language {
    std::string language;  // <Say>/<Gather> language, e.g. es-MX
    std::string voice;     // e.g. Polly.Mia; empty = Twilio's default voice
    std::string hints;     // extra speech hints, comma-separated; empty = built-in ones
  };
  Language en{"en-US", "Polly.Joanna", ""};
  Language es{"es-MX", "Polly.Mia", ""};
  double min_confidence = 0.3;  // speech recognised with less confidence counts as not understood
  std::string caller_id;        // shown to advocates; empty = the hotline number the caller dialled
  int ring_seconds = 20;
  int voicemail_max_seconds = 120;
};

struct Config {
  std::string root = ".";               // where flows/ and prompts/ live
  std::string config_file;              // the configuration file read; empty = <root>/config/hotline.yaml
  std::string bind = "127.0.0.1";
  int port = 8080;                      // HOTLINE_PORT overrides; `serve --port` overrides both
  int threads = 32;                     // HTTP worker threads
  std::size_t max_body_bytes = 64 * 1024;
  std::string database = "data/hotline.sqlite3";  // HOTLINE_DB overrides
  int session_idle_minutes = 60;        // an idle conversation starts fresh after this
  Lang default_language = Lang::es;     // when nothing in a message tells the language
  prompts::Variables details;           // organisation details prompts may use
  int relay_claim_timeout_minutes = 15; // relay: nobody took it by then → the texter is told
  int relay_escalate_after_minutes = 5; // relay: nobody took it → offered again, then to coordinators
  int relay_retention_days = 7;         // a relay idle this long ends, with the number it kept
  std::string relay_whatsapp_template_sid;  // relay: approved WhatsApp template (HX…) for words after 24 h; "" = none
  double outbox_messages_per_second = 1.0;  // outbox: per sender (long code ≈ 1, toll-free 3)
  int outbox_retry_base_ms = 2000;      // outbox: first retry delay, doubled each time
  int outbox_max_attempts = 15;         // outbox: then dropped with a logged reason
  int twilio_timeout_ms = 15000;        // outbound REST request, whole request
  VoiceConfig voice;                    // phone calls
  int limits_contact_per_minute = 20;   // limits: messages one number may send per minute
  int limits_global_per_second = 200;   // limits: webhooks the whole hotline takes per second
  std::string blocklist_file = "config/blocklist.yaml";  // limits: relative to root; staff edit it

  // From the environment only.
  std::string twilio_auth_token;   // TWILIO_AUTH_TOKEN; empty = local mode, no signature check
  std::string twilio_account_sid;  // TWILIO_ACCOUNT_SID
  std::string secret;              // HOTLINE_SECRET: keys contact hashes
  std::string public_url;          // HOTLINE_PUBLIC_URL: the base URL Twilio calls
  std::optional<std::int64_t> pinned_now_ms;  // HOTLINE_NOW
  std::string advocates_file;      // HOTLINE_ADVOCATES; empty = <root>/config/advocates.yaml
  std::string twilio_from;         // TWILIO_FROM: the hotline's number (E.164) or a MessagingServiceSid (MG…)
  std::string twilio_whatsapp_from;  // TWILIO_WHATSAPP_FROM: "whatsapp:+1…"; "" = WhatsApp form of TWILIO_FROM
  std::string twilio_api_base = "https://api.twilio.com";  // TWILIO_API_BASE
  std::string admin_token;         // HOTLINE_ADMIN_TOKEN: Bearer token for /metrics and /admin/reload
  int database_wait_seconds = 60;  // HOTLINE_DB_WAIT_SECONDS: how long `serve` retries an unreachable PostgreSQL

  bool local_mode() const { return twilio_auth_token.empty(); }
};

using Environment = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment.
Environment process_environment();

/// Reads the file at `path` (a missing file is fine when `path` is the default) and then the
/// environment. Every problem goes to `diags` as file:line:col or as `environment: …`.
Config load_config(const std::string& path, bool path_is_default, const Environment& env,
                   Diagnostics& diags);

}  // namespace hotline::config
