// Operations: GET /metrics (Prometheus text format, no phone number or text in it), the admin
// token and the loopback rule, POST /admin/reload, and request ids in answers and logs.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "hotline/common/log.hpp"
#include "hotline/common/metrics.hpp"
#include "hotline_server.hpp"
#include "raw_http.hpp"
#include "stderr_capture.hpp"

using namespace test_support;

namespace {

const std::string kAdminToken = "ops-test-admin-token-0123456789abcdef";

// --- A strict reader of the text exposition format (version 0.0.4) -----------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Every line is a comment (`# HELP name text`, `# TYPE name type`) or `name{labels} value`;
// every sample belongs to a family whose TYPE came first; counters end in _total; histogram
// samples are name_bucket (with le), name_sum and name_count. Fails the test otherwise.
std::vector<Sample> parse_metrics(const std::string& text) {
  static const std::regex help_re(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type_re(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample_re(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+))");
  static const std::regex label_re(R"re(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$))re");
  REQUIRE_FALSE(text.empty());
  REQUIRE(text.back() == '\n');
  std::map<std::string, std::string> types;
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    INFO("line: " << line);
    REQUIRE_FALSE(line.empty());
    std::smatch m;
    if (line[0] == '#') {
      if (std::regex_match(line, m, type_re)) {
        REQUIRE(types.count(m[1]) == 0);
        types[m[1]] = m[2];
      } else {
        REQUIRE(std::regex_match(line, m, help_re));
      }
      continue;
    }
    REQUIRE(std::regex_match(line, m, sample_re));
    Sample s;
    s.name = m[1];
    const std::string labels = m[3];
    for (auto it = std::sregex_iterator(labels.begin(), labels.end(), label_re); it != std::sregex_iterator(); ++it) {
      std::string value;
      const std::string raw = (*it)[2];
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\\' && i + 1 < raw.size()) {
          ++i;
          value.push_back(raw[i] == 'n' ? '\n' : raw[i]);
        } else {
          value.push_back(raw[i]);
        }
      }
      REQUIRE(s.labels.emplace((*it)[1], value).second);
    }
    // The label pairs must cover the whole {...} text: nothing skipped by the iterator.
    std::string rebuilt;
    for (const auto& [k, v] : s.labels) rebuilt += k;
    if (!labels.empty()) REQUIRE_FALSE(s.labels.empty());
    const std::string value = m[4];
    if (value == "+Inf") s.value = INFINITY;
    else if (value == "-Inf") s.value = -INFINITY;
    else if (value == "NaN") s.value = NAN;
    else {
      char* end = nullptr;
      s.value = std::strtod(value.c_str(), &end);
      REQUIRE(end == value.c_str() + value.size());
    }
    // The family this sample belongs to, and what its type allows.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sx = suffix;
      if (!types.count(family) && family.size() > sx.size() &&
          family.compare(family.size() - sx.size(), sx.size(), sx) == 0 &&
          types.count(family.substr(0, family.size() - sx.size())) &&
          types[family.substr(0, family.size() - sx.size())] == "histogram") {
        family = family.substr(0, family.size() - sx.size());
        if (sx == "_bucket") REQUIRE(s.labels.count("le"));
      }
    }
    REQUIRE(types.count(family));
    if (types[family] == "counter") {
      REQUIRE(family.size() > 6);
      REQUIRE(family.substr(family.size() - 6) == "_total");
      REQUIRE(s.value >= 0);
    }
    if (types[family] == "histogram") REQUIRE(s.name != family);
    samples.push_back(std::move(s));
  }
  return samples;
}

// The sum of every sample named `name` whose labels include `with`.
double value_of(const std::vector<Sample>& samples, const std::string& name,
                const std::map<std::string, std::string>& with = {}) {
  double total = 0;
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : with) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) total += s.value;
  }
  return total;
}

bool has_sample(const std::vector<Sample>& samples, const std::string& name) {
  for (const auto& s : samples) {
    if (s.name == name) return true;
  }
  return false;
}

std::vector<Sample> scrape(HotlineServer& server, const httplib::Headers& headers = {}) {
  auto res = server.client().Get("/metrics", headers);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  REQUIRE(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0) == 0);
  return parse_metrics(res->body);
}

