#include "hotline/channels/relay.hpp"

#include <algorithm>
#include <sstream>

#include "hotline/channels/sms.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/nlu/nlu.hpp"

namespace hotline::channels {
namespace {

constexpr const char* kTexterContext = "relays.texter";
constexpr const char* kMessageContext = "relays.first_message";
// Codes avoid letters and digits that read alike (I/1, O/0, S/5, B/8, Z/2).
constexpr std::string_view kCodeLetters = "ACDEFGHJKLMNPQRTUVWXY";
constexpr std::string_view kCodeDigits = "34679";

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

/// "K7" from "k7", "K7:", "K7," (advocates type fast).
std::optional<std::string> as_code(const std::string& word) {
  std::string w = upper(word);
  while (!w.empty() && (w.back() == ':' || w.back() == ',' || w.back() == '.')) w.pop_back();
  if (w.size() == 2 && std::isalpha(static_cast<unsigned char>(w[0])) && std::isdigit(static_cast<unsigned char>(w[1]))) return w;
  return std::nullopt;
}

std::vector<std::string> split_ids(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream in(csv);
  std::string id;
  while (std::getline(in, id, ',')) if (!id.empty()) out.push_back(id);
  return out;
}

bool contains(const std::string& csv, const std::string& id) {
  auto ids = split_ids(csv);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

std::string with_id(const std::string& csv, const std::string& id) {
  if (contains(csv, id)) return csv;
  return csv.empty() ? id : csv + "," + id;
}

store::RelayChange update(const store::Relay& r) { return {r, false, r.version}; }

}  // namespace

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

std::vector<store::Relay> RelayService::claimed_by(const std::string& advocate_id) {
  std::vector<store::Relay> out;
  for (auto& r : store_.relays()) if (r.state == "claimed" && r.advocate_id == advocate_id) out.push_back(r);
  return out;
}

void RelayService::send(store::TurnRecord& turn, const std::string& purpose, const std::string& to,
                        const std::string& body, const std::string& contact_key) {
  if (to.empty() || body.empty()) return;
  store::OutboundMessage m;
  // The request that caused it plus what it is for: a redelivered webhook or a repeated sweep
  // cannot queue the same message twice.
  m.idempotency_key = (turn.request_id.empty() ? "t" + std::to_string(turn.now_ms) : turn.request_id) + ":" + purpose;
  m.contact_key = contact_key;
  m.sender = settings_.sender;
  m.to_sealed = crypto::seal(settings_.secret, to, "outbox.to");
  m.body_sealed = crypto::seal(settings_.secret, body, "outbox.body");
  turn.outbound.push_back(std::move(m));
}

std::string RelayService::new_code() {
  auto open = store_.relays();
  for (int attempt = 0; attempt < 200; ++attempt) {
    const std::string r = crypto::random_hex(2);
    const unsigned a = static_cast<unsigned>(std::stoul(r.substr(0, 2), nullptr, 16));
    const unsigned b = static_cast<unsigned>(std::stoul(r.substr(2, 2), nullptr, 16));
    std::string code{kCodeLetters[a % kCodeLetters.size()], kCodeDigits[b % kCodeDigits.size()]};
    if (std::none_of(open.begin(), open.end(), [&](const auto& x) { return x.code == code; })) return code;
  }
  throw std::runtime_error("relay: no free conversation code (too many open relays)");
}

void RelayService::offer(store::Relay& relay, const std::string& purpose, store::TurnRecord& turn, bool again) {
  auto roster = this->roster();
  const Lang lang = lang_from_code(relay.lang).value_or(Lang::en);
  const std::string message = unseal(relay.first_message_sealed, kMessageContext);
  for (const auto& a : roster->on_shift(lang, Channel::sms, turn.now_ms)) {
    if (contains(relay.offered_to, a.id)) continue;
    const std::string body = again || message.empty()
        ? text(a.prompt_language, "relay_offer_again", {{"code", relay.code}, {"lang", relay.lang}})
        : text(a.prompt_language, "relay_offer", {{"code", relay.code}, {"lang", relay.lang}, {"message", message}});
    send(turn, relay.code + ":" + purpose + ":" + a.id, a.phone, body, relay.contact_key);
    relay.offered_to = with_id(relay.offered_to, a.id);
    log::info("relay_offered", {{"code", relay.code}, {"advocate", a.id}, {"contact", relay.contact_key}});
  }
}

std::string RelayService::open(const std::string& contact_key, const std::string& phone, Lang lang,
                               const std::string& first_message, store::TurnRecord& turn) {
  if (relay_of(contact_key)) return "";  // already waiting or talking: nothing new to open
  auto roster = this->roster();
  store::Relay r;
  r.code = new_code();
  r.contact_key = contact_key;
  r.texter_sealed = crypto::seal(settings_.secret, phone, kTexterContext);
  r.lang = std::string(lang_code(lang));
  r.state = "queued";
  r.first_message_sealed = crypto::seal(settings_.secret, truncate_utf8(trim(first_message), settings_.max_message_bytes), kMessageContext);
  r.created_ms = turn.now_ms;
  offer(r, "offer", turn, false);
  std::string instead;
  const bool on_shift = !roster->on_shift(lang, Channel::sms, turn.now_ms).empty();
  const std::string hours = roster->hours_text(lang);
  if (!on_shift && !hours.empty()) {
    instead = text(lang, "relay_after_hours", {{"hours", hours}});
    r.no_answer_told = true;  // they already know when to expect an answer
  }
  turn.relays.push_back({r, false, 0});
  log::info("relay_opened", {{"code", r.code}, {"contact", contact_key}, {"lang", r.lang},
                             {"offered", static_cast<int>(split_ids(r.offered_to).size())},
                             {"after_hours", !on_shift}});
  if (!on_shift && hours.empty()) log::warn("relay_no_advocates", {{"code", r.code}, {"lang", r.lang}});
  return instead;
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
  send(turn, relay.code + ":texter", advocate->phone, body, relay.contact_key);
  turn.relays.push_back(update(relay));  // touched: the relay retention counts from here
  log::info("relay_forwarded", {{"code", relay.code}, {"direction", "to_advocate"}, {"advocate", advocate->id}});
}

void RelayService::texter_left(const store::Relay& relay, store::TurnRecord& turn) {
  if (relay.state == "claimed") {
    if (auto advocate = roster()->by_id(relay.advocate_id)) {
      send(turn, relay.code + ":left", advocate->phone,
           text(advocate->prompt_language, "relay_texter_left", {{"code", relay.code}}), relay.contact_key);
    }
  }
  turn.relays.push_back({relay, true, relay.version});
  log::info("relay_ended", {{"code", relay.code}, {"by", "texter_stop"}, {"contact", relay.contact_key}});
}

std::string RelayService::claim(store::Relay r, const routing::Advocate& advocate, const std::string& message,
                                 store::TurnRecord& turn) {
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  const std::string texter = unseal(r.texter_sealed, kTexterContext);
  r.state = "claimed";
  r.advocate_id = advocate.id;
  r.first_message_sealed.clear();  // it was needed only to decide who takes it
  // The others who were told about it learn it is taken, so nobody writes into the void.
  for (const auto& id : split_ids(r.offered_to)) {
    if (id == advocate.id) continue;
    if (auto other = roster()->by_id(id)) {
      send(turn, r.code + ":taken:" + id, other->phone, text(other->prompt_language, "relay_taken", {{"code", r.code}}), r.contact_key);
    }
  }
  send(turn, r.code + ":connected", texter, text(lang, "relay_connected", {}), r.contact_key);
  // The reply that takes it reaches the texter too when it says something ("Hola, soy Ana…"),
  // not when it is a bare "ok" or "yes".
  if (trim(message).find(' ') != std::string::npos) send(turn, r.code + ":reply", texter, trim(message), r.contact_key);
  turn.relays.push_back(update(r));
  log::info("relay_claimed", {{"code", r.code}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_claimed", {{"code", r.code}});
}

std::string RelayService::end(const store::Relay& r, const routing::Advocate& advocate, store::TurnRecord& turn) {
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  send(turn, r.code + ":ended", unseal(r.texter_sealed, kTexterContext), text(lang, "relay_ended", {}), r.contact_key);
  turn.relays.push_back({r, true, r.version});
  log::info("relay_ended", {{"code", r.code}, {"by", "advocate"}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_closed", {{"code", r.code}});
}

std::string RelayService::release(store::Relay r, const routing::Advocate& advocate, store::TurnRecord& turn) {
  r.state = "queued";
  r.advocate_id.clear();
  r.offered_to = advocate.id;  // everyone else on shift hears about it again; not the one who let go
  r.created_ms = turn.now_ms;  // the wait starts again
  r.no_answer_told = false;
  offer(r, "reoffer", turn, true);
  turn.relays.push_back(update(r));
  log::info("relay_released", {{"code", r.code}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_released", {{"code", r.code}});
}

std::string RelayService::from_advocate(const routing::Advocate& advocate, const std::string& text_in,
                                        store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  const std::string message = trim(text_in);
  auto all = store_.relays();
  auto mine = claimed_by(advocate.id);
  auto codes_of = [](const std::vector<store::Relay>& rs) {
    std::string out;
    for (const auto& r : rs) out += (out.empty() ? "" : ", ") + r.code;
    return out;
  };
  auto find_code = [&](const std::string& code) -> std::optional<store::Relay> {
    for (auto& r : all) if (r.code == code) return r;
    return std::nullopt;
  };
  auto unknown_code = [&](const std::string& code) {
    log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "unknown_code"}});
    if (mine.empty()) return text(me, "relay_no_conversation", {});
    return text(me, "relay_unknown_code", {{"code", code}, {"codes", codes_of(mine)}});
  };

  std::istringstream words(message);
  std::string first;
  words >> first;
  std::string rest;
  std::getline(words, rest);
  rest = trim(rest);

  // Commands: #end / #release, optionally with a code.
  if (!first.empty() && first[0] == '#') {
    const std::string command = upper(first);
    if (command != "#END" && command != "#RELEASE") return text(me, "relay_advocate_help", {});
    std::optional<store::Relay> target;
    if (auto code = as_code(rest)) {
      target = find_code(*code);
      if (!target || target->advocate_id != advocate.id) return unknown_code(*code);
    } else if (mine.size() == 1) {
      target = mine[0];
    } else if (mine.empty()) {
      log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "no_conversation"}});
      return text(me, "relay_no_conversation", {});
    } else {
      return text(me, "relay_which", {{"codes", codes_of(mine)}, {"code", mine[0].code}});
    }
    return command == "#END" ? end(*target, advocate, turn) : release(*target, advocate, turn);
  }

  // "K7 text…": to one conversation by its code.
  if (auto code = as_code(first)) {
    auto r = find_code(*code);
    if (!r) return unknown_code(*code);
    if (r->state == "queued") return claim(*r, advocate, rest, turn);
    if (r->advocate_id != advocate.id) return text(me, "relay_taken", {{"code", r->code}});
    if (rest.empty()) return text(me, "relay_advocate_help", {});
    send(turn, r->code + ":advocate", unseal(r->texter_sealed, kTexterContext), rest, r->contact_key);
    turn.relays.push_back(update(*r));
    log::info("relay_forwarded", {{"code", r->code}, {"direction", "to_texter"}, {"advocate", advocate.id}});
    return "";
  }

  if (mine.size() == 1) {
    const auto& r = mine[0];
    if (message.empty()) return "";
    send(turn, r.code + ":advocate", unseal(r.texter_sealed, kTexterContext), message, r.contact_key);
    turn.relays.push_back(update(r));
    log::info("relay_forwarded", {{"code", r.code}, {"direction", "to_texter"}, {"advocate", advocate.id}});
    return "";
  }
  if (mine.size() > 1) return text(me, "relay_which", {{"codes", codes_of(mine)}, {"code", mine[0].code}});

  // No conversation of theirs: a reply to an offer takes the oldest one offered to them.
  for (auto& r : all) {
    if (r.state == "queued" && contains(r.offered_to, advocate.id)) return claim(r, advocate, message, turn);
  }
  for (auto& r : all) {
    if (r.state == "claimed" && contains(r.offered_to, advocate.id)) {
      log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "already_taken"}, {"code", r.code}});
      return text(me, "relay_taken", {{"code", r.code}});
    }
  }
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "no_conversation"}});
  return text(me, "relay_no_conversation", {});
}

void RelayService::sweep() {
  auto guard = lock();
  const std::int64_t now = clock_();
  auto roster = this->roster();
  for (auto r : store_.relays()) {
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
    if (!r.no_answer_told && now - r.created_ms >= settings_.claim_timeout_ms) {
      const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
      const std::string hours = roster->hours_text(lang);
      send(turn, r.code + ":no_answer", unseal(r.texter_sealed, kTexterContext),
           text(lang, "relay_no_answer", {{"hours", hours.empty() ? "-" : hours}}), r.contact_key);
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
}

}  // namespace hotline::channels
