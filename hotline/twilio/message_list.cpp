#include "hotline/twilio/message_list.hpp"

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace hotline::twilio {
namespace {

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  void spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool done() const { return i_ == s_.size(); }
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  /// `min`..`max` digits.
  std::optional<int> number(std::size_t min, std::size_t max) {
    std::size_t n = 0;
    int v = 0;
    while (i_ < s_.size() && n < max && std::isdigit(static_cast<unsigned char>(s_[i_]))) {
      v = v * 10 + (s_[i_++] - '0');
      ++n;
    }
    if (n < min) return std::nullopt;
    return v;
  }
  std::string_view word() {
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return s_.substr(start, i_ - start);
  }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
};

std::string text_of(const nlohmann::json& m, const char* key) {
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::optional<std::int64_t> parse_rfc2822(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  Cursor c(text);
  c.spaces();
  Cursor probe = c;
  if (!probe.word().empty()) {  // "Mon," is optional
    const std::string_view day = c.word();
    bool known = false;
    for (auto d : kDays) known = known || d == day;
    if (!known || !c.eat(',')) return std::nullopt;
    c.spaces();
  }
  const auto day = c.number(1, 2);
  c.spaces();
  const std::string_view month_name = c.word();
  c.spaces();
  const auto year = c.number(4, 4);
  c.spaces();
  const auto hour = c.number(2, 2);
  if (!day || !year || !hour || !c.eat(':')) return std::nullopt;
  const auto minute = c.number(2, 2);
  if (!minute) return std::nullopt;
  int second = 0;
  if (c.eat(':')) {
    const auto s = c.number(2, 2);
    if (!s) return std::nullopt;
    second = *s;
  }
  c.spaces();
  int sign = 1;
  if (c.eat('-')) sign = -1;
  else if (!c.eat('+')) return std::nullopt;
  const auto zone = c.number(4, 4);
  c.spaces();
  if (!zone || !c.done()) return std::nullopt;
  unsigned month = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (kMonths[i] == month_name) month = i + 1;
  }
  static constexpr std::array<int, 12> kMonthDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 0 || *day < 1 || *day > kMonthDays[month - 1] || *hour > 23 || *minute > 59 || second > 60 ||
      *zone % 100 > 59) {
    return std::nullopt;
  }
  const std::int64_t days = days_from_civil(*year, month, static_cast<unsigned>(*day));
  const std::int64_t offset_s = sign * ((*zone / 100) * 3600 + (*zone % 100) * 60);
  return (days * 86400 + *hour * 3600 + *minute * 60 + second - offset_s) * 1000;
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
