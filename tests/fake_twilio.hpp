#pragma once
// A local stand-in for Twilio's REST API: records every Messages.json request, answers 201
// with a fresh SID, and fails on demand (status, malformed JSON, answering too late).
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "hotline/twilio/form.hpp"

namespace test_support {

struct FakeRequest {
  std::string path, authorization, to, from, messaging_service_sid, body, status_callback;
  int answered = 0;  // the status the fake answered with
  int arrival = 0;   // 1 for the first request the fake received, 2 for the next…
};

class FakeTwilio {
 public:
  FakeTwilio() {
    server_.Post(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)", [this](const httplib::Request& req, httplib::Response& res) {
      FakeRequest r;
      r.arrival = ++arrivals;
      r.path = req.path;
      r.authorization = req.get_header_value("Authorization");
      auto form = hotline::twilio::parse_form(req.body).value_or(hotline::twilio::FormFields{});
      auto get = [&](const char* k) { return hotline::twilio::field(form, k).value_or(""); };
      r.to = get("To");
      r.from = get("From");
      r.messaging_service_sid = get("MessagingServiceSid");
      r.body = get("Body");
      r.status_callback = get("StatusCallback");
      // Decided on arrival: a request that hangs is one the API did not process.
      int status = fail_status.load();
      if (int ms = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (refuse_to && r.to == *refuse_to) status = 400;
      if (status == 0) {
        std::lock_guard lock(mutex_);
        r.answered = 201;
        res.status = 201;
        if (malformed) res.set_content("{\"sid\": ", "application/json");
        else res.set_content("{\"sid\": \"SM" + std::to_string(1000 + requests_.size()) + "\", \"status\": \"queued\"}", "application/json");
      } else {
        r.answered = status;
        res.status = status;
        const int code = refuse_to && r.to == *refuse_to ? 21610 : status == 429 ? 20429 : 20500;
        if (malformed) res.set_content("<html>oops", "text/html");
        else res.set_content("{\"code\": " + std::to_string(code) + ", \"message\": \"failure for " + r.to + "\", \"status\": " + std::to_string(status) + "}", "application/json");
      }
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(r));
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~FakeTwilio() {
    server_.stop();
    thread_.join();
  }

  std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<FakeRequest> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// Messages Twilio would have accepted (answered 201).
  std::vector<FakeRequest> delivered() {
    std::vector<FakeRequest> out;
    for (auto& r : requests()) if (r.answered == 201) out.push_back(r);
    return out;
  }
  std::vector<FakeRequest> delivered_to(const std::string& to) {
    std::vector<FakeRequest> out;
    for (auto& r : delivered()) if (r.to == to) out.push_back(r);
    return out;
  }

  /// Requests received so far, answered or not: more than requests().size() while one is held
  /// (delay_ms) before it is answered.
  std::atomic<int> arrivals{0};
  std::atomic<int> fail_status{0};  // 0 = accept; else answer with this status
  std::atomic<int> delay_ms{0};     // answer this late (past the client's timeout = "no answer")
  std::atomic<bool> malformed{false};
  std::optional<std::string> refuse_to;  // answer 400 / 21610 (opted out) for this recipient

 private:
  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<FakeRequest> requests_;
};

/// Polls `done` every 10 ms for up to `timeout`; true as soon as it holds.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace test_support
