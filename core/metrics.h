// MetricsRegistry: counters, gauges and histograms with labels, exposed in
// the Prometheus text format (version 0.0.4).
//
// Why in core/: the HTTP service exposes /metrics, but the producers of the
// numbers live everywhere (ingestion, the projection runtime, replays), so
// the registry must be reachable without depending on the service.
//
// Model: a family has a name, a help text and a type; each distinct label
// set of a family is one series. Get*() returns a pointer to the series,
// created on first use and stable for the registry's lifetime, so hot paths
// look it up once and then only touch atomics. Collectors are callbacks run
// at exposition time to refresh gauges from snapshots (runtime stats, file
// contents, store sizes).
//
// Lifecycle: create one registry per process (or per test) and keep it alive
// longer than every series pointer and collector it handed out.
// Thread-safety: everything is thread-safe; series updates are lock-free,
// creating series and exposition take a mutex. Collectors run under no lock
// of the registry (they may call Get*()), one exposition at a time.
// Failure: none at run time. Mixing types under one family name, or an
// invalid metric or label name, is a programming error: the call returns a
// series of a detached dummy family (never exposed) and logs once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace jiritsu {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(double by = 1) { Add(&value_, by); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  friend class Gauge;
  friend class Histogram;
  static void Add(std::atomic<double>* target, double by);
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by) { Counter::Add(&value_, by); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (plus +Inf last), sum and count.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Seconds buckets for request latencies: 0.5 ms .. 10 s.
std::vector<double> LatencyBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter* GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge* GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram* GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const MetricLabels& labels = {});
  // Drops every series of a gauge family (for gauges whose label sets come
  // and go, e.g. partitions after a rebalance); collectors re-create them.
  void ClearGauges(const std::string& name);

  // Runs `collector` before every exposition.
  void AddCollector(std::function<void(MetricsRegistry&)> collector);

  // Prometheus text exposition of every family, sorted by name, series in
  // label order.
  std::string Expose();

 private:
  struct Family;
  Family* FamilyFor(const std::string& name, const std::string& help, int type);

  std::mutex mutex_;
  std::mutex collect_mutex_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::vector<std::function<void(MetricsRegistry&)>> collectors_;
  std::unique_ptr<Family> dummy_;
};

// Escapes a label value for the text format (backslash, quote, newline).
std::string EscapeLabelValue(const std::string& value);

}  // namespace jiritsu
