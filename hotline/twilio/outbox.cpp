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

const ListedMessage* find_sent(const OutboundSms& sms, const std::vector<ListedMessage>& listed,
                               std::int64_t since_ms) {
  const ListedMessage* newest = nullptr;
  for (const auto& m : listed) {
    // A message whose date could not be read is not taken for ours: sending again (a possible
    // duplicate) is the lesser harm than a message never sent.
    if (m.created_ms == 0 || m.created_ms < since_ms || m.sid.empty()) continue;
    if (m.to != sms.to || (sms.content_sid.empty() && m.body != sms.body)) continue;
    // Twilio gives every message a messaging_service_sid (a default one when none was used), so
    // a number is matched by `from` alone; a Messaging Service picks the number itself.
    const bool same_sender = sms.messaging_service_sid.empty() ? m.from == sms.from
                                                               : m.messaging_service_sid == sms.messaging_service_sid;
    if (!same_sender) continue;
    if (!newest || m.created_ms > newest->created_ms) newest = &m;
  }
  return newest;
}

OutboxWorker::OutboxWorker(store::SessionStore& store, SendFunction send, LookupFunction lookup,
                           OutboxSettings settings, std::function<void()> tick)
    : store_(store), send_(std::move(send)), lookup_(std::move(lookup)), settings_(std::move(settings)),
      tick_(std::move(tick)) {}

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
  std::size_t attempted = 0, i = 0;
  for (; i < rows.size(); ++i) {
    const auto& row = rows[i];
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;  // stop() waits for the send in hand, not for the rest of the batch
    }
    if (stopping) break;
    // A send whose outcome is unknown and too recent to ask Twilio about (the process was killed
    // during it a moment ago): back in the queue until Twilio has surely finished with it.
    if (row.attempt_started_ms != 0) {
      const std::int64_t ask_at = row.attempt_started_ms + settings_.lookup_delay_ms;
      if (system_now_ms() < ask_at) {
        store_.outbound_release(row.id, ask_at);
        log::info("outbound_check_later", {{"outbox_id", row.id}, {"in_ms", ask_at - system_now_ms()}});
        continue;
      }
    }
    if (!pace(row.sender)) break;
    attempt(row);
    ++attempted;
  }
  // Stopping: hand back what was claimed and not tried, so another replica (or the next start)
  // sends it now rather than when the lease ends.
  for (; i < rows.size(); ++i) store_.outbound_release(rows[i].id, 0);
  return attempted;
}

bool OutboxWorker::settled_as_sent(const store::OutboxRow& row, const SendResult& result, nlohmann::json& f) {
  if (result.ok) {
    store_.outbound_sent(row.id, result.sid, system_now_ms());
    f["sid"] = result.sid;
    if (!result.reason.empty()) f["note"] = result.reason;
    log::info("outbound_sent", f);
    if (settings_.observe) settings_.observe("sent", "");
    return true;
  }
  f["reason"] = result.reason;
  f["http_status"] = result.http_status;
  if (result.twilio_code) f["twilio_code"] = result.twilio_code;
  return false;
}

