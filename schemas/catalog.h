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

// ---- sealed personal data (docs/reliability.md, "Personal data erasure") ---
// Ingestion replaces every personal field's text by
//   kSealedPrefix + base64(nonce[24] || XChaCha20-Poly1305 ciphertext || tag[16])
// (standard alphabet, '=' padding) under the employee's key
// (core/personal_data.h). The decoder accepts such a value in a personal
// field when it is well formed; whether it decrypts is checked on read.
inline constexpr std::string_view kSealedPrefix = "jiritsu-enc:v1:";
inline constexpr size_t kSealedNonceBytes = 24;
inline constexpr size_t kSealedTagBytes = 16;
// Longest plaintext: kMaxTextChars code points of up to 4 UTF-8 bytes.
inline constexpr size_t kMaxSealedPlainBytes = kMaxTextChars * 4;
inline constexpr size_t kMaxSealedChars =
    kSealedPrefix.size() +
    4 * ((kSealedNonceBytes + kMaxSealedPlainBytes + kSealedTagBytes + 2) / 3);
inline constexpr std::string_view kSealedPattern =
    "^jiritsu-enc:v1:(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

inline bool HasSealedPrefix(std::string_view text) { return text.starts_with(kSealedPrefix); }

// A sealed value as ingestion writes it: the prefix, canonical padded
// base64, and room for a nonce, a tag and a non-empty plaintext.
inline bool IsWellFormedSealed(std::string_view text) {
  if (!HasSealedPrefix(text) || text.size() > kMaxSealedChars) return false;
  const std::string_view b64 = text.substr(kSealedPrefix.size());
  if (b64.empty() || b64.size() % 4 != 0) return false;
  size_t padding = 0;
  for (size_t i = 0; i < b64.size(); ++i) {
    const char c = b64[i];
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '=') {
      if (i + 2 < b64.size()) return false;  // '=' only in the last two places
      ++padding;
    } else if (padding > 0 || !(alnum || c == '+' || c == '/')) {
      return false;
    }
  }
  const size_t bytes = b64.size() / 4 * 3 - padding;
  return bytes > kSealedNonceBytes + kSealedTagBytes;
}

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
// Exactly the metrics the KPI view computes (docs/views.md, "Targets"), so a
// target can always be compared with a value. docs/events.md explains each
// one for integrators. Append new names at the end, together with the view.
inline constexpr std::array<std::string_view, 24> kKpiMetricNames = {
    "population",                     // employees at period end
    "required_training_completed",    // people who passed every step-1 required course
    "required_training_rate",         //   ... / population
    "aware",                          // people whose learning state is 1 or 2
    "awareness_rate",                 //   ... / population
    "maturity_count",                 // people at step 2 or higher
    "maturity_rate",                  //   ... / population
    "interviews_career",              // interview.held, kind career
    "interviews_one_on_one",          // interview.held, kind one_on_one
    "interviews_counseling",          // interview.held, kind counseling
    "interviews_total",               // interview.held, all kinds
    "trainings_enrolled",             // learning.enrolled
    "trainings_completed",            // learning.completed with passed = true
    "certifications",                 // learning.certified
    "learning_hours",                 // hours of learning.progressed + completed
    "declarations_submitted",         // accepted declaration.submitted
    "declarations_finalized",         // accepted approval.finalized
    "line_interviewed",               // people with a career interview in the period
    "line_started_learning_rate",     //   ... who started learning within 90 days
    "line_completed_learning_rate",   //   ... who passed a training within 180 days
    "line_declared_rate",             //   ... who declared within 365 days
    "line_finalized_rate",            //   ... whose declaration was finalised within 365 days
    "approval_lead_time_p50_days",    // submission -> finalisation, median, days
    "approval_lead_time_p90_days",    //   ... 90th percentile
};

inline bool IsKpiMetricName(std::string_view name) {
  for (std::string_view m : kKpiMetricNames) {
    if (m == name) return true;
  }
  return false;
}

}  // namespace jiritsu
