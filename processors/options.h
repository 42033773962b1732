// ProjectorOptions: the knobs of the Jiritsu projections.
//
// Every option that changes a view (offset, windows, thresholds) must be the
// same for every instance and every replay of one store; they are parameters
// of the view definitions in docs/views.md, not tuning. The cache_* options
// only bound memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "core/key_store.h"
#include "core/memory_budget.h"
#include "schemas/event.h"

namespace jiritsu::processors {

inline constexpr int32_t kDefaultFactsBudgetPercent = 25;
inline constexpr int32_t kDefaultWarmCachePercent = 75;

struct ProjectorOptions {
  // Offset in which months, fiscal years (April-March) and quarters are cut.
  int32_t reporting_utc_offset_minutes = kDefaultReportingOffsetMinutes;  // +09:00
  // At-risk: no learning activity and no held interview for this many days.
  int32_t at_risk_days = 180;
  // "Line across measures" windows after the first career interview of a period.
  int32_t line_learning_start_days = 90;
  int32_t line_completion_days = 180;
  int32_t line_declaration_days = 365;
  // 1on1 rhythm: monthly, i.e. 3 in a 90-day window.
  int32_t expected_one_on_ones_90d = 3;
  // Employee states kept in memory between checkpoints: least recently used
  // clean ones are evicted as soon as either limit is exceeded (dirty ones
  // stay until a checkpoint commits them). The bytes are an estimate of the
  // heap a state holds (it grows with the employee's history); the count is
  // a second, coarser cap. Defaults: core/memory_budget.h.
  size_t cache_max_employees = 50000;
  size_t cache_max_bytes = MemoryBudget{}.employee_cache_bytes();
  // Facts records and KPI rows kept in memory between checkpoints (clean
  // ones are dropped, facts first, above either limit).
  size_t cache_max_rows = 200000;
  size_t aggregates_cache_max_bytes = MemoryBudget{}.aggregates_cache_bytes();
  // A cost knob: when the runtime asks for every held-back facts record (caught
  // up, a revocation, the end of a run), a checkpoint stops adding held-back
  // employees (each rewrites its state) once its batch holds this many bytes,
  // and the rest go out in the checkpoints that follow. In one checkpoint,
  // 95 075 of them made a 393 MB batch and a 2.9 GB peak RSS (100 000
  // employees x 36 months). A rebuild's batch spills as it grows, so there
  // the bytes counted are the encoded facts published since the checkpoint
  // began, and employees still dirty at its end wait past the bound too.
  size_t held_back_publish_batch_bytes = size_t{64} << 20;
  // Not a view parameter: how often an employee's facts are published in a
  // live run (a logged store). A checkpoint always commits the employee's own
  // views; the facts that feed the global views (KPIs, org roll-ups) of an
  // employee whose facts were published less than this long ago wait for a
  // later checkpoint, so an employee changing at every checkpoint costs one
  // facts record per interval instead of one per checkpoint. The global
  // views then follow the private ones by up to about this interval; their
  // final content does not depend on it (facts are absolute). After a start,
  // an employee the store already knows waits one interval from its first
  // change (no storm of facts as large as the active population); one new
  // to the store is published at its first checkpoint. 0: at every
  // checkpoint. Rebuilds (unlogged stores) ignore it: they hold every facts
  // record until the runtime asks for them at their end.
  int64_t facts_interval_ms = 0;
  // Not a view parameter: the share (percent) of the runtime's checkpoint
  // cadence (Projector::SetCheckpointCadence) that publishing due facts may
  // take per checkpoint (building and encoding them, reading them back into
  // the aggregates, writing the KPI rows they change), at their measured cost
  // per record; at least one due record goes out per checkpoint. When
  // employees change faster than that pays for at facts_interval_ms (a
  // population too large for the interval), the due facts beyond it wait for
  // later checkpoints, oldest due first, so the private views stay fresh and
  // the global ones trail further (FactsDeferral measures by how much)
  // instead of every checkpoint growing with the facts it publishes. 100: no
  // limit. Only live runs with an interval defer facts at all.
  int32_t facts_budget_percent = kDefaultFactsBudgetPercent;
  // Not a view parameter: the share (percent) of the cache's limits above
  // that a live run's Open fills with the employees whose last events are
  // the latest, so the first event of each after a start does not pay a
  // store read and a journal seek on the runtime thread. 0: a cold start.
  // Rebuilds (unlogged stores) start empty and never warm.
  int32_t warm_cache_percent = kDefaultWarmCachePercent;
  // The clock of facts_interval_ms and of the facts' measured cost
  // (milliseconds, monotonic; empty: std::chrono::steady_clock, the cost in
  // microseconds). Tests inject one. Never a view input.
  std::function<int64_t()> clock_ms;
  // Not a view parameter: the employee keys. The projector deletes an
  // employee's key when it projects employee.erasure.requested; QueryService
  // reveals personal fields with it (nullptr: they read as unavailable).
  // Must outlive the projector / query service.
  KeyStore* key_store = nullptr;
};

}  // namespace jiritsu::processors
