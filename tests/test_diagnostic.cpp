#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hotline/common/diagnostic.hpp"
#include "hotline/common/log.hpp"
#include "hotline/common/yaml_position.hpp"
#include "hotline/common/yaml_syntax.hpp"
#include "support.hpp"

using namespace hotline;

TEST_CASE("diagnostics print as file:line:col: severity[code]: message") {
  Diagnostic d{{"flows/hotline.yaml", 12, 5}, Severity::error, "unknown-step", "there is no step named 'x'"};
  CHECK(format_diagnostic(d) == "flows/hotline.yaml:12:5: error[unknown-step]: there is no step named 'x'");
  Diagnostic whole_file{{"environment", 0, 0}, Severity::warning, "local-mode", "no token"};
  CHECK(format_diagnostic(whole_file) == "environment: warning[local-mode]: no token");
}

TEST_CASE("diagnostics are listed by file and position, and counted by severity") {
  Diagnostics diags;
  diags.warning({"b.yaml", 1, 1}, "w", "later file");
  diags.error({"a.yaml", 10, 2}, "e2", "second");
  diags.error({"a.yaml", 2, 7}, "e1", "first");
  CHECK(diags.error_count() == 2);
  CHECK(diags.warning_count() == 1);
  CHECK(diags.has_errors());
  CHECK(diags.to_string() ==
        "a.yaml:2:7: error[e1]: first\n"
        "a.yaml:10:2: error[e2]: second\n"
        "b.yaml:1:1: warning[w]: later file\n");
  Diagnostics only_warnings;
  only_warnings.warning({"x", 1, 1}, "w", "m");
  CHECK_FALSE(only_warnings.has_errors());
}

TEST_CASE("the same diagnostic twice is kept once") {
  Diagnostics diags;
  diags.error({"flows/hotline.yaml", 1, 1}, "missing-prompt", "prompt 'help' is missing in prompts/es.yaml");
  diags.error({"flows/hotline.yaml", 1, 1}, "missing-prompt", "prompt 'help' is missing in prompts/es.yaml");
  Diagnostics other;
  other.error({"flows/hotline.yaml", 1, 1}, "missing-prompt", "prompt 'help' is missing in prompts/es.yaml");
  other.error({"flows/hotline.yaml", 2, 1}, "missing-prompt", "prompt 'help' is missing in prompts/es.yaml");
  diags.append(other);
  CHECK(diags.error_count() == 2);
  CHECK(diags.to_string() ==
        "flows/hotline.yaml:1:1: error[missing-prompt]: prompt 'help' is missing in prompts/es.yaml\n"
        "flows/hotline.yaml:2:1: error[missing-prompt]: prompt 'help' is missing in prompts/es.yaml\n");
}

TEST_CASE("did you mean: the closest known name within a few letters, or nothing") {
  const std::vector<std::string> steps{"police_ask_status", "police_complaint", "menu"};
  CHECK(closest("police_ask_stats", steps) == "police_ask_status");
  CHECK(closest("polise_ask_statu", steps) == "police_ask_status");
  CHECK(closest("meun", steps) == "menu");
  CHECK_FALSE(closest("goodbye", steps));
  CHECK_FALSE(closest("menu", steps));  // the name itself is not a suggestion
}

// ---- YAML slips in plain words (common/yaml_syntax.cpp) -----------------------------------------

namespace {
// What `hotline check` prints for a YAML file that does not parse.
std::string yaml_error(const std::string& text) {
  test_support::TempDir dir;
  dir.write("prompts.yaml", text);
  Diagnostics diags;
  CHECK_FALSE(load_yaml_file(dir.str() + "/prompts.yaml", "prompts file", diags));
  REQUIRE(diags.items().size() == 1);
  CHECK(is_yaml_syntax_error(diags.items()[0]));
  std::string out = diags.to_string();
  out.erase(0, dir.str().size() + 1);
  return out;
}
const std::string kBlocks = ". Nothing else in the prompts file is read or checked until this is fixed\n";
}  // namespace

