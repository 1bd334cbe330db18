#include "hotline/twilio/message_list.hpp"

#include <date/date.h>

#include <chrono>
#include <locale>
#include <nlohmann/json.hpp>
#include <sstream>

namespace hotline::twilio {
namespace {

std::string text_of(const nlohmann::json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<std::int64_t> parse_rfc2822(std::string_view text) {
  // The day name and the seconds are optional in RFC 2822; date::parse has no optional fields,
  // so each form is tried in turn, and one only counts if it reads the whole text.
  static constexpr const char* kForms[] = {"%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M %z",
                                           "%d %b %Y %H:%M:%S %z", "%d %b %Y %H:%M %z"};
  for (const char* form : kForms) {
    std::istringstream in{std::string(text)};
    in.imbue(std::locale::classic());
    date::sys_seconds t;
    in >> std::ws >> date::parse(form, t) >> std::ws;
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
    }
  }
  return std::nullopt;
}

std::optional<MessagePage> parse_message_page(std::string_view json) {
  const auto doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return std::nullopt;
  auto messages = doc.find("messages");
  if (messages == doc.end() || !messages->is_array()) return std::nullopt;
  MessagePage page;
  for (const auto& m : *messages) {
    if (!m.is_object()) continue;
    ListedMessage l;
    l.sid = text_of(m, "sid");
    l.to = text_of(m, "to");
    l.from = text_of(m, "from");
    l.messaging_service_sid = text_of(m, "messaging_service_sid");
    l.body = text_of(m, "body");
    l.created_ms = parse_rfc2822(text_of(m, "date_created")).value_or(0);
    page.messages.push_back(std::move(l));
  }
  page.next_page_uri = text_of(doc, "next_page_uri");
  return page;
}

}  // namespace hotline::twilio
