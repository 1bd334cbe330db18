#include "hotline/channels/relay.hpp"

#include "hotline/channels/address.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstdint>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "hotline/channels/daily_counts.hpp"
#include "hotline/channels/relay_ids.hpp"
#include "hotline/channels/sms.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/twilio/outbox.hpp"

namespace hotline::channels {

using namespace relay_ids;

namespace {

constexpr const char* kContextContext = "relays.context";
// Of what a texter writes while waiting, the latest this many messages are kept for the advocate.
constexpr std::size_t kMaxWaitingMessages = 5;
// A release note longer than this is cut (it goes into every offer of the conversation).
constexpr std::size_t kMaxNoteBytes = 200;
// How many delivery failures one sweep handles (the rest wait for the next pass, a second later).
constexpr std::size_t kFailuresPerSweep = 32;
constexpr const char* kVoicemailContext = "relays.voicemail";  // "<seconds>\x1f<recording URL>"
// Codes avoid letters and digits that read alike (I/1, O/0, S/5, B/8, Z/2). A code is a letter,
// a digit, then letters or digits: "K7M", "K74". Three characters give 21 x 5 x 26 = 2,730
// codes; with each kept out of use for 30 days after it closes, that is ~90 new conversations a
// day, every day. Busier than that, codes grow a character (70,980 of four), so one is always
// free: a texter is never left without an answer for want of a code.
constexpr std::string_view kCodeLetters = "ACDEFGHJKLMNPQRTUVWXY";
constexpr std::string_view kCodeDigits = "34679";
constexpr std::string_view kCodeTail = "ACDEFGHJKLMNPQRTUVWXY34679";
constexpr std::size_t kCodeLength = 3;
// Past this many codes of one length, free ones are found by listing them all, not by guessing.
constexpr std::uint64_t kListableCodes = 100'000;
// At most this many choices are offered for a held message (one digit each).
constexpr std::size_t kMaxChoices = 9;

/// "K7M" from "k7m", "K7M:", "K7M," (advocates type fast). A letter, a digit, then up to four
/// letters or digits: today's codes, longer ones, and two-character ones from before.
std::optional<std::string> as_code(const std::string& word) {
  std::string w = upper(word);
  while (!w.empty() && (w.back() == ':' || w.back() == ',' || w.back() == '.')) w.pop_back();
  if (w.size() < 2 || w.size() > 6) return std::nullopt;
  if (!std::isalpha(static_cast<unsigned char>(w[0])) || !std::isdigit(static_cast<unsigned char>(w[1]))) return std::nullopt;
  for (std::size_t i = 2; i < w.size(); ++i) {
    if (!std::isalnum(static_cast<unsigned char>(w[i]))) return std::nullopt;
  }
  return w;
}

/// "1" … "9" (a choice after a held message), or nothing.
std::optional<std::size_t> as_choice(const std::string& message) {
  if (message.size() != 1 || message[0] < '1' || message[0] > '9') return std::nullopt;
  return static_cast<std::size_t>(message[0] - '0');
}

/// How many codes of `length` characters there are.
std::uint64_t code_count(std::size_t length) {
  std::uint64_t n = kCodeLetters.size() * kCodeDigits.size();
  for (std::size_t i = 2; i < length; ++i) n *= kCodeTail.size();
  return n;
}

/// The `index`-th code of `length` characters (index < code_count(length)).
std::string code_at(std::uint64_t index, std::size_t length) {
  std::string code;
  code += kCodeLetters[index % kCodeLetters.size()];
  index /= kCodeLetters.size();
  code += kCodeDigits[index % kCodeDigits.size()];
  index /= kCodeDigits.size();
  for (std::size_t i = 2; i < length; ++i) {
    code += kCodeTail[index % kCodeTail.size()];
    index /= kCodeTail.size();
  }
  return code;
}

std::uint64_t random_below(std::uint64_t n) {
  return std::stoull(crypto::random_hex(8), nullptr, 16) % n;  // bias below 1e-13: immaterial
}

/// A random code of `length` not in `taken`, if one is found.
std::optional<std::string> free_code(std::size_t length, const std::unordered_set<std::string>& taken) {
  const std::uint64_t count = code_count(length);
  for (int attempt = 0; attempt < 32; ++attempt) {
    std::string code = code_at(random_below(count), length);
    if (!taken.count(code)) return code;
  }
  if (count > kListableCodes) return std::nullopt;  // crowded: a longer code, then
  std::vector<std::string> free;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::string code = code_at(i, length);
    if (!taken.count(code)) free.push_back(std::move(code));
  }
  if (free.empty()) return std::nullopt;
  return free[random_below(free.size())];
}

std::vector<store::Relay> without_voicemail(std::vector<store::Relay> relays) {
  relays.erase(std::remove_if(relays.begin(), relays.end(), [](const auto& r) { return is_voicemail(r); }), relays.end());
  return relays;
}

/// "12 min", "3 h": how long ago a voicemail was left, for its offer.
std::string age_text(std::int64_t ms) {
  const std::int64_t minutes = std::max<std::int64_t>(ms, 0) / 60'000;
  return minutes < 120 ? std::to_string(minutes) + " min" : std::to_string(minutes / 60) + " h";
}

bool on_whatsapp(const std::string& address) { return address.rfind("whatsapp:", 0) == 0; }

}  // namespace

bool is_voicemail(const store::Relay& relay) { return relay.contact_key.rfind("v_", 0) == 0; }

std::vector<std::string> voicemails_from(store::SessionStore& store, const std::string& secret,
                                         const std::string& number) {
  std::vector<std::string> keys;
  for (const auto& r : store.relays()) {
    if (is_voicemail(r) && crypto::open(secret, r.texter_sealed, kTexterContext) == number) keys.push_back(r.contact_key);
  }
  return keys;
}

RelayService::RelayService(flow::BundleHolder& bundles, store::SessionStore& store,
                           std::shared_ptr<const routing::Roster> roster, RelaySettings settings,
                           Clock clock)
    : bundles_(bundles), store_(store), roster_(roster ? std::move(roster) : routing::empty_roster()),
      settings_(std::move(settings)), clock_(std::move(clock)) {}

std::shared_ptr<const routing::Roster> RelayService::roster() const {
  std::lock_guard lock(roster_mutex_);
  return roster_;
}

void RelayService::set_roster(std::shared_ptr<const routing::Roster> roster) {
  std::lock_guard lock(roster_mutex_);
  roster_ = std::move(roster);
}

