#include "hotline/cli/commands.hpp"
#include "hotline/cli/healthcheck.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hotline/app/app.hpp"
#include "hotline/app/data_folder.hpp"
#include "hotline/app/store_wait.hpp"
#include "hotline/app/last_good.hpp"
#include "hotline/app/servable.hpp"
#include "hotline/cli/bundle_root.hpp"
#include "hotline/cli/status.hpp"
#include "hotline/cli/roster_command.hpp"
#include "hotline/channels/address.hpp"
#include "hotline/channels/limits.hpp"
#include "hotline/cli/report.hpp"
#include "hotline/common/log.hpp"
#include "hotline/config/config.hpp"
#include "hotline/crypto/keys.hpp"
#include "hotline/engine/engine.hpp"
#include "hotline/eval/evaluate.hpp"
#include "hotline/nlu/examples.hpp"
#include "hotline/nlu/understand.hpp"
#include "hotline/flow/graph.hpp"
#include "hotline/flowtest/flowtest.hpp"
#include "hotline/prompts/segments.hpp"
#include "hotline/routing/roster.hpp"
#include "hotline/store/serve_lock.hpp"

namespace hotline::cli {
namespace {

constexpr const char* kMainHelp = R"(hotline: a bilingual SMS and voice hotline backend for Twilio

Usage: hotline <command> [options]

Commands:
  serve      answer Twilio webhooks (POST /twilio/sms) over HTTP
  simulate   try the flows in the terminal: one message per line on stdin
  check      validate flows, prompts, intents and configuration; run conversation tests
  eval       measure how well the hotline understands labelled messages
  graph      draw the flow as a Graphviz DOT (or SVG) picture
  forget     erase everything kept about one phone number
  status     what the running server serves, and why an edit is not live
  roster     who takes texts and calls now, and the week's gaps by language and channel
  report     what people asked, per day or week: counts only, from the database
  healthcheck  exit 0 when the server on the configured port answers GET /healthz (for Docker)

Run `hotline <command> --help` for a command's options. Run them in the hotline folder (the
one holding flows/ and prompts/) or any folder inside it: each finds that folder on its own
(--root DIR, or check's and graph's DIR, names another).

Environment:
  TWILIO_AUTH_TOKEN   checks X-Twilio-Signature; without it `serve` runs in local mode
  TWILIO_ACCOUNT_SID  the Twilio account (for sending messages)
  TWILIO_FROM         the hotline's number (E.164) or Messaging Service SID (MG…) that messages
                      are sent from; without it (and the two above) nothing is sent: relayed
                      texts and voicemail notices wait in the outbox
  TWILIO_WHATSAPP_FROM  the WhatsApp sender (whatsapp:+1…) that messages to WhatsApp texters
                      come from; default: TWILIO_FROM's number as a WhatsApp sender
  TWILIO_API_BASE     Twilio's REST API base URL (default https://api.twilio.com)
  HOTLINE_PUBLIC_URL  the base URL Twilio calls, e.g. https://hotline.example.org
  HOTLINE_SECRET      keys the hashes that contacts are stored under (16+ characters)
  HOTLINE_DB          SQLite file to keep conversations in (default data/hotline.sqlite3; a
                      relative path is under the --root folder), or
                      postgresql://user:password@host/db for replicas sharing one database
  HOTLINE_ADVOCATES   the advocates roster (default config/advocates.yaml; relative: under
                      the --root folder); a file named here must exist
  HOTLINE_CONFIG      configuration file (default config/hotline.yaml)
  HOTLINE_NOW         pins the clock to an ISO 8601 time, for tests
  HOTLINE_ADMIN_TOKEN Bearer token for GET /metrics, GET /admin/status and POST /admin/reload
                      (16+ characters); `hotline status` sends it
  HOTLINE_PORT        the port `serve` listens on and `healthcheck` asks (default: server.port
                      in the configuration, 8080); `serve --port` overrides it
  HOTLINE_DB_WAIT_SECONDS  how long `serve` keeps trying an unreachable PostgreSQL at start,
                      1 s, 2 s, 4 s … apart (default 60; 0: one try)
)";

constexpr const char* kServeHelp = R"(Usage: hotline serve [--port N] [--bind ADDR] [--root DIR] [--config FILE]

Serves the flows in DIR/flows and DIR/prompts (DIR: the hotline folder, found from here up).
  --port N        port to listen on (default HOTLINE_PORT, else server.port in the
                  configuration, 8080; 0 picks a free one and logs it)
  --bind ADDR     address to listen on (default 127.0.0.1)
  --root DIR      where flows/, prompts/ and config/ are (default: found from here up);
                  relative paths in the configuration and in HOTLINE_DB / HOTLINE_ADVOCATES
                  are under it
  --config FILE   configuration file (default DIR/config/hotline.yaml, or HOTLINE_CONFIG)

Starts only when `hotline check` would pass: the same checks, conversation tests included.

