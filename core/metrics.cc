#include "core/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/logging.h"

namespace jiritsu {
namespace {

enum FamilyType { kCounterType = 0, kGaugeType = 1, kHistogramType = 2 };

bool ValidName(const std::string& name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                       (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return std::to_string(static_cast<long long>(value));
  }
  char buffer[40];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);  // shortest round-trip
  return std::string(buffer, result.ptr);
}

std::string LabelText(const MetricLabels& labels, const std::string& extra_name = "",
                      const std::string& extra_value = "") {
  if (labels.empty() && extra_name.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ",";
    first = false;
    out += name + "=\"" + EscapeLabelValue(value) + "\"";
  }
  if (!extra_name.empty()) {
    if (!first) out += ",";
    out += extra_name + "=\"" + EscapeLabelValue(extra_value) + "\"";
  }
  return out + "}";
}

}  // namespace

void Counter::Add(std::atomic<double>* target, double by) {
  double current = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(current, current + by, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  const size_t index =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[index].fetch_add(1, std::memory_order_relaxed);
  Counter::Add(&sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  int type = kCounterType;
  // Series keyed by their label text, so exposition order is deterministic.
  std::map<std::string, std::pair<MetricLabels, std::unique_ptr<Counter>>> counters;
  std::map<std::string, std::pair<MetricLabels, std::unique_ptr<Gauge>>> gauges;
  std::map<std::string, std::pair<MetricLabels, std::unique_ptr<Histogram>>> histograms;
};

MetricsRegistry::MetricsRegistry() : dummy_(std::make_unique<Family>()) {}
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Family* MetricsRegistry::FamilyFor(const std::string& name,
                                                    const std::string& help, int type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    if (!ValidName(name, false)) {
      ModuleLogger("metrics")->error("metrics: invalid metric name '{}'", name);
      return dummy_.get();
    }
    auto family = std::make_unique<Family>();
    family->name = name;
    family->help = help;
    family->type = type;
    it = families_.emplace(name, std::move(family)).first;
  }
  if (it->second->type != type) {
    ModuleLogger("metrics")->error("metrics: '{}' registered with two types", name);
    return dummy_.get();
  }
  return it->second.get();
}

Counter* MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family* family = FamilyFor(name, help, kCounterType);
  auto& slot = family->counters[LabelText(labels)];
  if (!slot.second) slot = {labels, std::make_unique<Counter>()};
  return slot.second.get();
}

Gauge* MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family* family = FamilyFor(name, help, kGaugeType);
  auto& slot = family->gauges[LabelText(labels)];
  if (!slot.second) slot = {labels, std::make_unique<Gauge>()};
  return slot.second.get();
}

Histogram* MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& bounds,
                                         const MetricLabels& labels) {
  std::lock_guard lock(mutex_);
  Family* family = FamilyFor(name, help, kHistogramType);
  auto& slot = family->histograms[LabelText(labels)];
  if (!slot.second) slot = {labels, std::make_unique<Histogram>(bounds)};
  return slot.second.get();
}

void MetricsRegistry::ClearGauges(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second->gauges.clear();
}

void MetricsRegistry::AddCollector(std::function<void(MetricsRegistry&)> collector) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Expose() {
  std::lock_guard collect_lock(collect_mutex_);
  std::vector<std::function<void(MetricsRegistry&)>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  for (auto& collector : collectors) collector(*this);

  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    if (family->counters.empty() && family->gauges.empty() && family->histograms.empty()) continue;
    std::string help = family->help;
    std::replace(help.begin(), help.end(), '\n', ' ');
    out += "# HELP " + name + " " + help + "\n";
    static const char* kTypes[] = {"counter", "gauge", "histogram"};
    out += "# TYPE " + name + " " + kTypes[family->type] + "\n";
    for (const auto& [labels_text, series] : family->counters) {
      out += name + labels_text + " " + FormatValue(series.second->value()) + "\n";
    }
    for (const auto& [labels_text, series] : family->gauges) {
      out += name + labels_text + " " + FormatValue(series.second->value()) + "\n";
    }
    for (const auto& [labels_text, series] : family->histograms) {
      const Histogram& h = *series.second;
      const std::vector<uint64_t> counts = h.CumulativeCounts();
      for (size_t i = 0; i < counts.size(); ++i) {
        const std::string le = i < h.bounds().size() ? FormatValue(h.bounds()[i]) : "+Inf";
        out += name + "_bucket" + LabelText(series.first, "le", le) + " " +
               std::to_string(counts[i]) + "\n";
      }
      out += name + "_sum" + labels_text + " " + FormatValue(h.sum()) + "\n";
      out += name + "_count" + labels_text + " " + std::to_string(counts.back()) + "\n";
    }
  }
  return out;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace jiritsu
