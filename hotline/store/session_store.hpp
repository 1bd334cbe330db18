#pragma once
// Where conversations survive restarts. Keys are keyed hashes of phone numbers (or CallSids),
// never the numbers themselves; values are opaque JSON written by the engine's session codec.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace hotline::store {

struct StoredSession {
  std::string data;         // the engine's session, serialised
  std::int64_t updated_ms;  // when it was last saved (Unix ms)
};

/// A message for the outbox. The store keeps `to` and `body` exactly as given: callers seal
/// them (crypto::seal) so neither is readable at rest.
struct OutboundMessage {
  std::string idempotency_key;  // one per intent to send: a second insert with it is ignored
  std::string contact_key;      // the texter the message is about (so `forget` erases it too)
  std::string sender;           // the From number or MessagingServiceSid (the hotline's own)
  std::string to_sealed;
  std::string body_sealed;
  /// Whom to tell if it cannot be delivered, e.g. "tell:maria:K7M" (an advocate's words to a
  /// texter) or "offer:maria:K7M" (an offer to that advocate); '' = nobody. Ids and a code only:
  /// never a number or text.
  std::string on_failure;
};

/// A message that could not be delivered (dropped at send, or a failed/undelivered status)
/// whose row named someone to tell. Kept until the relay has told them (delivery_failure_handled).
struct DeliveryFailure {
  std::int64_t id = 0;
  std::string on_failure;  // as OutboundMessage::on_failure
  std::string error;       // Twilio's error code ("21610"), else the status or a short reason
  std::int64_t created_ms = 0;
};

/// A message waiting to be sent.
struct OutboxRow {
  std::int64_t id = 0;
  std::string idempotency_key;
  std::string contact_key;
  std::string sender;
  std::string to_sealed;
  std::string body_sealed;
  std::string on_failure;
  int attempts = 0;
  std::int64_t next_attempt_ms = 0;
  /// When a send began whose outcome was never learned (the process died during it, or it timed
  /// out / got a 5xx / lost the connection after the request went out): Twilio may have accepted
  /// it, so the worker asks Twilio before sending again. 0: no such send.
  std::int64_t attempt_started_ms = 0;
  /// The lease this claim holds (see claim_outbound); outbound_attempt_started checks it.
  std::int64_t lease_until_ms = 0;
};

/// An open relay between a texter and the advocates: queued (waiting for someone to claim it)
/// or claimed. The row, with the texter's sealed number, is deleted when the relay ends.
struct Relay {
  std::string code;                  // short, shown to advocates, e.g. "K7"
  std::string contact_key;           // the texter's hashed id
  std::string texter_sealed;         // the texter's number, sealed
  std::string lang;                  // "en" | "es"
  std::string state;                 // "queued" | "claimed"
  std::string advocate_id;           // who claimed it ("" while queued)
  std::string first_message_sealed;  // what the texter wrote, sealed; erased once claimed
  std::string offered_to;            // comma-separated advocate ids already told about it
  bool no_answer_told = false;       // the texter was told nobody is free yet
  /// What the next advocate should know, sealed (the relay service's JSON): whether the request
  /// came after hours, the texter's messages while waiting, a release note, and the advocates an
  /// offer could not reach. Erased once claimed (what an advocate needs was delivered then).
  std::string context_sealed;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::int64_t version = 0;          // bumped by every write; for optimistic concurrency
  std::string topic;                 // the intent asked about before the hand-off ("" = none); no words
  /// How far a request nobody takes has been escalated (RelayEscalation); 0 once claimed.
  int escalation = 0;
  /// When the relay's current stage began: its latest round of offers while queued (0: not yet
  /// offered to anyone, e.g. after hours), when it was taken once claimed.
  std::int64_t stage_ms = 0;
  /// Once claimed, what the advocate's shift end did to it (RelayShiftEnd).
  int shift_end = 0;
  /// When the texter last wrote to the hotline (their messages only, not the advocate's): a
  /// WhatsApp texter can be sent free-form text only within 24 hours of it. 0 = not known (a
  /// relay opened before this was recorded).
  std::int64_t texter_wrote_ms = 0;
};

/// Relay::escalation: what has been done about a request nobody has taken.
enum RelayEscalation : int {
  kOffered = 0,       // offered to the advocates on shift who speak the language
  kOfferedAgain = 1,  // offered again to them, and the texter told it is still waiting
  kCoordinator = 2,   // passed to the coordinators on shift
};

/// Relay::shift_end: a claimed relay whose advocate's shift ended.
enum RelayShiftEnd : int {
  kOnShift = 0,   // nothing yet (the advocate is on shift, or has not been reminded)
  kReminded = 1,  // the advocate was reminded; the texter's next text is offered to others
  kKept = 2,      // the advocate keeps it on purpose (#keep): texts keep coming to them
};

