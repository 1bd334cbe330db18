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

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> closest(const std::string& typed, const std::vector<std::string>& known) {
  const std::size_t allowed = std::max<std::size_t>(2, typed.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = allowed + 1;
  for (const auto& name : known) {
    const std::size_t d = edit_distance(typed, name);
    if (d > 0 && d < best_distance) {
      best = name;
      best_distance = d;
    }
  }
  return best;
}

void Diagnostics::error(Position where, std::string code, std::string message) {
  add({std::move(where), Severity::error, std::move(code), std::move(message)});
}

void Diagnostics::warning(Position where, std::string code, std::string message) {
  add({std::move(where), Severity::warning, std::move(code), std::move(message)});
}

// Two checks can find the same problem (a prompt the engine needs and the flow names too):
// staff see it once.
void Diagnostics::add(Diagnostic d) {
  const auto same = [&](const Diagnostic& e) {
    return e.severity == d.severity && e.where.line == d.where.line && e.where.column == d.where.column &&
           e.code == d.code && e.where.file == d.where.file && e.message == d.message;
  };
  if (std::find_if(items_.begin(), items_.end(), same) == items_.end()) items_.push_back(std::move(d));
}

void Diagnostics::append(const Diagnostics& other) {
  for (const auto& d : other.items_) add(d);
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
