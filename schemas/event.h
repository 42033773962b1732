// Typed Jiritsu events: the in-memory form of the CloudEvents described in
// docs/events.md and schemas/*.schema.json.
//
// Why typed structs: validation happens once at the boundary (codec.h);
// everything downstream (processors, views) works on checked values and never
// re-parses JSON.
//
// Times are UTC microseconds since the Unix epoch (event time, from the
// CloudEvents `time` attribute). The original UTC offset is kept so that an
// event re-encodes to the same `time` string.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jiritsu {

// Current schema version of every event type. Bump per type when its data
// shape changes; the codec upcasts older versions on read.
inline constexpr uint32_t kCurrentSchemaVersion = 1;

// Largest accepted encoded event (JSON line or HTTP body element).
inline constexpr size_t kMaxEventBytes = 64 * 1024;

enum class EventType : uint8_t {
  kOrgUnitDefined = 0,
  kProgramDefined,
  kKpiTargetSet,
  kEmployeeHired,
  kEmployeeTransferred,
  kEmployeeManagerChanged,
  kEmployeeLeft,
  kInterviewHeld,
  kInterviewCancelled,
  kLearningEnrolled,
  kLearningProgressed,
  kLearningCompleted,
  kLearningCertified,
  kLearningWithdrawn,
  kDeclarationSubmitted,
  kDeclarationAmended,
  kDeclarationWithdrawn,
  kApprovalConfirmed,
  kApprovalReturned,
  kApprovalRejected,
  kApprovalFinalized,
  // Appended (type bytes of stored events never change).
  kLearningVoided,
  kEmployeeErasureRequested,
};
inline constexpr int kEventTypeCount = 23;

// The topic family an event type belongs to (one Kafka topic per family).
enum class Family : uint8_t {
  kReference = 0,
  kEmployee,
  kInterview,
  kLearning,
  kDeclaration,
  kApproval,
};
inline constexpr int kFamilyCount = 6;

// "employee.hired" etc. (the CloudEvents `type` attribute).
std::string_view EventTypeName(EventType type);
std::optional<EventType> ParseEventType(std::string_view name);
Family FamilyOf(EventType type);
std::string_view FamilyName(Family family);  // "reference", "employee", ...
// True for types whose `subject` is an employee id (everything but reference).
bool IsEmployeeScoped(EventType type);

// ---- reference data -------------------------------------------------------

struct OrgUnitDefined {
  std::string org_unit_id;
  std::string name;
  std::optional<std::string> parent_id;  // absent for a root
  bool operator==(const OrgUnitDefined&) const = default;
};

struct ProgramStep {
  int32_t step = 0;  // 1..9, contiguous from 1
  std::string name;
  std::vector<std::string> required_courses;  // course ids, may be empty
  bool declaration_required = false;
  bool operator==(const ProgramStep&) const = default;
};

// Defining an existing program_id again revises it.
struct ProgramDefined {
  std::string program_id;
  std::string name;
  std::string talent_profile;  // e.g. "dx_literacy", "dx_promoter"
  std::vector<ProgramStep> steps;
  bool operator==(const ProgramDefined&) const = default;
};

struct KpiTargetSet {
  std::string org_unit_id;
  std::string period;          // "FY2025" | "2025Q3" | "2025-07"
  std::string talent_profile;  // empty: all profiles
  std::string metric;          // a KPI name from docs/views.md
  double target = 0;
  bool operator==(const KpiTargetSet&) const = default;
};

// ---- employee lifecycle (subject = employee id) ---------------------------

struct EmployeeHired {
  std::string org_unit_id;
  std::optional<std::string> manager_id;
  std::string talent_profile;  // may be empty
  std::string display_name;    // personal data
  bool operator==(const EmployeeHired&) const = default;
};

struct EmployeeTransferred {
  std::string org_unit_id;  // the new unit
  std::optional<std::string> talent_profile;  // present when it changes
  bool operator==(const EmployeeTransferred&) const = default;
};

struct EmployeeManagerChanged {
  std::string manager_id;
  bool operator==(const EmployeeManagerChanged&) const = default;
};

struct EmployeeLeft {
  std::string reason;  // may be empty
  bool operator==(const EmployeeLeft&) const = default;
};

// HR asks to erase the employee's personal data (crypto-shredding,
// docs/reliability.md "Personal data erasure"): the employee's key is
// deleted, every personal field of the employee reads as erased from then on.
struct EmployeeErasureRequested {
  std::string requested_by;  // the HR member (an id)
  std::string reason;        // e.g. a ticket reference; must not hold personal data
  bool operator==(const EmployeeErasureRequested&) const = default;
};

// ---- interviews (subject = interviewee) -----------------------------------

enum class InterviewKind : uint8_t { kCareer = 0, kOneOnOne, kCounseling };
enum class CareerIntention : uint8_t { kUnknown = 0, kBigChange, kStepUp, kKeep, kReduce };
enum class CancelReason : uint8_t { kCancelled = 0, kNoShow };

