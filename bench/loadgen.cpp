// A fixed-rate (open-loop) HTTP/1.1 load generator that does not suffer from coordinated
// omission, for the latency run. Debian has no wrk2, and h2load's --rps (nghttp2 1.52) measures
// each request from when it was actually written, and sends one body for every request, so it
// can neither hold the schedule honestly nor send distinct, individually signed Twilio requests.
//
// Request k is *due* at t0 + k / rate. It is written on an idle keep-alive connection as soon as
// it is due; if every connection is busy it waits, and its latency is still counted from when it
// was due (as wrk2 does), so a server that stalls is charged for every request it held up.
//
//   loadgen --port P --rate R --duration S [--warmup S] [--connections C] --pool FILE
//           [--host 127.0.0.1] [--host-header hotline.example.org]
//   loadgen --port P --burst N
//       opens N connections at once, each asking GET /healthz once; reports how long each took
//       from connect() to the answer (a listen backlog that is too small shows as 1 s, 3 s…).
//
// The pool is bench_tool's format: "<path>\t<signature>\t<body>" a line, used in order.
// Prints a human summary and one JSON line prefixed "LOADGEN ".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  double rate = 2000;
  double duration = 10;
  double warmup = 2;
  int connections = 16;
  std::string pool;
  std::string host_header = "hotline.example.org";
};

struct Conn {
  int fd = -1;
  bool busy = false;
  std::int64_t due_ns = 0;     // when the request in flight was due
  bool measured = false;       // after the warm-up
  std::string out;             // bytes still to write
  std::size_t out_off = 0;
  std::string in;              // bytes read for the response in flight
};

int connect_to(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(o.port));
  inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  return fd;
}

/// Length of a complete response at the start of `in` (0 = not complete yet), and its status.
std::size_t complete_response(const std::string& in, int& status, bool& close_after) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string::npos) return 0;
  status = std::atoi(in.c_str() + 9);  // "HTTP/1.1 200"
  std::size_t length = 0;
  close_after = false;
  std::size_t pos = in.find("\r\n") + 2;
  while (pos < head_end) {
    std::size_t eol = in.find("\r\n", pos);
    std::string line = in.substr(pos, eol - pos);
    for (std::size_t i = 0; i < line.size() && line[i] != ':'; ++i) line[i] = static_cast<char>(std::tolower(line[i]));
    if (line.rfind("content-length:", 0) == 0) length = std::strtoul(line.c_str() + 15, nullptr, 10);
    if (line.rfind("connection:", 0) == 0 && line.find("close") != std::string::npos) close_after = true;
    pos = eol + 2;
  }
  const std::size_t total = head_end + 4 + length;
  return in.size() >= total ? total : 0;
}

double percentile(const std::vector<std::uint32_t>& sorted, double p);

int burst(const std::string& host, int port, int n) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct B { int fd; bool sent = false; std::string in; };
  std::vector<B> conns(static_cast<std::size_t>(n));
  const std::int64_t t0 = now_ns();
  for (int i = 0; i < n; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    conns[static_cast<std::size_t>(i)].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u64 = static_cast<std::uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::vector<std::uint32_t> done_us;
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  int open = n;
  epoll_event events[256];
  while (open > 0 && now_ns() - t0 < 10'000'000'000) {
    int k = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < k; ++e) {
      B& c = conns[events[e].data.u64];
      if (c.fd < 0) continue;
      if (!c.sent && (events[e].events & EPOLLOUT)) {
        c.sent = send(c.fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
      }
      char buf[4096];
      ssize_t r;
      while ((r = recv(c.fd, buf, sizeof buf, 0)) > 0) c.in.append(buf, static_cast<std::size_t>(r));
      bool finished = r == 0 || (r < 0 && errno != EAGAIN) || (events[e].events & (EPOLLERR | EPOLLHUP));
      if (finished) {
        if (c.in.rfind("HTTP/1.1 200", 0) == 0) done_us.push_back(static_cast<std::uint32_t>((now_ns() - t0) / 1000));
        close(c.fd);
        c.fd = -1;
        --open;
      }
    }
  }
  for (auto& c : conns) if (c.fd >= 0) close(c.fd);
  std::sort(done_us.begin(), done_us.end());
  const long failed = n - static_cast<long>(done_us.size());
  std::printf("burst of %d new connections: answered %zu, failed or over 10 s %ld\n", n, done_us.size(), failed);
  std::printf("  time from connect to answer (ms): p50 %.1f  p99 %.1f  max %.1f\n", percentile(done_us, 50),
              percentile(done_us, 99), percentile(done_us, 100));
  std::printf("BURST {\"connections\":%d,\"answered\":%zu,\"failed\":%ld,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f}\n", n,
              done_us.size(), failed, percentile(done_us, 50), percentile(done_us, 99), percentile(done_us, 100));
  return failed == 0 ? 0 : 1;
}