Routes: POST /twilio/sms, /twilio/status, /twilio/voice…, GET /healthz, GET /readyz,
GET /metrics and POST /admin/reload (with HOTLINE_ADMIN_TOKEN; without it /metrics answers
127.0.0.1/::1 only and /admin/reload is off).
Without TWILIO_AUTH_TOKEN the server runs in local mode and does not check signatures.
SIGHUP, or an edit of the files (flows/, prompts/, the configuration, the roster, the
blocklist), reloads flows, prompts and the roster after the same checks; configuration changes
take effect at a restart. SIGTERM or SIGINT stops after the requests in flight.
)";

constexpr const char* kSimulateHelp = R"(Usage: hotline simulate [--json] [--channel sms|voice] [--at TIME] [--root DIR]

Reads a person's messages, one per line, from stdin and prints what the hotline answers,
using the same engine and flows as the server. Nothing is stored.
  --json            one JSON object per reply: input, reply, lang, intent, node, segments
  --channel CH      sms (default) or voice: a phone call, from the language menu on; a line is
                    the keys pressed or the words said, an empty line is silence
  --at TIME         for a call: the time it comes in (default now), which decides whether the
                    roster has an advocate on shift to connect it to or it reaches voicemail;
                    "tue 10:00" in the roster's time zone, or ISO 8601 with a zone
  --root DIR        where flows/ and prompts/ are (default: found from the current folder up)
  --lang en|es      the language the person already chose (default: guessed)
  --explain         under each reply, why: the likeliest intents with their probabilities,
                    the language as the hotline reads it, and the training examples most alike
Without --json, a first line says what is simulated, in which language and how to quit, and
under each text reply is the topic the message was taken as and the SMS segments it costs:
  [topic: status_reporting; 2 segments]
)";

constexpr const char* kGraphHelp = R"(Usage: hotline graph [DIR] [-o FILE]

Writes the flow in DIR/flows (DIR: the hotline folder, found from here up) as a Graphviz DOT
picture: steps labelled with the start of their English text, menu replies (with the menu's own
line) and questions as labelled arrows, a table of the questions that work anywhere, and a
legend. The picture carries a hash of the flow it shows; `hotline check` warns when
DIR/docs/flow.svg is not of the flow now.
  -o, --output FILE   write to FILE instead of stdout; FILE.svg is drawn with `dot` (graphviz)
)";

constexpr const char* kForgetHelp = R"help(Usage: hotline forget NUMBER [--root DIR] [--config FILE]

Erases everything the hotline keeps about one phone number (E.164, e.g. +14145550123, or a
whatsapp:+… address): its conversation, opt-out record, remembered answers, open relay and
queued messages and voicemails waiting to be called back, by SMS and calls and on WhatsApp
(the number in either form forgets both: they are one person). The number itself was never
stored: it is found by its keyed hash, so HOTLINE_SECRET (and HOTLINE_DB) must be the server's.
Prints "forgotten: <hash> (N record(s) erased)", a second such line when records were still kept
under the number's WhatsApp key from before SMS and WhatsApp were one contact, or "nothing was
kept about <hash>".
Never creates a database or a key: without the database (or a secret) it erases nothing and
exits 1. A relative HOTLINE_DB or `database:` is under DIR (default: the hotline folder, found
from the current folder up). Safe to run while the server runs.
)help";

constexpr const char* kCheckHelp = R"(Usage: hotline check [DIR | --root DIR] [--examples]

Checks DIR/flows (with the examples in DIR/flows/examples), DIR/prompts,
DIR/config/hotline.yaml, the advocates roster and the blocklist (DIR/config/blocklist.yaml, or
`limits: blocklist:`) (DIR: the hotline folder, found from the current folder up) and prints
every problem as file:line:col: error|warning[code]: message. Exit status 1 on any error. `serve` starts, and a
running server reloads, only what this passes.
  --examples   also cross-validate flows/examples (a second or two) and warn about every example
               that a model trained without it reads, confidently, as another question
)";

constexpr const char* kEvalHelp = R"(Usage: hotline eval [FILE|DIR ...] [--root DIR] [--json] [--cross-validate]
                   [--min-accuracy X] [--min-emergency-recall X] [--max-false-emergency X]
                   [--min-language X]

Sends each labelled message (intent<TAB>lang<TAB>channel<TAB>text, as in flows/examples/) through
the hotline, as a reply to the menu from someone whose language is not known yet, and reports:
the share answered with the right intent, precision and recall per intent, the confusion
matrix, emergencies caught (the emergency answer, or the 911 line first), non-emergencies
answered as emergencies, the reply language, per language and per channel, and every miss.
  FILE|DIR            labelled files (a folder: its *.tsv); default tests/understanding
  --root DIR          where flows/ and prompts/ are (default: found from the current folder up)
  --json              the figures and misses as one JSON object
  --cross-validate    instead of files: 5-fold cross-validation over flows/examples (for tuning;
                      never tune on the frozen test set)
  --min-accuracy X, --min-emergency-recall X, --max-false-emergency X, --min-language X
                      floors (fractions, e.g. 0.95): exit status 1 when a figure misses one
)";

