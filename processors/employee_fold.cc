#include "processors/employee_fold.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "processors/stored_event.h"

namespace jiritsu::processors {
namespace {

EventRef MakeRef(const Event& event, const SourcePosition& position) {
  return EventRef{static_cast<uint8_t>(event.type), event.source, event.id, event.time_us,
                  position.topic, position.partition, position.offset};
}

// MakeRef into an existing ref: its strings keep their buffers (every event
// sets the state's last_changed_by).
void AssignRef(const Event& event, const SourcePosition& position, EventRef* ref) {
  ref->type = static_cast<uint8_t>(event.type);
  ref->source.assign(event.source);
  ref->id.assign(event.id);
  ref->time_us = event.time_us;
  ref->topic.assign(position.topic);
  ref->partition = position.partition;
  ref->offset = position.offset;
}

const ProgramStep* FindStep(const ProgramDefined& program, int32_t step) {
  for (const auto& s : program.steps) {
    if (s.step == step) return &s;
  }
  return nullptr;
}

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

class Folder {
 public:
  Folder(const ReferenceTable& reference, const Event& event, const SourcePosition& position,
         std::string_view sort_key, std::optional<uint64_t> recorded_identity_hash,
         EmployeeState* state)
      : reference_(reference),
        event_(event),
        position_(position),
        sort_key_(sort_key),
        recorded_identity_hash_(recorded_identity_hash),
        state_(*state) {}

  void Run() {
    ++state_.events_folded;
    // An erasure is not an activity: it does not move the employee's last
    // event time (nor the view time derived from it), so indicators and
    // KPIs evaluated "as of now" stay exactly what they were.
    if (event_.type != EventType::kEmployeeErasureRequested) state_.last_time_us = event_.time_us;
    state_.last_sort_key.assign(sort_key_);
    AssignRef(event_, position_, &state_.last_changed_by);
    uint64_t hash = 0;
    if (recorded_identity_hash_) {
      hash = *recorded_identity_hash_;
    } else {
      hash = EventIdentityHash(event_.source, event_.id);
      auto& hashes = state_.identity_hashes;
      auto it = std::lower_bound(hashes.begin(), hashes.end(), hash);
      if (it == hashes.end() || *it != hash) hashes.insert(it, hash);
    }

    if (event_.type == EventType::kEmployeeErasureRequested) {
      // Applies whether or not the employee is employed (usually after
      // leaving), changes no count, never re-evaluates steps.
      if (!state_.erased_at) state_.erased_at = event_.time_us;
      return;
    }
    // Voiding applies whether or not the learner is employed at its time,
    // and a voided event is folded as a no-op (docs/xapi.md, "Voiding").
    if (event_.type == EventType::kLearningVoided) {
      const auto& data = event_.As<LearningVoided>();
      MarkVoided(&state_, EventIdentityHash(data.voided_source, data.voided_id));
      return;
    }
    if (std::binary_search(state_.voided_hashes.begin(), state_.voided_hashes.end(), hash)) return;

    if (event_.type != EventType::kEmployeeHired && !state_.employed) {
      Reject(kNotEmployed, "employee " + Quote(state_.employee_id) +
                               " is not employed at the event time (not hired yet, or left)");
      return;
    }
    if (!Dispatch()) return;  // rejected: nothing else changes
    const bool steps_may_advance = StepsMayAdvance();
    if (steps_may_advance) EvaluateSteps();
    UpdateSnapshot(/*program_inputs_unchanged=*/!steps_may_advance);
  }

