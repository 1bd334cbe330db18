#pragma once
// One `hotline serve` per SQLite database. Two servers on one file would split the messages
// between them, each with its own memory of the conversations, and lose turns; PostgreSQL
// replicas are the way to run several. The lock is an exclusive flock(2) on
// `<database>-serve.lock`, held for the process's lifetime: the kernel drops it when the process
// ends, however it ends, so a crash never leaves a stale lock behind. Only `serve` takes it:
// `hotline forget` must still work beside a running server.
#include <memory>
#include <string>

namespace hotline::store {

class ServeLock {
 public:
  /// Takes the lock for `database` (a SQLite path; nothing for a PostgreSQL URL or ":memory:",
  /// which then returns nullptr). Throws std::runtime_error, saying what to do, when another
  /// process holds it or the lock file cannot be made.
  static std::unique_ptr<ServeLock> acquire(const std::string& database);
  ~ServeLock();
  ServeLock(const ServeLock&) = delete;
  ServeLock& operator=(const ServeLock&) = delete;

 private:
  explicit ServeLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace hotline::store
