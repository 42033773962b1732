// The journal tail of an employee's stored state.
//
// In a live run the projector writes an employee's state (s\0<employee>, the
// snapshot) together with its facts, at most once per
// ProjectorOptions::facts_interval_ms; the checkpoints in between commit only
// the employee's new journal rows. The current state is the snapshot with the
// journal rows that sort after its last folded event folded on top, in key
// order: exactly what the projector folded in memory at those checkpoints.
// Rows that sort before it are always in the snapshot: a late event, a void
// or a replaced duplicate makes the projector re-fold and write the snapshot
// in the same checkpoint. Rebuilds write every state, so their tails are
// empty.
//
// Thread-safety: only reads `store` and `reference`. Failure: store errors
// and undecodable rows are returned as Status (the employee named).
#pragma once

#include <cstddef>
#include <string_view>

#include "core/state_store.h"
#include "core/status.h"
#include "core/store_diff.h"
#include "processors/employee_state.h"
#include "processors/reference_table.h"

namespace jiritsu::processors {

// Folds the employee's journal rows after state->last_sort_key onto *state;
// returns how many.
Result<size_t> FoldJournalTail(const StateStore& store, const ReferenceTable& reference,
                               std::string_view employee, EmployeeState* state);
// The same through `journal`, an iterator over the journal family that the
// caller reuses across employees (a scan of every state: one iterator, not
// one per employee).
Result<size_t> FoldJournalTail(StateIterator* journal, const ReferenceTable& reference,
                               std::string_view employee, EmployeeState* state);

// How `store`'s rows read as the views they stand for (for `jiritsu replay
// --verify` of a live generation): a state is read with its journal tail
// folded and encoded again, as a rebuild writes it; a waiting-facts row
// (f\0) is left out; every other row reads as stored. The reader keeps
// a journal iterator of `store` (which must outlive it) and its reference
// table, both as of now. Only rows of the employee family use the
// iterator: those must come from one thread at a time, while rows of other
// families may be read on other threads meanwhile (DigestFamilies reads
// each family on one thread, several families at once).
Result<RowReader> ViewRowsOf(const StateStore& store);

// The employee's stored state with its journal tail folded; kNotFound when
// the store holds no state for it.
Result<EmployeeState> LoadEmployeeState(const StateStore& store, const ReferenceTable& reference,
                                        std::string_view employee);

}  // namespace jiritsu::processors
