#pragma once
// HTTP over a plain socket, for what a client library will not do: send a request in pieces,
// hold it open mid-body, or send bytes that are not HTTP at all.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <string>

namespace test_support {

class RawConnection {
 public:
  /// Connects to 127.0.0.1:port; connected() says whether it worked.
  /// `source`: the local address to connect from (e.g. "127.0.0.2", to look like another client).
  explicit RawConnection(int port, int read_timeout_seconds = 10, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{read_timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  bool send(const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// The same, giving up (false) when the server has not taken the bytes within `timeout_seconds`.
  bool send(const std::string& bytes, int timeout_seconds) {
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return send(bytes);
  }
  /// Whether the server has sent something, or closed, that is waiting to be read.
  bool readable_now() const {
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  /// Everything until the server closes the connection (or the read timeout).
  /// (Never half-close to get there: httplib does not answer a client that did.)
  std::string read_all() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  /// One response: its head and as many body bytes as its Content-Length says (or until the
  /// connection closes or the read timeout).
  std::string read_response() {
    std::string out;
    char buf[4096];
    for (;;) {
      const auto end = out.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto at = out.find("\r\nContent-Length: ");
        if (at != std::string::npos && at < end) {
          const std::size_t length = std::stoul(out.substr(at + 18));
          if (out.size() >= end + 4 + length) return out.substr(0, end + 4 + length);
        }
      }
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

/// A header's value in a raw HTTP response ("" when absent); the name is matched exactly.
inline std::string raw_header(const std::string& response, const std::string& name) {
  const auto end = response.find("\r\n\r\n");
  const std::string head = response.substr(0, end);
  const auto at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const auto from = at + 4 + name.size();
  return head.substr(from, head.find("\r\n", from) - from);
}

/// The body of a raw HTTP response (after the blank line).
inline std::string raw_body(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

}  // namespace test_support
