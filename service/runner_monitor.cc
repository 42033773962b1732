#include "service/runner_monitor.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <chrono>

#include "core/logging.h"
#include "schemas/codec.h"

namespace jiritsu::service {
namespace {

// Event time (seconds) of the record at `offset`, if it is a CloudEvent.
std::optional<double> EventTimeAt(LogConsumer* consumer, const TopicPartition& tp, int64_t offset) {
  if (!consumer->Assign({{tp, offset}}).ok()) return std::nullopt;
  std::vector<LogRecord> records;
  if (!consumer->Poll(std::chrono::milliseconds(200), 1, &records).ok() || records.empty()) {
    return std::nullopt;
  }
  Result<Event> event = DecodeJsonEvent(records.front().value);
  if (!event.ok()) return std::nullopt;
  return static_cast<double>(event->time_us) / 1e6;
}

bool CarriesEvents(const std::string& topic) {
  return topic != "jiritsu.facts" && topic != "jiritsu.dlq";
}

// p50, p99 and p99.9 of a latency histogram (value -> count).
std::array<int64_t, 3> Quantiles(const std::map<int64_t, uint64_t>& histogram) {
  return {HistogramPercentile(histogram, 50), HistogramPercentile(histogram, 99),
          HistogramPercentile(histogram, 99.9)};
}

// One gauge per quantile of Quantiles(), labelled quantile="0.5|0.99|0.999".
void SetQuantileGauges(MetricsRegistry* metrics, const std::string& name, const std::string& help,
                       const std::array<int64_t, 3>& values) {
  const char* quantiles[3] = {"0.5", "0.99", "0.999"};
  for (int i = 0; i < 3; ++i) {
    metrics->GetGauge(name, help, {{"quantile", quantiles[i]}})
        ->Set(static_cast<double>(values[i]));
  }
}

}  // namespace

int64_t RunnerMonitor::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void RunnerMonitor::OnProgress(const RuntimeStats& stats) {
  std::lock_guard lock(mutex_);
  const int64_t now = NowMs();
  reported_ = true;
  // A new runtime (after a swap) restarts its counters from zero.
  applied_total_ += stats.events_applied >= last_applied_seen_ ? stats.events_applied - last_applied_seen_
                                                               : stats.events_applied;
  dead_letters_total_ += stats.dead_letters >= last_dead_letters_seen_
                             ? stats.dead_letters - last_dead_letters_seen_
                             : stats.dead_letters;
  if (!stats.visible_latency_ms.empty()) visible_latency_ms_ = Quantiles(stats.visible_latency_ms);
  if (!stats.facts_deferral_ms.empty()) facts_deferral_ms_ = Quantiles(stats.facts_deferral_ms);
  facts_waiting_ = stats.facts_waiting;
  facts_cost_us_ = stats.facts_cost_us;
  refolds_total_ += stats.refolds >= last_refolds_seen_ ? stats.refolds - last_refolds_seen_
                                                        : stats.refolds;
  last_refolds_seen_ = stats.refolds;
  last_applied_seen_ = stats.events_applied;
  last_dead_letters_seen_ = stats.dead_letters;
  events_applied_ = stats.events_applied;
  dead_letters_ = stats.dead_letters;
  for (const auto& [tp, progress] : stats.partitions) {
    Tracked& t = partitions_[tp];
    if (t.last_move_ms == 0 || progress.position != t.position) t.last_move_ms = now;
    t.position = progress.position;
    // Ends only grow: the runtime's own high-water mark is often newer than
    // the sampler's last look (a sample round can take seconds under load),
    // and lag read against a stale end showed 0 while records waited.
    t.end = std::max(t.end, progress.end_offset);
  }
}

void RunnerMonitor::OnRunnerExit(const Status& status) {
  std::lock_guard lock(mutex_);
  exited_ = true;
  exit_status_ = status;
}

void RunnerMonitor::Sample(EventLog* log) {
  std::map<TopicPartition, int64_t> positions;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [tp, t] : partitions_) positions[tp] = t.position;
  }
  std::map<TopicPartition, std::pair<int64_t, double>> sampled;
  std::unique_ptr<LogConsumer> consumer;
  for (const auto& [tp, position] : positions) {
    Result<int64_t> end = log->EndOffset(tp);
    if (!end.ok()) {
      ModuleLogger("service")->warn("lag sample: end offset of {}: {}", ToString(tp),
                                    end.status().ToString());
      continue;
    }
    double lag_seconds = *end > position ? NAN : 0.0;
    if (*end > position && CarriesEvents(tp.topic)) {
      if (!consumer) {
        ConsumerOptions options;
        options.group_id = "jiritsu-serve-lag-sampler";
        Result<std::unique_ptr<LogConsumer>> created = log->NewConsumer(options);
        if (created.ok()) consumer = std::move(created).value();
      }
      if (consumer) {
        const std::optional<double> newest = EventTimeAt(consumer.get(), tp, *end - 1);
        const std::optional<double> processed =
            EventTimeAt(consumer.get(), tp, std::max<int64_t>(0, position - 1));
        if (newest && processed) lag_seconds = std::max(0.0, *newest - *processed);
      }
    }
    sampled[tp] = {*end, lag_seconds};
  }
  std::lock_guard lock(mutex_);
  for (const auto& [tp, value] : sampled) {
    Tracked& t = partitions_[tp];
    t.end = std::max(t.end, value.first);  // read outside the lock: may be older than a report
    t.lag_seconds = value.second;
  }
}