// A local IPv4 address that is not loopback (to be a client the loopback rule refuses), or "".
std::string non_loopback_address() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (auto* a = list; a && found.empty(); a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    found = buf;
  }
  freeifaddrs(list);
  return found;
}

}  // namespace

// --- The registry on its own ---------------------------------------------------------------------

TEST_CASE("the metrics registry renders the Prometheus text format") {
  hotline::metrics::Registry r(3);
  auto& requests = r.counter("demo_requests_total", "Requests.\nSecond line \\ backslash.", {"route", "status"});
  requests.with({"/twilio/sms", "200"}).inc();
  requests.with({"/twilio/sms", "200"}).inc(2);
  requests.with({"a \"quoted\"\nvalue\\", "500"}).inc();
  auto& plain = r.counter("demo_plain_total", "No labels.");
  auto& latency = r.histogram("demo_seconds", "Latency.", {"route"}, {0.1, 1});
  latency.with({"/x"}).observe(0.05);
  latency.with({"/x"}).observe(0.5);
  latency.with({"/x"}).observe(7);
  r.gauge("demo_depth", "Depth.", [] { return 4.5; });
  r.gauge("demo_broken", "Throws.", []() -> double { throw std::runtime_error("down"); });

  const std::string text = r.render();
  auto samples = parse_metrics(text);
  CHECK(value_of(samples, "demo_requests_total", {{"route", "/twilio/sms"}, {"status", "200"}}) == 3);
  CHECK(value_of(samples, "demo_requests_total", {{"route", "a \"quoted\"_value\\"}}) == 1);
  CHECK(value_of(samples, "demo_plain_total") == 0);  // a plain counter renders from the start
  CHECK(value_of(samples, "demo_seconds_bucket", {{"le", "0.1"}}) == 1);
  CHECK(value_of(samples, "demo_seconds_bucket", {{"le", "1"}}) == 2);  // cumulative
  CHECK(value_of(samples, "demo_seconds_bucket", {{"le", "+Inf"}}) == 3);
  CHECK(value_of(samples, "demo_seconds_count") == 3);
  CHECK(value_of(samples, "demo_seconds_sum") == Approx(7.55));
  CHECK(value_of(samples, "demo_depth") == 4.5);
  CHECK_FALSE(has_sample(samples, "demo_broken"));  // left out, the rest still renders
  CHECK_THAT(text, Catch::Contains("# TYPE demo_seconds histogram"));
  CHECK_THAT(text, Catch::Contains("# HELP demo_requests_total Requests.\\nSecond line \\\\ backslash."));
  plain.with().inc();
  CHECK(value_of(parse_metrics(r.render()), "demo_plain_total") == 1);

  SECTION("label sets beyond the cap are folded into \"other\"") {
    for (int i = 0; i < 50; ++i) requests.with({"/r" + std::to_string(i), "200"}).inc();
    auto folded = parse_metrics(r.render());
    std::size_t series = 0;
    for (const auto& s : folded) series += s.name == "demo_requests_total";
    CHECK(series == 4);  // the cap of 3 (the first new set fits), plus the one "other" set
    CHECK(value_of(folded, "demo_requests_total", {{"route", "/r0"}}) == 1);
    CHECK(value_of(folded, "demo_requests_total", {{"route", "other"}, {"status", "other"}}) == 49);
  }
  SECTION("label values are cut short and kept printable") {
    requests.with({std::string(500, 'x'), "\xc3\xb1"}).inc();
    auto s = parse_metrics(r.render());
    CHECK(value_of(s, "demo_requests_total", {{"route", std::string(64, 'x')}, {"status", "__"}}) == 1);
  }
  SECTION("bad names are refused") {
    CHECK_THROWS(r.counter("no_suffix", "x"));
    CHECK_THROWS(r.counter("bad-name_total", "x"));
    CHECK_THROWS(r.histogram("demo_h", "x", {"le"}));
    CHECK_THROWS(r.gauge("demo_requests_total", "taken", [] { return 0.0; }));
    CHECK(&r.counter("demo_requests_total", "again", {"route", "status"}) == &requests);
  }
}

