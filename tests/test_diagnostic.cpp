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

TEST_CASE("every diagnostic code the sources can report is explained in the staff guide's table") {
  namespace fs = std::filesystem;
  // `error(where, "code", …)` / `warning(where, "code", …)`, the where spanning lines if need be.
  const std::regex call(R"re(\b(?:error|warning)\(\s*[^;"]*?,\s*"([a-z][a-z0-9-]*)")re");
  std::set<std::string> codes;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(HOTLINE_SOURCE_DIR) / "hotline")) {
    const auto ext = entry.path().extension();
    if (ext != ".cpp" && ext != ".hpp") continue;
    const std::string source = slurp(entry.path());
    for (auto it = std::sregex_iterator(source.begin(), source.end(), call); it != std::sregex_iterator(); ++it) {
      codes.insert((*it)[1]);
    }
  }
  CHECK(codes.size() >= 80);  // the scan found them: about 88 when this test was written
  std::string table;
  std::istringstream guide(slurp(fs::path(HOTLINE_SOURCE_DIR) / "docs" / "staff-guide.md"));
  for (std::string line; std::getline(guide, line);) {
    if (line.rfind("| `", 0) == 0) table += line + "\n";
  }
  for (const auto& code : codes) {
    INFO(code);
    CHECK(table.find("`" + code + "`") != std::string::npos);
  }
}
