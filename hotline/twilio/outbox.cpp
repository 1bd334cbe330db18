#include "hotline/twilio/outbox.hpp"

#include <algorithm>
#include <chrono>
#include <random>

#include "hotline/common/clock.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"

namespace hotline::twilio {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

OutboxWorker::OutboxWorker(store::SessionStore& store, SendFunction send, OutboxSettings settings,
                           std::function<void()> tick)
    : store_(store), send_(std::move(send)), settings_(std::move(settings)), tick_(std::move(tick)) {}

OutboxWorker::~OutboxWorker() { stop(); }

void OutboxWorker::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void OutboxWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutboxWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_all();
}

void OutboxWorker::loop() {
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      woken_ = false;
    }
    std::size_t attempted = 0;
    try {
      if (tick_) tick_();
      attempted = run_once();
    } catch (const std::exception& e) {
      // A full disk or a locked database: log it and try again at the next poll.
      log::error("outbox_failed", {{"error", e.what()}});
    }
    std::unique_lock lock(mutex_);
    if (attempted == 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(settings_.idle_poll_ms), [this] { return stopping_ || woken_; });
    }
  }
}

bool OutboxWorker::pace(const std::string& sender) {
  if (settings_.messages_per_second <= 0) return true;
  const auto interval = static_cast<std::int64_t>(1000.0 / settings_.messages_per_second);
  auto it = last_send_ms_.find(sender);
  if (it != last_send_ms_.end()) {
    const std::int64_t ready = it->second + interval;
    std::unique_lock lock(mutex_);
    while (!stopping_ && steady_ms() < ready) {
      cv_.wait_for(lock, std::chrono::milliseconds(ready - steady_ms()), [this] { return stopping_; });
    }
    if (stopping_) return false;
  }
  last_send_ms_[sender] = steady_ms();
  return true;
}

std::size_t OutboxWorker::run_once() {
  // Transport timing runs on the real clock even when HOTLINE_NOW pins the conversation clock.
  // A small batch, leased for long enough to pace and send all of it even if every send times
  // out; a worker that dies meanwhile leaves the rest to be claimed again when the lease ends.
  constexpr std::size_t kBatch = 5;
  const std::int64_t now = system_now_ms();
  const std::int64_t per_message =
      settings_.send_timeout_ms +
      (settings_.messages_per_second > 0 ? static_cast<std::int64_t>(1000.0 / settings_.messages_per_second) : 0);
  auto rows = store_.claim_outbound(now, kBatch, now + static_cast<std::int64_t>(kBatch) * per_message + 30'000);
  std::size_t attempted = 0;
  for (const auto& row : rows) {
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;  // stop() waits for the send in hand, not for the rest of the batch
    }
    if (stopping || !pace(row.sender)) break;
    attempt(row);
    ++attempted;
  }
  // Stopping: hand back what was claimed and not tried, so another replica (or the next start)
  // sends it now rather than when the lease ends.
  for (std::size_t i = attempted; i < rows.size(); ++i) store_.outbound_release(rows[i].id);
  return attempted;
}

void OutboxWorker::attempt(const store::OutboxRow& row) {
  const nlohmann::json ids = {{"outbox_id", row.id}, {"key", row.idempotency_key}, {"contact", row.contact_key}};
  auto to = crypto::open(settings_.secret, row.to_sealed, "outbox.to");
  auto body = crypto::open(settings_.secret, row.body_sealed, "outbox.body");
  if (!to || !body) {
    store_.outbound_dropped(row.id);
    auto f = ids;
    f["reason"] = "cannot open the sealed message (was HOTLINE_SECRET changed?)";
    log::error("outbound_dropped", f);
    if (settings_.observe) settings_.observe("dropped", "unreadable");
    return;
  }
  OutboundSms sms;
  sms.to = *to;
  sms.body = *body;
  if (row.sender.rfind("MG", 0) == 0) sms.messaging_service_sid = row.sender;
  else sms.from = row.sender;
  sms.status_callback = settings_.status_callback;

  SendResult result = send_(sms);
  auto f = ids;
  f["attempt"] = row.attempts + 1;
  if (result.ok) {
    store_.outbound_sent(row.id, result.sid, system_now_ms());
    f["sid"] = result.sid;
    if (!result.reason.empty()) f["note"] = result.reason;
    log::info("outbound_sent", f);
    if (settings_.observe) settings_.observe("sent", "");
    return;
  }
  f["reason"] = result.reason;
  f["http_status"] = result.http_status;
  if (result.twilio_code) f["twilio_code"] = result.twilio_code;
  if (!result.retryable || row.attempts + 1 >= settings_.max_attempts) {
    store_.outbound_dropped(row.id);
    if (result.twilio_code == 21610) f["why"] = "the recipient has opted out (replied STOP)";
    else if (result.retryable) f["why"] = "too many attempts";
    else f["why"] = "Twilio refused it";
    log::warn("outbound_dropped", f);
    if (settings_.observe) {
      settings_.observe("dropped", result.twilio_code == 21610 ? "opted_out"
                                   : result.retryable          ? "too_many_attempts"
                                                               : "refused");
    }
    return;
  }
  // Exponential backoff with jitter, so a recovering API is not hit by every message at once.
  std::int64_t delay = settings_.retry_base_ms;
  for (int i = 0; i < row.attempts && delay < settings_.retry_max_ms; ++i) delay *= 2;
  delay = std::min(delay, settings_.retry_max_ms);
  static thread_local std::minstd_rand rng{std::random_device{}()};
  delay += static_cast<std::int64_t>(std::uniform_real_distribution<double>(0, 0.2)(rng) * static_cast<double>(delay));
  store_.outbound_retry(row.id, system_now_ms() + delay, system_now_ms());
  f["retry_in_ms"] = delay;
  log::warn("outbound_retry", f);
  if (settings_.observe) settings_.observe("retry", "");
}

}  // namespace hotline::twilio
