#include "hotline/app/app.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "hotline/app/admin_status.hpp"
#include "hotline/app/last_good.hpp"
#include "hotline/app/servable.hpp"

#include "hotline/channels/address.hpp"
#include "hotline/common/diagnostic.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/flowtest/flowtest.hpp"
#include "hotline/store/sealed_conversations.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline/twilio/twiml.hpp"

namespace hotline::app {

channels::VoiceSettings voice_settings(const config::Config& c) {
  channels::VoiceSettings v;
  v.secret = c.secret;
  v.default_language = c.default_language;
  auto apply = [](channels::VoiceLanguage& to, const config::VoiceConfig::Language& from) {
    to.language = from.language;
    to.voice = from.voice;
    if (!from.hints.empty()) to.hints = from.hints;
  };
  apply(v.en, c.voice.en);
  apply(v.es, c.voice.es);
  v.min_confidence = c.voice.min_confidence;
  v.caller_id = c.voice.caller_id;
  v.ring_seconds = c.voice.ring_seconds;
  v.voicemail_max_seconds = c.voice.voicemail_max_seconds;
  return v;
}

channels::RelaySettings relay_settings(const config::Config& c) {
  channels::RelaySettings r;
  r.secret = c.secret;
  r.sender = c.twilio_from;
  r.whatsapp_sender = c.twilio_whatsapp_from;
  r.claim_timeout_ms = static_cast<std::int64_t>(c.relay_claim_timeout_minutes) * 60'000;
  r.escalate_after_ms = static_cast<std::int64_t>(c.relay_escalate_after_minutes) * 60'000;
  // Callbacks ring from, and show, the hotline's number: the configured caller id, else
  // TWILIO_FROM when it is a number (a Messaging Service cannot place calls).
  r.call_from = !c.voice.caller_id.empty() ? c.voice.caller_id
                : c.twilio_from.rfind("+", 0) == 0 ? c.twilio_from : std::string();
  r.public_url = c.public_url;
  r.whatsapp_template_sid = c.relay_whatsapp_template_sid;
  return r;
}

namespace {

void add_voice_routes(http::Routes& routes, channels::VoiceChannel& voice) {
  using F = twilio::FormFields;
  auto& r = routes.twilio;
  r[channels::kVoicePath] = [&voice](const F& f) { return voice.incoming(f); };
  r[channels::kVoiceGatherPath] = [&voice](const F& f) { return voice.gather(f); };
  r[channels::kVoiceDialPath] = [&voice](const F& f) { return voice.dial(f); };
  r[channels::kVoiceRecordPath] = [&voice](const F& f) { return voice.record(f); };
  r[channels::kVoiceStatusPath] = [&voice](const F& f) { return voice.status(f); };
  r[channels::kVoiceWhisperAcceptPath] = [&voice](const F& f) { return voice.whisper_accept(f); };
  for (Lang lang : kAllLangs) {
    r[std::string(channels::kVoiceWhisperPath) + "/" + std::string(lang_code(lang))] =
        [&voice, lang](const F& f) { return voice.whisper(f, lang); };
  }
}

// A webhook whose turn the store could not keep (a database error; the turn log full or
// unwritable) is not answered with TwiML. Twilio does not retry a webhook by itself, so an
// empty <Response/> would lose the message without a trace; a 503 makes Twilio fetch the
// number's Fallback URL instead (deploy/fallback/: the 911 line and "write again later", in
// both languages), and lets a proxy in front of several replicas try another one
// (deploy/nginx.conf). Nothing of the turn was kept, so a second delivery is handled as new.
// Counted and logged for alerting: the route and the store's message, never a number or text.
http::TwilioHandler answering_store_failures(const std::string& route, http::TwilioHandler handler,
                                             metrics::CounterFamily& failures) {
  metrics::Counter& failed = failures.with({route});  // shows as 0 from the start
  return [route, handler = std::move(handler), &failed](const twilio::FormFields& form) {
    try {
      return handler(form);
    } catch (const store::StoreError& e) {
      failed.inc();
      log::error("store_failed", {{"route", route}, {"error", e.what()}});
      return channels::WebhookResponse{503, "text/plain; charset=utf-8",
                                       "503: this turn could not be stored; Twilio should use the number's "
                                       "Fallback URL\n"};
    }
  };
}

// A file's bytes ("" when it cannot be read), to tell whether it changed since start-up.
std::string file_content(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

std::vector<std::string> watched_files(const config::Config& c) {
  namespace fs = std::filesystem;
  const std::string config_file =
      c.config_file.empty() ? (fs::path(c.root) / "config" / "hotline.yaml").string() : c.config_file;
  const std::string roster_file = app::roster_file(c);
  fs::path blocklist = c.blocklist_file;
  if (blocklist.is_relative()) blocklist = fs::path(c.root) / blocklist;
  return {config_file, roster_file, blocklist.string()};
}

App::App(config::Config config, std::shared_ptr<const flow::Bundle> bundle,
         std::shared_ptr<const routing::Roster> roster)
    // A connection per server thread, plus the outbox worker, housekeeper and relay sweep.
    : App(config, store::open_store(config.database, static_cast<std::size_t>(config.threads) + 4),
          std::move(bundle), std::move(roster)) {}

App::App(config::Config config, std::unique_ptr<store::SessionStore> store,
         std::shared_ptr<const flow::Bundle> bundle, std::shared_ptr<const routing::Roster> roster)
    : config_(std::move(config)),
      // Sessions and remembered answers tell what a contact asked about: sealed at rest, in
      // the database and the turn log (hotline/store/sealed_conversations.hpp).
      store_(store::seal_conversations(std::move(store), config_.secret)),
      bundles_(std::move(bundle)) {
  const config::Config& c = config_;
  // Limits run on real time even when HOTLINE_NOW pins the hotline's clock.
  channels::LimitSettings limits;
  limits.contact_per_minute = c.limits_contact_per_minute;
  limits.global_per_second = c.limits_global_per_second;
  limiter_ = std::make_unique<channels::Limiter>(limits, system_now_ms);
  std::filesystem::path blocklist = c.blocklist_file;
  if (blocklist.is_relative()) blocklist = std::filesystem::path(c.root) / blocklist;
  blocklist_ = std::make_unique<channels::BlocklistFile>(blocklist.string(), c.secret, system_now_ms);
  blocklist_->refresh(*limiter_);

  sms_ = std::make_unique<channels::SmsChannel>(
      bundles_, *store_,
      channels::SmsSettings{c.secret, static_cast<std::int64_t>(c.session_idle_minutes) * 60'000,
                            c.default_language, relay_settings(c).call_from},
      make_clock(c.pinned_now_ms));
  // A session idle this long would start fresh anyway; keeping it only keeps data.
  housekeeper_ = std::make_unique<store::Housekeeper>(
      *store_, make_clock(c.pinned_now_ms), static_cast<std::int64_t>(c.session_idle_minutes) * 60'000,
      static_cast<std::int64_t>(c.relay_retention_days) * 24 * 3'600'000);

  voice_ = std::make_unique<channels::VoiceChannel>(
      bundles_, *store_, voice_settings(c), make_clock(c.pinned_now_ms),
      // The relay holds the roster in use (a reload may swap it); asked once per call turn.
      [this] { return relay_->roster(); },
      [this](const channels::VoicemailNotice& notice) {
        if (voicemail_hook_) voicemail_hook_(notice);
      });

  // The advocate relay and the outbox that carries its messages.
  relay_ = std::make_unique<channels::RelayService>(
      bundles_, *store_, std::move(roster),
      relay_settings(c),
      make_clock(c.pinned_now_ms));
  voice_->set_relay(relay_.get());
  callback_ = std::make_unique<channels::CallbackChannel>(bundles_, *relay_, voice_settings(c),
                                                          relay_settings(c).call_from);
  callback_->set_outbox_wake([this] {
    if (outbox_) outbox_->wake();
  });
  sms_->set_guard([this](const std::string& contact, bool stop) { return guard(contact, stop); });
  sms_->set_relay(relay_.get(), [this] {
    if (outbox_) outbox_->wake();
  });
  // Conversation turns for GET /metrics: channel, the engine's intent and the language only.
  auto& turns = metrics_.counter(
      "hotline_conversation_turns_total",
      "Conversation turns the engine answered (texts, and callers' answers on a call), by channel, "
      "intent (none when nothing matched) and language.",
      {"channel", "intent", "lang"});
  auto count_turn = [&turns](Channel channel, const std::string& intent, Lang lang) {
    turns.with({std::string(channel_name(channel)), intent.empty() ? "none" : intent, std::string(lang_code(lang))}).inc();
  };
  sms_->set_turn_observer(count_turn);
  voice_->set_turn_observer(count_turn);
  verdicts_ = &metrics_.counter("hotline_rate_limit_verdicts_total",
                                "Abuse-limit decisions on inbound texts and calls, by verdict.", {"verdict"});
  auto& sent = metrics_.counter("hotline_outbox_sent_total",
                                "Outbound messages Twilio accepted (including those found at Twilio after "
                                "their send's answer was lost).");
  auto& retries = metrics_.counter("hotline_outbox_retries_total",
                                   "Outbound sends that failed for now (429, 5xx, network), or lookups at Twilio of a send "
                                   "whose outcome was lost that failed; each will be retried.");
  auto& dropped = metrics_.counter("hotline_outbox_dropped_total",
                                   "Outbound messages given up on, by reason.", {"reason"});
  // Known label values show as 0 from the start, so a rate() sees the first one.
  for (const char* reason : {"opted_out", "refused", "too_many_attempts", "unreadable"}) dropped.with({reason});
  for (auto v : {channels::Verdict::allow, channels::Verdict::blocked, channels::Verdict::contact_notice,
                 channels::Verdict::contact_limited, channels::Verdict::global_limited}) {
    verdicts_->with({std::string(channels::verdict_name(v))});
  }
  metrics_.gauge("hotline_outbox_pending", "Outbound messages waiting to be sent, read from the store at each scrape.",
                 [this] { return static_cast<double>(store_->outbox_pending()); });
  metrics_.gauge("hotline_turn_log_damaged_bytes",
                 "Bytes of the turn log found damaged at start (the turns in them are lost; the copy is "
                 "in <database>-turns-damaged.*). Zero when the log was intact.",
                 [this] { return static_cast<double>(store_->turn_log_damaged_bytes()); });
  voice_->set_outbox_wake([this] {
    if (outbox_) outbox_->wake();
  });
  if (!c.twilio_account_sid.empty() && !c.twilio_auth_token.empty() && !c.twilio_from.empty()) {
    rest_ = std::make_unique<twilio::RestClient>(twilio::RestSettings{
        c.twilio_api_base, c.twilio_account_sid, c.twilio_auth_token, 5'000, c.twilio_timeout_ms});
    twilio::OutboxSettings o;
    o.secret = c.secret;
    if (!c.public_url.empty()) o.status_callback = c.public_url + "/twilio/status";
    o.messages_per_second = c.outbox_messages_per_second;
    o.retry_base_ms = c.outbox_retry_base_ms;
    o.max_attempts = c.outbox_max_attempts;
    o.observe = [&sent, &retries, &dropped](std::string_view outcome, std::string_view reason) {
      if (outcome == "sent") sent.with().inc();
      else if (outcome == "retry") retries.with().inc();
      else dropped.with({std::string(reason)}).inc();
    };
    // A message to the person a row is about (not to their advocate) waits on their opt-out.
    o.withheld = [this, secret = c.secret](const store::OutboxRow& row, const std::string& to) {
      return channels::contact_key_of(secret, to) == row.contact_key && store_->is_opted_out(row.contact_key);
    };
    o.send_timeout_ms = 5'000 + c.twilio_timeout_ms;  // connect + request, as given to the REST client
    o.lookup_delay_ms = c.twilio_timeout_ms;  // the client gives up on a request by then
    outbox_ = std::make_unique<twilio::OutboxWorker>(
        *store_, [this](const twilio::OutboundSms& m) { return rest_->send_message(m); },
        [this](const twilio::MessageQuery& q) { return rest_->list_messages(q); }, o, [this] { relay_->sweep(); });
    outbox_->set_call([this](const twilio::OutboundCall& call) { return rest_->place_call(call); });
  } else {
    log::warn("outbound_disabled", {{"message", "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM are "
                                                "not all set: relay messages stay in the outbox, unsent"}});
  }

  http::Routes routes;
  routes.sms = [this](const twilio::FormFields& form) { return sms_->handle(form); };
  // Delivery updates for what the outbox sent (StatusCallback): final ones erase the row.
  routes.twilio["/twilio/status"] = [this](const twilio::FormFields& form) {
    const std::string sid = twilio::field(form, "MessageSid").value_or("");
    const std::string status = twilio::field(form, "MessageStatus").value_or("");
    // A signed callback with nothing in it names no message: nothing to record, nothing wrong
    // to report back (a 4xx would only sit in Twilio's debugger), so it is logged and answered.
    if (form.empty()) {
      log::info("outbound_status_ignored", {{"reason", "empty body"}});
      return channels::WebhookResponse{200, "text/xml", twilio::TwiML().str()};
    }
    if (sid.empty() || sid.size() > 64 || status.empty() || status.size() > 32) {
      return channels::WebhookResponse{400, "text/plain; charset=utf-8", "missing MessageSid or MessageStatus\n"};
    }
    std::string error = twilio::field(form, "ErrorCode").value_or("");
    if (error.size() > 16) error.resize(16);
    const bool known = store_->outbound_status(sid, status, error, system_now_ms());
    log::info("outbound_status", {{"sid", sid}, {"status", status}, {"known", known}, {"error_code", error}});
    // A failed message may have someone to tell (the relay's sweep, on the worker's next pass).
    if (known && (status == "failed" || status == "undelivered") && outbox_) outbox_->wake();
    return channels::WebhookResponse{200, "text/xml", twilio::TwiML().str()};
  };
  add_voice_routes(routes, *voice_);
  routes.twilio[channels::kVoiceCallbackPath] = [this](const twilio::FormFields& f) { return callback_->answered(f); };
  routes.twilio[channels::kVoiceCallbackDonePath] = [this](const twilio::FormFields& f) { return callback_->finished(f); };
  // A new call passes the same limits as a text; a refused one is rejected before it is answered
  // (the callbacks of a call already taken are not limited).
  routes.twilio[channels::kVoicePath] = [this](const twilio::FormFields& form) {
    // Keyed as the SMS channel keys a texter. A caller whose number is withheld ("Anonymous")
    // or unreadable is answered all the same, without a per-number limit: a person who hides
    // their number from a hotline may have good reason to.
    const auto from = channels::normalize_address(twilio::field(form, "From").value_or(""));
    if (from && guard(channels::contact_key_of(config_.secret, *from)) != channels::Verdict::allow) {
      twilio::TwiML reject;
      reject.verb("Reject", {{"reason", "busy"}});
      return channels::WebhookResponse{200, "text/xml", reject.str()};
    }
    return voice_->incoming(form);
  };
  auto& store_failures = metrics_.counter(
      "hotline_store_failures_total",
      "Twilio webhooks answered 503 because the store could not keep their turn (a database error, "
      "the turn log full), by route. Twilio then uses the number's Fallback URL.",
      {"route"});
  routes.sms = answering_store_failures("/twilio/sms", std::move(routes.sms), store_failures);
  for (auto& [path, handler] : routes.twilio) handler = answering_store_failures(path, std::move(handler), store_failures);
  routes.ready = [this] { return store_->healthy() && bundles_.get() != nullptr; };
  routes.ready_note = [this] {
    std::lock_guard<std::mutex> lock(not_from_disk_mutex_);
    return not_from_disk_;
  };
  metrics_.gauge("hotline_bundle_from_disk",
                 "1 when the flows and prompts serving are the files on disk; 0 when they are the last good "
                 "copy kept beside the database because the files on disk did not pass `hotline check` at start.",
                 [this] { return bundle_from_disk_.load() ? 1.0 : 0.0; });
  // If a handler fails otherwise (a bug), Twilio still gets valid TwiML (an empty reply).
  routes.fallback_twiml = twilio::TwiML().str();
  routes.metrics = &metrics_;
  // POST /admin/reload (behind HOTLINE_ADMIN_TOKEN): what SIGHUP does, with the outcome as JSON.
  routes.admin_reload = [this] {
    const flow::ReloadResult result = reload("admin request");
    nlohmann::json errors = nlohmann::json::array(), warnings = nlohmann::json::array();
    for (const auto& d : result.diags.items()) {
      nlohmann::json item = {{"file", d.where.file}, {"line", d.where.line}, {"column", d.where.column},
                             {"code", d.code}, {"message", d.message}};
      (d.severity == Severity::error ? errors : warnings).push_back(std::move(item));
    }
    const nlohmann::json body = {{"ok", result.swapped}, {"errors", errors}, {"warnings", warnings}};
    return channels::WebhookResponse{result.swapped ? 200 : 422, "application/json",
                                     body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
  };
  // GET /admin/status: what serves, since when, whether the files on disk differ, and why not.
  routes.admin_status = [this] {
    const auto bundle = bundles_.get();
    const nlohmann::json body = admin_status(reloader_->status(), bundle ? bundle->flow.name : "", config_.root);
    return channels::WebhookResponse{200, "application/json",
                                     body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
  };
  server_ = std::make_unique<http::Server>(
      http::ServerSettings{.bind = c.bind, .port = c.port, .threads = c.threads,
                           .max_body_bytes = c.max_body_bytes, .public_url = c.public_url,
                           .auth_token = c.twilio_auth_token, .admin_token = c.admin_token,
                           .limits = http::ConnectionLimits{}},
      std::move(routes));

  // A reload asks the same question as `hotline check` and start-up (check_servable), of the
  // files as they are now. It swaps in flows, prompts, intents, examples and sources (rendered
  // with the `details:` the configuration now has) and the roster; every other setting is
  // checked, so a broken edit is refused and logged, but takes effect only at a restart, which
  // the reload says with a `restart-needed` warning.
  const std::vector<std::string> watched = watched_files(c);
  const std::string& config_file = watched[0];
  const std::string& roster_file = watched[1];
  flow::ReloadSettings reload;
  reload.root = c.root;
  reload.details = c.details;
  reload.extra_files = watched;
  reload.load = [this, location = BundleLocation{c.root, config_file, {}}, kept = last_good_folder(c),
                 config_file, config_at_start = file_content(config_file), roster_file,
                 roster_in_use = file_content(roster_file)](Diagnostics& d) mutable -> std::shared_ptr<const flow::Bundle> {
    Servable s = check_servable(location);
    if (file_content(config_file) != config_at_start) {
      d.warning(Position{config_file, 0, 0}, "restart-needed",
                "this file changed since the server started: `details:` are in use now, every other "
                "setting takes effect at the next restart");
    }
    d.append(s.diags);
    if (!s.ok()) return nullptr;
    // The roster passed with the rest, so it goes into service with them: the Reloader swaps
    // in exactly what this returns, and a refused reload (above) keeps the roster in use too.
    // Reloads run one at a time, so `roster_in_use` needs no lock.
    relay_->set_roster(s.roster);
    if (std::string now = file_content(roster_file); now != roster_in_use) {
      roster_in_use = std::move(now);
      log::info("roster_reloaded", {{"file", roster_file}, {"advocates", s.roster->all().size()}});
    }
    // What passed is the copy a restart may have to start from.
    if (!kept.empty()) {
      if (const std::string why = keep_last_good(location.root, kept); !why.empty()) {
        log::warn("last_good_bundle_not_kept", {{"folder", kept}, {"message", why}});
      }
    }
    return s.bundle;
  };
  auto& reloads = metrics_.counter("hotline_flow_reloads_total",
                                   "Reloads of flows and prompts (file edits, SIGHUP, POST /admin/reload), by result.",
                                   {"result"});
  reloads.with({"swapped"});
  reloads.with({"refused"});
  reload.observe = [this, &reloads](bool swapped) {
    reloads.with({swapped ? "swapped" : "refused"}).inc();
    if (swapped && !bundle_from_disk_.exchange(true)) {
      std::lock_guard<std::mutex> lock(not_from_disk_mutex_);
      not_from_disk_.clear();
      log::info("serving_bundle_from_disk", {{"message", "the files on disk pass again and are serving"}});
    }
  };
  reloader_ = std::make_unique<flow::Reloader>(bundles_, std::move(reload));
}

channels::Verdict App::guard(const std::string& contact_key, bool stop) {
  blocklist_->refresh(*limiter_);
  const channels::Verdict verdict = limiter_->check(contact_key, stop);
  verdicts_->with({std::string(channels::verdict_name(verdict))}).inc();
  if (verdict == channels::Verdict::global_limited) {
    // At most one line a second, however hard the flood.
    const std::int64_t now = system_now_ms();
    std::int64_t last = global_limit_logged_ms_.load();
    if (now - last >= 1000 && global_limit_logged_ms_.compare_exchange_strong(last, now)) {
      log::warn("global_limit", {{"per_second", config_.limits_global_per_second}});
    }
  }
  return verdict;
}

void App::serving_last_good(std::string why, Diagnostics disk_refusal) {
  std::lock_guard<std::mutex> lock(not_from_disk_mutex_);
  not_from_disk_ = std::move(why);
  bundle_from_disk_ = false;
  reloader_->serving_last_good(std::move(disk_refusal));
}

App::~App() {
  if (reloader_) reloader_->stop();
  stop();
  stop_workers();  // when run() never ran
}

int App::bind() { return server_->bind(); }
bool App::run() {
  if (outbox_) outbox_->start();
  housekeeper_->start();
  // Returns once stop() closed the listener and every handler running has answered.
  const bool ok = server_->run();
  stop_workers();
  return ok;
}
void App::stop() { server_->stop(); }

// In this order, after the server: a webhook still running may queue a message for the outbox,
// which then finishes the send in hand (recording its outcome) before it stops.
void App::stop_workers() {
  if (outbox_) outbox_->stop();
  housekeeper_->stop();
}

}  // namespace hotline::app
