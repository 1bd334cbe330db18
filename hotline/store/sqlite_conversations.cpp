// Conversations in the SQLite store: sessions and the answers remembered for redeliveries,
// opt-outs, and their erasure (retention purge and `hotline forget`).
#include <sqlite3.h>

#include <stdexcept>

#include "hotline/store/conversation_sql.hpp"
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

void SqliteStore::prepare_conversation_statements() {
  sqlite3* d = db();
  read_contact_ = Statement(d, sql::kReadContact);
  load_ = Statement(d, sql::kLoadSession);
  response_for_ = Statement(d, sql::kResponseFor);
  is_opted_out_ = Statement(d, "SELECT opted_out FROM contacts WHERE contact_key = ?1");
  write_conversation_ = Statement(d, sql::kWriteConversation);
  forget_conversation_ = Statement(d, "DELETE FROM conversations WHERE contact_key = ?1");
  upsert_opt_out_ = Statement(d,
      "INSERT INTO contacts (contact_key, opted_out, updated_ms) VALUES (?1, 1, ?2) "
      "ON CONFLICT (contact_key) DO UPDATE SET opted_out = 1, updated_ms = excluded.updated_ms");
  delete_contact_ = Statement(d, "DELETE FROM contacts WHERE contact_key = ?1");
  max_conversation_rowid_ = Statement(d, "SELECT coalesce(max(rowid), 0) FROM conversations");
  purge_conversations_ = Statement(d,
      "DELETE FROM conversations WHERE rowid > ?2 AND rowid <= ?3 AND updated_ms < ?1");
}

ContactView SqliteStore::read_contact(std::string_view contact_key, std::string_view request_id) {
  if (log_) {
    std::lock_guard lock(log_mutex_);
    if (auto view = cache_.view(contact_key, request_id)) return std::move(*view);
  }
  std::lock_guard lock(mutex_);
  apply_if_logged(contact_key);
  Run run(db(), read_contact_);
  run.bind(1, contact_key).bind(2, request_id);
  ContactView view;
  if (!run.step()) return view;  // the query always yields its one row; never here
  if (std::string session = run.text(0); !session.empty()) {  // NULL (no row) reads as ""
    view.session = StoredSession{std::move(session), run.int64(1)};
  }
  if (!run.is_null(2)) view.earlier_response = run.text(2);
  view.opted_out = run.int64(3) != 0;
  if (!run.is_null(4)) view.relay = relay_at(run, 4);
  if (log_ && !view.relay) {
    // Still under mutex_, so nothing written to SQLite since the read is missed; a turn
    // logged since (not by this contact's own handler, which is here) keeps it uncached.
    std::lock_guard memory(log_mutex_);
    if (!logged_by_contact_.contains(contact_key)) {
      cache_.put(contact_key, {view.session, run.text(22), run.text(23), view.opted_out});
    }
  }
  return view;
}

std::optional<StoredSession> SqliteStore::load(std::string_view contact_key) {
  std::lock_guard lock(mutex_);
  apply_if_logged(contact_key);
  Run run(db(), load_);
  run.bind(1, contact_key);
  if (!run.step()) return std::nullopt;
  return StoredSession{run.text(0), run.int64(1)};
}

void SqliteStore::commit_turn(const TurnRecord& turn) {
  if (turn.contact_key.empty()) throw std::invalid_argument("session store: empty contact key");
  if (log_ && turn.outbound.empty() && turn.relays.empty() && turn.advocate_notes.empty()) return log_turn(turn);
  std::lock_guard lock(mutex_);
  apply_logged();
  Transaction tx = transaction();
  write_turn(turn);
  tx.commit();
  if (log_) {
    std::lock_guard memory(log_mutex_);
    cache_.erase(turn.contact_key);
    for (const auto& change : turn.relays) cache_.erase(change.relay.contact_key);
  }
}