std::string RelayService::text(Lang lang, const std::string& key, prompts::Variables vars) const {
  auto bundle = bundles_.get();
  for (const auto& [k, v] : bundle->details) vars.emplace(k, v);
  const prompts::Prompt* p = bundle->prompts.find(lang, key);
  return p ? prompts::fill(p->sms, vars) : std::string();
}

std::string RelayService::unseal(const std::string& sealed, const char* context) const {
  if (sealed.empty()) return "";
  return crypto::open(settings_.secret, sealed, context).value_or("");
}

std::optional<store::Relay> RelayService::relay_of(const std::string& contact_key) {
  return store_.relay_of(contact_key);
}

store::AdvocateNote& RelayService::note_of(store::TurnRecord& turn, const std::string& advocate_id) {
  for (auto& n : turn.advocate_notes) if (n.advocate_id == advocate_id) return n;
  turn.advocate_notes.push_back(store_.advocate_note(advocate_id));
  return turn.advocate_notes.back();
}

store::AdvocateNote RelayService::peek_note(const store::TurnRecord& turn, const std::string& advocate_id) {
  for (const auto& n : turn.advocate_notes) if (n.advocate_id == advocate_id) return n;
  return store_.advocate_note(advocate_id);
}

void RelayService::reached(store::TurnRecord& turn, const std::string& advocate_id, const std::string& code) {
  const auto note = peek_note(turn, advocate_id);
  if (note.focus_code.empty() || note.focus_code == code) return;  // nothing to change: no write
  note_of(turn, advocate_id).focus_code.clear();
}

void RelayService::set_focus(store::TurnRecord& turn, const std::string& advocate_id, const std::string& code) {
  if (peek_note(turn, advocate_id).focus_code == code) return;
  note_of(turn, advocate_id).focus_code = code;
}

void RelayService::send_to_advocate(store::TurnRecord& turn, const std::string& purpose,
                                    const routing::Advocate& advocate, const std::string& body,
                                    const store::Relay& relay) {
  send(turn, purpose, advocate.phone, body, relay.contact_key);
  reached(turn, advocate.id, relay.code);
}

void RelayService::send(store::TurnRecord& turn, const std::string& purpose, const std::string& to,
                        const std::string& body, const std::string& contact_key, const std::string& on_failure) {
  if (to.empty() || body.empty()) return;
  store::OutboundMessage m;
  // The request that caused it plus what it is for: a redelivered webhook or a repeated sweep
  // cannot queue the same message twice.
  m.idempotency_key = (turn.request_id.empty() ? "t" + std::to_string(turn.now_ms) : turn.request_id) + ":" + purpose;
  m.contact_key = contact_key;
  m.sender = sender_for(to, settings_);
  m.to_sealed = crypto::seal(settings_.secret, to, "outbox.to");
  m.body_sealed = crypto::seal(settings_.secret, body, "outbox.body");
  m.on_failure = on_failure;
  turn.outbound.push_back(std::move(m));
}

void RelayService::notify_texter(store::TurnRecord& turn, const store::Relay& relay, const std::string& purpose,
                                 const std::string& body, std::int64_t now_ms) {
  const std::string texter = unseal(relay.texter_sealed, kTexterContext);
  if (whatsapp_window_closed(relay, texter, now_ms)) {
    // WhatsApp would refuse it (63016), and a template is for an advocate's words, not this.
    log::info("relay_notice_not_sent", {{"code", relay.code}, {"notice", purpose}, {"why", "whatsapp_window_closed"}});
    return;
  }
  send(turn, relay.code + ":" + purpose, texter, body, relay.contact_key);
}

bool RelayService::whatsapp_window_closed(const store::Relay& relay, const std::string& texter, std::int64_t now_ms) {
  // 0: a relay opened before this was recorded; sent as before (a failure is still told).
  return on_whatsapp(texter) && relay.texter_wrote_ms != 0 && now_ms - relay.texter_wrote_ms >= kWhatsAppWindowMs;
}

void RelayService::send_template(store::TurnRecord& turn, const std::string& purpose, const std::string& to,
                                 const std::string& words, const store::Relay& relay, const std::string& on_failure) {
  if (to.empty() || words.empty()) return;
  store::OutboundMessage m;
  m.idempotency_key = (turn.request_id.empty() ? "t" + std::to_string(turn.now_ms) : turn.request_id) + ":" + purpose;
  m.contact_key = relay.contact_key;
  m.sender = sender_for(to, settings_);
  m.to_sealed = crypto::seal(settings_.secret, to, "outbox.to");
  const nlohmann::json content = {{"content_sid", settings_.whatsapp_template_sid}, {"variables", {{"1", words}}}};
  m.body_sealed = crypto::seal(settings_.secret, content.dump(), twilio::kContentSealContext);
  m.on_failure = on_failure;
  turn.outbound.push_back(std::move(m));
}

std::string sender_for(std::string_view to, const RelaySettings& settings) {
  static constexpr std::string_view kWhatsApp = "whatsapp:";
  if (!to.starts_with(kWhatsApp)) return settings.sender;
  if (!settings.whatsapp_sender.empty()) return settings.whatsapp_sender;
  if (settings.sender.starts_with("+")) return std::string(kWhatsApp) + settings.sender;
  return settings.sender;
}

std::string RelayService::new_code(std::int64_t now_ms) {
  // Neither a code in use nor one closed in the last 30 days: a late reply to a closed one
  // must find it closed, not a new texter.
  std::unordered_set<std::string> taken;
  for (const auto& r : store_.relays()) taken.insert(r.code);
  for (auto& code : store_.closed_codes_since(now_ms - store::kClosedCodeQuarantineMs)) taken.insert(std::move(code));
  for (std::size_t length = kCodeLength;; ++length) {
    if (auto code = free_code(length, taken)) return *code;
    log::warn("relay_codes_crowded", {{"length", static_cast<int>(length)}, {"taken", static_cast<int>(taken.size())}});
  }
}

// What an offer says the person needs, in the advocate's language: the question they asked
// before asking for a person ("asked about whether police report immigration status"), and
// their own words when they wrote a real request, once.
std::string RelayService::request_summary(const std::string& packed, Lang advocate_lang) const {
  std::string topic, words = packed;
  if (const auto cut = packed.find(kTopicSeparator); cut != std::string::npos) {
    topic = packed.substr(0, cut);
    words = packed.substr(cut + 1);
  }
  const auto bundle = bundles_.get();
  const std::string topic_text =
      topic.empty() ? "" : bundle->prompts.render(advocate_lang, flow::kTopicPrefix + topic, Channel::sms, {});
  std::string summary = topic_text.empty() ? text(advocate_lang, "relay_no_topic", {})
                                           : text(advocate_lang, "relay_topic", {{"topic", topic_text}});
  if (!words.empty()) summary += ": \"" + words + "\"";
  return summary;
}

