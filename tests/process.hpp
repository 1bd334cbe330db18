#pragma once
// Runs the real `hotline` binary as a child process, for command-line and crash tests.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "hotline/store/sealed_conversations.hpp"
#include "support.hpp"

namespace test_support {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// A child process with stdin from a file and stdout/stderr to files in a temp dir.
class Process {
 public:
  Process(std::vector<std::string> args, const std::string& input = "",
          std::vector<std::string> env = {}) {
    in_ = dir_.write("stdin", input);
    out_ = (dir_.path() / "stdout").string();
    err_ = (dir_.path() / "stderr").string();
    pid_ = fork();
    if (pid_ == 0) {
      int in = open(in_.c_str(), O_RDONLY);
      int out = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(in, 0);
      dup2(out, 1);
      dup2(err, 2);
      for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && exit_code_ < 0) {
      kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) { kill(pid_, sig); }

  int wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  std::string out() const { return read_file(out_); }
  std::string err() const { return read_file(err_); }

  /// Waits until stderr contains `needle` (up to `seconds`); returns stderr so far.
  std::string wait_for_stderr(const std::string& needle, int seconds = 20) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    std::string text;
    while (std::chrono::steady_clock::now() < until) {
      text = err();
      if (text.find(needle) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return text;
  }

 private:
  TempDir dir_;
  std::string in_, out_, err_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

inline RunResult run(std::vector<std::string> args, const std::string& input = "",
                     std::vector<std::string> env = {}) {
  Process p(std::move(args), input, std::move(env));
  RunResult r;
  r.exit_code = p.wait();
  r.out = p.out();
  r.err = p.err();
  return r;
}

/// The port a `hotline serve` log says it is serving on (-1 when it has not said yet).
inline int port_of(const std::string& log) {
  auto at = log.find("\"event\":\"serving\"");
  if (at == std::string::npos) return -1;
  at = log.find("\"port\":", at);
  return at == std::string::npos ? -1 : std::stoi(log.substr(at + 7));
}

/// The answer a SQLite database file remembers for a request id ("" when none), opened as the
/// hotline opens it (answers are sealed under a key derived from `secret`): beside a running
/// server as `hotline forget` does (what is still in its turn log is not seen yet), or after it
/// stopped, when opening the store applies what its turn log holds.
inline std::string stored_response(const std::string& path, const std::string& request_id,
                                   const std::string& secret) {
  sqlite3* db = nullptr;
  std::string contact;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT contact_key FROM conversations WHERE reply_id = ?1 OR prev_reply_id = ?1",
                           -1, &stmt, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, request_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt) == SQLITE_ROW) contact = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      sqlite3_finalize(stmt);
    }
  }
  sqlite3_close(db);
  if (contact.empty()) return "";
  auto store = hotline::store::seal_conversations(hotline::store::open_sqlite(path), secret);
  return store->response_for(contact, request_id).value_or("");
}

}  // namespace test_support
