#pragma once
// A problem found in a file staff edit (flows, prompts, intents, roster, config).
// Printed as `file:line:col: error[code]: message`, the shape compilers use, so editors can jump to it.
#include <optional>
#include <string>
#include <vector>

namespace hotline {

enum class Severity { error, warning };

/// A 1-based position in a file. line 0 means "the whole file".
struct Position {
  std::string file;
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  Position where;
  Severity severity = Severity::error;
  std::string code;     // stable id, e.g. "unknown-step"; tests and docs refer to it
  std::string message;  // one sentence a non-programmer can act on
};

std::string format_diagnostic(const Diagnostic& d);

/// For "did you mean `police_ask_status`?" after a misspelt name: the known name closest to
/// `typed`, at most 2 letters added, removed or changed (a third of it for long names).
std::optional<std::string> closest(const std::string& typed, const std::vector<std::string>& known);

/// Collects every problem instead of stopping at the first, so staff fix a file in one pass.
class Diagnostics {
 public:
  void error(Position where, std::string code, std::string message);
  void warning(Position where, std::string code, std::string message);
  /// Adds `d` unless the very same diagnostic is already there.
  void add(Diagnostic d);
  void append(const Diagnostics& other);

  bool has_errors() const;
  std::size_t error_count() const;
  std::size_t warning_count() const;
  const std::vector<Diagnostic>& items() const { return items_; }
  /// Every diagnostic on its own line, sorted by file, line and column.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace hotline