struct Args {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;
  bool help = false;
};

// Parses `--name value` / `--flag`. `flags` lists options that take no value.
std::optional<Args> parse_args(int argc, char** argv, int first, const std::vector<std::string>& flags,
                               std::string& error) {
  Args args;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      args.help = true;
    } else if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2);
      if (auto eq = name.find('='); eq != std::string::npos) {
        args.options[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (std::find(flags.begin(), flags.end(), name) != flags.end()) {
        args.options[name] = "true";
      } else if (i + 1 < argc) {
        args.options[name] = argv[++i];
      } else {
        error = "option --" + name + " needs a value";
        return std::nullopt;
      }
    } else {
      args.positional.push_back(a);
    }
  }
  return args;
}

std::string opt(const Args& args, const std::string& name, const std::string& fallback) {
  auto it = args.options.find(name);
  return it == args.options.end() ? fallback : it->second;
}

bool check_known_options(const Args& args, const std::vector<std::string>& known) {
  for (const auto& [name, value] : args.options) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::cerr << "hotline: unknown option --" << name << " (see --help)\n";
      return false;
    }
  }
  return true;
}

// The folder a command works on: `given` (--root, or check's and graph's DIR) when there is one,
// else the bundle's root found from the working directory up; says what to do when there is none.
std::optional<std::string> bundle_root(const std::string& given) {
  if (!given.empty()) return given;
  if (auto found = find_bundle_root(std::filesystem::current_path())) return found;
  std::cerr << no_bundle_root_message(std::filesystem::current_path()) << "\n";
  return std::nullopt;
}

// Configuration and bundle from a root directory; prints diagnostics to stderr.
struct Loaded {
  config::Config config;
  std::shared_ptr<const flow::Bundle> bundle;
  Diagnostics diags;
};

Loaded load_all(const std::string& root, const std::string& config_path_option) {
  Loaded l;
  l.config = app::load_configuration({root, config_path_option, {}}, l.diags);
  l.bundle = flow::load_bundle(root, l.config.details, l.diags);
  if (l.bundle) {
    const auto now = l.config.pinned_now_ms.value_or(system_now_ms());
    l.diags.append(flow::sources_due_for_review(*l.bundle, flow::day_of(now)));
  }
  return l;
}

// Signals are taken by one thread with sigwait, not by a handler: stopping the server and
// reloading are not async-signal-safe work. The constructor blocks SIGINT, SIGTERM and SIGHUP
// in the calling thread, so make it before any other thread exists: every thread started later
// (the store's checkpointer, the server's pool, the workers, the flow watcher) inherits the
// mask, and a signal can neither kill the process nor be lost while it starts up.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  ~SignalWatcher() { finish(); }

  /// SIGHUP reloads `running`'s flows; the first SIGINT or SIGTERM stops it gracefully.
  void start(app::App& running) {
    thread_ = std::thread([this, &running] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        if (done_) return;
        const char* name = sig == SIGHUP ? "SIGHUP" : sig == SIGINT ? "SIGINT" : "SIGTERM";
        if (sig == SIGHUP) {
          if (!stop_signal_) running.reload("SIGHUP");
          continue;
        }
        if (stop_signal_) {
          log::info("already_stopping", {{"signal", name}});
          continue;
        }
        stop_signal_ = name;
        stop_started_ = std::chrono::steady_clock::now();
        log::info("stopping", {{"signal", name}});
        running.stop();  // run() returns once the stop is complete
      }
    });
  }

  /// Before start(): waits up to `how_long` for SIGINT or SIGTERM (taken, so they do not stop a
  /// server that is not serving yet); true when one came. A SIGHUP meanwhile is dropped: nothing
  /// is loaded yet to reload.
  bool stop_requested_within(std::chrono::milliseconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    for (;;) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return false;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec wait{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      const int sig = sigtimedwait(&set_, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        stop_signal_ = sig == SIGINT ? "SIGINT" : "SIGTERM";
        return true;
      }
    }
  }

  /// Ends the watcher thread. After it, stop_signal() and stop_started() may be read.
  void finish() {
    if (!thread_.joinable()) return;
    done_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);  // wakes sigwait; blocked, so nothing else
    thread_.join();
  }
  /// The signal that stopped the server (nullptr if it stopped on its own), and when.
  const char* stop_signal() const { return stop_signal_; }
  std::chrono::steady_clock::time_point stop_started() const { return stop_started_; }

 private:
  sigset_t set_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  const char* stop_signal_ = nullptr;  // written by the watcher thread, read after finish()
  std::chrono::steady_clock::time_point stop_started_;
};

