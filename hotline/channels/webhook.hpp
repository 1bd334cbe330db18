#pragma once
// What a channel hands back to the HTTP layer: no httplib types, so channels test without a server.
#include <string>

namespace hotline::channels {

struct WebhookResponse {
  int status = 200;
  std::string content_type = "text/xml";
  std::string body;
};

}  // namespace hotline::channels
