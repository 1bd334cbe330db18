#pragma once
// What the SQLite store remembers of recent conversations, so that reading a message's
// conversation costs no SQLite transaction (docs/performance.md, round 4): the session, the
// ids of the two requests the row remembers answers for, and the opt-out.
//
// It mirrors rows that this process writes: every turn it logs updates its entry by the same
// rules as sql::kWriteConversation, and every other write (a turn with relay changes, an
// opt-out, forget, purge) drops the entries it touches. A contact with an open relay is never
// cached (relays change under other contacts' turns). Writes by another process are noticed by
// the store through PRAGMA data_version, which empties the cache.
//
// Not thread-safe: the store guards it. Keys are keyed hashes, never numbers, and no text a
// person wrote is kept.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hotline/store/session_store.hpp"

namespace hotline::store {

/// Lets a map keyed by std::string be searched with a string_view, without a copy.
struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};

class ConversationCache {
 public:
  struct Entry {
    std::optional<StoredSession> session;
    std::string reply_id;       // '' = none
    std::string prev_reply_id;  // '' = none
    bool opted_out = false;
  };

  explicit ConversationCache(std::size_t capacity) : capacity_(capacity) {}

  /// The contact's view, when it can be answered from memory: not when the contact is not
  /// cached, nor when `request_id` is one the row remembers an answer for (a redelivery,
  /// whose answer is read from the database).
  std::optional<ContactView> view(std::string_view key, std::string_view request_id) const {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    const Entry& e = it->second;
    if (!request_id.empty() && (request_id == e.reply_id || request_id == e.prev_reply_id)) {
      return std::nullopt;
    }
    ContactView view;
    view.session = e.session;
    view.opted_out = e.opted_out;
    return view;
  }

  void put(std::string_view key, Entry entry) {
    if (entries_.size() >= capacity_ && !entries_.contains(key)) entries_.erase(entries_.begin());
    entries_.insert_or_assign(std::string(key), std::move(entry));
  }

  /// A turn written for `key`: what sql::kWriteConversation does to the row, done to the entry.
  void on_turn(std::string_view key, const std::string& session_data, const std::string& request_id,
               bool keep_session, std::int64_t now_ms) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return;  // read from the database next time
    Entry& e = it->second;
    if (!request_id.empty() && (request_id == e.reply_id || request_id == e.prev_reply_id)) return;
    if (!keep_session) {
      e.session = session_data.empty() ? std::nullopt
                                       : std::optional<StoredSession>(StoredSession{session_data, now_ms});
    }
    if (!request_id.empty()) {
      e.prev_reply_id = std::move(e.reply_id);
      e.reply_id = request_id;
    }
  }

  void erase(std::string_view key) {
    if (const auto it = entries_.find(key); it != entries_.end()) entries_.erase(it);
  }
  void clear() { entries_.clear(); }
  std::size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
  std::size_t capacity_;
};

}  // namespace hotline::store
