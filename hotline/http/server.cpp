#include "hotline/http/server.hpp"

#include <httplib.h>
#include <sys/socket.h>

#include "hotline/common/log.hpp"
#include "hotline/twilio/signature.hpp"

namespace hotline::http {

struct Server::Impl {
  ServerSettings settings;
  Routes routes;
  httplib::Server http;
  socket_t listen_socket = INVALID_SOCKET;  // captured when httplib creates it (see install)

  void install();
  void twilio_route(const std::string& path, TwilioHandler handler);
  bool signature_ok(const httplib::Request& req, const twilio::FormFields& form,
                    const std::string& body) const;
};

Server::Server(ServerSettings settings, Routes routes) : impl_(std::make_unique<Impl>()) {
  impl_->settings = std::move(settings);
  impl_->routes = std::move(routes);
  impl_->install();
}

Server::~Server() { stop(); }

int Server::bind() {
  auto& s = impl_->settings;
  const int port = s.port == 0 ? impl_->http.bind_to_any_port(s.bind)
                               : (impl_->http.bind_to_port(s.bind, s.port) ? s.port : -1);
  // Debian's libcpp-httplib is compiled with a listen backlog of 5: a burst of new connections
  // (Twilio opening many at once) overflows it and the extras wait for a SYN retransmit, 1 s
  // and more. listen() again on the bound socket raises it (capped by net.core.somaxconn).
  if (port > 0 && impl_->listen_socket != INVALID_SOCKET) ::listen(impl_->listen_socket, 1024);
  return port;
}

bool Server::run() { return impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
}

bool Server::running() const { return impl_->http.is_running(); }

bool Server::Impl::signature_ok(const httplib::Request& req, const twilio::FormFields& form,
                                const std::string& body) const {
  if (settings.auth_token.empty()) return true;  // local mode, logged at start-up
  const std::string signature = req.get_header_value("X-Twilio-Signature");
  if (signature.empty()) return false;
  // Twilio signs the public URL it called, query string included, not our bind address.
  const std::string url = settings.public_url + req.target;
  return twilio::validate_signature(settings.auth_token, url, form, signature, body);
}

void Server::Impl::twilio_route(const std::string& path, TwilioHandler handler) {
  // The body is read here, not by httplib: Debian's build refuses form bodies over 8 kB
  // (CPPHTTPLIB_FORM_URL_ENCODED_PAYLOAD_MAX_LENGTH, fixed at compile time) with a 413, and a
  // 1,600-character Spanish SMS with accents or emoji percent-encodes to more than that.
  http.Post(path, [this, handler, path](const httplib::Request& req, httplib::Response& res,
                                        const httplib::ContentReader& read_content) {
    std::string body;
    bool too_large = false;
    const bool complete = read_content([&](const char* data, std::size_t length) {
      too_large = body.size() + length > settings.max_body_bytes;
      if (!too_large) body.append(data, length);
      return !too_large;
    });
    // httplib stops reading on its own at the payload limit (Content-Length too large).
    if (too_large || (!complete && res.status == 413)) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "body too large"}});
      res.status = 413;
      res.set_content("request body too large\n", "text/plain");
      return;
    }
    if (!complete) {
      res.status = 400;
      res.set_content("incomplete request body\n", "text/plain");
      return;
    }
    auto form = twilio::parse_form(body);
    if (!form) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "body is not a form"}});
      res.status = 400;
      res.set_content("expected an application/x-www-form-urlencoded body\n", "text/plain");
      return;
    }
    if (!signature_ok(req, *form, body)) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "bad or missing signature"}});
      res.status = 403;
      res.set_content("invalid X-Twilio-Signature\n", "text/plain");
      return;
    }
    auto answer = handler(*form);
    res.status = answer.status;
    res.set_content(answer.body, answer.content_type.c_str());
  });
}

void Server::Impl::install() {
  http.set_tcp_nodelay(true);  // without it, Nagle plus delayed ACKs add ~40 ms to every answer
  http.set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket = sock;  // the listening socket: Server::bind raises its backlog
  });
  http.set_payload_max_length(settings.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  const int threads = settings.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  if (routes.sms) twilio_route("/twilio/sms", routes.sms);
  for (const auto& [path, handler] : routes.twilio) {
    if (handler) twilio_route(path, handler);
  }

  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool ready = !routes.ready || routes.ready();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : "not ready\n", "text/plain");
  });

  // A bug must not reach the caller as Twilio's generic error: answer valid TwiML and log it.
  http.set_exception_handler([this](const httplib::Request& req, httplib::Response& res,
                                    std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("handler_failed", {{"route", req.path}, {"error", what}});
    res.status = 200;
    res.set_content(routes.fallback_twiml, "text/xml");
  });
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 413) log::warn("webhook_rejected", {{"route", req.path}, {"reason", "body too large"}});
    if (res.body.empty()) {
      res.set_content(std::to_string(res.status) + "\n", "text/plain");
    }
  });
}

}  // namespace hotline::http
