#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "hotline/store/session_store.hpp"
#include "hotline/store/turn_log.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using hotline::store::LoggedTurn;
using hotline::store::TurnLog;

namespace {

/// A temporary directory holding a database's (would-be) files.
struct TempDir : test_support::TempDir {
  std::string db() const { return (path() / "hotline.db").string(); }
  /// The log's segment files, oldest first.
  std::vector<fs::path> segments() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(path())) {
      const std::string name = e.path().filename().string();
      if (name.starts_with("hotline.db-turns.") && !name.ends_with(".lock")) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

LoggedTurn turn(const std::string& contact, const std::string& response, std::int64_t now_ms,
                bool keep_session = false) {
  return {0, contact, "{\"step\":\"menu\"}", "SM" + contact + std::to_string(now_ms), response, now_ms, keep_session};
}

/// A log as a new process finds it: taken, read back, then started again after `next`.
std::unique_ptr<TurnLog> reopen(const TempDir& dir, std::vector<LoggedTurn>* found = nullptr,
                                std::uint64_t* torn = nullptr) {
  auto log = TurnLog::open(dir.db());
  REQUIRE(log);
  auto recovery = log->recover();
  std::uint64_t last = 0;
  for (const auto& t : recovery.turns) last = t.seq;
  if (found) *found = recovery.turns;
  if (torn) *torn = recovery.torn_bytes;
  log->reset(last + 1);
  return log;
}

}  // namespace

TEST_CASE("crc32 is the IEEE one (zlib's)", "[turn_log]") {
  CHECK(hotline::store::crc32("123456789", 9) == 0xCBF43926u);
  CHECK(hotline::store::crc32("", 0) == 0u);
}

TEST_CASE("turns written to the log are read back after a restart, in order, field for field", "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);
    CHECK(log->append(turn("a", "<Response/>", 10)) == 1);
    CHECK(log->append(turn("b", std::string(5000, 'x'), 11, true)) == 2);
    LoggedTurn empty{0, "c", "", "", "", 12, false};
    CHECK(log->append(empty) == 3);
  }  // a crash: nothing marked applied
  std::vector<LoggedTurn> found;
  std::uint64_t torn = 1;
  auto log = reopen(dir, &found, &torn);
  CHECK(torn == 0);
  REQUIRE(found.size() == 3);
  CHECK(found[0].seq == 1);
  CHECK(found[0].contact_key == "a");
  CHECK(found[0].session_data == "{\"step\":\"menu\"}");
  CHECK(found[0].request_id == "SMa10");
  CHECK(found[0].response == "<Response/>");
  CHECK(found[0].now_ms == 10);
  CHECK_FALSE(found[0].keep_session);
  CHECK(found[1].response == std::string(5000, 'x'));
  CHECK(found[1].keep_session);
  CHECK(found[2].seq == 3);
  CHECK(found[2].session_data.empty());
  CHECK(found[2].request_id.empty());
  // Numbering goes on after what was found.
  CHECK(log->append(turn("d", "r", 13)) == 4);
}

TEST_CASE("a turn's daily counts are never written to the log: they name a topic", "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);
    LoggedTurn counted = turn("a", "<Response/>", 10);
    counted.counts = {{"2026-12-04", "messages", "status_reporting", "es", "whatsapp", 1}};
    CHECK(log->append(counted) == 1);
  }
  std::string bytes;
  for (const auto& segment : dir.segments()) {
    std::ifstream in(segment, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  CHECK(bytes.find("<Response/>") != std::string::npos);  // the record is there...
  CHECK(bytes.find("status_reporting") == std::string::npos);  // ...without its counts
  CHECK(bytes.find("messages") == std::string::npos);
  std::vector<LoggedTurn> found;
  reopen(dir, &found);
  REQUIRE(found.size() == 1);
  CHECK(found[0].counts.empty());
  CHECK(found[0].response == "<Response/>");
}

TEST_CASE("a record cut short at a segment's end is set aside; the records before it are read", "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);
    log->append(turn("a", "first", 1));
    log->append(turn("b", "second", 2));
  }
  const auto segment = dir.segments().back();
  const auto size = fs::file_size(segment);

  SECTION("a write cut short by a power loss") {
    fs::resize_file(segment, size - 3);
    std::vector<LoggedTurn> found;
    std::uint64_t torn = 0;
    reopen(dir, &found, &torn);
    REQUIRE(found.size() == 1);
    CHECK(found[0].response == "first");
    CHECK(torn > 0);
  }
  SECTION("a byte changed in the last record") {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 2));
    f.put('!');
    f.close();
    std::vector<LoggedTurn> found;
    std::uint64_t torn = 0;
    reopen(dir, &found, &torn);
    REQUIRE(found.size() == 1);
    CHECK(torn > 0);
  }
  SECTION("garbage after the last record") {
    const std::string garbage("\x05\x00\x00\x00garbage", 11);
    std::ofstream(segment, std::ios::app | std::ios::binary) << garbage;
    std::vector<LoggedTurn> found;
    std::uint64_t torn = 0;
    reopen(dir, &found, &torn);
    CHECK(found.size() == 2);
    CHECK(torn == 11);
  }
}