TEST_CASE("a tab at the start of a line is named, with its line") {
  CHECK(yaml_error("menu:\n  sms: one\n\tvoice: two\n") ==
        "prompts.yaml:3:1: error[yaml-tab]: line 3 starts with a tab: use spaces" + kBlocks);
  CHECK(yaml_error("menu: one\nhelp:\n\tsms: two\n") ==
        "prompts.yaml:3:1: error[yaml-tab]: line 3 starts with a tab: use spaces" + kBlocks);
}

TEST_CASE("': ' inside plain text is pointed at the text, with the fix") {
  CHECK(yaml_error("menu: Call us: now\nhelp: x\n") ==
        "prompts.yaml:1:7: error[yaml-colon]: this text contains ': ': put it in quotes (\"…\")" + kBlocks);
  CHECK(yaml_error("menu:\n  sms: hello\n  voice: Diga esto: ahora\n") ==
        "prompts.yaml:3:10: error[yaml-colon]: this text contains ': ': put it in quotes (\"…\")" + kBlocks);
  CHECK(yaml_error("menu: Call us\n  today at noon: or later\nhelp: x\n") ==
        "prompts.yaml:1:7: error[yaml-colon]: this text contains ': ' (on line 2): put it in quotes (\"…\")" +
            kBlocks);
}

TEST_CASE("a line indented less or more than the lines it belongs to is named") {
  // A field two spaces short of its siblings, after a block of text.
  CHECK(yaml_error("menu:\n    sms: one\n  voice: two\nhelp: x\n") ==
        "prompts.yaml:3:3: error[yaml-indent]: line 3 is indented less than the text above it: line it up "
        "with the lines it belongs to" + kBlocks);
  CHECK(yaml_error("menu:\n  sms: >-\n    one\n    two\n voice: >-\n    three\nhelp: x\n") ==
        "prompts.yaml:5:2: error[yaml-indent]: line 5 is indented less than the text above it: line it up "
        "with the lines it belongs to" + kBlocks);
  // Text of a `>-` block that lost its indentation.
  CHECK(yaml_error("menu:\n  sms: >-\n    one\n  two\n  voice: x\nhelp:\n  sms: x\n") ==
        "prompts.yaml:4:3: error[yaml-indent]: line 4 is indented less than the text above it: line it up "
        "with the lines it belongs to" + kBlocks);
  // A prompt's `sms:` not indented under its key: the parser stops two lines later, at `voice:`.
  CHECK(yaml_error("menu: x\ncall_police:\nsms: >-\n    Según una noticia\n  voice: >-\n    Según\n") ==
        "prompts.yaml:3:1: error[yaml-indent]: line 3 is indented less than the text above it: line it up "
        "with the lines it belongs to" + kBlocks);
  CHECK(yaml_error("steps:\n  menu:\n    say: menu\n    replies:\n      \"1\": a\n   a:\n    say: x\n") ==
        "prompts.yaml:6:4: error[yaml-indent]: line 6 is indented less than the text above it: line it up "
        "with the lines it belongs to" + kBlocks);
  CHECK(yaml_error("menu:\n  sms: one\n   voice: x\n") ==
        "prompts.yaml:3:4: error[yaml-indent]: line 3 is indented more than the line above it: line it up "
        "with the fields it belongs to" + kBlocks);
}

TEST_CASE("an alias with no anchor above it is named at the alias, not taken for an indentation slip") {
  // `replies: &menu_replies` opens the lines under it like `replies:` alone; the slip is the alias.
  CHECK(yaml_error("steps:\n  menu:\n    replies: &menu_numbers\n      \"1\": a\n      \"2\": b\n"
                   "  after:\n    replies: *menu_replies\n") ==
        "prompts.yaml:7:14: error[yaml-syntax]: this `*name` refers to an anchor `&name` that is not defined above "
        "it in this file: check the spelling of both, or write the lines out in full" + kBlocks);
}

