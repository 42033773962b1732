// IngestPipeline: the single writer behind POST /v1/events.
//
// HTTP workers validate and authorize a request's events, then Submit() them
// here. One writer thread owns the Ingestor (core/ingest.h: the same
// validation, (source, id) dedupe and append as `jiritsu ingest`), takes
// every queued request, ingests their events as one batch (Ingestor::
// IngestLines: the keys of the commit's new employees are created together,
// with one directory fsync), flushes the log once for all of them (group
// commit), marks the identities, and only then completes the
// requests: a 202 means the accepted events are durable in the log.
//
// Backpressure: at most `max_queued_events` events are queued or in the
// commit being written; Submit() beyond that is refused (kResourceExhausted
// -> 429 with Retry-After), so memory stays bounded under overload.
// Log failures: a failed append or flush fails every request of that commit
// with the log's Status (kUnavailable/kDeadlineExceeded/kIOError -> 503);
// the Ingestor is then recreated, so identities of events that may not be
// durable are never marked (a retry is safe: the processors drop the
// duplicates a partial flush may leave). log_healthy() reports whether the
// last commit succeeded (readiness).
//
// Lifecycle: Start() -> Submit()* -> Stop() (or destroy): pending requests
// are completed first; Submit() after Stop() -> kUnavailable. The log,
// index and metrics registry must outlive the pipeline.
// Thread-safety: Submit(), queued_events(), log_healthy() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/dedupe_index.h"
#include "core/event_log.h"
#include "core/ingest.h"
#include "core/metrics.h"
#include "core/status.h"

namespace jiritsu::service {

struct IngestItem {
  std::string json;  // one CloudEvent, structured mode
  std::string type;  // its type name, for metrics
};

struct ItemResult {
  LineOutcome outcome = LineOutcome::kRejected;
  std::string reason;  // for kRejected
};

struct SubmitResult {
  Status status;  // not OK: nothing of this request is known to be durable
  std::vector<ItemResult> items;
};

class IngestPipeline {
 public:
  struct Options {
    size_t max_queued_events = 20000;
    std::chrono::milliseconds flush_timeout{10000};
    KeyStore* key_store = nullptr;  // IngestOptions::key_store
  };
  static Result<std::unique_ptr<IngestPipeline>> Start(EventLog* log, DedupeIndex* index,
                                                       MetricsRegistry* metrics,
                                                       const Options& options);
  ~IngestPipeline();

  Result<std::future<SubmitResult>> Submit(std::vector<IngestItem> items);
  void Stop();

  size_t queued_events() const { return queued_events_.load(); }
  bool log_healthy() const { return log_healthy_.load(); }

 private:
  struct Request {
    std::vector<IngestItem> items;
    std::promise<SubmitResult> promise;
  };
  class CaptureSink;

  IngestPipeline(EventLog* log, DedupeIndex* index, MetricsRegistry* metrics, const Options& options);
  void WriterLoop();
  void Commit(std::vector<std::unique_ptr<Request>>* batch);

  EventLog* log_;
  DedupeIndex* index_;
  MetricsRegistry* metrics_;
  Options options_;
  std::unique_ptr<CaptureSink> sink_;
  std::unique_ptr<Ingestor> ingestor_;
  int64_t line_number_ = 0;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Request>> queue_;
  bool stopping_ = false;
  std::atomic<size_t> queued_events_{0};
  std::atomic<bool> log_healthy_{true};
  std::thread writer_;
};

}  // namespace jiritsu::service
