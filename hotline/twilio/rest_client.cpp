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
  // Twilio's answers are a few kB; refuse to buffer anything absurd from a misbehaving server.
  if (body->size() + size * n > 1024 * 1024) return 0;
  body->append(data, size * n);
  return size * n;
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

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
  if (readable && json.contains("code") && json["code"].is_number_integer()) r.twilio_code = json["code"].get<int>();
  r.retryable = http_status == 429 || http_status >= 500 || r.twilio_code == 20429;
  // Twilio's own message can quote the number ("The 'To' number +1… is not valid"): never log it.
  r.reason = "HTTP " + std::to_string(http_status) +
             (r.twilio_code ? ", Twilio error " + std::to_string(r.twilio_code) : std::string()) +
             (readable ? "" : ", unreadable answer");
  return r;
}

RestClient::RestClient(RestSettings settings) : settings_(std::move(settings)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  while (!settings_.api_base.empty() && settings_.api_base.back() == '/') settings_.api_base.pop_back();
}

SendResult RestClient::send_message(const OutboundSms& m) const {
  SendResult failed;
  failed.retryable = true;
  std::unique_ptr<CURL, CurlFree> curl(curl_easy_init());
  if (!curl) {
    failed.reason = "curl_easy_init failed";
    return failed;
  }
  FormFields form{{"To", m.to}, {"Body", m.body}};
  if (!m.messaging_service_sid.empty()) form.push_back({"MessagingServiceSid", m.messaging_service_sid});
  else form.push_back({"From", m.from});
  if (!m.status_callback.empty()) form.push_back({"StatusCallback", m.status_callback});
  const std::string body = encode_form(form);
  const std::string url = settings_.api_base + "/2010-04-01/Accounts/" + url_encode(settings_.account_sid) +
                          "/Messages.json";
  std::string answer;
  std::unique_ptr<curl_slist, SlistFree> headers(
      curl_slist_append(nullptr, "Content-Type: application/x-www-form-urlencoded"));
  headers.reset(curl_slist_append(headers.release(), "Accept: application/json"));

  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
  curl_easy_setopt(c, CURLOPT_USERNAME, settings_.account_sid.c_str());
  curl_easy_setopt(c, CURLOPT_PASSWORD, settings_.auth_token.c_str());
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, settings_.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, settings_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we run on a worker thread
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hotline/0.1");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);

  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    failed.reason = std::string("network: ") + curl_easy_strerror(rc);
    return failed;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return classify_response(static_cast<int>(status), answer);
}

}  // namespace hotline::twilio
