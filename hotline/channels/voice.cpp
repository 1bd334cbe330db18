#include "hotline/channels/voice.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <istream>
#include <ostream>
#include <nlohmann/json.hpp>

#include "hotline/channels/address.hpp"
#include "hotline/channels/daily_counts.hpp"
#include "hotline/channels/sms.hpp"
#include "hotline/channels/voice_retries.hpp"
#include "hotline/common/log.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/nlu/nlu.hpp"
#include "hotline/nlu/understand.hpp"
#include "hotline/twilio/twiml.hpp"

namespace hotline::channels {
namespace {

constexpr std::int64_t kHourMs = 60 * 60 * 1000;
// The language menu is asked at most this many more times, then the default language is used.
constexpr int kLanguageMenuRetries = 2;
// A caller who says nothing this many times in all reaches a person (or voicemail): they may be
// unable to speak, and two minutes of menus is too long for someone in trouble.
constexpr int kMaxSilences = 3;

const char* phase_name(CallState::Phase p) {
  switch (p) {
    case CallState::Phase::language: return "language";
    case CallState::Phase::flow: return "flow";
    case CallState::Phase::connecting: return "connecting";
    case CallState::Phase::voicemail: return "voicemail";
    case CallState::Phase::done: return "done";
  }
  return "flow";
}

std::optional<CallState::Phase> phase_from(const std::string& name) {
  for (auto p : {CallState::Phase::language, CallState::Phase::flow, CallState::Phase::connecting,
                 CallState::Phase::voicemail, CallState::Phase::done}) {
    if (name == phase_name(p)) return p;
  }
  return std::nullopt;
}

const char* then_name(VoiceReply::Then t) {
  switch (t) {
    case VoiceReply::Then::gather: return "gather";
    case VoiceReply::Then::dial: return "dial";
    case VoiceReply::Then::record: return "record";
    case VoiceReply::Then::hangup: return "hangup";
    case VoiceReply::Then::nothing: return "nothing";
  }
  return "nothing";
}

void say(VoiceReply& reply, const VoiceContext& ctx, Lang lang, const std::string& key) {
  std::string text = ctx.bundle.prompts.render(lang, key, Channel::voice, ctx.bundle.details);
  if (!text.empty()) reply.say.push_back({lang, key, std::move(text)});
}

// Callers say numbers as often as they press them.
std::string spoken_digit(const std::string& text) {
  static const std::pair<const char*, const char*> kWords[] = {
      {"zero", "0"}, {"cero", "0"}, {"one", "1"},  {"uno", "1"},    {"two", "2"},    {"dos", "2"},
      {"three", "3"}, {"tres", "3"}, {"four", "4"}, {"cuatro", "4"}, {"five", "5"},  {"cinco", "5"}};
  const std::string folded = nlu::fold(text);
  for (const auto& [word, digit] : kWords) {
    if (folded == word) return digit;
  }
  return text;
}

std::vector<std::string> split_hints(const std::string& hints) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= hints.size()) {
    std::size_t comma = hints.find(',', pos);
    if (comma == std::string::npos) comma = hints.size();
    std::string word = hints.substr(pos, comma - pos);
    while (!word.empty() && word.front() == ' ') word.erase(word.begin());
    while (!word.empty() && word.back() == ' ') word.pop_back();
    if (!word.empty()) out.push_back(word);
    pos = comma + 1;
  }
  return out;
}

void gather(VoiceReply& reply, const VoiceContext& ctx, Lang lang,
            const std::vector<std::string>& replies) {
  reply.then = VoiceReply::Then::gather;
  reply.lang = lang;
  reply.hints.clear();
  // Menu digits come by keypad; the step's word replies ("si", "no") help speech recognition.
  for (const auto& r : replies) {
    if (r.find_first_not_of("0123456789") != std::string::npos) reply.hints.push_back(r);
  }
  for (auto& word : split_hints(ctx.settings.of(lang).hints)) reply.hints.push_back(std::move(word));
}

std::vector<routing::Advocate> on_shift(const VoiceContext& ctx, Lang lang) {
  if (!ctx.roster) return {};
  std::vector<routing::Advocate> out;
  for (auto& a : ctx.roster->on_shift(lang, Channel::voice, ctx.now_ms)) {
    if (a.voice && !a.phone.empty()) out.push_back(std::move(a));
  }
  return out;
}