 private:
  // Returns false when the event was rejected.
  bool Dispatch() {
    switch (event_.type) {
      case EventType::kEmployeeHired: return Hired();
      case EventType::kEmployeeTransferred: {
        const auto& data = event_.As<EmployeeTransferred>();
        state_.org_unit = data.org_unit_id;
        if (data.talent_profile) state_.profile = *data.talent_profile;
        attribution_changed_ = true;
        return true;
      }
      case EventType::kEmployeeManagerChanged:
        state_.manager_id = event_.As<EmployeeManagerChanged>().manager_id;
        return true;
      case EventType::kEmployeeLeft:
        state_.employed = false;
        state_.hired_at.reset();
        attribution_changed_ = true;
        return true;
      case EventType::kInterviewHeld:
        state_.interviews.push_back(
            {event_.time_us, static_cast<uint8_t>(event_.As<InterviewHeld>().kind), Snap()});
        return true;
      case EventType::kInterviewCancelled:
        state_.cancellations.push_back({event_.time_us, Snap()});
        return true;
      case EventType::kLearningEnrolled:
        AddActivity(ActivityKind::kEnrolled, 0, false);
        return true;
      case EventType::kLearningProgressed:
        AddActivity(ActivityKind::kProgressed, event_.As<LearningProgressed>().hours, false);
        return true;
      case EventType::kLearningCompleted: {
        const auto& data = event_.As<LearningCompleted>();
        AddActivity(ActivityKind::kCompleted, data.hours, data.passed);
        if (data.passed && state_.courses_passed.emplace(data.course_id, event_.time_us).second) {
          criteria_changed_ = true;
        }
        return true;
      }
      case EventType::kLearningCertified:
        AddActivity(ActivityKind::kCertified, 0, false);
        return true;
      case EventType::kLearningWithdrawn:
        return true;  // recorded in the journal; not an activity
      case EventType::kDeclarationSubmitted: return Submitted();
      case EventType::kDeclarationAmended: return Amended();
      case EventType::kDeclarationWithdrawn: return Withdrawn();
      case EventType::kApprovalConfirmed:
      case EventType::kApprovalReturned:
      case EventType::kApprovalRejected: return ManagerDecision();
      case EventType::kApprovalFinalized: return Finalized();
      default:
        Reject(kInvalidTransition, "reference event in an employee journal");
        return false;
    }
  }

  bool Hired() {
    if (state_.employed) {
      Reject(kInvalidTransition, "employee " + Quote(state_.employee_id) + " is already employed");
      return false;
    }
    const auto& data = event_.As<EmployeeHired>();
    state_.employed = true;
    state_.hired_at = event_.time_us;
    state_.org_unit = data.org_unit_id;
    state_.manager_id = data.manager_id.value_or("");
    state_.profile = data.talent_profile;
    state_.display_name = Personal("display_name", data.display_name);
    attribution_changed_ = true;
    return true;
  }

  bool Submitted() {
    const auto& data = event_.As<DeclarationSubmitted>();
    if (state_.declarations.count(data.declaration_id) != 0) {
      Reject(kDuplicateDeclaration,
             "declaration " + Quote(data.declaration_id) + " was already submitted");
      return false;
    }
    if (data.kind == DeclarationKind::kStep || data.kind == DeclarationKind::kPractice) {
      const ProgramDefined* program = reference_.ProgramAt(data.program_id, event_.time_us);
      const bool step_needed = data.kind == DeclarationKind::kStep || data.step > 0;
      if (program == nullptr || (step_needed && FindStep(*program, data.step) == nullptr)) {
        Reject(kUnknownProgramStep,
               "programme " + Quote(data.program_id) +
                   (step_needed ? " step " + std::to_string(data.step) : std::string()) +
                   " does not exist at the declaration time");
        return false;
      }
      if (data.kind == DeclarationKind::kStep) {
        const int32_t reached = ReachedStep(data.program_id);
        if (data.step <= reached) {
          Reject(kStepAlreadyReached, "step " + std::to_string(data.step) + " of programme " +
                                          Quote(data.program_id) + " is already reached");
          return false;
        }
        if (data.step > reached + 1) {
          Reject(kStepOutOfOrder, "step " + std::to_string(data.step) + " of programme " +
                                      Quote(data.program_id) + " needs step " +
                                      std::to_string(data.step - 1) + " reached first (reached: " +
                                      std::to_string(reached) + ")");
          return false;
        }
      }
    }
    DeclarationRecord record;
    record.declaration_id = data.declaration_id;
    record.kind = static_cast<uint8_t>(data.kind);
    record.program_id = data.program_id;
    record.step = data.step;
    record.learning_state = data.learning_state;
    record.practice_months = data.practice_months;
    record.state = static_cast<uint8_t>(DeclarationState::kSubmitted);
    record.submitted_at = event_.time_us;
    record.submitted_snapshot = Snap();
    record.history.push_back(History("submitted", state_.employee_id));
    record.evidence = Personal("evidence", data.evidence);
    record.career_wish = Personal("career_wish", data.career_wish);
    state_.declarations.emplace(data.declaration_id, std::move(record));
    if (data.kind == DeclarationKind::kLearningState) {
      state_.learning_states.push_back({event_.time_us, data.learning_state});
    }
    return true;
  }

