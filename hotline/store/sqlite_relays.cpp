// Relays in the SQLite store: conversations between a texter and an advocate, the codes
// closed recently (never reused while they could still be in a phone), and advocates' notes.
#include <sqlite3.h>

#include "hotline/store/conversation_sql.hpp"
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

void SqliteStore::prepare_relay_statements() {
  sqlite3* d = db();
  end_idle_relays_ = Statement(d, "DELETE FROM relays WHERE updated_ms < ?1");
  select_relays_ = Statement(d, sql::kSelectRelays);
  relay_of_ = Statement(d, sql::kRelayOf);
  insert_relay_ = Statement(d,
      "INSERT INTO relays (code, contact_key, texter, lang, state, advocate_id, first_message, "
      "offered_to, no_answer_told, created_ms, updated_ms, version, context, topic, escalation, stage_ms, shift_end, "
      "texter_wrote_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 1, ?12, ?13, ?14, ?15, ?16, ?17)");
  // The contact key is written too: a relay kept under a WhatsApp texter's old key moves to the
  // person's (channels/legacy_contact.hpp).
  update_relay_ = Statement(d,
      "UPDATE relays SET texter = ?3, lang = ?4, state = ?5, advocate_id = ?6, first_message = ?7, "
      "offered_to = ?8, no_answer_told = ?9, updated_ms = ?10, context = ?11, version = version + 1, topic = ?12, "
      "escalation = ?13, stage_ms = ?14, shift_end = ?15, contact_key = ?16, texter_wrote_ms = ?17 "
      "WHERE code = ?1 AND version = ?2");
  delete_relay_ = Statement(d, "DELETE FROM relays WHERE code = ?1 AND version = ?2");
  forget_relays_ = Statement(d, "DELETE FROM relays WHERE contact_key = ?1");
  remember_closed_code_ = Statement(d, sql::kRememberClosedCode);
  remember_idle_relay_codes_ = Statement(d, sql::kRememberIdleRelayCodes);
  remember_forgotten_relay_code_ = Statement(d, sql::kRememberForgottenRelayCode);
  closed_codes_since_ = Statement(d, sql::kClosedCodesSince);
  forget_closed_codes_ = Statement(d, sql::kForgetClosedCodes);
  advocate_note_ = Statement(d, sql::kAdvocateNote);
  write_advocate_note_ = Statement(d, sql::kWriteAdvocateNote);
  drop_expired_held_ = Statement(d, sql::kDropExpiredHeld);
}

std::vector<Relay> SqliteStore::relays() {
  std::lock_guard lock(mutex_);
  std::vector<Relay> out;
  Run run(db(), select_relays_);
  while (run.step()) out.push_back(relay_at(run, 0));
  return out;
}

std::optional<Relay> SqliteStore::relay_of(std::string_view contact_key) {
  std::lock_guard lock(mutex_);
  Run run(db(), relay_of_);
  run.bind(1, contact_key);
  if (!run.step()) return std::nullopt;
  return relay_at(run, 0);
}

std::vector<std::string> SqliteStore::closed_codes_since(std::int64_t since_ms) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  Run run(db(), closed_codes_since_);
  run.bind(1, since_ms);
  while (run.step()) out.push_back(run.text(0));
  return out;
}

AdvocateNote SqliteStore::advocate_note(std::string_view advocate_id) {
  std::lock_guard lock(mutex_);
  AdvocateNote note;
  note.advocate_id = std::string(advocate_id);
  Run run(db(), advocate_note_);
  run.bind(1, advocate_id);
  if (run.step()) {
    note.focus_code = run.text(0);
    note.held_sealed = run.text(1);
    note.held_codes = run.text(2);
    note.held_until_ms = run.int64(3);
    note.paused = run.int64(4) != 0;
  }
  return note;
}

std::size_t SqliteStore::end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Transaction tx = transaction();
  Run(db(), remember_idle_relay_codes_).bind(1, cutoff_ms).bind(2, now_ms).exec();
  const std::size_t ended = Run(db(), end_idle_relays_).bind(1, cutoff_ms).exec();
  tx.commit();
  return ended;
}

std::size_t SqliteStore::purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Transaction tx = transaction();
  std::size_t changed = Run(db(), forget_closed_codes_).bind(1, closed_before_ms).exec();
  changed += Run(db(), drop_expired_held_).bind(1, now_ms).exec();
  tx.commit();
  return changed;
}

void SqliteStore::write_relay(const RelayChange& change, std::int64_t now_ms) {
  const Relay& r = change.relay;
  if (change.erase) {
    if (Run(db(), delete_relay_).bind(1, r.code).bind(2, change.expected_version).exec() == 0) {
      throw Conflict("relay " + r.code + " changed meanwhile");
    }
    Run(db(), remember_closed_code_).bind(1, r.code).bind(2, now_ms).exec();
    return;
  }
  if (change.expected_version == 0) {
    Run run(db(), insert_relay_);
    run.bind(1, r.code).bind(2, r.contact_key).bind(3, r.texter_sealed).bind(4, r.lang)
        .bind(5, r.state).bind(6, r.advocate_id).bind(7, r.first_message_sealed).bind(8, r.offered_to)
        .bind(9, std::int64_t{r.no_answer_told}).bind(10, now_ms).bind(11, now_ms).bind(12, r.context_sealed)
        .bind(13, r.topic).bind(14, std::int64_t{r.escalation}).bind(15, r.stage_ms).bind(16, std::int64_t{r.shift_end})
        .bind(17, r.texter_wrote_ms);
    // A code or contact already in use: another writer opened it first.
    const int rc = sqlite3_step(insert_relay_.get());
    if ((rc & 0xFF) == SQLITE_CONSTRAINT) throw Conflict("relay " + r.code + " already exists");
    if (rc != SQLITE_DONE) fail(db(), "opening a relay");
    return;
  }
  Run run(db(), update_relay_);
  run.bind(1, r.code).bind(2, change.expected_version).bind(3, r.texter_sealed).bind(4, r.lang)
      .bind(5, r.state).bind(6, r.advocate_id).bind(7, r.first_message_sealed).bind(8, r.offered_to)
      .bind(9, std::int64_t{r.no_answer_told}).bind(10, now_ms).bind(11, r.context_sealed).bind(12, r.topic)
      .bind(13, std::int64_t{r.escalation}).bind(14, r.stage_ms).bind(15, std::int64_t{r.shift_end})
      .bind(16, r.contact_key).bind(17, r.texter_wrote_ms);
  if (run.exec() == 0) throw Conflict("relay " + r.code + " changed meanwhile");
}

Relay SqliteStore::relay_at(const Run& run, int first) {
  Relay r;
  r.code = run.text(first);
  r.contact_key = run.text(first + 1);
  r.texter_sealed = run.text(first + 2);
  r.lang = run.text(first + 3);
  r.state = run.text(first + 4);
  r.advocate_id = run.text(first + 5);
  r.first_message_sealed = run.text(first + 6);
  r.offered_to = run.text(first + 7);
  r.no_answer_told = run.int64(first + 8) != 0;
  r.created_ms = run.int64(first + 9);
  r.updated_ms = run.int64(first + 10);
  r.version = run.int64(first + 11);
  r.context_sealed = run.text(first + 12);
  r.topic = run.text(first + 13);
  r.escalation = static_cast<int>(run.int64(first + 14));
  r.stage_ms = run.int64(first + 15);
  r.shift_end = static_cast<int>(run.int64(first + 16));
  r.texter_wrote_ms = run.int64(first + 17);
  return r;
}

}  // namespace hotline::store::sqlite