RunnerSnapshot RunnerMonitor::Snapshot() const {
  std::lock_guard lock(mutex_);
  const int64_t now = NowMs();
  RunnerSnapshot out;
  out.enabled = enabled_;
  out.reported = reported_;
  out.exited = exited_;
  out.exit_status = exit_status_;
  out.events_applied = events_applied_;
  out.dead_letters = dead_letters_;
  for (const auto& [tp, t] : partitions_) {
    PartitionLag lag;
    lag.tp = tp;
    lag.position = t.position;
    lag.end = std::max(t.end, t.position);
    lag.lag = lag.end - t.position;
    lag.lag_seconds = lag.lag == 0 ? 0.0 : t.lag_seconds;
    lag.seconds_since_progress = (now - t.last_move_ms) / 1000.0;
    lag.stalled = lag.lag > 0 && lag.seconds_since_progress >= static_cast<double>(stall_after_s_);
    out.total_lag += lag.lag;
    out.any_stalled |= lag.stalled;
    out.partitions.push_back(std::move(lag));
  }
  return out;
}

void RunnerMonitor::Publish(MetricsRegistry* metrics) {
  const RunnerSnapshot snapshot = Snapshot();
  uint64_t applied_total = 0;
  uint64_t dead_letters_total = 0;
  uint64_t refolds_total = 0;
  std::vector<std::pair<TopicPartition, int64_t>> processed;
  std::optional<std::array<int64_t, 3>> visible_latency;
  std::optional<std::array<int64_t, 3>> facts_deferral;
  uint64_t facts_waiting = 0;
  uint64_t facts_cost_us = 0;
  {
    std::lock_guard lock(mutex_);
    visible_latency = visible_latency_ms_;
    facts_deferral = facts_deferral_ms_;
    facts_waiting = facts_waiting_;
    facts_cost_us = facts_cost_us_;
    applied_total = applied_total_;
    dead_letters_total = dead_letters_total_;
    refolds_total = refolds_total_;
    for (auto& [tp, t] : partitions_) {
      // Records consumed since the previous publication; a position that
      // moved back (a swap to a rebuilt generation) restarts the count.
      const int64_t delta = t.published_position < 0 || t.position < t.published_position
                                ? 0
                                : t.position - t.published_position;
      processed.emplace_back(tp, delta);
      t.published_position = t.position;
    }
  }
  metrics->GetGauge("jiritsu_runner_up", "1 while the projection runner of this process runs")
      ->Set(snapshot.enabled && snapshot.reported && !snapshot.exited ? 1 : 0);
  Counter* applied = metrics->GetCounter(
      "jiritsu_events_processed_total", "Employee events applied by the projection runner");
  applied->Increment(static_cast<double>(applied_total) - applied->value());
  Counter* dead = metrics->GetCounter(
      "jiritsu_dead_letters_total", "Records the runner sent to the dead-letter topic");
  dead->Increment(static_cast<double>(dead_letters_total) - dead->value());
  Counter* refolds = metrics->GetCounter(
      "jiritsu_refolds_total",
      "Employee states rebuilt from their whole journal (an event that arrived after a later one "
      "of the same employee, a void, a new programme version)");
  refolds->Increment(static_cast<double>(refolds_total) - refolds->value());
  for (const auto& [tp, delta] : processed) {
    metrics->GetCounter("jiritsu_partition_records_processed_total",
                        "Log records consumed by the runner per partition",
                        {{"partition", std::to_string(tp.partition)}, {"topic", tp.topic}})
        ->Increment(static_cast<double>(delta));
  }
  metrics->ClearGauges("jiritsu_consumer_lag_records");
  metrics->ClearGauges("jiritsu_consumer_lag_seconds");
  metrics->ClearGauges("jiritsu_consumer_position");
  metrics->ClearGauges("jiritsu_partition_stalled");
  int stalled = 0;
  for (const PartitionLag& lag : snapshot.partitions) {
    const MetricLabels labels = {{"partition", std::to_string(lag.tp.partition)},
                                 {"topic", lag.tp.topic}};
    metrics->GetGauge("jiritsu_consumer_lag_records", "Records not yet consumed per partition", labels)
        ->Set(static_cast<double>(lag.lag));
    if (!std::isnan(lag.lag_seconds)) {
      metrics->GetGauge("jiritsu_consumer_lag_seconds",
                        "Event-time lag per partition: newest record minus last consumed", labels)
          ->Set(lag.lag_seconds);
    }
    metrics->GetGauge("jiritsu_consumer_position", "Next offset the runner reads per partition", labels)
        ->Set(static_cast<double>(lag.position));
    metrics->GetGauge("jiritsu_partition_stalled",
                      "1 when the partition has waiting records but did not move for stall_after_s",
                      labels)
        ->Set(lag.stalled ? 1 : 0);
    stalled += lag.stalled ? 1 : 0;
  }
  metrics->GetGauge("jiritsu_stalled_partitions", "Partitions currently stalled")->Set(stalled);
  if (visible_latency) {
    SetQuantileGauges(metrics, "jiritsu_view_visible_latency_ms",
                      "Produce -> view-visible latency of employee events (log append to the "
                      "checkpoint commit holding them), since the runner started",
                      *visible_latency);
  }
  metrics
      ->GetGauge("jiritsu_facts_waiting",
                 "Employees whose facts (the input of the KPIs and org roll-ups) wait for a later "
                 "checkpoint (runtime facts_interval_ms)")
      ->Set(static_cast<double>(facts_waiting));
  metrics
      ->GetGauge("jiritsu_facts_cost_microseconds",
                 "Measured cost of publishing one facts record (build, publish, read back, KPI "
                 "rows written; a moving average): a checkpoint publishes at most what "
                 "facts_budget_percent of checkpoint_ms pays for at this cost")
      ->Set(static_cast<double>(facts_cost_us));
  if (facts_deferral) {
    SetQuantileGauges(metrics, "jiritsu_facts_deferral_ms",
                      "How long held-back facts waited after the employee's own views were "
                      "committed: the global views' extra delay, since the runner started",
                      *facts_deferral);
  }
  metrics->GetGauge("jiritsu_consumer_lag_records_total", "Sum of the per-partition record lag")
      ->Set(static_cast<double>(snapshot.total_lag));
}

}  // namespace jiritsu::service
