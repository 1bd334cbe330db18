#pragma once
// The SQLite store's turn log: where a conversation turn becomes durable before it is answered.
//
// A turn that only changes a conversation (no outbox message, no relay) is appended here with
// one write() and answered at once; a background thread applies logged turns to SQLite many to
// a transaction. What a kill -9 leaves unapplied is applied when the store is next opened.
// Appending is the same promise SQLite's WAL gives under synchronous=NORMAL (the bytes are in
// the kernel before the answer leaves, fsync comes later), at a fraction of the cost of a
// transaction a message (docs/performance.md, round 4).
//
// On disk: segments named `<database>-turns.<first sequence number>`, owner-only, each a run of
// records `[u32 payload length][u32 CRC-32 of payload][payload]`, integers in this machine's
// byte order (the log never leaves it). A segment is deleted, or emptied, as soon as every
// turn in it is applied, so the log holds seconds of turns at most, never history.
//
// A record is self-checking (its length and CRC), so recovery reads past a damaged one to the
// next intact record; the damaged bytes are copied aside, owner-only, to
// `<database>-turns-damaged.<segment>` for an operator to look at, and reported. A file or
// folder named like a segment that is not one (a number too large, a folder) is reported and
// left alone.
//
// One process owns a log: it holds an flock on `<database>-turns.lock` while the store is open.
// Another process opening the same database (`hotline forget` while the server runs) gets no
// log and commits its turns straight to SQLite.
//
// Not thread-safe: the store calls it under its own lock.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hotline/store/session_store.hpp"

namespace hotline::store {

struct LoggedTurn {
  std::uint64_t seq = 0;  // 1, 2, 3... in the order turns were logged
  std::string contact_key;
  std::string session_data;
  std::string request_id;
  std::string response;
  std::int64_t now_ms = 0;
  bool keep_session = false;
  /// The turn's daily counts (TurnRecord::counts), applied with it. Kept in memory only, never
  /// written to the log: they name a topic, which the log must not hold beside a contact key.
  /// A turn replayed after a crash is applied without them (the report misses it; never twice).
  std::vector<DailyCount> counts;
};

/// What was found in the log when it was opened.
struct LogRecovery {
  std::vector<LoggedTurn> turns;  // every intact record, in sequence order
  /// Bytes at a segment's end that do not form an intact record: a write cut short by a power
  /// loss. Never an acknowledged turn (a turn is answered only after its write() returned).
  std::uint64_t torn_bytes = 0;
  /// Bytes that are not an intact record but have intact records after them: damage on disk.
  /// The turns in them are lost; the turns after them are in `turns`.
  std::uint64_t damaged_bytes = 0;
  /// Where the torn and damaged bytes were copied (one file per segment that had any).
  std::vector<std::string> quarantined;
  /// Files or folders with a segment's name that are not segments; left as they are.
  std::vector<std::string> stray;
};

class TurnLog {
 public:
  /// Takes the log of the database at `db_path`; null when another process holds it.
  /// Throws std::runtime_error when the files cannot be created or read.
  static std::unique_ptr<TurnLog> open(const std::string& db_path);
  ~TurnLog();
  TurnLog(const TurnLog&) = delete;
  TurnLog& operator=(const TurnLog&) = delete;

  /// Every record left by the last process, in order. Call once, right after open().
  LogRecovery recover();
  /// Drops every segment (after recover()'s turns are applied); logging starts at `next_seq`.
  void reset(std::uint64_t next_seq);

  /// Appends a turn under the next sequence number (returned; `turn.seq` is ignored): one
  /// write(), complete when this returns. Throws std::runtime_error if it could not be written.
  std::uint64_t append(const LoggedTurn& turn);
  /// Every turn up to `seq` is in SQLite: segments holding nothing newer are deleted, and the
  /// segment being written is emptied when it holds nothing newer either.
  void applied(std::uint64_t seq);

  /// The segment size past which appends go to a new segment.
  static constexpr std::uint64_t kSegmentBytes = 4 << 20;

 private:
  struct Segment {
    std::string path;
    std::uint64_t last_seq = 0;  // the newest record in it (0: none yet)
  };
  TurnLog(std::string prefix, int lock_fd);
  void start_segment(std::uint64_t first_seq);

  std::string prefix_;  // "<database>-turns"
  int lock_fd_ = -1;
  int fd_ = -1;         // the segment being written
  std::uint64_t size_ = 0;
  std::uint64_t next_seq_ = 1;
  std::vector<Segment> segments_;  // oldest first; the last is the one being written
  std::string buffer_;             // reused for each record
};

/// CRC-32 (IEEE 802.3: zlib's crc32), for the log's records.
std::uint32_t crc32(const void* data, std::size_t size) noexcept;

}  // namespace hotline::store
