#include "hotline/common/diagnostic.hpp"

#include <algorithm>
#include <tuple>

namespace hotline {

std::string format_diagnostic(const Diagnostic& d) {
  std::string out = d.where.file;
  if (d.where.line > 0) {
    out += ':' + std::to_string(d.where.line) + ':' + std::to_string(d.where.column);
  }
  out += d.severity == Severity::error ? ": error[" : ": warning[";
  out += d.code + "]: " + d.message;
  return out;
}

void Diagnostics::error(Position where, std::string code, std::string message) {
  items_.push_back({std::move(where), Severity::error, std::move(code), std::move(message)});
}

void Diagnostics::warning(Position where, std::string code, std::string message) {
  items_.push_back({std::move(where), Severity::warning, std::move(code), std::move(message)});
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::has_errors() const { return error_count() > 0; }

std::size_t Diagnostics::error_count() const {
  return std::count_if(items_.begin(), items_.end(),
                       [](const Diagnostic& d) { return d.severity == Severity::error; });
}

std::size_t Diagnostics::warning_count() const { return items_.size() - error_count(); }

std::string Diagnostics::to_string() const {
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
  std::string out;
  for (const auto& d : sorted) out += format_diagnostic(d) + '\n';
  return out;
}

}  // namespace hotline
