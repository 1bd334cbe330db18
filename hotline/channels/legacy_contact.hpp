#pragma once
// Contacts used to be keyed by the whole address, so a WhatsApp texter (whatsapp:+1414…) was
// stored under another key than the same number by SMS. Now both are one person, keyed by the
// bare number (address.hpp). What is still kept under the old WhatsApp key (an opt-out, a
// conversation, an open relay) cannot be found by a migration: the keys are keyed hashes and
// the numbers are not stored. So it moves the first time the person writes again, on either
// channel, before their turn is read.
#include <cstdint>
#include <string>

#include "hotline/store/session_store.hpp"

namespace hotline::channels {

/// What adopt_legacy_contact moved (for the log and the tests).
struct LegacyMoved {
  bool opt_out = false;
  bool session = false;
  bool relay = false;
  bool any() const { return opt_out || session || relay; }
};

/// Moves what is kept under `legacy_key` to `key`, with the person's contact lock (`key`) held.
/// - an opt-out holds for the person (a person who said STOP on WhatsApp is not written to by
///   SMS either), and the old row goes;
/// - a live conversation (younger than `session_idle_ms`) becomes the person's, unless they
///   have one already, which stays as it is; the old one is erased either way;
/// - an open relay becomes the person's, unless they have one already: then the old relay is
///   left to end on its own (the relay retention), and `hotline forget` still finds it.
/// Messages already in the outbox under the old key are sent as they are; `forget` erases them
/// too. Costs one read by primary key when nothing is kept under the old key (nearly always).
LegacyMoved adopt_legacy_contact(store::SessionStore& store, const std::string& legacy_key, const std::string& key,
                                 std::int64_t now_ms, std::int64_t session_idle_ms);

}  // namespace hotline::channels
