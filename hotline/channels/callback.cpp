#include "hotline/channels/callback.hpp"

#include "hotline/channels/address.hpp"
#include "hotline/common/log.hpp"
#include "hotline/twilio/twiml.hpp"

namespace hotline::channels {
namespace {

twilio::Attributes say_attributes(const VoiceSettings& settings, Lang lang) {
  const VoiceLanguage& l = settings.of(lang);
  twilio::Attributes attrs{{"language", l.language}};
  if (!l.voice.empty()) attrs.emplace_back("voice", l.voice);
  return attrs;
}

WebhookResponse twiml(std::string body) { return {200, "text/xml", std::move(body)}; }

WebhookResponse bad_request(const std::string& route, const std::string& reason) {
  log::warn("voice_rejected", {{"route", route}, {"reason", reason}});
  return {400, "text/plain; charset=utf-8", reason + "\n"};
}

/// A code as the relay writes it (letters and digits, a few characters), else "".
std::string code_of(const twilio::FormFields& form) {
  const std::string code = twilio::field(form, "code").value_or("");
  if (code.size() < 2 || code.size() > 6) return "";
  for (char c : code) {
    if (!std::isupper(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c))) return "";
  }
  return code;
}

bool has_call_sid(const twilio::FormFields& form) {
  const auto sid = twilio::field(form, "CallSid");
  return sid && !sid->empty() && sid->size() <= 64;
}

}  // namespace

std::string callback_twiml(const flow::Bundle& bundle, const VoiceSettings& settings, const CallbackLeg& leg,
                           const std::string& caller_id) {
  const Lang me = leg.advocate.prompt_language;
  prompts::Variables vars = bundle.details;
  vars["code"] = leg.code;
  vars["seconds"] = std::to_string(leg.seconds);
  vars["lang"] = std::string(lang_code(leg.lang));
  auto render = [&](const char* key) {
    const prompts::Prompt* p = bundle.prompts.find(me, key);
    return p ? prompts::fill(p->voice.empty() ? p->sms : p->voice, vars) : std::string();
  };
  twilio::TwiML out;
  out.verb("Say", say_attributes(settings, me), render("voice_callback_intro"));
  // Twilio plays its own recording: the simplest way for an advocate to hear it without the
  // account's credentials, and the link never leaves Twilio and the hotline.
  if (!leg.recording_url.empty()) out.verb("Play", {}, leg.recording_url);
  // A withheld number ("Anonymous") cannot be dialled: the advocate still hears the message,
  // which may say how to reach the caller.
  const auto number_to_dial = normalize_address(leg.caller);
  if (!number_to_dial || number_to_dial->rfind("+", 0) != 0) {
    out.verb("Say", say_attributes(settings, me), render("voice_callback_withheld"));
    out.verb("Hangup");
    return out.str();
  }
  out.verb("Say", say_attributes(settings, me), render("voice_callback_connecting"));
  twilio::TwiML number;
  number.verb("Number", {}, *number_to_dial);
  twilio::Attributes dial{{"action", std::string(kVoiceCallbackDonePath) + "?code=" + leg.code},
                          {"method", "POST"},
                          {"timeout", std::to_string(kCallbackRingSeconds)}};
  if (!caller_id.empty()) dial.emplace_back("callerId", caller_id);
  out.nest("Dial", dial, number);
  return out.str();
}

CallbackChannel::CallbackChannel(flow::BundleHolder& bundles, RelayService& relay, VoiceSettings settings,
                                 std::string caller_id)
    : bundles_(bundles), relay_(relay), settings_(std::move(settings)), caller_id_(std::move(caller_id)) {}

Lang CallbackChannel::advocate_language(const std::string& to) const {
  const auto advocate = relay_.roster()->by_phone(to);
  return advocate ? advocate->prompt_language : Lang::en;
}

WebhookResponse CallbackChannel::say_and_hang_up(Lang lang, const std::string& key) const {
  const auto bundle = bundles_.get();
  twilio::TwiML out;
  out.verb("Say", say_attributes(settings_, lang), bundle->prompts.render(lang, key, Channel::voice, bundle->details));
  out.verb("Hangup");
  return twiml(out.str());
}

WebhookResponse CallbackChannel::answered(const twilio::FormFields& form) {
  if (!has_call_sid(form)) return bad_request("callback", "missing or invalid CallSid");
  const std::string code = code_of(form);
  if (code.empty()) return bad_request("callback", "missing or invalid code");
  const std::string to = twilio::field(form, "To").value_or("");
  const auto leg = relay_.callback_leg(code, to);
  if (!leg) {
    // Ended, released, or taken meanwhile; or not this advocate's phone: nobody is dialled.
    log::info("voicemail_callback", {{"code", code}, {"outcome", "not_open"}});
    return say_and_hang_up(advocate_language(to), "voice_callback_gone");
  }
  log::info("voicemail_callback", {{"code", code}, {"outcome", "dialing"}, {"advocate", leg->advocate.id}});
  return twiml(callback_twiml(*bundles_.get(), settings_, *leg, caller_id_));
}

WebhookResponse CallbackChannel::finished(const twilio::FormFields& form) {
  if (!has_call_sid(form)) return bad_request("callback_done", "missing or invalid CallSid");
  const std::string code = code_of(form);
  if (code.empty()) return bad_request("callback_done", "missing or invalid code");
  const std::string to = twilio::field(form, "To").value_or("");
  const std::string status = twilio::field(form, "DialCallStatus").value_or("");
  const bool reached = status == "completed" || status == "answered";
  const std::string call_sid = *twilio::field(form, "CallSid");
  if (relay_.callback_finished(code, to, status, call_sid) && on_outbound_) on_outbound_();
  return say_and_hang_up(advocate_language(to), reached ? "voice_callback_ended" : "voice_callback_no_answer");
}

}  // namespace hotline::channels