// "Nobody can answer": when someone will call back (only what the roster says), then record.
void offer_voicemail(VoiceReply& reply, const VoiceContext& ctx, CallState& call, Lang lang) {
  say(reply, ctx, lang, "voice_no_answer");
  if (ctx.roster && on_shift(ctx, lang).empty()) {
    auto next = ctx.roster->next_shift_start(lang, Channel::voice, ctx.now_ms);
    if (next && *next > ctx.now_ms && *next - ctx.now_ms <= kHourMs) {
      say(reply, ctx, lang, "voice_next_shift_soon");
    }
    std::string hours = ctx.roster->call_hours_text(lang);  // when someone takes calls, not texts
    if (!hours.empty()) {
      say(reply, ctx, lang, "voice_hours");
      reply.say.push_back({lang, "", hours});
    }
  }
  say(reply, ctx, lang, "voice_leave_message");
  reply.then = VoiceReply::Then::record;
  reply.lang = lang;
  call.phase = CallState::Phase::voicemail;
}

void connect(VoiceReply& reply, const VoiceContext& ctx, CallState& call, Lang lang) {
  auto advocates = on_shift(ctx, lang);
  if (advocates.empty()) {
    offer_voicemail(reply, ctx, call, lang);
    return;
  }
  reply.dial.clear();
  for (const auto& a : advocates) {
    if (reply.dial.size() == kMaxDialNumbers) break;
    reply.dial.push_back(a.phone);
  }
  reply.then = VoiceReply::Then::dial;
  reply.lang = lang;
  call.phase = CallState::Phase::connecting;
}

// One engine turn, its events turned into what the caller hears next.
VoiceReply run_flow(const VoiceContext& ctx, CallState& call, const std::string& text) {
  engine::Input input{text, Channel::voice, false, false};
  const Lang lang = call.session.lang.value_or(ctx.settings.default_language);
  engine::Outcome outcome = engine::step(ctx.bundle, call.session, input, {lang});
  call.session = outcome.session;
  call.phase = CallState::Phase::flow;

  VoiceReply reply;
  reply.intent = outcome.intent;
  reply.step = outcome.step;
  reply.lang = outcome.lang;
  reply.not_understood = outcome.not_understood;
  bool handoff = false, ended = false;
  std::vector<std::string> replies;
  for (const auto& event : outcome.events) {
    if (const auto* s = std::get_if<engine::Say>(&event); s && !s->text.empty()) {
      reply.say.push_back({outcome.lang, s->key, s->text});
    } else if (std::holds_alternative<engine::Handoff>(event)) {
      handoff = true;
    } else if (std::holds_alternative<engine::End>(event)) {
      ended = true;
    } else if (const auto* a = std::get_if<engine::Ask>(&event)) {
      replies = a->replies;
    }
  }
  reply.handoff = handoff;
  if (handoff) {
    connect(reply, ctx, call, outcome.lang);
  } else if (ended || outcome.step.empty()) {
    // A flow that ends still offers a person before the call goes.
    offer_voicemail(reply, ctx, call, outcome.lang);
  } else {
    gather(reply, ctx, outcome.lang, replies);
  }
  return reply;
}

// The bilingual language menu; `heard` is how many times this call has heard it already.
//
// Twilio recognises speech in one language per <Gather>, so one menu cannot listen in both. Keys
// work whatever it listens in, and the hints name both languages in both. The first menu listens
// in the default language (config: most callers speak it, and a question asked straight away is
// only understood in the language it is recognised in); a menu asked again listens in the other
// one, so a caller the first recogniser did not understand is heard in their own language next.
// Alternating rather than one fixed choice: neither recogniser can be relied on to write the
// other language's words (a Spanish one hearing "English" was issue #17), and a fixed English one
// would garble the questions most callers ask straight away in Spanish.
VoiceReply language_menu(const VoiceContext& ctx, int heard) {
  VoiceReply reply;
  say(reply, ctx, Lang::en, "voice_welcome");
  say(reply, ctx, Lang::es, "voice_welcome");
  reply.then = VoiceReply::Then::gather;
  const Lang first = ctx.settings.default_language;
  reply.lang = heard % 2 == 0 ? first : (first == Lang::es ? Lang::en : Lang::es);
  reply.hints = {"English", "Spanish", "inglés", "español"};
  reply.step = "language";
  return reply;
}

