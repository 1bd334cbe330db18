// Helpers for bench/run, built on the hotline's own code so the requests are signed exactly as
// the server checks them:
//
//   bench_tool requests --out FILE --count N --senders S --token T --url BASE [--path P] [--run R]
//       N signed inbound SMS, one a line: "<path>\t<X-Twilio-Signature>\t<form body>".
//       Request i comes from sender i % S (+1414700xxxx numbers), with a MessageSid unique to
//       (run, i), so a pool is never a redelivery of another run's pool on the same database;
//       the bodies walk a conversation (greeting, menu numbers, questions in both languages).
//   bench_tool init-db PATH
//       Creates (migrates) the hotline's SQLite database at PATH through the store API.
//   bench_tool session-json
//       Prints a typical stored session, as the engine encodes it (for pre-filling).
//   bench_tool twiml
//       Prints a typical answer, as the SMS channel renders it (for pre-filling `responses`).
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "hotline/channels/sms.hpp"
#include "hotline/engine/session.hpp"
#include "hotline/store/session_store.hpp"
#include "hotline/twilio/form.hpp"
#include "hotline/twilio/signature.hpp"

namespace {

using hotline::twilio::FormFields;

// What people text, in the order one sender texts it; none asks for a person (that opens a
// relay to advocates, a different path) and none is STOP (an opt-out is an fsync'd write).
const std::vector<std::string> kConversation = {
    "hola",
    "1",
    "¿Puedo llamar a la policía si me roban?",
    "2",
    "will police ask about my immigration status",
    "menu",
    "3",
    "how do I file a complaint against an officer",
    "4",
    "qué cambió con la política",
    "gracias",
    "5",
};

std::map<std::string, std::string> options(int argc, char** argv, int first) {
  std::map<std::string, std::string> o;
  for (int i = first; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) {
      std::cerr << "bench_tool: expected --option value, got " << key << "\n";
      std::exit(2);
    }
    o[key.substr(2)] = argv[i + 1];
  }
  return o;
}

std::string need(const std::map<std::string, std::string>& o, const std::string& key) {
  auto it = o.find(key);
  if (it == o.end() || it->second.empty()) {
    std::cerr << "bench_tool: --" << key << " is required\n";
    std::exit(2);
  }
  return it->second;
}

int requests(const std::map<std::string, std::string>& o) {
  const std::string out_path = need(o, "out");
  const long count = std::stol(need(o, "count"));
  const long senders = std::stol(need(o, "senders"));
  const std::string token = need(o, "token");
  const std::string base = need(o, "url");
  const std::string path = o.count("path") ? o.at("path") : "/twilio/sms";
  const std::string run = o.count("run") ? o.at("run") : "0";
  std::ofstream out(out_path, std::ios::binary);
  if (!out) {
    std::cerr << "bench_tool: cannot write " << out_path << "\n";
    return 1;
  }
  char buf[64];
  for (long i = 0; i < count; ++i) {
    const long sender = i % senders;
    const long turn = i / senders;
    std::snprintf(buf, sizeof buf, "+1414%07ld", 7'000'000 + sender);
    const std::string from = buf;
    // 34 characters like a real MessageSid: "SM" + 32 hex digits.
    std::snprintf(buf, sizeof buf, "SM%08lx%08lx%016lx", std::strtoul(run.c_str(), nullptr, 10),
                  static_cast<unsigned long>(sender), static_cast<unsigned long>(i));
    const std::string sid = buf;
    const std::string& body = kConversation[static_cast<std::size_t>(turn) % kConversation.size()];
    FormFields form = {{"ToCountry", "US"},     {"ToState", "WI"},
                       {"SmsMessageSid", sid},  {"NumMedia", "0"},
                       {"ToCity", "MILWAUKEE"}, {"FromZip", "53204"},
                       {"SmsSid", sid},         {"FromState", "WI"},
                       {"SmsStatus", "received"}, {"FromCity", "MILWAUKEE"},
                       {"Body", body},          {"FromCountry", "US"},
                       {"To", "+14145550100"},  {"ToZip", "53202"},
                       {"NumSegments", "1"},    {"MessageSid", sid},
                       {"AccountSid", "AC00000000000000000000000000000000"},
                       {"From", from},          {"ApiVersion", "2010-04-01"}};
    const std::string signature = hotline::twilio::compute_signature(token, base + path, form);
    out << path << '\t' << signature << '\t' << hotline::twilio::encode_form(form) << '\n';
  }
  return out.good() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  try {
    if (command == "requests") return requests(options(argc, argv, 2));
    if (command == "init-db" && argc == 3) {
      hotline::store::open_sqlite(argv[2]);
      return 0;
    }
    if (command == "session-json") {
      hotline::engine::Session s;
      s.step = "after_answer";
      s.lang = hotline::Lang::es;
      s.last_intent = "call_police";
      s.turns = 3;
      std::cout << hotline::engine::encode_session(s) << "\n";
      return 0;
    }
    if (command == "twiml") {
      std::cout << hotline::channels::sms_twiml(
                       "Defensores de inmigrantes en Milwaukee recomiendan llamar a la policía si "
                       "es víctima o testigo de un delito; se restableció la política anterior. "
                       "Peligro: 911. No es asesoría legal. 0: una persona.")
                << "\n";
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_tool: " << e.what() << "\n";
    return 1;
  }
  std::cerr << "usage: bench_tool requests|init-db|session-json|twiml ... (see bench/bench_tool.cpp)\n";
  return 2;
}
