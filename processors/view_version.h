// The version of the view definitions the processors compute.
//
// Bump it whenever a change makes the same events project to different stored
// views (a new field, a changed formula, a new encoding). A store built by
// another version is refused by `jiritsu run` and rebuilt by
// `jiritsu replay --swap` (docs/operations.md).
#pragma once

#include <cstdint>

namespace jiritsu::processors {

// 2: personal fields (sealed) and the erasure time in employee states.
// 3: the audit trail (last_changed_by) of employee states.
// 4: the audit trail of the global rows: facts (last_event), KPI rows
//    (contributors, last_changed_by), org index values, reference rows with
//    their log position.
// 5: employee states, facts and KPI rows in the compact archive
//    (processors/compact_archive.h): the same values, fewer bytes.
// 6: live runs write employee states as snapshots with a journal tail
//    (processors/journal_tail.h) and record held-back facts (f\0 rows): a
//    build without the tail fold would read such a store wrong.
// 7: journal rows in the journal row format (processors/stored_event.h):
//    the key's subject, time, source and id no longer repeated in the
//    value, varint lengths. The same events, fewer bytes.
inline constexpr int32_t kViewVersion = 7;

}  // namespace jiritsu::processors