int serve(const Args& args) {
  if (args.help) {
    std::cout << kServeHelp;
    return 0;
  }
  if (!check_known_options(args, {"port", "bind", "root", "config"})) return 2;
  // Served only what `hotline check` passes: the same verdict, conversation tests included.
  const auto root = bundle_root(opt(args, "root", ""));
  if (!root) return 2;
  app::BundleLocation where{*root, opt(args, "config", ""), {}};
  // The files as they are before they load: an edit saved while the server starts is then
  // seen by the watcher and loaded (or refused), never taken for what serves.
  std::string fingerprint_before;
  {
    Diagnostics ignored;  // check_servable reports them
    const config::Config c = app::load_configuration(where, ignored);
    fingerprint_before = flow::Reloader::fingerprint_of(c.root, app::watched_files(c));
  }
  app::Servable l = app::check_servable(where);
  std::cerr << l.diags.to_string();
  // A refused edit left on disk must not turn a routine restart into an outage: start from the
  // last copy that passed, kept beside the database, and say so loudly until the files pass.
  std::vector<std::string> disk_errors;
  Diagnostics disk_diags;
  if (!l.ok()) {
    const std::string kept = app::last_good_folder(l.config);
    app::Servable from_copy;
    if (!kept.empty() && std::filesystem::is_directory(kept)) {
      where.bundle_root = kept;
      from_copy = app::check_servable(where);
    }
    if (!from_copy.ok()) {
      if (from_copy.bundle || !from_copy.diags.items().empty()) {
        std::cerr << "hotline: the last good copy in " << kept << " does not pass either:\n" << from_copy.diags.to_string();
      }
      std::cerr << "hotline: not serving: fix the errors above (`hotline check` lists the same)\n";
      return 1;
    }
    for (const auto& d : l.diags.items()) {
      if (d.severity == Severity::error) disk_errors.push_back(format_diagnostic(d));
    }
    disk_diags = l.diags;
    l = std::move(from_copy);
    log::error("serving_last_good_bundle",
               {{"kept", kept}, {"on_disk_errors", disk_errors},
                {"message", "the files on disk do not pass `hotline check`; serving the last copy that did. "
                            "Fix the errors listed: the fixed files are served at the next reload."}});
  }
  auto roster = l.roster;
  for (const auto& d : l.diags.items()) {
    if (d.code == "source-review-due") log::warn("source_review_due", {{"message", d.message}});
  }
  config::Config& c = l.config;
  try {
    if (args.options.count("port")) c.port = std::stoi(opt(args, "port", "8080"));
  } catch (const std::exception&) {
    std::cerr << "hotline: --port must be a number\n";
    return 2;
  }
  if (args.options.count("bind")) c.bind = opt(args, "bind", c.bind);
  if (c.local_mode()) {
    log::warn("local_mode", {{"message", "TWILIO_AUTH_TOKEN is not set: signatures are NOT checked. "
                                          "Never expose this server to the internet like this."}});
  }
  // Before anything is written there: a folder this user cannot write is one clear line.
  if (const std::string problem = app::data_folder_problem(c.database); !problem.empty()) {
    std::cerr << "hotline: not serving: " << problem << "\n";
    return 1;
  }
  try {
    if (c.secret.empty()) c.secret = app::local_secret(c.database);
  } catch (const std::exception& e) {
    std::cerr << "hotline: not serving: " << e.what() << "\n";
    return 1;
  }

  std::unique_ptr<store::ServeLock> only_server;  // held until serve returns
  try {
    only_server = store::ServeLock::acquire(c.database);
  } catch (const std::exception& e) {
    std::cerr << "hotline: not serving: " << e.what() << "\n";
    return 1;
  }
  SignalWatcher signals;  // before the App: the threads its parts start inherit the signal mask
  std::unique_ptr<app::App> hotline_app;
  try {
    app::StoreWait wait;
    wait.total = std::chrono::seconds(c.database_wait_seconds);
    // A connection per server thread, plus the outbox worker, housekeeper and relay sweep.
    auto store = app::open_store_waiting(c.database, static_cast<std::size_t>(c.threads) + 4, wait,
                                         [&](std::chrono::milliseconds d) { return !signals.stop_requested_within(d); });
    if (!store) {
      log::info("shutdown", {{"signal", signals.stop_signal()}, {"clean", true},
                             {"message", "stopped while waiting for the database"}});
      return 0;
    }
    hotline_app = std::make_unique<app::App>(c, std::move(store), l.bundle, roster);
  } catch (const std::exception& e) {
    std::cerr << "hotline: not serving: cannot open the database " << store::redacted(c.database) << ": " << e.what()
              << "\n";
    return 1;
  }
  hotline_app->loaded_from(fingerprint_before);
  if (!disk_errors.empty()) {
    hotline_app->serving_last_good("serving the last good flows and prompts kept beside the database: the files on disk "
                                   "do not pass `hotline check` (" + std::to_string(disk_errors.size()) +
                                   " error(s), see the serving_last_good_bundle log line)",
                                   disk_diags);
  } else if (const std::string kept = app::last_good_folder(c); !kept.empty()) {
    // After the store opened: its folder exists, and the lock says this is the only server on it.
    if (const std::string why = app::keep_last_good(c.root, kept); !why.empty()) {
      log::warn("last_good_bundle_not_kept", {{"folder", kept}, {"message", why}});
    }
  }
  int port = hotline_app->bind();
  if (port < 0) {
    std::cerr << "hotline: not serving: cannot listen on " << c.bind << ":" << c.port
              << ". Is another `hotline serve` (or another program) using that port? Stop it, or "
                 "choose another with --port.\n";
    return 1;
  }
  signals.start(*hotline_app);
  hotline_app->watch_files();
  log::info("serving", {{"bind", c.bind}, {"port", port}, {"database", store::redacted(c.database)},
                        {"flow", l.bundle->flow.name}, {"local_mode", c.local_mode()},
                        {"admin", c.admin_token.empty() ? "metrics on loopback only; /admin off"
                                                        : "token required"}});
  // A stop signal: the listener closes, webhooks in flight finish and are answered, then the
  // outbox worker finishes the send in hand and the housekeeper stops; run() returns after that.
  const bool ok = hotline_app->run();
  const auto ran_until = std::chrono::steady_clock::now();
  signals.finish();
  hotline_app.reset();  // stops the flow watcher and closes the store
  const auto since = signals.stop_signal() ? signals.stop_started() : ran_until;
  log::info("shutdown", {{"signal", signals.stop_signal() ? signals.stop_signal() : "none"},
                         {"clean", ok},
                         {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - since).count()}});
  return ok ? 0 : 1;
}

