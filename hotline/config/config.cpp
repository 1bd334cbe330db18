#include "hotline/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>

#include "hotline/common/clock.hpp"
#include "hotline/common/yaml_position.hpp"

namespace hotline::config {
namespace {

class FileReader {
 public:
  FileReader(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  void read(const YAML::Node& root, Config& c) {
    if (root.IsNull()) return;
    if (!root.IsMap()) {
      error(root, "config-not-map", "the configuration is a list of `name: value` settings");
      return;
    }
    for (const auto& field : root) {
      const std::string name = field.first.as<std::string>();
      const YAML::Node& v = field.second;
      if (name == "server") {
        read_server(v, c);
      } else if (name == "database") {
        c.database = text(v, "database");
      } else if (name == "sessions") {
        for_each(v, "sessions", [&](const std::string& key, const YAML::Node& value) {
          if (key == "idle_minutes") c.session_idle_minutes = number(value, key, 1, 7 * 24 * 60);
          else unknown(key, value, "sessions", "idle_minutes");
        });
      } else if (name == "default_language") {
        auto lang = lang_from_code(text(v, name));
        if (lang) c.default_language = *lang;
        else error(v, "unknown-language", "default_language must be en or es");
      } else if (name == "voice") {
        read_voice(v, c.voice);
      } else if (name == "relay") {
        for_each(v, "relay", [&](const std::string& key, const YAML::Node& value) {
          if (key == "claim_timeout_minutes") c.relay_claim_timeout_minutes = number(value, key, 1, 7 * 24 * 60);
          else if (key == "retention_days") c.relay_retention_days = number(value, key, 1, 365);
          else if (key == "escalate_after_minutes") c.relay_escalate_after_minutes = number(value, key, 1, 24 * 60);
          else if (key == "whatsapp_template_sid") c.relay_whatsapp_template_sid = content_sid(value, key);
          else unknown(key, value, "relay",
                       "claim_timeout_minutes, escalate_after_minutes, retention_days or whatsapp_template_sid");
        });
      } else if (name == "outbox") {
        for_each(v, "outbox", [&](const std::string& key, const YAML::Node& value) {
          if (key == "messages_per_second") c.outbox_messages_per_second = number(value, key, 1, 100);
          else if (key == "max_attempts") c.outbox_max_attempts = number(value, key, 1, 100);
          else unknown(key, value, "outbox", "messages_per_second or max_attempts");
        });
      } else if (name == "limits") {
        for_each(v, "limits", [&](const std::string& key, const YAML::Node& value) {
          if (key == "contact_per_minute") c.limits_contact_per_minute = number(value, key, 1, 10000);
          else if (key == "global_per_second") c.limits_global_per_second = number(value, key, 1, 100000);
          else if (key == "blocklist") c.blocklist_file = text(value, key);
          else unknown(key, value, "limits", "contact_per_minute, global_per_second or blocklist");
        });
      } else if (name == "details") {
        for_each(v, "details", [&](const std::string& key, const YAML::Node& value) {
          std::string detail = text(value, key);
          if (!detail.empty()) c.details[key] = detail;
        });
      } else {
        unknown(name, field.first, "the configuration",
                "server, database, sessions, default_language, voice, relay, outbox, limits or details");
      }
    }
  }

 private:
  void read_server(const YAML::Node& v, Config& c) {
    for_each(v, "server", [&](const std::string& key, const YAML::Node& value) {
      if (key == "bind") c.bind = text(value, key);
      else if (key == "port") c.port = number(value, key, 1, 65535);
      else if (key == "threads") c.threads = number(value, key, 1, 1024);
      else if (key == "max_body_kb") c.max_body_bytes = number(value, key, 1, 1024) * 1024;
      else unknown(key, value, "server", "bind, port, threads or max_body_kb");
    });
  }

  void read_voice(const YAML::Node& v, VoiceConfig& voice) {
    for_each(v, "voice", [&](const std::string& key, const YAML::Node& value) {
      if (key == "en" || key == "es") {
        auto& lang = key == "en" ? voice.en : voice.es;
        for_each(value, "voice." + key, [&](const std::string& k, const YAML::Node& x) {
          if (k == "language") lang.language = text(x, k);
          else if (k == "voice") lang.voice = text(x, k);
          else if (k == "hints") lang.hints = text(x, k);
          else unknown(k, x, "voice." + key, "language, voice or hints");
        });
        if (lang.language.empty()) error(value, "expected-text", "`voice." + key + ".language` must be set, e.g. en-US or es-MX");
      } else if (key == "min_confidence") {
        double d = -1;
        try {
          d = value.as<double>();
        } catch (const YAML::Exception&) {
        }
        if (d >= 0 && d <= 1) voice.min_confidence = d;
        else error(value, "expected-number", "`min_confidence` must be a number from 0 to 1");
      } else if (key == "caller_id") {
        voice.caller_id = text(value, key);
        bool e164 = voice.caller_id.size() >= 8 && voice.caller_id.size() <= 16 && voice.caller_id[0] == '+' &&
                    voice.caller_id.find_first_not_of("0123456789", 1) == std::string::npos;
        if (!voice.caller_id.empty() && !e164) {
          error(value, "bad-phone", "`caller_id` must be the hotline's Twilio number in E.164 form: + and digits only");
        }
      } else if (key == "ring_seconds") {
        voice.ring_seconds = number(value, key, 5, 600);
      } else if (key == "voicemail_max_seconds") {
        voice.voicemail_max_seconds = number(value, key, 10, 3600);
      } else {
        unknown(key, value, "voice",
                "en, es, min_confidence, caller_id, ring_seconds or voicemail_max_seconds");
      }
    });
  }

  template <typename F>
  void for_each(const YAML::Node& v, const std::string& section, F&& f) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      error(v, "expected-map", "`" + section + "` must be a list of `name: value` settings");
      return;
    }
    for (const auto& entry : v) f(entry.first.as<std::string>(), entry.second);
  }

