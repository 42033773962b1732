// ProjectorOptions: the knobs of the Jiritsu projections.
//
// Every option that changes a view (offset, windows, thresholds) must be the
// same for every instance and every replay of one store; they are parameters
// of the view definitions in docs/views.md, not tuning. cache_max_employees
// only bounds memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/key_store.h"
#include "schemas/event.h"

namespace jiritsu::processors {

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
  // Employees whose state is kept in memory between checkpoints (clean ones
  // are evicted least-recently-used first; dirty ones stay until Checkpoint).
  size_t cache_max_employees = 50000;
  // Aggregate rows and facts kept in memory between checkpoints.
  size_t cache_max_rows = 200000;
  // Not a view parameter: the employee keys. The projector deletes an
  // employee's key when it projects employee.erasure.requested; QueryService
  // reveals personal fields with it (nullptr: they read as unavailable).
  // Must outlive the projector / query service.
  KeyStore* key_store = nullptr;
};

}  // namespace jiritsu::processors