// Why a message was understood as it was, for staff teaching the hotline a new way of asking.
std::string explain(const flow::Bundle& bundle, const std::string& text) {
  if (bundle.classifier.empty()) return "  (no examples in flows/examples: understood by the phrases in flows/intents.yaml)\n";
  const auto u = nlu::understand(bundle.classifier, text);
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << "  understood as: " << (u.intent.empty() ? (u.choices.empty() ? "(nothing)" : "(unsure: asked)") : u.intent);
  if (!u.second.empty()) out << " + " << u.second;
  if (u.maybe_emergency) out << " (911 line first: it might be an emergency)";
  out << "\n  likeliest:";
  for (std::size_t i = 0; i < u.ranked.size() && i < 3; ++i) out << " " << u.ranked[i].intent << " " << u.ranked[i].p;
  float spanish = 0.5f;
  const auto lang = nlu::clear_language(bundle.classifier, text, &spanish);
  out << "\n  language: " << (lang ? std::string(lang_code(*lang)) : std::string("not clear")) << " (Spanish "
      << spanish << ")\n  most alike in flows/examples:\n";
  for (const auto& [ex, similarity] : bundle.classifier.nearest(text, 3)) {
    std::string label;
    for (const auto& i : ex->intents) label += (label.empty() ? "" : "+") + i;
    out << "    " << similarity << " " << label << " (" << ex->where.file << ":" << ex->where.line << "): " << ex->text << "\n";
  }
  return out.str();
}

// The first line a person sees in `simulate` (not with --json: that is for programs): what is
// simulated, the language, how to send and to quit, and --explain.
std::string simulate_banner(bool voice, std::optional<Lang> lang, bool explaining) {
  std::string line = voice ? "Simulating a phone call" : "Simulating text messages (SMS)";
  line += lang == Lang::en   ? " in English."
          : lang == Lang::es ? " in Spanish."
                             : ", in the language each message is written in (--lang en|es sets one).";
  line += voice ? " Type the keys pressed or the words said, then Enter (an empty line is silence);"
                : " Type a message, then Enter;";
  line += " Ctrl-D quits.";
  if (!voice) {  // --explain reads text messages only
    line += explaining ? " --explain is on: why each reply was chosen is under it."
                       : " --explain shows why each reply was chosen.";
  }
  return line + "\n";
}

// Under each reply in `simulate`: the topic the message was taken as and what the reply costs.
std::string reply_summary(const engine::Outcome& outcome) {
  std::string topic = outcome.intent.empty() ? "none" : outcome.intent;
  if (!outcome.second_intent.empty()) topic += " + " + outcome.second_intent;
  if (outcome.intent.empty() && outcome.asked.size() == 2) topic = "unsure: asked " + outcome.asked[0] + " or " + outcome.asked[1];
  if (outcome.emergency_first) topic += " (911 line first)";
  // A reply can be more than one message (a second answer, or a prompt that would pass three
  // segments): each is counted as Twilio bills it.
  const auto messages = engine::message_texts(outcome);
  std::string cost;
  int total = 0;
  for (const auto& text : messages) {
    const int segments = prompts::count_segments(text).segments;
    cost += (cost.empty() ? "" : " + ") + std::to_string(segments);
    total += segments;
  }
  std::string line = "  [topic: " + topic + "; ";
  if (messages.size() <= 1) line += std::to_string(total) + (total == 1 ? " segment]" : " segments]");
  else line += std::to_string(messages.size()) + " messages, " + cost + " segments]";
  return line + "\n";
}

