// Row scopes of the Jiritsu views for partial replays (core/replay.h
// KeyScope): which rows of each column family belong to one org subtree.
// Used by `jiritsu replay --org UNIT --swap|--verify` to repair or check one
// part of the organisation without touching the rest.
//
// An org subtree's rows: its units' KPI aggregates (`kpi_agg` rows keyed by
// the unit) and member index (`org_index`), and every per-employee row
// (`journal`, `employee`, `rejections`, `facts`) of the employees indexed
// under one of its units. The subtree and the membership are read from both
// stores and united: a repair must also reach rows that only the damaged
// (live) or only the rebuilt side has. Rows outside any subtree (reference
// data, dead letters, the view time) are never in scope; aggregates of the
// units above the subtree are not either (they roll up other units too).
//
// Lifecycle: the scope's predicate owns its sets; it outlives the stores.
// Thread-safety: the predicate is const and may be called concurrently.
// Failure: kNotFound when neither store defines the org unit; storage
// errors as returned by the stores.
#pragma once

#include <string_view>

#include "core/replay.h"
#include "core/state_store.h"
#include "core/status.h"

namespace jiritsu::processors {

Result<KeyScope> OrgSubtreeScope(const StateStore& live, const StateStore& rebuilt,
                                 std::string_view org_unit);

}  // namespace jiritsu::processors
