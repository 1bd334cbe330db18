#include "hotline/engine/session.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace hotline::engine {
namespace {

// A session is read and written on every message. nlohmann::json builds a map of heap nodes
// for it each way (~15,000 instructions to encode, ~5,000 to decode, callgrind), so the format
// is written directly here and read directly when it is in exactly the form written; anything
// else (an escape, white space, another type, a session from elsewhere) is read by nlohmann as
// before, so what decodes and what does not is unchanged. tests/test_engine.cpp checks both.

bool plain(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; });
}

void append_string(std::string& out, const std::string& s) {
  if (plain(s)) {
    out += '"';
    out += s;
    out += '"';
  } else {
    out += nlohmann::json(s).dump();  // escapes as before (and throws on invalid UTF-8, as before)
  }
}

void append_int(std::string& out, int v) {
  char buf[16];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

std::optional<Session> decode_with_nlohmann(const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != 1) return std::nullopt;
  try {
    Session s;
    s.step = j.value("step", "");
    s.retries = j.value("retries", 0);
    s.last_intent = j.value("intent", "");
    s.turns = j.value("turns", 0);
    s.choices = j.value("choices", "");
    if (j.contains("lang")) s.lang = lang_from_code(j["lang"].get<std::string>());
    return s;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

/// The session, when `data` is an object of plain strings (printable ASCII, no escapes) and
/// small non-negative-or-negative integers, with no white space and no key twice; nullopt
/// otherwise, for nlohmann to read. Within that form it decides exactly as nlohmann would.
std::optional<std::optional<Session>> decode_simple(std::string_view d) {
  std::size_t i = 0;
  auto peek = [&](char c) { return i < d.size() && d[i] == c; };
  auto string_at = [&](std::string_view& out) {
    if (!peek('"')) return false;
    const std::size_t start = ++i;
    while (i < d.size() && d[i] != '"') {
      const char c = d[i];
      if (c < 0x20 || c > 0x7E || c == '\\') return false;
      ++i;
    }
    if (i == d.size()) return false;
    out = d.substr(start, i - start);
    ++i;
    return true;
  };
  auto int_at = [&](int& out) {
    const std::size_t start = i;
    if (peek('-')) ++i;
    const std::size_t digits = i;
    while (i < d.size() && d[i] >= '0' && d[i] <= '9') ++i;
    const std::size_t n = i - digits;
    if (n == 0 || n > 9 || (n > 1 && d[digits] == '0')) return false;  // JSON has no leading zeros
    if (i < d.size() && (d[i] == '.' || d[i] == 'e' || d[i] == 'E')) return false;
    std::from_chars(d.data() + start, d.data() + i, out);
    return true;
  };

  if (!peek('{')) return std::nullopt;
  ++i;
  std::string_view step, intent, lang, choices;
  int v = 0, retries = 0, turns = 0;
  unsigned seen = 0;
  if (peek('}')) {
    ++i;
  } else {
    for (;;) {
      std::string_view key;
      if (!string_at(key) || !peek(':')) return std::nullopt;
      ++i;
      static constexpr std::string_view kKeys[] = {"v", "step", "retries", "intent", "turns", "lang", "choices"};
      const auto k = static_cast<unsigned>(std::find(std::begin(kKeys), std::end(kKeys), key) - std::begin(kKeys));
      if (k < std::size(kKeys)) {
        if (seen & (1u << k)) return std::nullopt;
        seen |= 1u << k;
      }
      bool ok = false;
      switch (k) {
        case 0: ok = int_at(v); break;
        case 1: ok = string_at(step); break;
        case 2: ok = int_at(retries); break;
        case 3: ok = string_at(intent); break;
        case 4: ok = int_at(turns); break;
        case 5: ok = string_at(lang); break;
        case 6: ok = string_at(choices); break;
        default: {  // ignored, as nlohmann ignores it, but it must still be a string or a number
          std::string_view ignored;
          int ignored_int = 0;
          ok = peek('"') ? string_at(ignored) : int_at(ignored_int);
        }
      }
      if (!ok) return std::nullopt;
      if (peek(',')) {
        ++i;
        continue;
      }
      if (!peek('}')) return std::nullopt;
      ++i;
      break;
    }
  }
  if (i != d.size()) return std::nullopt;
  if (!(seen & 1u) || v != 1) return std::optional<Session>{};  // not a session this version wrote
  Session s;
  s.step = std::string(step);
  s.retries = retries;
  s.last_intent = std::string(intent);
  s.turns = turns;
  s.choices = std::string(choices);
  if (seen & (1u << 5)) s.lang = lang_from_code(lang);
  return std::optional<Session>{std::move(s)};
}

}  // namespace

std::string encode_session(const Session& s) {
  // Keys in nlohmann's (sorted) order, so the bytes are what json::dump wrote before:
  // {"choices":"a+b","intent":"…","lang":"es","retries":0,"step":"…","turns":3,"v":1}
  std::string out;
  out.reserve(64 + s.step.size() + s.last_intent.size());
  out += '{';
  if (!s.choices.empty()) {
    out += "\"choices\":";
    append_string(out, s.choices);
    out += ',';
  }
  out += "\"intent\":";
  append_string(out, s.last_intent);
  if (s.lang) {
    out += ",\"lang\":\"";
    out += lang_code(*s.lang);
    out += '"';
  }
  out += ",\"retries\":";
  append_int(out, s.retries);
  out += ",\"step\":";
  append_string(out, s.step);
  out += ",\"turns\":";
  append_int(out, s.turns);
  out += ",\"v\":1}";
  return out;
}

std::optional<Session> decode_session(const std::string& data) {
  if (auto simple = decode_simple(data)) return *simple;
  return decode_with_nlohmann(data);
}

}  // namespace hotline::engine
