// RunnerMonitor: what the HTTP service knows about the projection runner of
// its process (health, readiness, lag, metrics).
//
// Inputs: OnProgress() from the runtime thread (RuntimeOptions::on_progress,
// about every second), OnRunnerExit() when RunServingSwaps returns, and
// Sample() from a sampler thread, which asks the log for every partition's
// end offset and, for lagging partitions, reads the newest record and the
// last processed one to express the lag in event-time seconds.
// Outputs: Snapshot() (readiness, JSON) and Publish() into a metrics
// registry: processed-record counters per partition (monotonic across
// runtime restarts and swaps), lag gauges, stall flags, and the produce ->
// view-visible latency quantiles of the running runtime.
//
// Stall detection: a partition whose position did not move for
// `stall_after_s` while records are waiting (lag > 0) is stalled.
//
// Lifecycle: outlives the runner thread and the sampler. Thread-safety: all
// methods are thread-safe (one mutex; Sample() does its log I/O outside it).
// Failure: Sample() logs and keeps the previous figures when the log does
// not answer (the gauges then show the last known lag).
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/metrics.h"
#include "core/projection_runtime.h"
#include "core/status.h"

namespace jiritsu::service {

struct PartitionLag {
  TopicPartition tp;
  int64_t position = 0;
  int64_t end = 0;
  int64_t lag = 0;
  double lag_seconds = NAN;  // event time; NaN when unknown (non-event topics)
  bool stalled = false;
  double seconds_since_progress = 0;
};

struct RunnerSnapshot {
  bool enabled = false;        // this process runs the projections
  bool reported = false;       // at least one progress report arrived
  bool exited = false;
  Status exit_status;
  uint64_t events_applied = 0;  // since the runner (re)started
  uint64_t dead_letters = 0;
  std::vector<PartitionLag> partitions;
  int64_t total_lag = 0;
  bool any_stalled = false;
};

class RunnerMonitor {
 public:
  RunnerMonitor(bool enabled, int64_t stall_after_s) : enabled_(enabled), stall_after_s_(stall_after_s) {}

  void OnProgress(const RuntimeStats& stats);
  void OnRunnerExit(const Status& status);
  // Refreshes end offsets and event-time lag from `log` (may be slow on Kafka).
  void Sample(EventLog* log);
  RunnerSnapshot Snapshot() const;
  // Writes the runner gauges and counters into `metrics`.
  void Publish(MetricsRegistry* metrics);

 private:
  struct Tracked {
    int64_t position = 0;
    int64_t end = 0;  // the greater of the last Sample and the runtime's reports
    double lag_seconds = NAN;
    int64_t last_move_ms = 0;
    int64_t published_position = -1;  // for the processed counter
  };
  static int64_t NowMs();

  bool enabled_;
  int64_t stall_after_s_;
  mutable std::mutex mutex_;
  bool reported_ = false;
  bool exited_ = false;
  Status exit_status_;
  uint64_t events_applied_ = 0;
  uint64_t dead_letters_ = 0;
  uint64_t last_applied_seen_ = 0;
  uint64_t last_dead_letters_seen_ = 0;
  uint64_t applied_total_ = 0;   // monotonic across restarts
  uint64_t dead_letters_total_ = 0;
  uint64_t last_refolds_seen_ = 0;
  uint64_t refolds_total_ = 0;  // RuntimeStats::refolds, monotonic across restarts
  std::map<TopicPartition, Tracked> partitions_;
  // Produce -> view-visible latency of the current runtime (p50, p99, p99.9;
  // RuntimeStats::visible_latency_ms), once it applied an event.
  std::optional<std::array<int64_t, 3>> visible_latency_ms_;
  // The same for RuntimeStats::facts_deferral_ms, and facts_waiting.
  std::optional<std::array<int64_t, 3>> facts_deferral_ms_;
  uint64_t facts_waiting_ = 0;
  uint64_t facts_cost_us_ = 0;  // RuntimeStats::facts_cost_us
};

}  // namespace jiritsu::service
