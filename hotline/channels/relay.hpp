#pragma once
// The masked SMS relay between a texter and the advocates on shift. Decides who is told what
// and writes it as relay changes and outbound messages into the caller's store::TurnRecord,
// so a turn's state change and the messages it causes commit together. Sending is the
// outbox worker's job; this class never talks to the network.
//
// A voicemail is a relay too (same codes, offers, claims, retention): its contact_key is the
// call's key ("v_…", see is_voicemail), its sealed field holds the recording, and nothing is
// ever texted to the caller. Its owner calls back with `#call K7M`: a call queued in the outbox
// rings the advocate from the hotline number, and channels/callback.cpp answers that call.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hotline/common/clock.hpp"
#include "hotline/flow/bundle.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::channels {

struct RelaySettings {
  std::string secret;                            // HOTLINE_SECRET: seals numbers and text at rest
  std::string sender;                            // TWILIO_FROM or a MessagingServiceSid
  std::string whatsapp_sender;                   // TWILIO_WHATSAPP_FROM ("whatsapp:+1…"); "" = see sender_for
  std::int64_t claim_timeout_ms = 15 * 60'000;   // then the texter is told nobody is free yet
  std::size_t max_message_bytes = 300;           // of the first message shown in an offer
  std::int64_t hold_ms = 10 * 60'000;            // how long a message not sent waits for "1"/"2"
  std::int64_t escalate_after_ms = 5 * 60'000;   // untaken: offered again, then to coordinators
  std::string call_from;   // the hotline number callbacks ring from and show (E.164); "" = no callbacks
  std::string public_url;  // HOTLINE_PUBLIC_URL: where Twilio fetches a callback's TwiML
  /// relay.whatsapp_template_sid: an approved WhatsApp template (Twilio Content SID, "HX…") whose
  /// one variable {{1}} carries an advocate's words to a WhatsApp texter who last wrote more than
  /// 24 hours ago; "" = such words are not sent, and the advocate is told why at once.
  std::string whatsapp_template_sid;
};

/// WhatsApp delivers free-form messages only within this long of the person's last message
/// (Twilio error 63016 otherwise); after it, only approved templates.
inline constexpr std::int64_t kWhatsAppWindowMs = 24LL * 3'600'000;

/// A relay just opened: what the texter is told instead of the flow's hand-off prompt (after
/// hours, the hours; "" = keep the prompt), and a WhatsApp texter after hours, when no template
/// is configured, a second message on the 24-hour window ("" = none).
struct Opened {
  std::string instead;
  std::string whatsapp_window;
};

/// The sender of a message to `to`, on the channel `to` is on: Twilio refuses a `whatsapp:`
/// recipient from an SMS number and the other way round (error 21910). A WhatsApp recipient
/// gets TWILIO_WHATSAPP_FROM, else the WhatsApp form of TWILIO_FROM (the number registered for
/// both); a Messaging Service SID serves both channels as it is.
std::string sender_for(std::string_view to, const RelaySettings& settings);

/// A voicemail, as the voice channel hands it over.
struct Voicemail {
  std::string call_key;       // the call's hashed id: the relay's contact_key
  std::string caller;         // the number to call back; sealed at rest, never logged
  Lang lang = Lang::en;
  std::string recording_url;  // Twilio's, credentialed: played on the callback call, never texted
  int seconds = 0;
};

/// What the advocate's leg of a callback needs (found only for the owner's phone).
struct CallbackLeg {
  std::string code;
  Lang lang = Lang::en;  // the caller's
  int seconds = 0;
  std::string recording_url;
  std::string caller;    // never logged
  routing::Advocate advocate;
};

/// True for a relay that is a voicemail (keyed by its call, not by a texter).
bool is_voicemail(const store::Relay& relay);

/// The keys of voicemails left from `number` still waiting to be called back, for `hotline
/// forget` (a voicemail is keyed by its call, so the number's hash does not find it).
std::vector<std::string> voicemails_from(store::SessionStore& store, const std::string& secret,
                                         const std::string& number);

