#pragma once
// The outbox worker: one thread that sends what the store's outbox holds through Twilio's REST
// API, paced per sender, with exponential backoff on 429 / 5xx / network errors, and drops
// (with a logged reason) what Twilio refuses for good. Rows are written by the channels in the
// same transaction as the state change that caused them; this only sends and records.
//
// Exactly once, even across kill -9: before each request the row is durably marked "a send began
// at T". A row claimed with that mark still set is one whose send may have reached Twilio without
// the hotline learning the outcome (the process died mid-send, or the request timed out / got a
// 5xx / lost its connection). Twilio's API takes no idempotency key, so the worker asks Twilio
// instead: it lists the messages to that recipient from that sender and, if one with the same
// text was created since T (less a clock allowance), records its SID as sent and sends nothing.
// See docs/architecture.md for what this cannot see.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "hotline/store/session_store.hpp"
#include "hotline/twilio/rest_client.hpp"

namespace hotline::twilio {

struct OutboxSettings {
  std::string secret;                 // opens the sealed recipient and body
  std::string status_callback;        // e.g. https://hotline.example.org/twilio/status, or ""
  double messages_per_second = 1.0;   // per sender (a long code sends about 1 segment a second)
  std::int64_t retry_base_ms = 2'000; // first retry after this; doubles each time
  std::int64_t retry_max_ms = 10 * 60'000;
  int max_attempts = 15;              // then the message is dropped with a logged reason
  std::int64_t idle_poll_ms = 1'000;  // how often to look for due work (and run `tick`) when idle
  /// Told after each attempt, for metrics: "sent", "retry", or "dropped" with a reason
  /// ("opted_out", "refused", "too_many_attempts", "unreadable"). May be empty.
  std::function<void(std::string_view outcome, std::string_view reason)> observe;
  std::int64_t send_timeout_ms = 15'000;  // the longest one send can take (sizes a claim's lease)
  /// Whether a queued message must not go out after all: the person it is addressed to has
  /// since said STOP (on either channel). Asked just before each send, with the opened
  /// recipient; such a message is dropped unsent as "opted_out". May be empty.
  std::function<bool(const store::OutboxRow& row, const std::string& to)> withheld;
  // --- Sends whose outcome is unknown (see the top of this file) ---
  /// Twilio is asked about an interrupted send no sooner than this after it began: by then a
  /// request still in flight at Twilio has been answered or abandoned (the client's own timeout).
  std::int64_t lookup_delay_ms = 15'000;
  /// Twilio's date_created and our clock may disagree by this much (NTP keeps both far closer).
  /// Larger tolerates worse clocks but could take an identical text sent just before for ours.
  std::int64_t clock_skew_ms = 2'000;
  /// Lookups that keep failing (Twilio's list unreachable or refused) are retried with the usual
  /// backoff for this long after the interrupted send began; then the message is sent anyway, a
  /// possible duplicate being better than a message never sent. Also on the last allowed attempt.
  std::int64_t lookup_give_up_ms = 10 * 60'000;
  int lookup_page_size = 100;  // messages per page of Twilio's list
  int lookup_max_pages = 3;    // more to that recipient since the send than this reads: lookup failed
};

/// A message to be sent as an approved template (WhatsApp outside its 24-hour window) is sealed
/// under this context instead of "outbox.body": JSON {"content_sid": "HX…", "variables": {…}}.
/// Its own context, so that no text an advocate writes can be read as a template and the other way round.
inline constexpr const char* kContentSealContext = "outbox.content";

using SendFunction = std::function<SendResult(const OutboundSms&)>;
/// Places a call at Twilio (RestClient::place_call).
using CallFunction = std::function<SendResult(const OutboundCall&)>;
/// Lists messages at Twilio (RestClient::list_messages).
using LookupFunction = std::function<ListResult(const MessageQuery&)>;

/// The message in `listed` that is `sms` sent: same recipient, same text, same sender (the
/// number, or the Messaging Service), created at or after `since_ms`. The newest such, or null.
/// A template's text is Twilio's rendering, unknown here: it is matched without its text.
const ListedMessage* find_sent(const OutboundSms& sms, const std::vector<ListedMessage>& listed,
                               std::int64_t since_ms);

class OutboxWorker {
 public:
  /// `tick` runs on the worker thread before each pass (the relay sweep); may be empty.
  OutboxWorker(store::SessionStore& store, SendFunction send, LookupFunction lookup, OutboxSettings settings,
               std::function<void()> tick = {});
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

  /// Rows sealed as calls (an advocate's `#call`) are placed through `call`; without it they are
  /// dropped with a logged reason.
  void set_call(CallFunction call) { call_ = std::move(call); }

  void start();
  /// Stops after the request in flight (bounded by the client's timeout).
  void stop();
  /// Something was queued: look now instead of at the next poll.
  void wake();
  /// One pass over what is due now; returns how many messages were attempted.
  std::size_t run_once();

 private:
  void loop();
  /// Waits until `sender` may send again; false when stopping.
  bool pace(const std::string& sender);
  void attempt(const store::OutboxRow& row);
  /// A send's or a call's outcome: marked sent and logged (true), or its failure added to the
  /// log fields `f` for the caller to retry or drop (false).
  bool settled_as_sent(const store::OutboxRow& row, const SendResult& result, nlohmann::json& f);
  /// A row whose body is a call's TwiML URL (sealed as "outbox.call"): one call to `to`.
  void attempt_call(const store::OutboxRow& row, const std::string& to, const std::string& url);
  enum class Lookup { found, not_found, failed };
  /// Asks Twilio whether the unknown send of `row` went through; records it as sent if so.
  Lookup reconcile(const store::OutboxRow& row, const OutboundSms& sms, std::string& why);
  /// Backoff; no sooner than `not_before_ms` (when an unknown send may be asked about).
  void retry_later(const store::OutboxRow& row, nlohmann::json fields, bool outcome_unknown,
                   std::int64_t not_before_ms);

  store::SessionStore& store_;
  SendFunction send_;
  CallFunction call_;
  LookupFunction lookup_;
  OutboxSettings settings_;
  std::function<void()> tick_;
  std::map<std::string, std::int64_t> last_send_ms_;  // steady clock, per sender
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace hotline::twilio