VoiceReply start_flow(const VoiceContext& ctx, CallState& call, Lang lang, const std::string& text) {
  call.session = engine::Session{};
  call.session.lang = lang;
  return run_flow(ctx, call, text);
}

// "In English please", "español por favor", "inglés": a language named in a short answer to the
// language menu, however speech recognition wrote it.
std::optional<Lang> named_language(const std::string& text) {
  const auto words = nlu::tokens(text);
  if (words.size() > 5) return std::nullopt;
  bool en = false, es = false;
  for (const auto& w : words) {
    en = en || w == "english" || w == "ingles" || w == "inglis";
    es = es || w == "spanish" || w == "espanol" || w == "castellano";
  }
  if (en == es) return std::nullopt;
  return en ? Lang::en : Lang::es;
}

// The third silence of a call: a person, or voicemail when nobody is on shift.
VoiceReply connect_after_silences(const VoiceContext& ctx, CallState& call) {
  VoiceReply reply;
  const Lang lang = call.session.lang.value_or(ctx.settings.default_language);
  if (!call.session.lang) {
    say(reply, ctx, Lang::en, "advocate");
    say(reply, ctx, Lang::es, "advocate");
  } else {
    say(reply, ctx, lang, "advocate");
  }
  reply.step = call.session.step;
  connect(reply, ctx, call, lang);
  return reply;
}

VoiceReply choose_language(const VoiceContext& ctx, CallState& call, const std::string& text) {
  const std::string folded = nlu::fold(text);
  if (folded == "1") return start_flow(ctx, call, Lang::en, "");
  if (folded == "2") return start_flow(ctx, call, Lang::es, "");
  if (folded == "0") return start_flow(ctx, call, ctx.settings.default_language, "0");
  auto keyword = nlu::match_keyword(text);
  if (keyword.keyword == nlu::Keyword::english) return start_flow(ctx, call, Lang::en, "");
  if (keyword.keyword == nlu::Keyword::spanish) return start_flow(ctx, call, Lang::es, "");
  if (auto named = named_language(text)) return start_flow(ctx, call, *named, "");
  // Every menu so far was answered by a silence or something not understood, each counted once.
  const auto menus_heard = [&call] { return call.tries + call.silences; };
  if (folded.empty()) return language_menu(ctx, menus_heard());  // silence: both languages again (counted by the caller)
  // A caller who asks straight away ("¿puedo llamar a la policía?") is answered in that language.
  std::optional<Lang> lang = ctx.bundle.classifier.empty()
                                 ? nlu::guess_language(ctx.bundle.intents, text)
                                 : nlu::clear_language(ctx.bundle.classifier, text);
  if (!lang && ctx.bundle.classifier.empty()) {
    if (auto match = nlu::classify(ctx.bundle.intents, text)) lang = match->lang;
  }
  if (lang) return start_flow(ctx, call, *lang, text);
  if (++call.tries > kLanguageMenuRetries) {
    return start_flow(ctx, call, ctx.settings.default_language, "");
  }
  return language_menu(ctx, menus_heard());
}

}  // namespace

std::string encode_call(const CallState& call) {
  nlohmann::json j = {{"v", 1},
                      {"phase", phase_name(call.phase)},
                      {"tries", call.tries},
                      {"silences", call.silences},
                      {"turn", call.turn},
                      {"session", engine::encode_session(call.session)}};
  return j.dump();
}

