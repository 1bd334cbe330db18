#include "hotline/app/data_folder.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include "hotline/crypto/keys.hpp"
#include "hotline/store/session_store.hpp"

namespace hotline::app {
namespace {

namespace fs = std::filesystem;

fs::path folder_of(const std::string& database) {
  const fs::path folder = fs::path(database).parent_path();
  return folder.empty() ? fs::path(".") : folder;
}

// What to do about it, by the system's reason: a root-owned bind mount (the image runs as uid
// 10001) is the usual one, and `chown` its fix.
std::string how_to_fix(const fs::path& folder, int error) {
  const std::string uid = std::to_string(::geteuid()), gid = std::to_string(::getegid());
  switch (error) {
    case EACCES:
    case EPERM:
      return "give it to the user hotline runs as (uid " + uid + "), e.g. `chown -R " + uid + ":" + gid + " " +
             folder.string() + "` (docs/deployment.md, \"Data folder\")";
    case EROFS:
      return "it is on a read-only file system: mount a writable volume there (docs/deployment.md, \"Data folder\")";
    case ENOTDIR:
      return "something that is not a folder stands in the path: point HOTLINE_DB at a folder "
             "(docs/deployment.md, \"Data folder\")";
    default:
      return "make it a folder the user hotline runs as (uid " + uid + ") can write (docs/deployment.md, \"Data folder\")";
  }
}

std::string problem(const fs::path& folder, int error) {
  return "cannot write to the data folder " + folder.string() + " (" + std::strerror(error) +
         "): it holds the database, its lock and turn log; " + how_to_fix(folder, error);
}

}  // namespace

std::string data_folder_problem(const std::string& database) {
  if (database.empty() || database == ":memory:" || store::is_postgres_url(database)) return "";
  const fs::path folder = folder_of(database);
  std::error_code ec;
  const auto status = fs::status(folder, ec);
  if (status.type() == fs::file_type::not_found) {
    if (!fs::create_directories(folder, ec) && ec) return problem(folder, ec.value());
    fs::permissions(folder, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return problem(folder, ec.value());
  } else if (ec) {
    return problem(folder, ec.value());  // e.g. a parent folder not searchable
  } else if (status.type() != fs::file_type::directory) {
    return problem(folder, ENOTDIR);
  }
  // access() answers for this process's user; it is what open() and mkdir() will be told.
  if (::access(folder.c_str(), W_OK | X_OK) != 0) return problem(folder, errno);
  return "";
}

std::string local_secret(const std::string& database, bool create) {
  const fs::path path = folder_of(database) / ".local-secret";
  std::error_code ec;
  if (fs::exists(path, ec)) {
    std::ifstream in{path};
    if (!in) {
      const int error = errno;
      throw std::runtime_error("cannot read the local secret " + path.string() + " (" + std::strerror(error) +
                               "): set HOTLINE_SECRET, or " + how_to_fix(path.parent_path(), error));
    }
    std::string secret;
    std::getline(in, secret);
    if (secret.size() >= 32) return secret;
  }
  if (!create) return "";
  const std::string secret = crypto::random_hex(32);
  // Made owner-only before the secret is written into it; renamed into place once whole.
  const fs::path temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::trunc);
    fs::permissions(temporary, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
    if (!out || ec || !(out << secret << '\n') || !out.flush()) {
      const int error = ec ? ec.value() : errno;
      fs::remove(temporary, ec);
      throw std::runtime_error("cannot write the local secret " + path.string() + " (" + std::strerror(error) +
                               "): set HOTLINE_SECRET, or " + how_to_fix(path.parent_path(), error));
    }
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    const int error = ec.value();
    fs::remove(temporary, ec);
    throw std::runtime_error("cannot write the local secret " + path.string() + " (" + std::strerror(error) +
                             "): set HOTLINE_SECRET, or " + how_to_fix(path.parent_path(), error));
  }
  return secret;
}

}  // namespace hotline::app
