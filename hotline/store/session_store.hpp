#pragma once
// Where conversations survive restarts. Keys are keyed hashes of phone numbers (or CallSids),
// never the numbers themselves; values are opaque JSON written by the engine's session codec.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hotline::store {

struct StoredSession {
  std::string data;         // the engine's session, serialised
  std::int64_t updated_ms;  // when it was last saved (Unix ms)
};

/// Everything one handled webhook changes, written in a single transaction so a crash leaves
/// either all of it or none of it.
struct TurnRecord {
  std::string contact_key;
  std::string session_data;  // empty = erase the session (conversation ended)
  std::string request_id;    // Twilio's MessageSid / CallSid+step: makes a redelivery a no-op
  std::string response;      // what we answered, replayed verbatim on a redelivery
  std::int64_t now_ms = 0;
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  virtual std::optional<StoredSession> load(std::string_view contact_key) = 0;
  virtual void commit_turn(const TurnRecord& turn) = 0;
  /// The response already given to this request id, if Twilio delivers it again.
  virtual std::optional<std::string> response_for(std::string_view request_id) = 0;

  /// Opt-out outlives sessions: it is kept until the person opts back in.
  virtual bool is_opted_out(std::string_view contact_key) = 0;
  virtual void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) = 0;

  /// Removes sessions idle since before `cutoff_ms` and remembered responses older than it.
  /// Returns how many rows went.
  virtual std::size_t purge_before(std::int64_t cutoff_ms) = 0;
  /// Erases everything about one contact (the `forget` command).
  virtual void forget(std::string_view contact_key) = 0;
  /// Cheap liveness check for /readyz.
  virtual bool healthy() = 0;
};

/// Opens (creating and migrating if needed) the SQLite database at `path`, in WAL mode.
/// Throws std::runtime_error with a clear message when it cannot.
std::unique_ptr<SessionStore> open_sqlite(const std::string& path);

}  // namespace hotline::store
