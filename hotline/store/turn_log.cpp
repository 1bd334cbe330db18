#include "hotline/store/turn_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>

#include "hotline/store/session_store.hpp"

namespace hotline::store {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, const std::string& path) {
  throw StoreError("session store: " + what + " '" + path + "': " + std::strerror(errno));
}

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
void put_text(std::string& out, const std::string& text) {
  put(out, static_cast<std::uint32_t>(text.size()));
  out += text;
}

/// Reads a record's payload back; false when it is not one we wrote.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  template <typename T>
  bool get(T& value) {
    if (data_.size() < sizeof value) return false;
    std::memcpy(&value, data_.data(), sizeof value);
    data_.remove_prefix(sizeof value);
    return true;
  }
  bool get_text(std::string& text) {
    std::uint32_t size = 0;
    if (!get(size) || data_.size() < size) return false;
    text.assign(data_.substr(0, size));
    data_.remove_prefix(size);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

bool decode(std::string_view payload, LoggedTurn& turn) {
  Reader in(payload);
  std::uint8_t keep = 0;
  const bool ok = in.get(turn.seq) && in.get(turn.now_ms) && in.get(keep) &&
                  in.get_text(turn.contact_key) && in.get_text(turn.session_data) &&
                  in.get_text(turn.request_id) && in.get_text(turn.response) && in.done();
  turn.keep_session = keep != 0;
  return ok && turn.seq > 0;
}

/// A record's size field is never larger than this (a segment is closed past kSegmentBytes, and
/// one record is at most a turn's few kilobytes); a larger one is damage, not a record.
constexpr std::uint32_t kMaxRecord = 64u << 20;

/// The intact record at `at` in `data`, if there is one: its payload decoded into `turn`, and
/// its whole length (header included) returned.
std::optional<std::size_t> record_at(std::string_view data, std::size_t at, LoggedTurn& turn) {
  if (data.size() - at < 8) return std::nullopt;
  std::uint32_t size = 0, crc = 0;
  std::memcpy(&size, data.data() + at, 4);
  std::memcpy(&crc, data.data() + at + 4, 4);
  if (size > kMaxRecord || data.size() - at - 8 < size) return std::nullopt;
  const std::string_view payload = data.substr(at + 8, size);
  if (crc32(payload.data(), payload.size()) != crc || !decode(payload, turn)) return std::nullopt;
  return 8 + std::size_t{size};
}

/// Copies `bytes` aside, owner-only, so damage can be looked at; returns the file's path.
std::string quarantine(const std::string& prefix, const std::string& segment, std::string_view bytes) {
  const std::string path = prefix + "-damaged." + fs::path(segment).extension().string().substr(1);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot keep the damaged part of the turn log in", path);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      fail("cannot keep the damaged part of the turn log in", path);
    }
    written += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

struct SegmentFiles {
  std::vector<std::string> segments;  // oldest first (their names carry their first sequence number)
  std::vector<std::string> stray;     // named like a segment, but not one
};

SegmentFiles segment_files(const std::string& prefix) {
  const fs::path p(prefix);
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  const std::string stem = p.filename().string() + ".";
  std::vector<std::pair<std::uint64_t, std::string>> found;
  SegmentFiles out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with(stem)) continue;
    const std::string number = name.substr(stem.size());
    if (number.empty() || !std::all_of(number.begin(), number.end(), [](unsigned char c) { return c >= '0' && c <= '9'; })) continue;
    std::uint64_t first = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), first);
    std::error_code type_error;
    if (error != std::errc() || end != number.data() + number.size() ||
        !entry.is_regular_file(type_error) || entry.is_symlink(type_error)) {
      out.stray.push_back(entry.path().string());
      continue;
    }
    found.emplace_back(first, entry.path().string());
  }
  if (ec) throw StoreError("session store: cannot list '" + dir.string() + "': " + ec.message());
  std::sort(found.begin(), found.end());
  for (auto& f : found) out.segments.push_back(std::move(f.second));
  std::sort(out.stray.begin(), out.stray.end());
  return out;
}

}  // namespace

std::uint32_t crc32(const void* data, std::size_t size) noexcept {
  // zlib takes a uInt length; a record is far below 4 GiB (kMaxRecord), but stay correct anyway.
  uLong c = ::crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {
    const auto n = static_cast<uInt>(std::min<std::size_t>(size, 1u << 30));
    c = ::crc32(c, p, n);
    p += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(c);
}

std::unique_ptr<TurnLog> TurnLog::open(const std::string& db_path) {
  const std::string prefix = db_path + "-turns";
  const std::string lock_path = prefix + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot open the turn log's lock", lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) return nullptr;  // another process serves this database
    errno = error;
    fail("cannot lock the turn log", lock_path);
  }
  return std::unique_ptr<TurnLog>(new TurnLog(prefix, fd));
}

