// `jiritsu run`: the projection processors over the embedded log or Kafka.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>

#include "core/projection_runtime.h"
#include "core/swap_coordinator.h"
#include "core/view_generations.h"
#include "ops/cli.h"
#include "ops/log_factory.h"
#include "ops/projections.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

std::atomic<bool> g_stop_requested{false};

void RequestStop(int) { g_stop_requested.store(true); }

struct RunFlags {
  LogSelection log;
  std::string group = "jiritsu-projections";
  bool until_caught_up = false;
  size_t checkpoint_events = 50000;
  int64_t checkpoint_ms = 1000;
  size_t catch_up_checkpoint_events = 200000;
  size_t memory_budget_mb = MemoryBudget::kDefaultMb;
  int64_t facts_interval_ms = kDefaultFactsIntervalMs;
  int32_t facts_budget_percent = processors::kDefaultFactsBudgetPercent;
  int32_t warm_cache_percent = processors::kDefaultWarmCachePercent;
  bool progress = false;
  uint64_t interleave_seed = 0;
  bool catch_up_merge = true;
  bool low_priority_compactions = true;
};

std::string StatsJson(const RuntimeStats& stats, const std::string& log_name,
                      const std::string& views_dir) {
  std::string out = "{\"log\":";
  AppendJsonString(&out, log_name);
  out += ",\"views\":";
  AppendJsonString(&out, views_dir);
  char numbers[512];
  std::snprintf(numbers, sizeof(numbers),
                ",\"events_applied\":%llu,\"events_skipped_as_of\":%llu,\"dead_letters\":%llu,"
                "\"internal_records_skipped\":%llu,"
                "\"reference_applied\":%llu,\"facts_published\":%llu,\"facts_applied\":%llu,"
                "\"refolds\":%llu,"
                "\"checkpoints\":%llu,\"memory_checkpoints\":%llu,\"seconds\":%.3f,"
                "\"events_per_s\":%.0f",
                static_cast<unsigned long long>(stats.events_applied),
                static_cast<unsigned long long>(stats.events_skipped_as_of),
                static_cast<unsigned long long>(stats.dead_letters),
                static_cast<unsigned long long>(stats.internal_records_skipped),
                static_cast<unsigned long long>(stats.reference_applied),
                static_cast<unsigned long long>(stats.facts_published),
                static_cast<unsigned long long>(stats.facts_applied),
                static_cast<unsigned long long>(stats.refolds),
                static_cast<unsigned long long>(stats.checkpoints),
                static_cast<unsigned long long>(stats.memory_checkpoints), stats.seconds,
                stats.seconds > 0 ? stats.events_applied / stats.seconds : 0.0);
  out += numbers;
  std::snprintf(numbers, sizeof(numbers),
                ",\"visible_latency_ms\":{\"p50\":%lld,\"p99\":%lld,\"p999\":%lld}",
                static_cast<long long>(HistogramPercentile(stats.visible_latency_ms, 50)),
                static_cast<long long>(HistogramPercentile(stats.visible_latency_ms, 99)),
                static_cast<long long>(HistogramPercentile(stats.visible_latency_ms, 99.9)));
  out += numbers;
  std::snprintf(numbers, sizeof(numbers),
                ",\"facts_waiting\":%llu,\"facts_cost_us\":%llu,"
                "\"facts_deferral_ms\":{\"p50\":%lld,\"p99\":%lld,\"max\":%lld}",
                static_cast<unsigned long long>(stats.facts_waiting),
                static_cast<unsigned long long>(stats.facts_cost_us),
                static_cast<long long>(HistogramPercentile(stats.facts_deferral_ms, 50)),
                static_cast<long long>(HistogramPercentile(stats.facts_deferral_ms, 99)),
                static_cast<long long>(HistogramPercentile(stats.facts_deferral_ms, 100)));
  out += numbers;
  out += ",\"partitions\":{";
  bool first = true;
  for (const auto& [tp, progress] : stats.partitions) {
    if (!first) out += ",";
    first = false;
    AppendJsonString(&out, ToString(tp));
    out += ":{\"position\":" + std::to_string(progress.position) +
           ",\"end\":" + std::to_string(progress.end_offset) + "}";
  }
  out += "}}";
  return out;
}