RelayService::Context RelayService::context_of(const store::Relay& relay) const {
  Context c;
  const std::string opened = unseal(relay.context_sealed, kContextContext);
  if (opened.empty()) return c;
  const auto j = nlohmann::json::parse(opened, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return c;  // written by this class only; an unreadable one reads as empty
  c.after_hours = j.value("after_hours", false);
  c.note = j.value("note", "");
  c.omitted = j.value("omitted", 0);
  for (const auto& m : j.value("waiting", nlohmann::json::array())) {
    if (m.is_object()) c.waiting.push_back({m.value("text", ""), m.value("emergency", false)});
  }
  for (const auto& id : j.value("unreachable", nlohmann::json::array())) {
    if (id.is_string()) c.unreachable.push_back(id.get<std::string>());
  }
  return c;
}

void RelayService::set_context(store::Relay& relay, const Context& c) const {
  nlohmann::json waiting = nlohmann::json::array();
  for (const auto& m : c.waiting) waiting.push_back({{"text", m.text}, {"emergency", m.emergency}});
  const nlohmann::json j = {{"after_hours", c.after_hours}, {"note", c.note}, {"waiting", waiting},
                            {"omitted", c.omitted}, {"unreachable", c.unreachable}};
  relay.context_sealed = crypto::seal(settings_.secret, j.dump(), kContextContext);
}

std::string RelayService::offer_context(const store::Relay& relay, const Context& c, Lang advocate_lang,
                                        std::int64_t now_ms) const {
  std::string out;
  const std::int64_t minutes = (now_ms - relay.created_ms) / 60'000;
  if (minutes >= 1) {
    const std::string waited = minutes < 60 ? std::to_string(minutes) + " min"
                                            : std::to_string(minutes / 60) + " h " + std::to_string(minutes % 60) + " min";
    out += " " + text(advocate_lang, "relay_offer_waited", {{"waited", waited}});
  }
  if (c.after_hours) out += " " + text(advocate_lang, "relay_offer_after_hours", {});
  if (!c.waiting.empty()) {
    out += " " + text(advocate_lang, "relay_offer_wrote", {{"count", std::to_string(c.waiting.size() + c.omitted)}});
  }
  if (!c.note.empty()) out += " " + text(advocate_lang, "relay_offer_note", {{"note", c.note}});
  // A WhatsApp texter can be written to only within 24 hours of their last message (unless a
  // template is configured, which carries the words after that): say how long is left.
  if (relay.texter_wrote_ms != 0 && settings_.whatsapp_template_sid.empty() &&
      on_whatsapp(unseal(relay.texter_sealed, kTexterContext))) {
    const std::int64_t left = relay.texter_wrote_ms + kWhatsAppWindowMs - now_ms;
    out += " " + (left <= 0 ? text(advocate_lang, "relay_offer_whatsapp_closed", {})
                            : text(advocate_lang, "relay_offer_whatsapp",
                                   {{"left", left < 120 * 60'000 ? std::to_string(std::max<std::int64_t>(left / 60'000, 1)) + " min"
                                                                 : std::to_string(left / 3'600'000) + " h"}}));
  }
  return out;
}

void RelayService::offer(store::Relay& relay, const std::string& purpose, store::TurnRecord& turn, bool again) {
  auto roster = this->roster();
  const Lang lang = lang_from_code(relay.lang).value_or(Lang::en);
  // A voicemail goes to those who take calls: the callback is a call.
  const bool voicemail = is_voicemail(relay);
  const std::string request = voicemail ? "" : unseal(relay.first_message_sealed, kMessageContext);
  const Context context = context_of(relay);
  const auto all = store_.relays();
  bool offered = false;
  for (const auto& a : roster->on_shift(lang, voicemail ? Channel::voice : Channel::sms, turn.now_ms)) {
    if (contains(relay.offered_to, a.id) || !takes_offers(a, all, turn)) continue;
    offered = true;
    const std::string extra = offer_context(relay, context, a.prompt_language, turn.now_ms);
    const std::string body = voicemail ? voicemail_offer(relay, a.prompt_language, turn.now_ms)
        : again || request.empty()
        ? text(a.prompt_language, "relay_offer_again", {{"code", relay.code}, {"lang", relay.lang}, {"context", extra}})
        : text(a.prompt_language, "relay_offer",
               {{"code", relay.code}, {"lang", relay.lang}, {"message", request_summary(request, a.prompt_language)},
                {"context", extra}});
    // An offer that cannot be delivered goes on to the next advocate (handle_delivery_failures).
    send(turn, relay.code + ":" + purpose + ":" + a.id, a.phone, body, relay.contact_key,
         "offer:" + a.id + ":" + relay.code);
    reached(turn, a.id, relay.code);
    relay.offered_to = with_id(relay.offered_to, a.id);
    log::info("relay_offered", {{"code", relay.code}, {"advocate", a.id}, {"contact", relay.contact_key}});
  }
  if (offered && relay.stage_ms == 0) relay.stage_ms = turn.now_ms;  // the wait for a taker starts
}

