#include "hotline/channels/sms.hpp"

#include <algorithm>
#include <functional>

#include "hotline/channels/address.hpp"
#include "hotline/channels/relay.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/nlu/understand.hpp"
#include "hotline/prompts/segments.hpp"
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

WebhookResponse SmsChannel::commit_relay_turn(store::TurnRecord& record, const std::string& reply,
                                              const nlohmann::json& log_fields) {
  record.keep_session = true;
  record.response = sms_twiml(reply);
  store_.commit_turn(record);
  if (!record.outbound.empty() && outbound_queued_) outbound_queued_();
  auto fields = log_fields;
  fields["outbound"] = record.outbound.size();
  log::info("sms_relay", fields);
  return {200, "text/xml", record.response};
}

WebhookResponse SmsChannel::handle(const twilio::FormFields& form) {
  // Keyed by the address in one form whatever its encoding, so a conversation is found again
  // (and `hotline forget` finds it) however the number arrived.
  const auto from = normalize_address(twilio::field(form, "From").value_or(""));
  auto sid = twilio::field(form, "MessageSid");
  if (!from) {
    return bad_request("missing or invalid From: expected a phone number in E.164 form (+ and digits) "
                       "or a whatsapp:/messenger: address");
  }
  if (!sid || sid->empty() || sid->size() > 64) return bad_request("missing or invalid MessageSid");

  engine::Input input;
  input.channel = Channel::sms;
  input.text = truncate_utf8(twilio::field(form, "Body").value_or(""), kMaxBodyBytes);
  auto num_media = twilio::field(form, "NumMedia").value_or("0");
  input.has_media = !num_media.empty() && num_media != "0";

  const std::string contact = crypto::contact_key(settings_.secret, *from);
  // Abuse limits first: a flood is answered from memory, never taking a lock, never running a
  // turn, never writing (but for a blocked number's first STOP).
  if (guard_) {
    // STOP must always work (carriers require it): the limiter lets one a minute past the
    // contact's own limit (never past the global one), and a blocked number's is recorded here.
    const bool stop = nlu::match_keyword(input.text).keyword == nlu::Keyword::stop;
    const Verdict verdict = guard_(contact, stop);
    if (verdict != Verdict::allow) {
      if (verdict == Verdict::contact_notice || verdict == Verdict::blocked) {
        log::warn("sms_limited", {{"contact", contact}, {"verdict", verdict_name(verdict)}});
      }
      try {
        if (verdict == Verdict::blocked) {
          // Blocked, it still opts out: it hears nothing, but the opt-out is kept (and outlives
          // the block). A read, and a write only the first time.
          if (stop && !store_.is_opted_out(contact)) {
            store_.set_opted_out(contact, true, clock_());
            log::info("sms_blocked_opt_out", {{"contact", contact}});
          }
        } else if (auto earlier = store_.response_for(contact, *sid)) {
          // Twilio redelivering a message answered before this contact (or the hotline) went
          // over its limit gets that answer again, not silence. The one read is acceptable in
          // a flood: a lookup by primary key, no transaction, no lock, no write, no fsync; it
          // costs about what parsing and signature-checking the request already did, whereas
          // what the limiter saves (the contact lock, the turn, its commit) stays saved.
          return {200, "text/xml", *earlier};
        }
      } catch (const std::exception& e) {
        // A store in trouble does not turn a refusal into an error: answer from memory.
        log::error("sms_limited_store_error", {{"contact", contact}, {"error", e.what()}});
      }
      return {200, "text/xml", sms_twiml(verdict == Verdict::contact_notice ? kSlowDownNotice : "")};
    }
  }
  // One message of a contact at a time, on every replica sharing the store.
  const auto contact_lock = store_.lock_key(contact);

  // Everything the turn reads, in one go: the store's work a message costs is this read and
  // the commit at the end.
  store::ContactView view = store_.read_contact(contact, *sid);
  const std::int64_t now = clock_();
  auto bundle = bundles_.get();
  // Twilio retries a webhook it thinks failed: answer again, change nothing.
  if (view.earlier_response) return {200, "text/xml", std::move(*view.earlier_response)};

  const bool opted_out = view.opted_out;

  store::TurnRecord record;
  record.contact_key = contact;
  record.request_id = *sid;
  record.now_ms = now;

  // The relay: an advocate's text, or a texter talking with an advocate, skips the flow.
  std::unique_ptr<store::KeyLock> relay_lock;
  std::optional<store::Relay> relay;
  if (relay_) {
    // The relay lock serialises relay decisions across all contacts, so it is taken only by a
    // message that touches a relay: an advocate's, or a texter's who has one (re-read under the
    // lock: an advocate may have just changed it). Nobody else opens a relay for this contact
    // while we hold its contact lock, so a texter without one keeps the flow running in
    // parallel and takes the lock only to open one (hand-off, below).
    const auto advocate = relay_->roster()->by_phone(*from);
    if (!advocate) relay = std::move(view.relay);
    if (advocate || relay) {
      relay_lock = relay_->lock();
      if (relay) relay = relay_->relay_of(contact);
    }
    if (advocate) {
      std::string reply = relay_->from_advocate(*advocate, input.text, record);
      return commit_relay_turn(record, reply, {{"advocate", advocate->id}});
    }
    const auto keyword = nlu::match_keyword(input.text).keyword;
    if (relay && relay->state == "claimed" && keyword != nlu::Keyword::stop) {
      // Emergencies first, even with an advocate: the texter gets the 911 text at once, and
      // the advocate is told along with the message.
      const bool danger = !bundle->classifier.empty() &&
                          nlu::understand(bundle->classifier, input.text).intent == nlu::kEmergency;
      relay_->from_texter(*relay, input.text, record, danger);
      const std::string reply =
          danger ? bundle->prompts.render(lang_from_code(relay->lang).value_or(settings_.default_language),
                                          "emergency", Channel::sms, bundle->details)
                 : "";
      return commit_relay_turn(record, reply, {{"contact", contact}, {"code", relay->code}, {"emergency", danger}});
    }
    if (relay && relay->state == "queued") {
      input.awaiting_advocate = true;
      const Lang lang = lang_from_code(relay->lang).value_or(settings_.default_language);
      const auto roster = relay_->roster();
      input.after_hours = roster->on_shift(lang, Channel::sms, now).empty();
      input.runtime["hours"] = roster->hours_text(lang);
      if (input.runtime["hours"].empty()) input.runtime["hours"] = "-";
    }
    const auto first = input.text.find_first_not_of(" \t\r\n");
    if (!relay && !opted_out && first != std::string::npos && input.text[first] == '#') {
      // "#end" from someone who is not an advocate: say so, in both languages.
      std::string reply = relay_->text(Lang::es, "relay_staff_only", {}) + "\n\n" +
                          relay_->text(Lang::en, "relay_staff_only", {});
      return commit_relay_turn(record, reply, {{"contact", contact}, {"outcome", "staff_only"}});
    }
  }

  engine::Session session;
  if (view.session && now - view.session->updated_ms < settings_.session_idle_ms) {
    session = engine::decode_session(view.session->data).value_or(engine::Session{});
  }

  input.opted_out = opted_out;
  engine::Outcome outcome = engine::step(*bundle, session, input, {settings_.default_language});

  bool ended = false, opt_in = false, opt_out = false;
  for (const auto& event : outcome.events) {
    if (std::holds_alternative<engine::End>(event)) ended = true;
    if (std::holds_alternative<engine::OptIn>(event)) opt_in = true;
    if (std::holds_alternative<engine::OptOut>(event)) opt_out = true;
  }
  // An opted-out number hears nothing until it opts back in; its messages change nothing.
  const bool silent = opted_out && !opt_in;

  if (relay_ && opt_out && relay) relay_->texter_left(*relay, record);
  if (relay_ && !silent && !opt_out) {
    auto handoff = std::find_if(outcome.events.begin(), outcome.events.end(), [](const auto& e) {
      return std::holds_alternative<engine::Handoff>(e);
    });
    if (handoff != outcome.events.end()) {
      if (!relay_lock) relay_lock = relay_->lock();
      std::string instead = relay_->open(contact, *from, outcome.lang, input.text, record);
      if (!instead.empty()) {
        // After hours: the hand-off prompt's "as soon as one is free" becomes the hours.
        for (auto it = std::make_reverse_iterator(handoff); it != outcome.events.rend(); ++it) {
          if (auto* say = std::get_if<engine::Say>(&*it)) {
            say->text = instead;
            break;
          }
        }
      }
    }
  }
  const auto messages = silent ? std::vector<std::string>{} : engine::message_texts(outcome);
  std::string twiml = sms_twiml(messages);

  if (opt_out && !opted_out) store_.set_opted_out(contact, true, now);
  if (opt_in && opted_out) store_.set_opted_out(contact, false, now);

  record.session_data = silent ? (session.step.empty() ? "" : engine::encode_session(session))
                        : ended ? ""
                                : engine::encode_session(outcome.session);
  record.response = twiml;
  store_.commit_turn(record);
  if (!record.outbound.empty() && outbound_queued_) outbound_queued_();

  int segments = 0;
  for (const auto& m : messages) segments += prompts::count_segments(m).segments;
  log::emit(log::Level::info, "sms",
            {{"contact", contact},
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

}  // namespace hotline::channels
