#include "hotline/http/server.hpp"

#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/http/guarded_stream.hpp"
#include "hotline/twilio/signature.hpp"

namespace hotline::http {
namespace {

using SteadyClock = std::chrono::steady_clock;

// What the thread handling a request knows about it, from the moment its headers are read
// until its answer is written (httplib runs all of that on one thread). The request id itself
// is log::request_id(), so every log line written meanwhile carries it.
struct RequestState {
  bool active = false;
  SteadyClock::time_point start;
  std::string route;  // a route pattern or "other": never a raw path, which could carry anything
  bool recorded = false;  // counted and logged
};
thread_local RequestState t_request;

// A caller's X-Request-Id is kept only when it is plainly an id: [A-Za-z0-9._-]{1,64}.
/// A fresh request id: 16 hex digits from the CSPRNG (RAND_bytes). Not a counter: ids are
/// echoed to callers and kept in logs, and one must tell nothing about the requests before or
/// after it, across restarts too. Each thread draws 2 KiB at a time and hands out 8 bytes an
/// id: one RAND_bytes call costs about 2 µs, 256 ids' worth about as much (≈ 0.1 µs an id).
std::string new_request_id() {
  constexpr std::size_t kIdDigits = 16;
  thread_local std::string pool;
  thread_local std::size_t used = 0;
  if (used + kIdDigits > pool.size()) {
    pool = crypto::random_hex(2048);
    used = 0;
  }
  std::string id = pool.substr(used, kIdDigits);
  used += kIdDigits;
  return id;
}

bool well_formed_request_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// The method as logged: a malformed request line could put anything in it.
std::string method_label(const std::string& method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE"}) {
    if (method == known) return method;
  }
  return "other";
}

bool is_loopback(const std::string& addr) {
  return addr == "::1" || addr.rfind("127.", 0) == 0 || addr.rfind("::ffff:127.", 0) == 0;
}

// Set while a thread serves a connection whose first request has not reached routing yet.
thread_local std::atomic<int>* t_unrouted = nullptr;
// The connection this thread is serving, so the error handler can say why its reading was cut.
thread_local const GuardedStream* t_stream = nullptr;
// The status of the last answer written on this thread (0 before any).
thread_local int t_last_status = 0;
// When the connection this thread is about to serve was accepted (queued for a thread).
thread_local SteadyClock::time_point t_accepted;

// A warning that an attack could repeat thousands of times a second: logged at most once per
// interval, with how many times it happened since the last line.
class RateLimitedWarning {
 public:
  explicit RateLimitedWarning(std::string event) : event_(std::move(event)) {}
  void note(nlohmann::json fields) {
    ++since_last_;
    std::lock_guard lock(mutex_);
    const auto now = SteadyClock::now();
    if (now < next_) return;
    next_ = now + std::chrono::seconds(10);
    fields["times"] = since_last_.exchange(0);
    log::warn(event_, std::move(fields));
  }

 private:
  std::string event_;
  std::atomic<std::uint64_t> since_last_{0};
  std::mutex mutex_;
  SteadyClock::time_point next_{};
};

// How busy httplib's pool is. `waiting` counts connections accepted whose first request has not
// reached a handler yet (queued for a thread, or its headers still being read): once stopped,
// httplib closes those unanswered, so stop() waits for them first. `queued` counts those with
// no thread yet: more than none means every thread is taken, and a webhook waits.
struct PoolLoad {
  std::atomic<int> waiting{0}, queued{0}, busy{0};
  std::size_t threads = 0;
  metrics::Counter* saturated = nullptr;  // connections that found every thread taken
  RateLimitedWarning warning{"http_pool_saturated"};
};

class CountingPool : public httplib::ThreadPool {
 public:
  CountingPool(std::size_t threads, PoolLoad& load) : ThreadPool(threads), load_(load) {}
  void enqueue(std::function<void()> fn) override {
    ++load_.waiting;
    ++load_.queued;
    if (static_cast<std::size_t>(load_.busy.load()) >= load_.threads) {
      if (load_.saturated) load_.saturated->inc();
      load_.warning.note({{"threads", load_.threads},
                          {"queued", load_.queued.load()},
                          {"message", "every thread is taken: webhooks wait. Slow or idle clients? "
                                      "Put nginx in front (docs/deployment.md)."}});
    }
    ThreadPool::enqueue([this, fn = std::move(fn), accepted = SteadyClock::now()] {
      t_accepted = accepted;
      --load_.queued;
      ++load_.busy;
      t_unrouted = &load_.waiting;
      fn();
      if (t_unrouted) --load_.waiting;  // closed without a request
      t_unrouted = nullptr;
      --load_.busy;
    });
  }