TEST_CASE("another YAML slip still gets its line, the reader's words and where to look") {
  CHECK(yaml_error("flow: tiny\nstart: [menu\nsteps: {}\n") ==
        "prompts.yaml:3:6: error[yaml-syntax]: the file cannot be read from here (the YAML reader says \"end "
        "of sequence flow not found\"): check the indentation and the quotes on this line and the lines just above" +
            kBlocks);
}

// ---- Logs (common/log.cpp) -------------------------------------------------------------------

namespace {

/// What the code under test writes to stderr (fd 2) while it lives.
class StderrToFile {
 public:
  StderrToFile() : file_(std::tmpfile()) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    ::dup2(::fileno(file_), 2);
  }
  ~StderrToFile() { restore(); }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, file_)) > 0;) out.append(buf, n);
    std::fclose(file_);
    file_ = nullptr;
    return out;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
  }
  std::FILE* file_;
  int saved_ = -1;
};

std::vector<std::string> lines_without_ts(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = text.substr(start, nl - start);
    const auto ts = line.find("\"ts\":\"");
    if (ts != std::string::npos) {
      const std::size_t from = ts > 0 && line[ts - 1] == ',' ? ts - 1 : ts;
      line.erase(from, line.find('"', ts + 6) + 1 - from);
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("a contact is logged under today's alias, never as its key") {
  const std::string alias = log::contact_alias("c_0123");
  CHECK(alias.size() == 18);
  CHECK(alias.rfind("d_", 0) == 0);
  CHECK(log::contact_alias("c_0123") == alias);  // the same all day, so a day's lines can be read together
  CHECK(log::contact_alias("c_0124") != alias);
  StderrToFile capture;
  log::write(log::Level::info, "sms", {{"contact", "c_0123"}});
  log::emit(log::Level::info, "sms", {{"contact", "c_0123"}});
  const std::string text = capture.text();
  CHECK(text.find("c_0123") == std::string::npos);
  CHECK(text.find("\"contact\":\"" + alias + "\"") != std::string::npos);
}

TEST_CASE("log::emit writes the very line log::write writes for the same fields") {
  const std::string tricky = "quote \" backslash \\ tab \t newline \n nul " + std::string(1, '\0') +
                             " ñ bad \xff\xfe end \x7f";
  for (const bool with_request_id : {false, true}) {
    if (with_request_id) log::set_request_id("req-1");
    StderrToFile capture;
    const std::string contact = "c_0123";
    const std::size_t count = 18446744073709551615u;  // SIZE_MAX: as nlohmann writes an unsigned
    log::write(log::Level::info, "sms",
               {{"contact", contact}, {"text", tricky}, {"n", -42}, {"yes", true}, {"no", false},
                {"big", count}, {"a key \"quoted\"", "v"}, {"event", "renamed"}, {"zz", "last"},
                {"ms", 0.12}, {"whole", 3.0}});
    log::emit(log::Level::info, "sms",
              {{"contact", contact}, {"text", tricky}, {"n", -42}, {"yes", true}, {"no", false},
               {"big", count}, {"a key \"quoted\"", "v"}, {"event", "renamed"}, {"zz", "last"},
               {"ms", 0.12}, {"whole", 3.0}});
    log::write(log::Level::warn, "plain");
    log::emit(log::Level::warn, "plain", {});
    log::emit(log::Level::debug, "below the level", {{"k", "v"}});
    if (with_request_id) log::clear_request_id();  // writes the request's lines
    const std::string text = capture.text();
    INFO(text);
    const auto lines = lines_without_ts(text);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == lines[1]);
    CHECK(lines[2] == lines[3]);
    CHECK(lines[2] == std::string("{\"event\":\"plain\",\"level\":\"warn\"") +
                          (with_request_id ? ",\"request_id\":\"req-1\"" : "") + "}");
    // Valid JSON, keys in order, the caller's "event" in place of the fixed one.
    const auto parsed = nlohmann::json::parse(text.substr(0, text.find('\n')));
    CHECK(parsed["event"] == "renamed");
    CHECK(parsed["n"] == -42);
    CHECK(parsed["big"] == count);
    CHECK(parsed["text"].get<std::string>().find("ñ bad \xEF\xBF\xBD") != std::string::npos);
    CHECK(parsed["ts"].get<std::string>().size() == 24);  // 2026-11-29T07:33:12.345Z
  }
}

TEST_CASE("a request's lines are held and written together, in order, when it is answered") {
  log::set_request_id("req-2");
  {
    StderrToFile held;
    log::emit(log::Level::info, "first", {{"n", 1}});
    log::write(log::Level::warn, "second", {{"n", 2}});
    CHECK(held.text().empty());  // nothing written yet
  }
  StderrToFile capture;
  log::flush_request_lines();
  log::emit(log::Level::info, "after the answer", {});  // not held any more, still tagged
  log::clear_request_id();
  log::emit(log::Level::info, "no request", {});
  const auto lines = lines_without_ts(capture.text());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == R"({"event":"first","level":"info","n":1,"request_id":"req-2"})");
  CHECK(lines[1] == R"({"event":"second","level":"warn","n":2,"request_id":"req-2"})");
  CHECK(lines[2] == R"({"event":"after the answer","level":"info","request_id":"req-2"})");
  CHECK(lines[3] == R"({"event":"no request","level":"info"})");
}