  // Looks up the declaration; rejects unknown and withdrawn ones.
  DeclarationRecord* FindOpen(const std::string& declaration_id) {
    auto it = state_.declarations.find(declaration_id);
    if (it == state_.declarations.end()) {
      Reject(kUnknownDeclaration, "declaration " + Quote(declaration_id) + " does not exist");
      return nullptr;
    }
    if (it->second.State() == DeclarationState::kWithdrawn) {
      Reject(kDeclarationWithdrawn, "declaration " + Quote(declaration_id) + " was withdrawn");
      return nullptr;
    }
    return &it->second;
  }

  void RejectTransition(const DeclarationRecord& record, std::string_view action) {
    Reject(kInvalidTransition, std::string(action) + " is not allowed for " +
                                   std::string(DeclarationKindName(record.Kind())) +
                                   " declaration " + Quote(record.declaration_id) + " in state " +
                                   std::string(DeclarationStateName(record.State())));
  }

  bool Amended() {
    const auto& data = event_.As<DeclarationAmended>();
    DeclarationRecord* record = FindOpen(data.declaration_id);
    if (record == nullptr) return false;
    const DeclarationState s = record->State();
    if (s != DeclarationState::kSubmitted && s != DeclarationState::kAmended &&
        s != DeclarationState::kReturned) {
      RejectTransition(*record, "amend");
      return false;
    }
    record->state = static_cast<uint8_t>(DeclarationState::kAmended);
    if (data.practice_months) record->practice_months = *data.practice_months;
    if (data.evidence) record->evidence = Personal("evidence", *data.evidence);
    if (data.career_wish) record->career_wish = Personal("career_wish", *data.career_wish);
    record->history.push_back(History("amended", state_.employee_id));
    return true;
  }

  bool Withdrawn() {
    const auto& data = event_.As<DeclarationWithdrawn>();
    DeclarationRecord* record = FindOpen(data.declaration_id);
    if (record == nullptr) return false;
    const DeclarationState s = record->State();
    if (!NeedsApproval(record->Kind()) || s == DeclarationState::kFinalized ||
        s == DeclarationState::kRejected) {
      RejectTransition(*record, "withdraw");
      return false;
    }
    record->state = static_cast<uint8_t>(DeclarationState::kWithdrawn);
    record->history.push_back(History("withdrawn", state_.employee_id));
    record->history.back().note = Personal("reason", data.reason);
    return true;
  }

  bool ManagerDecision() {
    const auto& data = event_.As<ApprovalDecision>();
    DeclarationRecord* record = FindOpen(data.declaration_id);
    if (record == nullptr) return false;
    if (data.approver_id == state_.employee_id) {
      Reject(kSelfApproval, "approver " + Quote(data.approver_id) +
                                " may not decide on their own declaration");
      return false;
    }
    if (data.approver_id != state_.manager_id) {
      Reject(kNotCurrentManager,
             "approver " + Quote(data.approver_id) + " is not the manager of " +
                 Quote(state_.employee_id) + " at the approval time (manager: " +
                 Quote(state_.manager_id) + ")");
      return false;
    }
    const bool confirm = event_.type == EventType::kApprovalConfirmed;
    const bool give_back = event_.type == EventType::kApprovalReturned;
    const DeclarationState s = record->State();
    if (!NeedsApproval(record->Kind()) ||
        (s != DeclarationState::kSubmitted && s != DeclarationState::kAmended)) {
      RejectTransition(*record, confirm ? "confirm" : give_back ? "return" : "reject");
      return false;
    }
    record->state = static_cast<uint8_t>(confirm     ? DeclarationState::kConfirmed
                                         : give_back ? DeclarationState::kReturned
                                                     : DeclarationState::kRejected);
    const char* action = confirm ? "confirmed" : give_back ? "returned" : "rejected";
    record->history.push_back(History(action, data.approver_id));
    record->history.back().note = Personal("comment", data.comment);
    return true;
  }