 private:
  PoolLoad& load_;
};

// httplib's server with our own connection loop: httplib 0.11 reads a request with a timeout
// that restarts with every byte and keeps any number of headers, so one byte every few seconds
// holds a thread for ever and a header flood grows memory without bound. GuardedStream bounds
// both; this loop is httplib's own otherwise (keep-alive up to a count, stop when the listener
// closes). Overriding a private virtual is allowed; process_request is protected for this.
class GuardedHttpServer : public httplib::Server {
 public:
  ConnectionLimits limits;
  /// Reads end at this moment (steady clock ticks); max() until the server stops.
  std::atomic<SteadyClock::rep> read_cutoff{SteadyClock::time_point::max().time_since_epoch().count()};
  std::function<void(Cut)> on_cut;

  void cut_reads_at(SteadyClock::time_point when) {
    auto ticks = when.time_since_epoch().count();
    auto current = read_cutoff.load();
    while (ticks < current && !read_cutoff.compare_exchange_weak(current, ticks)) {
    }
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    GuardedStream stream(sock, t_accepted, limits, read_cutoff);
    t_stream = &stream;
    bool ok = true;
    for (std::size_t left = keep_alive_max_count_; left > 0 && svr_sock_ != INVALID_SOCKET; --left) {
      if (!stream.await_request()) break;
      bool connection_closed = false;
      t_last_status = 0;
      ok = process_request(stream, left == 1, connection_closed, no_length_means_empty);
      // After a request that could not be read as HTTP, where the next one starts is a guess:
      // close rather than parse its leftovers as another request.
      if (t_last_status == 400 || t_last_status == 413 || t_last_status == 414) break;
      if (stream.cut() != Cut::none) {
        if (on_cut) on_cut(stream.cut());
        linger(sock);
        break;
      }
      if (!ok || connection_closed) break;
    }
    t_stream = nullptr;
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // The client of a cut request may still be sending: closing with its bytes unread would
  // reset the connection and could destroy the 408/431 before it reads it. Read a little more
  // (at most 64 kB, 100 ms) after saying we are done, as nginx's lingering close does.
  static void linger(socket_t sock) {
    ::shutdown(sock, SHUT_WR);
    const auto until = SteadyClock::now() + std::chrono::milliseconds(100);
    char sink[4096];
    for (std::size_t drained = 0; drained < 64 * 1024 && SteadyClock::now() < until;) {
      pollfd p{sock, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(sock, sink, sizeof sink, 0);
      if (n <= 0) break;
      drained += static_cast<std::size_t>(n);
    }
  }

  // HTTP/1.1: a request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112
  // 6.3). httplib 0.11 reads such a POST until the connection closes instead, so
  // `curl -X POST …/admin/reload` waited for its read timeout and got a 400.
  static void no_length_means_empty(httplib::Request& req) {
    if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      req.set_header("Content-Length", "0");
    }
  }
};

}  // namespace

struct Server::Impl {
  ServerSettings settings;
  Routes routes;
  GuardedHttpServer http;
  socket_t listen_socket = INVALID_SOCKET;  // captured when httplib creates it (see install)
  std::set<std::string> known_routes;       // the route labels; any other path is "other"
  metrics::CounterFamily* requests = nullptr;
  metrics::HistogramFamily* latency = nullptr;
  PoolLoad pool;
  metrics::CounterFamily* cuts = nullptr;
  RateLimitedWarning cut_warning{"request_cut"};
  std::atomic<bool> stop_requested{false}, run_entered{false}, run_done{false};

