#include "hotline/channels/voice_retries.hpp"

#include <stdexcept>

#include "hotline/crypto/keys.hpp"

namespace hotline::channels {

std::string with_turn(std::string_view path, int turn) {
  std::string url(path);
  if (turn > 0) url += std::string("?") + kTurnParameter + "=" + std::to_string(turn);
  return url;
}

std::optional<int> turn_of(const twilio::FormFields& form) {
  auto value = twilio::field(form, kTurnParameter);
  if (!value || value->empty() || value->size() > 9) return std::nullopt;
  if (value->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoi(*value);
}

std::string callback_request_id(std::string_view secret, std::string_view call_sid,
                                std::string_view route, int turn, const twilio::FormFields& form) {
  if (secret.empty()) throw std::invalid_argument("callback_request_id: the secret is empty");
  // '\n' separates the parts and never occurs in a CallSid or a route; a field value may hold
  // one, but each is preceded by its name and length, so no two callbacks hash the same text.
  std::string message = "voice callback\n";
  message.append(call_sid).append("\n").append(route).append("\n").append(std::to_string(turn));
  for (const char* name : {"Digits", "SpeechResult", "DialCallStatus", "RecordingSid"}) {
    const std::string value = twilio::field(form, name).value_or("");
    message.append("\n").append(name).append("=").append(std::to_string(value.size())).append(":").append(value);
  }
  std::string id(route);
  id.append(".").append(std::to_string(turn)).append(".");
  id.append(crypto::hmac_sha256_hex(secret, message).substr(0, 16));
  return id;
}

}  // namespace hotline::channels
