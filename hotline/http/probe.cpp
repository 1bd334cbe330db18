#include "hotline/http/probe.hpp"

#include <httplib.h>

namespace hotline::http {

ProbeResult probe(const std::string& host, int port, const std::string& path, std::chrono::milliseconds timeout) {
  httplib::Client client(host, port);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  ProbeResult result;
  if (auto answer = client.Get(path)) {
    result.status = answer->status;
    result.body = answer->body;
  } else {
    switch (answer.error()) {
      case httplib::Error::Connection: result.error = "could not connect (nothing listening?)"; break;
      case httplib::Error::ConnectionTimeout: result.error = "connecting timed out"; break;
      case httplib::Error::Read: result.error = "no answer (read failed or timed out)"; break;
      default: result.error = httplib::to_string(answer.error());
    }
  }
  return result;
}

}  // namespace hotline::http