  void install();
  void twilio_route(const std::string& path, TwilioHandler handler);
  bool signature_ok(const httplib::Request& req, const twilio::FormFields& form,
                    const std::string& body) const;
  std::string route_of(const std::string& path) const {
    return known_routes.count(path) ? path : std::string("other");
  }
  void begin_request(const httplib::Request& req);
  void end_request(const httplib::Request& req, const httplib::Response& res);
  bool admin_allowed(const httplib::Request& req, httplib::Response& res, bool loopback_without_token);
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

bool Server::run() {
  impl_->run_entered = true;
  bool ok = true;
  if (!impl_->stop_requested) ok = impl_->http.listen_after_bind();
  impl_->run_done = true;
  return ok;
}

void Server::stop() {
  auto& i = *impl_;
  i.stop_requested = true;
  if (!i.run_entered || i.run_done) return;  // run() sees stop_requested and returns at once
  // Connections accepted but still queued for a thread (or still sending their first request's
  // headers) would be closed unanswered by httplib's stop(): give them a little time to reach a
  // handler (a running handler always finishes). New connections are accepted meanwhile.
  // No client holds the stop up longer than that: every read ends by then.
  const auto until = SteadyClock::now() + std::chrono::milliseconds(i.settings.drain_ms);
  i.http.cut_reads_at(until);
  while (i.pool.waiting.load() > 0 && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Idle kept-alive connections, and requests still arriving, get one more second.
  i.http.cut_reads_at(SteadyClock::now() + std::chrono::seconds(1));
  // run() may be between its check of stop_requested and httplib marking itself running.
  while (!i.http.is_running() && !i.run_done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // Closes the listening socket. httplib then stops accepting, lets every running handler finish
  // and write its answer (closing keep-alive connections after it), and joins its threads;
  // only then does run() return.
  if (i.http.is_running()) i.http.stop();
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

void Server::Impl::begin_request(const httplib::Request& req) {
  if (t_unrouted) {  // this connection's first request: from now on it is in flight
    --*t_unrouted;
    t_unrouted = nullptr;
  }
  std::string id = req.get_header_value("X-Request-Id");
  if (!well_formed_request_id(id)) id = new_request_id();
  log::set_request_id(std::move(id));
  t_request.active = true;
  t_request.start = SteadyClock::now();
  t_request.route = route_of(req.path);
}

// Called with the answer ready, just before httplib writes it: a client that has the answer
// finds it counted in /metrics and logged.
void Server::Impl::end_request(const httplib::Request& req, const httplib::Response& res) {
  if (!t_request.active) begin_request(req);
  if (t_request.recorded) return;
  t_request.recorded = true;
  t_last_status = res.status;
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - t_request.start).count();
  if (requests) requests->with({t_request.route, std::to_string(res.status)}).inc();
  if (latency) latency->with({t_request.route}).observe(seconds);
  // No query string, no body, no address: the route pattern says what was asked.
  log::emit(log::Level::info, "http_request",
            {{"method", method_label(req.method)},
             {"route", t_request.route},
             {"status", res.status},
             {"duration_ms", std::round(seconds * 1e5) / 100}});
  log::flush_request_lines();  // the request's lines and this one, in one write
}

bool Server::Impl::admin_allowed(const httplib::Request& req, httplib::Response& res,
                                 bool loopback_without_token) {
  if (!settings.admin_token.empty()) {
    // Authorization: Bearer <token> (the scheme is case-insensitive).
    const std::string auth = req.get_header_value("Authorization");
    const auto space = auth.find(' ');
    std::string scheme = auth.substr(0, space == std::string::npos ? auth.size() : space);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string token = space == std::string::npos ? "" : auth.substr(space + 1);
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (scheme == "bearer" && !token.empty() && crypto::constant_time_equal(token, settings.admin_token)) {
      return true;
    }
    log::warn("admin_refused", {{"route", t_request.route},
                                {"reason", auth.empty() ? "no Authorization header" : "wrong token"}});
    res.status = 401;
    res.set_header("WWW-Authenticate", "Bearer realm=\"hotline\"");
    res.set_content("401: send Authorization: Bearer <HOTLINE_ADMIN_TOKEN>\n", "text/plain");
    return false;
  }
  // No token configured: /metrics for this machine only. A proxy on this machine makes every
  // caller look local, so a request it forwarded (X-Forwarded-For, Forwarded, X-Real-IP) is not.
  const bool forwarded = req.has_header("X-Forwarded-For") || req.has_header("Forwarded") ||
                         req.has_header("X-Real-IP");
  if (loopback_without_token && is_loopback(req.remote_addr) && !forwarded) return true;
  log::warn("admin_refused", {{"route", t_request.route}, {"reason", "HOTLINE_ADMIN_TOKEN is not set"}});
  res.status = 403;
  res.set_content(loopback_without_token
                      ? "403: without HOTLINE_ADMIN_TOKEN, /metrics answers only this machine (127.0.0.1 "
                        "or ::1, not through a proxy). Set HOTLINE_ADMIN_TOKEN and send "
                        "Authorization: Bearer <token>.\n"
                      : "403: admin endpoints are off. Set HOTLINE_ADMIN_TOKEN and send "
                        "Authorization: Bearer <token>.\n",
                  "text/plain");
  return false;
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
      const bool late = t_stream && t_stream->cut() == Cut::deadline;
      res.status = late ? 408 : 400;
      res.set_content(late ? "request body did not arrive in time\n" : "incomplete request body\n", "text/plain");
      return;
    }
    // A URL with bodySHA256 signs the raw body by its hash (JSON bodies): checked first, as the
    // libraries do, so an unsigned body is refused as unsigned whatever its shape.
    const bool body_hashed = req.target.find("bodySHA256=") != std::string::npos;
    if (body_hashed && !signature_ok(req, {}, body)) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "bad or missing signature"}});
      res.status = 403;
      res.set_content("invalid X-Twilio-Signature\n", "text/plain");
      return;
    }
    auto form = twilio::parse_form(body);
    if (!form) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "body is not a form"}});
      res.status = 400;
      res.set_content("expected an application/x-www-form-urlencoded body\n", "text/plain");
      return;
    }
    if (!body_hashed && !signature_ok(req, *form, body)) {
      log::warn("webhook_rejected", {{"route", path}, {"reason", "bad or missing signature"}});
      res.status = 403;
      res.set_content("invalid X-Twilio-Signature\n", "text/plain");
      return;
    }
    // Our own URLs may carry parameters (a callback's ?code=K7M): the signature covers them as
    // it covers the body. They come after the body's fields, so Twilio's own fields come first.
    for (const auto& [name, value] : req.params) form->push_back({name, value});
    auto answer = handler(*form);
    res.status = answer.status;
    res.set_content(answer.body, answer.content_type.c_str());
  });
}

