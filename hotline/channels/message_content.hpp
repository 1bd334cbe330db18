#pragma once
// What an inbound message webhook brought, as far as the answer depends on it: the words to
// read, and whether (and what) something else came instead of them or with them. Twilio's
// names: `Body`; a WhatsApp quick-reply button's `ButtonText` / `ButtonPayload`; `NumMedia` and
// `MediaContentType0` (audio/ogg for a voice note, image/jpeg…); a location pin's `Latitude`,
// `Longitude`, `Address`, `Label`. Media URLs, coordinates, ProfileName and WaId are never read
// into anything kept or logged.
#include <string>

#include "hotline/engine/engine.hpp"
#include "hotline/twilio/form.hpp"

namespace hotline::channels {

struct MessageContent {
  std::string text;  // what the person wrote, or the button they tapped
  bool has_media = false;
  engine::Attachment attachment = engine::Attachment::none;
};

/// The content of a message webhook:
/// - the text is `Body`; when that is empty, a tapped button's `ButtonText` (what it said to
///   them), else its `ButtonPayload`, as if typed;
/// - a location pin (`Latitude` or `Longitude`) is Attachment::location with no text: the
///   address or place name Twilio may send with it is the pin's, not words to the hotline;
/// - media (`NumMedia` > 0) is named by its first part's type: audio/* a voice note, image/*
///   a picture, anything else `other`.
MessageContent message_content(const twilio::FormFields& form);

}  // namespace hotline::channels