double percentile(const std::vector<std::uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)] / 1000.0;  // µs → ms
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  int burst_n = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--burst") burst_n = std::atoi(v.c_str());
    else if (k == "--host") o.host = v;
    else if (k == "--port") o.port = std::atoi(v.c_str());
    else if (k == "--rate") o.rate = std::atof(v.c_str());
    else if (k == "--duration") o.duration = std::atof(v.c_str());
    else if (k == "--warmup") o.warmup = std::atof(v.c_str());
    else if (k == "--connections") o.connections = std::atoi(v.c_str());
    else if (k == "--pool") o.pool = v;
    else if (k == "--host-header") o.host_header = v;
    else {
      std::fprintf(stderr, "loadgen: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (burst_n > 0 && o.port > 0) return burst(o.host, o.port, burst_n);
  if (o.port <= 0 || o.pool.empty() || o.rate <= 0) {
    std::fprintf(stderr, "usage: loadgen --port P --rate R --duration S [--warmup S] [--connections C] --pool FILE\n");
    return 2;
  }

  // Pre-render every request.
  std::vector<std::string> requests;
  {
    std::ifstream in(o.pool);
    std::string line;
    while (std::getline(in, line)) {
      auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
      if (t1 == std::string::npos || t2 == std::string::npos) continue;
      std::string path = line.substr(0, t1), sig = line.substr(t1 + 1, t2 - t1 - 1), body = line.substr(t2 + 1);
      requests.push_back("POST " + path + " HTTP/1.1\r\nHost: " + o.host_header +
                         "\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: " + sig +
                         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  }
  if (requests.empty()) {
    std::fprintf(stderr, "loadgen: no requests in %s\n", o.pool.c_str());
    return 1;
  }
  const std::int64_t total = static_cast<std::int64_t>((o.warmup + o.duration) * o.rate);
  const std::int64_t warmup_count = static_cast<std::int64_t>(o.warmup * o.rate);
  if (total > static_cast<std::int64_t>(requests.size())) {
    std::fprintf(stderr, "loadgen: warning: %lld requests from a pool of %zu: some are sent twice (redeliveries)\n",
                 static_cast<long long>(total), requests.size());
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = ~0ull;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
  }
  std::vector<Conn> conns(static_cast<std::size_t>(o.connections));
  auto open_conn = [&](std::size_t i) {
    Conn& c = conns[i];
    if (c.fd >= 0) close(c.fd);
    c = Conn{};
    c.fd = connect_to(o);
    if (c.fd < 0) return false;
    epoll_event ev{};
    // Edge-triggered: a level-triggered EPOLLOUT would wake us on every loop while idle.
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    return true;
  };
  for (std::size_t i = 0; i < conns.size(); ++i) {
    if (!open_conn(i)) {
      std::fprintf(stderr, "loadgen: cannot connect to %s:%d\n", o.host.c_str(), o.port);
      return 1;
    }
  }
  usleep(100'000);  // let the connections establish before the clock starts

  std::vector<std::uint32_t> latencies_us;
  latencies_us.reserve(static_cast<std::size_t>(o.duration * o.rate) + 16);
  std::map<int, long> statuses;
  long errors = 0, reconnects = 0, max_backlog = 0;
  std::deque<std::pair<std::int64_t, std::int64_t>> backlog;  // (index, due)
  const double interval_ns = 1e9 / o.rate;
  const std::int64_t t0 = now_ns() + 1'000'000;
  std::int64_t next = 0;            // next request index to become due
  std::int64_t done = 0;            // responses (or failures) accounted for
  std::int64_t measure_start_ns = t0 + static_cast<std::int64_t>(warmup_count * interval_ns);

  auto due_of = [&](std::int64_t k) { return t0 + static_cast<std::int64_t>(static_cast<double>(k) * interval_ns); };
  auto send_on = [&](std::size_t i, std::int64_t k, std::int64_t due) {
    Conn& c = conns[i];
    c.busy = true;
    c.due_ns = due;
    c.measured = k >= warmup_count;
    c.out = requests[static_cast<std::size_t>(k) % requests.size()];
    c.out_off = 0;
    c.in.clear();
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) c.out_off = static_cast<std::size_t>(n);
  };
  auto idle_conn = [&]() -> long {
    for (std::size_t i = 0; i < conns.size(); ++i)
      if (!conns[i].busy && conns[i].fd >= 0) return static_cast<long>(i);
    return -1;
  };
  auto arm_timer = [&]() {
    itimerspec ts{};
    if (next < total) {
      std::int64_t d = due_of(next);
      ts.it_value.tv_sec = d / 1'000'000'000;
      ts.it_value.tv_nsec = d % 1'000'000'000;
      // CLOCK_MONOTONIC and steady_clock share an epoch on Linux.
    }
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &ts, nullptr);
  };
  auto dispatch = [&]() {
    const std::int64_t now = now_ns();
    while (next < total && due_of(next) <= now) {
      backlog.emplace_back(next, due_of(next));
      ++next;
    }
    max_backlog = std::max<long>(max_backlog, static_cast<long>(backlog.size()));
    while (!backlog.empty()) {
      long i = idle_conn();
      if (i < 0) break;
      auto [k, due] = backlog.front();
      backlog.pop_front();
      send_on(static_cast<std::size_t>(i), k, due);
    }
    arm_timer();
  };
  auto finish = [&](std::size_t i, int status, bool ok) {
    Conn& c = conns[i];
    const std::int64_t now = now_ns();
    if (c.measured) {
      if (ok) {
        latencies_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>((now - c.due_ns) / 1000, UINT32_MAX)));
        statuses[status]++;
      } else {
        ++errors;
      }
    }
    c.busy = false;
    ++done;
  };

  arm_timer();
  const std::int64_t hard_stop = t0 + static_cast<std::int64_t>((o.warmup + o.duration + 15) * 1e9);
  epoll_event events[256];
  while (done < total && now_ns() < hard_stop) {
    int n = epoll_wait(ep, events, 256, 100);
    for (int e = 0; e < n; ++e) {
      if (events[e].data.u64 == ~0ull) {
        std::uint64_t expirations;
        (void)!read(tfd, &expirations, sizeof expirations);
        continue;
      }
      std::size_t i = events[e].data.u64;
      Conn& c = conns[i];
      if (c.fd < 0) continue;
      bool broken = (events[e].events & (EPOLLERR | EPOLLHUP)) != 0;
      if (!broken && (events[e].events & EPOLLOUT) && c.busy && c.out_off < c.out.size()) {
        ssize_t w = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (w > 0) c.out_off += static_cast<std::size_t>(w);
        else if (w < 0 && errno != EAGAIN) broken = true;
      }
      if (!broken && (events[e].events & (EPOLLIN | EPOLLRDHUP))) {
        char buf[16384];
        for (;;) {
          ssize_t r = recv(c.fd, buf, sizeof buf, 0);
          if (r > 0) {
            c.in.append(buf, static_cast<std::size_t>(r));
            continue;
          }
          if (r == 0) broken = true;
          else if (errno != EAGAIN) broken = true;
          break;
        }
        int status = 0;
        bool close_after = false;
        if (c.busy) {
          if (std::size_t len = complete_response(c.in, status, close_after)) {
            c.in.erase(0, len);
            finish(i, status, true);
            if (close_after) broken = true;
          }
        }
      }
      if (broken) {
        if (c.busy) finish(i, 0, false);
        ++reconnects;
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        open_conn(i);
      }
    }
    dispatch();
  }
  const std::int64_t end = now_ns();
  const double measured_s = static_cast<double>(end - measure_start_ns) / 1e9;

  std::sort(latencies_us.begin(), latencies_us.end());
  long ok2xx = 0, other = 0;
  for (auto [s, count] : statuses) (s >= 200 && s < 300 ? ok2xx : other) += count;
  const long lost = static_cast<long>(total - done);
  std::printf("fixed rate %.0f req/s for %.0f s (+%.0f s warm-up), %d connections\n", o.rate, o.duration,
              o.warmup, o.connections);
  std::printf("  measured %zu responses (%ld 2xx, %ld other), %ld errors, %ld unanswered, achieved %.0f req/s\n",
              latencies_us.size(), ok2xx, other, errors, lost, static_cast<double>(latencies_us.size()) / measured_s);
  std::printf("  latency from the scheduled time (ms): p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n",
              percentile(latencies_us, 50), percentile(latencies_us, 90), percentile(latencies_us, 99),
              percentile(latencies_us, 99.9), percentile(latencies_us, 100));
  std::printf("  largest backlog of due requests waiting for a connection: %ld; reconnects: %ld\n", max_backlog,
              reconnects);
  std::printf(
      "LOADGEN {\"rate\":%.0f,\"duration\":%.0f,\"connections\":%d,\"responses\":%zu,\"non2xx\":%ld,\"errors\":%ld,"
      "\"unanswered\":%ld,\"achieved\":%.1f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f}\n",
      o.rate, o.duration, o.connections, latencies_us.size(), other, errors, lost,
      static_cast<double>(latencies_us.size()) / measured_s, percentile(latencies_us, 50),
      percentile(latencies_us, 90), percentile(latencies_us, 99), percentile(latencies_us, 99.9),
      percentile(latencies_us, 100));
  return (errors == 0 && other == 0 && lost == 0) ? 0 : 1;
}
