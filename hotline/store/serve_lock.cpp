#include "hotline/store/serve_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "hotline/store/session_store.hpp"

namespace hotline::store {

std::unique_ptr<ServeLock> ServeLock::acquire(const std::string& database) {
  if (is_postgres_url(database) || database == ":memory:") return nullptr;
  const std::string path = database + "-serve.lock";
  // Taken before the store opens the database, so the folder may not exist yet: make it as the
  // store would, owner-only (a failure shows as the open below failing).
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path folder = fs::path(database).parent_path();
  if (!folder.empty() && !fs::exists(folder, ec) && fs::create_directories(folder, ec)) {
    fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw std::runtime_error("cannot create the lock file " + path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      throw std::runtime_error(
          "another `hotline serve` is already serving " + database +
          " (it holds " + path + "). One server per SQLite database: stop the other one first, "
          "or use PostgreSQL to run several replicas (docs/deployment.md).");
    }
    throw std::runtime_error("cannot lock " + path + ": " + std::strerror(error));
  }
  return std::unique_ptr<ServeLock>(new ServeLock(fd));
}

ServeLock::~ServeLock() { ::close(fd_); }  // releases the flock

}  // namespace hotline::store