/// Where Twilio fetches the TwiML of a callback's advocate leg, and reports its <Dial>'s end.
inline constexpr const char* kVoiceCallbackPath = "/twilio/voice/callback";
inline constexpr const char* kVoiceCallbackDonePath = "/twilio/voice/callback/done";

class RelayService {
 public:
  RelayService(flow::BundleHolder& bundles, store::SessionStore& store,
               std::shared_ptr<const routing::Roster> roster, RelaySettings settings, Clock clock);

  /// Relay decisions and their commit happen under this lock, so two advocates replying at
  /// once are decided one after the other, on whichever replicas they land (the store's
  /// version check is the second line of defence). Take it after a contact's lock, never before.
  std::unique_ptr<store::KeyLock> lock() { return store_.lock_key("relays"); }

  std::shared_ptr<const routing::Roster> roster() const;
  void set_roster(std::shared_ptr<const routing::Roster> roster);

  /// The open relay of this texter, if any.
  std::optional<store::Relay> relay_of(const std::string& contact_key);

  /// An advocate texted the hotline. Returns the reply to the advocate (may be empty); the
  /// relay changes and messages to others go into `turn`. Words reach a texter only when the
  /// advocate named the conversation ("K7M hola", `#take K7M`, or "1"/"2" after being asked),
  /// or wrote without a code to their one open conversation with nothing else in between.
  std::string from_advocate(const routing::Advocate& advocate, const std::string& text,
                            store::TurnRecord& turn);

  /// The texter wrote from `address` (as normalize_address gives it): if that is another
  /// channel than the relay's (SMS, then WhatsApp, or back), the relay now writes to them
  /// there, where they last wrote. Returns true when `relay` changed (the caller writes it).
  bool follow_texter(store::Relay& relay, const std::string& address) const;

  /// The texter of a claimed relay wrote: the text goes to the advocate, prefixed with the code
  /// (and with a warning when it reads as an emergency: the texter was told to call 911).
  void from_texter(const store::Relay& relay, const std::string& text, store::TurnRecord& turn,
                   bool emergency = false);

  /// The texter of a claimed relay sent only media (a picture, voice note, location pin): the
  /// advocate is told so (`relay_forward_media`), and nothing of the media is passed on.
  void media_from_texter(const store::Relay& relay, store::TurnRecord& turn);

  /// The texter of a relay nobody has taken yet wrote: the words are kept (sealed, with the
  /// relay) for whoever takes it, and delivered right after the take. `emergency`: the texter
  /// was told to call 911, and the advocate will be told so.
  void while_waiting(const store::Relay& relay, const std::string& text, bool emergency, store::TurnRecord& turn);

  /// The texter of a claimed relay wrote after their advocate's shift ended, and the advocate
  /// did not keep it (#keep): the relay is queued again and offered to the advocates on shift,
  /// quoting `text`; nothing goes to the off-shift phone. Returns the reply to the texter, or
  /// nothing when the advocate is on shift or kept it (then from_texter applies).
  std::optional<std::string> hand_on(const store::Relay& relay, const std::string& text, store::TurnRecord& turn);

  /// The texter opted out (STOP): the relay ends, and the advocate who has it, or the advocates
  /// who were offered it, are told.
  void texter_left(const store::Relay& relay, store::TurnRecord& turn);

  /// The engine handed a texter off to a person. Opens a relay (unless one is open) and offers
  /// it to the advocates on shift, saying the `topic` (the intent they asked about before, or
  /// "") and `first_message` (their own words when they wrote a request, or ""). Returns text to
  /// say instead of the flow's hand-off prompt (after hours), or "" to keep it.
  Opened open(const std::string& contact_key, const std::string& phone, Lang lang, const std::string& topic,
              const std::string& first_message, store::TurnRecord& turn);

  /// A caller left a voicemail: a relay with a code of its own, offered to the advocates on shift
  /// who take calls and speak the caller's language (or when their shift starts). The caller is
  /// never texted. Take lock() first.
  void open_voicemail(const Voicemail& voicemail, store::TurnRecord& turn);

  /// The advocate answered a callback call of voicemail `code`: what to play and whom to dial.
  /// Nothing unless `code` is a voicemail claimed by the advocate whose phone is `advocate_phone`.
  std::optional<CallbackLeg> callback_leg(const std::string& code, const std::string& advocate_phone);

