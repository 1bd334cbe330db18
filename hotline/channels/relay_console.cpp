// The advocate's phone as a small console, and what the relay does when nobody answers:
// `#list`, `#pause` / `#available`, `#keep`, `#help`; the cap on open conversations; requests
// nobody takes offered again and then passed to coordinators; shift ends. Part of RelayService
// (relay.hpp); offers, claims and words are in relay.cpp.
#include <algorithm>

#include "hotline/channels/relay.hpp"
#include "hotline/channels/relay_ids.hpp"
#include "hotline/channels/sms.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"

namespace hotline::channels {

using namespace relay_ids;

namespace {

// A #list names at most this many waiting conversations (the count says how many there are),
// so the answer stays within three SMS segments.
constexpr std::size_t kListedWaiting = 3;

std::string minutes_since(std::int64_t since_ms, std::int64_t now_ms) {
  return std::to_string(std::max<std::int64_t>(0, now_ms - since_ms) / 60'000);
}

}  // namespace

bool RelayService::takes_offers(const routing::Advocate& advocate, const std::vector<store::Relay>& all,
                                const store::TurnRecord& turn) {
  if (peek_note(turn, advocate.id).paused) return false;
  return claimed_by(all, advocate.id).size() < static_cast<std::size_t>(std::max(advocate.max_open, 1));
}

std::string RelayService::describe(const store::Relay& relay, Lang advocate_lang) const {
  const std::string request = unseal(relay.first_message_sealed, kMessageContext);
  if (!request.empty()) return request_summary(request, advocate_lang);
  return request_summary(relay.topic + kTopicSeparator, advocate_lang);
}

std::string RelayService::console_command(const routing::Advocate& advocate, const std::string& command,
                                          const std::vector<store::Relay>& all, store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  if (command == "#LIST") return list(advocate, all, turn);
  if (command == "#PAUSE") return set_paused(advocate, true, turn);
  if (command == "#AVAILABLE") return set_paused(advocate, false, turn);
  if (command == "#HELP") return text(me, "relay_help", {});
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "unknown_command"}});
  // The word is not repeated: the answer is remembered for redeliveries, and an advocate's
  // words are kept nowhere in the clear.
  return text(me, "relay_unknown_command", {});
}

std::string RelayService::list(const routing::Advocate& advocate, const std::vector<store::Relay>& all,
                               const store::TurnRecord& turn) {
  const Lang me = advocate.prompt_language;
  std::string reply;
  const auto mine = claimed_by(all, advocate.id);
  if (mine.empty()) {
    reply = text(me, "relay_list_none", {});
  } else {
    std::string lines;
    for (const auto& r : mine) {
      const std::string line = text(me, r.shift_end == store::kKept ? "relay_list_kept" : "relay_list_open",
                                    // the topic only: a list never quotes a texter
                                    {{"code", r.code}, {"lang", r.lang}, {"topic", request_summary(r.topic + kTopicSeparator, me)},
                                     {"minutes", minutes_since(r.stage_ms ? r.stage_ms : r.created_ms, turn.now_ms)}});
      lines += (lines.empty() ? "" : "; ") + line;
    }
    reply = text(me, "relay_list_mine", {{"count", std::to_string(mine.size())},
                                         {"max", std::to_string(advocate.max_open)}, {"lines", lines}});
  }
  // The queue: requests waiting in a language this advocate takes, oldest first.
  std::vector<store::Relay> waiting;
  for (const auto& r : all) {
    const auto lang = lang_from_code(r.lang);
    if (r.state == "queued" && lang && advocate.speaks(*lang)) waiting.push_back(r);
  }
  if (waiting.empty()) {
    reply += " " + text(me, "relay_list_queue_empty", {});
  } else {
    std::string lines;
    for (std::size_t i = 0; i < waiting.size() && i < kListedWaiting; ++i) {
      lines += (lines.empty() ? "" : ", ") +
               text(me, "relay_list_waiting", {{"code", waiting[i].code}, {"lang", waiting[i].lang},
                                               {"minutes", minutes_since(waiting[i].created_ms, turn.now_ms)}});
    }
    if (waiting.size() > kListedWaiting) lines += ", …";
    reply += " " + text(me, "relay_list_queue", {{"count", std::to_string(waiting.size())}, {"lines", lines}});
  }
  const auto note = store_.advocate_note(advocate.id);
  if (note.paused) reply += " " + text(me, "relay_list_paused", {});
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", "list"},
                                     {"open", static_cast<int>(mine.size())}, {"waiting", static_cast<int>(waiting.size())}});
  return reply;
}