/// How long a closed relay's code stays out of use: as long as it could still be in an
/// advocate's phone and be answered late ("K7M one more thing"), so that such a late reply
/// meets "closed" rather than a new texter given the same code.
inline constexpr std::int64_t kClosedCodeQuarantineMs = 30LL * 24 * 3'600'000;

/// What the relay remembers about one advocate between their messages, so that a reply goes
/// only where the advocate meant it to.
struct AdvocateNote {
  std::string advocate_id;
  /// The conversation the advocate last wrote in, as long as nothing about another conversation
  /// (an offer, a "taken" notice, another texter's message) has reached them since; '' = none.
  /// Only then may a text without a code go to their one open conversation.
  std::string focus_code;
  /// A message that was not sent because its target was not certain, sealed; '' = none. Kept
  /// only until held_until_ms (minutes), so the advocate can send it with one reply ("1", "2").
  std::string held_sealed;
  std::string held_codes;  // the conversations the choices name, comma-separated, "1" first
  std::int64_t held_until_ms = 0;
  /// #pause: the advocate gets no offers until #available.
  bool paused = false;
};

/// A write to a relay: insert (expected_version 0), update (expected_version = the version
/// read) or delete. If the row changed since it was read, the whole turn is rolled back and
/// commit_turn throws store::Conflict.
struct RelayChange {
  Relay relay;
  bool erase = false;
  std::int64_t expected_version = 0;
};