  /// The callback's <Dial> to the caller ended with `dial_status`. Completed: the voicemail is
  /// closed, and the caller's sealed number with it. Otherwise it stays the advocate's to try
  /// again. Either way the advocate is texted. Commits itself; true when something was queued.
  /// `call_sid` names the callback call, so a redelivered webhook texts the advocate once.
  bool callback_finished(const std::string& code, const std::string& advocate_phone,
                         const std::string& dial_status, const std::string& call_sid);

  /// Periodic work (the outbox worker calls it): tells advocates about messages that could not
  /// be delivered, offers queued relays to advocates whose shift has started (or who are free
  /// again), escalates requests nobody takes (offered again, then to coordinators), tells
  /// texters waiting longer than the claim timeout, and reminds advocates whose shift ended with
  /// conversations open. Commits itself.
  void sweep();

  /// Renders a prompt for SMS with the organisation's details and `vars`.
  std::string text(Lang lang, const std::string& key, prompts::Variables vars) const;

 private:
  /// The topic and the words, kept together in the relay's one sealed field.
  static constexpr char kTopicSeparator = '\x1f';
  /// What the next advocate should know (store::Relay::context_sealed, opened).
  struct Context {
    bool after_hours = false;  // nobody was on shift when it was asked
    std::string note;          // from the advocate who released it (#release K7 <note>)
    struct Message {
      std::string text;
      bool emergency = false;
    };
    std::vector<Message> waiting;  // what the texter wrote while nobody had taken it
    int omitted = 0;               // earlier messages not kept (only the latest few are)
    std::vector<std::string> unreachable;  // advocates an offer could not be delivered to
  };
  Context context_of(const store::Relay& relay) const;
  void set_context(store::Relay& relay, const Context& context) const;
  /// " Waiting 25 min. Asked after hours. Note: …" for an offer, in the advocate's language.
  std::string offer_context(const store::Relay& relay, const Context& context, Lang advocate_lang,
                            std::int64_t now_ms) const;
  /// Messages that could not be delivered: their writer is told, or an offer goes further.
  void handle_delivery_failures(std::int64_t now_ms);
  std::string request_summary(const std::string& packed, Lang advocate_lang) const;
  void offer(store::Relay& relay, const std::string& purpose, store::TurnRecord& turn, bool again);
  /// `on_failure`: whom to tell if it cannot be delivered (store::OutboundMessage::on_failure).
  void send(store::TurnRecord& turn, const std::string& purpose, const std::string& to,
            const std::string& body, const std::string& contact_key, const std::string& on_failure = "");
  /// The hotline's own notice to the texter of a waiting `relay` (no advocate reached, still
  /// waiting): not sent to a WhatsApp texter whose 24 hours have passed, who could not get it.
  void notify_texter(store::TurnRecord& turn, const store::Relay& relay, const std::string& purpose,
                     const std::string& body, std::int64_t now_ms);
  /// A message about `relay` to an advocate: it is also noted that something of that
  /// conversation reached them (see store::AdvocateNote::focus_code).
  void send_to_advocate(store::TurnRecord& turn, const std::string& purpose, const routing::Advocate& advocate,
                        const std::string& body, const store::Relay& relay);
  /// The advocate's note as this turn leaves it, added to the turn's writes.
  store::AdvocateNote& note_of(store::TurnRecord& turn, const std::string& advocate_id);
  /// The advocate's note as this turn leaves it, for reading only.
  store::AdvocateNote peek_note(const store::TurnRecord& turn, const std::string& advocate_id);
  /// Something about conversation `code` reached the advocate: a text without a code no longer
  /// goes to another conversation of theirs until they write in it again.
  void reached(store::TurnRecord& turn, const std::string& advocate_id, const std::string& code);
  void set_focus(store::TurnRecord& turn, const std::string& advocate_id, const std::string& code);
  /// The advocate's words to the texter of `relay` (theirs, claimed). Returns the reply to the
  /// advocate: "" when they were sent, else why not (a WhatsApp texter out of the window).
  std::string forward_to_texter(const store::Relay& relay, const routing::Advocate& advocate, const std::string& words,
                                store::TurnRecord& turn);
  /// Whether `texter` (the relay's number, unsealed) is on WhatsApp and last wrote 24 hours or
  /// more before `now_ms`: then only a template reaches them.
  static bool whatsapp_window_closed(const store::Relay& relay, const std::string& texter, std::int64_t now_ms);
  /// `words` to a WhatsApp texter out of the window, inside the configured template.
  void send_template(store::TurnRecord& turn, const std::string& purpose, const std::string& to,
                     const std::string& words, const store::Relay& relay, const std::string& on_failure);
  /// "K7M words": to the conversation the advocate named, or a reply saying why not.
  std::string to_code(const routing::Advocate& advocate, const std::string& code, const std::string& words,
                      const std::vector<store::Relay>& all, store::TurnRecord& turn);
  /// A text without a code whose conversation is not certain: sent nowhere, held briefly.
  std::string hold(const routing::Advocate& advocate, const std::string& message,
                   const std::vector<store::Relay>& candidates, store::TurnRecord& turn);
  /// The reply to a code that names no open relay: closed (recently), or unknown.
  std::string not_open(const routing::Advocate& advocate, const std::string& code,
                       const std::vector<store::Relay>& mine, std::int64_t now_ms);
  /// `#call K7M`: the hotline rings the advocate, then the caller of voicemail K7M.
  std::string call_back(store::Relay relay, const routing::Advocate& advocate, store::TurnRecord& turn);
  std::string voicemail_offer(const store::Relay& relay, Lang advocate_lang, std::int64_t now_ms) const;
  std::string claim(store::Relay relay, const routing::Advocate& advocate, const std::string& text,
                    store::TurnRecord& turn);
  std::string end(const store::Relay& relay, const routing::Advocate& advocate, store::TurnRecord& turn);
  std::string release(store::Relay relay, const routing::Advocate& advocate, const std::string& note,
                      store::TurnRecord& turn);
  std::string new_code(std::int64_t now_ms);