std::optional<CallState> decode_call(const std::string& data) {
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != 1) return std::nullopt;
  try {
    CallState call;
    auto phase = phase_from(j.value("phase", ""));
    if (!phase) return std::nullopt;
    call.phase = *phase;
    call.tries = j.value("tries", 0);
    call.silences = j.value("silences", 0);
    call.turn = j.value("turn", 0);  // 0 in a call stored before answers were numbered
    auto session = engine::decode_session(j.value("session", ""));
    if (!session) return std::nullopt;
    call.session = *session;
    return call;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

VoiceReply voice_start(const VoiceContext& ctx, CallState& call) {
  call = CallState{};
  return language_menu(ctx, 0);
}

VoiceReply voice_gather(const VoiceContext& ctx, CallState& call, const std::string& raw_text) {
  const std::string text = spoken_digit(raw_text);
  if (nlu::fold(text).empty() &&
      (call.phase == CallState::Phase::language || call.phase == CallState::Phase::flow) &&
      ++call.silences >= kMaxSilences) {
    return connect_after_silences(ctx, call);
  }
  switch (call.phase) {
    case CallState::Phase::language:
      return choose_language(ctx, call, text);
    case CallState::Phase::done: {
      VoiceReply reply;
      reply.then = VoiceReply::Then::hangup;
      reply.ended = true;
      return reply;
    }
    default:
      break;
  }
  const std::string& after_retries = ctx.bundle.flow.after_retries;
  if (nlu::fold(text).empty() && !after_retries.empty() && call.session.step == after_retries) {
    // Offered a person and still silence: the caller may be unable to speak. Connect them.
    VoiceReply reply;
    const Lang lang = call.session.lang.value_or(ctx.settings.default_language);
    say(reply, ctx, lang, "advocate");
    reply.step = call.session.step;
    connect(reply, ctx, call, lang);
    return reply;
  }
  return run_flow(ctx, call, text);
}

VoiceReply voice_dial_result(const VoiceContext& ctx, CallState& call, const std::string& status) {
  VoiceReply reply;
  const Lang lang = call.session.lang.value_or(ctx.settings.default_language);
  reply.step = call.session.step;
  if (status == "completed" || status == "answered") {
    say(reply, ctx, lang, "voice_goodbye");
    reply.then = VoiceReply::Then::hangup;
    reply.lang = lang;
    reply.ended = true;
    call.phase = CallState::Phase::done;
    return reply;
  }
  offer_voicemail(reply, ctx, call, lang);  // no-answer, busy, failed, canceled, or unknown
  return reply;
}

VoiceReply voice_recorded(const VoiceContext& ctx, CallState& call) {
  VoiceReply reply;
  const Lang lang = call.session.lang.value_or(ctx.settings.default_language);
  say(reply, ctx, lang, "voice_message_saved");
  reply.then = VoiceReply::Then::hangup;
  reply.lang = lang;
  reply.ended = true;
  reply.step = call.session.step;
  call.phase = CallState::Phase::done;
  return reply;
}

std::string voice_twiml(const VoiceReply& reply, const VoiceSettings& settings,
                        const std::string& caller_id) {
  twilio::TwiML says;
  for (const auto& line : reply.say) {
    const VoiceLanguage& l = settings.of(line.lang);
    twilio::Attributes attrs{{"language", l.language}};
    if (!l.voice.empty()) attrs.emplace_back("voice", l.voice);
    says.verb("Say", attrs, line.text);
  }
  const VoiceLanguage& l = settings.of(reply.lang);
  switch (reply.then) {
    case VoiceReply::Then::gather: {
      std::string hints;
      for (const auto& h : reply.hints) hints += (hints.empty() ? "" : ", ") + h;
      const std::string action = with_turn(kVoiceGatherPath, reply.turn);
      twilio::Attributes attrs{{"input", "dtmf speech"}, {"action", action},
                               {"method", "POST"},       {"language", l.language}};
      if (!hints.empty()) attrs.emplace_back("hints", hints);
      attrs.insert(attrs.end(), {{"numDigits", "1"},
                                 {"timeout", "5"},
                                 {"speechTimeout", "auto"},
                                 {"actionOnEmptyResult", "true"}});
      twilio::TwiML result;
      result.nest("Gather", attrs, says);
      // Only reached if Twilio ever skips the action on an empty result: ask again, never hang up.
      // The same URL, so it reads as this gather's empty result (and a retry of it as a retry).
      result.verb("Redirect", {{"method", "POST"}}, action);
      return result.str();
    }
    case VoiceReply::Then::dial: {
      twilio::TwiML numbers;
      const std::string whisper = std::string(kVoiceWhisperPath) + "/" + std::string(lang_code(reply.lang));
      for (const auto& number : reply.dial) {
        numbers.verb("Number", {{"url", whisper}, {"method", "POST"}}, number);
      }
      twilio::Attributes attrs{{"action", with_turn(kVoiceDialPath, reply.turn)},
                               {"method", "POST"},
                               {"timeout", std::to_string(settings.ring_seconds)}};
      if (!caller_id.empty()) attrs.emplace_back("callerId", caller_id);
      attrs.emplace_back("answerOnBridge", "true");
      twilio::TwiML result = says;
      result.nest("Dial", attrs, numbers);
      return result.str();
    }
    case VoiceReply::Then::record: {
      twilio::TwiML result = says;
      result.verb("Record", {{"action", with_turn(kVoiceRecordPath, reply.turn)},
                             {"method", "POST"},
                             {"maxLength", std::to_string(settings.voicemail_max_seconds)},
                             {"playBeep", "true"}});
      result.verb("Hangup");
      return result.str();
    }
    case VoiceReply::Then::hangup: {
      twilio::TwiML result = says;
      result.verb("Hangup");
      return result.str();
    }
    case VoiceReply::Then::nothing:
      return says.str();
  }
  return says.str();
}

std::string whisper_twiml(const flow::Bundle& bundle, const VoiceSettings& settings, Lang lang) {
  const VoiceLanguage& l = settings.of(lang);
  twilio::Attributes say_attrs{{"language", l.language}};
  if (!l.voice.empty()) say_attrs.emplace_back("voice", l.voice);
  twilio::TwiML inner;
  inner.verb("Say", say_attrs, bundle.prompts.render(lang, "voice_whisper", Channel::voice, bundle.details));
  twilio::TwiML out;
  out.nest("Gather", {{"input", "dtmf"}, {"action", kVoiceWhisperAcceptPath}, {"method", "POST"},
                      {"numDigits", "1"}, {"timeout", "8"}, {"actionOnEmptyResult", "true"}},
           inner);
  out.verb("Hangup");  // no key: this leg never bridges (it may be a voicemail box)
  return out.str();
}

std::string whisper_answer_twiml(const std::string& digits) {
  twilio::TwiML out;
  if (digits != "1") out.verb("Hangup");
  return out.str();  // an empty response ends the whisper and bridges the call
}

void simulate_call(const flow::Bundle& bundle, const VoiceSettings& settings,
                   std::optional<Lang> lang, bool json, std::istream& in, std::ostream& out,
                   const routing::Roster* roster, std::int64_t now_ms) {
  VoiceContext ctx{bundle, settings, roster, now_ms};
  CallState call;
  auto print = [&](const std::string& input, const VoiceReply& reply) {
    if (json) {
      nlohmann::json said = nlohmann::json::array();
      for (const auto& line : reply.say) {
        said.push_back({{"lang", lang_code(line.lang)}, {"key", line.key}, {"text", line.text}});
      }
      nlohmann::json j = {{"input", input},          {"say", said},
                          {"lang", lang_code(reply.lang)}, {"then", then_name(reply.then)},
                          {"intent", reply.intent},  {"node", reply.step},
                          {"hints", reply.hints},    {"ringing", reply.dial.size()}};
      out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
      return;
    }
    for (const auto& line : reply.say) out << "[" << lang_code(line.lang) << "] " << line.text << "\n";
    switch (reply.then) {
      case VoiceReply::Then::gather:
        out << "(waiting: press a key or speak, " << settings.of(reply.lang).language << ")\n";
        break;
      case VoiceReply::Then::dial:
        // Simulated: nobody's phone rings. Counted, never listed: the numbers are advocates'.
        out << "(connecting you to an advocate: " << reply.dial.size()
            << " on shift would ring, simulated, nobody is called; type 'answered' or 'no-answer')\n";
        break;
      case VoiceReply::Then::record:
        out << "(recording a message after the beep; type anything to finish)\n";
        break;
      case VoiceReply::Then::hangup:
      case VoiceReply::Then::nothing:
        out << "(call ended; the next line starts a new call)\n";
        break;
    }
    out << "\n" << std::flush;
  };

  VoiceReply reply = voice_start(ctx, call);
  print("", reply);
  if (lang) {
    reply = voice_gather(ctx, call, *lang == Lang::en ? "1" : "2");
    print(*lang == Lang::en ? "1" : "2", reply);
  }
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    switch (reply.then) {
      case VoiceReply::Then::dial:
        reply = voice_dial_result(ctx, call, nlu::fold(line) == "answered" ? "completed" : "no-answer");
        break;
      case VoiceReply::Then::record:
        reply = voice_recorded(ctx, call);
        break;
      case VoiceReply::Then::hangup:
      case VoiceReply::Then::nothing:
        reply = voice_start(ctx, call);
        print("", reply);
        reply = voice_gather(ctx, call, line);
        break;
      case VoiceReply::Then::gather:
        reply = voice_gather(ctx, call, line);
        break;
    }
    print(line, reply);
  }
}