namespace {
std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}
}  // namespace

namespace {

// Every code a diagnostic is made with in hotline/: the first "kebab-case" literal argument after
// a non-literal first argument (the position) of error(…), warning(…) or at(…), calls that may
// span lines: diags.error(where, "unknown-step", …), error(node, "bad-id", …),
// at(path, line, column, "yaml-tab", …).
std::set<std::string> codes_in_sources() {
  static const std::regex call(R"re(\b(?:error|warning|at)\(\s*[^;"()]*(?:\([^;"()]*\)[^;"()]*|\{[^;"{}]*\}[^;"()]*)*,\s*"([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")re");
  std::set<std::string> codes;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(std::filesystem::path(HOTLINE_SOURCE_DIR) / "hotline")) {
    const auto ext = entry.path().extension();
    if (!entry.is_regular_file() || (ext != ".cpp" && ext != ".hpp")) continue;
    const std::string text = slurp(entry.path());
    for (std::sregex_iterator it(text.begin(), text.end(), call), end; it != end; ++it) codes.insert((*it)[1]);
  }
  return codes;
}

// The codes named in the staff guide's tables under "## Check": `code` in a line starting with |.
std::set<std::string> codes_in_guide() {
  const std::string guide = slurp(std::filesystem::path(HOTLINE_SOURCE_DIR) / "docs" / "staff-guide.md");
  const auto start = guide.find("\n## Check\n");
  REQUIRE(start != std::string::npos);
  const auto end = guide.find("\n## ", start + 1);
  std::istringstream section(guide.substr(start, end - start));
  static const std::regex code("`([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`");
  std::set<std::string> codes;
  for (std::string line; std::getline(section, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::string first_cell = line.substr(0, line.find(" |", 2));
    for (std::sregex_iterator it(first_cell.begin(), first_cell.end(), code), e; it != e; ++it) codes.insert((*it)[1]);
  }
  return codes;
}

}  // namespace

TEST_CASE("every diagnostic code the code base can print has a row in the staff guide's table") {
  const auto in_code = codes_in_sources();
  // The scan finds codes made every way they are made (a lambda, Diagnostics::error with a
  // Position{…}, yaml_syntax's at(…) over several lines), so a new one cannot hide from it.
  for (const char* known : {"unknown-step", "yaml-tab", "yaml-colon", "roster-not-map", "unreadable", "restart-needed",
                            "test-failed", "bad-whatsapp-sender", "too-long"}) {
    INFO(known);
    CHECK(in_code.count(known) == 1);
  }
  CHECK(in_code.size() > 80);
  const auto in_guide = codes_in_guide();
  for (const auto& c : in_code) {
    INFO("docs/staff-guide.md has no row for error code '" << c << "': add one to the table under ## Check");
    CHECK(in_guide.count(c) == 1);
  }
}
