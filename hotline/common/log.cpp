#include "hotline/common/log.hpp"

#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <vector>

namespace hotline::log {
namespace {

std::atomic<Level> g_min_level{Level::info};
std::mutex g_write_mutex;
thread_local std::string t_request_id;
thread_local bool t_holding = false;       // lines wait in t_held for flush_request_lines()
thread_local std::string t_held;

/// Today's key for contact aliases: random, in memory only, replaced when the UTC day changes.
struct DayKey {
  std::int64_t day = -1;
  std::array<unsigned char, 32> key{};
};
std::mutex g_day_key_mutex;
DayKey g_day_key;

std::int64_t utc_day() {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::hours>(now).count() / 24;
}

DayKey day_key() {
  thread_local DayKey cached;
  const std::int64_t today = utc_day();
  if (cached.day == today) return cached;
  std::lock_guard lock(g_day_key_mutex);
  if (g_day_key.day != today) {
    // Without randomness, no alias is better than a guessable one.
    if (RAND_bytes(g_day_key.key.data(), static_cast<int>(g_day_key.key.size())) != 1) return {};
    g_day_key.day = today;
  }
  cached = g_day_key;
  return cached;
}

const char* level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

// "2026-11-29T07:33:12.345Z". gmtime_r takes glibc's time zone lock and snprintf is slow, so
// each thread formats the date and time once a second and only the milliseconds after that.
void append_timestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  thread_local std::time_t cached_secs = -1;
  thread_local char cached[40];  // "YYYY-MM-DDTHH:MM:SS"
  thread_local int cached_len = 0;
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    cached_len = std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (cached_len < 0 || cached_len >= static_cast<int>(sizeof cached)) cached_len = 0;
    cached_secs = secs;
  }
  const int milli = static_cast<int>(ms % 1000);
  out.append(cached, static_cast<std::size_t>(cached_len));
  const char frac[] = {'.', static_cast<char>('0' + milli / 100), static_cast<char>('0' + milli / 10 % 10),
                       static_cast<char>('0' + milli % 10), 'Z'};
  out.append(frac, sizeof frac);
}