  bool Finalized() {
    const auto& data = event_.As<ApprovalDecision>();
    DeclarationRecord* record = FindOpen(data.declaration_id);
    if (record == nullptr) return false;
    if (data.approver_id == state_.employee_id) {
      Reject(kSelfApproval, "approver " + Quote(data.approver_id) +
                                " may not finalise their own declaration");
      return false;
    }
    const DeclarationState s = record->State();
    if (!NeedsApproval(record->Kind()) || s == DeclarationState::kFinalized) {
      RejectTransition(*record, "finalize");
      return false;
    }
    if (s != DeclarationState::kConfirmed) {
      Reject(kNotConfirmed, "declaration " + Quote(record->declaration_id) +
                                " is not confirmed by a manager (state " +
                                std::string(DeclarationStateName(s)) + ")");
      return false;
    }
    record->state = static_cast<uint8_t>(DeclarationState::kFinalized);
    record->finalized_at = event_.time_us;
    record->finalized_snapshot = Snap();
    if (record->Kind() == DeclarationKind::kStep) {
      if (state_.finalized_steps.emplace(record->program_id, record->step).second) {
        criteria_changed_ = true;
      }
    }
    record->history.push_back(History("finalized", data.approver_id));
    record->history.back().note = Personal("comment", data.comment);
    return true;
  }

  int32_t ReachedStep(const std::string& program_id) const {
    auto it = state_.steps_reached.find(program_id);
    return it == state_.steps_reached.end() ? 0 : static_cast<int32_t>(it->second.size());
  }

  bool CriteriaMet(const ProgramDefined& program, const ProgramStep& step) const {
    for (const auto& course : step.required_courses) {
      if (state_.courses_passed.count(course) == 0) return false;
    }
    return !step.declaration_required ||
           state_.finalized_steps.count({program.program_id, step.step}) != 0;
  }

  // False when EvaluateSteps would reach nothing: it ran to its fixpoint
  // before, and since then no criterion input changed (this event added no
  // passed course and no finalised step) and the programme versions in
  // effect are the same. Event times do not decrease along the fold, so
  // an equal count of versions at or before this event's time means no
  // version took effect in between and none was added before it.
  bool StepsMayAdvance() const {
    if (criteria_changed_ || state_.steps_fixpoint_versions == EmployeeState::kStepsNotEvaluated ||
        event_.time_us < state_.steps_fixpoint_time_us) {
      return true;
    }
    return reference_.ProgramVersionsAtOrBefore(event_.time_us) != state_.steps_fixpoint_versions;
  }

  // Steps are reached in order: step k when all its criteria hold and step
  // k-1 is reached. A reached step stays reached (later revisions of the
  // programme do not revoke it).
  void EvaluateSteps() {
    reference_.ForEachProgramAt(event_.time_us, [&](const ProgramDefined& program) {
      int32_t next = ReachedStep(program.program_id) + 1;
      while (const ProgramStep* step = FindStep(program, next)) {
        if (!CriteriaMet(program, *step)) break;
        state_.steps_reached[program.program_id].push_back({next, event_.time_us});
        ++next;
      }
    });
    state_.steps_fixpoint_versions = reference_.ProgramVersionsAtOrBefore(event_.time_us);
    state_.steps_fixpoint_time_us = event_.time_us;
  }