TEST_CASE("a request id is attached to log lines until it is cleared") {
  StderrCapture capture;
  hotline::log::set_request_id("abc123");
  hotline::log::info("ops_test_inside", {});
  hotline::log::clear_request_id();
  hotline::log::info("ops_test_outside", {});
  auto inside = capture.events("ops_test_inside");
  auto outside = capture.events("ops_test_outside");
  REQUIRE(inside.size() == 1);
  REQUIRE(outside.size() == 1);
  CHECK(inside[0].value("request_id", "") == "abc123");
  CHECK_FALSE(outside[0].contains("request_id"));
}

// --- A real server ------------------------------------------------------------------------------

TEST_CASE("GET /metrics counts a signed SMS webhook and never shows a number or a text") {
  TempDir dir;
  HotlineServer server(test_config(dir));  // no HOTLINE_ADMIN_TOKEN: loopback clients only
  const std::string phone = "+14145550187";
  const std::string body = "Quisiera saber si puedo llamar a la policia zanahoria";

  auto first = server.client().Get("/metrics");
  REQUIRE(first);
  REQUIRE(first->status == 200);
  // Every metric is described from the start, samples or not.
  for (const char* type : {"hotline_http_requests_total counter", "hotline_http_request_duration_seconds histogram",
                           "hotline_conversation_turns_total counter", "hotline_outbox_pending gauge",
                           "hotline_outbox_sent_total counter", "hotline_outbox_retries_total counter",
                           "hotline_outbox_dropped_total counter", "hotline_flow_reloads_total counter",
                           "hotline_rate_limit_verdicts_total counter"}) {
    CHECK_THAT(first->body, Catch::Contains(std::string("# TYPE ") + type));
  }
  auto before = parse_metrics(first->body);
  CHECK(value_of(before, "hotline_outbox_pending") == 0);
  CHECK(has_sample(before, "hotline_outbox_sent_total"));
  CHECK(has_sample(before, "hotline_flow_reloads_total"));

  auto res = server.post_signed("/twilio/sms", sms_form(phone, body, "SMops0001"));
  REQUIRE(res);
  REQUIRE(res->status == 200);
  // A path and a query string carrying a number: counted, under "other", never shown.
  auto odd = server.client().Get("/twilio/sms/%2B14145550187?From=%2B14145550187&Body=zanahoria");
  REQUIRE(odd);
  CHECK(odd->status == 404);

  auto res2 = server.client().Get("/metrics");
  REQUIRE(res2);
  const std::string text = res2->body;
  auto after = parse_metrics(text);
  CHECK(value_of(after, "hotline_http_requests_total", {{"route", "/twilio/sms"}, {"status", "200"}}) ==
        value_of(before, "hotline_http_requests_total", {{"route", "/twilio/sms"}, {"status", "200"}}) + 1);
  CHECK(value_of(after, "hotline_http_request_duration_seconds_count", {{"route", "/twilio/sms"}}) ==
        value_of(before, "hotline_http_request_duration_seconds_count", {{"route", "/twilio/sms"}}) + 1);
  CHECK(value_of(after, "hotline_http_requests_total", {{"route", "other"}, {"status", "404"}}) == 1);
  // The first scrape was counted too.
  CHECK(value_of(after, "hotline_http_requests_total", {{"route", "/metrics"}, {"status", "200"}}) >= 1);
  CHECK(value_of(after, "hotline_conversation_turns_total", {{"channel", "sms"}}) ==
        value_of(before, "hotline_conversation_turns_total", {{"channel", "sms"}}) + 1);
  CHECK(value_of(after, "hotline_conversation_turns_total", {{"channel", "sms"}, {"lang", "es"}}) == 1);
  CHECK(value_of(after, "hotline_rate_limit_verdicts_total", {{"verdict", "allow"}}) ==
        value_of(before, "hotline_rate_limit_verdicts_total", {{"verdict", "allow"}}) + 1);
  for (const auto& s : after) {
    for (const auto& [k, v] : s.labels) {
      INFO(s.name << " " << k << "=" << v);
      // A path in a label is one of the routes, never what a caller asked for.
      const bool route = v.rfind("/twilio/", 0) == 0 || v == "/metrics" || v == "/healthz" ||
                         v == "/readyz" || v == "/admin/reload";
      CHECK((v.empty() || v[0] != '/' || route));
      CHECK(v.find("4145550187") == std::string::npos);
    }
  }
  CHECK(text.find("4145550187") == std::string::npos);
  CHECK(text.find("zanahoria") == std::string::npos);
  CHECK(text.find("policia") == std::string::npos);
}