/// A JSON string as nlohmann::json::dump writes it here (no ensure_ascii; invalid UTF-8
/// replaced): printable ASCII without `"` and `\` is copied as is, anything else goes through
/// nlohmann's own escaping so the bytes stay identical.
void append_json_string(std::string& out, std::string_view v) {
  // Bytes JSON must escape (controls, quote, backslash) or nlohmann must check (>= 0x7F): a table, and
  // one OR a byte, is about a third of the instructions of a comparison chain.
  static constexpr auto kSpecial = [] {
    std::array<unsigned char, 256> t{};
    for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c > 0x7E || c == '"' || c == '\\';
    return t;
  }();
  unsigned char special = 0;
  for (char c : v) special |= kSpecial[static_cast<unsigned char>(c)];
  if (!special) {
    out += '"';
    out += v;
    out += '"';
  } else {
    out += nlohmann::json(std::string(v)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
}

/// One key/value of a line: a Field, or (for write()) a value of the caller's JSON object.
struct Item {
  std::string_view key;
  const Field* field = nullptr;
  const nlohmann::json* json = nullptr;
};

void append_value(std::string& out, const Item& item) {
  if (item.key == "contact" || item.key == "call") {  // never the key itself (log.hpp)
    std::string_view key;
    if (item.json && item.json->is_string()) key = item.json->get_ref<const std::string&>();
    if (item.field && item.field->kind == Field::Kind::string) key = item.field->text;
    append_json_string(out, contact_alias(key));
    return;
  }
  if (item.json) {
    const nlohmann::json& j = *item.json;
    if (j.is_string()) {
      append_json_string(out, j.get_ref<const std::string&>());
    } else {
      out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return;
  }
  const Field& f = *item.field;
  switch (f.kind) {
    case Field::Kind::string: append_json_string(out, f.text); break;
    case Field::Kind::boolean: out += f.number ? "true" : "false"; break;
    case Field::Kind::real: out += nlohmann::json(f.real).dump(); break;  // as write() prints it
    case Field::Kind::integer:
    case Field::Kind::unsigned_integer: {
      char buf[24];
      const auto end = f.kind == Field::Kind::integer ? std::to_chars(buf, buf + sizeof buf, f.number).ptr
                                                      : std::to_chars(buf, buf + sizeof buf, f.unsigned_number).ptr;
      out.append(buf, end);
      break;
    }
  }
}

constexpr std::size_t kMaxHeld = 1u << 16;

/// One write() of whole lines, under a lock, so lines from different threads never interleave
/// and each is in the kernel before the caller goes on.
void write_out(const std::string& lines) {
  std::lock_guard<std::mutex> lock(g_write_mutex);
  const char* p = lines.data();
  std::size_t left = lines.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // nowhere to log to: as fprintf did, carry on
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

/// Writes one line: the fixed fields (ts, level, event, request_id) and the caller's, in key
/// order (nlohmann::json objects are sorted maps; the lines always were), a caller's field
/// replacing a fixed one of the same name. Held back while a request is being handled (see
/// set_request_id), else written at once.
void write_line(Level level, std::string_view event, std::vector<Item>& items, std::size_t fixed_end) {
  // The fixed values live here until the line is written.
  thread_local std::string ts;
  ts.clear();
  append_timestamp(ts);
  const Field fixed[] = {{"ts", std::string_view(ts)},
                         {"level", level_name(level)},
                         {"event", event},
                         {"request_id", std::string_view(t_request_id)}};
  items[0].field = &fixed[0];
  items[1].field = &fixed[1];
  items[2].field = &fixed[2];
  if (fixed_end == 4) items[3].field = &fixed[3];
  // An insertion sort (a dozen items; std::stable_sort would allocate). Stable: for equal keys
  // the caller's (after the fixed ones) comes last, and the last wins.
  for (std::size_t i = 1; i < items.size(); ++i) {
    for (std::size_t j = i; j > 0 && items[j].key < items[j - 1].key; --j) std::swap(items[j], items[j - 1]);
  }

  thread_local std::string line;
  line.clear();
  line += '{';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i + 1 < items.size() && items[i + 1].key == items[i].key) continue;
    if (line.size() > 1) line += ',';
    append_json_string(line, items[i].key);
    line += ':';
    append_value(line, items[i]);
  }
  line += "}\n";

  if (t_holding) {
    if (t_held.size() + line.size() > kMaxHeld) {  // a chatty request: keep its lines in order
      write_out(t_held);
      t_held.clear();
    }
    t_held += line;
  } else {
    write_out(line);
  }
  if (line.capacity() > kMaxHeld) std::string().swap(line);  // an unusually long line: give it back
}

std::vector<Item>& fixed_items() {
  thread_local std::vector<Item> items;
  items.clear();
  items.push_back({"ts"});
  items.push_back({"level"});
  items.push_back({"event"});
  if (!t_request_id.empty()) items.push_back({"request_id"});
  return items;
}

}  // namespace

void set_min_level(Level level) { g_min_level = level; }

std::string contact_alias(std::string_view contact_key) {
  const DayKey today = day_key();
  if (today.day < 0 || contact_key.empty()) return "d_unknown";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), today.key.data(), static_cast<int>(today.key.size()),
            reinterpret_cast<const unsigned char*>(contact_key.data()), contact_key.size(), mac, &size)) {
    return "d_unknown";
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "d_";
  for (unsigned int i = 0; i < 8; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0x0F];
  }
  return out;
}

void flush_request_lines() {
  t_holding = false;
  if (t_held.empty()) return;
  write_out(t_held);
  t_held.clear();
  if (t_held.capacity() > kMaxHeld) std::string().swap(t_held);
}

void set_request_id(std::string id) {
  flush_request_lines();  // what an unfinished request on this thread left, if anything
  t_request_id = std::move(id);
  t_holding = true;
}

void clear_request_id() {
  flush_request_lines();
  t_request_id.clear();
}

const std::string& request_id() { return t_request_id; }

void write(Level level, std::string_view event, nlohmann::json fields) {
  if (level < g_min_level.load()) return;
  std::vector<Item>& items = fixed_items();
  const std::size_t fixed_end = items.size();
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) items.push_back({key, nullptr, &value});
  }
  write_line(level, event, items, fixed_end);
}

void emit(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (level < g_min_level.load()) return;
  std::vector<Item>& items = fixed_items();
  const std::size_t fixed_end = items.size();
  for (const Field& f : fields) items.push_back({f.key, &f, nullptr});
  write_line(level, event, items, fixed_end);
}

}  // namespace hotline::log