TEST_CASE("one damaged byte loses only its own record: the turns after it are recovered and the damage is kept aside",
          "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);
    for (int i = 1; i <= 50; ++i) log->append(turn("c" + std::to_string(i), "answer " + std::to_string(i), i));
  }
  const auto segment = dir.segments().back();
  SECTION("in a record's text") {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);  // inside the first record's payload
    f.put('\x7f');
  }
  SECTION("in a record's length") {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(3);  // the first record's length becomes enormous
    f.put('\x40');
  }
  auto log = TurnLog::open(dir.db());
  REQUIRE(log);
  const auto recovery = log->recover();
  REQUIRE(recovery.turns.size() == 49);
  CHECK(recovery.turns.front().seq == 2);
  CHECK(recovery.turns.back().response == "answer 50");
  CHECK(recovery.damaged_bytes > 0);
  CHECK(recovery.torn_bytes == 0);
  REQUIRE(recovery.quarantined.size() == 1);
  const fs::path kept = recovery.quarantined[0];
  CHECK(kept.filename().string().starts_with("hotline.db-turns-damaged."));
  CHECK(fs::file_size(kept) == recovery.damaged_bytes);
  CHECK((fs::status(kept).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  log->reset(51);
  CHECK(fs::exists(kept));  // kept for an operator: reset deletes segments only
}

TEST_CASE("files named like a segment that are not one are reported and left alone", "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);
    log->append(turn("a", "first", 1));
  }
  const fs::path too_large = dir.path() / "hotline.db-turns.99999999999999999999999";
  std::ofstream(too_large) << "not a segment";
  const fs::path folder = dir.path() / "hotline.db-turns.00000000000000000007";
  fs::create_directory(folder);

  auto log = TurnLog::open(dir.db());
  REQUIRE(log);
  const auto recovery = log->recover();
  REQUIRE(recovery.turns.size() == 1);
  CHECK(recovery.stray == std::vector<std::string>{folder.string(), too_large.string()});
  log->reset(2);
  CHECK(fs::exists(too_large));
  CHECK(fs::is_directory(folder));
}

TEST_CASE("the log keeps only turns not yet applied", "[turn_log]") {
  TempDir dir;
  auto log = reopen(dir);
  const auto first = log->append(turn("a", "one", 1));
  log->append(turn("b", "two", 2));

  log->applied(first);  // one of two: the segment must stay whole
  REQUIRE(dir.segments().size() == 1);
  CHECK(fs::file_size(dir.segments()[0]) > 0);

  log->applied(first + 1);  // everything: emptied, so nothing applied lingers on disk
  REQUIRE(dir.segments().size() == 1);
  CHECK(fs::file_size(dir.segments()[0]) == 0);

  // Appending after emptying starts at the beginning of the file.
  log->append(turn("c", "three", 3));
  log.reset();
  std::vector<LoggedTurn> found;
  reopen(dir, &found);
  REQUIRE(found.size() == 1);
  CHECK(found[0].response == "three");
}

TEST_CASE("a full segment is followed by a new one, deleted once applied", "[turn_log]") {
  TempDir dir;
  auto log = reopen(dir);
  const std::string big(64 * 1024, 'r');
  std::uint64_t last = 0;
  while (dir.segments().size() < 2) last = log->append(turn("a", big, static_cast<std::int64_t>(last)));
  const auto first_of_second = last;  // the append that opened the second segment
  log->append(turn("b", "small", 1));

  log->applied(first_of_second - 1);  // all of the first segment
  REQUIRE(dir.segments().size() == 1);
  CHECK(fs::file_size(dir.segments()[0]) > 0);  // the second still holds unapplied turns

  log.reset();
  std::vector<LoggedTurn> found;
  reopen(dir, &found);
  REQUIRE(found.size() == 2);
  CHECK(found[0].seq == first_of_second);
  CHECK(found[1].response == "small");
}

TEST_CASE("only one process at a time owns a database's log", "[turn_log]") {
  TempDir dir;
  auto owner = TurnLog::open(dir.db());
  REQUIRE(owner);
  CHECK(TurnLog::open(dir.db()) == nullptr);  // flock: another open file description is refused
  owner.reset();
  CHECK(TurnLog::open(dir.db()) != nullptr);
}

TEST_CASE("the log's files are the owner's alone", "[turn_log]") {
  TempDir dir;
  auto log = reopen(dir);
  log->append(turn("a", "one", 1));
  for (const auto& e : fs::directory_iterator(dir.path())) {
    INFO(e.path());
    CHECK((fs::status(e.path()).permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
          fs::perms::none);
  }
}

TEST_CASE("the SQLite store applies the turns after a damaged record and reports the damage", "[turn_log]") {
  TempDir dir;
  {
    auto log = reopen(dir);  // a server killed before its applier ran: three turns only in the log
    for (int i = 1; i <= 3; ++i) log->append(turn("k" + std::to_string(i), "answer", i));
  }
  {
    std::fstream f(dir.segments().back(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  auto store = hotline::store::open_sqlite(dir.db());
  CHECK(store->turn_log_damaged_bytes() > 0);
  CHECK_FALSE(store->load("k1"));  // the damaged turn is lost...
  CHECK(store->load("k2"));        // ...the ones after it are not
  CHECK(store->load("k3"));
}