  std::string text(const YAML::Node& v, const std::string& what) {
    if (!v.IsScalar()) {
      error(v, "expected-text", "`" + what + "` must be a single value");
      return {};
    }
    return v.Scalar();
  }

  int number(const YAML::Node& v, const std::string& what, int min, int max) {
    try {
      int n = v.as<int>();
      if (n >= min && n <= max) return n;
    } catch (const YAML::Exception&) {
    }
    error(v, "expected-number",
          "`" + what + "` must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return min;
  }

  /// A Twilio Content SID: "HX" and 32 hexadecimal digits, as the Content Template Builder shows it.
  std::string content_sid(const YAML::Node& v, const std::string& what) {
    std::string sid = text(v, what);
    const bool ok = sid.size() == 34 && sid.rfind("HX", 0) == 0 &&
                    sid.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
    if (!sid.empty() && !ok) {
      error(v, "bad-content-sid",
            "`" + what + "` must be the Content SID of an approved WhatsApp template: HX and 32 letters a-f or digits, "
            "as Twilio's Content Template Builder shows it");
      return {};
    }
    return sid;
  }

  void unknown(const std::string& name, const YAML::Node& where, const std::string& section,
               const std::string& expected) {
    error(where, "unknown-field", "unknown setting '" + name + "' in " + section + "; expected " + expected);
  }

  void error(const YAML::Node& node, std::string code, std::string message) {
    diags_.error(position_of(file_, node), std::move(code), std::move(message));
  }

  std::string file_;
  Diagnostics& diags_;
};

void read_environment(const Environment& env, Config& c, Diagnostics& diags) {
  const Position where{"environment", 0, 0};
  auto get = [&](const char* name) { return env(name).value_or(""); };
  c.twilio_auth_token = get("TWILIO_AUTH_TOKEN");
  c.twilio_account_sid = get("TWILIO_ACCOUNT_SID");
  c.secret = get("HOTLINE_SECRET");
  c.public_url = get("HOTLINE_PUBLIC_URL");
  while (!c.public_url.empty() && c.public_url.back() == '/') c.public_url.pop_back();
  if (auto db = env("HOTLINE_DB"); db && !db->empty()) c.database = *db;
  c.advocates_file = get("HOTLINE_ADVOCATES");
  c.twilio_from = get("TWILIO_FROM");
  c.twilio_whatsapp_from = get("TWILIO_WHATSAPP_FROM");
  if (!c.twilio_whatsapp_from.empty() &&
      (c.twilio_whatsapp_from.rfind("whatsapp:+", 0) != 0 || c.twilio_whatsapp_from.size() < 12)) {
    diags.error(where, "bad-whatsapp-sender",
                "TWILIO_WHATSAPP_FROM must be the hotline's WhatsApp sender as Twilio writes it, e.g. whatsapp:+14145550100");
  }
  c.admin_token = get("HOTLINE_ADMIN_TOKEN");
  if (!c.admin_token.empty()) {
    const bool printable = std::all_of(c.admin_token.begin(), c.admin_token.end(),
                                       [](char ch) { return ch > 0x20 && ch < 0x7f; });
    if (c.admin_token.size() < 16 || !printable) {
      diags.error(where, "bad-token",
                  "HOTLINE_ADMIN_TOKEN must be 16 characters or more, without spaces (e.g. `openssl rand -hex 32`)");
    }
  }
  if (auto base = env("TWILIO_API_BASE"); base && !base->empty()) {
    c.twilio_api_base = *base;
    while (!c.twilio_api_base.empty() && c.twilio_api_base.back() == '/') c.twilio_api_base.pop_back();
    if (c.twilio_api_base.rfind("http://", 0) != 0 && c.twilio_api_base.rfind("https://", 0) != 0) {
      diags.error(where, "bad-url", "TWILIO_API_BASE must start with https:// (or http://)");
    }
  }
  // Whole numbers in a range, or a clear error naming the variable (never a silent default).
  auto whole_number = [&](const char* name, int min, int max, int& into) {
    auto value = env(name);
    if (!value || value->empty()) return;
    int n = 0;
    const char* end = value->data() + value->size();
    auto [stop, ec] = std::from_chars(value->data(), end, n);
    if (ec != std::errc() || stop != end || n < min || n > max) {
      diags.error(where, "bad-number", std::string(name) + " must be a whole number from " + std::to_string(min) +
                                           " to " + std::to_string(max) + ", not '" + *value + "'");
      return;
    }
    into = n;
  };
  // The port from the environment too, so the image's HEALTHCHECK (`hotline healthcheck`)
  // and `serve` read the same one.
  whole_number("HOTLINE_PORT", 1, 65535, c.port);
  whole_number("HOTLINE_DB_WAIT_SECONDS", 0, 3600, c.database_wait_seconds);
  if (auto now = env("HOTLINE_NOW"); now && !now->empty()) {
    c.pinned_now_ms = parse_iso8601_ms(*now);
    if (!c.pinned_now_ms) {
      diags.error(where, "bad-time", "HOTLINE_NOW must be an ISO 8601 time with a zone, e.g. 2026-11-29T14:00:00Z");
    }
  }
  const bool shared_database = c.database.rfind("postgresql://", 0) == 0 || c.database.rfind("postgres://", 0) == 0;
  if (shared_database && c.secret.empty()) {
    diags.error(where, "missing-secret",
                "HOTLINE_SECRET must be set when HOTLINE_DB is a PostgreSQL server: every replica must "
                "hash numbers with the same key");
  }
  if (!c.public_url.empty() && c.public_url.rfind("http://", 0) != 0 &&
      c.public_url.rfind("https://", 0) != 0) {
    diags.error(where, "bad-url", "HOTLINE_PUBLIC_URL must start with https:// (or http://)");
  }
  // Whenever it is given, not only with signatures on: a short secret makes every contact
  // hash easy to reverse, in local mode too.
  if (!c.secret.empty() && c.secret.size() < 16) {
    diags.error(where, "bad-secret", "HOTLINE_SECRET must be 16 characters or more (e.g. `openssl rand -hex 32`)");
  }
  if (!c.local_mode()) {
    if (c.public_url.empty()) {
      diags.error(where, "missing-setting",
                  "HOTLINE_PUBLIC_URL is required with TWILIO_AUTH_TOKEN: signatures cover the URL Twilio calls");
    }
    if (c.secret.empty()) {
      diags.error(where, "missing-setting",
                  "HOTLINE_SECRET must be set (16 characters or more) with TWILIO_AUTH_TOKEN: it keys the contact hashes");
    }
  }
}

}  // namespace

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

Config load_config(const std::string& path, bool path_is_default, const Environment& env,
                   Diagnostics& diags) {
  Config c;
  if (std::filesystem::exists(path)) {
    try {
      FileReader(path, diags).read(YAML::LoadFile(path), c);
    } catch (const YAML::ParserException& e) {
      diags.error(position_of(path, e.mark), "yaml-syntax", e.msg);
    } catch (const YAML::Exception& e) {
      diags.error(Position{path, 0, 0}, "unreadable", e.what());
    }
  } else if (!path_is_default) {
    diags.error(Position{path, 0, 0}, "missing-file", "cannot read the configuration file");
  }
  read_environment(env, c, diags);
  return c;
}

}  // namespace hotline::config
