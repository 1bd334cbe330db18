#pragma once
// Counters, histograms and scrape-time gauges for `GET /metrics`, in the Prometheus text
// exposition format (version 0.0.4). No HTTP here: the http layer serves render().
//
// The series, their recording and the text format are prometheus-cpp's core library
// (prometheus::Registry, Family<Counter|Histogram>, TextSerializer; Debian prometheus-cpp-dev).
// This layer keeps what the hotline adds to it: label values given in the order of the label
// names, cleaned (64 printable ASCII characters) and capped, metrics rendered in the order they
// were registered, and gauges read at each scrape.
//
// Recording is prometheus-cpp's (an atomic add for a counter; a short lock for a histogram);
// finding a series takes a shared lock on its metric. Labels carry route patterns, intents,
// languages, verdicts and outcomes — never a phone number or message text. Each metric keeps at
// most `max_series` label sets; a new set beyond that is counted under one set whose every value
// is "other", so a bug or a hostile input cannot grow the registry without bound.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <type_traits>
#include <vector>

namespace prometheus {
class Registry;
class Counter;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace hotline::metrics {

using Labels = std::vector<std::string>;

/// A count that only goes up (rendered as a Prometheus counter; its name ends in `_total`).
class Counter {
 public:
  explicit Counter(prometheus::Counter& counter) : counter_(counter) {}
  void inc(std::uint64_t n = 1);
  std::uint64_t value() const;

 private:
  prometheus::Counter& counter_;
};

/// Observations counted into fixed buckets (upper bounds, ascending), plus their sum.
class Histogram {
 public:
  explicit Histogram(prometheus::Histogram& histogram) : histogram_(histogram) {}
  void observe(double value);

 private:
  prometheus::Histogram& histogram_;
};

/// One metric: a name, its label names, and a series per label set.
template <class Series>
class Family {
 public:
  using Backend = std::conditional_t<std::is_same_v<Series, Histogram>, prometheus::Histogram, prometheus::Counter>;
  Family(prometheus::Family<Backend>& backend, std::string name, Labels label_names, std::size_t max_series,
         std::vector<double> bounds = {});

  /// The series for `values` (in the order of the label names; missing ones are ""). Values are
  /// cut to 64 printable ASCII characters. Past `max_series` sets, the all-"other" series.
  Series& with(const Labels& values);
  Series& with() { return with(Labels{}); }

  const std::string& name() const { return name_; }

 private:
  Series& add(const Labels& key);  // under the unique lock

  prometheus::Family<Backend>& backend_;
  std::string name_;
  Labels label_names_;
  std::size_t max_series_;
  std::vector<double> bounds_;
  mutable std::shared_mutex mutex_;
  std::map<Labels, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter>;
using HistogramFamily = Family<Histogram>;

/// Bucket bounds for request latencies, in seconds: 0.5 ms to 10 s.
std::vector<double> latency_buckets();

class Registry {
 public:
  explicit Registry(std::size_t max_series = 200);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  /// Registers a counter (`name` must end in `_total`); the same name again returns it.
  /// Without labels its one series exists (and renders 0) from the start.
  CounterFamily& counter(const std::string& name, const std::string& help, Labels label_names = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, Labels label_names,
                             std::vector<double> bounds = latency_buckets());
  /// A value read at every scrape (e.g. the outbox depth). If `read` throws, the scrape leaves
  /// the gauge out rather than failing.
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);

  /// Everything, in the text exposition format, metrics in the order they were registered and
  /// each metric's series in the order of their label values.
  std::string render() const;

 private:
  struct Gauge {
    std::string name, help;
    std::function<double()> read;
  };
  struct Entry;
  void check_new_name(const std::string& name) const;

  std::size_t max_series_;
  std::unique_ptr<prometheus::Registry> backend_;
  mutable std::mutex mutex_;  // registration and render
  std::vector<std::unique_ptr<Entry>> entries_;
};

/// A number as the exposition format writes it: shortest round-trip form, +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace hotline::metrics
