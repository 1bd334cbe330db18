#pragma once
// SMS: a Twilio message webhook in, one TwiML <Message> out. Loads the conversation, runs one
// engine turn, and stores the result and the answer in one transaction.
#include <array>
#include <cstdint>
#include <functional>
#include <mutex>

#include <nlohmann/json.hpp>

#include "hotline/channels/limits.hpp"
#include "hotline/channels/webhook.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/engine/engine.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/form.hpp"

namespace hotline::channels {

class RelayService;

struct SmsSettings {
  std::string secret;  // keys contact hashes
  std::int64_t session_idle_ms = 60 * 60 * 1000;
  Lang default_language = Lang::es;
  /// The hotline's number that takes calls (E.164: voice.caller_id, else TWILIO_FROM when it is
  /// a number); "" = none known, and a voice note is never told to call.
  std::string calls_number;
};

/// Twilio's own limit for one message body; longer input is cut here before matching.
inline constexpr std::size_t kMaxBodyBytes = 1600;

class SmsChannel {
 public:
  SmsChannel(flow::BundleHolder& bundles, store::SessionStore& store, SmsSettings settings,
             Clock clock);

  /// Handles an inbound message webhook (already signature-checked). Throws store::StoreError
  /// when the store cannot keep the turn (the app answers 503: Twilio's Fallback URL).
  WebhookResponse handle(const twilio::FormFields& form);

  /// Turns on the advocate relay: advocates' texts and texters in a relay go through `relay`;
  /// `outbound_queued` is called after a turn put messages in the outbox (wakes the worker).
  void set_relay(RelayService* relay, std::function<void()> outbound_queued);

  /// Abuse limits (blocklist, rate limits), asked with the contact's key, and whether the
  /// message is a STOP keyword, before the conversation is touched. Anything but Verdict::allow
  /// is answered here and changes nothing, with two exceptions: a redelivered MessageSid gets
  /// the answer remembered for it, and a blocked number's STOP is recorded as an opt-out.
  using Guard = std::function<Verdict(const std::string& contact_key, bool stop)>;
  void set_guard(Guard guard) { guard_ = std::move(guard); }
  /// Told after each engine turn (for metrics).
  void set_turn_observer(TurnObserver observer) { on_turn_ = std::move(observer); }

 private:
  struct Turn;
  std::optional<WebhookResponse> refuse_if_limited(const Turn& turn);
  std::optional<WebhookResponse> read_message(const twilio::FormFields& form, Turn& turn) const;
  std::optional<WebhookResponse> load_turn(Turn& turn);
  std::optional<WebhookResponse> relay_step(Turn& turn);
  WebhookResponse flow_step(Turn& turn);
  void hand_off(Turn& turn, const engine::Session& before, engine::Outcome& outcome);
  void count_turn(Turn& turn, const engine::Outcome& outcome, bool started, bool opted_out);
  WebhookResponse commit_relay_turn(Turn& turn, const std::string& reply, const nlohmann::json& log_fields);
  void keep_texter_on_relay(Turn& turn);
  bool calls_welcome(const twilio::FormFields& form) const;

  RelayService* relay_ = nullptr;
  Guard guard_;
  TurnObserver on_turn_;
  std::function<void()> outbound_queued_;

  flow::BundleHolder& bundles_;
  store::SessionStore& store_;
  SmsSettings settings_;
  Clock clock_;
  // Messages of one contact are handled one at a time; different contacts run in parallel.
};

/// The TwiML for an SMS reply: one <Message>, or an empty <Response/> when nothing is said.
std::string sms_twiml(const std::string& text);
/// The same for several messages (a second answer goes as its own <Message>).
std::string sms_twiml(const std::vector<std::string>& texts);

/// What a number over its per-contact limit hears, once: both languages, no store involved.
inline constexpr const char* kSlowDownNotice =
    "Recibimos muchos mensajes seguidos. Espere un minuto y escriba otra vez.\n\n"
    "Too many messages at once. Please wait a minute and write again.";

/// Cuts to at most `max_bytes` without splitting a UTF-8 character.
std::string truncate_utf8(const std::string& text, std::size_t max_bytes);

}  // namespace hotline::channels