Opened RelayService::open(const std::string& contact_key, const std::string& phone, Lang lang,
                          const std::string& topic, const std::string& first_message, store::TurnRecord& turn) {
  if (relay_of(contact_key)) return {};  // already waiting or talking: nothing new to open
  auto roster = this->roster();
  store::Relay r;
  r.code = new_code(turn.now_ms);
  r.contact_key = contact_key;
  r.texter_sealed = crypto::seal(settings_.secret, phone, kTexterContext);
  r.lang = std::string(lang_code(lang));
  r.state = "queued";
  r.first_message_sealed = crypto::seal(
      settings_.secret, truncate_utf8(topic + kTopicSeparator + trim(first_message), settings_.max_message_bytes), kMessageContext);
  r.created_ms = turn.now_ms;
  r.texter_wrote_ms = turn.now_ms;  // their request is a message: WhatsApp's 24 hours start here
  const bool on_shift = !roster->on_shift(lang, Channel::sms, turn.now_ms).empty();
  if (!on_shift) {
    Context context;
    context.after_hours = true;  // said in every offer: the person has waited since before the shift
    set_context(r, context);
  }
  r.topic = topic;
  offer(r, "offer", turn, false);
  Opened said;
  const std::string hours = roster->hours_text(lang);
  if (!on_shift && !hours.empty()) {
    said.instead = text(lang, "relay_after_hours", {{"hours", hours}});
    r.no_answer_told = true;  // they already know when to expect an answer
  }
  // After hours the advocate may write more than 24 hours later, when WhatsApp delivers only
  // templates: without one, the texter learns that writing again keeps them reachable.
  if (!on_shift && on_whatsapp(phone) && settings_.whatsapp_template_sid.empty()) {
    said.whatsapp_window = text(lang, "relay_whatsapp_window", {});
  }
  turn.relays.push_back({r, false, 0});
  count(turn, roster->local_date(turn.now_ms), store::kCountHandoffsAsked, topic, r.lang, count_channel(phone));
  log::info("relay_opened", {{"code", r.code}, {"contact", contact_key}, {"lang", r.lang},
                             {"offered", static_cast<int>(split_ids(r.offered_to).size())},
                             {"after_hours", !on_shift}});
  if (!on_shift && hours.empty()) log::warn("relay_no_advocates", {{"code", r.code}, {"lang", r.lang}});
  return said;
}

std::string RelayService::voicemail_offer(const store::Relay& relay, Lang advocate_lang, std::int64_t now_ms) const {
  const std::string details = unseal(relay.first_message_sealed, kVoicemailContext);
  const std::string seconds = details.substr(0, details.find(kTopicSeparator));
  return text(advocate_lang, "voicemail_offer", {{"code", relay.code}, {"lang", relay.lang},
                                                 {"seconds", seconds.empty() ? "0" : seconds},
                                                 {"age", age_text(now_ms - relay.created_ms)}});
}

void RelayService::open_voicemail(const Voicemail& vm, store::TurnRecord& turn) {
  if (relay_of(vm.call_key)) return;  // Twilio posted the recording twice: one voicemail
  store::Relay r;
  r.code = new_code(turn.now_ms);
  r.contact_key = vm.call_key;
  r.texter_sealed = crypto::seal(settings_.secret, vm.caller, kTexterContext);
  r.lang = std::string(lang_code(vm.lang));
  r.state = "queued";
  r.first_message_sealed = crypto::seal(
      settings_.secret, std::to_string(vm.seconds) + kTopicSeparator + vm.recording_url, kVoicemailContext);
  r.created_ms = turn.now_ms;
  r.no_answer_told = true;  // a caller is never texted: they heard when someone takes calls
  offer(r, "voicemail", turn, false);
  turn.relays.push_back({r, false, 0});
  count(turn, roster()->local_date(turn.now_ms), store::kCountVoicemails, "", r.lang, "voice");
  log::info("voicemail_opened", {{"code", r.code}, {"call", vm.call_key}, {"lang", r.lang}, {"seconds", vm.seconds},
                                 {"offered", static_cast<int>(split_ids(r.offered_to).size())}});
}

std::string RelayService::call_back(store::Relay r, const routing::Advocate& advocate, store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  if (settings_.call_from.empty() || settings_.public_url.empty()) {
    log::warn("voicemail_call_unavailable", {{"code", r.code}, {"advocate", advocate.id}});
    return text(me, "voicemail_call_unavailable", {{"code", r.code}});
  }
  std::string reply;
  if (r.state == "queued") {
    claim(r, advocate, "", turn);  // `#call` names it: taken, the others told, then the call
  } else {
    turn.relays.push_back(update(r));  // touched: the retention counts from here
  }
  store::OutboundMessage call;
  call.idempotency_key = (turn.request_id.empty() ? "t" + std::to_string(turn.now_ms) : turn.request_id) + ":" +
                         r.code + ":call";
  call.contact_key = r.contact_key;
  call.sender = settings_.call_from;
  call.to_sealed = crypto::seal(settings_.secret, advocate.phone, "outbox.to");
  // Sealed as a call, not a message: the outbox places it through Calls.json.
  call.body_sealed = crypto::seal(settings_.secret,
                                  settings_.public_url + kVoiceCallbackPath + "?code=" + r.code, "outbox.call");
  call.on_failure = "call:" + advocate.id + ":" + r.code;  // a call Twilio refuses is told (sweep)
  turn.outbound.push_back(std::move(call));
  log::info("voicemail_call", {{"code", r.code}, {"advocate", advocate.id}, {"call", r.contact_key}});
  return text(me, "voicemail_calling", {{"code", r.code}});
}

std::optional<CallbackLeg> RelayService::callback_leg(const std::string& code, const std::string& advocate_phone) {
  const auto all = store_.relays();
  const auto r = find_code(all, code);
  if (!r || !is_voicemail(*r) || r->state != "claimed") return std::nullopt;
  auto advocate = roster()->by_id(r->advocate_id);
  if (!advocate || advocate->phone != advocate_phone) return std::nullopt;
  const std::string details = unseal(r->first_message_sealed, kVoicemailContext);
  const auto cut = details.find(kTopicSeparator);
  CallbackLeg leg;
  leg.code = r->code;
  leg.lang = lang_from_code(r->lang).value_or(Lang::en);
  leg.seconds = cut == std::string::npos ? 0 : std::atoi(details.substr(0, cut).c_str());
  leg.recording_url = cut == std::string::npos ? "" : details.substr(cut + 1);
  leg.caller = unseal(r->texter_sealed, kTexterContext);
  leg.advocate = *advocate;
  if (leg.caller.empty()) return std::nullopt;  // unreadable (HOTLINE_SECRET changed?): nobody to dial
  return leg;
}