  // --- The advocate's console (relay_console.cpp) --------------------------------------------
  /// `#list`, `#pause`, `#available`, `#help`, or an unknown `#word`: the reply.
  std::string console_command(const routing::Advocate& advocate, const std::string& command,
                              const std::vector<store::Relay>& all, store::TurnRecord& turn);
  std::string list(const routing::Advocate& advocate, const std::vector<store::Relay>& all,
                   const store::TurnRecord& turn);
  std::string set_paused(const routing::Advocate& advocate, bool paused, store::TurnRecord& turn);
  /// `#keep K7M`: texts keep coming to the advocate after their shift ends.
  std::string keep(store::Relay relay, const routing::Advocate& advocate, store::TurnRecord& turn);
  /// Whether offers go to `advocate` now: not paused, and below their cap of open conversations.
  bool takes_offers(const routing::Advocate& advocate, const std::vector<store::Relay>& all,
                    const store::TurnRecord& turn);
  /// What the person needs, for advocates: their request while it is kept, else the topic.
  std::string describe(const store::Relay& relay, Lang advocate_lang) const;
  /// A request nobody has taken: offered again after `escalate_after_ms`, then to the
  /// coordinators; to them at once when nobody on shift can take it in its language (the line
  /// being open). True when `relay` changed.
  bool escalate(store::Relay& relay, const std::vector<store::Relay>& all, store::TurnRecord& turn);
  void to_coordinators(store::Relay& relay, const std::string& prompt, store::TurnRecord& turn);
  /// Advocates whose shift has ended with conversations open are reminded once (and those back
  /// on shift are forgotten about). Commits itself.
  void remind_shift_ends(std::int64_t now_ms);
  std::string unseal(const std::string& sealed, const char* context) const;

  flow::BundleHolder& bundles_;
  store::SessionStore& store_;
  mutable std::mutex roster_mutex_;
  std::shared_ptr<const routing::Roster> roster_;
  RelaySettings settings_;
  Clock clock_;
};

}  // namespace hotline::channels
