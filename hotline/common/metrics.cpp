#include "hotline/common/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <variant>

namespace hotline::metrics {
namespace {

constexpr std::size_t kMaxLabelValue = 64;

bool valid_name(const std::string& name, bool colons) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':');
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0)) return false;
  }
  return true;
}

// Printable ASCII only (so the text stays valid UTF-8 whatever a caller passes), cut short.
std::string clean_value(const std::string& value) {
  std::string out;
  out.reserve(std::min(value.size(), kMaxLabelValue));
  for (char c : value) {
    if (out.size() == kMaxLabelValue) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '_');
  }
  return out;
}

void append_escaped(std::string& out, const std::string& text, bool quotes) {
  for (char c : text) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quotes && c == '"') out += "\\\"";
    else out.push_back(c);
  }
}

void append_header(std::string& out, const std::string& name, const std::string& help, const char* type) {
  out += "# HELP " + name + " ";
  append_escaped(out, help, false);
  out += "\n# TYPE " + name + " " + type + "\n";
}

// `{a="x",b="y"}` (or nothing without labels), with `extra` (e.g. le="0.5") last.
void append_labels(std::string& out, const Labels& names, const Labels& values,
                   const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return;
  out.push_back('{');
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out.push_back(',');
    out += names[i] + "=\"";
    append_escaped(out, i < values.size() ? values[i] : std::string(), true);
    out.push_back('"');
  }
  if (!extra.empty()) {
    if (!names.empty()) out.push_back(',');
    out += extra;
  }
  out.push_back('}');
}

void render_series(std::string& out, const std::string& name, const Labels& names,
                   const Labels& values, const Counter& c, const std::vector<double>*) {
  out += name;
  append_labels(out, names, values);
  out += " " + std::to_string(c.value()) + "\n";
}

void render_series(std::string& out, const std::string& name, const Labels& names,
                   const Labels& values, const Histogram& h, const std::vector<double>* bounds) {
  const auto snap = h.snapshot();
  for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
    const std::string le = i < bounds->size() ? format_value((*bounds)[i]) : "+Inf";
    out += name + "_bucket";
    append_labels(out, names, values, "le=\"" + le + "\"");
    out += " " + std::to_string(snap.cumulative[i]) + "\n";
  }
  out += name + "_sum";
  append_labels(out, names, values);
  out += " " + format_value(snap.sum) + "\n";
  out += name + "_count";
  append_labels(out, names, values);
  out += " " + std::to_string(snap.cumulative.back()) + "\n";
}

}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::vector<double> latency_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- Histogram ---------------------------------------------------------------------------------

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double value) {
  std::size_t i = 0;
  while (i < bounds_->size() && value > (*bounds_)[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// --- Family ------------------------------------------------------------------------------------

template <class Series>
Family<Series>::Family(std::string name, std::string help, Labels label_names, std::size_t max_series,
                       std::shared_ptr<const std::vector<double>> bounds)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      max_series_(std::max<std::size_t>(max_series, 1)), bounds_(std::move(bounds)) {}

template <class Series>
Series& Family<Series>::with(const Labels& values) {
  Labels key(label_names_.size());
  for (std::size_t i = 0; i < key.size() && i < values.size(); ++i) key[i] = clean_value(values[i]);
  {
    std::shared_lock lock(mutex_);
    if (auto it = series_.find(key); it != series_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  if (auto it = series_.find(key); it != series_.end()) return *it->second;
  if (series_.size() >= max_series_) {
    key.assign(label_names_.size(), "other");
    if (auto it = series_.find(key); it != series_.end()) return *it->second;
  }
  std::unique_ptr<Series> series;
  if constexpr (std::is_same_v<Series, Histogram>) series = std::make_unique<Histogram>(bounds_);
  else series = std::make_unique<Series>();
  return *series_.emplace(std::move(key), std::move(series)).first->second;
}

template <class Series>
void Family<Series>::render(std::string& out) const {
  append_header(out, name_, help_, std::is_same_v<Series, Histogram> ? "histogram" : "counter");
  std::shared_lock lock(mutex_);
  for (const auto& [values, series] : series_) {
    render_series(out, name_, label_names_, values, *series, bounds_.get());
  }
}

template class Family<Counter>;
template class Family<Histogram>;

// --- Registry ----------------------------------------------------------------------------------

struct Registry::Entry {
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<HistogramFamily>, Gauge> metric;
  const std::string& name() const {
    if (auto* c = std::get_if<0>(&metric)) return (*c)->name();
    if (auto* h = std::get_if<1>(&metric)) return (*h)->name();
    return std::get<2>(metric).name;
  }
};

Registry::Registry(std::size_t max_series) : max_series_(max_series) {}
Registry::~Registry() = default;

void Registry::check_new_name(const std::string& name) const {
  if (!valid_name(name, true)) throw std::invalid_argument("bad metric name: " + name);
  for (const auto& e : entries_) {
    if (e->name() == name) throw std::invalid_argument("metric registered twice with different types: " + name);
  }
}

namespace {
void check_labels(const Labels& names, bool histogram) {
  for (const auto& n : names) {
    if (!valid_name(n, false) || n.rfind("__", 0) == 0 || (histogram && n == "le")) {
      throw std::invalid_argument("bad label name: " + n);
    }
  }
}
}  // namespace

CounterFamily& Registry::counter(const std::string& name, const std::string& help, Labels label_names) {
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (auto* c = std::get_if<0>(&e->metric); c && (*c)->name() == name) return **c;
  }
  check_new_name(name);
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
    throw std::invalid_argument("a counter's name ends in _total: " + name);
  }
  check_labels(label_names, false);
  const bool plain = label_names.empty();
  auto family = std::make_unique<CounterFamily>(name, help, std::move(label_names), max_series_);
  if (plain) family->with();
  auto& ref = *family;
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family)}));
  return ref;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help,
                                     Labels label_names, std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (auto* h = std::get_if<1>(&e->metric); h && (*h)->name() == name) return **h;
  }
  check_new_name(name);
  check_labels(label_names, true);
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite and ascending: " + name);
    }
  }
  const bool plain = label_names.empty();
  auto family = std::make_unique<HistogramFamily>(
      name, help, std::move(label_names), max_series_,
      std::make_shared<const std::vector<double>>(std::move(bounds)));
  if (plain) family->with();
  auto& ref = *family;
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family)}));
  return ref;
}

void Registry::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  check_new_name(name);
  entries_.push_back(std::make_unique<Entry>(Entry{Gauge{name, help, std::move(read)}}));
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    if (auto* c = std::get_if<0>(&e->metric)) {
      (*c)->render(out);
    } else if (auto* h = std::get_if<1>(&e->metric)) {
      (*h)->render(out);
    } else {
      const auto& g = std::get<2>(e->metric);
      double value = 0;
      try {
        value = g.read();
      } catch (...) {
        continue;  // e.g. the database is unreachable: /readyz says so; the scrape goes on
      }
      append_header(out, g.name, g.help, "gauge");
      out += g.name + " " + format_value(value) + "\n";
    }
  }
  return out;
}

}  // namespace hotline::metrics