bool RelayService::callback_finished(const std::string& code, const std::string& advocate_phone,
                                     const std::string& dial_status, const std::string& call_sid) {
  auto guard = lock();
  const auto all = store_.relays();
  const auto r = find_code(all, code);
  if (!r || !is_voicemail(*r) || r->state != "claimed") return false;
  const auto advocate = roster()->by_id(r->advocate_id);
  if (!advocate || advocate->phone != advocate_phone) return false;
  store::TurnRecord turn;
  turn.contact_key = r->contact_key;
  turn.keep_session = true;
  turn.now_ms = clock_();
  const bool reached = dial_status == "completed" || dial_status == "answered";
  const Lang me = advocate->prompt_language;
  if (reached) {
    turn.relays.push_back({*r, true, r->version});  // the caller's sealed number goes with the row
    send_to_advocate(turn, r->code + ":callback_done:" + call_sid, *advocate, text(me, "voicemail_callback_done", {{"code", r->code}}), *r);
  } else {
    turn.relays.push_back(update(*r));
    send_to_advocate(turn, r->code + ":callback_missed:" + call_sid, *advocate,
                     text(me, "voicemail_callback_missed", {{"code", r->code}}), *r);
  }
  try {
    store_.commit_turn(turn);
  } catch (const store::Conflict&) {
    return false;  // ended or released meanwhile
  }
  log::info(reached ? "relay_ended" : "voicemail_callback_missed",
            {{"code", r->code}, {"by", "callback"}, {"advocate", advocate->id}, {"call", r->contact_key},
             {"dial_status", dial_status.substr(0, 32)}});
  return true;
}

bool RelayService::follow_texter(store::Relay& relay, const std::string& address) const {
  if (is_voicemail(relay) || unseal(relay.texter_sealed, kTexterContext) == address) return false;
  relay.texter_sealed = crypto::seal(settings_.secret, address, kTexterContext);
  log::info("relay_channel_followed", {{"code", relay.code}, {"contact", relay.contact_key},
                                       {"channel", is_whatsapp(address) ? "whatsapp" : "sms"}});
  return true;
}

void RelayService::from_texter(const store::Relay& relay, const std::string& text_in, store::TurnRecord& turn,
                               bool emergency) {
  auto advocate = roster()->by_id(relay.advocate_id);
  if (!advocate) {
    log::warn("relay_advocate_missing", {{"code", relay.code}, {"advocate", relay.advocate_id}});
    return;
  }
  const std::string body = text(advocate->prompt_language, emergency ? "relay_forward_emergency" : "relay_forward",
                                {{"code", relay.code}, {"message", trim(text_in)}});
  send_to_advocate(turn, relay.code + ":texter", *advocate, body, relay);
  turn.relays.push_back(update(relay));  // touched: the relay retention counts from here
  log::info("relay_forwarded", {{"code", relay.code}, {"direction", "to_advocate"}, {"advocate", advocate->id}});
}

void RelayService::media_from_texter(const store::Relay& relay, store::TurnRecord& turn) {
  auto advocate = roster()->by_id(relay.advocate_id);
  if (!advocate) {
    log::warn("relay_advocate_missing", {{"code", relay.code}, {"advocate", relay.advocate_id}});
    return;
  }
  send_to_advocate(turn, relay.code + ":media", *advocate,
                   text(advocate->prompt_language, "relay_forward_media", {{"code", relay.code}}), relay);
  turn.relays.push_back(update(relay));  // touched: the relay retention counts from here
  log::info("relay_forwarded", {{"code", relay.code}, {"direction", "to_advocate"}, {"advocate", advocate->id},
                                {"media", true}});
}

void RelayService::while_waiting(const store::Relay& relay, const std::string& text_in, bool emergency,
                                 store::TurnRecord& turn) {
  const std::string words = truncate_utf8(trim(text_in), settings_.max_message_bytes);
  if (words.empty()) return;
  store::Relay r = relay;
  Context context = context_of(r);
  context.waiting.push_back({words, emergency});
  if (context.waiting.size() > kMaxWaitingMessages) {
    context.waiting.erase(context.waiting.begin());
    ++context.omitted;
  }
  set_context(r, context);
  turn.relays.push_back(update(r));
  log::info("relay_kept_while_waiting", {{"code", r.code}, {"contact", r.contact_key}, {"emergency", emergency},
                                         {"kept", static_cast<int>(context.waiting.size())}});
}

void RelayService::texter_left(const store::Relay& relay, store::TurnRecord& turn) {
  if (relay.state == "claimed") {
    if (auto advocate = roster()->by_id(relay.advocate_id)) {
      send_to_advocate(turn, relay.code + ":left", *advocate,
                       text(advocate->prompt_language, "relay_texter_left", {{"code", relay.code}}), relay);
    }
  } else {
    // Nobody took it yet: whoever was offered it learns it is withdrawn, so nobody takes a
    // conversation whose texter can no longer be written to.
    const Context context = context_of(relay);
    for (const auto& id : split_ids(relay.offered_to)) {
      if (std::find(context.unreachable.begin(), context.unreachable.end(), id) != context.unreachable.end()) continue;
      if (auto advocate = roster()->by_id(id)) {
        send_to_advocate(turn, relay.code + ":withdrawn:" + id, *advocate,
                         text(advocate->prompt_language, "relay_withdrawn", {{"code", relay.code}}), relay);
      }
    }
  }
  turn.relays.push_back({relay, true, relay.version});
  log::info("relay_ended", {{"code", relay.code}, {"by", "texter_stop"}, {"contact", relay.contact_key}});
}