/// Another writer changed a relay first (two advocates claiming at once); re-read and decide again.
struct Conflict : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The store could not do what it was asked: a database error (locked, full, unreachable), or
/// the SQLite store's turn log unwritable or over its limit of unapplied turns. What the call
/// was to write was not written. Every store call throws this for such failures, so a webhook
/// can tell "the turn was not kept" from a bug and answer so that Twilio uses the number's
/// Fallback URL. Its message names no contact beyond hashed keys.
struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The database server could not be reached or would not take a connection yet (refused, no
/// such host, still starting up): worth trying again later, unlike a failed migration.
struct StoreUnreachable : StoreError {
  using StoreError::StoreError;
};

/// One line of the daily report (`hotline report`): how many times `metric` happened on `day`
/// (the hotline's local date, "2026-12-05") for a topic (an intent name, "" = none), a language
/// ("en", "es", "" = not known yet) and a channel ("sms", "whatsapp", "voice"). Counts only: no
/// contact, no words, so they outlive conversations, the housekeeper and `forget`.
struct DailyCount {
  std::string day;
  std::string metric;  // one of the kCount… names below
  std::string topic;
  std::string lang;
  std::string channel;
  std::int64_t n = 1;  // how many (for kCountClaimSeconds: seconds, summed)
};

// The metrics a turn may count (DailyCount::metric).
inline constexpr const char* kCountConversations = "conversations";    // a turn that started one
inline constexpr const char* kCountMessages = "messages";              // every answered message or caller's answer
inline constexpr const char* kCountNotUnderstood = "not_understood";   // the hotline said it did not understand
inline constexpr const char* kCountHandoffsAsked = "handoffs_asked";   // a relay to an advocate opened
inline constexpr const char* kCountHandoffsClaimed = "handoffs_claimed";  // an advocate took one
inline constexpr const char* kCountClaimSeconds = "claim_seconds";     // seconds from asked to taken, summed
inline constexpr const char* kCountVoicemails = "voicemails";          // a caller left a message
inline constexpr const char* kCountOptOuts = "opt_outs";               // STOP from a number not opted out

/// Everything one handled webhook changes, written in a single transaction so a crash leaves
/// either all of it or none of it.
struct TurnRecord {
  std::string contact_key;
  std::string session_data;  // empty = erase the session (conversation ended)
  std::string request_id;    // Twilio's MessageSid / CallSid+step: makes a redelivery a no-op
  std::string response;      // what we answered, replayed verbatim on a redelivery
  std::int64_t now_ms = 0;
  bool keep_session = false;                // true: leave the session as it is (session_data ignored)
  std::vector<OutboundMessage> outbound;    // messages this turn causes, into the outbox
  std::vector<RelayChange> relays;          // relay state this turn changes
  std::vector<AdvocateNote> advocate_notes; // advocates' notes this turn writes (whole rows)
  /// Added to the daily counts with the turn, in its transaction, and only when the turn is
  /// applied (never for a redelivery, never twice for a turn replayed from the turn log).
  std::vector<DailyCount> counts;
};

/// What a contact's next turn needs to know, read in one go (one snapshot, one round trip).
struct ContactView {
  std::optional<StoredSession> session;          // the live conversation, if any
  std::optional<std::string> earlier_response;   // the answer already given to this request id
  bool opted_out = false;
  std::optional<Relay> relay;                    // the contact's open relay, if any
};

/// Held while one key's turn runs; released when destroyed. See SessionStore::lock_key.
class KeyLock {
 public:
  virtual ~KeyLock() = default;
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  /// Serialises work on one key (a contact, a call, "relays") among every thread and every
  /// process sharing this store, so two messages of one contact are handled one after the
  /// other, never both on the same old state, whichever replica takes them. Locks may nest on
  /// one thread (a contact, then the relays); take them in that order everywhere.
  virtual std::unique_ptr<KeyLock> lock_key(std::string_view key) = 0;

  /// Everything a turn reads, at once: the session, whether `request_id` was answered before,
  /// the opt-out and the open relay. The same as the four calls below, but one snapshot and
  /// one round trip: what each message pays for.
  virtual ContactView read_contact(std::string_view contact_key, std::string_view request_id) = 0;

  virtual std::optional<StoredSession> load(std::string_view contact_key) = 0;
  /// Durable when it returns: a kill -9 afterwards loses none of it. (The SQLite store may write
  /// a turn that changes only its conversation to the database a few milliseconds later, from
  /// its turn log; this store reads it back at once, another process a moment later.)
  /// If `turn.request_id` was already recorded for this key, the whole turn is a no-op (the
  /// first delivery's response and session stand). An empty request_id records no response.
  /// A key remembers the answers to its last two requests (Twilio
  /// redelivers a webhook within seconds, long before a contact has written twice more).
  virtual void commit_turn(const TurnRecord& turn) = 0;
  /// The response already given to this request id of this key, if Twilio delivers it again.
  virtual std::optional<std::string> response_for(std::string_view contact_key,
                                                  std::string_view request_id) = 0;

  /// Opt-out outlives sessions: it is kept until the person opts back in.
  virtual bool is_opted_out(std::string_view contact_key) = 0;
  virtual void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) = 0;

  /// Removes conversations (session and remembered responses) idle since before `cutoff_ms`.
  /// Returns how many rows went.
  virtual std::size_t purge_before(std::int64_t cutoff_ms) = 0;
  /// Ends relays nobody has written to since `cutoff_ms` (the relay retention), erasing the
  /// texter's sealed number and any message kept for the advocates. Their codes count as closed
  /// at `now_ms` (see closed_codes_since). Returns how many went.
  virtual std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) = 0;
  /// Forgets codes closed before `closed_before_ms` (they may be used again) and erases held
  /// advocate messages whose time ran out by `now_ms`. Returns how many rows changed.
  virtual std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) = 0;
  /// Erases everything about one contact (the `forget` command): session, opt-out record, the
  /// responses remembered for its requests, its open relay and its outbox rows (voicemail
  /// notices included). Returns how many rows it erased: 0 = nothing was kept about it.
  virtual std::size_t forget(std::string_view contact_key) = 0;
  /// Cheap liveness check for /readyz.
  virtual bool healthy() = 0;
  /// Bytes of the turn log found damaged when the store was opened, copied aside (turn_log.hpp).
  /// Zero for a store without a turn log.
  virtual std::uint64_t turn_log_damaged_bytes() { return 0; }

  // --- Relays (advocates) ---------------------------------------------------------------------
  /// Every open relay, oldest first.
  virtual std::vector<Relay> relays() = 0;
  /// The contact's open relay, if it has one (at most one: contact_key is unique among relays).
  virtual std::optional<Relay> relay_of(std::string_view contact_key) = 0;
  /// Codes of relays that ended (any way: #end, STOP, the retention, `forget`) at or after
  /// `since_ms`. Every deleted relay leaves its code here, so a code still in an advocate's
  /// phone is recognised as closed and not given to someone else.
  virtual std::vector<std::string> closed_codes_since(std::int64_t since_ms) = 0;
  /// What the relay remembers about this advocate (a default note when nothing).
  virtual AdvocateNote advocate_note(std::string_view advocate_id) = 0;

  // --- Outbox ---------------------------------------------------------------------------------
  /// Claims up to `limit` pending messages due at `now_ms`, oldest first, for this worker alone:
  /// each is leased until `lease_until_ms` (no other worker, in this process or another, gets it
  /// before then) and must then be reported sent, retried or dropped. A worker that dies
  /// mid-send leaves its lease to expire and the message to be claimed again.
  virtual std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit,
                                                std::int64_t lease_until_ms) = 0;
  /// Twilio accepted it (or, asked after an interrupted send, has it): the recipient and text
  /// are erased, the Message SID kept for status callbacks and to make sure it is never sent again.
  virtual void outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) = 0;
  /// A send of `row` (as claimed) starts now: durably recorded BEFORE the request goes out, so
  /// that whoever claims the row next knows Twilio may already have it. Extends the lease to
  /// `lease_until_ms`. False, and nothing may be sent, when the row is no longer this claim's:
  /// its lease was taken over by another worker, or it was sent or dropped meanwhile.
  virtual bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms,
                                        std::int64_t lease_until_ms) = 0;
  /// A retryable failure: try again at `next_attempt_ms`. `outcome_unknown`: the request may
  /// have reached Twilio (timeout, 5xx, connection lost mid-request), so the mark of
  /// outbound_attempt_started stays and the next claim asks Twilio first; false clears it
  /// (Twilio said it did not process the request: 429, or it never got it).
  virtual void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms,
                              bool outcome_unknown) = 0;
  /// Claimed but not tried (the worker is stopping, or it is too early to ask Twilio about an
  /// earlier send): the lease ends now, and the row is due again no sooner than `not_before_ms`.
  /// Attempts and the attempt mark are left as they are.
  virtual void outbound_release(std::int64_t id, std::int64_t not_before_ms) = 0;
  /// Given up (opted out, rejected, too many attempts): the row is deleted. If it named someone
  /// to tell (on_failure), a DeliveryFailure with `error` is kept, in the same transaction.
  virtual void outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) = 0;
  /// A status callback. Final statuses (delivered, undelivered, failed…) delete the row; a
  /// failed or undelivered one whose row named someone to tell keeps a DeliveryFailure with
  /// `error` (Twilio's ErrorCode, or the status when none). Returns false when no message has this SID.
  virtual bool outbound_status(std::string_view twilio_sid, std::string_view status, std::string_view error,
                               std::int64_t now_ms) = 0;
  /// Delivery failures not yet handled, oldest first.
  virtual std::vector<DeliveryFailure> delivery_failures(std::size_t limit) = 0;
  /// The failure was told to whom it concerns: it is erased.
  virtual void delivery_failure_handled(std::int64_t id) = 0;
  /// How many messages are waiting to be sent.
  virtual std::size_t outbox_pending() = 0;

  // --- The daily report -----------------------------------------------------------------------
  /// The daily counts of the days `first_day`..`last_day` ("YYYY-MM-DD", both included), ordered
  /// by day, metric, topic, lang and channel; each row the sum of every turn's DailyCount for it.
  virtual std::vector<DailyCount> daily_counts(std::string_view first_day, std::string_view last_day) = 0;
};

