// The cost of the /metrics registry (hotline/common/metrics.cpp), counted in instructions under
// callgrind, for choosing its implementation (issue #19: hand-written or prometheus-cpp):
//
//   metrics_cost webhook N   N webhooks' worth of recording, as the webhook path does it: the
//                            request counter and latency histogram by route, a conversation turn,
//                            a limit verdict (each a with() lookup, then inc() or observe())
//   metrics_cost scrape N    N renders of a registry holding what a busy server shows
//   metrics_cost inc N       N increments of one counter series already found (no lookup)
//   metrics_cost observe N   N observations into one histogram series already found
//   metrics_cost print 0     that registry's text
//
// Run each with N and with 0 under `valgrind --tool=callgrind`; (Ir(N) − Ir(0)) / N is the cost
// of one. bench/README.md, "Metrics", has the commands and the figures.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "hotline/common/metrics.hpp"

using hotline::metrics::Registry;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: metrics_cost webhook|scrape|inc|observe|print N\n");
    return 2;
  }
  const std::string mode = argv[1];
  const long n = std::atol(argv[2]);
  Registry registry;
  auto& requests = registry.counter("hotline_http_requests_total", "HTTP requests answered.", {"route", "status"});
  auto& latency = registry.histogram("hotline_http_request_duration_seconds", "Seconds.", {"route"});
  auto& turns = registry.counter("hotline_conversation_turns_total", "Turns.", {"channel", "intent", "lang"});
  auto& verdicts = registry.counter("hotline_rate_limit_verdicts_total", "Verdicts.", {"verdict"});
  registry.gauge("hotline_outbox_pending", "Pending.", [] { return 3.0; });
  // What a server that has run a while shows: every route and status, a dozen intents.
  const char* routes[] = {"/twilio/sms", "/twilio/voice", "/twilio/voice/gather", "/twilio/status", "/healthz",
                          "/readyz", "/metrics"};
  const char* intents[] = {"police_ask_status", "ice_detainer", "report_crime", "none", "emergency", "menu",
                           "language", "advocate", "thanks", "stop", "help", "sources"};
  for (const char* route : routes) {
    for (const char* status : {"200", "403", "404", "503"}) requests.with({route, status}).inc();
    latency.with({route}).observe(0.004);
  }
  for (const char* intent : intents) {
    for (const char* lang : {"en", "es"}) turns.with({"sms", intent, lang}).inc();
  }
  verdicts.with({"allow"}).inc();

  double sink = 0;
  if (mode == "webhook") {
    for (long i = 0; i < n; ++i) {
      requests.with({"/twilio/sms", "200"}).inc();
      latency.with({"/twilio/sms"}).observe(0.0031 + static_cast<double>(i % 7) * 0.001);
      turns.with({"sms", intents[i % 12], (i & 1) ? "en" : "es"}).inc();
      verdicts.with({"allow"}).inc();
    }
  } else if (mode == "inc") {  // the increment alone, on a series already found
    auto& sms_ok = requests.with({"/twilio/sms", "200"});
    for (long i = 0; i < n; ++i) sms_ok.inc();
  } else if (mode == "observe") {  // the observation alone, likewise
    auto& sms_latency = latency.with({"/twilio/sms"});
    for (long i = 0; i < n; ++i) sms_latency.observe(0.0031 + static_cast<double>(i % 7) * 0.001);
  } else if (mode == "print") {  // the text itself, to compare two implementations
    std::fputs(registry.render().c_str(), stdout);
    return 0;
  } else if (mode == "scrape") {
    for (long i = 0; i < n; ++i) sink += static_cast<double>(registry.render().size());
  } else {
    std::fprintf(stderr, "usage: metrics_cost webhook|scrape|inc|observe|print N\n");
    return 2;
  }
  std::printf("%s %ld: %.0f bytes rendered; one scrape is %zu bytes\n", mode.c_str(), n, sink,
              registry.render().size());
  return 0;
}