int simulate(const Args& args) {
  if (args.help) {
    std::cout << kSimulateHelp;
    return 0;
  }
  if (!check_known_options(args, {"json", "channel", "root", "lang", "explain", "at"})) return 2;
  const auto root = bundle_root(opt(args, "root", ""));
  if (!root) return 2;
  Loaded l = load_all(*root, "");
  if (!l.bundle) {
    std::cerr << l.diags.to_string() << "hotline: the flows have errors; run `hotline check`\n";
    return 1;
  }
  const bool json = args.options.count("json") > 0;
  const std::string channel_name = opt(args, "channel", "sms");
  if (channel_name != "sms" && channel_name != "voice") {
    std::cerr << "hotline: --channel must be sms or voice\n";
    return 2;
  }
  engine::Session session;
  if (args.options.count("lang")) {
    session.lang = lang_from_code(opt(args, "lang", ""));
    if (!session.lang) {
      std::cerr << "hotline: --lang must be en or es\n";
      return 2;
    }
  }
  if (!json) {  // for people; --json stays one object a line for programs
    std::cout << simulate_banner(channel_name == "voice", session.lang, args.options.count("explain") > 0) << std::flush;
  }
  if (channel_name == "voice") {  // a whole call: language menu, flow, advocates, voicemail
    // The roster `serve` would use, at the simulated time: in hours the call is connected (as
    // a simulation: nobody's phone rings), after hours it reaches voicemail.
    Diagnostics roster_diags;
    const auto roster = app::load_bundle_roster(l.config, roster_diags);
    if (!roster) {
      std::cerr << roster_diags.to_string() << "hotline: the advocates file has errors; run `hotline check`\n";
      return 1;
    }
    const std::int64_t now = l.config.pinned_now_ms.value_or(system_now_ms());
    const auto at = args.options.count("at") ? parse_at(opt(args, "at", ""), *roster, now) : now;
    if (!at) {
      std::cerr << "hotline: " << kAtHelp << "\n";
      return 2;
    }
    channels::simulate_call(*l.bundle, app::voice_settings(l.config), session.lang, json, std::cin,
                            std::cout, roster.get(), *at);
    return 0;
  }
  engine::Input input;
  input.channel = channel_name == "voice" ? Channel::voice : Channel::sms;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    input.text = line;
    auto outcome = engine::step(*l.bundle, session, input, {l.config.default_language});
    session = outcome.session;
    std::string reply = engine::spoken_text(outcome);
    if (json) {
      nlohmann::json j = {{"input", line},
                          {"reply", reply},
                          {"lang", lang_code(outcome.lang)},
                          {"bilingual", outcome.bilingual},
                          {"intent", outcome.intent},
                          {"node", outcome.step},
                          {"segments", prompts::count_segments(reply).segments}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } else {
      std::cout << (reply.empty() ? "(no reply)" : reply) << "\n" << reply_summary(outcome);
      if (args.options.count("explain")) std::cout << explain(*l.bundle, line);
      std::cout << "\n" << std::flush;
    }
    if (outcome.step.empty()) {  // ended: a new conversation, in the same language
      engine::Session fresh;
      fresh.lang = session.lang;
      session = fresh;
    }
  }
  return 0;
}

// Examples a model trained without them reads, confidently, as another intent: a wrong label,
// two examples that contradict each other, or a way of asking with too few examples like it.
// Only confident misreadings are listed; `hotline eval --cross-validate` shows every one.
void check_examples_by_cross_validation(const nlu::Classifier& model, Diagnostics& diags) {
  constexpr float kConfident = 0.6f;
  const auto& examples = model.examples();
  const auto ranked = nlu::cross_validate(examples, 5);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    if (ranked[i].empty()) continue;
    const auto& top = ranked[i].front();
    const auto& labels = examples[i].intents;
    if (top.p < kConfident || std::find(labels.begin(), labels.end(), top.intent) != labels.end()) continue;
    char p[16];
    std::snprintf(p, sizeof p, "%.2f", top.p);
    diags.warning(examples[i].where, "example-misread",
                  "a model trained without this example reads it as '" + top.intent + "' (" + p +
                      "), not '" + labels.front() + "': check the label, or add more examples like it");
  }
}