std::string RelayService::claim(store::Relay r, const routing::Advocate& advocate, const std::string& message,
                                 store::TurnRecord& turn) {
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  const std::string texter = unseal(r.texter_sealed, kTexterContext);
  const bool voicemail = is_voicemail(r);
  // Counted under the day it was taken: how many were taken, and how long each waited (since
  // it was asked, or since it was handed back).
  const std::string day = roster()->local_date(turn.now_ms);
  const std::string channel = voicemail ? "voice" : count_channel(texter);
  count(turn, day, store::kCountHandoffsClaimed, r.topic, r.lang, channel);
  count(turn, day, store::kCountClaimSeconds, r.topic, r.lang, channel,
        std::max<std::int64_t>(0, (turn.now_ms - r.created_ms) / 1000));
  r.state = "claimed";
  r.advocate_id = advocate.id;
  if (!voicemail) r.first_message_sealed.clear();  // it was needed only to decide who takes it
  r.escalation = store::kOffered;
  r.stage_ms = turn.now_ms;  // open since
  r.shift_end = store::kOnShift;
  // The others who were told about it learn it is taken, so nobody writes into the void.
  for (const auto& id : split_ids(r.offered_to)) {
    if (id == advocate.id) continue;
    if (auto other = roster()->by_id(id)) {
      send_to_advocate(turn, r.code + ":taken:" + id, *other, text(other->prompt_language, "relay_taken", {{"code", r.code}}), r);
    }
  }
  if (voicemail) {
    // Nothing is texted to a caller; the advocate calls back with #call.
    turn.relays.push_back(update(r));
    log::info("relay_claimed", {{"code", r.code}, {"advocate", advocate.id}, {"call", r.contact_key}});
    return text(advocate.prompt_language, "voicemail_claimed", {{"code", r.code}});
  }
  std::string reply = text(advocate.prompt_language, "relay_claimed", {{"code", r.code}});
  const std::string tell = "tell:" + advocate.id + ":" + r.code;
  if (whatsapp_window_closed(r, texter, turn.now_ms)) {
    // More than 24 hours since they wrote (often: asked after hours): WhatsApp takes only a
    // template now. One goes with the advocate's words (or that someone is with them), else
    // nothing is sent and the advocate is told at once, not by a failure later.
    if (!settings_.whatsapp_template_sid.empty()) {
      const std::string words = trim(message).empty() ? text(lang, "relay_connected", {}) : trim(message);
      send_template(turn, r.code + ":reply", texter, words, r, tell);
    } else {
      reply = text(advocate.prompt_language, "relay_claimed_whatsapp_closed", {{"code", r.code}});
    }
    log::info("relay_whatsapp_window_closed", {{"code", r.code}, {"advocate", advocate.id},
                                               {"template", !settings_.whatsapp_template_sid.empty()}});
  } else {
    send(turn, r.code + ":connected", texter, text(lang, "relay_connected", {}), r.contact_key);
    // What follows the code ("K7M Hola, soy Ana…") reaches the texter too: the advocate named
    // the conversation, so the words are meant for it. `#take K7M` takes it silently.
    if (!trim(message).empty()) send(turn, r.code + ":reply", texter, trim(message), r.contact_key, tell);
  }
  // What the texter wrote while waiting reaches the one who took it, right after the take.
  const Context context = context_of(r);
  for (std::size_t i = 0; i < context.waiting.size(); ++i) {
    const auto& m = context.waiting[i];
    send_to_advocate(turn, r.code + ":waiting:" + std::to_string(i), advocate,
                     text(advocate.prompt_language, m.emergency ? "relay_forward_emergency" : "relay_waiting_forward",
                          {{"code", r.code}, {"message", m.text}}),
                     r);
  }
  r.context_sealed.clear();  // delivered; and a release starts a new context
  set_focus(turn, advocate.id, r.code);
  turn.relays.push_back(update(r));
  log::info("relay_claimed", {{"code", r.code}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return reply;
}

std::string RelayService::end(const store::Relay& r, const routing::Advocate& advocate, store::TurnRecord& turn) {
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  if (!is_voicemail(r)) {
    const std::string texter = unseal(r.texter_sealed, kTexterContext);
    if (!whatsapp_window_closed(r, texter, turn.now_ms)) {
      send(turn, r.code + ":ended", texter, text(lang, "relay_ended", {}), r.contact_key);
    } else if (!settings_.whatsapp_template_sid.empty()) {
      send_template(turn, r.code + ":ended", texter, text(lang, "relay_ended", {}), r, "");
    }  // else WhatsApp would refuse it (63016): the person is not told, and nothing is queued to fail
  }
  turn.relays.push_back({r, true, r.version});
  if (peek_note(turn, advocate.id).focus_code == r.code) set_focus(turn, advocate.id, "");
  log::info("relay_ended", {{"code", r.code}, {"by", "advocate"}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_closed", {{"code", r.code}});
}

std::string RelayService::release(store::Relay r, const routing::Advocate& advocate, const std::string& note,
                                  store::TurnRecord& turn) {
  if (!trim(note).empty()) {
    Context context;
    context.note = truncate_utf8(trim(note), kMaxNoteBytes);  // goes into every offer until it is taken
    set_context(r, context);
  }
  r.state = "queued";
  r.advocate_id.clear();
  r.offered_to = advocate.id;  // everyone else on shift hears about it again; not the one who let go
  r.created_ms = turn.now_ms;  // the wait starts again
  r.no_answer_told = is_voicemail(r);  // a caller is never texted
  r.escalation = store::kOffered;
  r.stage_ms = 0;
  r.shift_end = store::kOnShift;
  offer(r, "reoffer", turn, true);
  if (peek_note(turn, advocate.id).focus_code == r.code) set_focus(turn, advocate.id, "");
  turn.relays.push_back(update(r));
  log::info("relay_released", {{"code", r.code}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_released", {{"code", r.code}});
}

std::string RelayService::forward_to_texter(const store::Relay& r, const routing::Advocate& advocate,
                                            const std::string& words, store::TurnRecord& turn) {
  const std::string texter = unseal(r.texter_sealed, kTexterContext);
  const std::string tell = "tell:" + advocate.id + ":" + r.code;
  set_focus(turn, advocate.id, r.code);
  turn.relays.push_back(update(r));
  if (whatsapp_window_closed(r, texter, turn.now_ms)) {
    // WhatsApp would refuse free-form text now (63016): the template carries the words, or
    // the advocate hears at once that nothing was sent, and why.
    log::info("relay_whatsapp_window_closed", {{"code", r.code}, {"advocate", advocate.id},
                                               {"template", !settings_.whatsapp_template_sid.empty()}});
    if (!settings_.whatsapp_template_sid.empty()) {
      send_template(turn, r.code + ":advocate", texter, words, r, tell);
      return "";
    }
    const std::int64_t hours = (turn.now_ms - r.texter_wrote_ms) / 3'600'000;
    return text(advocate.prompt_language, "relay_whatsapp_closed", {{"code", r.code}, {"ago", std::to_string(hours) + " h"}});
  }
  send(turn, r.code + ":advocate", texter, words, r.contact_key, tell);
  log::info("relay_forwarded", {{"code", r.code}, {"direction", "to_texter"}, {"advocate", advocate.id}});
  return "";
}

std::string RelayService::not_open(const routing::Advocate& advocate, const std::string& code,
                                   const std::vector<store::Relay>& mine, std::int64_t now_ms) {
  const Lang me = advocate.prompt_language;
  const auto closed = store_.closed_codes_since(now_ms - store::kClosedCodeQuarantineMs);
  if (std::find(closed.begin(), closed.end(), code) != closed.end()) {
    log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "closed_code"}, {"code", code}});
    return text(me, "relay_code_closed", {{"code", code}});
  }
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "unknown_code"}});
  if (mine.empty()) return text(me, "relay_no_conversation", {});
  std::string codes;
  for (const auto& r : mine) codes += (codes.empty() ? "" : ", ") + r.code;
  return text(me, "relay_unknown_code", {{"code", code}, {"codes", codes}});
}

