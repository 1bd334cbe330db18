#pragma once
// Everything a conversation needs, loaded and checked together: the flow, the prompts in every
// language, and the intents. Immutable; a reload builds a new one and swaps the pointer.
#include <map>
#include <memory>
#include <set>
#include <string>

#include "hotline/common/diagnostic.hpp"
#include "hotline/flow/model.hpp"
#include "hotline/flow/sources.hpp"
#include "hotline/nlu/classifier.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/prompts/catalog.hpp"

namespace hotline::flow {

struct Bundle {
  Flow flow;
  prompts::Catalog prompts;
  nlu::IntentModel intents;      // the intents (flows/intents.yaml) and their keyword phrases
  nlu::Classifier classifier;    // trained on flows/examples/*.tsv
  std::vector<Source> sources;   // flows/sources.yaml: where the facts come from, and their dates
  prompts::Variables details;  // organisation details from staff configuration
};

/// Prompts the engine itself says, whatever the flow: keyword replies and the bilingual hello.
inline constexpr const char* kEnginePrompts[] = {"help", "opted_out", "opted_in", "language_set",
                                                 "choose_language", "not_understood",
                                                 "unsupported_media", "flow_changed"};

/// Prompts the engine says when it understands with the trained classifier (a bundle with
/// examples): the 911 line for a message that may be an emergency, the question back when
/// unsure, and the answer to someone waiting for an advocate.
inline constexpr const char* kUnderstandingPrompts[] = {"emergency_first", "clarify", "advocate_waiting",
                                                        "advocate_waiting_after_hours"};

/// Every intent has a `topic_<intent>` prompt: a few words naming the question ("whether you
/// can call the police"), for the question back when unsure and for advocates' offers.
inline constexpr const char* kTopicPrefix = "topic_";

/// Prompts the advocate relay says (channels/relay.cpp), to advocates and to texters.
inline constexpr const char* kRelayPrompts[] = {
    "relay_offer", "relay_offer_again", "relay_taken", "relay_claimed", "relay_forward",
    "relay_forward_emergency", "relay_topic", "relay_no_topic",
    "relay_texter_left", "relay_closed", "relay_released", "relay_no_conversation",
    "relay_unknown_code", "relay_which", "relay_advocate_help", "relay_connected",
    "relay_after_hours", "relay_no_answer", "relay_ended", "relay_staff_only",
    "relay_code_closed", "relay_not_yours", "relay_held", "relay_choice_waiting",
    "relay_offer_waited", "relay_offer_after_hours", "relay_offer_wrote", "relay_offer_note",
    "relay_waiting_forward", "relay_withdrawn", "relay_not_delivered", "relay_reason_opted_out",
    "relay_reason_error", "relay_reason_stopped", "relay_no_advocate_reached",
    // WhatsApp's 24-hour window: offers, the texter after hours, words not sent, a failure (63016)
    "relay_offer_whatsapp", "relay_offer_whatsapp_closed", "relay_whatsapp_window", "relay_whatsapp_closed",
    "relay_claimed_whatsapp_closed", "relay_reason_whatsapp_window",
    // voicemails: offers and `#call` (relay.cpp), and the advocate's leg of a callback (callback.cpp)
    "voicemail_offer", "voicemail_claimed", "voicemail_no_text", "voicemail_calling", "voicemail_call_failed",
    "voicemail_call_unavailable", "voicemail_call_which", "voicemail_not_a_call",
    "voicemail_callback_done", "voicemail_callback_missed", "voice_callback_intro",
    "voice_callback_connecting", "voice_callback_gone", "voice_callback_ended", "voice_callback_no_answer",
    "voice_callback_withheld"};

/// Prompts of the advocates' console and of escalation (channels/relay_console.cpp).
inline constexpr const char* kConsolePrompts[] = {
    "relay_help", "relay_unknown_command", "relay_paused", "relay_available", "relay_kept",
    "relay_list_mine", "relay_list_open", "relay_list_kept", "relay_list_none", "relay_list_waiting",
    "relay_list_queue", "relay_list_queue_empty", "relay_list_paused", "relay_offer_waiting",
    "relay_still_waiting", "relay_escalated", "relay_escalated_language", "relay_shift_over",
    "relay_handed_on"};

/// Placeholders the relay fills in at run time (not organisation details from the config):
/// the conversation code, its language, the texter's message, the hours, a list of codes, the
/// numbered conversations a held message may go to, what an offer adds (how long they have
/// waited, how many messages they wrote, a release note), why a message was not delivered, the
/// console's lists (minutes, the cap, lines), a voicemail's length and age, and how long is left
/// of a WhatsApp texter's 24-hour window or how long ago they wrote.
inline constexpr const char* kRuntimePlaceholders[] = {"code",   "lang",  "message", "hours",   "codes",
                                                       "first",  "second", "choices", "topic",  "context",
                                                       "waited", "count", "note",    "reason", "error",
                                                       "minutes", "max",  "lines",   "seconds", "age",
                                                       "left",    "ago"};

/// Prompts the voice channel says around the flow: language menu, advocates' whisper, voicemail.
inline constexpr const char* kVoicePrompts[] = {
    "voice_welcome",      "voice_no_answer",     "voice_hours", "voice_next_shift_soon",
    "voice_leave_message", "voice_message_saved", "voice_goodbye", "voice_whisper",
    "voice_error"};

/// Loads `<root>/flows/hotline.yaml`, `<root>/flows/intents.yaml` and `<root>/prompts/<lang>.yaml`
/// and checks them against each other. Returns nullptr when there is any error; every problem,
/// warnings too, is in `diags`.
std::shared_ptr<const Bundle> load_bundle(const std::string& root,
                                          const prompts::Variables& details, Diagnostics& diags);

/// The prompts that name a source's date (`{date_<id>}`), by source id: the answers that rely on it.
std::map<std::string, std::set<std::string>> answers_relying_on_sources(const Bundle& bundle);

/// A warning for every source past its `review_by:` day on `today`, naming the answers that rely
/// on it. `hotline check` prints them; the server logs them at start and on every reload.
Diagnostics sources_due_for_review(const Bundle& bundle, const Day& today);

}  // namespace hotline::flow

#include <mutex>

namespace hotline::flow {

/// The bundle currently serving. Readers take a reference-counted snapshot, so a reload
/// swaps in a new bundle without waiting for, or disturbing, a webhook in flight.
class BundleHolder {
 public:
  explicit BundleHolder(std::shared_ptr<const Bundle> initial) : current_(std::move(initial)) {}
  std::shared_ptr<const Bundle> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return current_;
  }
  void set(std::shared_ptr<const Bundle> next) {
    std::lock_guard<std::mutex> lock(mutex_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Bundle> current_;
};

}  // namespace hotline::flow
