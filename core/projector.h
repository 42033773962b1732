// Projector: the domain logic that the ProjectionRuntime (projection_runtime.h)
// drives. processors/ implements it; core/ never depends on processors/.
//
// Inputs, all already decoded and validated by the runtime:
//   * reference events (jiritsu.reference, one partition): every instance
//     reads all of them, in log order (a global table);
//   * employee-scoped events of the partitions this instance owns, in any
//     interleaving across the five co-partitioned topics;
//   * records of the internal facts topic (jiritsu.facts): every instance
//     reads all of them (cross-partition views: KPIs, org rollups).
// The projector must make its views a pure function of the set of events
// (never of wall-clock time or arrival order) and treat a repeated
// (source, id) as a no-op.
//
// Checkpoint protocol (runtime side, see projection_runtime.h): the runtime
// calls Checkpoint(), produces the facts records it hands out and waits for
// them to be durable, then writes the batch together with the input offsets in
// one atomic write. (A projector that records unconfirmed facts, see
// SetFactsConfirmedLater(), lets a live runtime commit first and confirm
// the facts at a later checkpoint.) A crash anywhere re-runs events after
// the last committed offsets against the last committed state, so the
// projector must keep all uncommitted changes in memory until Checkpoint()
// and must tolerate facts records being re-delivered (they are absolute
// values, not deltas). A projector may hold an employee's facts back for a
// later checkpoint (a live run's facts interval) if its committed state says
// so, so that a restart still publishes them;
// PublishDeferredFactsAtNextCheckpoint() ends the wait.
//
// Lifecycle: Open() once with the store, then Apply*() and Checkpoint() from
// the runtime thread; Close() before the store goes away.
// Thread-safety: driven from one thread; query methods live elsewhere
// (processors/query.h) and read the StateStore only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/event_log.h"
#include "core/state_store.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu {

// Where an event came from: recorded in the audit trail of view rows.
struct SourcePosition {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
};

// What a projector holds in memory, estimated in bytes (cost figures, never
// view inputs): the runtime checkpoints early when uncommitted_bytes exceeds
// RuntimeOptions::checkpoint_uncommitted_bytes (core/memory_budget.h).
struct ProjectorMemory {
  uint64_t cached_bytes = 0;       // every cached entry, clean or not
  uint64_t cached_entries = 0;
  uint64_t uncommitted_bytes = 0;  // the part only a checkpoint can release
};

struct FactsRecord {
  std::string key;    // employee id (partitioning key of jiritsu.facts)
  std::string value;  // projector-defined, versioned encoding
};

// Takes the facts records of a checkpoint one at a time, so the runtime can
// publish them as they are built: a checkpoint that flushes tens of thousands
// of employees never holds all their facts at once (at 100 000 employees x 12
// months they are ~5 KB each). An error fails the checkpoint, and like any
// checkpoint error it stops the runtime: a restart resumes from the last
// committed state.
using FactsSink = std::function<Status(FactsRecord record)>;

// A sink that appends to `out` (tests, and runtimes that need them together).
inline FactsSink CollectFacts(std::vector<FactsRecord>* out) {
  return [out](FactsRecord record) {
    out->push_back(std::move(record));
    return Status::Ok();
  };
}

// Facts a projector holds back (a live run that publishes an employee's facts
// at most once per interval): how many employees wait now, and for those
// published since the last TakeFactsDeferral(), how long (ms) each had waited
// since its facts first fell behind its private views. Cost and freshness
// figures, never view inputs.
struct FactsDeferral {
  uint64_t waiting = 0;
  std::map<int64_t, uint64_t> published_after_ms;  // wait -> employees
  // Measured cost of publishing one facts record, microseconds (a moving
  // average; 0 until measured).
  uint64_t cost_us = 0;
};