VoiceChannel::VoiceChannel(flow::BundleHolder& bundles, store::SessionStore& store,
                           VoiceSettings settings, Clock clock, RosterProvider roster,
                           VoicemailHook on_voicemail)
    : bundles_(bundles),
      store_(store),
      settings_(std::move(settings)),
      clock_(std::move(clock)),
      roster_(std::move(roster)),
      on_voicemail_(std::move(on_voicemail)) {}

std::string call_key(const std::string& secret, const std::string& call_sid) {
  if (secret.empty()) throw std::invalid_argument("call_key: the secret is empty");
  return "v_" + crypto::hmac_sha256_hex(secret, "call:" + call_sid).substr(0, 32);
}


namespace {

WebhookResponse twiml_response(std::string body) { return {200, "text/xml", std::move(body)}; }

WebhookResponse bad_call_request(const std::string& route, const std::string& reason) {
  log::warn("voice_rejected", {{"route", route}, {"reason", reason}});
  return {400, "text/plain; charset=utf-8", reason + "\n"};
}

std::optional<std::string> valid_call_sid(const twilio::FormFields& form) {
  auto sid = twilio::field(form, "CallSid");
  if (!sid || sid->empty() || sid->size() > 64 || sid->find_first_of("\r\n") != std::string::npos) {
    return std::nullopt;
  }
  return sid;
}

bool call_is_over(const twilio::FormFields& form) {
  const std::string status = twilio::field(form, "CallStatus").value_or("");
  return status == "completed" || status == "canceled" || status == "failed" ||
         status == "busy" || status == "no-answer";
}

}  // namespace

