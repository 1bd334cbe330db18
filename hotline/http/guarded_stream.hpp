#pragma once
// A client connection as httplib reads it, with the limits httplib 0.11 lacks: a deadline for a
// whole request (head and body) however slowly its bytes trickle in, and a bound on the size and
// line count of a request head, so neither a slow client nor a header flood can hold a thread or
// memory for long. Used by the server's own connection loop (server.cpp); only hotline/http
// touches httplib.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>

#include "hotline/http/limits.hpp"

namespace hotline::http {

/// Why a request's reading was cut short, if it was.
enum class Cut { none, deadline, head_too_large };

class GuardedStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  /// `read_cutoff`, when not Clock::time_point::max() (as a count of its ticks), ends every read
  /// at that moment: the server sets it when it stops, so no client can hold the stop up.
  /// `accepted`: when the connection was accepted; its first request is timed from then.
  GuardedStream(socket_t sock, Clock::time_point accepted, const ConnectionLimits& limits,
                const std::atomic<Clock::rep>& read_cutoff);

  /// Waits (up to the idle timeout, or until the cutoff) for the next request's first byte;
  /// false when none came. Then starts that request's deadline and head accounting. Bytes
  /// already received are read even past a deadline; only waiting for more is refused.
  bool await_request();
  Cut cut() const { return cut_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return sock_; }

 private:
  /// Waits for the socket to be readable until `until` (or the cutoff); false when it is not.
  bool wait_readable(Clock::time_point until) const;
  /// Counts head bytes handed to httplib; false (and cut_) once the head is over its limits.
  bool account_head(const char* data, std::size_t size);

  socket_t sock_;
  const ConnectionLimits& limits_;
  const std::atomic<Clock::rep>& read_cutoff_;
  char buffer_[4096];
  std::size_t buffered_from_ = 0, buffered_to_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool in_head_ = false;
  std::size_t head_bytes_ = 0, head_lines_ = 0;
  char last_[2] = {0, 0};  // the last two head bytes, to find the blank line that ends it
  Cut cut_ = Cut::none;
  Clock::time_point accepted_;
  bool first_request_ = true;
};

}  // namespace hotline::http
