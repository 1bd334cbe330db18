// The SQLite store's outbox: messages to send through Twilio, leased by the outbox worker,
// retried, and kept until Twilio reports their final status.
#include <sqlite3.h>

#include <algorithm>
#include <string_view>
#include "hotline/store/sqlite_store.hpp"

namespace hotline::store::sqlite {

void SqliteStore::prepare_outbox_statements() {
  sqlite3* d = db();
  insert_outbound_ = Statement(d,
      "INSERT OR IGNORE INTO outbox (idempotency_key, contact_key, sender, recipient, body, state, "
      "next_attempt_ms, created_ms, updated_ms, on_failure) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?7)");
  claim_due_ = Statement(d,
      "UPDATE outbox SET lease_until_ms = ?3 WHERE id IN (SELECT id FROM outbox WHERE state = 'pending' "
      "AND next_attempt_ms <= ?1 AND lease_until_ms <= ?1 ORDER BY id LIMIT ?2) "
      "RETURNING id, idempotency_key, contact_key, sender, recipient, body, attempts, next_attempt_ms, "
      "attempt_started_ms, on_failure");
  release_leases_ = Statement(d, "UPDATE outbox SET lease_until_ms = 0 WHERE lease_until_ms != 0");
  outbound_release_ = Statement(d,
      "UPDATE outbox SET lease_until_ms = 0, next_attempt_ms = MAX(next_attempt_ms, ?2) WHERE id = ?1");
  // Compare-and-set on the lease: a claim that outlived its lease and was claimed again by
  // someone else finds a different lease_until_ms and must not send.
  outbound_attempt_started_ = Statement(d,
      "UPDATE outbox SET attempt_started_ms = ?2, lease_until_ms = ?3 "
      "WHERE id = ?1 AND state = 'pending' AND lease_until_ms = ?4");
  outbound_sent_ = Statement(d,
      "UPDATE outbox SET state = 'sent', recipient = '', body = '', twilio_sid = ?2, "
      "attempts = attempts + 1, lease_until_ms = 0, attempt_started_ms = 0, updated_ms = ?3 WHERE id = ?1");
  outbound_retry_ = Statement(d,
      "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2, lease_until_ms = 0, "
      "updated_ms = ?3, attempt_started_ms = CASE WHEN ?4 THEN attempt_started_ms ELSE 0 END WHERE id = ?1");
  outbound_delete_ = Statement(d, "DELETE FROM outbox WHERE id = ?1");
  outbound_delete_by_sid_ = Statement(d, "DELETE FROM outbox WHERE twilio_sid = ?1 AND state = 'sent'");
  // Before a row goes, its failure is kept if it names someone to tell: ?1 id, ?2 error, ?3 now.
  keep_failure_by_id_ = Statement(d,
      "INSERT INTO delivery_failures (on_failure, error, created_ms) "
      "SELECT on_failure, ?2, ?3 FROM outbox WHERE id = ?1 AND on_failure != ''");
  // ?1 sid, ?2 error, ?3 now.
  keep_failure_by_sid_ = Statement(d,
      "INSERT INTO delivery_failures (on_failure, error, created_ms) "
      "SELECT on_failure, ?2, ?3 FROM outbox WHERE twilio_sid = ?1 AND state = 'sent' AND on_failure != ''");
  select_failures_ = Statement(d, "SELECT id, on_failure, error, created_ms FROM delivery_failures ORDER BY id LIMIT ?1");
  delete_failure_ = Statement(d, "DELETE FROM delivery_failures WHERE id = ?1");
  outbound_status_ = Statement(d,
      "UPDATE outbox SET status = ?2, updated_ms = ?3 WHERE twilio_sid = ?1 AND state = 'sent'");
  count_pending_ = Statement(d, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'");
  purge_sent_outbound_ = Statement(d, "DELETE FROM outbox WHERE state = 'sent' AND updated_ms < ?1");
  forget_outbound_ = Statement(d, "DELETE FROM outbox WHERE contact_key = ?1");
}

std::vector<OutboxRow> SqliteStore::claim_outbound(std::int64_t now_ms, std::size_t limit,
                                      std::int64_t lease_until_ms) {
  std::lock_guard lock(mutex_);
  std::vector<OutboxRow> out;
  // One statement, so one implicit transaction: the rows it returns are leased.
  Run run(db(), claim_due_);
  run.bind(1, now_ms).bind(2, static_cast<std::int64_t>(limit)).bind(3, lease_until_ms);
  while (run.step()) {
    OutboxRow r;
    r.id = run.int64(0);
    r.idempotency_key = run.text(1);
    r.contact_key = run.text(2);
    r.sender = run.text(3);
    r.to_sealed = run.text(4);
    r.body_sealed = run.text(5);
    r.attempts = static_cast<int>(run.int64(6));
    r.next_attempt_ms = run.int64(7);
    r.attempt_started_ms = run.int64(8);
    r.on_failure = run.text(9);
    r.lease_until_ms = lease_until_ms;
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

void SqliteStore::outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Run(db(), outbound_sent_).bind(1, id).bind(2, twilio_sid).bind(3, now_ms).exec();
}

bool SqliteStore::outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) {
  std::lock_guard lock(mutex_);
  return Run(db(), outbound_attempt_started_).bind(1, row.id).bind(2, now_ms).bind(3, lease_until_ms)
             .bind(4, row.lease_until_ms).exec() > 0;
}

void SqliteStore::outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms,
                    bool outcome_unknown) {
  std::lock_guard lock(mutex_);
  Run(db(), outbound_retry_).bind(1, id).bind(2, next_attempt_ms).bind(3, now_ms)
      .bind(4, std::int64_t{outcome_unknown}).exec();
}

void SqliteStore::outbound_release(std::int64_t id, std::int64_t not_before_ms) {
  std::lock_guard lock(mutex_);
  Run(db(), outbound_release_).bind(1, id).bind(2, not_before_ms).exec();
}

void SqliteStore::outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  Transaction tx = transaction();
  Run(db(), keep_failure_by_id_).bind(1, id).bind(2, error).bind(3, now_ms).exec();
  Run(db(), outbound_delete_).bind(1, id).exec();
  tx.commit();
}

