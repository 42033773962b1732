// EmployeeState: one employee's private views, i.e. the fold of the
// employee's journal (see employee_fold.h): lifecycle, step status per
// programme, declarations with their audit trail, rejections, and the raw
// activity that engagement indicators and KPI contributions derive from.
//
// Stored in the "employee" column family as one versioned value
// (kEmployeeStateFormat byte + the compact archive); the projector never
// needs it to be read back for correctness (it can always re-fold the
// journal), queries read it to render step status.
//
// Thread-safety: plain values. Failure: DecodeEmployeeState returns
// kCorruption for unreadable bytes.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu::processors {

// 2: + voided_hashes (learning.voided). States of format 1 are rebuilt from
// the journal on load.
// 3: the same fields in the compact archive (compact_archive.h, view
// version 5); format 2 still decodes.
inline constexpr uint8_t kEmployeeStateFormat = 3;

// Where a decision came from: the audit trail of every view row.
struct EventRef {
  uint8_t type = 0;  // EventType
  std::string source;
  std::string id;
  int64_t time_us = 0;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  template <class A> void serialize(A& ar) { ar(type, source, id, time_us, topic, partition, offset); }
  bool operator==(const EventRef&) const = default;
};

// Fold order of the referenced events (event time, family rank, source, id,
// as EventOrderLess), then log position: a total order, so the greatest ref
// of a set does not depend on the order the set was built in. The empty ref
// (no event) sorts first.
bool EventRefLess(const EventRef& a, const EventRef& b);

enum class DeclarationState : uint8_t {
  kSubmitted = 0,
  kConfirmed,
  kReturned,
  kAmended,
  kRejected,
  kWithdrawn,
  kFinalized,
};
std::string_view DeclarationStateName(DeclarationState state);
std::string_view DeclarationKindName(DeclarationKind kind);
// Step and practice declarations go through manager + HR approval;
// learning_state and career_wish take effect at submission.
inline bool NeedsApproval(DeclarationKind kind) {
  return kind == DeclarationKind::kStep || kind == DeclarationKind::kPractice;
}

// A personal field as the event carried it: normally a sealed value
// (core/personal_data.h), kept as is so the view's bytes never depend on
// keys; read paths reveal it. `source`/`id` name the event it came from and
// `field` its name: together with the employee they are the value's
// associated data. Empty `value`: no text.
struct PersonalField {
  std::string field;
  std::string value;
  std::string source;
  std::string id;
  bool empty() const { return value.empty(); }
  template <class A> void serialize(A& ar) { ar(field, value, source, id); }
};

struct HistoryEntry {
  std::string action;  // submitted | amended | withdrawn | confirmed | returned | rejected | finalized
  int64_t time_us = 0;
  std::string actor;   // declarant for the employee's own actions, else approver
  EventRef event;
  PersonalField note;  // the approval's comment or the withdrawal's reason
  template <class A> void serialize(A& ar) { ar(action, time_us, actor, event, note); }
};

struct DeclarationRecord {
  std::string declaration_id;
  uint8_t kind = 0;  // DeclarationKind
  std::string program_id;
  int32_t step = 0;
  int32_t learning_state = 0;
  int32_t practice_months = 0;
  uint8_t state = 0;  // DeclarationState
  int64_t submitted_at = 0;
  uint32_t submitted_snapshot = 0;
  std::optional<int64_t> finalized_at;
  uint32_t finalized_snapshot = 0;
  std::vector<HistoryEntry> history;
  PersonalField evidence;     // latest (submitted, or the last amendment's)
  PersonalField career_wish;  // latest
  DeclarationKind Kind() const { return static_cast<DeclarationKind>(kind); }
  DeclarationState State() const { return static_cast<DeclarationState>(state); }
  template <class A> void serialize(A& ar) {
    ar(declaration_id, kind, program_id, step, learning_state, practice_months, state,
       submitted_at, submitted_snapshot, finalized_at, finalized_snapshot, history, evidence,
       career_wish);
  }
};

// Bits of Snapshot::flags: the employee's period-end KPI measures.
inline constexpr uint8_t kFlagCompletedRequired = 1;  // all step-1 courses of the profile's programme
inline constexpr uint8_t kFlagAware = 2;              // latest declared learning state is 1-2
inline constexpr uint8_t kFlagDeclaredState = 4;      // has declared a learning state
inline constexpr uint8_t kFlagMature = 8;             // step >= 2 in the profile's programme

// The employee's attribution and measures from `time_us` on; appended by the
// fold whenever any field changes. Events point at the snapshot current when
// they were applied, which is "the org unit the employee belonged to when it
// happened".
struct Snapshot {
  int64_t time_us = 0;
  bool employed = false;
  std::string org_unit;
  std::string profile;
  uint8_t flags = 0;
  template <class A> void serialize(A& ar) { ar(time_us, employed, org_unit, profile, flags); }
};

