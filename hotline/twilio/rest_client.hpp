#pragma once
// Twilio's REST API, the part the hotline uses: sending one SMS, listing the messages sent to a
// number (to learn whether a send whose answer was lost went through), and placing one call (an
// advocate's voicemail callback). The only file that talks libcurl. Returns a result, never throws for what the network or Twilio does.
#include <cstdint>
#include <string>
#include <vector>

#include "hotline/twilio/form.hpp"
#include "hotline/twilio/message_list.hpp"

namespace hotline::twilio {

struct RestSettings {
  std::string api_base = "https://api.twilio.com";  // TWILIO_API_BASE (tests point it at a stand-in)
  std::string account_sid;                          // TWILIO_ACCOUNT_SID
  std::string auth_token;                           // TWILIO_AUTH_TOKEN
  long connect_timeout_ms = 5'000;
  long timeout_ms = 15'000;  // the whole request
};

/// One message to send. Exactly one of `from` / `messaging_service_sid` should be set.
struct OutboundSms {
  std::string to;
  std::string from;
  std::string messaging_service_sid;
  std::string body;
  std::string status_callback;  // optional: where Twilio POSTs delivery updates
  /// An approved template instead of `body` (WhatsApp outside its 24-hour window): Twilio's
  /// Content SID ("HX…") and its variables as a JSON object ({"1": "…"}).
  std::string content_sid;
  std::string content_variables;
};

/// One outbound call: Twilio rings `to` from `from` and, when it is answered, fetches the TwiML
/// at `url` (POST, signed like every webhook).
struct OutboundCall {
  std::string to;
  std::string from;
  std::string url;
};

/// What came of one attempt. `reason` is safe to log: it never carries a number or the text.
struct SendResult {
  bool ok = false;
  std::string sid;          // the Message SID when ok (may be empty if Twilio's answer was unreadable)
  int http_status = 0;      // 0: no HTTP answer at all (connection refused, timeout, TLS…)
  int twilio_code = 0;      // Twilio's error code (e.g. 21610 opted out), 0 when none
  bool retryable = false;   // 429, 5xx, 20429 and network errors: safe to try again later
  /// Not ok, yet Twilio may have accepted it: the request went out and no answer says it was not
  /// processed (a timeout, a lost connection, a 5xx). Sending again could deliver it twice.
  bool outcome_unknown = false;
  std::string reason;
};

/// Which messages to list: those sent to `to`, and from `from` when it is set (a Messaging
/// Service sends from any of its numbers: then filter by `to` alone). Twilio lists newest first;
/// pages of `page_size` are read until one reaches back before `created_since_ms`, there is no
/// next page, or `max_pages` were read.
struct MessageQuery {
  std::string to;
  std::string from;
  std::int64_t created_since_ms = 0;
  int page_size = 100;
  int max_pages = 3;
};

/// What a listing found. `ok`: every message created since `created_since_ms` is in `messages`
/// (it holds numbers and texts: never log it). Otherwise `reason` (safe to log) says why not.
struct ListResult {
  bool ok = false;
  std::vector<ListedMessage> messages;
  int http_status = 0;
  std::string reason;
};

class RestClient {
 public:
  explicit RestClient(RestSettings settings);
  /// POST {api_base}/2010-04-01/Accounts/{sid}/Messages.json, form body, HTTP Basic.
  /// Blocks for at most the configured timeout. Safe to call from several threads.
  SendResult send_message(const OutboundSms& message) const;
  /// POST {api_base}/2010-04-01/Accounts/{sid}/Calls.json (To, From, Url, Method=POST). The
  /// result reads as send_message's: `sid` is the Call SID.
  SendResult place_call(const OutboundCall& call) const;
  /// GET {api_base}/2010-04-01/Accounts/{sid}/Messages.json?To=…&From=…&PageSize=…, following
  /// next_page_uri (only ever on api_base). Each page is bounded by the configured timeout.
  ListResult list_messages(const MessageQuery& query) const;
  const RestSettings& settings() const { return settings_; }

 private:
  /// POSTs `form` to the account's `resource` (Messages.json, Calls.json): the result as
  /// send_message describes it.
  SendResult create(const char* resource, const FormFields& form) const;
  RestSettings settings_;
};

/// Sorts an HTTP answer from Twilio into a SendResult (exposed for tests).
SendResult classify_response(int http_status, const std::string& body);

}  // namespace hotline::twilio
