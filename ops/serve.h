// ServeInstance: one `jiritsu serve` process in a box, used by the command
// and by the HTTP tests: the event log (embedded by default, or Kafka), the
// ingestion dedupe index, the projection runner (RunServingSwaps, exactly as
// `jiritsu run`, on its own thread), a lag sampler thread, and the HTTP
// service on one port.
//
// The embedded log is single-writer: serve owns both the ingestion writer and
// the runner, which is why they live in one process. With Kafka, several
// serve processes may share a consumer group ([runtime] group).
//
// Lifecycle: Start() -> port() / Wait() -> Stop() (or destroy). Stop() stops
// the HTTP server first (no new requests), drains ingestion, then stops the
// runner (its final checkpoint) and closes the log.
// Thread-safety: Stop() and RequestStop() from any thread.
// Failure: Start -> kInvalidArgument (configuration), kUnavailable (log held
// by another process, port taken), others from the log or the index.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/dedupe_index.h"
#include "core/key_store.h"
#include "core/event_log.h"
#include "core/metrics.h"
#include "core/status.h"
#include "ops/cli.h"
#include "service/config.h"
#include "service/runner_monitor.h"
#include "service/server.h"

namespace jiritsu {

LogSelection LogSelectionOf(const service::ServeConfig& config);

class ServeInstance {
 public:
  static Result<std::unique_ptr<ServeInstance>> Start(const service::ServeConfig& config);
  ~ServeInstance();

  int port() const { return http_->port(); }
  MetricsRegistry& metrics() { return metrics_; }
  service::RunnerMonitor& runner() { return *monitor_; }
  service::HttpService& http() { return *http_; }
  // Blocks until RequestStop() or the runner failed; returns the runner's
  // status (OK after a requested stop).
  Status Wait();
  // Waits at most `timeout`; *finished tells whether a stop was requested or
  // the runner ended. Returns the runner's status.
  Status WaitFor(std::chrono::milliseconds timeout, bool* finished);
  void RequestStop();
  void Stop();

 private:
  ServeInstance() = default;

  service::ServeConfig config_;
  MetricsRegistry metrics_;
  std::unique_ptr<EventLog> log_;
  std::unique_ptr<DedupeIndex> index_;
  std::unique_ptr<KeyStore> keys_;  // outlives the HTTP service and the runner
  std::unique_ptr<service::RunnerMonitor> monitor_;
  std::unique_ptr<service::HttpService> http_;
  std::atomic<bool> stop_runner_{false};
  std::thread runner_;
  std::thread sampler_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_requested_ = false;
  bool runner_done_ = false;
  Status runner_status_;
  bool stopped_ = false;
};

}  // namespace jiritsu
