#include "hotline/app/last_good.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "hotline/store/session_store.hpp"

namespace hotline::app {
namespace {

namespace fs = std::filesystem;

constexpr fs::perms kOwnerOnlyFolder = fs::perms::owner_all;
constexpr fs::perms kOwnerOnlyFile = fs::perms::owner_read | fs::perms::owner_write;

// Writes `from`'s bytes to a new owner-only file at `to` and syncs it, so the rename that
// publishes the copy never publishes an empty file after a power cut.
void copy_synced(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + from.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  const int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + to.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int e = errno;
      ::close(fd);
      throw std::runtime_error("cannot write " + to.string() + ": " + std::strerror(e));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) throw std::runtime_error("cannot sync " + to.string());
}

void copy_tree(const fs::path& from, const fs::path& to) {
  fs::create_directory(to);
  fs::permissions(to, kOwnerOnlyFolder, fs::perm_options::replace);
  if (!fs::is_directory(from)) return;  // the loader reports a missing folder; keep it empty
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path target = to / fs::relative(it->path(), from);
    if (it->is_directory()) {
      fs::create_directory(target);
      fs::permissions(target, kOwnerOnlyFolder, fs::perm_options::replace);
    } else if (it->is_regular_file()) {
      copy_synced(it->path(), target);
    }
  }
}

// Puts `fresh` where `folder` is: one atomic exchange when the filesystem has it, else two
// renames (a crash between them leaves no copy, the same as never having kept one).
void publish(const fs::path& fresh, const fs::path& folder) {
  if (!fs::exists(folder)) {
    fs::rename(fresh, folder);
    return;
  }
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, folder.c_str(), RENAME_EXCHANGE) == 0) {
    fs::remove_all(fresh);  // now the old copy
    return;
  }
  const fs::path old = folder.string() + ".old";
  fs::remove_all(old);
  fs::rename(folder, old);
  fs::rename(fresh, folder);
  fs::remove_all(old);
}

}  // namespace

std::string last_good_folder(const config::Config& c) {
  const std::string& db = c.database;
  if (db.empty() || db == ":memory:" || store::is_postgres_url(db)) return "";
  const fs::path folder = fs::path(db).parent_path();
  return ((folder.empty() ? fs::path(".") : folder) / "last-good-bundle").string();
}

std::string keep_last_good(const std::string& root, const std::string& folder) {
  // A reload from the watcher and one from /admin/reload may pass at once: one writer at a time.
  static std::mutex one_at_a_time;
  std::lock_guard<std::mutex> lock(one_at_a_time);
  const fs::path fresh = folder + ".new";
  try {
    fs::remove_all(fresh);  // left by a crash mid-copy
    fs::create_directory(fresh);
    fs::permissions(fresh, kOwnerOnlyFolder, fs::perm_options::replace);
    copy_tree(fs::path(root) / "flows", fresh / "flows");
    copy_tree(fs::path(root) / "prompts", fresh / "prompts");
    publish(fresh, folder);
    return "";
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove_all(fresh, ignored);
    return e.what();
  }
}

}  // namespace hotline::app
