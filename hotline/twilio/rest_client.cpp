#include "hotline/twilio/rest_client.hpp"

#include <curl/curl.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "hotline/twilio/form.hpp"

namespace hotline::twilio {
namespace {

std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
  auto* body = static_cast<std::string*>(out);
  // Twilio's answers are a few kB (a page of 100 messages some 100 kB); refuse to buffer
  // anything absurd from a misbehaving server.
  if (body->size() + size * n > 4 * 1024 * 1024) return 0;
  body->append(data, size * n);
  return size * n;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

/// One HTTP exchange with Twilio.
struct Exchange {
  CURLcode rc = CURLE_FAILED_INIT;
  int status = 0;
  std::string answer;
  bool request_sent = false;  // some of the request went out: Twilio may have acted on it
};

/// POSTs `form` (GETs when null) to `url` with HTTP Basic, bounded by the settings' timeouts.
Exchange perform(const RestSettings& settings, const std::string& url, const std::string* form) {
  Exchange x;
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) return x;
  std::unique_ptr<curl_slist, SlistFree> headers(curl_slist_append(nullptr, "Accept: application/json"));
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (form) {
    headers.reset(curl_slist_append(headers.release(), "Content-Type: application/x-www-form-urlencoded"));
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form->size()));
  } else {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERNAME, settings.account_sid.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, settings.auth_token.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, settings.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, settings.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we run on a worker thread
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hotline/0.1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &x.answer);

  x.rc = curl_easy_perform(c);
  // Bytes of the request written to the connection: 0 when it failed to resolve, connect or
  // complete TLS, so Twilio cannot have seen it.
  long request_size = 0;
  curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &request_size);
  x.request_sent = request_size > 0;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  x.status = static_cast<int>(status);
  return x;
}

std::string network_reason(const Exchange& x) {
  return x.rc == CURLE_FAILED_INIT ? "curl_easy_init failed" : std::string("network: ") + curl_easy_strerror(x.rc);
}

/// "HTTP 500, Twilio error 20500": never Twilio's message, which can quote the number.
std::string http_reason(int http_status, const nlohmann::json& json, int* code_out = nullptr) {
  int code = 0;
  if (json.is_object() && json.contains("code") && json["code"].is_number_integer()) code = json["code"].get<int>();
  if (code_out) *code_out = code;
  return "HTTP " + std::to_string(http_status) + (code ? ", Twilio error " + std::to_string(code) : std::string()) +
         (json.is_object() ? "" : ", unreadable answer");
}

}  // namespace

SendResult classify_response(int http_status, const std::string& body) {
  SendResult r;
  r.http_status = http_status;
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  const bool readable = json.is_object();
  if (http_status >= 200 && http_status < 300) {
    // Accepted. Even when the answer is unreadable the message is queued at Twilio: sending it
    // again would deliver it twice, so this counts as sent.
    r.ok = true;
    if (readable && json.contains("sid") && json["sid"].is_string()) r.sid = json["sid"].get<std::string>();
    else r.reason = "accepted, but the answer had no readable sid";
    return r;
  }
  r.reason = http_reason(http_status, json, &r.twilio_code);
  r.retryable = http_status == 429 || http_status >= 500 || r.twilio_code == 20429;
  // 429 / 20429 are never processed (Twilio's word); a 5xx may come from a proxy or a backend
  // after the message was created, so it may have gone through.
  r.outcome_unknown = http_status >= 500 && r.twilio_code != 20429;
  return r;
}

RestClient::RestClient(RestSettings settings) : settings_(std::move(settings)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!settings_.api_base.empty() && settings_.api_base.back() == '/') settings_.api_base.pop_back();
}

SendResult RestClient::create(const char* resource, const FormFields& form) const {
  const std::string body = encode_form(form);
  const std::string url =
      settings_.api_base + "/2010-04-01/Accounts/" + url_encode(settings_.account_sid) + "/" + resource;
  const Exchange x = perform(settings_, url, &body);
  if (x.rc != CURLE_OK) {
    SendResult failed;
    failed.retryable = true;
    failed.outcome_unknown = x.request_sent;  // e.g. it went out, then the answer timed out
    failed.reason = network_reason(x);
    return failed;
  }
  return classify_response(x.status, x.answer);
}

SendResult RestClient::send_message(const OutboundSms& m) const {
  FormFields form{{"To", m.to}};
  if (!m.content_sid.empty()) {
    form.push_back({"ContentSid", m.content_sid});
    if (!m.content_variables.empty()) form.push_back({"ContentVariables", m.content_variables});
  } else {
    form.push_back({"Body", m.body});
  }
  if (!m.messaging_service_sid.empty()) form.push_back({"MessagingServiceSid", m.messaging_service_sid});
  else form.push_back({"From", m.from});
  if (!m.status_callback.empty()) form.push_back({"StatusCallback", m.status_callback});
  return create("Messages.json", form);
}

SendResult RestClient::place_call(const OutboundCall& c) const {
  return create("Calls.json", {{"To", c.to}, {"From", c.from}, {"Url", c.url}, {"Method", "POST"}});
}

ListResult RestClient::list_messages(const MessageQuery& q) const {
  ListResult out;
  FormFields params{{"To", q.to}};
  if (!q.from.empty()) params.push_back({"From", q.from});
  params.push_back({"PageSize", std::to_string(q.page_size)});
  std::string path = "/2010-04-01/Accounts/" + url_encode(settings_.account_sid) + "/Messages.json?" + encode_form(params);
  for (int page = 0; page < q.max_pages; ++page) {
    const Exchange x = perform(settings_, settings_.api_base + path, nullptr);
    if (x.rc != CURLE_OK) {
      out.reason = network_reason(x);
      return out;
    }
    out.http_status = x.status;
    if (x.status != 200) {
      out.reason = http_reason(x.status, nlohmann::json::parse(x.answer, nullptr, /*allow_exceptions=*/false));
      return out;
    }
    auto parsed = parse_message_page(x.answer);
    if (!parsed) {
      out.reason = "HTTP 200, not a list of messages";
      return out;
    }
    bool reached_back = false;  // newest first: the rest are older still
    for (auto& m : parsed->messages) {
      reached_back = reached_back || (m.created_ms != 0 && m.created_ms < q.created_since_ms);
      out.messages.push_back(std::move(m));
    }
    if (reached_back || parsed->next_page_uri.empty()) {
      out.ok = true;
      return out;
    }
    // Relative to the API base; never sent anywhere else with our credentials.
    if (!parsed->next_page_uri.starts_with("/2010-04-01/Accounts/")) {
      out.reason = "next_page_uri is not a path of the API";
      return out;
    }
    path = parsed->next_page_uri;
  }
  out.reason = "more than " + std::to_string(q.max_pages) + " pages of messages since then";
  return out;
}

}  // namespace hotline::twilio
