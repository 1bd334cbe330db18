#pragma once
// The statements of a turn, the same in both stores: written with SQLite's ?N markers, which
// the PostgreSQL store turns into $N (postgres_markers). One copy, so the two stores cannot
// drift apart in what a turn reads and writes.
#include <cctype>
#include <string>
#include <string_view>

namespace hotline::store::sql {

// A relay's columns, in the order both stores read them (their relay_at helpers): 18 of them.
#define HOTLINE_RELAY_COLUMNS                                                                \
  "code, contact_key, texter, lang, state, advocate_id, first_message, offered_to, "         \
  "no_answer_told, created_ms, updated_ms, version, context, topic, escalation, stage_ms, shift_end, texter_wrote_ms"

inline constexpr const char* kSelectRelays = "SELECT " HOTLINE_RELAY_COLUMNS " FROM relays ORDER BY created_ms, code";
inline constexpr const char* kRelayOf = "SELECT " HOTLINE_RELAY_COLUMNS " FROM relays WHERE contact_key = ?1";

// Closed relays' codes (closed_codes): ?1 code, ?2 when it closed. A code used again and closed
// again starts its quarantine again.
inline constexpr const char* kRememberClosedCode =
    "INSERT INTO closed_codes (code, closed_ms) VALUES (?1, ?2) "
    "ON CONFLICT (code) DO UPDATE SET closed_ms = excluded.closed_ms";
// The same for every relay idle since ?1 (the retention is about to delete them), closed at ?2.
inline constexpr const char* kRememberIdleRelayCodes =
    "INSERT INTO closed_codes (code, closed_ms) SELECT code, ?2 FROM relays WHERE updated_ms < ?1 "
    "ON CONFLICT (code) DO UPDATE SET closed_ms = excluded.closed_ms";
// The same for a contact's relay (`forget`): ?1 contact key, ?2 now.
inline constexpr const char* kRememberForgottenRelayCode =
    "INSERT INTO closed_codes (code, closed_ms) SELECT code, ?2 FROM relays WHERE contact_key = ?1 "
    "ON CONFLICT (code) DO UPDATE SET closed_ms = excluded.closed_ms";
inline constexpr const char* kClosedCodesSince = "SELECT code FROM closed_codes WHERE closed_ms >= ?1 ORDER BY code";
inline constexpr const char* kForgetClosedCodes = "DELETE FROM closed_codes WHERE closed_ms < ?1";

// Advocates' notes (AdvocateNote), written whole: ?1 id, ?2 focus, ?3 held (sealed), ?4 held codes,
// ?5 held until, ?6 now, ?7 paused.
inline constexpr const char* kAdvocateNote =
    "SELECT focus_code, held, held_codes, held_until_ms, paused FROM advocate_notes WHERE advocate_id = ?1";
inline constexpr const char* kWriteAdvocateNote =
    "INSERT INTO advocate_notes (advocate_id, focus_code, held, held_codes, held_until_ms, updated_ms, paused) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
    "ON CONFLICT (advocate_id) DO UPDATE SET focus_code = excluded.focus_code, held = excluded.held, "
    "held_codes = excluded.held_codes, held_until_ms = excluded.held_until_ms, updated_ms = excluded.updated_ms, "
    "paused = excluded.paused";
// A held message is kept only briefly: its time up (?1 now), it is erased.
inline constexpr const char* kDropExpiredHeld =
    "UPDATE advocate_notes SET held = '', held_codes = '', held_until_ms = 0 "
    "WHERE held != '' AND held_until_ms <= ?1";

// A turn's reads in one statement (?1 key, ?2 request id): every join is a primary-key (or
// unique) lookup, and the outer row always exists, so a contact never seen reads as NULLs.
// Columns: session, session_ms, the earlier answer to ?2, opted out, the relay's 18 columns, then
// the two request ids the row remembers answers for (the SQLite store's cache keeps them).
inline constexpr const char* kReadContact =
    "SELECT c.session, c.session_ms, "
    "CASE WHEN ?2 = '' THEN NULL WHEN c.reply_id = ?2 THEN c.reply WHEN c.prev_reply_id = ?2 THEN c.prev_reply END, "
    "coalesce(o.opted_out, false), "
    "r.code, r.contact_key, r.texter, r.lang, r.state, r.advocate_id, r.first_message, r.offered_to, "
    "r.no_answer_told, r.created_ms, r.updated_ms, r.version, r.context, r.topic, r.escalation, r.stage_ms, r.shift_end, "
    "r.texter_wrote_ms, "
    "coalesce(c.reply_id, ''), coalesce(c.prev_reply_id, '') "
    "FROM (SELECT 1) AS one "
    "LEFT JOIN conversations AS c ON c.contact_key = ?1 "
    "LEFT JOIN contacts AS o ON o.contact_key = ?1 "
    "LEFT JOIN relays AS r ON r.contact_key = ?1";

// A turn's write to its conversation: ?1 key, ?2 session ('' = ended), ?3 request id ('' =
// none), ?4 response, ?5 keep the session as it is, ?6 now. The answer moves into the row's
// latest slot and the latest into the previous one; nothing changes (0 rows) when the request
// id is one the row already remembers, which is how a redelivery is recognised.
inline constexpr const char* kWriteConversation =
    "INSERT INTO conversations (contact_key, session, session_ms, reply_id, reply, prev_reply_id, prev_reply, updated_ms) "
    "VALUES (?1, CASE WHEN ?5 THEN '' ELSE ?2 END, ?6, ?3, CASE WHEN ?3 = '' THEN '' ELSE ?4 END, '', '', ?6) "
    "ON CONFLICT (contact_key) DO UPDATE SET "
    "session = CASE WHEN ?5 THEN conversations.session ELSE excluded.session END, "
    "session_ms = CASE WHEN ?5 THEN conversations.session_ms ELSE excluded.session_ms END, "
    "prev_reply_id = CASE WHEN ?3 = '' THEN conversations.prev_reply_id ELSE conversations.reply_id END, "
    "prev_reply = CASE WHEN ?3 = '' THEN conversations.prev_reply ELSE conversations.reply END, "
    "reply_id = CASE WHEN ?3 = '' THEN conversations.reply_id ELSE ?3 END, "
    "reply = CASE WHEN ?3 = '' THEN conversations.reply ELSE ?4 END, "
    "updated_ms = excluded.updated_ms "
    "WHERE ?3 = '' OR (conversations.reply_id != ?3 AND conversations.prev_reply_id != ?3)";

inline constexpr const char* kLoadSession =
    "SELECT session, session_ms FROM conversations WHERE contact_key = ?1 AND session != ''";

inline constexpr const char* kResponseFor =
    "SELECT CASE reply_id WHEN ?2 THEN reply ELSE prev_reply END FROM conversations "
    "WHERE contact_key = ?1 AND (reply_id = ?2 OR prev_reply_id = ?2)";

// The daily report's counts (daily_counts): ?1 day, ?2 metric, ?3 topic, ?4 lang, ?5 channel,
// ?6 how many to add. Written with the turn that counts, only when it is applied.
inline constexpr const char* kAddDailyCount =
    "INSERT INTO daily_counts (day, metric, topic, lang, channel, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
    "ON CONFLICT (day, metric, topic, lang, channel) DO UPDATE SET n = daily_counts.n + excluded.n";
// ?1 first day, ?2 last day, both included.
inline constexpr const char* kSelectDailyCounts =
    "SELECT day, metric, topic, lang, channel, n FROM daily_counts WHERE day >= ?1 AND day <= ?2 "
    "ORDER BY day, metric, topic, lang, channel";

/// The same statement with PostgreSQL's markers: ?N becomes $N (no statement here has a ? in a
/// string literal).
inline std::string postgres_markers(std::string_view sql) {
  std::string out(sql);
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '?' && std::isdigit(static_cast<unsigned char>(out[i + 1]))) out[i] = '$';
  }
  return out;
}

}  // namespace hotline::store::sql
