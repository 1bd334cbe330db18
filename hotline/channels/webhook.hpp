#pragma once
// What a channel hands back to the HTTP layer: no httplib types, so channels test without a server.
#include <functional>
#include <string>

#include "hotline/common/lang.hpp"

namespace hotline::channels {

struct WebhookResponse {
  int status = 200;
  std::string content_type = "text/xml";
  std::string body;
};

/// Told after each conversation turn the engine answered, for metrics: the channel, the
/// engine's intent ("" when none matched) and the turn's language. Never a number or text.
using TurnObserver = std::function<void(Channel channel, const std::string& intent, Lang lang)>;

}  // namespace hotline::channels
