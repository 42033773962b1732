// `jiritsu replay`: rebuild the views from the log (core/replay.h) - full
// rebuild, swap without downtime, rollback, as of a date, verify, partial,
// snapshots. See docs/operations.md.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "core/replay.h"
#include "core/thread_name.h"
#include "core/view_generations.h"
#include "ops/cli.h"
#include "ops/log_factory.h"
#include "ops/projections.h"
#include "processors/aggregates.h"
#include "processors/jiritsu_projector.h"
#include "processors/journal_tail.h"
#include "processors/reference_table.h"
#include "processors/view_scopes.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

struct ReplayFlags {
  LogSelection log;
  bool swap = false;
  bool rollback = false;
  bool prune = false;
  std::string as_of;
  std::string as_of_offset;
  std::string target;
  bool verify = false;
  std::string view;
  std::string org;
  std::string from_snapshot;
  bool snapshot_list = false;
  std::string snapshot_restore;
  bool no_snapshot = false;
  int keep_snapshots = 3;
  size_t checkpoint_events = 500'000;
  size_t memory_budget_mb = MemoryBudget::kDefaultMb;
  int64_t swap_timeout_s = 120;
  size_t max_differences = 10;
  bool quiet = false;
};

// Documented view names (docs/operations.md) -> column families. A view
// also names every family it is derived from within one employee, so a
// partial rebuild never mixes a new fold with an old journal.
std::map<std::string, std::vector<std::string>> ViewNames() {
  auto names = [](std::initializer_list<std::string_view> families) {
    return std::vector<std::string>(families.begin(), families.end());
  };
  return {
      {"step-status", names({processors::kJournalFamily, processors::kEmployeeFamily,
                             processors::kRejectionsFamily})},
      {"rejections", names({processors::kRejectionsFamily})},
      {"engagement", names({processors::kFactsFamily, processors::kKpiFamily,
                            processors::kOrgIndexFamily})},
      {"kpi", names({processors::kFactsFamily, processors::kKpiFamily, processors::kOrgIndexFamily})},
      {"reference", names({processors::kReferenceFamily})},
      {"dead-letters", names({kDeadLetterFamily})},
  };
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 2;
    default:
      return 3;
  }
}

int Fail(const Status& status) {
  std::fprintf(stderr, "jiritsu replay: %s\n", status.ToString().c_str());
  return ExitCodeFor(status);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "jiritsu replay: %s (see jiritsu replay --help)\n", message.c_str());
  return 2;
}

std::string SnapshotsJson(const std::vector<SnapshotInfo>& snapshots) {
  std::string out = "{\"snapshots\":[";
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const SnapshotInfo& info = snapshots[i];
    if (i > 0) out += ",";
    out += "\n {\"name\":";
    AppendJsonString(&out, info.name);
    out += ",\"generation\":" + std::to_string(info.generation) +
           ",\"view_version\":" + std::to_string(info.view_version) +
           ",\"events\":" + std::to_string(info.events) +
           ",\"created_unix_ms\":" + std::to_string(info.created_unix_ms) + ",\"offsets\":";
    AppendJsonString(&out, FormatOffsetList(info.offsets));
    out += "}";
  }
  out += "]}";
  return out;
}

void PrintVerifySummary(const ReplayReport& report) {
  std::fprintf(stderr, "verify: %s\n  live   %s\n  replay %s\n", report.equal ? "OK" : "MISMATCH",
               report.live_digest.c_str(), report.digest.c_str());
  for (const auto& diff : report.differences) {
    std::fprintf(stderr, "  view %s: %llu differing keys; first:\n", diff.family.c_str(),
                 static_cast<unsigned long long>(diff.differing_keys));
    for (const auto& key : diff.first_differences) {
      std::fprintf(stderr, "    %s %s live=%s replay=%s\n", PrintableBytes(key.key).c_str(),
                   std::string(KeyDifferenceKindName(key.kind)).c_str(),
                   PrintableBytes(key.left_value, 60).c_str(),
                   PrintableBytes(key.right_value, 60).c_str());
    }
  }
}

// The rows of one org subtree (--org), or every row.
KeyScopeFactory OrgScope(const std::string& org_unit) {
  if (org_unit.empty()) return {};
  return [org_unit](const StateStore& live, const StateStore& rebuilt) {
    return processors::OrgSubtreeScope(live, rebuilt, org_unit);
  };
}

