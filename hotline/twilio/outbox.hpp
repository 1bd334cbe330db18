#pragma once
// The outbox worker: one thread that sends what the store's outbox holds through Twilio's REST
// API, paced per sender, with exponential backoff on 429 / 5xx / network errors, and drops
// (with a logged reason) what Twilio refuses for good. Rows are written by the channels in the
// same transaction as the state change that caused them; this only sends and records.
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

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
};

using SendFunction = std::function<SendResult(const OutboundSms&)>;

class OutboxWorker {
 public:
  /// `tick` runs on the worker thread before each pass (the relay sweep); may be empty.
  OutboxWorker(store::SessionStore& store, SendFunction send, OutboxSettings settings,
               std::function<void()> tick = {});
  ~OutboxWorker();
  OutboxWorker(const OutboxWorker&) = delete;
  OutboxWorker& operator=(const OutboxWorker&) = delete;

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

  store::SessionStore& store_;
  SendFunction send_;
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
