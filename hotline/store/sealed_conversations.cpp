#include "hotline/store/sealed_conversations.hpp"

#include <string>

#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"

namespace hotline::store {
namespace {

// What each value is bound to (authenticated, not stored). '\n' never occurs in a contact key
// or a Twilio id, so no two rows' contexts can be the same string.
std::string session_context(std::string_view contact_key) {
  std::string c = "conversations.session\n";
  c += contact_key;
  return c;
}

std::string reply_context(std::string_view contact_key, std::string_view request_id) {
  std::string c = "conversations.reply\n";
  c += contact_key;
  c += '\n';
  c += request_id;
  return c;
}

class SealedConversations final : public SessionStore {
 public:
  SealedConversations(std::unique_ptr<SessionStore> inner, std::string_view secret)
      : inner_(std::move(inner)), sealer_(secret, kConversationSealPurpose) {}

  ContactView read_contact(std::string_view contact_key, std::string_view request_id) override {
    ContactView view = inner_->read_contact(contact_key, request_id);
    view.session = opened_session(contact_key, std::move(view.session));
    if (view.earlier_response) view.earlier_response = opened(*view.earlier_response, reply_context(contact_key, request_id), contact_key);
    return view;
  }

  std::optional<StoredSession> load(std::string_view contact_key) override {
    return opened_session(contact_key, inner_->load(contact_key));
  }

  void commit_turn(const TurnRecord& turn) override {
    TurnRecord sealed = turn;
    // What the stores ignore (a kept session's data, the answer to no request id) is dropped,
    // not passed on, so that not even the turn log holds it in the clear.
    if (turn.keep_session || turn.session_data.empty()) {
      sealed.session_data.clear();
    } else {
      sealed.session_data = sealer_.seal(turn.session_data, session_context(turn.contact_key));
    }
    if (turn.request_id.empty()) {
      sealed.response.clear();
    } else {
      sealed.response = sealer_.seal(turn.response, reply_context(turn.contact_key, turn.request_id));
    }
    inner_->commit_turn(sealed);
  }

  std::optional<std::string> response_for(std::string_view contact_key, std::string_view request_id) override {
    auto response = inner_->response_for(contact_key, request_id);
    if (!response) return response;
    return opened(*response, reply_context(contact_key, request_id), contact_key);
  }

  // Nothing below reads or writes a session or an answer.
  std::unique_ptr<KeyLock> lock_key(std::string_view key) override { return inner_->lock_key(key); }
  bool is_opted_out(std::string_view contact_key) override { return inner_->is_opted_out(contact_key); }
  void set_opted_out(std::string_view contact_key, bool opted_out, std::int64_t now_ms) override {
    inner_->set_opted_out(contact_key, opted_out, now_ms);
  }
  std::size_t purge_before(std::int64_t cutoff_ms) override { return inner_->purge_before(cutoff_ms); }
  std::size_t end_relays_idle_since(std::int64_t cutoff_ms, std::int64_t now_ms) override {
    return inner_->end_relays_idle_since(cutoff_ms, now_ms);
  }
  std::size_t purge_relay_memory(std::int64_t closed_before_ms, std::int64_t now_ms) override {
    return inner_->purge_relay_memory(closed_before_ms, now_ms);
  }
  std::size_t forget(std::string_view contact_key) override { return inner_->forget(contact_key); }
  std::uint64_t turn_log_damaged_bytes() override { return inner_->turn_log_damaged_bytes(); }
  bool healthy() override { return inner_->healthy(); }
  std::vector<Relay> relays() override { return inner_->relays(); }
  std::optional<Relay> relay_of(std::string_view contact_key) override { return inner_->relay_of(contact_key); }
  std::vector<std::string> closed_codes_since(std::int64_t since_ms) override {
    return inner_->closed_codes_since(since_ms);
  }
  AdvocateNote advocate_note(std::string_view advocate_id) override { return inner_->advocate_note(advocate_id); }
  std::vector<OutboxRow> claim_outbound(std::int64_t now_ms, std::size_t limit, std::int64_t lease_until_ms) override {
    return inner_->claim_outbound(now_ms, limit, lease_until_ms);
  }
  void outbound_sent(std::int64_t id, std::string_view twilio_sid, std::int64_t now_ms) override {
    inner_->outbound_sent(id, twilio_sid, now_ms);
  }
  bool outbound_attempt_started(const OutboxRow& row, std::int64_t now_ms, std::int64_t lease_until_ms) override {
    return inner_->outbound_attempt_started(row, now_ms, lease_until_ms);
  }
  void outbound_retry(std::int64_t id, std::int64_t next_attempt_ms, std::int64_t now_ms, bool outcome_unknown) override {
    inner_->outbound_retry(id, next_attempt_ms, now_ms, outcome_unknown);
  }
  void outbound_release(std::int64_t id, std::int64_t not_before_ms) override {
    inner_->outbound_release(id, not_before_ms);
  }
  void outbound_dropped(std::int64_t id, std::string_view error, std::int64_t now_ms) override {
    inner_->outbound_dropped(id, error, now_ms);
  }
  bool outbound_status(std::string_view twilio_sid, std::string_view status, std::string_view error,
                       std::int64_t now_ms) override {
    return inner_->outbound_status(twilio_sid, status, error, now_ms);
  }
  std::vector<DeliveryFailure> delivery_failures(std::size_t limit) override { return inner_->delivery_failures(limit); }
  void delivery_failure_handled(std::int64_t id) override { inner_->delivery_failure_handled(id); }
  std::size_t outbox_pending() override { return inner_->outbox_pending(); }
  std::vector<DailyCount> daily_counts(std::string_view first_day, std::string_view last_day) override {
    return inner_->daily_counts(first_day, last_day);
  }

 private:
  // A stored value in the clear: opened when sealed, as it is when written before sealing
  // (sealed by the contact's next turn), nullopt when sealed but it does not open here.
  std::optional<std::string> opened(const std::string& stored, const std::string& context,
                                    std::string_view contact_key) const {
    if (!crypto::Sealer::looks_sealed(stored)) return stored;
    auto plain = sealer_.open(stored, context);
    if (!plain) log::warn("conversation_unsealable", {{"contact", std::string(contact_key)}});
    return plain;
  }

  std::optional<StoredSession> opened_session(std::string_view contact_key, std::optional<StoredSession> stored) const {
    if (!stored) return stored;
    auto data = opened(stored->data, session_context(contact_key), contact_key);
    if (!data) return std::nullopt;
    stored->data = std::move(*data);
    return stored;
  }

  std::unique_ptr<SessionStore> inner_;
  crypto::Sealer sealer_;
};

}  // namespace

std::unique_ptr<SessionStore> seal_conversations(std::unique_ptr<SessionStore> inner, std::string_view secret) {
  return std::make_unique<SealedConversations>(std::move(inner), secret);
}

}  // namespace hotline::store