void OutboxWorker::attempt(const store::OutboxRow& row) {
  // Not the idempotency key: a voicemail notice's carries the call's hash (see log.hpp).
  const nlohmann::json ids = {{"outbox_id", row.id}, {"contact", row.contact_key}};
  auto to = crypto::open(settings_.secret, row.to_sealed, "outbox.to");
  auto body = crypto::open(settings_.secret, row.body_sealed, "outbox.body");
  std::string content_sid, content_variables;
  if (to && !body) {
    // Not a message: a call, whose body is sealed under its own context so that no text an
    // advocate writes can ever be read as one.
    if (auto url = crypto::open(settings_.secret, row.body_sealed, "outbox.call")) {
      attempt_call(row, *to, *url);
      return;
    }
    // Or a template (WhatsApp outside its window): a Content SID and its variables.
    if (auto content = crypto::open(settings_.secret, row.body_sealed, kContentSealContext)) {
      const auto j = nlohmann::json::parse(*content, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.value("content_sid", "").rfind("HX", 0) == 0) {
        content_sid = j.value("content_sid", "");
        content_variables = j.contains("variables") ? j["variables"].dump() : "";
        body = "";
      }
    }
  }
  auto drop_unsent = [&](std::string_view reason, const std::string& why) {
    store_.outbound_dropped(row.id, reason, system_now_ms());
    auto f = ids;
    f["reason"] = why;
    // An unreadable row means the operator changed the secret: an error, not the person's choice.
    if (reason == "unreadable") log::error("outbound_dropped", f);
    else log::warn("outbound_dropped", f);
    if (settings_.observe) settings_.observe("dropped", reason);
  };
  if (!to || !body) return drop_unsent("unreadable", "cannot open the sealed message (was HOTLINE_SECRET changed?)");
  // Queued before the person said STOP (a retry, or a reply written meanwhile): STOP means stop.
  if (settings_.withheld && settings_.withheld(row, *to)) {
    return drop_unsent("opted_out", "the recipient has since opted out (STOP); not sent");
  }
  OutboundSms sms;
  sms.to = *to;
  sms.body = *body;
  sms.content_sid = content_sid;
  sms.content_variables = content_variables;
  if (row.sender.rfind("MG", 0) == 0) sms.messaging_service_sid = row.sender;
  else sms.from = row.sender;
  sms.status_callback = settings_.status_callback;

  auto f = ids;
  f["attempt"] = row.attempts + 1;
  if (row.attempt_started_ms != 0) {
    // An earlier send may have reached Twilio: ask before sending again.
    std::string why;
    switch (reconcile(row, sms, why)) {
      case Lookup::found:
        return;
      case Lookup::not_found:
        log::info("outbound_not_at_twilio", {{"outbox_id", row.id}});
        break;
      case Lookup::failed: {
        const bool give_up = system_now_ms() - row.attempt_started_ms >= settings_.lookup_give_up_ms ||
                             row.attempts + 1 >= settings_.max_attempts;
        f["reason"] = "cannot ask Twilio whether an earlier send went through: " + why;
        if (!give_up) {
          retry_later(row, f, /*outcome_unknown=*/true, 0);
          return;
        }
        f["why"] = "lookups failed for too long; sending anyway (it may arrive twice)";
        log::warn("outbound_unverified", f);
        f.erase("reason");
        f.erase("why");
        break;
      }
    }
  }

  // Durably, before the request: if the process dies during it, whoever claims the row next
  // asks Twilio instead of sending blind.
  const std::int64_t started = system_now_ms();
  if (!store_.outbound_attempt_started(row, started, started + settings_.send_timeout_ms + 30'000)) {
    f["reason"] = "the claim's lease was taken over by another worker";
    log::warn("outbound_skipped", f);
    return;
  }
  SendResult result = send_(sms);
  if (settled_as_sent(row, result, f)) return;
  if (!result.retryable || row.attempts + 1 >= settings_.max_attempts) {
    // Whoever the row names is told why: Twilio's code when it gave one (21610: opted out).
    const std::string error = result.twilio_code ? std::to_string(result.twilio_code)
                              : result.retryable ? "too_many_attempts"
                                                 : "http_" + std::to_string(result.http_status);
    store_.outbound_dropped(row.id, error, system_now_ms());
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
  if (result.outcome_unknown) f["outcome_unknown"] = true;
  // An answered request (a 5xx) is over at Twilio; one without an answer may still be running
  // there, so it is asked about only once the client's timeout has passed since it began.
  retry_later(row, f, result.outcome_unknown,
              result.outcome_unknown && result.http_status == 0 ? started + settings_.lookup_delay_ms : 0);
}

void OutboxWorker::attempt_call(const store::OutboxRow& row, const std::string& to, const std::string& url) {
  nlohmann::json f = {{"outbox_id", row.id}, {"contact", row.contact_key}, {"kind", "call"},
                      {"attempt", row.attempts + 1}};
  auto drop = [&](const std::string& why, std::string_view reason) {
    store_.outbound_dropped(row.id, reason, system_now_ms());
    f["why"] = why;
    log::warn("outbound_dropped", f);
    if (settings_.observe) settings_.observe("dropped", reason);
  };
  // A call is at most once: Twilio's call list is not searched like its messages, and a second
  // ring after one that may have gone through is worse than none (the advocate can #call again).
  if (row.attempt_started_ms != 0) return drop("an earlier attempt's outcome is unknown; not calling twice", "refused");
  if (!call_) return drop("this hotline places no calls (no REST client for calls)", "refused");
  const std::int64_t started = system_now_ms();
  if (!store_.outbound_attempt_started(row, started, started + settings_.send_timeout_ms + 30'000)) {
    f["reason"] = "the claim's lease was taken over by another worker";
    log::warn("outbound_skipped", f);
    return;
  }
  const std::string from = row.sender;
  SendResult result = call_(OutboundCall{to, from, url});
  if (settled_as_sent(row, result, f)) return;
  if (result.retryable && !result.outcome_unknown && row.attempts + 1 < settings_.max_attempts) {
    retry_later(row, f, /*outcome_unknown=*/false, 0);
    return;
  }
  drop(result.retryable ? "the call's outcome is unknown or too many attempts" : "Twilio refused the call",
       result.retryable ? "too_many_attempts" : "refused");
}

OutboxWorker::Lookup OutboxWorker::reconcile(const store::OutboxRow& row, const OutboundSms& sms, std::string& why) {
  MessageQuery query;
  query.to = sms.to;
  query.from = sms.from;  // empty for a Messaging Service: then by recipient alone
  // date_created is in whole seconds: from the start's second, less the clock allowance.
  query.created_since_ms = row.attempt_started_ms / 1000 * 1000 - settings_.clock_skew_ms;
  query.page_size = settings_.lookup_page_size;
  query.max_pages = settings_.lookup_max_pages;
  ListResult listed;
  if (lookup_) listed = lookup_(query);
  else listed.reason = "no way to list messages";
  if (!listed.ok) {
    why = listed.reason;
    return Lookup::failed;
  }
  const ListedMessage* sent = find_sent(sms, listed.messages, query.created_since_ms);
  if (!sent) return Lookup::not_found;
  store_.outbound_sent(row.id, sent->sid, system_now_ms());
  log::info("outbound_reconciled", {{"outbox_id", row.id}, {"sid", sent->sid}});
  if (settings_.observe) settings_.observe("sent", "reconciled");
  return Lookup::found;
}

void OutboxWorker::retry_later(const store::OutboxRow& row, nlohmann::json f, bool outcome_unknown,
                               std::int64_t not_before_ms) {
  // Exponential backoff with jitter, so a recovering API is not hit by every message at once.
  std::int64_t delay = settings_.retry_base_ms;
  for (int i = 0; i < row.attempts && delay < settings_.retry_max_ms; ++i) delay *= 2;
  delay = std::min(delay, settings_.retry_max_ms);
  static thread_local std::minstd_rand rng{std::random_device{}()};
  delay += static_cast<std::int64_t>(std::uniform_real_distribution<double>(0, 0.2)(rng) * static_cast<double>(delay));
  const std::int64_t now = system_now_ms();
  const std::int64_t next = std::max(now + delay, not_before_ms);
  store_.outbound_retry(row.id, next, now, outcome_unknown);
  f["retry_in_ms"] = next - now;
  log::warn("outbound_retry", f);
  if (settings_.observe) settings_.observe("retry", "");
}

}  // namespace hotline::twilio
