#pragma once
// The process's stderr (the hotline's JSON log) captured while a test looks at it.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support.hpp"

namespace test_support {

// Everything written to stderr (the JSON log) while it lives.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    saved_ = dup(2);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
  }
  ~StderrCapture() {
    std::fflush(stderr);
    dup2(saved_, 2);
    close(saved_);
  }
  std::string text() const {
    std::fflush(stderr);
    return read_file(path_);
  }
  /// The log lines with this event, once there are at least `count` of them (the access line
  /// is written just after the answer, so a client may see the answer first), or after 5 s.
  std::vector<nlohmann::json> wait_for(const std::string& event, std::size_t count) const {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    auto found = events(event);
    while (found.size() < count && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      found = events(event);
    }
    return found;
  }
  /// The log lines (parsed JSON) with this event.
  std::vector<nlohmann::json> events(const std::string& event) const {
    std::vector<nlohmann::json> out;
    std::istringstream in(text());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.value("event", "") == event) out.push_back(j);
    }
    return out;
  }

 private:
  TempDir dir_;
  std::string path_ = (dir_.path() / "stderr.log").string();
  int saved_ = -1;
};

}  // namespace test_support