TurnLog::TurnLog(std::string prefix, int lock_fd) : prefix_(std::move(prefix)), lock_fd_(lock_fd) {}

TurnLog::~TurnLog() {
  if (fd_ >= 0) ::close(fd_);
  ::close(lock_fd_);  // releases the flock
}

LogRecovery TurnLog::recover() {
  LogRecovery out;
  SegmentFiles files = segment_files(prefix_);
  out.stray = std::move(files.stray);
  for (const auto& path : files.segments) {
    std::ifstream file(path, std::ios::binary);
    if (!file) fail("cannot read the turn log segment", path);
    const std::string data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::string_view view(data);
    std::string lost;  // the bytes of this segment that are not intact records
    std::size_t at = 0;
    while (at < data.size()) {
      LoggedTurn turn;
      if (const auto length = record_at(view, at, turn)) {
        out.turns.push_back(std::move(turn));
        at += *length;
        continue;
      }
      // Not a record here: look for the next intact one. A record checks its own length and
      // CRC, so a false start is a one-in-four-billion chance on top of a payload that decodes.
      std::size_t next = at + 1;
      LoggedTurn found;
      while (next < data.size() && !record_at(view, next, found)) ++next;
      lost.append(view.substr(at, next - at));
      if (next < data.size()) {
        out.damaged_bytes += next - at;
      } else {
        out.torn_bytes += next - at;
      }
      at = next;
    }
    if (!lost.empty()) out.quarantined.push_back(quarantine(prefix_, path, lost));
    segments_.push_back({path, 0});
  }
  std::sort(out.turns.begin(), out.turns.end(),
            [](const LoggedTurn& a, const LoggedTurn& b) { return a.seq < b.seq; });
  return out;
}

void TurnLog::reset(std::uint64_t next_seq) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  for (const auto& s : segments_) {
    if (::unlink(s.path.c_str()) != 0 && errno != ENOENT) fail("cannot delete the turn log segment", s.path);
  }
  segments_.clear();
  next_seq_ = next_seq;
  start_segment(next_seq);
}

void TurnLog::start_segment(std::uint64_t first_seq) {
  std::string number = std::to_string(first_seq);
  number.insert(0, 20 - std::min<std::size_t>(20, number.size()), '0');
  const std::string path = prefix_ + "." + number;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create the turn log segment", path);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  size_ = 0;
  segments_.push_back({path, 0});
}

std::uint64_t TurnLog::append(const LoggedTurn& turn) {
  if (fd_ < 0 || size_ >= kSegmentBytes) start_segment(next_seq_);
  buffer_.assign(8, '\0');  // the length and CRC, filled in below
  put(buffer_, next_seq_);
  put(buffer_, turn.now_ms);
  put(buffer_, static_cast<std::uint8_t>(turn.keep_session));
  put_text(buffer_, turn.contact_key);
  put_text(buffer_, turn.session_data);
  put_text(buffer_, turn.request_id);
  put_text(buffer_, turn.response);
  // Not turn.counts: they name the topic, and here they would sit in the clear beside the
  // contact key (sessions and answers come sealed). What a crash leaves in the log is applied
  // without its counts; the report misses those few turns rather than the log telling a topic.
  const auto size = static_cast<std::uint32_t>(buffer_.size() - 8);
  const std::uint32_t crc = crc32(buffer_.data() + 8, size);
  std::memcpy(buffer_.data(), &size, 4);
  std::memcpy(buffer_.data() + 4, &crc, 4);

  std::size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // What was written of the record is torn: recovery stops reading this segment there, so
      // the next turn must not follow it. It goes to a new segment; this one is not answered.
      const int error = n < 0 ? errno : EIO;
      ::close(fd_);
      fd_ = -1;
      ++next_seq_;
      throw StoreError(std::string("session store: cannot write the turn log: ") + std::strerror(error));
    }
    written += static_cast<std::size_t>(n);
  }
  size_ += buffer_.size();
  segments_.back().last_seq = next_seq_;
  return next_seq_++;
}

void TurnLog::applied(std::uint64_t seq) {
  while (segments_.size() > 1 && segments_.front().last_seq <= seq) {
    if (::unlink(segments_.front().path.c_str()) != 0 && errno != ENOENT) {
      fail("cannot delete the turn log segment", segments_.front().path);
    }
    segments_.erase(segments_.begin());
  }
  if (segments_.size() != 1 || segments_.back().last_seq > seq) return;
  if (fd_ < 0) {  // closed after a failed write: nothing more goes to it
    if (::unlink(segments_.back().path.c_str()) != 0 && errno != ENOENT) {
      fail("cannot delete the turn log segment", segments_.back().path);
    }
    segments_.clear();
  } else if (size_ > 0) {
    if (::ftruncate(fd_, 0) != 0) fail("cannot empty the turn log segment", segments_.back().path);
    size_ = 0;
  }
}

}  // namespace hotline::store