int check(const Args& args) {
  if (args.help) {
    std::cout << kCheckHelp;
    return 0;
  }
  if (!check_known_options(args, {"examples", "root"})) return 2;
  const auto found = bundle_root(args.positional.empty() ? opt(args, "root", "") : args.positional.front());
  if (!found) return 2;
  const std::string& root = *found;
  // The verdict `serve` and a reload ask for too (app::check_servable).
  app::Servable l = app::check_servable({root, "", {}});
  if (l.bundle && args.options.count("examples")) check_examples_by_cross_validation(l.bundle->classifier, l.diags);
  // The picture in the staff guide: only `check` asks, since a server need not ship docs/.
  if (const auto picture = std::filesystem::path(root) / "docs" / "flow.svg"; l.bundle && std::filesystem::exists(picture)) {
    std::ifstream in(picture, std::ios::binary);
    flow::check_flow_picture(*l.bundle, std::string(std::istreambuf_iterator<char>(in), {}), picture.string(), l.diags);
  }
  std::string tests_line;
  if (l.bundle) {
    const auto& t = l.tests;
    const int total = t.passed + t.failed;
    tests_line = total == 0 && t.broken_files == 0
        ? "no conversation tests in " + root + "/flows/tests\n"
        : std::to_string(total) + " conversation test(s): " + std::to_string(t.passed) + " passed, " +
              std::to_string(t.failed) + " failed" +
              (t.broken_files ? "; " + std::to_string(t.broken_files) + " test file(s) not run: fix the errors above"
                              : std::string()) +
              "\n";
  }
  std::cout << l.diags.to_string() << tests_line;
  std::cout << l.diags.error_count() << " error(s), " << l.diags.warning_count() << " warning(s)\n";
  return l.diags.has_errors() ? 1 : 0;
}

int eval(const Args& args) {
  if (args.help) {
    std::cout << kEvalHelp;
    return 0;
  }
  if (!check_known_options(args, {"root", "json", "cross-validate", "min-accuracy", "min-emergency-recall",
                                  "max-false-emergency", "min-language"})) {
    return 2;
  }
  const auto found = bundle_root(opt(args, "root", ""));
  if (!found) return 2;
  const std::string& root = *found;
  Loaded l = load_all(root, "");
  if (!l.bundle) {
    std::cerr << l.diags.to_string() << "hotline: the flows have errors; run `hotline check`\n";
    return 1;
  }
  eval::Report report;
  std::vector<nlu::Example> examples;
  if (args.options.count("cross-validate")) {
    report = eval::cross_validate(*l.bundle, 5);
  } else {
    Diagnostics diags;
    auto sources = args.positional;
    if (sources.empty()) sources.push_back((std::filesystem::path(root) / "tests" / "understanding").string());
    for (const auto& source : sources) {
      auto some = std::filesystem::is_directory(source) ? nlu::load_examples_dir(source, diags)
                                                        : nlu::load_examples_file(source, diags);
      examples.insert(examples.end(), some.begin(), some.end());
    }
    if (diags.has_errors() || examples.empty()) {
      std::cerr << diags.to_string() << (examples.empty() ? "hotline: no labelled messages to evaluate\n" : "");
      return 1;
    }
    report = eval::evaluate(*l.bundle, examples);
  }
  std::cout << (args.options.count("json") ? report.to_json().dump(2, ' ', false,
                                                                    nlohmann::json::error_handler_t::replace) + "\n"
                                           : report.to_text());
  bool ok = true;
  auto floor = [&](const char* name, double value, bool at_least) {
    if (!args.options.count(name)) return;
    double want = 0;
    try {
      want = std::stod(opt(args, name, "0"));
    } catch (const std::exception&) {
      std::cerr << "hotline: --" << name << " takes a number such as 0.95\n";
      ok = false;
      return;
    }
    if (at_least ? value + 1e-9 < want : value > want + 1e-9) {
      std::cerr << "hotline eval: " << name << ": " << value << (at_least ? " is below " : " is above ") << want << "\n";
      ok = false;
    }
  };
  floor("min-accuracy", report.accuracy(), true);
  floor("min-emergency-recall", report.emergency_recall(), true);
  floor("max-false-emergency", report.false_emergency_rate(), false);
  floor("min-language", report.language_accuracy(), true);
  return ok ? 0 : 1;
}

int graph(const Args& args) {
  if (args.help) {
    std::cout << kGraphHelp;
    return 0;
  }
  if (!check_known_options(args, {"output", "root"})) return 2;
  std::string output = opt(args, "output", "");
  std::vector<std::string> dirs;
  for (std::size_t i = 0; i < args.positional.size(); ++i) {
    if (args.positional[i] == "-o" && i + 1 < args.positional.size()) output = args.positional[++i];
    else dirs.push_back(args.positional[i]);
  }
  const auto found = bundle_root(dirs.empty() ? opt(args, "root", "") : dirs.front());
  if (!found) return 2;
  const std::string& root = *found;
  Loaded l = load_all(root, "");
  if (!l.bundle) {
    std::cerr << l.diags.to_string() << "hotline: the flows have errors; run `hotline check`\n";
    return 1;
  }
  const std::string dot = flow::to_dot(*l.bundle);
  if (output.empty() || output == "-") {
    std::cout << dot;
    return 0;
  }
  const bool svg = std::filesystem::path(output).extension() == ".svg";
  const std::string dot_file = svg ? output + ".dot" : output;
  if (!(std::ofstream(dot_file, std::ios::binary) << dot)) {
    std::cerr << "hotline: cannot write " << dot_file << "\n";
    return 1;
  }
  if (!svg) return 0;
  // Drawing needs Graphviz; the DOT file is kept either way, so staff still get something.
  const std::string command = "dot -Tsvg -o '" + output + "' '" + dot_file + "' 2>/dev/null";
  if (output.find('\'') != std::string::npos || std::system(command.c_str()) != 0) {
    std::cerr << "hotline: could not draw " << output << " (is graphviz installed?); the DOT is in "
              << dot_file << "\n";
    return 1;
  }
  std::filesystem::remove(dot_file);
  return 0;
}

