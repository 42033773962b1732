// `jiritsu bench`: the end-to-end benchmark driver (ops/bench.h).
#include <CLI/CLI.hpp>

#include <memory>
#include <sstream>

#include "ops/bench.h"
#include "ops/cli.h"

namespace jiritsu {

Command AddBenchCommand(CLI::App& root) {
  auto options = std::make_shared<BenchOptions>();
  auto phases = std::make_shared<std::string>();
  Command command;
  command.app = root.add_subcommand(
      "bench", "End-to-end benchmark: ingest, project, replay, query and the raw baselines on "
               "one generated workload; prints a table and optional JSON");
  CLI::App* app = command.app;
  app->add_option("--employees", options->employees, "Workload: initial headcount")
      ->capture_default_str()
      ->check(CLI::Range(10, 10'000'000));
  app->add_option("--months", options->months, "Workload: simulated months")
      ->capture_default_str()
      ->check(CLI::Range(1, 240));
  app->add_option("--seed", options->seed, "Workload: generator seed")->capture_default_str();
  app->add_option("--work-dir", options->work_dir,
                  "Workload, stores and scratch space (kept: a workload is generated once)")
      ->capture_default_str();
  std::string default_phases;
  for (const auto& phase : options->phases) {
    default_phases += (default_phases.empty() ? "" : ",") + phase;
  }
  *phases = default_phases;
  std::string all;
  for (const auto& phase : BenchPhaseNames()) all += (all.empty() ? "" : ",") + phase;
  app->add_option("--phases", *phases, "Comma-separated phases to run, of: " + all)
      ->capture_default_str();
  app->add_option("--log", options->log_kind, "embedded | kafka")->capture_default_str();
  app->add_option("--kafka", options->kafka_bootstrap,
                  "With --log kafka: bootstrap servers (default: an in-process mock cluster)");
  app->add_option("--kafka-property", options->kafka_properties,
                  "librdkafka property key=value; repeatable");
  app->add_option("--kafka-topic-prefix", options->kafka_topic_prefix,
                  "With --log kafka: namespace prefixed to every topic and consumer group");
  app->add_option("--partitions", options->partitions, "Employee topic partitions")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app->add_option("--checkpoint-events", options->project_checkpoint_events,
                  "project: checkpoint after this many events")
      ->capture_default_str();
  app->add_option("--checkpoint-ms", options->project_checkpoint_ms,
                  "project: checkpoint at least this often")
      ->capture_default_str();
  app->add_option("--memory-budget-mb", options->memory_budget_mb,
                  "project, latency: memory budget of the runtime (jiritsu run --memory-budget-mb)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{4}, size_t{1} << 20));
  app->add_option("--replay-checkpoint-events", options->replay_checkpoint_events,
                  "replay: checkpoint after this many events")
      ->capture_default_str();
  app->add_option("--replay-merge", options->replay_merge,
                  "replay: merge the employee partitions by event time (0: read round-robin)")
      ->capture_default_str();
  app->add_option("--replay-decode-thread", options->replay_decode_thread,
                  "replay: poll and decode on a second thread (0: on the applying thread)")
      ->capture_default_str();
  app->add_option("--replay-wave-partitions", options->replay_wave_partitions,
                  "replay: read the partitions in waves of this many partition numbers (0: all at once)")
      ->capture_default_str();
  app->add_option("--replay-reorder", options->replay_reorder,
                  "replay: each partition hands out the records it holds earliest event first (0: log order)")
      ->capture_default_str();
  app->add_option("--replay-group-by-key", options->replay_group_by_key,
                  "replay: apply each batch of the merged input grouped by employee, each one's "
                  "events in order (0: as merged)")
      ->capture_default_str();
  app->add_option("--queries", options->queries, "query: number of requests")
      ->capture_default_str();
  app->add_option("--query-rate", options->query_rate,
                  "query: requests per second (0: back to back)")
      ->capture_default_str();
  app->add_option("--latency-rate", options->latency_rate,
                  "latency: events/s the producer appends")
      ->capture_default_str();
  app->add_option("--latency-seconds", options->latency_seconds,
                  "latency: how long the producer runs")
      ->capture_default_str();
  app->add_option("--latency-linger-ms", options->latency_linger_ms,
                  "latency: least time between two producer flushes (0: flush every event as it is due)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  app->add_option("--latency-checkpoint-ms", options->latency_checkpoint_ms,
                  "latency: checkpoint cadence of the live runtime")
      ->capture_default_str();
  app->add_option("--facts-interval-ms", options->facts_interval_ms,
                  "project, latency: publish an employee's facts at most this often "
                  "(jiritsu run --facts-interval-ms; 0: at every checkpoint)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  app->add_option("--facts-budget-percent", options->facts_budget_percent,
                  "project, latency: the share of the runtime's checkpoint cadence that due "
                  "facts may take (jiritsu run --facts-budget-percent; 100: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  app->add_option("--warm-cache-percent", options->warm_cache_percent,
                  "project, latency: the share of the caches a restarted runtime fills from the "
                  "store before it reads (jiritsu run --warm-cache-percent; 0: a cold start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  app->add_flag("!--no-catch-up-merge", options->catch_up_merge,
                "project: read the backlog as polled instead of merged by event time "
                "(jiritsu run --no-catch-up-merge)");
  app->add_flag("!--no-low-priority-compactions", options->low_priority_compactions,
                "project, latency: compactions at the runner's CPU priority, not nice 19 "
                "(jiritsu run --no-low-priority-compactions)");
  app->add_option("--http-batch", options->http_batch, "ingest-http: events per POST /v1/events")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  app->add_option("--http-connections", options->http_connections,
                  "ingest-http: concurrent keep-alive client connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  app->add_option("--json", options->json_path, "Also write the figures as JSON to this file");
  command.run = [options, phases] {
    options->phases.clear();
    std::stringstream list(*phases);
    std::string phase;
    while (std::getline(list, phase, ',')) {
      if (!phase.empty()) options->phases.push_back(phase);
    }
    return RunBench(*options);
  };
  return command;
}

}  // namespace jiritsu
