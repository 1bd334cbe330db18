#pragma once
// A real hotline server on an ephemeral port with a real SQLite file, for integration tests.
#include <catch2/catch.hpp>
#include <httplib.h>

#include <thread>

#include "hotline/app/app.hpp"
#include "hotline/channels/address.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/twilio/signature.hpp"
#include "support.hpp"

namespace test_support {

inline const std::string kAuthToken = "test-auth-token-0123456789abcdef";
inline const std::string kPublicUrl = "https://hotline.example.org";
inline const std::string kSecret = "test-secret-for-contact-hashes-0001";

/// Settings for a test server: signature checks on, clock pinned, database in `dir`.
inline hotline::config::Config test_config(const TempDir& dir) {
  hotline::config::Config c;
  c.root = HOTLINE_SOURCE_DIR;
  c.port = 0;
  c.threads = 8;
  c.database = (dir.path() / "hotline.sqlite3").string();
  c.twilio_auth_token = kAuthToken;
  c.public_url = kPublicUrl;
  c.secret = kSecret;
  c.pinned_now_ms = 1'800'000'000'000;
  return c;
}

class HotlineServer {
 public:
  explicit HotlineServer(hotline::config::Config config,
                         std::shared_ptr<const hotline::routing::Roster> roster = nullptr,
                         hotline::channels::VoicemailHook on_voicemail = {})
      : HotlineServer(config, std::make_unique<hotline::app::App>(config, shipped_bundle(), roster),
                      std::move(on_voicemail)) {}
  /// The same on a store already open (e.g. test_support::FailingStore).
  HotlineServer(hotline::config::Config config, std::unique_ptr<hotline::store::SessionStore> store)
      : HotlineServer(config, std::make_unique<hotline::app::App>(config, std::move(store), shipped_bundle()), {}) {}
  ~HotlineServer() {
    app_->stop();
    thread_.join();
  }

  hotline::app::App& app() { return *app_; }
  httplib::Client& client() { return *client_; }
  int port() const { return port_; }

  /// POSTs a form signed as Twilio would sign it for the public URL.
  httplib::Result post_signed(const std::string& path, const hotline::twilio::FormFields& form) {
    auto sig = hotline::twilio::compute_signature(config_.twilio_auth_token, config_.public_url + path, form);
    return post(path, hotline::twilio::encode_form(form), {{"X-Twilio-Signature", sig}});
  }
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers headers = {}) {
    return client_->Post(path.c_str(), headers, body, "application/x-www-form-urlencoded");
  }

  /// What the store holds for a phone number (or WhatsApp address), as the server would key it.
  std::optional<hotline::store::StoredSession> stored_session(const std::string& phone) {
    return app_->store().load(hotline::channels::contact_key_of(config_.secret, phone));
  }
  /// The answer the store remembers for a phone number's request id, as the server would key it.
  std::optional<std::string> stored_response(const std::string& phone, const std::string& request_id) {
    return app_->store().response_for(hotline::channels::contact_key_of(config_.secret, phone), request_id);
  }

 private:
  HotlineServer(hotline::config::Config config, std::unique_ptr<hotline::app::App> app,
                hotline::channels::VoicemailHook on_voicemail)
      : config_(std::move(config)), app_(std::move(app)) {
    if (on_voicemail) app_->on_voicemail(std::move(on_voicemail));  // before the server runs
    port_ = app_->bind();
    if (port_ <= 0) throw std::runtime_error("test server could not bind");
    thread_ = std::thread([this] { app_->run(); });
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
    // Longer than a store failure can take to answer (two waits on a locked database, 5 s each).
    client_->set_read_timeout(20, 0);
  }

  hotline::config::Config config_;
  std::unique_ptr<hotline::app::App> app_;
  int port_ = -1;
  std::thread thread_;
  std::unique_ptr<httplib::Client> client_;
};

/// The value of hotline_store_failures_total for one route in GET /metrics' text ("" if absent).
inline std::string store_failures(HotlineServer& server, const std::string& route) {
  const std::string text = server.app().metrics().render();
  const std::string series = "hotline_store_failures_total{route=\"" + route + "\"} ";
  const auto at = text.find(series);
  if (at == std::string::npos) return "";
  return text.substr(at + series.size(), text.find('\n', at) - at - series.size());
}

/// The text of the <Message> in a 200 TwiML answer ("" when the answer says nothing).
inline std::string reply_of(const httplib::Result& res) {
  REQUIRE(res);
  REQUIRE(res->status == 200);
  const std::string open = "<Message>", close = "</Message>";
  auto a = res->body.find(open), b = res->body.rfind(close);
  if (a == std::string::npos || b == std::string::npos) return "";
  return res->body.substr(a + open.size(), b - a - open.size());
}

/// An inbound SMS as Twilio posts it.
inline hotline::twilio::FormFields sms_form(const std::string& from, const std::string& body,
                                            const std::string& sid) {
  return {{"ToCountry", "US"},   {"SmsMessageSid", sid}, {"NumMedia", "0"},
          {"SmsSid", sid},       {"SmsStatus", "received"}, {"Body", body},
          {"To", "+14145550100"}, {"NumSegments", "1"},  {"MessageSid", sid},
          {"AccountSid", "AC00000000000000000000000000000000"}, {"From", from},
          {"ApiVersion", "2010-04-01"}};
}

}  // namespace test_support
