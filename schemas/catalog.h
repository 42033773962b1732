// Names that are part of the event contract besides the event types
// themselves: the JSON spelling of every enum, the KPI metric names accepted
// by `kpi.target.set`, and the shared validation limits. docs/events.md lists
// the same values for integrators; the JSON Schema files are generated from
// these tables (schemas/json_schema.h).
//
// Lifecycle: compile-time constants and pure functions.
// Thread-safety: everything here is immutable and safe from any thread.
// Failure behaviour: the Parse* functions return std::nullopt for a name
// that is not in the table; nothing throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "schemas/event.h"

namespace jiritsu {

// ---- limits shared by the decoder, the JSON Schema files and the docs ------
inline constexpr size_t kMaxEventIdChars = 256;   // CloudEvents `id`
inline constexpr size_t kMaxSourceChars = 1024;   // CloudEvents `source`
inline constexpr size_t kMaxIdChars = 128;        // subject and every *_id
inline constexpr size_t kMaxTextChars = 4000;     // free texts and names
inline constexpr size_t kMaxRequiredCourses = 100;  // per programme step
inline constexpr int32_t kMaxProgramSteps = 9;
// Ids (subject, org_unit_id, course_id, ...): ASCII, 1..128 characters.
inline constexpr std::string_view kIdPattern = "[A-Za-z0-9._:@-]{1,128}";

// ---- enum spellings (index = enum value) ----------------------------------
inline constexpr std::array<std::string_view, 3> kInterviewKindNames = {
    "career", "one_on_one", "counseling"};
inline constexpr std::array<std::string_view, 5> kCareerIntentionNames = {
    "unknown", "big_change", "step_up", "keep", "reduce"};
inline constexpr std::array<std::string_view, 2> kCancelReasonNames = {
    "cancelled", "no_show"};
inline constexpr std::array<std::string_view, 4> kDeclarationKindNames = {
    "step", "practice", "career_wish", "learning_state"};

inline std::string_view InterviewKindName(InterviewKind v) {
  return kInterviewKindNames[static_cast<size_t>(v)];
}
inline std::string_view CareerIntentionName(CareerIntention v) {
  return kCareerIntentionNames[static_cast<size_t>(v)];
}
inline std::string_view CancelReasonName(CancelReason v) {
  return kCancelReasonNames[static_cast<size_t>(v)];
}
inline std::string_view DeclarationKindName(DeclarationKind v) {
  return kDeclarationKindNames[static_cast<size_t>(v)];
}

// ---- KPI metrics accepted by kpi.target.set --------------------------------
// The meaning of each metric is documented in docs/events.md ("KPI metric
// names"); processors compute them. Append new names at the end.
inline constexpr std::array<std::string_view, 18> kKpiMetricNames = {
    "interviews_held",               // process count: interviews of any kind
    "career_interviews_held",        // process count: kind = career
    "one_on_ones_held",              // process count: kind = one_on_one
    "trainings_completed",           // process count: learning.completed
    "learning_hours",                // sum of reported learning hours
    "certifications_earned",         // learning.certified count
    "participation_rate",            // share of people with any learning activity
    "training_completion_rate",      // completed / enrolled
    "awareness_rate",                // share declaring learning state 1-2
    "declarations_submitted",        // declaration.submitted count
    "declarations_finalized",        // approval.finalized count
    "maturity_count",                // people at step 2 or higher
    "line_learning_started_rate",    // interviewed -> started learning within N days
    "line_completed_rate",           // interviewed -> completed a training
    "line_declared_rate",            // interviewed -> submitted a declaration
    "line_finalized_rate",           // interviewed -> declaration finalised
    "approval_lead_time_p50_days",   // median submitted -> finalized, days
    "at_risk_count",                 // people with no learning and no interview
};

inline bool IsKpiMetricName(std::string_view name) {
  for (std::string_view m : kKpiMetricNames) {
    if (m == name) return true;
  }
  return false;
}

}  // namespace jiritsu
