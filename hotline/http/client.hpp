#pragma once
// The one HTTP request the command line makes: `hotline status` asking the local server.
// Here because only hotline/http touches cpp-httplib.
#include <string>

namespace hotline::http {

struct GetResult {
  int status = 0;      // the HTTP status; 0 when there was no answer
  std::string body;
  std::string error;   // why there was no answer, in plain words ("" when there was one)
};

/// GET `base_url` + `path` (base_url: http://host:port, no path), with
/// `Authorization: Bearer <bearer_token>` when the token is not empty.
GetResult get(const std::string& base_url, const std::string& path, const std::string& bearer_token,
              int timeout_ms = 5'000);

}  // namespace hotline::http
