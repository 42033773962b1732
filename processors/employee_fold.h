// The deterministic fold of one employee's journal: applies employee-scoped
// events, in EventOrderLess order, to an EmployeeState, enforcing the step
// workflow rules (docs/views.md, "Rejection rules").
//
// Why a pure function: the projector applies events incrementally when they
// arrive in order and re-folds the whole journal when one arrives late; both
// paths call Apply() with the same arguments in the same order, so the
// resulting state (and every view derived from it) depends only on the set
// of events and the reference table, never on arrival order.
//
// Reference data: every decision at event time t uses the programme versions
// as of t (ReferenceTable::ProgramAt). A programme version with time <= the
// employee's last folded event therefore requires a re-fold; later versions
// take effect at the employee's next event.
//
// Thread-safety: Apply() mutates only `state`; the ReferenceTable is read.
// Failure: rule violations are recorded in state->rejections (and leave the
// rest of the state unchanged); Apply() itself cannot fail.
#pragma once

#include "core/projector.h"
#include "processors/employee_state.h"
#include "processors/reference_table.h"
#include "schemas/event.h"

namespace jiritsu::processors {

// Rejection rule codes (docs/views.md documents each).
inline constexpr std::string_view kUnknownProgramStep = "UNKNOWN_PROGRAM_STEP";
inline constexpr std::string_view kStepOutOfOrder = "STEP_OUT_OF_ORDER";
inline constexpr std::string_view kStepAlreadyReached = "STEP_ALREADY_REACHED";
inline constexpr std::string_view kNotCurrentManager = "NOT_CURRENT_MANAGER";
inline constexpr std::string_view kSelfApproval = "SELF_APPROVAL";
inline constexpr std::string_view kNotConfirmed = "NOT_CONFIRMED";
inline constexpr std::string_view kDeclarationWithdrawn = "DECLARATION_WITHDRAWN";
inline constexpr std::string_view kUnknownDeclaration = "UNKNOWN_DECLARATION";
inline constexpr std::string_view kDuplicateDeclaration = "DUPLICATE_DECLARATION";
inline constexpr std::string_view kInvalidTransition = "INVALID_TRANSITION";
inline constexpr std::string_view kNotEmployed = "NOT_EMPLOYED";

// Applies `event` (employee-scoped, subject == state->employee_id) on top of
// `state`. Precondition: the event sorts after everything folded so far and
// its (source, id) is not in the journal yet.
void ApplyEvent(const ReferenceTable& reference, const Event& event,
                const SourcePosition& position, EmployeeState* state);
// Same, with the event's EventSortKey already computed by the caller (copied
// into the state's own buffer: a fold per event allocates no key).
void ApplyEvent(const ReferenceTable& reference, const Event& event, const SourcePosition& position,
                std::string_view sort_key, EmployeeState* state);
// Same, for an event whose EventIdentityHash the caller computed and already
// inserted into state->identity_hashes (the projector does, to find
// duplicates): the fold neither computes nor searches for it again.
void ApplyRecordedEvent(const ReferenceTable& reference, const Event& event,
                        const SourcePosition& position, std::string_view sort_key,
                        uint64_t identity_hash, EmployeeState* state);

// Records that the event with this EventIdentityHash is voided (idempotent).
// A learning.voided must be known before its target is folded: the projector
// re-folds a journal that gains one, pre-seeding every void it holds.
void MarkVoided(EmployeeState* state, uint64_t identity_hash);

// True when the journal position of `sort_key` is after the last folded event.
inline bool SortsAfterFolded(const EmployeeState& state, std::string_view sort_key) {
  return state.events_folded == 0 || sort_key > state.last_sort_key;
}

}  // namespace jiritsu::processors
