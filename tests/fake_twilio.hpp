#pragma once
// A local stand-in for Twilio's REST API: records every Messages.json request, answers 201
// with a fresh SID, and fails on demand (status, malformed JSON, answering too late). It also
// lists the messages it accepted (GET Messages.json: To/From/PageSize filters, newest first,
// paged, date_created in RFC 2822), answering in the shape of Twilio's ListMessageResponse;
// test_prism checks that shape against Twilio's OpenAPI description and the official client.
// Calls.json creates (an advocate's callback) are recorded apart, in calls(), and answered 201
// with a Call resource. A WhatsApp recipient a test marks outside WhatsApp's 24-hour window
// (outside_window) gets only templates (ContentSid): a free-form Body is refused with 63016.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "hotline/twilio/form.hpp"

namespace test_support {

struct FakeRequest {
  std::string path, authorization, to, from, messaging_service_sid, body, status_callback;
  std::string content_sid, content_variables;  // a template instead of a Body
  int answered = 0;  // the status the fake answered with
  int arrival = 0;   // 1 for the first request the fake received, 2 for the next…
  std::string sid;   // the Message SID, when answered 201
  std::int64_t created_s = 0;  // when it arrived (Unix seconds): its date_created
};

/// A POST to Calls.json, as received.
struct FakeCall {
  std::string path, authorization, to, from, url, method;
  int answered = 0;
  std::string sid;  // the Call SID, when answered 201
};

/// A GET of the Messages list, as received.
struct FakeListRequest {
  std::string authorization, query;  // query: the raw query string
  int answered = 0;
};

/// "Mon, 16 Aug 2010 03:45:01 +0000", as Twilio writes dates (written here independently of
/// the hotline's parser, so a test compares the two).
inline std::string rfc2822(std::int64_t unix_seconds) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[64];
  std::snprintf(out, sizeof out, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return out;
}

class FakeTwilio {
 public:
  FakeTwilio() {
    server_.Post(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)", [this](const httplib::Request& req, httplib::Response& res) {
      FakeRequest r;
      r.arrival = ++arrivals;
      r.created_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count() + clock_offset_s.load();
      r.path = req.path;
      r.authorization = req.get_header_value("Authorization");
      auto form = hotline::twilio::parse_form(req.body).value_or(hotline::twilio::FormFields{});
      auto get = [&](const char* k) { return hotline::twilio::field(form, k).value_or(""); };
      r.to = get("To");
      r.from = get("From");
      r.messaging_service_sid = get("MessagingServiceSid");
      r.body = get("Body");
      r.status_callback = get("StatusCallback");
      r.content_sid = get("ContentSid");
      r.content_variables = get("ContentVariables");
      // Decided on arrival: a request that hangs is one the API did not process.
      int status = fail_status.load();
      if (int ms = delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (refuse_to && r.to == *refuse_to) status = 400;
      // As Twilio does (error 21910): a phone-number sender and its recipient must be on one
      // channel, both `whatsapp:` or neither. A Messaging Service picks its own sender.
      const bool mixed_channels = !r.from.empty() && r.from.rfind("whatsapp:", 0) != r.to.rfind("whatsapp:", 0);
      if (mixed_channels) status = 400;
      // Neither a Body nor a template: Twilio's 21602 ("Message body is required").
      const bool empty = r.body.empty() && r.content_sid.empty();
      if (empty) status = 400;
      // Outside WhatsApp's window only a template goes (Twilio reports 63016 for free-form text).
      bool window_closed = false;
      {
        std::lock_guard lock(mutex_);
        window_closed = r.to.rfind("whatsapp:", 0) == 0 && outside_window_.count(r.to) && r.content_sid.empty();
      }
      if (window_closed) status = 400;
      if (status == 0) {
        std::lock_guard lock(mutex_);
        r.answered = 201;
        r.sid = sid_of(1000 + requests_.size());
        res.status = 201;
        if (malformed) res.set_content("{\"sid\": ", "application/json");
        else res.set_content(message_json(req.matches[1], r).dump(), "application/json");
      } else {
        r.answered = status;
        res.status = status;
        const int code = mixed_channels ? 21910 : empty ? 21602 : window_closed ? 63016
                         : refuse_to && r.to == *refuse_to ? 21610 : status == 429 ? 20429 : 20500;
        if (malformed) res.set_content("<html>oops", "text/html");
        else res.set_content("{\"code\": " + std::to_string(code) + ", \"message\": \"failure for " + r.to + "\", \"status\": " + std::to_string(status) + "}", "application/json");
      }
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(r));
    });
    server_.Post(R"(/2010-04-01/Accounts/([^/]+)/Calls\.json)", [this](const httplib::Request& req, httplib::Response& res) {
      FakeCall c;
      c.path = req.path;
      c.authorization = req.get_header_value("Authorization");
      auto form = hotline::twilio::parse_form(req.body).value_or(hotline::twilio::FormFields{});
      auto get = [&](const char* k) { return hotline::twilio::field(form, k).value_or(""); };
      c.to = get("To");
      c.from = get("From");
      c.url = get("Url");
      c.method = get("Method");
      std::lock_guard lock(mutex_);
      const int status = call_fail_status.load();
      if (c.to.empty() || c.from.empty() || c.url.empty()) {
        c.answered = res.status = 400;
        res.set_content("{\"code\": 21201, \"message\": \"To, From and Url are required\", \"status\": 400}", "application/json");
      } else if (status != 0) {
        c.answered = res.status = status;
        res.set_content("{\"code\": 20500, \"message\": \"failure\", \"status\": " + std::to_string(status) + "}", "application/json");
      } else {
        c.answered = res.status = 201;
        std::string digits = std::to_string(calls_.size() + 1);
        c.sid = "CA" + std::string(32 - digits.size(), '0') + digits;
        const std::string account = req.matches[1];
        res.set_content(nlohmann::json{{"sid", c.sid}, {"account_sid", account}, {"to", c.to}, {"from", c.from},
                                       {"status", "queued"}, {"direction", "outbound-api"}, {"api_version", "2010-04-01"},
                                       {"uri", "/2010-04-01/Accounts/" + account + "/Calls/" + c.sid + ".json"}}
                            .dump(),
                        "application/json");
      }
      calls_.push_back(std::move(c));
    });
    server_.Get(R"(/2010-04-01/Accounts/([^/]+)/Messages\.json)", [this](const httplib::Request& req, httplib::Response& res) {
      list(req, res);
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
  /// Calls.json creates received, answered or not.
  std::vector<FakeCall> calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<FakeListRequest> list_requests() {
    std::lock_guard lock(mutex_);
    return list_requests_;
  }
  /// `to` (a whatsapp: address) last wrote more than 24 hours ago, as far as WhatsApp knows:
  /// free-form messages to it are refused (63016) until reopen_window.
  void close_window(const std::string& to) {
    std::lock_guard lock(mutex_);
    outside_window_.insert(to);
  }
  void reopen_window(const std::string& to) {
    std::lock_guard lock(mutex_);
    outside_window_.erase(to);
  }
  /// A SID of Twilio's form (SM + 32 hex digits) for the n-th message.
  static std::string sid_of(std::size_t n) {
    std::string digits = std::to_string(n);
    return "SM" + std::string(32 - digits.size(), '0') + digits;
  }

  /// Requests received so far, answered or not: more than requests().size() while one is held
  /// (delay_ms) before it is answered.
  std::atomic<int> arrivals{0};
  std::atomic<int> fail_status{0};  // 0 = accept; else answer with this status
  std::atomic<int> delay_ms{0};     // answer this late (past the client's timeout = "no answer")
  std::atomic<bool> malformed{false};
  std::optional<std::string> refuse_to;  // answer 400 / 21610 (opted out) for this recipient
  std::atomic<int> call_fail_status{0};  // calls: 0 = accept; else answer with this status
  std::atomic<int> list_fail_status{0};  // lists: 0 = answer; else answer with this status
  std::atomic<std::int64_t> clock_offset_s{0};  // Twilio's clock minus ours, for date_created

 private:
  /// A Message resource as Twilio shows it (api.v2010.account.message).
  static nlohmann::json message_json(const std::string& account, const FakeRequest& r) {
    const std::string uri = "/2010-04-01/Accounts/" + account + "/Messages/" + r.sid;
    const std::string date = rfc2822(r.created_s);
    nlohmann::json service = r.messaging_service_sid.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.messaging_service_sid);
    nlohmann::json from = r.from.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.from);  // a service picks it later
    return {{"account_sid", account}, {"api_version", "2010-04-01"}, {"body", r.body},
            {"date_created", date}, {"date_sent", nullptr}, {"date_updated", date},
            {"direction", "outbound-api"}, {"error_code", nullptr}, {"error_message", nullptr},
            {"from", from}, {"messaging_service_sid", service}, {"num_media", "0"}, {"num_segments", "1"},
            {"price", nullptr}, {"price_unit", "USD"}, {"sid", r.sid}, {"status", "queued"},
            {"subresource_uris", {{"media", uri + "/Media.json"}, {"feedback", uri + "/Feedback.json"}}},
            {"to", r.to}, {"uri", uri + ".json"}};
  }