WebhookResponse VoiceChannel::incoming(const twilio::FormFields& form) { return handle(Kind::incoming, form); }
WebhookResponse VoiceChannel::gather(const twilio::FormFields& form) { return handle(Kind::gather, form); }
WebhookResponse VoiceChannel::dial(const twilio::FormFields& form) { return handle(Kind::dial, form); }
WebhookResponse VoiceChannel::record(const twilio::FormFields& form) { return handle(Kind::record, form); }

WebhookResponse VoiceChannel::handle(Kind kind, const twilio::FormFields& form) {
  try {
    return handle_call(kind, form);
  } catch (const store::StoreError&) {
    // The store could not keep this step of the call: the app answers 503, so that Twilio
    // plays the number's Fallback URL (the 911 line, "call again later") and a proxy may try
    // another replica. An apology here would hide the failure from both.
    throw;
  } catch (const std::exception& e) {
    // A bug: Twilio's own "application error" message must never reach a caller: apologise.
    log::error("voice_failed", {{"error", e.what()}});
    auto bundle = bundles_.get();
    VoiceReply reply;
    for (Lang lang : kAllLangs) {
      std::string text = bundle->prompts.render(lang, "voice_error", Channel::voice, bundle->details);
      if (!text.empty()) reply.say.push_back({lang, "voice_error", text});
    }
    reply.then = VoiceReply::Then::hangup;
    return twiml_response(voice_twiml(reply, settings_, ""));
  }
}

namespace {

// What the daily report counts of a call: the call itself when it comes in (a conversation, its
// language not known yet), and each answer the flow heard (a message, under its topic), whether
// it was understood and whether it asked for a person. Voicemails are counted by their relay.
void count_call(store::TurnRecord& record, bool came_in, bool answered, const VoiceReply& reply,
                const routing::Roster& roster, std::int64_t now) {
  if (!came_in && !answered) return;
  const std::string day = roster.local_date(now);
  if (came_in) {
    count(record, day, store::kCountConversations, "", "", "voice");
    return;
  }
  const std::string lang = count_lang(reply.lang);
  count(record, day, store::kCountMessages, reply.intent, lang, "voice");
  if (reply.not_understood) count(record, day, store::kCountNotUnderstood, reply.intent, lang, "voice");
  if (reply.handoff) count(record, day, store::kCountHandoffsAsked, reply.intent, lang, "voice");
}

}  // namespace

