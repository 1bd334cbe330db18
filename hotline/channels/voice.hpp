#pragma once
// Voice: Twilio call webhooks in, TwiML out. A call first hears a short bilingual language menu,
// then runs the same flow as SMS through the same engine (keypad digits or speech are the
// input text), and reaches advocates through <Dial>, or leaves a voicemail when nobody answers.
//
// Split like the SMS channel, with a pure middle so `hotline simulate --channel voice` and tests
// can run a call without a server or a store:
//   voice_start / voice_gather / voice_dial_result / voice_recorded   (CallState, input) → VoiceReply
//   voice_twiml                                                        VoiceReply → TwiML
//   VoiceChannel                                                       forms + store around them
//
// Routes (all POST, all signature-checked):
//   /twilio/voice               a new call: the language menu
//   /twilio/voice/gather        <Gather> result: Digits or SpeechResult (+ Confidence)
//   /twilio/voice/dial          <Dial> result: DialCallStatus
//   /twilio/voice/record        <Record> result: RecordingUrl …
//   (these three with ?turn=N, the answer they follow: a callback posted again is answered the
//   same and does not advance the call; see voice_retries.hpp)
//   /twilio/voice/status        call status callback: state is erased when the call ends
//   /twilio/voice/whisper/<lang>, /twilio/voice/whisper/accept   an advocate's leg before bridging
#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hotline/channels/relay.hpp"
#include "hotline/channels/webhook.hpp"
#include "hotline/common/clock.hpp"
#include "hotline/engine/engine.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/form.hpp"

namespace hotline::channels {

inline constexpr const char* kVoicePath = "/twilio/voice";
inline constexpr const char* kVoiceGatherPath = "/twilio/voice/gather";
inline constexpr const char* kVoiceDialPath = "/twilio/voice/dial";
inline constexpr const char* kVoiceRecordPath = "/twilio/voice/record";
inline constexpr const char* kVoiceStatusPath = "/twilio/voice/status";
inline constexpr const char* kVoiceWhisperPath = "/twilio/voice/whisper";  // + "/en", "/es"
inline constexpr const char* kVoiceWhisperAcceptPath = "/twilio/voice/whisper/accept";

/// Twilio rings at most this many numbers at once in one <Dial>.
inline constexpr std::size_t kMaxDialNumbers = 10;

/// How the hotline sounds in one language: `<Say language voice>`, `<Gather language hints>`.
struct VoiceLanguage {
  std::string language;  // en-US, es-MX …
  std::string voice;     // Polly.Joanna, Polly.Mia …; empty = Twilio's default voice
  std::string hints;     // extra words for speech recognition, comma-separated
};

struct VoiceSettings {
  std::string secret;  // keys call hashes
  Lang default_language = Lang::es;
  VoiceLanguage en{"en-US", "Polly.Joanna",
                   "person, advocate, menu, police, immigration, complaint, yes, no, Spanish"};
  VoiceLanguage es{"es-MX", "Polly.Mia",
                   "persona, asesor, menú, policía, migración, queja, sí, no, inglés"};
  double min_confidence = 0.3;     // speech below this counts as not understood
  std::string caller_id;           // shown to advocates; empty = the hotline number that was called
  int ring_seconds = 20;           // how long advocates' phones ring
  int voicemail_max_seconds = 120;
  std::int64_t call_max_ms = 4 * 60 * 60 * 1000;  // older call state is stale

  const VoiceLanguage& of(Lang lang) const { return lang == Lang::es ? es : en; }
};

/// Where a call stands between webhooks. Stored under a keyed hash of the CallSid; like an SMS
/// session it holds no number and no words the caller said.
struct CallState {
  enum class Phase { language, flow, connecting, voicemail, done };
  Phase phase = Phase::language;
  int tries = 0;            // language menus not answered
  int silences = 0;         // gathers that heard nothing, in the whole call
  int turn = 0;             // the number of the last answer given: its action URLs carry it
  engine::Session session;  // the flow, as the engine sees it
};

std::string encode_call(const CallState& call);
std::optional<CallState> decode_call(const std::string& data);

/// What the caller hears next, and what happens after it.
struct VoiceReply {
  struct Line {
    Lang lang;
    std::string key;   // prompt key, or "" for text from the roster (hours)
    std::string text;
  };
  enum class Then { gather, dial, record, hangup, nothing };