std::string RelayService::to_code(const routing::Advocate& advocate, const std::string& code,
                                  const std::string& words, const std::vector<store::Relay>& all,
                                  store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  auto r = find_code(all, code);
  if (!r) return not_open(advocate, code, claimed_by(all, advocate.id), turn.now_ms);
  if (r->state == "queued") return claim(*r, advocate, words, turn);
  if (r->advocate_id != advocate.id) {
    log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "not_theirs"}, {"code", code}});
    return text(me, "relay_not_yours", {{"code", r->code}});
  }
  if (is_voicemail(*r)) return text(me, "voicemail_no_text", {{"code", r->code}});
  if (words.empty()) return text(me, "relay_advocate_help", {});
  return forward_to_texter(*r, advocate, words, turn);
}

std::string RelayService::hold(const routing::Advocate& advocate, const std::string& message,
                               const std::vector<store::Relay>& candidates, store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  std::string choices;
  std::string codes;
  for (std::size_t i = 0; i < candidates.size() && i < kMaxChoices; ++i) {
    const auto& r = candidates[i];
    const std::string label = r.state == "queued" ? text(me, "relay_choice_waiting", {{"code", r.code}}) : r.code;
    choices += (choices.empty() ? "" : ", ") + std::to_string(i + 1) + " = " + label;
    codes += (codes.empty() ? "" : ",") + r.code;
  }
  auto& note = note_of(turn, advocate.id);
  note.held_sealed = crypto::seal(settings_.secret, message, kHeldContext);
  note.held_codes = codes;
  note.held_until_ms = turn.now_ms + settings_.hold_ms;
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "held"},
                                     {"choices", static_cast<int>(std::min(candidates.size(), kMaxChoices))}});
  return text(me, "relay_held", {{"choices", choices}});
}

std::string RelayService::from_advocate(const routing::Advocate& advocate, const std::string& text_in,
                                        store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  const std::string message = trim(text_in);
  const auto all = store_.relays();
  const auto mine = claimed_by(all, advocate.id);

  // A message held last time is used at most once: a choice ("1", "2") sends it, and anything
  // else replaces it, so an old text never goes out by surprise. Either way it is erased now.
  const store::AdvocateNote note = peek_note(turn, advocate.id);
  if (!note.held_sealed.empty()) {
    auto& n = note_of(turn, advocate.id);
    n.held_sealed.clear();
    n.held_codes.clear();
    n.held_until_ms = 0;
    const auto choice = as_choice(message);
    const auto codes = split_ids(note.held_codes);
    if (choice && note.held_until_ms > turn.now_ms && *choice <= codes.size()) {
      const std::string held = unseal(note.held_sealed, kHeldContext);
      log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "held_chosen"}, {"code", codes[*choice - 1]}});
      if (held.empty()) return text(me, "relay_advocate_help", {});
      return to_code(advocate, codes[*choice - 1], held, all, turn);
    }
  }

  std::istringstream words(message);
  std::string first;
  words >> first;
  std::string rest;
  std::getline(words, rest);
  rest = trim(rest);

  // Commands: #take with a code; #end / #release, optionally with a code; #release may end
  // with a note for the next advocate ("#release K7M needs a lawyer's referral").
  if (!first.empty() && first[0] == '#') {
    const std::string command = upper(first);
    std::istringstream args(rest);
    std::string code_word, note;
    args >> code_word;
    std::getline(args, note);
    const auto code = as_code(code_word);
    if (!code) note = rest;
    if (command == "#TAKE") {
      if (!code) return text(me, "relay_advocate_help", {});
      auto r = find_code(all, *code);
      if (!r) return not_open(advocate, *code, mine, turn.now_ms);
      if (r->state == "queued") return claim(*r, advocate, "", turn);
      if (r->advocate_id != advocate.id) return text(me, "relay_not_yours", {{"code", r->code}});
      if (is_voicemail(*r)) return text(me, "voicemail_claimed", {{"code", r->code}});
      set_focus(turn, advocate.id, r->code);
      return text(me, "relay_claimed", {{"code", r->code}});
    }
    if (command == "#CALL") {
      std::optional<store::Relay> target;
      const auto voicemails = [&] {
        std::vector<store::Relay> out;
        for (const auto& r : mine) if (is_voicemail(r)) out.push_back(r);
        return out;
      }();
      if (code) {
        target = find_code(all, *code);
        if (!target) return not_open(advocate, *code, mine, turn.now_ms);
      } else if (voicemails.size() == 1) {
        target = voicemails[0];
      } else {
        return text(me, "voicemail_call_which", {});
      }
      if (!is_voicemail(*target)) return text(me, "voicemail_not_a_call", {{"code", target->code}});
      if (target->state == "claimed" && target->advocate_id != advocate.id) {
        return text(me, "relay_not_yours", {{"code", target->code}});
      }
      return call_back(*target, advocate, turn);
    }
    if (command != "#END" && command != "#RELEASE" && command != "#KEEP") {
      return console_command(advocate, command, all, turn);
    }
    std::optional<store::Relay> target;
    if (code) {
      target = find_code(all, *code);
      if (!target) return not_open(advocate, *code, mine, turn.now_ms);
      if (target->advocate_id != advocate.id) return text(me, "relay_not_yours", {{"code", target->code}});
    } else if (mine.size() == 1) {
      target = mine[0];
    } else if (mine.empty()) {
      log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "no_conversation"}});
      return text(me, "relay_no_conversation", {});
    } else {
      std::string codes;
      for (const auto& r : mine) codes += (codes.empty() ? "" : ", ") + r.code;
      return text(me, "relay_which", {{"codes", codes}, {"code", mine[0].code}});
    }
    if (command == "#KEEP") return keep(*target, advocate, turn);
    return command == "#END" ? end(*target, advocate, turn) : release(*target, advocate, note, turn);
  }

  // "K7M text…": to the conversation the advocate named.
  if (auto code = as_code(first)) return to_code(advocate, *code, rest, all, turn);

  if (message.empty()) return "";
  // Carrier keywords (STOP, START…) act on the advocate's own phone at Twilio: never words for
  // a texter, never kept.
  const auto keyword = nlu::match_keyword(message).keyword;
  if (keyword == nlu::Keyword::stop || keyword == nlu::Keyword::start) {
    log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "keyword_not_sent"}});
    return "";
  }

  // No code: their one open conversation, if it is the last thing they were in and nothing
  // else (an offer, another texter) has reached them since. Never a waiting one.
  // A voicemail is never a place for words: it is called back.
  const auto texts = without_voicemail(mine);
  if (texts.size() == 1 && note.focus_code == texts[0].code) return forward_to_texter(texts[0], advocate, message, turn);
  // Otherwise the words are held, and the advocate says where they go.
  std::vector<store::Relay> candidates = texts;
  for (const auto& r : all) {
    if (r.state == "queued" && !is_voicemail(r) && contains(r.offered_to, advocate.id)) candidates.push_back(r);
  }
  if (candidates.empty()) {
    for (const auto& r : all) {
      if (r.state == "claimed" && contains(r.offered_to, advocate.id)) {
        log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "already_taken"}, {"code", r.code}});
        return text(me, "relay_taken", {{"code", r.code}});
      }
    }
    log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "no_conversation"}});
    return text(me, "relay_no_conversation", {});
  }
  return hold(advocate, message, candidates, turn);
}

