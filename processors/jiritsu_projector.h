// The Jiritsu projector: step-status workflow, engagement facts and
// cross-measure KPI aggregates, behind the core Projector interface.
//
// Column families (all created by the runtime from ColumnFamilies()):
//   reference  event-time-versioned org units, programmes, KPI targets
//   journal    <employee>\0<sort key> -> accepted event + log position
//   employee   h\0<employee> -> header (last event time, partition);
//              s\0<employee> -> EmployeeState (the private views);
//              f\0<employee> -> "" while its facts wait (below)
//   rejections <employee>\0<sort key> -> Rejection
//   facts      <employee> -> latest EmployeeFacts (global)
//   kpi_agg    KPI rows and the view time (global, see aggregates.h)
//   org_index  <org unit>\0<employee> (global, latest org unit)
//
// Determinism (docs/architecture.md): per employee, accepted events are kept
// in EventOrderLess order. Events received since the last checkpoint are
// folded at the next Checkpoint(), in that order, on top of the state when
// they all sort after the last folded event (one pass over the employee's
// state per checkpoint, whatever the arrival order within it); an earlier
// one (a late arrival) or a void makes the employee re-fold from its journal
// instead. On an unlogged store (a rebuild, which nobody reads until it is
// synced) an event that sorts after the state's last folded event, with
// nothing pending, is folded on arrival and its journal row written in
// chunks: the same fold in the same order, without holding the events until
// a checkpoint. A programme version whose time is at or
// before an employee's last event re-folds that employee too: cost
// O(journal) per affected employee, rare (reference data is drained first in
// batch runs, and revisions normally carry a current time).
//
// Memory: employee states are cached (bounded by the estimated bytes
// ProjectorOptions::cache_max_bytes and the count cache_max_employees; least
// recently used clean entries are evicted, dirty ones and those of a batch not
// yet committed stay); journals stay on disk except the events received since
// the last checkpoint. A rebuild writes an employee's state once: when its
// facts are published, or earlier when a checkpoint writes back the least
// recently used states so that their entries can be evicted. Memory() reports
// the estimates, so the runtime can checkpoint when the uncommitted part grows
// (core/memory_budget.h). An index of every known employee (id -> last event
// time, partition) is kept to find re-fold candidates. The facts published at
// the latest checkpoint are kept decoded until they are read back (at most a
// quarter of ProjectorOptions::aggregates_cache_max_bytes, dropped at the next
// checkpoint), so ApplyFacts of those exact bytes skips decoding them.
//
// Facts interval (live runs, ProjectorOptions::facts_interval_ms): every
// checkpoint commits the changed employees' private views, but publishes the
// facts of an employee at most once per interval; the others wait, each with
// an f\0 row in the same batch, so a restart publishes them. Due facts go
// out oldest due first, at most max(64, twice the due count x the time since
// the previous checkpoint / the interval) per checkpoint, so a wave of them
// is spread instead of stalling one checkpoint, and at most what
// ProjectorOptions::facts_budget_percent of the runtime's checkpoint cadence
// (SetCheckpointCadence) pays for at their measured cost (building,
// publishing and reading back a record, writing the KPI rows it changed), so
// an overloaded runtime keeps the private views fresh and lets the global
// ones trail further. PublishDeferredFactsAtNextCheckpoint()
// publishes all (the runtime asks when caught up, before a revocation and
// at the end of a run). Facts are absolute, so the global views end the same
// as when publishing at every checkpoint; meanwhile they trail the private
// views by up to about the interval (TakeFactsDeferral() measures it).
//
// Warm start (live runs, ProjectorOptions::warm_cache_percent): Open() fills
// that share of the caches from the store, the employees with the latest
// events first, then the KPI rows and stored facts, so Open() of a large
// store takes up to about a second at the default budget. Cost only.
//
// Lifecycle and thread-safety: see core/projector.h (one runtime thread).
// Within a rebuild's Checkpoint() that publishes every held-back facts
// record, a helper thread reads stored states and builds facts (const reads
// of the store and the reference table); it is joined before Checkpoint()
// returns.
// Failure: store read errors and undecodable stored values are returned as
// Status (by Open() too, for what the warm start reads); so is a failed write
// of the journal rows of events folded on arrival (rebuilds), at the next
// Checkpoint() or duplicate lookup, and the rebuild stops; domain rule
// violations are never errors (they become rejections).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/projector.h"
#include "processors/options.h"

namespace jiritsu::processors {

inline constexpr std::string_view kJournalFamily = "journal";
inline constexpr std::string_view kEmployeeFamily = "employee";
inline constexpr std::string_view kRejectionsFamily = "rejections";

// The column families the projector declares (without meta/offsets/dlq).
std::vector<std::string> JiritsuColumnFamilies();

}  // namespace jiritsu::processors

namespace jiritsu {

using processors::ProjectorOptions;

std::unique_ptr<Projector> NewJiritsuProjector(const ProjectorOptions& options);

}  // namespace jiritsu
