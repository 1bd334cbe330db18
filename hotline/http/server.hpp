#pragma once
// The only module that touches cpp-httplib: routes, Twilio signature checks, body limits, and
// turning anything unexpected into a clean answer. Handlers here are thin; channels do the work.
// Also the operations side of HTTP: a request id and an access log line for every request,
// request metrics, and the token-guarded GET /metrics, GET /admin/status and POST /admin/reload.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "hotline/channels/webhook.hpp"
#include "hotline/common/metrics.hpp"
#include "hotline/http/limits.hpp"
#include "hotline/twilio/form.hpp"

namespace hotline::http {

struct ServerSettings {
  std::string bind = "127.0.0.1";
  int port = 8080;  // 0 = any free port
  int threads = 32;
  std::size_t max_body_bytes = 64 * 1024;
  std::string public_url;  // what Twilio calls, e.g. https://hotline.example.org
  std::string auth_token;  // empty = local mode: signatures are not checked
  /// HOTLINE_ADMIN_TOKEN: when set, /metrics and /admin/reload need `Authorization: Bearer` it.
  /// When empty, /metrics answers loopback clients only and /admin/reload is off.
  std::string admin_token;
  /// On stop(), how long to let connections already accepted, but still waiting for a free
  /// thread (or for their first request's headers), reach a handler: httplib closes those
  /// unanswered once it is stopped.
  int drain_ms = 5'000;
  /// Per connection: a deadline for each request, an idle timeout, a bound on request heads.
  ConnectionLimits limits;
};

/// A signed Twilio webhook: form fields in, TwiML (or a 4xx) out.
using TwilioHandler = std::function<channels::WebhookResponse(const twilio::FormFields&)>;

struct Routes {
  TwilioHandler sms;                // POST /twilio/sms
  /// Any other signed Twilio webhook: POST path → handler (e.g. the /twilio/voice/... routes).
  std::map<std::string, TwilioHandler> twilio;
  std::function<bool()> ready;      // GET /readyz
  /// Said after "ready" on GET /readyz (still 200) when not empty: e.g. that the bundle serving
  /// is the last good copy, not the files on disk.
  std::function<std::string()> ready_note;
  std::string fallback_twiml;       // answered when a handler throws: Twilio must get valid TwiML
  /// Where request counts and latencies go, and what GET /metrics renders; nullptr = no /metrics.
  metrics::Registry* metrics = nullptr;
  /// POST /admin/reload (needs the admin token): reloads the flows now, answers JSON.
  std::function<channels::WebhookResponse()> admin_reload;
  /// GET /admin/status (as /metrics: the admin token, or this machine when none is set): what
  /// serves and the last refused edit, JSON.
  std::function<channels::WebhookResponse()> admin_status;
};

class Server {
 public:
  Server(ServerSettings settings, Routes routes);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the socket; returns the port (useful with port 0) or -1 when it cannot.
  int bind();
  /// Serves until stop(); returns false if the server failed. Returns only once every handler
  /// that was running has finished and its answer has been written.
  bool run();
  /// Stops accepting connections (from any thread; before run() too, which then returns at
  /// once). Handlers running finish and answer; run() returns when they have.
  void stop();
  bool running() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hotline::http