WebhookResponse VoiceChannel::handle_call(Kind kind, const twilio::FormFields& form) {
  static const char* kRoutes[] = {"incoming", "gather", "dial", "record"};
  const std::string route = kRoutes[static_cast<int>(kind)];
  auto sid = valid_call_sid(form);
  if (!sid) return bad_call_request(route, "missing or invalid CallSid");

  // Which answer of the call this callback follows: a new call is its first; any other names the
  // turn in its URL. No turn (TwiML served before answers were numbered): handled as new, as before.
  const std::optional<int> turn = kind == Kind::incoming ? std::optional<int>(0) : turn_of(form);
  const std::string request_id =
      turn ? callback_request_id(settings_.secret, *sid, route, *turn, form) : std::string();

  auto bundle = bundles_.get();
  const std::string key = call_key(*sid);
  const auto call_lock = store_.lock_key(key);  // one callback of a call at a time, on any replica
  const std::int64_t now = clock_();

  store::ContactView view = store_.read_contact(key, request_id);
  if (view.earlier_response) {
    // Twilio posted this callback again: the same answer, and the call does not move on.
    log::info("voice_retry", {{"call", key}, {"route", route}, {"turn", *turn}});
    return twiml_response(std::move(*view.earlier_response));
  }
  std::optional<CallState> call;
  if (view.session && now - view.session->updated_ms < settings_.call_max_ms) {
    call = decode_call(view.session->data);
  }
  std::shared_ptr<const routing::Roster> roster = roster_ ? roster_() : nullptr;
  VoiceContext ctx{*bundle, settings_, roster.get(), now};

  store::TurnRecord record;  // with a voicemail: its relay and offers, committed with the call's step
  record.now_ms = now;       // before open_voicemail, which dates the voicemail and its offers by it
  std::unique_ptr<store::KeyLock> relay_lock;
  // The call's step and the answer given, kept together under the callback's request id.
  auto commit = [&](const std::string& data, const std::string& response) {
    record.contact_key = key;
    record.session_data = data;
    record.request_id = request_id;
    record.response = response;
    record.now_ms = now;
    store_.commit_turn(record);
    if (!record.outbound.empty() && on_outbound_) on_outbound_();
  };

  if (kind == Kind::record) {
    CallState state = call.value_or(CallState{});
    auto url = twilio::field(form, "RecordingUrl").value_or("");
    if (!url.empty()) {
      VoicemailNotice notice;
      notice.call_key = key;
      notice.lang = state.session.lang.value_or(settings_.default_language);
      notice.recording_url = url;
      notice.recording_sid = twilio::field(form, "RecordingSid").value_or("");
      notice.duration_seconds = std::atoi(twilio::field(form, "RecordingDuration").value_or("0").c_str());
      notice.caller = twilio::field(form, "From").value_or("");
      notice.notify = on_shift(ctx, notice.lang);
      log::info("voicemail", {{"call", key},
                              {"lang", lang_code(notice.lang)},
                              {"seconds", notice.duration_seconds},
                              {"notify", notice.notify.size()},
                              {"hook", static_cast<bool>(on_voicemail_)}});
      if (on_voicemail_) on_voicemail_(notice);
      // A voicemail is a relay of its own: a code, offered by text to the advocates on shift who
      // take calls (or when a shift starts), taken like a text and called back with #call.
      // Advocates never get the caller's number nor Twilio's recording link.
      if (relay_) {
        relay_lock = relay_->lock();  // after the call's lock, as everywhere
        relay_->open_voicemail({key, notice.caller, notice.lang, url, notice.duration_seconds}, record);
      }
    }
  }

  // The caller hung up (Twilio still posts the action): forget the call, answer valid TwiML.
  if (kind != Kind::incoming && call_is_over(form)) {
    const std::string nothing = twilio::TwiML().str();
    commit("", nothing);
    log::info("voice", {{"call", key}, {"route", route}, {"ended", "caller hung up"}});
    return twiml_response(nothing);
  }

  VoiceReply reply;
  CallState state = call.value_or(CallState{});
  switch (kind) {
    case Kind::incoming:
      reply = voice_start(ctx, state);
      break;
    case Kind::gather:
      if (!call) {
        // Unknown or expired call: start over rather than leave the caller in silence.
        reply = voice_start(ctx, state);
        break;
      } else {
        std::string text = twilio::field(form, "Digits").value_or("");
        bool low_confidence = false;
        if (text.empty()) {
          text = truncate_utf8(twilio::field(form, "SpeechResult").value_or(""), kMaxBodyBytes);
          auto confidence = twilio::field(form, "Confidence");
          if (!text.empty() && confidence && !confidence->empty()) {
            char* end = nullptr;
            double c = std::strtod(confidence->c_str(), &end);
            if (end == confidence->c_str() || c < settings_.min_confidence) {
              low_confidence = true;
              text.clear();
            }
          }
        } else if (text.size() > 16) {
          text.resize(16);
        }
        if (low_confidence) log::info("voice_low_confidence", {{"call", key}});
        reply = voice_gather(ctx, state, text);
      }
      break;
    case Kind::dial:
      reply = voice_dial_result(ctx, state, twilio::field(form, "DialCallStatus").value_or(""));
      break;
    case Kind::record:
      reply = voice_recorded(ctx, state);
      break;
  }

  // Numbered, so that the callback this answer's TwiML leads to says which answer it follows.
  reply.turn = state.turn = std::max(state.turn, turn.value_or(0)) + 1;
  count_call(record, kind == Kind::incoming, kind == Kind::gather, reply, roster ? *roster : *routing::empty_roster(), now);
  const std::string caller_id =
      !settings_.caller_id.empty() ? settings_.caller_id : twilio::field(form, "To").value_or("");
  std::string twiml = voice_twiml(reply, settings_, caller_id);
  commit(reply.ended ? "" : encode_call(state), twiml);
  log::info("voice", {{"call", key},
                      {"route", route},
                      {"known", call.has_value()},
                      {"phase", phase_name(state.phase)},
                      {"intent", reply.intent},
                      {"step", reply.step},
                      {"lang", lang_code(reply.lang)},
                      {"then", then_name(reply.then)},
                      {"turn", reply.turn},
                      {"ringing", reply.dial.size()}});
  // Counted in the caller's language as known: a language menu asked again listens in the
  // other language (reply.lang), which says nothing about the caller's.
  if (kind == Kind::gather && on_turn_) {
    on_turn_(Channel::voice, reply.intent, state.session.lang.value_or(settings_.default_language));
  }
  return twiml_response(std::move(twiml));
}

