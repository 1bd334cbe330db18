#pragma once
// Voicemail callbacks, the advocate's leg. `#call K7M` (channels/relay.cpp) queues a call from
// the hotline number to the advocate; when they answer, Twilio fetches
// /twilio/voice/callback?code=K7M and hears: which callback this is, the recording (<Play>:
// Twilio fetches its own recording, so nobody needs the account's credentials), then a <Dial>
// to the caller with the hotline number as caller id. Its end (/twilio/voice/callback/done)
// closes the voicemail, and the caller's sealed number with it, or leaves it to try again.
#include <functional>
#include <string>

#include "hotline/channels/relay.hpp"
#include "hotline/channels/voice.hpp"
#include "hotline/channels/webhook.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/twilio/form.hpp"

namespace hotline::channels {

/// How long the caller's phone rings on a callback.
inline constexpr int kCallbackRingSeconds = 30;

/// The TwiML the advocate hears on answering a callback: intro, recording, then the caller dialled
/// with `caller_id` (the hotline number) shown.
std::string callback_twiml(const flow::Bundle& bundle, const VoiceSettings& settings, const CallbackLeg& leg,
                           const std::string& caller_id);

class CallbackChannel {
 public:
  /// `caller_id`: the hotline number the caller sees (the number callbacks are placed from).
  CallbackChannel(flow::BundleHolder& bundles, RelayService& relay, VoiceSettings settings, std::string caller_id);

  /// POST /twilio/voice/callback?code=K7M: the advocate answered. 400 without a CallSid or code.
  WebhookResponse answered(const twilio::FormFields& form);
  /// POST /twilio/voice/callback/done?code=K7M: the <Dial> to the caller ended (DialCallStatus).
  WebhookResponse finished(const twilio::FormFields& form);

  /// Called after texts to the advocate were queued (to wake the outbox worker).
  void set_outbox_wake(std::function<void()> wake) { on_outbound_ = std::move(wake); }

 private:
  /// What the advocate whose phone is `to` is told in, or English.
  Lang advocate_language(const std::string& to) const;
  WebhookResponse say_and_hang_up(Lang lang, const std::string& key) const;

  flow::BundleHolder& bundles_;
  RelayService& relay_;
  VoiceSettings settings_;
  std::string caller_id_;
  std::function<void()> on_outbound_;
};

}  // namespace hotline::channels
