#include "hotline/common/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>
#include <stdexcept>
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

// prometheus-cpp writes HELP as given; the format wants `\` and newlines escaped there.
std::string escaped_help(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
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

// --- Series ------------------------------------------------------------------------------------

void Counter::inc(std::uint64_t n) { counter_.Increment(static_cast<double>(n)); }
std::uint64_t Counter::value() const { return static_cast<std::uint64_t>(counter_.Value()); }
void Histogram::observe(double value) { histogram_.Observe(value); }

// --- Family ------------------------------------------------------------------------------------

template <class Series>
Family<Series>::Family(prometheus::Family<Backend>& backend, std::string name, Labels label_names,
                       std::size_t max_series, std::vector<double> bounds)
    : backend_(backend), name_(std::move(name)), label_names_(std::move(label_names)),
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
  return add(key);
}

template <class Series>
Series& Family<Series>::add(const Labels& key) {
  prometheus::Labels labels;
  for (std::size_t i = 0; i < key.size(); ++i) labels.emplace(label_names_[i], key[i]);
  std::unique_ptr<Series> series;
  if constexpr (std::is_same_v<Series, Histogram>) {
    series = std::make_unique<Histogram>(backend_.Add(labels, bounds_));
  } else {
    series = std::make_unique<Counter>(backend_.Add(labels));
  }
  return *series_.emplace(key, std::move(series)).first->second;
}

template class Family<Counter>;
template class Family<Histogram>;

// --- Registry ----------------------------------------------------------------------------------

struct Registry::Entry {
  std::variant<std::unique_ptr<CounterFamily>, std::unique_ptr<HistogramFamily>, Gauge> metric;
  std::string help;  // escaped, as rendered
  const std::string& name() const {
    if (auto* c = std::get_if<0>(&metric)) return (*c)->name();
    if (auto* h = std::get_if<1>(&metric)) return (*h)->name();
    return std::get<2>(metric).name;
  }
};

Registry::Registry(std::size_t max_series)
    : max_series_(max_series),
      backend_(std::make_unique<prometheus::Registry>(prometheus::Registry::InsertBehavior::Throw)) {}
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
  auto& backend = prometheus::BuildCounter().Name(name).Help(escaped_help(help)).Register(*backend_);
  auto family = std::make_unique<CounterFamily>(backend, name, std::move(label_names), max_series_);
  if (plain) family->with();
  auto& ref = *family;
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family), escaped_help(help)}));
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
  auto& backend = prometheus::BuildHistogram().Name(name).Help(escaped_help(help)).Register(*backend_);
  auto family = std::make_unique<HistogramFamily>(backend, name, std::move(label_names), max_series_, std::move(bounds));
  if (plain) family->with();
  auto& ref = *family;
  entries_.push_back(std::make_unique<Entry>(Entry{std::move(family), escaped_help(help)}));
  return ref;
}

void Registry::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  check_new_name(name);
  entries_.push_back(std::make_unique<Entry>(Entry{Gauge{name, help, std::move(read)}, escaped_help(help)}));
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  // prometheus-cpp collects by type (every counter, then every histogram); put the families back
  // in the order they were registered, and each one's series in the order of their labels (its
  // own order is a hash map's), so the text reads the same from one scrape to the next.
  std::map<std::string, prometheus::MetricFamily> collected;
  for (auto& family : backend_->Collect()) {
    std::sort(family.metric.begin(), family.metric.end(),
              [](const prometheus::ClientMetric& a, const prometheus::ClientMetric& b) { return a.label < b.label; });
    std::string name = family.name;
    collected.emplace(std::move(name), std::move(family));
  }
  std::vector<prometheus::MetricFamily> ordered;
  ordered.reserve(entries_.size());
  for (const auto& e : entries_) {
    if (const auto* g = std::get_if<2>(&e->metric)) {
      prometheus::ClientMetric sample;
      try {
        sample.gauge.value = g->read();
      } catch (...) {
        continue;  // e.g. the database is unreachable: /readyz says so; the scrape goes on
      }
      ordered.push_back(prometheus::MetricFamily{g->name, e->help, prometheus::MetricType::Gauge, {std::move(sample)}});
    } else if (auto it = collected.find(e->name()); it != collected.end()) {
      ordered.push_back(std::move(it->second));
    } else {
      // The library leaves out a metric with no series yet; it is described all the same, so a
      // dashboard or an alert finds it from the first scrape.
      const auto type = std::holds_alternative<std::unique_ptr<HistogramFamily>>(e->metric)
                            ? prometheus::MetricType::Histogram
                            : prometheus::MetricType::Counter;
      ordered.push_back(prometheus::MetricFamily{e->name(), e->help, type, {}});
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, ordered);
  return out.str();
}

}  // namespace hotline::metrics