  void list(const httplib::Request& req, httplib::Response& res) {
    FakeListRequest l;
    l.authorization = req.get_header_value("Authorization");
    l.query = req.target.find('?') == std::string::npos ? "" : req.target.substr(req.target.find('?') + 1);
    const std::string account = req.matches[1];
    auto param = [&](const char* k) { return req.has_param(k) ? req.get_param_value(k) : std::string(); };
    int page_size = 50, page = 0;
    try {
      if (!param("PageSize").empty()) page_size = std::stoi(param("PageSize"));
      if (!param("Page").empty()) page = std::stoi(param("Page"));
    } catch (const std::exception&) {
      page_size = 0;
    }
    int status = list_fail_status.load();
    if (status == 0 && (page_size < 1 || page_size > 1000 || page < 0)) status = 400;
    if (status != 0) {
      res.status = l.answered = status;
      res.set_content("{\"code\": 20001, \"message\": \"failure\", \"status\": " + std::to_string(status) + "}",
                      "application/json");
    } else {
      std::vector<FakeRequest> matching;
      for (const auto& r : delivered()) {
        if (!param("To").empty() && r.to != param("To")) continue;
        if (!param("From").empty() && r.from != param("From")) continue;
        matching.push_back(r);
      }
      // Newest first (arrival breaks ties within a second).
      std::sort(matching.begin(), matching.end(), [](const FakeRequest& a, const FakeRequest& b) {
        return a.created_s != b.created_s ? a.created_s > b.created_s : a.arrival > b.arrival;
      });
      const std::string base = "/2010-04-01/Accounts/" + account + "/Messages.json";
      auto page_uri = [&](int p) {
        hotline::twilio::FormFields q;
        if (!param("To").empty()) q.push_back({"To", param("To")});
        if (!param("From").empty()) q.push_back({"From", param("From")});
        q.push_back({"PageSize", std::to_string(page_size)});
        q.push_back({"Page", std::to_string(p)});
        if (p > 0) q.push_back({"PageToken", "PASM" + std::to_string(p)});
        return base + "?" + hotline::twilio::encode_form(q);
      };
      nlohmann::json messages = nlohmann::json::array();
      const std::size_t first = static_cast<std::size_t>(page) * static_cast<std::size_t>(page_size);
      for (std::size_t i = first; i < matching.size() && i < first + static_cast<std::size_t>(page_size); ++i) {
        messages.push_back(message_json(account, matching[i]));
      }
      const bool more = first + static_cast<std::size_t>(page_size) < matching.size();
      nlohmann::json body = {
          {"messages", messages},
          {"end", static_cast<int>(first) + std::max<int>(static_cast<int>(messages.size()) - 1, 0)},
          {"first_page_uri", page_uri(0)},
          {"next_page_uri", more ? nlohmann::json(page_uri(page + 1)) : nlohmann::json(nullptr)},
          {"page", page},
          {"page_size", page_size},
          {"previous_page_uri", page > 0 ? nlohmann::json(page_uri(page - 1)) : nlohmann::json(nullptr)},
          {"start", static_cast<int>(first)},
          {"uri", req.target},
      };
      res.status = l.answered = 200;
      res.set_content(body.dump(), "application/json");
    }
    std::lock_guard lock(mutex_);
    list_requests_.push_back(std::move(l));
  }

  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<FakeRequest> requests_;
  std::vector<FakeListRequest> list_requests_;
  std::vector<FakeCall> calls_;
  std::set<std::string> outside_window_;
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
