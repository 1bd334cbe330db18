#pragma once
// One plain HTTP GET, for `hotline healthcheck` asking a server on this machine whether it is up.
// Here because only hotline/http touches cpp-httplib.
#include <chrono>
#include <string>

namespace hotline::http {

struct ProbeResult {
  int status = 0;     // the HTTP status; 0 when no answer came
  std::string error;  // why no answer came (e.g. "Connection"), when status is 0
  std::string body;
};

/// GET http://host:port/path, giving up after `timeout` (connecting, then reading).
ProbeResult probe(const std::string& host, int port, const std::string& path, std::chrono::milliseconds timeout);

}  // namespace hotline::http
