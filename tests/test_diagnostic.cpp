#include <catch2/catch.hpp>

#include "hotline/common/diagnostic.hpp"

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