std::string RelayService::set_paused(const routing::Advocate& advocate, bool paused, store::TurnRecord& turn) {
  if (peek_note(turn, advocate.id).paused != paused) note_of(turn, advocate.id).paused = paused;
  log::info("relay_advocate_input", {{"advocate", advocate.id}, {"outcome", paused ? "paused" : "available"}});
  // Available again: the next sweep (within a second) offers what is waiting.
  return text(advocate.prompt_language, paused ? "relay_paused" : "relay_available", {});
}

std::string RelayService::keep(store::Relay r, const routing::Advocate& advocate, store::TurnRecord& turn) {
  if (r.shift_end != store::kKept) {
    r.shift_end = store::kKept;
    turn.relays.push_back(update(r));
  }
  log::info("relay_kept", {{"code", r.code}, {"advocate", advocate.id}, {"contact", r.contact_key}});
  return text(advocate.prompt_language, "relay_kept", {{"code", r.code}});
}

std::optional<std::string> RelayService::hand_on(const store::Relay& relay, const std::string& text_in,
                                                 store::TurnRecord& turn) {
  if (relay.state != "claimed") return std::nullopt;
  auto roster = this->roster();
  // An advocate taken off the roster (a live reload) is handed on from like one off shift, kept
  // or not: their texts would otherwise go nowhere.
  const auto advocate = roster->by_id(relay.advocate_id);
  if (advocate && (relay.shift_end == store::kKept || roster->is_on_shift(*advocate, turn.now_ms))) return std::nullopt;
  store::Relay r = relay;
  r.state = "queued";
  r.advocate_id.clear();
  r.offered_to.clear();  // the off-shift advocate is not on shift, so is not offered it
  // The offer quotes what they just wrote, and the topic they came with.
  r.first_message_sealed = crypto::seal(
      settings_.secret, truncate_utf8(r.topic + kTopicSeparator + trim(text_in), settings_.max_message_bytes),
      kMessageContext);
  r.created_ms = turn.now_ms;
  r.escalation = store::kOffered;
  r.stage_ms = 0;
  r.shift_end = store::kOnShift;
  r.no_answer_told = false;
  if (advocate && peek_note(turn, advocate->id).focus_code == r.code) set_focus(turn, advocate->id, "");
  offer(r, "handon", turn, false);
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  std::string reply;
  const std::string hours = roster->hours_text(lang);
  if (r.offered_to.empty() && roster->on_shift(lang, Channel::sms, turn.now_ms).empty() && !hours.empty()) {
    reply = text(lang, "relay_after_hours", {{"hours", hours}});
    r.no_answer_told = true;
  } else {
    reply = text(lang, "relay_handed_on", {});
  }
  turn.relays.push_back(update(r));
  log::info("relay_handed_on", {{"code", r.code}, {"from", relay.advocate_id}, {"contact", r.contact_key},
                                {"offered", static_cast<int>(split_ids(r.offered_to).size())}});
  return reply;
}

void RelayService::to_coordinators(store::Relay& r, const std::string& prompt, store::TurnRecord& turn) {
  auto roster = this->roster();
  int told = 0;
  for (const auto& a : roster->all()) {
    if (!a.coordinator || !a.sms || !roster->is_on_shift(a, turn.now_ms) || peek_note(turn, a.id).paused) continue;
    send_to_advocate(turn, r.code + ":coordinator:" + std::to_string(r.stage_ms) + ":" + a.id, a,
                     text(a.prompt_language, prompt,
                          {{"code", r.code}, {"lang", r.lang}, {"message", describe(r, a.prompt_language)},
                           {"minutes", minutes_since(r.stage_ms ? r.stage_ms : r.created_ms, turn.now_ms)}}),
                     r);
    r.offered_to = with_id(r.offered_to, a.id);  // told when someone takes it, like the others
    ++told;
  }
  r.escalation = store::kCoordinator;
  r.stage_ms = turn.now_ms;
  if (told == 0) log::warn("relay_no_coordinator", {{"code", r.code}, {"lang", r.lang}});
  log::info("relay_escalated", {{"code", r.code}, {"to", "coordinator"}, {"told", told}, {"contact", r.contact_key}});
}

