#pragma once
// A real store that fails on demand: every call goes to the SQLite store underneath, but while
// `failing` is set its writes (a turn, an opt-out) throw store::StoreError as a full disk, a
// locked database or the turn log over its limit would, having written nothing.
#include <atomic>
#include <memory>

#include "hotline/store/session_store.hpp"

namespace test_support {

class FailingStore : public hotline::store::SessionStore {
 public:
  /// Shared with the test, which keeps it after handing the store to an App.
  struct Switch {
    std::atomic<bool> failing{false};
    std::atomic<int> refused{0};  // writes refused so far
  };

  FailingStore(std::unique_ptr<hotline::store::SessionStore> inner, std::shared_ptr<Switch> control)
      : inner_(std::move(inner)), control_(std::move(control)) {}

  using Relay = hotline::store::Relay;
  using OutboxRow = hotline::store::OutboxRow;

  std::unique_ptr<hotline::store::KeyLock> lock_key(std::string_view key) override { return inner_->lock_key(key); }
  hotline::store::ContactView read_contact(std::string_view contact, std::string_view request_id) override {
    return inner_->read_contact(contact, request_id);
  }
  std::optional<hotline::store::StoredSession> load(std::string_view contact) override { return inner_->load(contact); }
  void commit_turn(const hotline::store::TurnRecord& turn) override {
    refuse_if_failing();
    inner_->commit_turn(turn);
  }
  std::optional<std::string> response_for(std::string_view contact, std::string_view request_id) override {
    return inner_->response_for(contact, request_id);
  }
  bool is_opted_out(std::string_view contact) override { return inner_->is_opted_out(contact); }
  void set_opted_out(std::string_view contact, bool opted_out, std::int64_t now_ms) override {
    refuse_if_failing();
    inner_->set_opted_out(contact, opted_out, now_ms);
  }
  std::size_t purge_before(std::int64_t cutoff_ms) override { return inner_->purge_before(cutoff_ms); }
  std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) override {
    return inner_->end_relays_idle_since(cutoff_ms, now_ms);
  }
  std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) override {
    return inner_->purge_relay_memory(closed_before_ms, now_ms);
  }
  std::vector<std::string> closed_codes_since(std::int64_t since_ms) override { return inner_->closed_codes_since(since_ms); }
  hotline::store::AdvocateNote advocate_note(std::string_view advocate_id) override {
    return inner_->advocate_note(advocate_id);
  }
  std::size_t forget(std::string_view contact) override { return inner_->forget(contact); }
  bool healthy() override { return inner_->healthy(); }
  std::vector<Relay> relays() override { return inner_->relays(); }
  std::optional<Relay> relay_of(std::string_view contact) override { return inner_->relay_of(contact); }
  std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit, std::int64_t lease_until_ms) override {
    return inner_->claim_outbound(now_ms, limit, lease_until_ms);
  }
  void outbound_sent(std::int64_t id, std::string_view sid, std::int64_t now_ms) override {
    inner_->outbound_sent(id, sid, now_ms);
  }
  bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) override {
    return inner_->outbound_attempt_started(row, now_ms, lease_until_ms);
  }
  void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms, bool outcome_unknown) override {
    inner_->outbound_retry(id, next_attempt_ms, now_ms, outcome_unknown);
  }
  void outbound_release(std::int64_t id, std::int64_t not_before_ms) override { inner_->outbound_release(id, not_before_ms); }
  void outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) override {
    inner_->outbound_dropped(id, error, now_ms);
  }
  bool outbound_status(std::string_view sid, std::string_view status, std::string_view error,
                       std::int64_t now_ms) override {
    return inner_->outbound_status(sid, status, error, now_ms);
  }
  std::vector<hotline::store::DeliveryFailure> delivery_failures(std::size_t limit) override {
    return inner_->delivery_failures(limit);
  }
  void delivery_failure_handled(std::int64_t id) override { inner_->delivery_failure_handled(id); }
  std::size_t outbox_pending() override { return inner_->outbox_pending(); }
  std::vector<hotline::store::DailyCount> daily_counts(std::string_view first, std::string_view last) override {
    return inner_->daily_counts(first, last);
  }

 private:
  void refuse_if_failing() {
    if (!control_->failing) return;
    ++control_->refused;
    throw hotline::store::StoreError("session store: 100000 turns are waiting to be written: disk I/O error (a test)");
  }

  std::unique_ptr<hotline::store::SessionStore> inner_;
  std::shared_ptr<Switch> control_;
};

}  // namespace test_support
