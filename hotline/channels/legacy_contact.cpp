#include "hotline/channels/legacy_contact.hpp"

#include "hotline/common/log.hpp"

namespace hotline::channels {

LegacyMoved adopt_legacy_contact(store::SessionStore& store, const std::string& legacy_key, const std::string& key,
                                 std::int64_t now_ms, std::int64_t session_idle_ms) {
  LegacyMoved moved;
  if (legacy_key == key) return moved;
  const store::ContactView old = store.read_contact(legacy_key, "");
  if (!old.opted_out && !old.session && !old.relay) return moved;
  const bool live_session = old.session && now_ms - old.session->updated_ms < session_idle_ms;

  if (old.relay) {
    const auto relay_lock = store.lock_key("relays");
    auto relay = store.relay_of(legacy_key);  // re-read under the lock: an advocate may have changed it
    if (relay && !store.relay_of(key)) {
      store::TurnRecord turn;
      turn.contact_key = key;  // the person's: a store's memory of them is refreshed
      turn.now_ms = now_ms;
      turn.keep_session = true;
      const std::int64_t version = relay->version;
      relay->contact_key = key;
      turn.relays.push_back({*relay, false, version});
      store.commit_turn(turn);
      moved.relay = true;
    }
  }
  if (old.session) {
    const auto current = store.load(key);
    const bool person_has_one = current && now_ms - current->updated_ms < session_idle_ms;
    if (live_session && !person_has_one) {
      store::TurnRecord turn;
      turn.contact_key = key;
      turn.session_data = old.session->data;
      turn.now_ms = old.session->updated_ms;  // its idle time runs on from where it was
      store.commit_turn(turn);
      moved.session = true;
    }
    store::TurnRecord erase;
    erase.contact_key = legacy_key;
    erase.now_ms = now_ms;
    store.commit_turn(erase);  // empty session data: the old conversation is gone
  }
  if (old.opted_out) {
    if (!store.is_opted_out(key)) store.set_opted_out(key, true, now_ms);
    store.set_opted_out(legacy_key, false, now_ms);
    moved.opt_out = true;
  }
  log::info("contact_rekeyed", {{"contact", key},
                                {"opt_out", moved.opt_out},
                                {"session", moved.session},
                                {"relay", moved.relay}});
  return moved;
}

}  // namespace hotline::channels
