#pragma once
// Hostile clients for the exposure and proxy tests: connections that trickle a request's
// headers (or send nothing at all) and are reopened as soon as the server closes them, as an
// attacker would, until stopped; and a header flood.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "raw_http.hpp"

namespace test_support {

class SlowClients {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Kind { trickle, idle };

  /// `count` connections to 127.0.0.1:`port` from `source` (nullptr: the default address).
  /// trickle: a request line, then one header line every `every`; idle: nothing.
  SlowClients(int port, int count, Kind kind, Clock::duration every, const char* source = nullptr) {
    thread_ = std::thread([this, port, count, kind, every, source] {
      struct Slow {
        std::unique_ptr<RawConnection> conn;
        Clock::time_point opened;
      };
      auto open = [&] {
        Slow s{std::make_unique<RawConnection>(port, 1, source), Clock::now()};
        if (kind == Kind::trickle && s.conn->connected()) s.conn->send("POST /twilio/sms HTTP/1.1\r\nHost: x\r\n", 1);
        return s;
      };
      std::vector<Slow> slow;
      for (int i = 0; i < count && !stop_; ++i) slow.push_back(open());
      while (!stop_) {
        std::this_thread::sleep_for(every);
        for (auto& s : slow) {
          if (stop_) break;
          if (!s.conn->connected()) {  // refused (e.g. the server is stopping): try again
            s = open();
            continue;
          }
          if (kind == Kind::trickle) s.conn->send("X-Slow: 1\r\n", 1);
          if (!s.conn->readable_now()) continue;  // still held open
          std::lock_guard lock(mutex_);
          held_.push_back(Clock::now() - s.opened);
          s = open();
        }
      }
    });
  }
  ~SlowClients() { stop(); }
  SlowClients(const SlowClients&) = delete;
  SlowClients& operator=(const SlowClients&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// How long each connection the server answered or closed had been open.
  std::vector<Clock::duration> held() {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Clock::duration> held_;
};

/// Connections that each send a request line, then 8 kB header lines as fast as they are
/// taken, reopened when closed, until stopped. Counts the bytes the other side took.
class HeaderFlood {
 public:
  HeaderFlood(int port, int connections, const char* source = nullptr) {
    for (int i = 0; i < connections; ++i) {
      threads_.emplace_back([this, port, source] {
        const std::string line = "X-Flood: " + std::string(8000, 'a') + "\r\n";
        while (!stop_) {
          RawConnection c(port, 1, source);
          if (!c.connected() || !c.send("POST /twilio/sms HTTP/1.1\r\nHost: x\r\n", 1)) continue;
          while (!stop_ && c.send(line, 1)) sent_ += line.size();
        }
      });
    }
  }
  ~HeaderFlood() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  std::size_t sent() const { return sent_; }

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> sent_{0};
};

}  // namespace test_support