void RelayService::handle_delivery_failures(std::int64_t now) {
  auto roster = this->roster();
  for (const auto& failure : store_.delivery_failures(kFailuresPerSweep)) {
    const auto parts = [&] {
      std::vector<std::string> out;
      std::stringstream in(failure.on_failure);
      std::string part;
      while (std::getline(in, part, ':')) out.push_back(part);
      return out;
    }();
    if (parts.size() != 3) {
      log::error("relay_failure_unreadable", {{"failure_id", failure.id}});
      store_.delivery_failure_handled(failure.id);
      continue;
    }
    const std::string& kind = parts[0];
    const std::string& advocate_id = parts[1];
    const std::string& code = parts[2];
    const auto all = store_.relays();
    auto relay = find_code(all, code);
    store::TurnRecord turn;
    turn.contact_key = relay ? relay->contact_key : "relay:" + code;  // ended: nothing of the texter's
    turn.keep_session = true;
    turn.now_ms = now;
    turn.request_id = "failure:" + std::to_string(failure.id);  // one notice per failure, however often tried
    const auto advocate = roster->by_id(advocate_id);
    if (kind == "tell" && advocate) {
      // The advocate believes the person has it: say it did not arrive, and why.
      const Lang me = advocate->prompt_language;
      const std::string reason = failure.error == "21610"     ? text(me, "relay_reason_opted_out", {})
                                 : failure.error == "opted_out" ? text(me, "relay_reason_stopped", {})
                                 : failure.error == "63016" ? text(me, "relay_reason_whatsapp_window", {})
                                                            : text(me, "relay_reason_error", {{"error", failure.error}});
      send(turn, code + ":not_delivered", advocate->phone,
           text(me, "relay_not_delivered", {{"code", code}, {"reason", reason}}), turn.contact_key);
      log::warn("relay_not_delivered", {{"code", code}, {"advocate", advocate_id}, {"error", failure.error}});
    } else if (kind == "call" && advocate) {
      // A callback the outbox could not place: the voicemail stays theirs, to try again.
      const Lang me = advocate->prompt_language;
      send(turn, code + ":call_failed", advocate->phone,
           text(me, "voicemail_call_failed", {{"code", code}, {"reason", text(me, "relay_reason_error", {{"error", failure.error}})}}),
           turn.contact_key);
      log::warn("voicemail_call_failed", {{"code", code}, {"advocate", advocate_id}, {"error", failure.error}});
    } else if (kind == "offer" && relay && relay->state == "queued") {
      // The offer never reached this advocate: the next on shift is tried, and a texter whom no
      // offer reached is told so rather than left waiting in silence.
      store::Relay r = *relay;
      Context context = context_of(r);
      if (std::find(context.unreachable.begin(), context.unreachable.end(), advocate_id) == context.unreachable.end()) {
        context.unreachable.push_back(advocate_id);
      }
      set_context(r, context);
      offer(r, "next", turn, r.first_message_sealed.empty());
      bool anyone = false;
      for (const auto& id : split_ids(r.offered_to)) {
        if (std::find(context.unreachable.begin(), context.unreachable.end(), id) == context.unreachable.end()) anyone = true;
      }
      if (!anyone && !r.no_answer_told) {
        const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
        const std::string hours = roster->hours_text(lang);
        notify_texter(turn, r, "unreachable", text(lang, "relay_no_advocate_reached", {{"hours", hours.empty() ? "-" : hours}}),
                      turn.now_ms);
        r.no_answer_told = true;
      }
      turn.relays.push_back(update(r));
      log::warn("relay_offer_not_delivered", {{"code", code}, {"advocate", advocate_id}, {"error", failure.error},
                                              {"anyone_left", anyone}});
    }
    turn.request_id.clear();
    try {
      if (!turn.outbound.empty() || !turn.relays.empty()) store_.commit_turn(turn);
      store_.delivery_failure_handled(failure.id);
    } catch (const store::Conflict&) {
      // The relay changed meanwhile (taken, ended): the next sweep decides again.
    }
  }
}

void RelayService::sweep() {
  auto guard = lock();
  const std::int64_t now = clock_();
  handle_delivery_failures(now);
  auto roster = this->roster();
  const auto all = store_.relays();
  for (auto r : all) {
    if (r.state != "queued") continue;
    store::TurnRecord turn;
    turn.contact_key = r.contact_key;
    turn.keep_session = true;
    turn.now_ms = now;
    // Idempotency keys of sweep messages name the relay's wait, so a repeat cannot duplicate them.
    turn.request_id = "sweep:" + r.code + ":" + std::to_string(r.created_ms);
    const std::string offered_before = r.offered_to;
    offer(r, "shift", turn, !r.first_message_sealed.empty() ? false : true);
    bool changed = r.offered_to != offered_before;
    if (escalate(r, all, turn)) changed = true;
    if (!r.no_answer_told && now - r.created_ms >= settings_.claim_timeout_ms) {
      const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
      const std::string hours = roster->hours_text(lang);
      notify_texter(turn, r, "no_answer", text(lang, "relay_no_answer", {{"hours", hours.empty() ? "-" : hours}}), now);
      r.no_answer_told = true;
      changed = true;
      log::info("relay_no_answer", {{"code", r.code}, {"contact", r.contact_key}});
    }
    if (!changed) continue;
    turn.request_id.clear();  // nothing to replay: no response is remembered for a sweep
    turn.relays.push_back(update(r));
    try {
      store_.commit_turn(turn);
    } catch (const store::Conflict&) {
      // Someone claimed or ended it meanwhile; the next sweep sees the new state.
    }
  }
  remind_shift_ends(now);
}

}  // namespace hotline::channels