std::optional<std::string> SqliteStore::response_for(std::string_view contact_key,
                                        std::string_view request_id) {
  if (request_id.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  apply_if_logged(contact_key);
  Run run(db(), response_for_);
  run.bind(1, contact_key).bind(2, request_id);
  if (!run.step()) return std::nullopt;
  return run.text(0);
}

bool SqliteStore::write_conversation(const std::string& contact_key, const std::string& session_data,
                        const std::string& request_id, const std::string& response,
                        bool keep_session, std::int64_t now_ms) {
  if (request_id.empty() && keep_session) return true;  // changes nothing
  Run run(db(), write_conversation_);
  run.bind(1, contact_key).bind(2, session_data).bind(3, request_id).bind(4, response)
      .bind(5, std::int64_t{keep_session}).bind(6, now_ms);
  return run.exec() > 0;
}

void SqliteStore::write_turn(const TurnRecord& turn) {
  // The conversation's row first: a redelivery that raced past the caller's check (e.g.
  // another process) changes nothing else either.
  const bool first_delivery = write_conversation(turn.contact_key, turn.session_data, turn.request_id,
                                                 turn.response, turn.keep_session, turn.now_ms);
  if (first_delivery) {
    for (const auto& change : turn.relays) write_relay(change, turn.now_ms);
    for (const auto& n : turn.advocate_notes) {
      Run(db(), write_advocate_note_)
          .bind(1, n.advocate_id).bind(2, n.focus_code).bind(3, n.held_sealed).bind(4, n.held_codes)
          .bind(5, n.held_until_ms).bind(6, turn.now_ms).bind(7, std::int64_t{n.paused})
          .exec();
    }
    for (const auto& m : turn.outbound) {
      Run(db(), insert_outbound_)
          .bind(1, m.idempotency_key).bind(2, m.contact_key).bind(3, m.sender)
          .bind(4, m.to_sealed).bind(5, m.body_sealed).bind(6, turn.now_ms).bind(7, m.on_failure)
          .exec();
    }
    add_daily_counts(turn.counts);
  }
}

bool SqliteStore::is_opted_out(std::string_view contact_key) {
  std::lock_guard lock(mutex_);
  Run run(db(), is_opted_out_);
  run.bind(1, contact_key);
  return run.step() && run.int64(0) != 0;
}

void SqliteStore::set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  // An opt-out is a legal obligation (carriers' STOP rules), so this one write pays for an
  // fsync of the WAL at commit and survives power loss too, not only an application crash.
  // It is rare, so the cost does not matter. See configure() for why NORMAL is fine elsewhere.
  SynchronousFull full(db());
  Transaction tx = transaction();
  if (opted_out) {
    Run(db(), upsert_opt_out_).bind(1, contact_key).bind(2, now_ms).exec();
  } else {
    Run(db(), delete_contact_).bind(1, contact_key).exec();
  }
  tx.commit();
  forget_cached(contact_key);
}

std::size_t SqliteStore::purge_before(std::int64_t cutoff_ms) {
  // Conversations have no index by age (see migration 5), so they are scanned by rowid, a
  // slice at a time, each slice its own short transaction: messages keep being answered
  // between slices instead of waiting for a scan of the whole table (a second or so at a
  // million rows). Rows written during the scan are new, so skipping them is right.
  constexpr std::int64_t kSlice = 4096;
  std::int64_t last;
  {
    std::lock_guard lock(mutex_);
    apply_logged();  // turns logged before the purge count as written before it
    Run run(db(), max_conversation_rowid_);
    last = run.step() ? run.int64(0) : 0;
  }
  std::size_t removed = 0;
  for (std::int64_t from = 0; from < last; from += kSlice) {
    std::lock_guard lock(mutex_);
    removed += Run(db(), purge_conversations_).bind(1, cutoff_ms).bind(2, from).bind(3, from + kSlice).exec();
  }
  std::lock_guard lock(mutex_);
  if (removed > 0 && log_) {
    std::lock_guard memory(log_mutex_);
    cache_.clear();
  }
  return removed + Run(db(), purge_sent_outbound_).bind(1, cutoff_ms).exec();
}

std::size_t SqliteStore::forget(std::string_view contact_key) {
  std::lock_guard lock(mutex_);
  apply_logged();  // so that no logged turn brings the conversation back, and the log empties
  std::size_t erased = 0;
  {
    SynchronousFull full(db());
    Transaction tx = transaction();
    erased += Run(db(), forget_conversation_).bind(1, contact_key).exec();
    erased += Run(db(), delete_contact_).bind(1, contact_key).exec();
    // The code stays out of use like any closed one. `forget` is given no clock; the wall
    // clock is right here (it is an operator's command, never run under a pinned test clock).
    Run(db(), remember_forgotten_relay_code_).bind(1, contact_key).bind(2, wall_clock_ms()).exec();
    erased += Run(db(), forget_relays_).bind(1, contact_key).exec();
    erased += Run(db(), forget_outbound_).bind(1, contact_key).exec();
    tx.commit();
  }
  forget_cached(contact_key);
  // secure_delete has zeroed the rows' bytes in the pages written to the WAL, but the WAL still
  // holds older images of those pages until a checkpoint. Copy it into the database and
  // truncate it now. Best effort: a reader in another process can make it return BUSY, and
  // the next automatic checkpoint will get there anyway.
  sqlite3_wal_checkpoint_v2(db(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  return erased;
}

}  // namespace hotline::store::sqlite