class Projector {
 public:
  virtual ~Projector() = default;
  // Column families the projector's views live in (created by the runtime).
  virtual std::vector<std::string> ColumnFamilies() const = 0;
  // Loads whatever the projector caches in memory from the committed state.
  virtual Status Open(StateStore* store) = 0;
  // `event` and `pos` are valid for the call only (the runtime reuses them):
  // a projector keeps copies. A rebuild may apply a batch's employee events
  // grouped by employee: each employee's in log-merge order, never the order
  // across employees (RuntimeOptions::rebuild_group_by_key).
  virtual Status ApplyReference(const Event& event, const SourcePosition& pos) = 0;
  virtual Status ApplyEmployeeEvent(const Event& event, const SourcePosition& pos) = 0;
  // A hint from a rebuild's grouped batches: ApplyEmployeeEvent will soon be
  // called for the employee keyed `key` (`key_hash` is
  // std::hash<std::string_view> of it). Called with `stage` 2, 1, then 0 as
  // that call nears, a few events apart: an implementation may prefetch what
  // the call will read, each stage following pointers the stage before
  // brought into the cache. Never changes a view; default: nothing.
  virtual void PrefetchEmployee(std::string_view /*key*/, uint64_t /*key_hash*/, int /*stage*/) {}
  // kInvalidArgument: the record is not a facts record this projector can
  // read (the runtime skips and counts it); any other error stops the run.
  virtual Status ApplyFacts(const LogRecord& record) = 0;
  // Asked once after Open() by a runtime that would hand every facts record
  // Checkpoint() publishes straight back to ApplyFacts, and no others (a
  // rebuild that derives its global views from its own facts,
  // RuntimeOptions::DerivedInputs::kLocal). True: the projector applies them
  // itself as it builds them, within the same Checkpoint(), and the runtime
  // does not hand them back. Default: false.
  virtual bool ApplyPublishedFactsItself() { return false; }
  // Adds every change since the previous checkpoint to `batch` and hands the
  // facts records to publish to `facts_out`, in employee order (a rebuild's
  // publishing of what it held back may group them otherwise: records of
  // different employees are independent, so the order is a cost, never a
  // view input). After the runtime commits, the projector considers those
  // changes clean.
  virtual Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) = 0;
  // The next Checkpoint() publishes every facts record the projector holds
  // back (or as many as its batch bound allows, see FactsHeldBack): the
  // runtime asks before partitions are revoked (another member takes over
  // the employees), when caught up, and at the end of a run.
  virtual void PublishDeferredFactsAtNextCheckpoint() {}
  // How many employees' facts are held back now. After a Checkpoint() asked
  // to publish them all, some may remain (a projector bounds that checkpoint's
  // batch): the runtime asks again until none remain.
  virtual size_t FactsHeldBack() const { return 0; }
  // Families that publishing held-back facts does not write once the input
  // is read to its end (the event journal, not the facts and aggregates): a
  // rebuild compacts them while those facts are published
  // (StateStore::CompactFamiliesEarly). A family written after all is
  // compacted again at the end: slower, never wrong.
  virtual std::vector<std::string> FamiliesCompleteBeforeHeldBackFacts() const { return {}; }
  // See FactsDeferral; the runtime calls it after each committed checkpoint.
  virtual FactsDeferral TakeFactsDeferral() { return {}; }
  // Employee states rebuilt from their whole journal since the previous call
  // (RuntimeStats::refolds); the runtime calls it after each checkpoint.
  virtual uint64_t TakeRefolds() { return 0; }
  // The runtime's checkpoint cadence (RuntimeOptions::checkpoint_every_ms),
  // set once before Open(): what a checkpoint may spend on work it can
  // defer is measured against it. A cost figure, never a view input.
  virtual void SetCheckpointCadence(int64_t /*every_ms*/) {}
  // The batch of the latest Checkpoint() is written: what it flushed may now
  // be evicted from caches and re-read from the store.
  virtual void OnCheckpointCommitted() {}
  virtual ProjectorMemory Memory() const { return {}; }
  // Estimated heap bytes `record` holds once applied, until the next
  // checkpoint: a rebuild defers the facts it publishes and applies them in
  // bursts bounded by this (RuntimeOptions::deferred_facts_bytes). Default:
  // its encoded size. A cost figure, never a view input.
  virtual uint64_t AppliedFactsBytes(const FactsRecord& record) const {
    return record.key.size() + record.value.size();
  }
  // Facts confirmed later. When the projector supports it
  // (RecordsUnconfirmedFacts()), a live runtime may commit a checkpoint's
  // batch before the facts that Checkpoint() handed out are durable, so the
  // events' views do not wait on the facts' flush. The runtime says so before
  // each Checkpoint() with SetFactsConfirmedLater(true); the batch then
  // records every employee whose facts it published, and a restart publishes
  // them again (facts are absolute: a second copy changes nothing). Once
  // the facts handed out by the first `checkpoints` calls of Checkpoint() are
  // durable, the runtime calls OnFactsDurable(checkpoints), and a later
  // batch drops those records. With false (the default), facts must be
  // durable before the batch is written, as above.
  virtual bool RecordsUnconfirmedFacts() const { return false; }
  virtual void SetFactsConfirmedLater(bool /*later*/) {}
  virtual void OnFactsDurable(uint64_t /*checkpoints*/) {}
  // The runtime lost these employee partitions (rebalance): drop any cached,
  // already-checkpointed state for employees in them.
  virtual void OnPartitionsRevoked(const std::vector<int32_t>& partitions) = 0;
  virtual void Close() = 0;
};

}  // namespace jiritsu