/// Opens (creating and migrating if needed) the SQLite database at `path`, in WAL mode.
/// Throws std::runtime_error with a clear message when it cannot.
/// A database whose schema is newer than this build knows is refused, never modified.
std::unique_ptr<SessionStore> open_sqlite(const std::string& path);

/// The schema version (PRAGMA user_version) that open_sqlite migrates a database to.
int sqlite_schema_version() noexcept;

/// Connects to PostgreSQL (`url` is a libpq URI, postgresql://user:pass@host:port/db) with a pool
/// of `connections`, and creates or migrates the schema, one replica at a time.
/// Throws std::runtime_error with a clear message (never the password) when it cannot.
std::unique_ptr<SessionStore> open_postgres(const std::string& url, std::size_t connections);

/// The newest schema version open_postgres migrates to.
int postgres_schema_version() noexcept;

/// True when `location` names a PostgreSQL server rather than a SQLite file.
bool is_postgres_url(std::string_view location) noexcept;

/// `location` fit for a log: a PostgreSQL URL's password, if any, is replaced by "***".
std::string redacted(std::string_view location);

/// The store `location` names: a postgresql:// (or postgres://) URL, or a SQLite file path.
std::unique_ptr<SessionStore> open_store(const std::string& location, std::size_t connections);

/// The daily counts of `first_day`..`last_day` (as SessionStore::daily_counts) of the store at
/// `location`, for `hotline report`, changing nothing: a SQLite file is opened read-only (never
/// created, migrated or replayed: turns still in its turn log after a crash count once the
/// server has started again), a PostgreSQL database is read in a read-only transaction. A
/// database older than the daily report has no counts: empty. Throws std::runtime_error when
/// it cannot be read (no such file, unreachable server).
std::vector<DailyCount> read_daily_counts(const std::string& location, std::string_view first_day,
                                          std::string_view last_day);

/// The SQLite part of read_daily_counts.
std::vector<DailyCount> read_sqlite_daily_counts(const std::string& path, std::string_view first_day,
                                                 std::string_view last_day);

}  // namespace hotline::store
