#include "hotline/http/client.hpp"

#include <httplib.h>

namespace hotline::http {
namespace {

// httplib names its errors for programmers ("Connection"); `hotline status` tells people.
std::string in_plain_words(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "nothing is listening there";
    case httplib::Error::ConnectionTimeout: return "no answer in time";
    case httplib::Error::Read: return "the connection closed before an answer";
    default: return "HTTP client error: " + httplib::to_string(error);
  }
}

}  // namespace

GetResult get(const std::string& base_url, const std::string& path, const std::string& bearer_token,
              int timeout_ms) {
  GetResult result;
  if (base_url.rfind("http://", 0) != 0) {
    result.error = "the URL must start with http:// (the server's own port on this machine, not the proxy)";
    return result;
  }
  httplib::Client client(base_url);
  if (!client.is_valid()) {
    result.error = "cannot read the URL " + base_url;
    return result;
  }
  const auto seconds = timeout_ms / 1000, micros = (timeout_ms % 1000) * 1000;
  client.set_connection_timeout(seconds, micros);
  client.set_read_timeout(seconds, micros);
  httplib::Headers headers;
  if (!bearer_token.empty()) headers.emplace("Authorization", "Bearer " + bearer_token);
  auto res = client.Get(path, headers);
  if (!res) {
    result.error = in_plain_words(res.error());
    return result;
  }
  result.status = res->status;
  result.body = res->body;
  return result;
}

}  // namespace hotline::http
