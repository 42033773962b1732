// EmployeeFacts: the compact, absolute summary of one employee that every
// instance receives through jiritsu.facts and aggregates into the global
// views (KPIs, org roll-ups, view time).
//
// Why absolute: a facts record replaces the employee's previous one
// (subtract old contribution, add new), so re-delivery after a crash and the
// number of instances change nothing. Which of two records wins is decided
// by FactsNewer(): more journal events, then more applicable programme
// versions, then the lexicographically larger bytes, so the winner does not
// depend on arrival order.
//
// Bounded: activity and interview lists keep only the 365 days before the
// employee's latest event (enough for every rolling window evaluated at a
// view time T >= that event); period contributions are per
// (org unit at event time, profile, period) and per month.
//
// Thread-safety: plain values and pure functions. Failure: DecodeFacts
// returns kCorruption for unreadable bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "processors/employee_state.h"
#include "processors/options.h"
#include "processors/reference_table.h"
#include "processors/time_util.h"

namespace jiritsu::processors {

// 2: + last_event (the audit trail of the facts row and of the global rows
// built from it). Format 1 records (no last_event) still decode.
// 3: the same fields in the compact archive (compact_archive.h); formats 1
// and 2 still decode (jiritsu.facts keeps records of older versions).
inline constexpr uint8_t kFactsFormat = 3;

// Point-in-time measures, kept as monthly deltas (value at the end of month
// M = sum of deltas of months <= M).
enum StateMeasure : int {
  kPopulation = 0,         // employed
  kCompletedRequired,      // all step-1 required courses of the profile's programme passed
  kAware,                  // latest declared learning state is 1 or 2
  kDeclaredState,          // has declared a learning state
  kMature,                 // step >= 2 in the profile's programme
  kStateMeasureCount,
};

// Event counts per period, attributed to the org unit and profile the
// employee had when the event happened.
enum PeriodCounter : int {
  kInterviewsCareer = 0,
  kInterviewsOneOnOne,
  kInterviewsCounseling,
  kInterviewsCancelled,
  kTrainingsEnrolled,
  kTrainingsCompleted,     // learning.completed with passed=true
  kCertifications,
  kLearningMilliHours,     // hours of learning.progressed + learning.completed, x1000
  kDeclarationsSubmitted,
  kDeclarationsFinalized,
  kLineInterviewed,        // people with a career interview in the period
  kLineStartedLearning,    // ... who enrolled/progressed within N days after it
  kLineCompletedLearning,  // ... who passed a completion within N days
  kLineDeclared,           // ... who submitted a declaration within N days
  kLineFinalized,          // ... who got a declaration finalised within N days
  kPeriodCounterCount,
};
std::string_view PeriodCounterName(int counter);
std::string_view StateMeasureName(int measure);

// Participation bits per fiscal year (breadth).
inline constexpr uint8_t kMeasureInterview = 1;
inline constexpr uint8_t kMeasureLearning = 2;
inline constexpr uint8_t kMeasureDeclaration = 4;
inline constexpr uint8_t kMeasureCertification = 8;

struct StateDeltaRow {
  std::string org_unit;
  std::string profile;
  MonthIndex month = 0;
  std::array<int64_t, kStateMeasureCount> values{};
  template <class A> void serialize(A& ar) { ar(org_unit, profile, month, values); }
};

struct PeriodRow {
  std::string org_unit;
  std::string profile;
  std::string period;  // "2025-07" | "2025Q3" | "FY2025"
  std::array<int64_t, kPeriodCounterCount> values{};
  std::vector<std::pair<int64_t, int64_t>> lead_minutes;  // (submitted->finalised minutes, count)
  template <class A> void serialize(A& ar) { ar(org_unit, profile, period, values, lead_minutes); }
};

struct Attribution {
  int64_t time_us = 0;
  bool employed = false;
  std::string org_unit;
  std::string profile;
  template <class A> void serialize(A& ar) { ar(time_us, employed, org_unit, profile); }
};

struct FactsActivity {
  int64_t time_us = 0;
  uint8_t kind = 0;  // ActivityKind
  int64_t milli_hours = 0;
  bool passed = false;
  template <class A> void serialize(A& ar) { ar(time_us, kind, milli_hours, passed); }
};

struct FactsInterview {
  int64_t time_us = 0;
  uint8_t kind = 0;  // InterviewKind
  template <class A> void serialize(A& ar) { ar(time_us, kind); }
};

struct EmployeeFacts {
  std::string employee_id;
  uint64_t events_folded = 0;
  uint64_t program_versions = 0;
  std::string views_hash;  // BLAKE2b-256 of the employee's stored private views
  int64_t last_event_time_us = 0;
  std::vector<Attribution> timeline;  // employment, org unit, profile changes
  std::vector<LearningStateDeclared> learning_states;
  std::vector<FactsActivity> recent_activities;  // time >= last event - 365 days
  std::vector<FactsInterview> recent_interviews;  // held, time >= last event - 365 days
  std::optional<int64_t> older_activity_us;   // latest activity before that window
  std::optional<int64_t> older_interview_us;  // latest held interview before that window
  std::vector<int64_t> career_interviews;     // all held career interviews
  std::vector<MonthIndex> active_months;      // months with learning activity, ascending
  std::vector<std::pair<int32_t, uint8_t>> participation;  // fiscal year -> kMeasure* bits
  std::vector<StateDeltaRow> state_deltas;
  std::vector<PeriodRow> period_rows;
  // The employee's last event in fold order (EmployeeState::last_changed_by)
  // when these facts were built. Encoded after the fields below (format 2).
  EventRef last_event;

  template <class A> void serialize(A& ar) {
    ar(employee_id, events_folded, program_versions, views_hash, last_event_time_us, timeline,
       learning_states, recent_activities, recent_interviews, older_activity_us,
       older_interview_us, career_interviews, active_months, participation, state_deltas,
       period_rows);
  }
};

inline constexpr int64_t kFactsRetentionDays = 365;

// Derives the facts from a folded state. `views_hash` is the BLAKE2b of the
// stored private views (the caller encodes them).
EmployeeFacts BuildFacts(const EmployeeState& state, const ReferenceTable& reference,
                         const ProjectorOptions& options, std::string views_hash);

std::string EncodeFacts(const EmployeeFacts& facts);
Result<EmployeeFacts> DecodeFacts(std::string_view bytes);

// True when `candidate` should replace `current` (both encoded facts of one
// employee). A total order, so the kept record is order independent.
bool FactsNewer(const EmployeeFacts& candidate, std::string_view candidate_bytes,
                const EmployeeFacts& current, std::string_view current_bytes);

}  // namespace jiritsu::processors