  // `program_inputs_unchanged`: no course passed, no step reached and the
  // same programme versions in effect since the last accepted event (which
  // left its flags in the last snapshot). With the same profile, the flags
  // taken from the programme are then the last snapshot's.
  //
  // Every accepted event leaves the last snapshot's attribution (employed,
  // org unit, profile) equal to the state's: this appends one otherwise, and
  // a rejected event changes none of them. So unless this event changed them
  // (attribution_changed_), they still are equal, and only the flags need
  // comparing: the strings compared here were ~5% of a rebuild's folding
  // thread, each a cache miss on a cold employee.
  void UpdateSnapshot(bool program_inputs_unchanged) {
    constexpr uint8_t kProgramFlags = kFlagCompletedRequired | kFlagMature;
    const Snapshot* last = state_.snapshots.empty() ? nullptr : &state_.snapshots.back();
    const bool same_attribution = last != nullptr && !attribution_changed_;
    uint8_t flags = 0;
    if (program_inputs_unchanged && last != nullptr &&
        (same_attribution || last->profile == state_.profile)) {
      flags = last->flags & kProgramFlags;
    } else if (const ProgramDefined* program =
                   reference_.ProgramForProfile(state_.profile, event_.time_us)) {
      const ProgramStep* step1 = FindStep(*program, 1);
      if (step1 != nullptr &&
          std::all_of(step1->required_courses.begin(), step1->required_courses.end(),
                      [&](const std::string& c) { return state_.courses_passed.count(c) != 0; })) {
        flags |= kFlagCompletedRequired;
      }
      if (ReachedStep(program->program_id) >= 2) flags |= kFlagMature;
    }
    if (!state_.learning_states.empty()) {
      flags |= kFlagDeclaredState;
      if (state_.learning_states.back().state <= 2) flags |= kFlagAware;
    }
    if (last != nullptr && last->flags == flags &&
        (same_attribution ||
         (last->employed == state_.employed && last->org_unit == state_.org_unit &&
          last->profile == state_.profile))) {
      return;
    }
    state_.snapshots.push_back(
        Snapshot{event_.time_us, state_.employed, state_.org_unit, state_.profile, flags});
  }

  void AddActivity(ActivityKind kind, double hours, bool passed) {
    const int64_t milli_hours = static_cast<int64_t>(std::llround(hours * 1000.0));
    state_.activities.push_back(
        {event_.time_us, static_cast<uint8_t>(kind), milli_hours, passed, Snap()});
  }

  uint32_t Snap() const {
    return state_.snapshots.empty() ? 0 : static_cast<uint32_t>(state_.snapshots.size() - 1);
  }

  HistoryEntry History(std::string action, const std::string& actor) const {
    return HistoryEntry{std::move(action), event_.time_us, actor, MakeRef(event_, position_)};
  }

  PersonalField Personal(std::string_view field, const std::string& value) const {
    if (value.empty()) return {};
    return PersonalField{std::string(field), value, event_.source, event_.id};
  }

  void Reject(std::string_view code, std::string reason) {
    state_.rejections.push_back(
        Rejection{MakeRef(event_, position_), std::string(code), std::move(reason)});
  }

  const ReferenceTable& reference_;
  const Event& event_;
  const SourcePosition& position_;
  std::string_view sort_key_;  // the caller's, for the fold
  // Set: the event's EventIdentityHash, already in state_.identity_hashes.
  std::optional<uint64_t> recorded_identity_hash_;
  EmployeeState& state_;
  bool criteria_changed_ = false;     // this event grew courses_passed or finalized_steps
  bool attribution_changed_ = false;  // this event set employed, org_unit or profile
};

}  // namespace

void MarkVoided(EmployeeState* state, uint64_t identity_hash) {
  auto& voided = state->voided_hashes;
  auto it = std::lower_bound(voided.begin(), voided.end(), identity_hash);
  if (it == voided.end() || *it != identity_hash) voided.insert(it, identity_hash);
}

void ApplyEvent(const ReferenceTable& reference, const Event& event,
                const SourcePosition& position, EmployeeState* state) {
  Folder(reference, event, position, EventSortKey(event), std::nullopt, state).Run();
}

void ApplyEvent(const ReferenceTable& reference, const Event& event, const SourcePosition& position,
                std::string_view sort_key, EmployeeState* state) {
  Folder(reference, event, position, sort_key, std::nullopt, state).Run();
}

void ApplyRecordedEvent(const ReferenceTable& reference, const Event& event,
                        const SourcePosition& position, std::string_view sort_key,
                        uint64_t identity_hash, EmployeeState* state) {
  Folder(reference, event, position, sort_key, identity_hash, state).Run();
}

}  // namespace jiritsu::processors
