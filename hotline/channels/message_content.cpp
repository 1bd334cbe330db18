#include "hotline/channels/message_content.hpp"

#include <string_view>

namespace hotline::channels {
namespace {

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

engine::Attachment attachment_of(std::string_view content_type) {
  if (content_type.starts_with("audio/")) return engine::Attachment::voice_note;
  if (content_type.starts_with("image/")) return engine::Attachment::picture;
  return engine::Attachment::other;
}

}  // namespace

MessageContent message_content(const twilio::FormFields& form) {
  MessageContent content;
  auto present = [&](const char* name) { return !blank(twilio::field(form, name).value_or("")); };
  if (present("Latitude") || present("Longitude")) {
    content.has_media = true;
    content.attachment = engine::Attachment::location;
    return content;
  }
  content.text = twilio::field(form, "Body").value_or("");
  if (blank(content.text)) {
    if (present("ButtonText")) {
      content.text = *twilio::field(form, "ButtonText");
    } else if (present("ButtonPayload")) {
      content.text = *twilio::field(form, "ButtonPayload");
    }
  }
  const std::string num_media = twilio::field(form, "NumMedia").value_or("0");
  if (!blank(num_media) && num_media.find_first_not_of("0 ") != std::string::npos) {
    content.has_media = true;
    content.attachment = attachment_of(twilio::field(form, "MediaContentType0").value_or(""));
  }
  return content;
}

}  // namespace hotline::channels
