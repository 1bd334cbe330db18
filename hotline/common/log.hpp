#pragma once
// Structured logs: one JSON object a line on stderr. Callers pass ids, step names, intents and
// outcomes — never a phone number or message text (see docs/architecture.md, Privacy).
//
// A field named "contact" or "call" (a contact's or a call's key) is never written as given: it is replaced by
// "d_" + 16 hex digits of HMAC-SHA256(today's key, contact key), where today's key is random,
// made in memory when the UTC day (or the process) starts and never stored. So a day's lines
// about one person can be read together, but neither HOTLINE_SECRET nor a number ties them to
// the database, to other days or to a person once `hotline forget` has erased the rest.
#include <nlohmann/json.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace hotline::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);

/// The id of the HTTP request this thread is handling. While set, every line the thread writes
/// carries it as "request_id". The http layer sets it when a request arrives and clears it once
/// the answer is written; other threads (workers, watchers) have none.
///
/// Setting it also holds the thread's lines back until flush_request_lines() (or
/// clear_request_id()), which writes them all in one write(): a webhook's own line and its
/// access line cost one system call and one turn of the write lock, not two. The price: the
/// lines of a request being handled when the process is killed are lost with it.
void set_request_id(std::string id);
void flush_request_lines();
void clear_request_id();
const std::string& request_id();

void write(Level level, std::string_view event, nlohmann::json fields = nlohmann::json::object());

/// What a "contact" or "call" field is written as today (see above).
std::string contact_alias(std::string_view contact_key);

/// A field for log::emit: a string, a number or a boolean, without building JSON objects first.
/// (A string literal is a string, not the boolean its pointer would convert to.)
struct Field {
  enum class Kind { string, integer, unsigned_integer, real, boolean };
  Field(std::string_view k, std::string_view v) : key(k), kind(Kind::string), text(v) {}
  Field(std::string_view k, const std::string& v) : key(k), kind(Kind::string), text(v) {}
  Field(std::string_view k, const char* v) : key(k), kind(Kind::string), text(v) {}
  Field(std::string_view k, bool v) : key(k), kind(Kind::boolean), number(v) {}
  Field(std::string_view k, double v) : key(k), kind(Kind::real), real(v) {}
  template <typename T>
    requires(std::is_integral_v<T> && std::is_signed_v<T>)
  Field(std::string_view k, T v) : key(k), kind(Kind::integer), number(v) {}
  template <typename T>
    requires(std::is_integral_v<T> && std::is_unsigned_v<T> && !std::is_same_v<T, bool>)
  Field(std::string_view k, T v) : key(k), kind(Kind::unsigned_integer), unsigned_number(v) {}

  std::string_view key;
  Kind kind;
  std::string_view text;
  std::int64_t number = 0;
  std::uint64_t unsigned_number = 0;
  double real = 0;
};

/// The same line as write() with these fields (same keys, same order, same escaping), built
/// straight into a buffer: for the lines written on every request.
void emit(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void info(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::info, event, std::move(fields));
}
inline void warn(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::warn, event, std::move(fields));
}
inline void error(std::string_view event, nlohmann::json fields = nlohmann::json::object()) {
  write(Level::error, event, std::move(fields));
}

}  // namespace hotline::log
