// The ceiling: cpp-httplib (Debian's build, the same library the hotline links) with the same
// runtime settings as hotline/http/server.cpp — TCP_NODELAY, keep-alive for 1,000 requests a
// connection, a thread pool of the same size — answering POST /twilio/sms by parsing the form
// and returning a fixed TwiML. No signature check, no store, no log: what is left of the
// hotline's time over this one is the hotline's own work.
//
// Like the hotline it raises the listen backlog that Debian's build compiles in (5) by calling
// listen() again on the bound socket (--backlog 0 keeps the library's 5, to show the difference).
//
//   bare_server [--port N] [--threads N] [--backlog N]
#include <httplib.h>
#include <sys/socket.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {
httplib::Server* g_server = nullptr;
void on_signal(int) {
  if (g_server) g_server->stop();
}
}  // namespace

int main(int argc, char** argv) {
  int port = 8081;
  int threads = 32;
  int backlog = 1024;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--port") == 0) port = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    else if (std::strcmp(argv[i], "--backlog") == 0) backlog = std::atoi(argv[i + 1]);
  }

  static const std::string kTwiml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>Defensores de inmigrantes en "
      "Milwaukee recomiendan llamar a la polic\xC3\xAD" "a si es v\xC3\xAD" "ctima o testigo de un delito; "
      "se restableci\xC3\xB3 la pol\xC3\xAD" "tica anterior. Peligro: 911. No es asesor\xC3\xAD" "a legal. "
      "0: una persona.</Message></Response>";

  httplib::Server server;
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(1000);
  server.set_payload_max_length(64 * 1024);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  socket_t listen_socket = INVALID_SOCKET;
  server.set_socket_options([&listen_socket](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_socket = sock;
  });

  // httplib parses an application/x-www-form-urlencoded body into req.params itself.
  server.Post("/twilio/sms", [](const httplib::Request& req, httplib::Response& res) {
    if (!req.has_param("From") || !req.has_param("MessageSid")) {
      res.status = 400;
      res.set_content("missing From or MessageSid\n", "text/plain");
      return;
    }
    res.set_content(kTwiml, "text/xml");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });

  g_server = &server;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "bare_server: cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  if (backlog > 0 && listen_socket != INVALID_SOCKET) ::listen(listen_socket, backlog);
  std::fprintf(stderr, "bare_server: listening on 127.0.0.1:%d, %d threads, backlog %d\n", port, threads,
               backlog > 0 ? backlog : 5);
  return server.listen_after_bind() ? 0 : 1;
}