// What a dashboard or an alert depends on in GET /metrics: each family's HELP and TYPE, in order,
// and every series' name and labels (not values: latencies vary). tests/fixtures/metrics_names.txt
// holds them as the hand-written registry produced them, before the switch to prometheus-cpp
// (issue #19), with the one change the switch made: the smallest bucket's bound is written
// le="0.0005" where it was le="5e-04" (the same number; the way other Prometheus clients write
// it). HOTLINE_WRITE_METRICS_FIXTURE=1 rewrites the file from this build instead of comparing.
TEST_CASE("GET /metrics keeps its names, labels, help and types (tests/fixtures/metrics_names.txt)") {
  TempDir dir;
  HotlineServer server(test_config(dir));
  // The same traffic each time: a text, a call, an unknown route, a readiness check.
  REQUIRE(server.post_signed("/twilio/sms", sms_form("+14145550188", "hola", "SMnames0001"))->status == 200);
  REQUIRE(server.post_signed("/twilio/sms", sms_form("+14145550188", "1", "SMnames0002"))->status == 200);
  REQUIRE(server.post_signed("/twilio/voice", {{"CallSid", "CAnames0001"}, {"From", "+14145550189"},
                                               {"To", "+14145550100"}, {"CallStatus", "ringing"}})->status == 200);
  REQUIRE(server.client().Get("/nowhere")->status == 404);
  REQUIRE(server.client().Get("/readyz")->status == 200);
  auto res = server.client().Get("/metrics");
  REQUIRE(res);
  REQUIRE(res->status == 200);
  parse_metrics(res->body);  // well-formed, as the format says

  // Comments in order (the families' order), then the series, sorted: their order within a
  // family means nothing to Prometheus.
  std::vector<std::string> comments;
  std::set<std::string> series;
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("#", 0) == 0) comments.push_back(line);
    else series.insert(line.substr(0, line.rfind(' ')));
  }
  std::string names;
  for (const auto& c : comments) names += c + "\n";
  for (const auto& s : series) names += s + "\n";

  const std::string fixture = std::string(HOTLINE_SOURCE_DIR) + "/tests/fixtures/metrics_names.txt";
  if (const char* write = std::getenv("HOTLINE_WRITE_METRICS_FIXTURE"); write && std::string(write) == "1") {
    std::ofstream(fixture, std::ios::binary) << names;
    WARN("wrote " << fixture);
    return;
  }
  std::ifstream saved(fixture, std::ios::binary);
  REQUIRE(saved);
  const std::string expected((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
  CHECK(names == expected);
}

TEST_CASE("without HOTLINE_ADMIN_TOKEN, /metrics answers this machine only and /admin/reload is off") {
  TempDir dir;
  auto config = test_config(dir);
  config.bind = "0.0.0.0";  // so a client can come from another address of this machine
  HotlineServer server(config);

  auto local = server.client().Get("/metrics");
  REQUIRE(local);
  CHECK(local->status == 200);

  SECTION("a request a proxy forwarded is not local") {
    auto proxied = server.client().Get("/metrics", {{"X-Forwarded-For", "203.0.113.9"}});
    REQUIRE(proxied);
    CHECK(proxied->status == 403);
    CHECK_THAT(proxied->body, Catch::Contains("HOTLINE_ADMIN_TOKEN"));
  }
  SECTION("a client on another address is refused") {
    const std::string address = non_loopback_address();
    if (address.empty()) {
      WARN("no non-loopback IPv4 address on this machine: skipped");
      return;
    }
    httplib::Client remote(address, server.port());
    auto res = remote.Get("/metrics");
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK_THAT(res->body, Catch::Contains("HOTLINE_ADMIN_TOKEN"));
    CHECK(res->body.find("# TYPE") == std::string::npos);
  }
  SECTION("/admin/reload says how to turn it on") {
    auto res = server.client().Post("/admin/reload", "", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK_THAT(res->body, Catch::Contains("set HOTLINE_ADMIN_TOKEN") || Catch::Contains("Set HOTLINE_ADMIN_TOKEN"));
  }
}

TEST_CASE("with HOTLINE_ADMIN_TOKEN, /metrics and /admin/reload need the bearer token") {
  TempDir dir;
  copy_shipped_tree(dir);  // a root of its own, so a reload can be made to fail
  auto config = test_config(dir);
  config.root = dir.str();
  config.admin_token = kAdminToken;
  HotlineServer server(config);
  const httplib::Headers good = {{"Authorization", "Bearer " + kAdminToken}};

  for (const httplib::Headers& bad : std::vector<httplib::Headers>{
           {},
           {{"Authorization", "Bearer wrong-token-0123456789abcdef"}},
           {{"Authorization", "Bearer " + kAdminToken + "x"}},
           {{"Authorization", "Basic " + kAdminToken}},
           {{"Authorization", "Bearer"}}}) {
    auto metrics = server.client().Get("/metrics", bad);
    REQUIRE(metrics);
    CHECK(metrics->status == 401);
    CHECK(metrics->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
    CHECK(metrics->body.find("# TYPE") == std::string::npos);
    auto reload = server.client().Post("/admin/reload", bad, "", "text/plain");
    REQUIRE(reload);
    CHECK(reload->status == 401);
    CHECK(reload->get_header_value("WWW-Authenticate").rfind("Bearer", 0) == 0);
  }
  auto samples = scrape(server, good);
  CHECK(value_of(samples, "hotline_http_requests_total", {{"route", "/metrics"}, {"status", "401"}}) == 5);
  CHECK(value_of(samples, "hotline_http_requests_total", {{"route", "/admin/reload"}, {"status", "401"}}) == 5);
  // The scheme is case-insensitive.
  auto lower = server.client().Get("/metrics", {{"Authorization", "bearer " + kAdminToken}});
  REQUIRE(lower);
  CHECK(lower->status == 200);

  SECTION("a clean reload swaps and answers ok") {
    auto res = server.client().Post("/admin/reload", good, "", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 200);
    auto j = nlohmann::json::parse(res->body);
    CHECK(j["ok"] == true);
    CHECK(j["errors"].empty());
    CHECK(value_of(scrape(server, good), "hotline_flow_reloads_total", {{"result", "swapped"}}) == 1);
  }
  SECTION("the documented curl -X POST, with no body and no Content-Length, is answered at once") {
    // What `curl -X POST -H "Authorization: Bearer …" …/admin/reload` sends: a POST with
    // neither Content-Length nor Transfer-Encoding, which HTTP/1.1 says has no body. Read
    // until the connection closed, it waited 5 s and got 400.
    RawConnection raw(server.port(), 10);
    REQUIRE(raw.connected());
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(raw.send("POST /admin/reload HTTP/1.1\r\nHost: localhost\r\nUser-Agent: curl/7.88.1\r\n"
                     "Accept: */*\r\nAuthorization: Bearer " + kAdminToken + "\r\n\r\n"));
    const std::string answer = raw.read_response();
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(answer.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(nlohmann::json::parse(raw_body(answer), nullptr, false).value("ok", false));
    CHECK(took < std::chrono::seconds(2));
  }
  SECTION("a broken edit is refused with its errors, and the old flow keeps serving") {
    const auto flow = dir.path() / "flows" / "hotline.yaml";
    std::string text = read_file(flow.string());
    const auto at = text.find("\nstart: menu\n");
    REQUIRE(at != std::string::npos);
    text.replace(at, 13, "\nstart: no_such_step\n");
    dir.write("flows/hotline.yaml", text);
    auto old_bundle = server.app().bundles().get();
    auto res = server.client().Post("/admin/reload", good, "", "text/plain");
    REQUIRE(res);
    CHECK(res->status == 422);
    auto j = nlohmann::json::parse(res->body);
    CHECK(j["ok"] == false);
    REQUIRE_FALSE(j["errors"].empty());
    CHECK(j["errors"][0].contains("file"));
    CHECK(j["errors"][0].contains("message"));
    CHECK(server.app().bundles().get() == old_bundle);
    auto after = scrape(server, good);
    CHECK(value_of(after, "hotline_flow_reloads_total", {{"result", "refused"}}) == 1);
    CHECK(value_of(after, "hotline_flow_reloads_total", {{"result", "swapped"}}) == 0);
  }
}

TEST_CASE("every request gets an id, echoed and carried by its log lines") {
  TempDir dir;
  auto config = test_config(dir);
  config.threads = 1;  // one thread serves every request: a stale id would show
  StderrCapture capture;
  HotlineServer server(config);

  SECTION("a well-formed X-Request-Id is kept") {
    const std::string id = "Req-42.abc_DEF";
    auto sig_form = sms_form("+14145550166", "hola", "SMops0002");
    auto sig = hotline::twilio::compute_signature(kAuthToken, kPublicUrl + "/twilio/sms", sig_form);
    auto res = server.client().Post("/twilio/sms", {{"X-Twilio-Signature", sig}, {"X-Request-Id", id}},
                                    hotline::twilio::encode_form(sig_form), "application/x-www-form-urlencoded");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("X-Request-Id") == id);

    auto sms = capture.events("sms");
    REQUIRE(sms.size() == 1);
    CHECK(sms[0].value("request_id", "") == id);
    auto access = capture.wait_for("http_request", 1);
    REQUIRE(access.size() == 1);
    CHECK(access[0].value("request_id", "") == id);
    CHECK(access[0].value("method", "") == "POST");
    CHECK(access[0].value("route", "") == "/twilio/sms");
    CHECK(access[0].value("status", 0) == 200);
    CHECK(access[0].contains("duration_ms"));
    CHECK(access[0]["duration_ms"].is_number());
    CHECK(capture.text().find("4145550166") == std::string::npos);

    // The next request on the same thread, refused before routing (not HTTP): a fresh id in its
    // answer and its log line, not the last one's.
    RawConnection raw(server.port());
    REQUIRE(raw.connected());
    REQUIRE(raw.send("GET / HTTP/1.1 and more\r\n\r\n"));
    const std::string answer = raw.read_response();
    CHECK(answer.rfind("HTTP/1.1 400", 0) == 0);
    const std::string fresh = raw_header(answer, "X-Request-Id");
    CHECK(std::regex_match(fresh, std::regex("[0-9a-f]{16}")));
    CHECK(fresh != id);
    access = capture.wait_for("http_request", 2);
    REQUIRE(access.size() == 2);
    CHECK(access[1].value("request_id", "") == fresh);
    CHECK(access[1].value("status", 0) == 400);
    CHECK(access[1].value("route", "") == "other");
  }
  SECTION("a malformed or missing id is replaced by a random one") {
    std::set<std::string> seen;
    for (const std::string& given : {std::string(), std::string("has space"), std::string(65, 'a'),
                                     std::string("+14145550166"), std::string("a\"b")}) {
      httplib::Headers headers;
      if (!given.empty()) headers.emplace("X-Request-Id", given);
      auto res = server.client().Get("/healthz?From=%2B14145550166", headers);
      REQUIRE(res);
      CHECK(res->status == 200);
      const std::string id = res->get_header_value("X-Request-Id");
      INFO("given: " << given << " got: " << id);
      CHECK(std::regex_match(id, std::regex("[0-9a-f]{16}")));
      seen.insert(id);
    }
    CHECK(seen.size() == 5);
    // Random, not a per-process prefix and a counter: ids made one after another share no
    // first half, so one id tells nothing about the next (a counter's would all share it).
    std::set<std::string> first_halves;
    for (const auto& id : seen) first_halves.insert(id.substr(0, 8));
    CHECK(first_halves.size() == 5);
    auto access = capture.wait_for("http_request", 5);
    REQUIRE(access.size() == 5);
    for (const auto& line : access) {
      CHECK(seen.count(line.value("request_id", "")) == 1);
      CHECK(line.value("route", "") == "/healthz");  // no query string
    }
    CHECK(capture.text().find("4145550166") == std::string::npos);
  }
  SECTION("an unknown path is logged as \"other\", and a 404 still has an id") {
    auto res = server.client().Get("/secret/%2B14145550166", {{"X-Request-Id", "lookup-1"}});
    REQUIRE(res);
    CHECK(res->status == 404);
    CHECK(res->get_header_value("X-Request-Id") == "lookup-1");
    auto access = capture.wait_for("http_request", 1);
    REQUIRE(access.size() == 1);
    CHECK(access[0].value("route", "") == "other");
    CHECK(access[0].value("request_id", "") == "lookup-1");
    CHECK(capture.text().find("4145550166") == std::string::npos);
  }
}
