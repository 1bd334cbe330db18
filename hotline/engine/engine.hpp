#pragma once
// The interpreter: (bundle, session, input) -> (new session, events). Pure: no I/O, no clock,
// no randomness, so every conversation can be replayed in a test or in `hotline simulate`.
#include <string>
#include <variant>
#include <vector>

#include "hotline/engine/session.hpp"
#include "hotline/flow/bundle.hpp"

namespace hotline::engine {

/// What came with a message besides its text (or instead of it), as far as the answer differs.
enum class Attachment {
  none,
  picture,     // an image (MMS, WhatsApp)
  voice_note,  // audio: a WhatsApp voice note, a recording sent by MMS
  location,    // a WhatsApp location pin (its coordinates are never passed on)
  other,       // a video, a document, a contact card...
};

struct Input {
  std::string text;  // the message, the speech transcript, or the keypad digits
  Channel channel = Channel::sms;
  bool has_media = false;  // something other than text arrived with (or instead of) the text
  bool opted_out = false;  // the number had opted out of messages (SMS)
  /// Twilio itself answers the English opt-out words (STOP, UNSUBSCRIBE…) on SMS long codes, so
  /// the hotline stays silent on those; on WhatsApp it does not, and the hotline confirms them.
  bool twilio_confirms_opt_out = true;
  bool awaiting_advocate = false;  // asked for a person, and nobody has taken the request yet
  bool after_hours = false;        // ...and nobody is on shift now
  prompts::Variables runtime;      // placeholders the channel knows ({hours})
  Attachment attachment = Attachment::none;  // what the media was (has_media says whether any)
  /// The number the person wrote to takes calls, and advocates take calls: a voice note is
  /// told it can call (`media_voice_note_call`).
  bool calls_welcome = false;
};

/// Something to say to the person. `key` is the prompt it came from.
struct Say {
  std::string key;
  std::string text;
  bool new_message = false;  // starts a second SMS (a second answer), rather than joining the first
};
/// The conversation now waits for the person's reply at `step` (voice: gather input).
struct Ask {
  std::string step;
  std::vector<std::string> replies;  // what may be answered, as hints for speech recognition
};
/// The person should be connected to an advocate.
struct Handoff {
  std::string to;  // "advocate"
};
struct OptOut {};
struct OptIn {};
/// The conversation is over; the session can be forgotten.
struct End {};

using Event = std::variant<Say, Ask, Handoff, OptOut, OptIn, End>;

struct Outcome {
  Session session;
  std::vector<Event> events;
  Lang lang = Lang::en;    // the language the replies are in
  bool bilingual = false;  // the language is not known yet; the reply was in both
  std::string intent;      // what the message was understood as ("" when nothing matched);
                           // a menu number: the intent whose answer it chose
  bool not_understood = false;      // the reply said so (and asked again, or offered a person)
  std::string second_intent;        // a second question in the same message, answered after
  bool emergency_first = false;     // it might be an emergency: the 911 line came first
  std::vector<std::string> asked;   // unsure: the two intents offered as a numbered choice
  bool lang_switched = false;       // the message was clearly in the other language
  std::string step;        // where the conversation now waits ("" once ended)
};

struct Options {
  Lang default_lang = Lang::en;  // for replies when nothing tells the language (e.g. "1")
};

/// Runs one turn. A session whose step no longer exists (the flow was edited) restarts at
/// the start step with a short note, never an error.
Outcome step(const flow::Bundle& bundle, Session session, const Input& input,
             const Options& options = {});

/// All the text said in an outcome, joined with blank lines (what a call hears).
std::string spoken_text(const Outcome& outcome);

/// The text messages an outcome sends: usually one; a second answer starts another, and so
/// does a prompt that would take the reply past three SMS segments.
std::vector<std::string> message_texts(const Outcome& outcome);

}  // namespace hotline::engine