struct InterviewHeld {
  std::string interview_id;
  std::string interviewer_id;
  InterviewKind kind = InterviewKind::kCareer;
  int32_t duration_minutes = 0;  // 1..600
  CareerIntention career_intention = CareerIntention::kUnknown;
  bool transfer_wish = false;
  bool side_job_wish = false;
  std::string notes;  // personal free text, may be empty
  bool operator==(const InterviewHeld&) const = default;
};

struct InterviewCancelled {
  std::string interview_id;
  CancelReason reason = CancelReason::kCancelled;
  bool operator==(const InterviewCancelled&) const = default;
};

// ---- learning (subject = learner) -----------------------------------------

struct LearningEnrolled {
  std::string course_id;
  std::string course_title;  // may be empty
  std::string provider;      // may be empty
  bool operator==(const LearningEnrolled&) const = default;
};

struct LearningProgressed {
  std::string course_id;
  double progress_percent = 0;  // 0..100
  double hours = 0;             // hours spent since the previous report, >= 0
  bool operator==(const LearningProgressed&) const = default;
};

struct LearningCompleted {
  std::string course_id;
  double hours = 0;  // >= 0
  std::optional<double> score;  // 0..100
  bool passed = true;
  bool operator==(const LearningCompleted&) const = default;
};

struct LearningCertified {
  std::string certification_id;  // e.g. "it_passport", "dx_passport_2"
  std::string name;
  std::optional<int32_t> level;  // 1..9
  bool operator==(const LearningCertified&) const = default;
};

struct LearningWithdrawn {
  std::string course_id;
  std::string reason;
  bool operator==(const LearningWithdrawn&) const = default;
};

// Compensates an earlier learning event of the same learner (an xAPI
// voiding statement, docs/xapi.md): the event (voided_source, voided_id) no
// longer counts, in live views and in replays, whatever the arrival order.
struct LearningVoided {
  std::string voided_source;
  std::string voided_id;
  std::string reason;  // may be empty
  bool operator==(const LearningVoided&) const = default;
};

// ---- self-declarations (subject = declarant) -------------------------------

enum class DeclarationKind : uint8_t { kStep = 0, kPractice, kCareerWish, kLearningState };

struct DeclarationSubmitted {
  std::string declaration_id;
  DeclarationKind kind = DeclarationKind::kStep;
  std::string program_id;  // required for step and practice
  int32_t step = 0;        // required for step (1..9)
  std::string evidence;    // personal free text
  int32_t learning_state = 0;  // required for learning_state (1..6)
  int32_t practice_months = 0; // practice: months of OJT experience (0..600)
  std::string career_wish;     // personal free text, for career_wish
  bool operator==(const DeclarationSubmitted&) const = default;
};

struct DeclarationAmended {
  std::string declaration_id;
  std::optional<std::string> evidence;
  std::optional<int32_t> practice_months;
  std::optional<std::string> career_wish;
  bool operator==(const DeclarationAmended&) const = default;
};

struct DeclarationWithdrawn {
  std::string declaration_id;
  std::string reason;
  bool operator==(const DeclarationWithdrawn&) const = default;
};

// ---- approvals (subject = declaring employee) ------------------------------

// Shared by approval.confirmed / returned / rejected (manager) and
// approval.finalized (HR).
struct ApprovalDecision {
  std::string declaration_id;
  std::string approver_id;
  std::string comment;  // personal free text, may be empty
  bool operator==(const ApprovalDecision&) const = default;
};

using EventData =
    std::variant<OrgUnitDefined, ProgramDefined, KpiTargetSet, EmployeeHired,
                 EmployeeTransferred, EmployeeManagerChanged, EmployeeLeft,
                 InterviewHeld, InterviewCancelled, LearningEnrolled,
                 LearningProgressed, LearningCompleted, LearningCertified,
                 LearningWithdrawn, DeclarationSubmitted, DeclarationAmended,
                 DeclarationWithdrawn, ApprovalDecision, LearningVoided,
                 EmployeeErasureRequested>;

struct Event {
  EventType type = EventType::kOrgUnitDefined;
  std::string id;       // CloudEvents id; (source, id) is the identity
  std::string source;   // CloudEvents source, a URI-reference
  std::string subject;  // employee id for employee-scoped types, else entity id
  int64_t time_us = 0;  // event time, UTC microseconds
  int32_t utc_offset_minutes = 0;  // offset written in `time`
  uint32_t schema_version = kCurrentSchemaVersion;
  EventData data;

  // Typed access; precondition: the alternative matches `type`.
  template <typename T> const T& As() const { return std::get<T>(data); }
  bool operator==(const Event&) const = default;
};

// Deterministic total order used wherever events of one employee are folded:
// event time, then a family rank (lifecycle before learning/interview before
// declaration before approval, so same-instant events apply causally), then
// (source, id). Independent of arrival order.
bool EventOrderLess(const Event& a, const Event& b);
// The family rank EventOrderLess uses (0 reference .. 4 approval): byte-order
// sort keys of stored events must use exactly this.
int EventFamilyRank(EventType type);

// Fiscal periods (Japan: April-March), computed in a fixed reporting offset
// (docs/views.md; default +09:00).
inline constexpr int32_t kDefaultReportingOffsetMinutes = 9 * 60;

}  // namespace jiritsu
