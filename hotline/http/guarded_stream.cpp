#include "hotline/http/guarded_stream.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace hotline::http {
namespace {

using Clock = GuardedStream::Clock;

// Polls one socket for `events` until `until` (never past `cutoff`); true when ready. Past the
// limit it still looks once without waiting: bytes already there are never refused, so a
// request that arrived whole while its connection waited for a thread is still served.
bool wait_for(socket_t sock, short events, Clock::time_point until, Clock::time_point cutoff) {
  until = std::min(until, cutoff);
  for (;;) {
    const auto now = Clock::now();
    const auto left = now < until ? until - now : Clock::duration::zero();
    // Short slices, so a cutoff set meanwhile (the server stopping) is seen within 50 ms.
    const auto slice = std::min<Clock::duration>(left, std::chrono::milliseconds(50));
    pollfd p{sock, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
    if (n > 0) return true;  // ready, or hung up / failed: the next recv or send says which
    if (n < 0 && errno != EINTR) return false;
    if (Clock::now() >= until) return false;
  }
}

void ip_and_port(const sockaddr_storage& addr, socklen_t length, std::string& ip, int& port) {
  char host[NI_MAXHOST] = "", service[NI_MAXSERV] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), length, host, sizeof host, service,
                    sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(service);
  }
}

}  // namespace

GuardedStream::GuardedStream(socket_t sock, Clock::time_point accepted, const ConnectionLimits& limits,
                             const std::atomic<Clock::rep>& read_cutoff)
    : sock_(sock), limits_(limits), read_cutoff_(read_cutoff), accepted_(accepted) {}

bool GuardedStream::wait_readable(Clock::time_point until) const {
  const Clock::time_point cutoff{Clock::duration(read_cutoff_.load())};
  return wait_for(sock_, POLLIN, until, cutoff);
}

bool GuardedStream::await_request() {
  in_head_ = true;
  head_bytes_ = head_lines_ = 0;
  last_[0] = last_[1] = 0;
  deadline_ = Clock::time_point::max();
  // A connection's first request is timed from when it was accepted, not from when a thread
  // took it: slow clients queued behind busy threads have used up their time by then and are
  // cut at once, so a queue of them drains in no time instead of 5 s a thread each.
  const bool first = first_request_;
  first_request_ = false;
  const auto from = first ? accepted_ : Clock::now();
  if (buffered_from_ == buffered_to_ && !wait_readable(from + limits_.idle_timeout)) return false;
  deadline_ = (first ? accepted_ : Clock::now()) + limits_.request_deadline;
  return true;
}

bool GuardedStream::is_readable() const {
  return buffered_from_ < buffered_to_ || wait_for(sock_, POLLIN, Clock::now(), Clock::time_point::max());
}

bool GuardedStream::is_writable() const {
  return wait_for(sock_, POLLOUT, Clock::now() + limits_.write_timeout, Clock::time_point::max());
}

bool GuardedStream::account_head(const char* data, std::size_t size) {
  for (std::size_t i = 0; i < size && in_head_; ++i) {
    const char c = data[i];
    ++head_bytes_;
    if (c == '\n') {
      ++head_lines_;
      // A blank line ends the head: "\n\r\n" or "\n\n".
      if (last_[1] == '\n' || (last_[1] == '\r' && last_[0] == '\n')) in_head_ = false;
    }
    last_[0] = last_[1];
    last_[1] = c;
    if (in_head_ && (head_bytes_ > limits_.max_head_bytes || head_lines_ > limits_.max_head_lines)) {
      cut_ = Cut::head_too_large;
      return false;
    }
  }
  return true;
}

ssize_t GuardedStream::read(char* ptr, size_t size) {
  if (cut_ != Cut::none) return -1;
  if (buffered_from_ == buffered_to_) {
    if (!wait_readable(deadline_)) {
      cut_ = Cut::deadline;
      return -1;
    }
    ssize_t n;
    do {
      n = ::recv(sock_, buffer_, sizeof buffer_, 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;  // 0: the client closed; < 0: a socket error
    buffered_from_ = 0;
    buffered_to_ = static_cast<std::size_t>(n);
  }
  const std::size_t n = std::min(size, buffered_to_ - buffered_from_);
  std::memcpy(ptr, buffer_ + buffered_from_, n);
  buffered_from_ += n;
  if (in_head_ && !account_head(ptr, n)) return -1;
  return static_cast<ssize_t>(n);
}

ssize_t GuardedStream::write(const char* ptr, size_t size) {
  if (!is_writable()) return -1;
  ssize_t n;
  do {
    n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  return n;
}

void GuardedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) ip_and_port(addr, length, ip, port);
}

void GuardedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t length = sizeof addr;
  if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&addr), &length) == 0) ip_and_port(addr, length, ip, port);
}

}  // namespace hotline::http