int RunReplay(const ReplayFlags& flags) {
  // ---- which operation; reject combinations that mean nothing ----
  const bool as_of = !flags.as_of.empty() || !flags.as_of_offset.empty();
  const int operations = (flags.rollback ? 1 : 0) + (flags.snapshot_list ? 1 : 0) +
                         (!flags.snapshot_restore.empty() ? 1 : 0) + (flags.verify ? 1 : 0) +
                         (as_of ? 1 : 0) + (flags.prune ? 1 : 0);
  if (operations > 1) {
    return Usage(
        "choose one of --rollback, --prune, --snapshot-list, --snapshot-restore, --verify, --as-of");
  }
  if (flags.swap && operations > 0) return Usage("--swap goes with a rebuild only");
  if (!flags.target.empty() && !as_of) return Usage("--target is for --as-of / --as-of-offset");
  if (as_of && flags.target.empty()) return Usage("--as-of needs --target DIR (a new directory)");
  if (!flags.view.empty() && !flags.swap && !flags.verify) {
    return Usage("--view needs --swap (rebuild and swap that view) or --verify");
  }
  if (!flags.org.empty() && !flags.swap && !flags.verify) {
    return Usage("--org needs --swap (rebuild and swap that subtree's rows) or --verify");
  }
  if (!flags.from_snapshot.empty() && (operations > 0 && !as_of)) {
    return Usage("--from-snapshot starts a rebuild or an --as-of-offset build");
  }

  AsOfRequest as_of_request;
  if (!flags.as_of.empty()) {
    int32_t offset_minutes = 0;
    auto time = ParseRfc3339(flags.as_of, &offset_minutes);
    if (!time.ok()) return Usage("--as-of " + flags.as_of + ": " + time.status().message());
    as_of_request.as_of_time_us = *time;
    as_of_request.as_of_utc_offset_minutes = offset_minutes;
  }
  if (!flags.as_of_offset.empty()) {
    auto offsets = ParseOffsetList(flags.as_of_offset);
    if (!offsets.ok()) return Usage("--as-of-offset: " + offsets.status().message());
    as_of_request.as_of_offsets = std::move(*offsets);
  }
  as_of_request.target_dir = flags.target;
  as_of_request.from_snapshot = flags.from_snapshot;

  if (flags.prune) {
    // Needs no log: files under the views root only.
    const ViewGenerations generations(ViewsRoot(flags.log));
    auto removed = generations.Prune();
    if (!removed.ok()) return Fail(removed.status());
    auto current = generations.Current();
    auto previous = generations.Previous();
    if (!current.ok()) return Fail(current.status());
    if (!previous.ok()) return Fail(previous.status());
    std::string list;
    for (int generation : *removed) list += (list.empty() ? "" : ",") + std::to_string(generation);
    std::printf("{\"mode\":\"prune\",\"removed\":[%s],\"current\":%d,\"previous\":%d}\n",
                list.c_str(), *current, *previous);
    return 0;
  }

  ReplayOptions options;
  options.views_root = ViewsRoot(flags.log);
  options.view_version = kViewVersion;
  options.view_families = ViewNames();
  options.checkpoint_every_events = flags.checkpoint_events;
  options.memory = MemoryBudget::FromMb(flags.memory_budget_mb);
  options.progress_every_ms = 1000;  // REPLAY-PROGRESS.json is kept up to date even when quiet
  options.progress_bar = !flags.quiet;
  options.snapshot = !flags.no_snapshot;
  options.keep_snapshots = flags.keep_snapshots;
  options.swap_ready_timeout = std::chrono::seconds(flags.swap_timeout_s);

  // Snapshots and rollback need no log.
  std::unique_ptr<EventLog> log;
  const bool needs_log = !flags.snapshot_list && !flags.rollback && flags.snapshot_restore.empty();
  if (needs_log) {
    // A follower of the embedded log: works while `jiritsu run` writes it.
    auto opened = OpenLog(flags.log, LogAccess::kReadOnly);
    if (!opened.ok()) return Fail(opened.status());
    log = std::move(*opened);
  }
  // Erasures in the log are applied again (idempotent): a key store restored
  // from an older backup loses the keys of employees erased since.
  std::unique_ptr<KeyStore> keys;
  if (needs_log) {
    auto opened = OpenKeyStore(flags.log);
    if (!opened.ok()) return Fail(opened.status());
    keys = std::move(*opened);
  }
  Replayer replayer(log.get(), [k = keys.get(), m = options.memory] { return NewProjector(k, m); },
                    options);

  if (flags.snapshot_list) {
    auto snapshots = replayer.ListSnapshots();
    if (!snapshots.ok()) return Fail(snapshots.status());
    std::printf("%s\n", SnapshotsJson(*snapshots).c_str());
    return 0;
  }

  // Ctrl-C stops the build cleanly: CURRENT untouched, shadow removed.
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    NameCurrentThread("jr-interrupt");
    while (!finished.load()) {
      if (g_interrupted) {
        replayer.Stop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  Result<ReplayReport> report = Internal("no operation ran");
  if (flags.rollback) {
    report = replayer.Rollback();
  } else if (!flags.snapshot_restore.empty()) {
    report = replayer.RestoreSnapshot(flags.snapshot_restore);
  } else if (flags.verify) {
    // A running `jiritsu run` keeps state snapshots with journal tails and
    // waiting-facts rows: verify compares the views they stand for.
    report = replayer.Verify(
        {flags.view, flags.max_differences, OrgScope(flags.org), processors::ViewRowsOf});
  } else if (as_of) {
    report = replayer.BuildAsOf(as_of_request);
  } else {
    report = replayer.Rebuild({flags.from_snapshot, flags.swap, flags.view, OrgScope(flags.org)});
  }
  finished.store(true);
  watcher.join();
  if (!report.ok()) return Fail(report.status());
  std::printf("%s\n", report->ToJson().c_str());
  if (flags.verify) {
    PrintVerifySummary(*report);
    return report->equal ? 0 : 1;
  }
  return 0;
}

}  // namespace

Command AddReplayCommand(CLI::App& root) {
  auto flags = std::make_shared<ReplayFlags>();
  Command command;
  command.app = root.add_subcommand(
      "replay",
      "Rebuild the views from the log: full rebuild, swap without downtime, rollback, as of a "
      "date, verify, snapshots");
  command.app->footer(
      "Operations (default: a full rebuild into a new generation, not served):\n"
      "  --swap                 rebuild, catch up with the live runner and serve it\n"
      "  --view NAME --swap     rebuild everything, swap in only that view\n"
      "  --org UNIT --swap      rebuild everything, swap in only that org subtree's rows\n"
      "  --rollback             serve the previous generation again\n"
      "  --prune                delete every generation but the current and previous one\n"
      "  --as-of T --target D   views from the events up to event time T, read-only\n"
      "  --verify [--view NAME] [--org UNIT]\n"
      "                         rebuild up to the live offsets and compare; exit 1 if not equal\n"
      "  --snapshot-list | --snapshot-restore NAME\n"
      "Views: step-status, rejections, engagement, kpi, reference, dead-letters, or a column\n"
      "family. The JSON report goes to stdout, progress to stderr. Exit codes: 0 ok, 1 verify\n"
      "mismatch, 2 usage/precondition, 3 I/O, log or runner unavailable.\n"
      "See docs/operations.md.");
  AddLogOptions(command.app, &flags->log);
  AddStateOptions(command.app, &flags->log);
  AddKeyOptions(command.app, &flags->log);
  command.app->add_flag("--swap", flags->swap,
                        "Catch the rebuilt views up with the live ones and swap them in "
                        "(handshake with a running `jiritsu run`)");
  command.app->add_flag("--rollback", flags->rollback, "Serve the previous generation again");
  command.app->add_flag("--prune", flags->prune,
                        "Delete every view generation except the current and the previous one "
                        "(refused while a replay works on the root)");
  command.app->add_option("--as-of", flags->as_of,
                          "Build the views as of this event time (RFC 3339, e.g. "
                          "2025-03-31T23:59:59+09:00) into --target");
  command.app->add_option("--as-of-offset", flags->as_of_offset,
                          "Build the views from the records before these log positions: "
                          "topic:partition:offset,... (unlisted partitions: to their end)");
  command.app->add_option("--target", flags->target,
                          "New directory for an as-of build (query it with `jiritsu query --views`)");
  command.app->add_flag("--verify", flags->verify,
                        "Rebuild up to the live views' offsets and compare digests; print the "
                        "first differing keys and exit 1 on mismatch");
  command.app->add_option("--view", flags->view,
                          "Only this view (or column family): with --swap or --verify");
  command.app->add_option("--org", flags->org,
                          "Only the rows of this org unit's subtree (its units' KPIs and members' "
                          "rows): with --swap or --verify");
  command.app->add_option("--from-snapshot", flags->from_snapshot,
                          "Start from this snapshot (name, or `latest` of this view version) "
                          "instead of offset 0");
  command.app->add_flag("--snapshot-list", flags->snapshot_list, "List snapshots (JSON)");
  command.app->add_option("--snapshot-restore", flags->snapshot_restore,
                          "Serve this snapshot as a new generation (the runner catches it up)");
  command.app->add_flag("--no-snapshot", flags->no_snapshot,
                        "Do not take a snapshot at the end of a rebuild");
  command.app->add_option("--keep-snapshots", flags->keep_snapshots, "Snapshots to keep")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  command.app->add_option("--memory-budget-mb", flags->memory_budget_mb,
                          "Memory budget of the build in MiB (as `jiritsu run`'s; a larger one "
                          "means fewer checkpoints forced by uncommitted bytes)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{4}, size_t{1} << 20));
  command.app->add_option("--checkpoint-events", flags->checkpoint_events,
                          "Events per rebuild batch (bounds memory)")
      ->capture_default_str()
      ->check(CLI::Range(1000, 100'000'000));
  command.app->add_option("--swap-timeout", flags->swap_timeout_s,
                          "Seconds the live runner may take to release its views")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  command.app->add_option("--max-differences", flags->max_differences,
                          "Differing keys printed per view by --verify")
      ->capture_default_str();
  command.app->add_flag("--quiet", flags->quiet, "No progress bar on stderr");
  command.run = [flags] { return RunReplay(*flags); };
  return command;
}

}  // namespace jiritsu
