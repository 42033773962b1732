// `jiritsu bench`: the flag-driven end-to-end benchmark (in the spirit of
// RocksDB's db_bench). It generates (or reuses) an enterprise workload, loads
// it into the embedded log or Kafka, and runs named phases over the same data
// in one process, so the pipeline's rates sit next to the baselines of this
// machine:
//
//   ingest     the CLI ingest path (validate, dedupe, seal, append) of the
//              JSONL workload into a fresh log, with a fresh key store next
//              to it (<store>/keys, as `jiritsu ingest`)
//   raw-read   read the replay's input topics with no processing (baseline)
//   decode     the same plus DecodeJsonEvent (baseline)
//   raw-write  one RocksDB WriteBatch put per record, WAL off, 50k-op
//              batches, one sync (baseline)
//   project    `jiritsu run --until-caught-up` into a fresh store
//   replay     `jiritsu replay` (rebuild) into a fresh generation
//   query      point and KPI queries against the views built by project (or
//              replay): latency percentiles
//   latency    live projection while a producer appends at a steady rate:
//              produce -> view-visible latency percentiles
//   ingest-http  the same JSONL lines POSTed to /v1/events of the real HTTP
//              service (ServeInstance, as `jiritsu serve` builds it, in this
//              process, projections off) over a FRESH log of its own
//              (embedded under <work>/ingest-http/, or a second in-process
//              mock cluster with --log kafka; skipped against a real broker,
//              whose topics it would fill). --http-connections keep-alive
//              clients post JSON-array batches of --http-batch events with a
//              service credential (role `source`) allowed every source of
//              the generator; 429 is retried after Retry-After. Lines the
//              server refuses as a batch (the workload's deliberately broken
//              ones: 400 invalid_events lists them, 400 malformed_json makes
//              the client bisect the batch) are counted as rejected, so the
//              accepted / duplicates / rejected counts match `ingest`'s.
//              Latency: per HTTP request.
//
// For each phase it prints events/s, MB/s, CPU seconds, peak RSS and (where
// relevant) latency percentiles, plus the ratio of every phase to every
// baseline run, and writes the same as JSON (--json FILE):
//   {"workload":{...},"phases":{"<phase>":{"events":n,"seconds":s,
//    "events_per_s":x,"mb_per_s":y,"cpu_s":c,"peak_rss_mb":m,
//    "latency_ms":{"p50":..,"p99":..,"p999":..}}},
//    "ratios":{"<phase>/<baseline>":r}}
// Figures only: nothing here asserts a time.
//
// Work directory (--work-dir, kept between runs so a large workload is
// generated once): workload-e<E>-m<M>-s<S>.jsonl, embedded-e<E>-m<M>-s<S>/
// (store with log, ingest index and keys, reused unless ingest is a phase),
// run-views/, replay-views/, ingest-http/ (the HTTP phase's store, re-created
// each run), scratch stores of the baselines (removed).
//
// Thread-safety: RunBench runs on the calling thread (plus the latency
// phase's producer thread, and the ingest-http phase's client threads and
// the service's worker pool). Failure: prints the error and returns exit code
// 2 (usage) or 3 (I/O, log); 4 after the report when replay's views differ
// from project's (the same log projected twice into different views).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/memory_budget.h"
#include "processors/options.h"

namespace jiritsu {

struct BenchOptions {
  int32_t employees = 2000;
  int32_t months = 12;
  uint64_t seed = 1;
  std::string work_dir = "./jiritsu-bench";
  // Phase names (see above); run in the canonical order whatever the order
  // given here.
  std::vector<std::string> phases = {"ingest", "raw-read", "decode", "raw-write",
                                     "project", "replay",  "query"};
  std::string log_kind = "embedded";  // embedded | kafka
  // Kafka: empty = an in-process librdkafka mock cluster.
  std::string kafka_bootstrap;
  std::vector<std::string> kafka_properties;
  std::string kafka_topic_prefix;  // KafkaLogOptions::topic_prefix
  int32_t partitions = 8;
  // project: checkpoint cadence (as `jiritsu run`).
  size_t project_checkpoint_events = 50'000;
  int64_t project_checkpoint_ms = 1000;
  // project / latency: `jiritsu run --memory-budget-mb`.
  size_t memory_budget_mb = MemoryBudget::kDefaultMb;
  // replay: checkpoint cadence (as `jiritsu replay`).
  size_t replay_checkpoint_events = 500'000;
  // replay: employee input merged by event time / decoded on a second thread
  // (ReplayOptions; for before/after measurements).
  bool replay_merge = true;
  bool replay_decode_thread = true;
  size_t replay_wave_partitions = 1;
  bool replay_reorder = true;
  bool replay_group_by_key = true;
  // query: number of requests, issued at this steady rate (requests/s; 0 =
  // back to back), one at a time, in process (the HTTP service's figure
  // comes from wrk against `jiritsu serve`).
  size_t queries = 10'000;
  double query_rate = 1000;
  // latency: steady producer rate, duration, producer linger (the least time
  // between two flushes, as Kafka's linger.ms), live checkpoint cadence.
  double latency_rate = 20'000;
  double latency_seconds = 10;
  int64_t latency_linger_ms = 5;
  int64_t latency_checkpoint_ms = 10;
  // project, latency: jiritsu run --facts-interval-ms (its default).
  int64_t facts_interval_ms = 2000;
  // project, latency: jiritsu run --facts-budget-percent (its default).
  int32_t facts_budget_percent = processors::kDefaultFactsBudgetPercent;
  // project, latency: jiritsu run --warm-cache-percent (its default).
  int32_t warm_cache_percent = processors::kDefaultWarmCachePercent;
  // project: read the log's backlog merged by event time
  // (RuntimeOptions::catch_up_merge_by_event_time).
  bool catch_up_merge = true;
  // project, latency: jiritsu run --no-low-priority-compactions when false
  // (RuntimeOptions::low_priority_compactions; process-wide once lowered).
  bool low_priority_compactions = true;
  // ingest-http: events per POST (1..10000) and concurrent keep-alive
  // client connections (1..256).
  int32_t http_batch = 100;
  int32_t http_connections = 8;
  std::string json_path;
};

// Every phase name RunBench accepts.
const std::vector<std::string>& BenchPhaseNames();

// Returns the process exit code (0, 2 usage, 3 I/O or log failure, 4 replay's
// views differ from project's).
int RunBench(const BenchOptions& options);

}  // namespace jiritsu