int forget(const Args& args) {
  if (args.help) {
    std::cout << kForgetHelp;
    return 0;
  }
  if (!check_known_options(args, {"root", "config"})) return 2;
  // The number is hashed exactly as the webhooks hash `From`, or the key would differ.
  const auto address = args.positional.size() == 1 ? channels::normalize_address(args.positional.front())
                                                   : std::nullopt;
  if (!address) {
    std::cerr << "hotline: forget takes one phone number in E.164 form, e.g. +14145550123 (or a "
                 "whatsapp:+… address)\n";
    return 2;
  }
  Diagnostics diags;
  const auto root = bundle_root(opt(args, "root", ""));
  if (!root) return 2;
  config::Config c = app::load_configuration({*root, opt(args, "config", ""), {}}, diags);
  if (const Diagnostics environment = app::environment_errors(diags); environment.has_errors()) {
    std::cerr << environment.to_string();
    return 1;
  }
  // Never a new database or a new key: either would "forget" into something that never held
  // the number, and say so with exit status 0.
  if (!store::is_postgres_url(c.database) && !std::filesystem::exists(c.database)) {
    std::cerr << "hotline: no database at " << c.database << ": nothing was forgotten (set HOTLINE_DB, or --root, "
                 "to the server's)\n";
    return 1;
  }
  try {
    if (c.secret.empty()) c.secret = app::local_secret(c.database, false);
  } catch (const std::exception& e) {
    std::cerr << "hotline: " << e.what() << "\n";
    return 1;
  }
  if (c.secret.empty()) {
    std::cerr << "hotline: HOTLINE_SECRET is not set and there is no local secret beside " << c.database
              << ": nothing was forgotten (set HOTLINE_SECRET to the server's)\n";
    return 1;
  }
  try {
    auto store = store::open_store(c.database, 2);
    // One person, one contact: "+1414…" by SMS and calls and "whatsapp:+1414…" are kept under
    // the same key (channels/address.hpp). What a hotline from before that kept under the
    // WhatsApp address's own key, and has not moved yet, is erased too.
    const std::string person = channels::person_of(*address);
    const std::string key = channels::contact_key_of(c.secret, *address);
    std::size_t erased = store->forget(key);
    // Voicemails waiting to be called back are keyed by their call, not by the number.
    for (const auto& call : channels::voicemails_from(*store, c.secret, person)) erased += store->forget(call);
    const auto legacy = channels::legacy_whatsapp_key_of(c.secret, *address);
    const std::size_t erased_other = legacy ? store->forget(*legacy) : 0;
    // Only hashes are printed: the operator already knows the number, a log file need not.
    if (erased > 0) std::cout << "forgotten: " << key << " (" << erased << " record(s) erased)\n";
    if (erased_other > 0) {
      std::cout << "forgotten: " << *legacy << " (" << erased_other
                << " record(s) erased): kept on WhatsApp apart, before SMS and WhatsApp were one contact\n";
    }
    if (erased == 0 && erased_other == 0) std::cout << "nothing was kept about " << key << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "hotline: cannot forget: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int run(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" ||
      std::string(argv[1]) == "help") {
    std::cout << kMainHelp;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  if (command == "healthcheck") return healthcheck(argc, argv);  // its own options; exit codes as Docker reads them
  if (command == "report") return report(argc, argv);  // its own options (--csv, --week)
  std::string error;
  auto args = parse_args(argc, argv, 2, {"json", "help", "cross-validate", "explain", "examples"}, error);
  if (!args) {
    std::cerr << "hotline: " << error << "\n";
    return 2;
  }
  if (command == "serve") return serve(*args);
  if (command == "simulate") return simulate(*args);
  if (command == "check") return check(*args);
  if (command == "graph") return graph(*args);
  if (command == "eval") return eval(*args);
  if (command == "forget") return forget(*args);
  if (command == "status") return status_command(argc, argv);
  if (command == "roster") return roster_command(argc, argv);
  std::cerr << "hotline: unknown command '" << command << "'\n\n" << kMainHelp;
  return 2;
}

}  // namespace hotline::cli