bool RelayService::escalate(store::Relay& r, const std::vector<store::Relay>& all, store::TurnRecord& turn) {
  if (r.state != "queued" || r.escalation >= store::kCoordinator) return false;
  auto roster = this->roster();
  const std::int64_t now = turn.now_ms;
  // Escalation is for open hours: after hours the request waits for the next shift, and the
  // texter was told the hours.
  bool line_open = false;
  for (const auto& a : roster->all()) {
    if (a.sms && !a.coordinator && roster->is_on_shift(a, now)) line_open = true;
  }
  if (!line_open) return false;
  const Lang lang = lang_from_code(r.lang).value_or(Lang::en);
  bool someone_can = false;
  for (const auto& a : roster->on_shift(lang, Channel::sms, now)) {
    if (takes_offers(a, all, turn)) someone_can = true;
  }
  if (!someone_can) {
    to_coordinators(r, "relay_escalated_language", turn);
    return true;
  }
  if (r.stage_ms == 0) {
    // Queued but offered to nobody new (e.g. released, and the one who let go is the only one
    // on shift): the wait for a taker starts now, so it escalates all the same.
    r.stage_ms = now;
    return true;
  }
  if (now - r.stage_ms < settings_.escalate_after_ms) return false;
  if (r.escalation == store::kOfferedAgain) {
    to_coordinators(r, "relay_escalated", turn);
    return true;
  }
  // Offered again to everyone on shift who can take it, those told before included: an offer
  // read in a hurry is easily forgotten.
  for (const auto& a : roster->on_shift(lang, Channel::sms, now)) {
    if (!takes_offers(a, all, turn)) continue;
    send_to_advocate(turn, r.code + ":again:" + std::to_string(r.stage_ms) + ":" + a.id, a,
                     text(a.prompt_language, "relay_offer_waiting",
                          {{"code", r.code}, {"lang", r.lang}, {"message", describe(r, a.prompt_language)},
                           {"minutes", minutes_since(r.stage_ms, now)}}),
                     r);
    r.offered_to = with_id(r.offered_to, a.id);
  }
  if (!r.no_answer_told) {
    notify_texter(turn, r, "still_waiting:" + std::to_string(r.stage_ms), text(lang, "relay_still_waiting", {}), now);
    r.no_answer_told = true;  // once: the claim timeout says nothing more
  }
  r.escalation = store::kOfferedAgain;
  r.stage_ms = now;
  log::info("relay_escalated", {{"code", r.code}, {"to", "on_shift"}, {"contact", r.contact_key}});
  return true;
}

void RelayService::remind_shift_ends(std::int64_t now_ms) {
  auto roster = this->roster();
  const auto all = store_.relays();
  for (const auto& advocate : roster->all()) {
    const auto mine = claimed_by(all, advocate.id);
    if (mine.empty()) continue;
    const bool on_shift = roster->is_on_shift(advocate, now_ms);
    store::TurnRecord turn;
    turn.keep_session = true;
    turn.now_ms = now_ms;
    std::string codes, about;  // about: a texter the reminder concerns (so `forget` erases it too)
    for (auto r : mine) {
      if (on_shift && r.shift_end == store::kReminded) {
        r.shift_end = store::kOnShift;  // back on shift: a later shift end reminds them again
      } else if (!on_shift && r.shift_end == store::kOnShift) {
        r.shift_end = store::kReminded;
        codes += (codes.empty() ? "" : ", ") + r.code;
        if (about.empty()) about = r.contact_key;
      } else {
        continue;
      }
      turn.contact_key = r.contact_key;
      turn.relays.push_back(update(r));
    }
    if (turn.relays.empty()) continue;
    if (!codes.empty()) {
      // Keyed by the conversations and the minute, so a repeated sweep cannot send it twice.
      turn.request_id = "shift_end:" + advocate.id + ":" + codes + ":" + std::to_string(now_ms / 60'000);
      const std::string first = codes.substr(0, codes.find(','));
      send(turn, "reminder", advocate.phone,
           text(advocate.prompt_language, "relay_shift_over", {{"codes", codes}, {"code", first}}), about);
      turn.request_id.clear();
      log::info("relay_shift_over", {{"advocate", advocate.id}, {"open", static_cast<int>(mine.size())}});
    }
    try {
      store_.commit_turn(turn);
    } catch (const store::Conflict&) {
      // A conversation changed meanwhile (a text, a release); the next sweep decides again.
    }
  }
}

}  // namespace hotline::channels
