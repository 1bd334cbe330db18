// flows/sources.yaml: where the answers' facts come from, their dates in the answers, and the
// reminders to review them.
#include <catch2/catch.hpp>

#include <filesystem>

#include "hotline/flow/bundle.hpp"
#include "hotline/flow/sources.hpp"
#include "tests/process.hpp"
#include "tests/support.hpp"

using namespace hotline;
using test_support::TempDir;

namespace {

// `hotline check` on the shipped tree with the clock pinned to `now`; stdout and stderr together.
int check_at(const std::string& now, std::string& out) {
  const auto r = test_support::run({HOTLINE_BINARY, "check", HOTLINE_SOURCE_DIR}, "", {"HOTLINE_NOW=" + now});
  out = r.out + r.err;
  return r.exit_code;
}

}  // namespace

TEST_CASE("sources: dates render in each language, and a source needs a date", "[sources]") {
  TempDir dir;
  const auto path = dir.write("flows/sources.yaml",
                              "sources:\n"
                              "  story:\n"
                              "    title: A story\n"
                              "    outlet: A radio\n"
                              "    date: 2017-07\n"
                              "    review_by: 2027-03-01\n"
                              "  undated:\n"
                              "    title: Another\n"
                              "    outlet: A paper\n"
                              "  badly_dated:\n"
                              "    title: Third\n"
                              "    outlet: A paper\n"
                              "    date: July 2017\n");
  Diagnostics diags;
  const auto sources = flow::load_sources(path, diags);
  REQUIRE(sources.size() == 1);
  CHECK(flow::source_dates(sources, Lang::en).at("date_story") == "July 2017");
  CHECK(flow::source_dates(sources, Lang::es).at("date_story") == "julio de 2017");
  const std::string text = diags.to_string();
  CHECK_THAT(text, Catch::Contains(path + ":7:3: error[source-without-date]"));
  CHECK_THAT(text, Catch::Contains(path + ":13:11: error[bad-date]"));
  CHECK(flow::due_for_review(sources, {2027, 3, 1}).empty());
  CHECK(flow::due_for_review(sources, {2027, 3, 2}).size() == 1);
  CHECK(flow::day_of(1796083200000) == flow::Day{2026, 12, 1});
}

TEST_CASE("hotline check warns past review_by and names the answers that rely on the source", "[sources]") {
  std::string out;
  CHECK(check_at("2026-12-04T12:00:00Z", out) == 0);
  CHECK_THAT(out, !Catch::Contains("source-review-due"));
  CHECK(check_at("2027-06-01T12:00:00Z", out) == 0);
  CHECK_THAT(out, Catch::Contains("flows/sources.yaml:8:3: warning[source-review-due]: source 'wpr_2017'"));
  CHECK_THAT(out, Catch::Contains("Answers that rely on it: call_police, complaint, policy_change, source_date, "
                                  "status_reporting."));
}

TEST_CASE("hotline check warns about a prompt a call can reach that has no voice wording", "[sources][voice]") {
  TempDir dir;
  test_support::copy_shipped_tree(dir);
  std::string en = test_support::read_file((dir.path() / "prompts" / "en.yaml").string());
  const auto at = en.find("\n  voice: >-\n    You're welcome.");
  REQUIRE(at != std::string::npos);
  en.erase(at, en.find("when you are done.", at) + 18 - at);
  dir.write("prompts/en.yaml", en);
  Diagnostics diags;
  REQUIRE(flow::load_bundle(dir.str(), {}, diags) != nullptr);
  CHECK_THAT(diags.to_string(), Catch::Contains("warning[no-voice-wording]: prompt 'thanks' can be said on a phone call"));
  Diagnostics shipped;
  REQUIRE(flow::load_bundle(HOTLINE_SOURCE_DIR, {}, shipped) != nullptr);
  CHECK_THAT(shipped.to_string(), !Catch::Contains("no-voice-wording"));
}

TEST_CASE("a bundle refuses a prompt that names a source that does not exist, or a source without a date", "[sources]") {
  TempDir dir;
  test_support::copy_shipped_tree(dir);
  const auto en = dir.path() / "prompts" / "en.yaml";
  std::string text = test_support::read_file(en.string());
  text.replace(text.find("{date_wpr_2017}"), 15, "{date_wpr_2071}");
  dir.write("prompts/en.yaml", text);
  Diagnostics diags;
  CHECK(flow::load_bundle(dir.str(), {}, diags) == nullptr);
  CHECK_THAT(diags.to_string(), Catch::Contains("error[unknown-source]: prompt 'call_police' uses {date_wpr_2071}"));

  TempDir undated;
  test_support::copy_shipped_tree(undated);
  std::string sources = test_support::read_file((undated.path() / "flows" / "sources.yaml").string());
  sources.replace(sources.find("    date: 2017-07\n"), 18, "");
  undated.write("flows/sources.yaml", sources);
  Diagnostics more;
  CHECK(flow::load_bundle(undated.str(), {}, more) == nullptr);
  CHECK_THAT(more.to_string(), Catch::Contains("error[source-without-date]: source 'wpr_2017' has no `date:`"));
}