bool SqliteStore::outbound_status(std::string_view twilio_sid, std::string_view status, std::string_view error,
                                  std::int64_t now_ms) {
  if (twilio_sid.empty()) return false;
  std::lock_guard lock(mutex_);
  static constexpr std::string_view kFinal[] = {"delivered", "undelivered", "failed", "read", "canceled"};
  bool final = false;
  for (auto f : kFinal) final = final || status == f;
  if (!final) return Run(db(), outbound_status_).bind(1, twilio_sid).bind(2, status).bind(3, now_ms).exec() > 0;
  Transaction tx = transaction();
  if (status == "failed" || status == "undelivered") {
    Run(db(), keep_failure_by_sid_).bind(1, twilio_sid).bind(2, error.empty() ? status : error).bind(3, now_ms).exec();
  }
  const bool known = Run(db(), outbound_delete_by_sid_).bind(1, twilio_sid).exec() > 0;
  tx.commit();
  return known;
}

std::vector<DeliveryFailure> SqliteStore::delivery_failures(std::size_t limit) {
  std::lock_guard lock(mutex_);
  std::vector<DeliveryFailure> out;
  Run run(db(), select_failures_);
  run.bind(1, static_cast<std::int64_t>(limit));
  while (run.step()) out.push_back({run.int64(0), run.text(1), run.text(2), run.int64(3)});
  return out;
}

void SqliteStore::delivery_failure_handled(std::int64_t id) {
  std::lock_guard lock(mutex_);
  Run(db(), delete_failure_).bind(1, id).exec();
}

std::size_t SqliteStore::outbox_pending() {
  std::lock_guard lock(mutex_);
  Run run(db(), count_pending_);
  return run.step() ? static_cast<std::size_t>(run.int64(0)) : 0;
}

}  // namespace hotline::store::sqlite