struct InterviewRecord {
  int64_t time_us = 0;
  uint8_t kind = 0;  // InterviewKind
  uint32_t snapshot = 0;
  template <class A> void serialize(A& ar) { ar(time_us, kind, snapshot); }
};

enum class ActivityKind : uint8_t { kEnrolled = 0, kProgressed, kCompleted, kCertified };

struct ActivityRecord {
  int64_t time_us = 0;
  uint8_t kind = 0;  // ActivityKind
  int64_t milli_hours = 0;
  bool passed = false;  // completions only
  uint32_t snapshot = 0;
  template <class A> void serialize(A& ar) { ar(time_us, kind, milli_hours, passed, snapshot); }
};

struct CancellationRecord {
  int64_t time_us = 0;
  uint32_t snapshot = 0;
  template <class A> void serialize(A& ar) { ar(time_us, snapshot); }
};

struct StepReached {
  int32_t step = 0;
  int64_t time_us = 0;
  template <class A> void serialize(A& ar) { ar(step, time_us); }
};

struct LearningStateDeclared {
  int64_t time_us = 0;
  int32_t state = 0;  // 1..6
  template <class A> void serialize(A& ar) { ar(time_us, state); }
};

struct Rejection {
  EventRef event;
  std::string code;    // e.g. NOT_CURRENT_MANAGER (docs/views.md)
  std::string reason;  // human readable
  template <class A> void serialize(A& ar) { ar(event, code, reason); }
};

struct EmployeeState {
  std::string employee_id;
  // Fold position.
  uint64_t events_folded = 0;
  int64_t last_time_us = std::numeric_limits<int64_t>::min();
  std::string last_sort_key;
  std::vector<uint64_t> identity_hashes;  // sorted EventIdentityHash of folded events
  // Sorted EventIdentityHash of events voided by a learning.voided in the
  // journal: they are folded as no-ops, whichever arrives first.
  std::vector<uint64_t> voided_hashes;

  // Lifecycle (current values).
  bool employed = false;
  std::optional<int64_t> hired_at;  // start of the current employment
  std::string org_unit;
  std::string manager_id;
  std::string profile;
  std::vector<Snapshot> snapshots;
  PersonalField display_name;  // from the latest employee.hired
  // Event time of the first employee.erasure.requested (in journal order):
  // from then on every personal field of the employee reads as erased.
  std::optional<int64_t> erased_at;
  // Audit trail of the row: the event folded last (in journal order, so the
  // same for every interleaving, instance and replay), whatever it changed
  // (a rejection, an erasure and a voiding included).
  EventRef last_changed_by;

  // Activity.
  std::map<std::string, int64_t> courses_passed;  // course -> first passed completion
  std::vector<ActivityRecord> activities;
  std::vector<InterviewRecord> interviews;
  std::vector<CancellationRecord> cancellations;
  std::vector<LearningStateDeclared> learning_states;

  // Workflow.
  std::map<std::string, DeclarationRecord> declarations;
  std::map<std::string, std::vector<StepReached>> steps_reached;  // program -> 1..k in order
  // (program, step) of finalised step declarations: the declaration criterion.
  std::set<std::pair<std::string, int32_t>> finalized_steps;
  std::vector<Rejection> rejections;

  // Not stored (not in serialize): a memo of the fold. The step criteria
  // read only courses_passed, finalized_steps and the programme versions in
  // effect, so once EvaluateSteps ran to its fixpoint it cannot reach a new
  // step until one of them changes. steps_fixpoint_versions is the number
  // of programme versions in effect at that evaluation (kStepsNotEvaluated:
  // unknown, e.g. after decoding; the fold then evaluates).
  static constexpr uint64_t kStepsNotEvaluated = std::numeric_limits<uint64_t>::max();
  uint64_t steps_fixpoint_versions = kStepsNotEvaluated;
  int64_t steps_fixpoint_time_us = 0;

  template <class A> void serialize(A& ar) {
    ar(employee_id, events_folded, last_time_us, last_sort_key, identity_hashes, employed,
       hired_at, org_unit, manager_id, profile, snapshots, courses_passed, activities, interviews,
       cancellations, learning_states, declarations, steps_reached, finalized_steps, rejections,
       voided_hashes, display_name, erased_at, last_changed_by);
  }
};

std::string EncodeEmployeeState(const EmployeeState& state);
Result<EmployeeState> DecodeEmployeeState(std::string_view bytes);

}  // namespace jiritsu::processors