void Server::Impl::install() {
  http.set_tcp_nodelay(true);  // without it, Nagle plus delayed ACKs add ~40 ms to every answer
  http.set_socket_options([this](socket_t sock) {
    // Not httplib's default_socket_options: it sets SO_REUSEPORT, with which a second
    // `hotline serve` binds the same port silently and takes half the traffic (and, on one
    // SQLite file, loses turns). SO_REUSEADDR alone still allows a restart while old
    // connections linger in TIME_WAIT, and refuses a port another process listens on.
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_socket = sock;  // the listening socket: Server::bind raises its backlog
  });
  http.limits = settings.limits;
  http.set_write_timeout(std::chrono::duration_cast<std::chrono::seconds>(settings.limits.write_timeout).count());
  http.set_payload_max_length(settings.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  pool.threads = static_cast<std::size_t>(settings.threads);
  http.new_task_queue = [this] { return new CountingPool(pool.threads, pool); };
  http.on_cut = [this](Cut cut) {
    const char* reason = cut == Cut::deadline ? "deadline" : "head_too_large";
    if (cuts) cuts->with({reason}).inc();
    cut_warning.note({{"reason", reason},
                      {"message", cut == Cut::deadline
                                      ? "a request did not arrive within its deadline: a slow client"
                                      : "a request's headers were over the limit: a header flood?"}});
  };

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
    const std::string note = ready && routes.ready_note ? routes.ready_note() : std::string();
    res.set_content(!ready ? "not ready\n" : note.empty() ? "ready\n" : "ready: " + note + "\n", "text/plain");
  });
  known_routes.insert({"/healthz", "/readyz"});
  if (routes.sms) known_routes.insert("/twilio/sms");
  for (const auto& [path, handler] : routes.twilio) {
    if (handler) known_routes.insert(path);
  }

  if (routes.metrics) {
    requests = &routes.metrics->counter("hotline_http_requests_total",
                                        "HTTP requests answered, by route pattern and status code.",
                                        {"route", "status"});
    latency = &routes.metrics->histogram("hotline_http_request_duration_seconds",
                                         "Seconds from a request's headers being read to its answer being ready, by route pattern.",
                                         {"route"});
    pool.saturated = &routes.metrics->counter(
        "hotline_http_pool_saturated_total",
        "Connections accepted while every server thread was taken (they wait for one).").with();
    cuts = &routes.metrics->counter("hotline_http_requests_cut_total",
                                    "Requests whose reading was cut: too slow (deadline) or too many headers (head_too_large).",
                                    {"reason"});
    routes.metrics->gauge("hotline_http_connections_queued",
                          "Connections accepted and waiting for a free server thread.",
                          [this] { return static_cast<double>(pool.queued.load()); });
    known_routes.insert("/metrics");
    http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admin_allowed(req, res, true)) return;
      res.set_content(routes.metrics->render(), "text/plain; version=0.0.4; charset=utf-8");
    });
  }
  if (routes.admin_status) {
    known_routes.insert("/admin/status");
    // Like /metrics, readable from this machine without the token: staff at the server's
    // console ask it with `hotline status`, and it holds no number, text or secret.
    http.Get("/admin/status", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admin_allowed(req, res, true)) return;
      auto answer = routes.admin_status();
      res.status = answer.status;
      res.set_content(answer.body, answer.content_type.c_str());
    });
  }
  if (routes.admin_reload) {
    known_routes.insert("/admin/reload");
    http.Post("/admin/reload", [this](const httplib::Request& req, httplib::Response& res) {
      if (!admin_allowed(req, res, false)) return;
      auto answer = routes.admin_reload();
      res.status = answer.status;
      res.set_content(answer.body, answer.content_type.c_str());
    });
  }

  // Every request: an id (the caller's X-Request-Id when well-formed, else a random one) echoed
  // in the answer and carried by every log line written while it is handled; the request
  // metrics and one access line when the answer is ready; the id is forgotten once it is sent.
  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    begin_request(req);
    res.set_header("X-Request-Id", log::request_id());
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Requests refused before routing (a malformed request line) did not pass pre-routing.
    if (!t_request.active) begin_request(req);
    if (!res.has_header("X-Request-Id")) res.set_header("X-Request-Id", log::request_id());
    end_request(req, res);
  });
  // httplib calls its logger after writing the answer, on the same thread.
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    end_request(req, res);  // already done unless httplib skipped post-routing
    log::clear_request_id();
    t_request = RequestState{};
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
    if (!t_request.active) begin_request(req);
    log::error("handler_failed", {{"route", t_request.route}, {"error", what}});
    res.status = 200;
    res.set_content(routes.fallback_twiml, "text/xml");
  });
  http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!t_request.active) begin_request(req);
    // httplib answers 400 to any head it could not read; say which limit it hit.
    if (t_stream && t_stream->cut() == Cut::head_too_large) {
      res.status = 431;
      res.set_content("431: request headers too large (at most " + std::to_string(settings.limits.max_head_bytes / 1024) +
                          " kB and " + std::to_string(settings.limits.max_head_lines) + " lines)\n",
                      "text/plain");
    } else if (t_stream && t_stream->cut() == Cut::deadline) {
      res.status = 408;
      res.set_content("408: the request did not arrive in time\n", "text/plain");
    }
    if (res.body.empty()) {
      // A 413 with no body is httplib's own, refused before any route ran (a route that
      // refuses one has logged it and said why in the body).
      if (res.status == 413) log::warn("webhook_rejected", {{"route", t_request.route}, {"reason", "body too large"}});
      res.set_content(std::to_string(res.status) + "\n", "text/plain");
    }
  });
}

}  // namespace hotline::http
