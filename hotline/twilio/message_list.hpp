#pragma once
// Reading Twilio's Messages list (GET /2010-04-01/Accounts/{sid}/Messages.json): what the outbox
// needs to recognise a message it sent but never heard back about. Pure parsing, no I/O, so the
// REST client stays the only file that talks libcurl and this is tested on its own.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hotline::twilio {

/// One message as the list shows it. Holds a number and a text: never log it or store it.
struct ListedMessage {
  std::string sid;
  std::string to;
  std::string from;
  std::string messaging_service_sid;
  std::string body;
  std::int64_t created_ms = 0;  // date_created, Unix ms (whole seconds); 0 if missing or unreadable
};

/// One page of the list: its messages (in Twilio's order, newest first) and the path of the next
/// page ("" on the last), relative to the API base.
struct MessagePage {
  std::vector<ListedMessage> messages;
  std::string next_page_uri;
};

/// Parses a ListMessageResponse. nullopt when it is not one (not JSON, no `messages` array).
std::optional<MessagePage> parse_message_page(std::string_view json);

/// An RFC 2822 date as Twilio writes them ("Mon, 16 Aug 2010 03:45:01 +0000"; the day name and
/// seconds are optional, any numeric zone), as Unix ms. nullopt when it is not one.
std::optional<std::int64_t> parse_rfc2822(std::string_view text);

}  // namespace hotline::twilio
