#pragma once
// Small helpers the relay's two halves share (relay.cpp: offers, claims and words; and
// relay_console.cpp: advocates' commands, escalation, shift ends): lists of advocate ids kept
// in one text column, and finding relays in the list the store returns.
#include <algorithm>
#include <cctype>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "hotline/store/session_store.hpp"

namespace hotline::channels::relay_ids {

// What each sealed field is sealed for (crypto::seal's context): a field cannot be opened as another.
inline constexpr const char* kTexterContext = "relays.texter";
inline constexpr const char* kMessageContext = "relays.first_message";
inline constexpr const char* kHeldContext = "advocate_notes.held";

inline std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

inline std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

inline std::vector<std::string> split_ids(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream in(csv);
  std::string id;
  while (std::getline(in, id, ',')) if (!id.empty()) out.push_back(id);
  return out;
}

inline bool contains(const std::string& csv, const std::string& id) {
  auto ids = split_ids(csv);
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

inline std::string with_id(const std::string& csv, const std::string& id) {
  if (contains(csv, id)) return csv;
  return csv.empty() ? id : csv + "," + id;
}

/// An update of `r` as read (its version checked at commit).
inline store::RelayChange update(const store::Relay& r) { return {r, false, r.version}; }

inline std::vector<store::Relay> claimed_by(const std::vector<store::Relay>& all, const std::string& advocate_id) {
  std::vector<store::Relay> out;
  for (const auto& r : all) if (r.state == "claimed" && r.advocate_id == advocate_id) out.push_back(r);
  return out;
}

inline std::optional<store::Relay> find_code(const std::vector<store::Relay>& all, const std::string& code) {
  for (const auto& r : all) if (r.code == code) return r;
  return std::nullopt;
}

}  // namespace hotline::channels::relay_ids