int RunProjections(const RunFlags& flags) {
  auto log = OpenLog(flags.log);
  if (!log.ok()) {
    std::fprintf(stderr, "jiritsu run: %s\n", log.status().ToString().c_str());
    // A bad --kafka-property or --kafka-topic-prefix is configuration.
    return log.status().code() == StatusCode::kInvalidArgument ? 2 : 3;
  }
  auto keys = OpenKeyStore(flags.log);
  if (!keys.ok()) {
    std::fprintf(stderr, "jiritsu run: %s\n", keys.status().ToString().c_str());
    return 3;
  }
  const std::string views_root = ViewsRoot(flags.log);
  std::string views_dir;
  RuntimeStats last_stats;
  // Each (re)open after a swap builds a fresh runtime over CURRENT.
  RuntimeMaker make_runtime = [&](const std::string& store_dir)
      -> Result<std::unique_ptr<ProjectionRuntime>> {
    views_dir = store_dir;
    RuntimeOptions options;
    options.state_dir = store_dir;
    options.group_id = flags.group;
    options.until_caught_up = flags.until_caught_up;
    options.checkpoint_every_events = flags.checkpoint_events;
    options.checkpoint_every_ms = flags.checkpoint_ms;
    options.catch_up_checkpoint_events = flags.catch_up_checkpoint_events;
    const MemoryBudget memory = MemoryBudget::FromMb(flags.memory_budget_mb);
    ApplyMemoryBudget(memory, &options);
    options.view_version = kViewVersion;
    options.interleave_seed = flags.interleave_seed;
    options.catch_up_merge_by_event_time = flags.catch_up_merge;
    options.low_priority_compactions = flags.low_priority_compactions;
    options.progress_every_ms = 2000;
    options.on_progress = [&, progress = flags.progress](const RuntimeStats& stats) {
      last_stats = stats;
      if (progress) {
        std::fprintf(stderr, "[run] applied=%llu dead_letters=%llu facts=%llu checkpoints=%llu\n",
                     static_cast<unsigned long long>(stats.events_applied),
                     static_cast<unsigned long long>(stats.dead_letters),
                     static_cast<unsigned long long>(stats.facts_applied),
                     static_cast<unsigned long long>(stats.checkpoints));
      }
    };
    return ProjectionRuntime::Create(
        log->get(),
        NewProjector(keys->get(), memory,
                     {flags.facts_interval_ms, flags.facts_budget_percent,
                      flags.warm_cache_percent}),
        options);
  };
  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  Status status = RunServingSwaps(views_root, make_runtime, g_stop_requested);
  std::printf("%s\n", StatsJson(last_stats, (*log)->Describe(), views_dir).c_str());
  if (!status.ok()) {
    std::fprintf(stderr, "jiritsu run: %s\n", status.ToString().c_str());
    return status.code() == StatusCode::kFailedPrecondition ? 2 : 3;
  }
  return 0;
}

}  // namespace

Command AddRunCommand(CLI::App& root) {
  auto flags = std::make_shared<RunFlags>();
  Command command;
  command.app = root.add_subcommand(
      "run", "Run the projection processors (step status, engagement, KPIs) over the log");
  AddLogOptions(command.app, &flags->log);
  AddStateOptions(command.app, &flags->log);
  AddKeyOptions(command.app, &flags->log);
  command.app->add_option("--group", flags->group, "Kafka consumer group shared by instances")
      ->capture_default_str();
  command.app->add_flag("--until-caught-up", flags->until_caught_up,
                        "Exit once every partition reached its end (batch use, tests)");
  command.app->add_option("--checkpoint-events", flags->checkpoint_events,
                          "Checkpoint after this many events")
      ->capture_default_str();
  command.app->add_option("--checkpoint-ms", flags->checkpoint_ms,
                          "Checkpoint at least this often (milliseconds)")
      ->capture_default_str();
  command.app->add_option("--catch-up-checkpoint-events", flags->catch_up_checkpoint_events,
                          "While a backlog is waiting: checkpoint after this many events "
                          "(instead of --checkpoint-events / --checkpoint-ms)")
      ->capture_default_str();
  command.app
      ->add_option("--memory-budget-mb", flags->memory_budget_mb,
                   "Memory the projections aim at (MiB): split between the views store's RocksDB "
                   "(25%), the employee cache (30%), the aggregates cache (15%) and uncommitted "
                   "changes (15%; a checkpoint is forced above it); see docs/configuration.md")
      ->capture_default_str()
      ->check(CLI::Range(size_t{4}, size_t{1} << 20));
  command.app
      ->add_option("--facts-interval-ms", flags->facts_interval_ms,
                   "Publish an employee's facts (what the KPIs and org roll-ups are built from) at "
                   "most this often: each checkpoint commits the employee's own views, the global "
                   "views follow within about this interval (0: at every checkpoint)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}));
  command.app
      ->add_option("--facts-budget-percent", flags->facts_budget_percent,
                   "The share of the checkpoint cadence (--checkpoint-ms) that publishing due "
                   "facts may take, at their measured cost: when employees change faster than "
                   "that pays for, the global views trail further instead of the employee views "
                   "(100: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  command.app
      ->add_option("--warm-cache-percent", flags->warm_cache_percent,
                   "The share of the employee-state and KPI caches filled from the views store "
                   "at start, latest-active employees first, so the first events after a restart "
                   "do not each wait for a store read (0: a cold start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  command.app->add_flag("!--no-catch-up-merge", flags->catch_up_merge,
                        "Read a backlog found at assignment as polled, instead of merged across "
                        "partitions by event time (cost only: the views are the same)");
  command.app->add_flag("!--no-low-priority-compactions", flags->low_priority_compactions,
                        "Let RocksDB's compactions run at the runner's CPU priority instead of "
                        "nice 19 (latency only: the views are the same)");
  command.app->add_flag("--progress", flags->progress, "Print progress lines to stderr");
  command.app->add_option("--interleave-seed", flags->interleave_seed,
                          "Test knob: consume in a seeded random cross-topic interleaving");
  command.run = [flags] { return RunProjections(*flags); };
  return command;
}

}  // namespace jiritsu