WebhookResponse VoiceChannel::status(const twilio::FormFields& form) {
  auto sid = valid_call_sid(form);
  if (!sid) return bad_call_request("status", "missing or invalid CallSid");
  const std::string key = call_key(*sid);
  if (call_is_over(form)) {
    const auto call_lock = store_.lock_key(key);
    store::TurnRecord record;
    record.contact_key = key;
    record.now_ms = clock_();
    store_.commit_turn(record);  // empty session data erases the call
    log::info("voice_status", {{"call", key}, {"status", twilio::field(form, "CallStatus").value_or("")}});
  }
  return twiml_response(twilio::TwiML().str());
}

WebhookResponse VoiceChannel::whisper(const twilio::FormFields& form, Lang lang) {
  if (!valid_call_sid(form)) return bad_call_request("whisper", "missing or invalid CallSid");
  return twiml_response(whisper_twiml(*bundles_.get(), settings_, lang));
}

WebhookResponse VoiceChannel::whisper_accept(const twilio::FormFields& form) {
  if (!valid_call_sid(form)) return bad_call_request("whisper_accept", "missing or invalid CallSid");
  const std::string digits = twilio::field(form, "Digits").value_or("");
  log::info("voice_whisper", {{"accepted", digits == "1"}});
  return twiml_response(whisper_answer_twiml(digits));
}

}  // namespace hotline::channels
