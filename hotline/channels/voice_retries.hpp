#pragma once
// Recognising a call's callback that Twilio posts again (a retry after a timeout or a dropped
// connection sends the same body to the same URL), so that it is answered with the same TwiML
// and does not advance the call a second time: the voice side of what a MessageSid is for a text.
//
// Every answer the hotline gives a call is numbered (CallState::turn), and the action URLs of
// its TwiML carry the number: `/twilio/voice/gather?turn=3`. A callback's request id is its
// route, that turn and a keyed digest of what the caller pressed or said (or how a <Dial> or
// <Record> ended); the store remembers the reply under it, sealed, as it does an SMS answer. The
// same callback again has the same id; the next answer, even the same key pressed at the same
// step of the flow, follows a later turn and so is new. The signature covers the query string,
// so nobody but Twilio, following our own TwiML, can name a turn.
#include <optional>
#include <string>
#include <string_view>

#include "hotline/twilio/form.hpp"

namespace hotline::channels {

/// The query parameter our action URLs carry the turn in (the server hands it to the channel as
/// a form field after the body's own).
inline constexpr const char* kTurnParameter = "turn";

/// `path?turn=N`, or the path alone for turn 0 (a reply nobody numbered: `hotline simulate`).
std::string with_turn(std::string_view path, int turn);

/// The turn a callback's URL names: nullopt when it names none (TwiML served before turns were
/// numbered) or something we never write (not 1 to 9 digits).
std::optional<int> turn_of(const twilio::FormFields& form);

/// The id the store remembers a callback's reply under: "<route>.<turn>.<16 hex>", the hex a
/// digest keyed by `secret` of the CallSid, route, turn and the callback's answer fields
/// (Digits, SpeechResult, DialCallStatus, RecordingSid), so it says nothing of what was pressed or
/// said and differs from call to call. Throws std::invalid_argument for an empty secret.
std::string callback_request_id(std::string_view secret, std::string_view call_sid,
                                std::string_view route, int turn, const twilio::FormFields& form);

}  // namespace hotline::channels
