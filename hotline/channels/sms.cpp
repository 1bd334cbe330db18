#include "hotline/channels/sms.hpp"

#include <algorithm>
#include <functional>

#include "hotline/channels/address.hpp"
#include "hotline/channels/legacy_contact.hpp"
#include "hotline/channels/message_content.hpp"
#include "hotline/channels/daily_counts.hpp"
#include "hotline/channels/relay.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/nlu/understand.hpp"
#include "hotline/prompts/segments.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline/twilio/twiml.hpp"

namespace hotline::channels {
namespace {

WebhookResponse bad_request(const std::string& reason) {
  log::warn("sms_rejected", {{"reason", reason}});
  return {400, "text/plain; charset=utf-8", reason + "\n"};
}

}  // namespace

std::string sms_twiml(const std::string& text) {
  return sms_twiml(std::vector<std::string>{text});
}

std::string sms_twiml(const std::vector<std::string>& texts) {
  twilio::TwiML response;
  for (const auto& text : texts) {
    if (!text.empty()) response.message(text);
  }
  return response.str();
}

std::string truncate_utf8(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

SmsChannel::SmsChannel(flow::BundleHolder& bundles, store::SessionStore& store,
                       SmsSettings settings, Clock clock)
    : bundles_(bundles), store_(store), settings_(std::move(settings)), clock_(std::move(clock)) {}

void SmsChannel::set_relay(RelayService* relay, std::function<void()> outbound_queued) {
  relay_ = relay;
  outbound_queued_ = std::move(outbound_queued);
}

// What one message's turn works with, as it goes through the steps of handle().
struct SmsChannel::Turn {
  std::string from, sid, contact;
  engine::Input input;
  store::ContactView view;
  std::int64_t now = 0;
  std::shared_ptr<const flow::Bundle> bundle;
  store::TurnRecord record;
  std::optional<store::Relay> relay;
  std::unique_ptr<store::KeyLock> relay_lock;
};

// A texter's message changes their relay even when the turn says nothing to it: the relay
// follows them to the channel they wrote from, and WhatsApp's 24 hours start again from now.
// When nothing else in the turn writes their relay (a menu number, HELP), this does.
void SmsChannel::keep_texter_on_relay(Turn& t) {
  if (!t.relay) return;
  for (const auto& change : t.record.relays) {
    if (change.relay.code == t.relay->code) return;
  }
  t.record.relays.push_back({*t.relay, false, t.relay->version});
}

// A voice note may be told to call only when that is true: the number it was sent to is the
// hotline's calling number, and some advocate takes calls.
bool SmsChannel::calls_welcome(const twilio::FormFields& form) const {
  if (settings_.calls_number.empty() || !relay_) return false;
  const auto to = normalize_address(twilio::field(form, "To").value_or(""));
  if (!to || person_of(*to) != settings_.calls_number) return false;
  const auto roster = relay_->roster();
  return std::any_of(roster->all().begin(), roster->all().end(),
                     [](const routing::Advocate& a) { return a.voice && !a.shifts.empty(); });
}

WebhookResponse SmsChannel::commit_relay_turn(Turn& t, const std::string& reply,
                                              const nlohmann::json& log_fields) {
  store::TurnRecord& record = t.record;
  keep_texter_on_relay(t);
  record.keep_session = true;
  record.response = sms_twiml(reply);
  store_.commit_turn(record);
  if (!record.outbound.empty() && outbound_queued_) outbound_queued_();
  auto fields = log_fields;
  fields["outbound"] = record.outbound.size();
  log::info("sms_relay", fields);
  return {200, "text/xml", record.response};
}

// A message's turn, step by step: read it, refuse a flood, take the contact's lock, load what
// the turn needs (or answer a redelivery again), then the relay or the flow, each of which
// commits the turn and its answer together.
WebhookResponse SmsChannel::handle(const twilio::FormFields& form) {
  Turn t;
  if (auto bad = read_message(form, t)) return *bad;
  if (auto refused = refuse_if_limited(t)) return *refused;
  // One message of a contact at a time, on every replica sharing the store.
  const auto contact_lock = store_.lock_key(t.contact);
  if (auto earlier = load_turn(t)) return *earlier;
  if (auto relayed = relay_step(t)) return *relayed;
  return flow_step(t);
}

// What Twilio posted, as the turn's input; a clean 400 for a request no texter could send.
std::optional<WebhookResponse> SmsChannel::read_message(const twilio::FormFields& form, Turn& t) const {
  // Keyed by the address in one form whatever its encoding, so a conversation is found again
  // (and `hotline forget` finds it) however the number arrived.
  const auto from = normalize_address(twilio::field(form, "From").value_or(""));
  auto sid = twilio::field(form, "MessageSid");
  if (!from) {
    return bad_request("missing or invalid From: expected a phone number in E.164 form (+ and digits) "
                       "or a whatsapp:/messenger: address");
  }
  if (!sid || sid->empty() || sid->size() > 64) return bad_request("missing or invalid MessageSid");
  t.from = *from;
  t.sid = *sid;
  t.input.channel = Channel::sms;
  // Twilio answers STOP and the other English opt-out words itself on SMS, not on WhatsApp:
  // there the hotline confirms them (and START) in the person's language.
  t.input.twilio_confirms_opt_out = !t.from.starts_with("whatsapp:");
  auto content = message_content(form);
  t.input.text = truncate_utf8(content.text, kMaxBodyBytes);
  t.input.has_media = content.has_media;
  t.input.attachment = content.attachment;
  t.input.calls_welcome = content.attachment == engine::Attachment::voice_note && calls_welcome(form);
  // One person, one contact, whichever channel they write from (address.hpp).
  t.contact = contact_key_of(settings_.secret, t.from);
  return std::nullopt;
}

// Under the contact's lock: everything the turn reads, in one go (the store's work a message
// costs is this read and the commit at the end). A message Twilio delivers again gets the
// answer it got the first time, and changes nothing.
std::optional<WebhookResponse> SmsChannel::load_turn(Turn& t) {
  // What was kept under their old WhatsApp key moves to them before anything is read.
  if (auto legacy = legacy_whatsapp_key_of(settings_.secret, t.from)) {
    adopt_legacy_contact(store_, *legacy, t.contact, clock_(), settings_.session_idle_ms);
  }
  t.view = store_.read_contact(t.contact, t.sid);
  if (t.view.earlier_response) return WebhookResponse{200, "text/xml", std::move(*t.view.earlier_response)};
  t.now = clock_();
  t.bundle = bundles_.get();
  t.record.contact_key = t.contact;
  t.record.request_id = t.sid;
  t.record.now_ms = t.now;
  return std::nullopt;
}

// Abuse limits first: a flood is answered from memory, never taking a lock, never running a
// turn, never writing (but for a blocked number's first STOP).
std::optional<WebhookResponse> SmsChannel::refuse_if_limited(const Turn& t) {
  if (!guard_) return std::nullopt;
  // STOP must always work (carriers require it): the limiter lets one a minute past the
  // contact's own limit (never past the global one), and a blocked number's is recorded here.
  const bool stop = nlu::match_keyword(t.input.text).keyword == nlu::Keyword::stop;
  const Verdict verdict = guard_(t.contact, stop);
  if (verdict == Verdict::allow) return std::nullopt;
  if (verdict == Verdict::contact_notice || verdict == Verdict::blocked) {
    log::warn("sms_limited", {{"contact", t.contact}, {"verdict", verdict_name(verdict)}});
  }
  try {
    if (verdict == Verdict::blocked) {
      // Blocked, it still opts out: it hears nothing, but the opt-out is kept (and outlives
      // the block). A read, and a write only the first time.
      if (stop && !store_.is_opted_out(t.contact)) {
        store_.set_opted_out(t.contact, true, clock_());
        log::info("sms_blocked_opt_out", {{"contact", t.contact}});
      }
    } else if (auto earlier = store_.response_for(t.contact, t.sid)) {
      // Twilio redelivering a message answered before this contact (or the hotline) went
      // over its limit gets that answer again, not silence. The one read is acceptable in
      // a flood: a lookup by primary key, no transaction, no lock, no write, no fsync; it
      // costs about what parsing and signature-checking the request already did, whereas
      // what the limiter saves (the contact lock, the turn, its commit) stays saved.
      return WebhookResponse{200, "text/xml", *earlier};
    }
  } catch (const std::exception& e) {
    // A store in trouble does not turn a refusal into an error: answer from memory.
    log::error("sms_limited_store_error", {{"contact", t.contact}, {"error", e.what()}});
  }
  return WebhookResponse{200, "text/xml", sms_twiml(verdict == Verdict::contact_notice ? kSlowDownNotice : "")};
}

// The relay: an advocate's text, or a texter talking with an advocate, skips the flow. A texter
// waiting for one goes on to the flow, which is told so.
std::optional<WebhookResponse> SmsChannel::relay_step(Turn& t) {
  if (!relay_) return std::nullopt;
  // The relay lock serialises relay decisions across all contacts, so it is taken only by a
  // message that touches a relay: an advocate's, or a texter's who has one (re-read under the
  // lock: an advocate may have just changed it). Nobody else opens a relay for this contact
  // while we hold its contact lock, so a texter without one keeps the flow running in
  // parallel and takes the lock only to open one (hand-off, in flow_step).
  const auto advocate = relay_->roster()->by_phone(t.from);
  if (!advocate) t.relay = std::move(t.view.relay);
  if (advocate || t.relay) {
    t.relay_lock = relay_->lock();
    if (t.relay) t.relay = relay_->relay_of(t.contact);
    // Replies go where the person last wrote from (SMS or WhatsApp).
    if (t.relay) relay_->follow_texter(*t.relay, t.from);
  }
  // The texter wrote: WhatsApp's 24 hours for the advocate's replies start again. Recorded with
  // whatever the turn writes to the relay, or on its own (flow_step).
  if (t.relay) t.relay->texter_wrote_ms = t.now;
  if (advocate) {
    std::string reply = relay_->from_advocate(*advocate, t.input.text, t.record);
    return commit_relay_turn(t, reply, {{"advocate", advocate->id}});
  }
  const auto keyword = nlu::match_keyword(t.input.text).keyword;
  const auto& b = *t.bundle;
  // Read the way the engine reads it: an emergency gets the 911 text first, and the advocate
  // who reads the message is told the texter got it.
  const auto emergency = [&] {
    return !b.classifier.empty() && nlu::understand(b.classifier, t.input.text).intent == nlu::kEmergency;
  };
  // A picture, voice note or location pin in a relay: nothing of it goes on (no media link, no
  // coordinates). The texter is asked to write it, and their advocate, if they have one, told.
  const bool media_only = t.input.has_media && t.input.text.find_first_not_of(" \t\r\n") == std::string::npos;
  if (t.relay && media_only && t.bundle->prompts.has(Lang::en, "relay_media_text_only")) {
    const Lang lang = lang_from_code(t.relay->lang).value_or(settings_.default_language);
    if (t.relay->state == "claimed") relay_->media_from_texter(*t.relay, t.record);
    return commit_relay_turn(t, relay_->text(lang, "relay_media_text_only", {}),
                             {{"contact", t.contact}, {"code", t.relay->code}, {"outcome", "media_not_passed"}});
  }
  if (t.relay && t.relay->state == "claimed" && keyword != nlu::Keyword::stop) {
    // Emergencies first, even with an advocate: the texter gets the 911 text at once, and
    // the advocate is told along with the message.
    const auto& b = *t.bundle;
    const bool danger = emergency();
    const Lang lang = lang_from_code(t.relay->lang).value_or(settings_.default_language);
    // Their advocate's shift is over (and they did not keep it): offered to those on shift.
    if (auto handed = relay_->hand_on(*t.relay, t.input.text, t.record)) {
      const std::string reply = danger ? b.prompts.render(lang, "emergency", Channel::sms, b.details) : *handed;
      return commit_relay_turn(t, reply, {{"contact", t.contact}, {"code", t.relay->code}, {"handed_on", true}});
    }
    relay_->from_texter(*t.relay, t.input.text, t.record, danger);
    const std::string reply = danger ? b.prompts.render(lang, "emergency", Channel::sms, b.details) : "";
    return commit_relay_turn(t, reply, {{"contact", t.contact}, {"code", t.relay->code}, {"emergency", danger}});
  }
  if (t.relay && t.relay->state == "queued") {
    // Words written while waiting are kept for whoever takes the conversation (not a keyword
    // nor a bare menu number: those are for the hotline). The flow still answers: the 911 text
    // for an emergency, an answer to a question, else "your message will reach the advocate".
    if (keyword == nlu::Keyword::none && !nlu::menu_choice(t.input.text)) {
      relay_->while_waiting(*t.relay, t.input.text, emergency(), t.record);
    }
    t.input.awaiting_advocate = true;
    const Lang lang = lang_from_code(t.relay->lang).value_or(settings_.default_language);
    const auto roster = relay_->roster();
    t.input.after_hours = roster->on_shift(lang, Channel::sms, t.now).empty();
    const std::string hours = roster->hours_text(lang);
    t.input.runtime["hours"] = hours.empty() ? "-" : hours;
  }
  const auto first = t.input.text.find_first_not_of(" \t\r\n");
  if (!t.relay && !t.view.opted_out && first != std::string::npos && t.input.text[first] == '#') {
    // "#end" from someone who is not an advocate: say so, in both languages.
    std::string reply = relay_->text(Lang::es, "relay_staff_only", {}) + "\n\n" +
                        relay_->text(Lang::en, "relay_staff_only", {});
    return commit_relay_turn(t, reply, {{"contact", t.contact}, {"outcome", "staff_only"}});
  }
  return std::nullopt;
}

// The conversation: one engine turn, a hand-off or opt-out passed on to the relay, and the
// turn and its answer committed together.
WebhookResponse SmsChannel::flow_step(Turn& t) {
  engine::Session session;
  const bool live = t.view.session && t.now - t.view.session->updated_ms < settings_.session_idle_ms;
  if (live) session = engine::decode_session(t.view.session->data).value_or(engine::Session{});
  // Talking with an advocate does not go through the flow, so the session may have expired
  // meanwhile; the relay still knows their language (STOP is confirmed in it, on WhatsApp).
  if (!session.lang && t.relay) session.lang = lang_from_code(t.relay->lang);
  const bool opted_out = t.view.opted_out;
  t.input.opted_out = opted_out;
  engine::Outcome outcome = engine::step(*t.bundle, session, t.input, {settings_.default_language});

  bool ended = false, opt_in = false, opt_out = false;
  for (const auto& event : outcome.events) {
    if (std::holds_alternative<engine::End>(event)) ended = true;
    if (std::holds_alternative<engine::OptIn>(event)) opt_in = true;
    if (std::holds_alternative<engine::OptOut>(event)) opt_out = true;
  }
  // An opted-out number hears nothing until it opts back in; its messages change nothing.
  const bool silent = opted_out && !opt_in;

  if (relay_ && opt_out && t.relay) relay_->texter_left(*t.relay, t.record);
  if (relay_ && !silent && !opt_out) hand_off(t, session, outcome);
  const auto messages = silent ? std::vector<std::string>{} : engine::message_texts(outcome);
  std::string twiml = sms_twiml(messages);

  if (opt_out && !opted_out) store_.set_opted_out(t.contact, true, t.now);
  if (opt_in && opted_out) store_.set_opted_out(t.contact, false, t.now);
  if (!silent) count_turn(t, outcome, !live, opt_out && !opted_out);

  // Silent (opted out): the session stays as it was, its language with it, so the START that
  // comes after is answered in the person's language, however many messages came between.
  t.record.session_data = silent ? (session.step.empty() && !session.lang ? "" : engine::encode_session(session))
                          : ended ? ""
                                  : engine::encode_session(outcome.session);
  t.record.response = twiml;
  keep_texter_on_relay(t);
  store_.commit_turn(t.record);
  if (!t.record.outbound.empty() && outbound_queued_) outbound_queued_();

  int segments = 0;
  for (const auto& m : messages) segments += prompts::count_segments(m).segments;
  log::emit(log::Level::info, "sms",
            {{"contact", t.contact},
             {"intent", outcome.intent},
             {"step", outcome.step},
             {"lang", lang_code(outcome.lang)},
             {"bilingual", outcome.bilingual},
             {"segments", segments},
             {"emergency_first", outcome.emergency_first},
             {"asked", !outcome.asked.empty()},
             {"silent", silent}});
  if (on_turn_) on_turn_(Channel::sms, outcome.intent, outcome.lang);
  return {200, "text/xml", std::move(twiml)};
}

// What the daily report counts of a message the hotline answered: the message, under the topic
// it was understood as (a menu number: the topic it chose), and whether it started a
// conversation, was not understood, or opted out. A hand-off is counted by the relay it opens.
void SmsChannel::count_turn(Turn& t, const engine::Outcome& outcome, bool started, bool opted_out) {
  const std::string day = (relay_ ? relay_->roster() : routing::empty_roster())->local_date(t.now);
  const std::string lang = count_lang(outcome.lang, !outcome.bilingual);
  const std::string channel = count_channel(t.from);
  count(t.record, day, store::kCountMessages, outcome.intent, lang, channel);
  if (started) count(t.record, day, store::kCountConversations, outcome.intent, lang, channel);
  if (outcome.not_understood) count(t.record, day, store::kCountNotUnderstood, outcome.intent, lang, channel);
  if (opted_out) count(t.record, day, store::kCountOptOuts, outcome.intent, lang, channel);
}

// The engine handed the texter to a person: open a relay, and after hours say the hours
// instead of the hand-off prompt's "as soon as one is free". `before` is the session as the
// message found it.
void SmsChannel::hand_off(Turn& t, const engine::Session& before, engine::Outcome& outcome) {
  auto handoff = std::find_if(outcome.events.begin(), outcome.events.end(), [](const auto& e) {
    return std::holds_alternative<engine::Handoff>(e);
  });
  if (handoff == outcome.events.end()) return;
  if (!t.relay_lock) t.relay_lock = relay_->lock();
  // The offer says what they asked before asking for a person, and quotes them only when they
  // wrote a request in words ("quiero hablar con alguien de mi caso"), not a "0".
  const std::string& topic = before.last_intent;
  const bool asked_about = !topic.empty() && topic != "advocate" && topic != "greeting" && topic != "thanks";
  const bool in_words = !nlu::menu_choice(t.input.text) && nlu::tokens(t.input.text).size() >= 3;
  const Opened opened = relay_->open(t.contact, t.from, outcome.lang, asked_about ? topic : "",
                                     in_words ? t.input.text : "", t.record);
  if (!opened.instead.empty()) {
    for (auto it = std::make_reverse_iterator(handoff); it != outcome.events.rend(); ++it) {
      if (auto* say = std::get_if<engine::Say>(&*it)) {
        say->text = opened.instead;
        break;
      }
    }
  }
  // WhatsApp after hours: how to stay reachable, as a message of its own after the hand-off's.
  if (!opened.whatsapp_window.empty()) {
    outcome.events.push_back(engine::Say{"relay_whatsapp_window", opened.whatsapp_window, true});
  }
}

}  // namespace hotline::channels
