#pragma once
// A conversation's session (step, language, counters, last intent, pending choices) and the
// answers remembered for redeliveries tell what a contact asked about ("deportation"), so they
// are sealed at rest like the relay rows: AES-256-GCM under a key derived from HOTLINE_SECRET
// for this purpose alone. This layer wraps any SessionStore (SQLite, with its turn log and
// in-memory cache, or PostgreSQL): it seals what commit_turn writes and opens what the reads
// return, so the stores keep storing opaque strings and know nothing of keys, and what they
// cache in memory is the sealed form. Every other call passes straight through.
//
// Each value is bound to its row: the session to the contact key, an answer to the contact key
// and its request id (authenticated, not stored), so a value copied into another contact's row,
// or an answer into another request's slot, does not open.
//
// Rows written before sealing (plain JSON sessions, plain TwiML answers) are read as they are
// and sealed by the contact's next turn; rows nobody writes again are deleted by the
// housekeeper after the idle time, like every conversation. A sealed value that does not open
// (tampered with, moved, another secret) reads as absent: the conversation starts over.
#include <memory>
#include <string_view>

#include "hotline/store/session_store.hpp"

namespace hotline::store {

/// The HKDF purpose label of the conversations' key (never the relays' or the outbox's).
inline constexpr std::string_view kConversationSealPurpose = "hotline conversation seal v1";

/// `inner` with sessions and remembered answers sealed under a key derived from `secret`.
/// Throws std::invalid_argument when `secret` is empty.
std::unique_ptr<SessionStore> seal_conversations(std::unique_ptr<SessionStore> inner, std::string_view secret);

}  // namespace hotline::store