  std::vector<Line> say;
  Then then = Then::hangup;
  Lang lang = Lang::en;            // of the gather / record
  std::vector<std::string> hints;  // gather
  std::vector<std::string> dial;   // numbers to ring (E.164; never logged)
  std::string intent, step;        // for the log and the daily report
  bool ended = false;              // the call state can be erased
  /// Carried in the gather, dial and record action URLs (`?turn=N`), so a callback Twilio posts
  /// again is recognised (voice_retries.hpp); 0 = not numbered (no query string).
  int turn = 0;
  bool not_understood = false;     // the flow said it did not understand (daily report)
  bool handoff = false;            // the flow handed the caller to a person (daily report)
};

/// What a pure call step needs besides the call itself.
struct VoiceContext {
  const flow::Bundle& bundle;
  const VoiceSettings& settings;
  const routing::Roster* roster;  // nullptr = nobody on shift
  std::int64_t now_ms;
};

/// A new call: the bilingual language menu.
VoiceReply voice_start(const VoiceContext& ctx, CallState& call);
/// The caller pressed keys or spoke; `text` is empty when nothing was heard (or the speech was
/// too unsure to use).
VoiceReply voice_gather(const VoiceContext& ctx, CallState& call, const std::string& text);
/// The <Dial> to advocates finished with Twilio's DialCallStatus.
VoiceReply voice_dial_result(const VoiceContext& ctx, CallState& call,
                             const std::string& dial_status);
/// The voicemail was recorded.
VoiceReply voice_recorded(const VoiceContext& ctx, CallState& call);

/// The TwiML for a reply. Gather, Dial and Record actions point at the /twilio/voice/... routes,
/// with the reply's turn.
std::string voice_twiml(const VoiceReply& reply, const VoiceSettings& settings,
                        const std::string& caller_id);
/// What an advocate's leg hears before it is bridged, and the answer to its keypress.
std::string whisper_twiml(const flow::Bundle& bundle, const VoiceSettings& settings, Lang lang);
std::string whisper_answer_twiml(const std::string& digits);

/// `hotline simulate --channel voice`: one call in the terminal. Each input line is what the
/// caller presses or says (an empty line is silence); prints what would be said and what happens
/// next. `lang` skips the language menu as if the caller had chosen it. Nothing is stored.
void simulate_call(const flow::Bundle& bundle, const VoiceSettings& settings,
                   std::optional<Lang> lang, bool json, std::istream& in, std::ostream& out,
                   const routing::Roster* roster = nullptr, std::int64_t now_ms = 0);

/// A caller left a voicemail (what the VoicemailHook sees; the relay makes it a callback request).
struct VoicemailNotice {
  std::string call_key;   // hashed CallSid, safe to log
  Lang lang = Lang::en;
  std::string recording_url;
  std::string recording_sid;
  int duration_seconds = 0;
  std::string caller;     // the caller's number, for the callback; never log or store it in clear
  std::vector<routing::Advocate> notify;  // advocates on shift for the language (may be empty)
};
using VoicemailHook = std::function<void(const VoicemailNotice&)>;

/// The key a call's state is stored under: a keyed hash of the CallSid ("v_" + 32 hex).
std::string call_key(const std::string& secret, const std::string& call_sid);

/// Provides the current roster (it can be reloaded); may return nullptr.
using RosterProvider = std::function<std::shared_ptr<const routing::Roster>()>;

class VoiceChannel {
 public:
  VoiceChannel(flow::BundleHolder& bundles, store::SessionStore& store, VoiceSettings settings,
               Clock clock, RosterProvider roster = {}, VoicemailHook on_voicemail = {});

  // Each handles one signature-checked webhook. None throws for bad input: a 4xx for requests
  // that are not Twilio's, valid TwiML for everything else. A store that cannot keep the call's
  // step throws store::StoreError (the app answers 503: Twilio's Fallback URL).
  WebhookResponse incoming(const twilio::FormFields& form);
  WebhookResponse gather(const twilio::FormFields& form);
  WebhookResponse dial(const twilio::FormFields& form);
  WebhookResponse record(const twilio::FormFields& form);
  WebhookResponse status(const twilio::FormFields& form);
  WebhookResponse whisper(const twilio::FormFields& form, Lang lang);
  WebhookResponse whisper_accept(const twilio::FormFields& form);

  /// Voicemails become relays here (a code, offers to advocates, `#call`); without it they only
  /// reach the VoicemailHook.
  void set_relay(RelayService* relay) { relay_ = relay; }
  /// Called after voicemail notices were queued in the outbox (to wake its worker).
  void set_outbox_wake(std::function<void()> wake) { on_outbound_ = std::move(wake); }
  /// Told after each answer the caller gave (a gather), for metrics.
  void set_turn_observer(TurnObserver observer) { on_turn_ = std::move(observer); }

  /// The key a call's state is stored under.
  std::string call_key(const std::string& call_sid) const { return channels::call_key(settings_.secret, call_sid); }

 private:
  enum class Kind { incoming, gather, dial, record };
  WebhookResponse handle(Kind kind, const twilio::FormFields& form);
  WebhookResponse handle_call(Kind kind, const twilio::FormFields& form);

  flow::BundleHolder& bundles_;
  store::SessionStore& store_;
  VoiceSettings settings_;
  Clock clock_;
  RosterProvider roster_;
  VoicemailHook on_voicemail_;
  RelayService* relay_ = nullptr;
  std::function<void()> on_outbound_;
  TurnObserver on_turn_;
};

}  // namespace hotline::channels
