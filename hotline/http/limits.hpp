#pragma once
// How long and how much one client connection may take from the server before it is cut
// (guarded_stream.hpp enforces them; docs/deployment.md explains why nginx is still required).
#include <chrono>
#include <cstddef>

namespace hotline::http {

struct ConnectionLimits {
  /// A request's head and body must have arrived this long after its first byte, however slowly
  /// they trickle in (httplib's own timeout restarts with every byte).
  std::chrono::milliseconds request_deadline{5'000};
  /// A new connection, or a kept-alive one between requests, may stay silent this long.
  std::chrono::milliseconds idle_timeout{3'000};
  /// The request line and headers together, bytes and lines (a Twilio webhook has ~15 lines,
  /// under 2 kB): past either, 431 and the connection is closed.
  std::size_t max_head_bytes = 32 * 1024;
  std::size_t max_head_lines = 100;
  /// How long one write may wait for a client that does not read its answer.
  std::chrono::milliseconds write_timeout{5'000};
};

}  // namespace hotline::http
