// Internal to schemas/ (and its tests): the single description of every
// event type's `data` fields. The JSON decoder, the JSON encoder, the binary
// codec and the JSON Schema generator all walk these descriptions, so the
// rules, the wire order and the published schema cannot drift apart.
//
// A description is a function template VisitFields(visitor, data) that calls
// one visitor method per field, in struct order, unconditionally (the same
// number of calls whatever the values). Visitors duck-type this interface:
//   String(name, std::string*, Str, Presence, doc)
//   OptString(name, std::optional<std::string>*, Str, doc)
//   Int(name, int32_t*, IntRule, Presence, doc)
//   OptInt(name, std::optional<int32_t>*, IntRule, doc)
//   Number(name, double*, NumRule, Presence, doc)
//   OptNumber(name, std::optional<double>*, NumRule, doc)
//   Bool(name, bool*, Presence, doc)
//   Enum(name, E*, std::span<const std::string_view> names, Presence, doc)
//   IdList(name, std::vector<std::string>*, doc)      // unique ids, may be empty
//   Steps(name, std::vector<ProgramStep>*, doc)        // 1..9, numbered 1..n
//   AtLeastOne(names, bool satisfied)  // whole-object rule: one of `names` present
// Presence may depend on fields visited earlier (declaration.submitted
// depends on `kind`): decoders fill fields in visiting order, so `kind` is
// known by the time `program_id` is visited.
//
// Writers receive const data through const_cast: they never modify it.
//
// Thread-safety: stateless templates. Failure: visitors record errors.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "schemas/catalog.h"
#include "schemas/event.h"

namespace jiritsu::fields {

// String field rules.
enum class Str : uint8_t {
  kId,            // kIdPattern
  kText,          // 0..4000 characters (free text; empty = absent)
  kNonEmptyText,  // 1..4000 characters (names, required texts)
  kPeriod,        // FY2025 | 2025Q3 | 2025-07
  kMetric,        // one of kKpiMetricNames
  // Personal data (docs/reliability.md, "Personal data erasure"): the same
  // rules as kText / kNonEmptyText for plaintext, or a sealed value
  // (catalog.h kSealedPrefix) that ingestion wrote in place of the text.
  kPersonalText,
  kPersonalNonEmptyText,
};

// True for the string rules that mark a field as personal data.
inline constexpr bool IsPersonal(Str rule) {
  return rule == Str::kPersonalText || rule == Str::kPersonalNonEmptyText;
}

// Whether a field must, may or must not appear in JSON. Absent optional
// fields decode to the struct's default value.
struct Presence {
  enum Mode : uint8_t { kRequired, kOptional, kForbidden };
  Mode mode = kOptional;
  // For a presence that depends on declaration.submitted's `kind`: the kind
  // that makes the field required or forbidden (used in error messages).
  std::string_view when_kind;
};
inline constexpr Presence kRequired{Presence::kRequired, {}};
inline constexpr Presence kOptional{Presence::kOptional, {}};

struct IntRule {
  int32_t lo = 0;
  int32_t hi = 0;
  // True for a step number, which must equal its 1-based position (lo == hi).
  bool positional = false;
};

struct NumRule {
  double lo = 0;
  double hi = 0;
  bool bounded = true;  // false: any finite number
};
inline constexpr NumRule kPercent{0, 100, true};
inline constexpr NumRule kHours{0, 10000, true};
inline constexpr NumRule kAnyNumber{0, 0, false};

// ---- reference data --------------------------------------------------------

template <class V>
void VisitFields(V& v, OrgUnitDefined& d) {
  v.String("org_unit_id", &d.org_unit_id, Str::kId, kRequired,
           "The org unit's id; equals `subject` when a subject is given.");
  v.String("name", &d.name, Str::kNonEmptyText, kRequired, "Display name, e.g. \"DX推進部\".");
  v.OptString("parent_id", &d.parent_id, Str::kId, "Parent unit; absent for a root.");
}

// One step of a programme; `position` is its 1-based index in `steps`.
template <class V>
void VisitFields(V& v, ProgramStep& s, int32_t position) {
  v.Int("step", &s.step, IntRule{position, position, true}, kRequired,
        "Step number: steps are numbered 1..n in order.");
  v.String("name", &s.name, Str::kNonEmptyText, kRequired, "What the step means.");
  v.IdList("required_courses", &s.required_courses,
           "Course ids whose completion the step requires (unique, at most 100).");
  v.Bool("declaration_required", &s.declaration_required, kOptional,
         "Whether reaching the step needs an approved self-declaration.");
}

template <class V>
void VisitFields(V& v, ProgramDefined& d) {
  v.String("program_id", &d.program_id, Str::kId, kRequired,
           "The programme's id; equals `subject` when a subject is given. Defining it again "
           "revises it.");
  v.String("name", &d.name, Str::kNonEmptyText, kRequired, "Display name.");
  v.String("talent_profile", &d.talent_profile, Str::kId, kRequired,
           "Talent profile (人材像) the programme develops, e.g. \"dx_promoter\".");
  v.Steps("steps", &d.steps, "1..9 steps, numbered 1..n in order.");
}

template <class V>
void VisitFields(V& v, KpiTargetSet& d) {
  v.String("org_unit_id", &d.org_unit_id, Str::kId, kRequired,
           "Org unit the target applies to (rolled up the tree).");
  v.String("period", &d.period, Str::kPeriod, kRequired,
           "Fiscal year FY2025 (April-March), quarter 2025Q3 or month 2025-07.");
  v.String("talent_profile", &d.talent_profile, Str::kId, kOptional,
           "Talent profile; absent: all profiles.");
  v.String("metric", &d.metric, Str::kMetric, kRequired, "KPI metric name.");
  v.Number("target", &d.target, kAnyNumber, kRequired, "Target value of the metric.");
}

// ---- employee lifecycle ----------------------------------------------------

template <class V>
void VisitFields(V& v, EmployeeHired& d) {
  v.String("org_unit_id", &d.org_unit_id, Str::kId, kRequired, "Org unit joined.");
  v.OptString("manager_id", &d.manager_id, Str::kId, "Line manager (上長), if known.");
  v.String("talent_profile", &d.talent_profile, Str::kId, kOptional,
           "Talent profile, if assigned.");
  v.String("display_name", &d.display_name, Str::kPersonalNonEmptyText, kRequired,
           "Name shown in views (personal data).");
}

template <class V>
void VisitFields(V& v, EmployeeTransferred& d) {
  v.String("org_unit_id", &d.org_unit_id, Str::kId, kRequired, "The new org unit.");
  v.OptString("talent_profile", &d.talent_profile, Str::kId,
              "New talent profile; present only when it changes.");
}

template <class V>
void VisitFields(V& v, EmployeeManagerChanged& d) {
  v.String("manager_id", &d.manager_id, Str::kId, kRequired, "The new line manager.");
}

template <class V>
void VisitFields(V& v, EmployeeLeft& d) {
  v.String("reason", &d.reason, Str::kPersonalText, kOptional, "Free text (personal data).");
}

template <class V>
void VisitFields(V& v, EmployeeErasureRequested& d) {
  v.String("requested_by", &d.requested_by, Str::kId, kRequired,
           "The HR member who requested the erasure.");
  v.String("reason", &d.reason, Str::kText, kOptional,
           "Why, e.g. a ticket reference. Kept in clear as the audit record of the erasure: must "
           "not hold personal data.");
}

// ---- interviews ------------------------------------------------------------

template <class V>
void VisitFields(V& v, InterviewHeld& d) {
  v.String("interview_id", &d.interview_id, Str::kId, kRequired, "The session's id.");
  v.String("interviewer_id", &d.interviewer_id, Str::kId, kRequired,
           "Who held it (manager, HR or counsellor).");
  v.Enum("kind", &d.kind, kInterviewKindNames, kRequired,
         "career (キャリア面談, 1-2 per year recommended), one_on_one (1on1, monthly) or "
         "counseling (キャリアカウンセリング).");
  v.Int("duration_minutes", &d.duration_minutes, IntRule{1, 600}, kRequired,
        "Length in minutes.");
  v.Enum("career_intention", &d.career_intention, kCareerIntentionNames, kOptional,
         "Career intention that came out of the session: big_change (大きく変えたい), step_up "
         "(ステップアップ), keep (現状維持), reduce (負担を減らしたい), unknown (not discussed).");
  v.Bool("transfer_wish", &d.transfer_wish, kOptional, "The employee wishes a transfer.");
  v.Bool("side_job_wish", &d.side_job_wish, kOptional, "The employee wishes a side job.");
  v.String("notes", &d.notes, Str::kPersonalText, kOptional, "Free text (personal data).");
}

template <class V>
void VisitFields(V& v, InterviewCancelled& d) {
  v.String("interview_id", &d.interview_id, Str::kId, kRequired, "The session's id.");
  v.Enum("reason", &d.reason, kCancelReasonNames, kRequired,
         "cancelled: called off in advance; no_show: the employee did not attend.");
}

// ---- learning --------------------------------------------------------------

template <class V>
void VisitFields(V& v, LearningEnrolled& d) {
  v.String("course_id", &d.course_id, Str::kId, kRequired, "Course id in the LMS.");
  v.String("course_title", &d.course_title, Str::kText, kOptional, "Course title.");
  v.String("provider", &d.provider, Str::kText, kOptional, "Training provider.");
}

template <class V>
void VisitFields(V& v, LearningProgressed& d) {
  v.String("course_id", &d.course_id, Str::kId, kRequired, "Course id in the LMS.");
  v.Number("progress_percent", &d.progress_percent, kPercent, kRequired,
           "Progress through the course, 0..100.");
  v.Number("hours", &d.hours, kHours, kOptional,
           "Hours spent since the previous report, 0..10000.");
}

template <class V>
void VisitFields(V& v, LearningCompleted& d) {
  v.String("course_id", &d.course_id, Str::kId, kRequired, "Course id in the LMS.");
  v.Number("hours", &d.hours, kHours, kOptional, "Hours spent since the previous report.");
  v.OptNumber("score", &d.score, kPercent, "Final score 0..100, if graded.");
  v.Bool("passed", &d.passed, kOptional, "Whether the completion counts as passed.");
}

template <class V>
void VisitFields(V& v, LearningCertified& d) {
  v.String("certification_id", &d.certification_id, Str::kId, kRequired,
           "e.g. \"it_passport\", \"dx_passport_2\".");
  v.String("name", &d.name, Str::kNonEmptyText, kRequired, "Certification name.");
  v.OptInt("level", &d.level, IntRule{1, 9}, "Level 1..9 for graded certifications.");
}

template <class V>
void VisitFields(V& v, LearningWithdrawn& d) {
  v.String("course_id", &d.course_id, Str::kId, kRequired, "Course id in the LMS.");
  v.String("reason", &d.reason, Str::kPersonalText, kOptional, "Free text (personal data).");
}

template <class V>
void VisitFields(V& v, LearningVoided& d) {
  v.String("voided_source", &d.voided_source, Str::kNonEmptyText, kRequired,
           "CloudEvents source of the learning event this voids (same learner).");
  v.String("voided_id", &d.voided_id, Str::kNonEmptyText, kRequired,
           "CloudEvents id of the learning event this voids.");
  v.String("reason", &d.reason, Str::kPersonalText, kOptional, "Free text (personal data).");
}

// ---- self-declarations -----------------------------------------------------

// Presence of a declaration.submitted field: `required_for` and `allowed_for`
// are the kinds for which the field is required / may appear; for every other
// kind it is forbidden.
inline Presence DeclarationPresence(DeclarationKind kind,
                                    std::initializer_list<DeclarationKind> required_for,
                                    std::initializer_list<DeclarationKind> allowed_for) {
  const std::string_view kind_name = DeclarationKindName(kind);
  for (DeclarationKind k : required_for) {
    if (k == kind) return Presence{Presence::kRequired, kind_name};
  }
  for (DeclarationKind k : allowed_for) {
    if (k == kind) return Presence{Presence::kOptional, kind_name};
  }
  return Presence{Presence::kForbidden, kind_name};
}

template <class V>
void VisitFields(V& v, DeclarationSubmitted& d) {
  using K = DeclarationKind;
  v.String("declaration_id", &d.declaration_id, Str::kId, kRequired, "The declaration's id.");
  v.Enum("kind", &d.kind, kDeclarationKindNames, kRequired,
         "What is declared: a programme step achieved, practice (OJT) experience, a career wish, "
         "or the current learning state.");
  v.String("program_id", &d.program_id, Str::kId,
           DeclarationPresence(d.kind, {K::kStep, K::kPractice}, {}),
           "Programme; required for kind step and practice, absent otherwise.");
  v.Int("step", &d.step, IntRule{1, kMaxProgramSteps},
        DeclarationPresence(d.kind, {K::kStep}, {}),
        "Step achieved, 1..9; required for kind step, absent otherwise.");
  v.String("evidence", &d.evidence, Str::kPersonalText,
           DeclarationPresence(d.kind, {}, {K::kStep, K::kPractice}),
           "Evidence (personal free text); only for kind step and practice.");
  v.Int("learning_state", &d.learning_state, IntRule{1, 6},
        DeclarationPresence(d.kind, {K::kLearningState}, {}),
        "Self-declared learning state (IPA scale): 1 habitual, 2 consciously continuing, 3 knows "
        "what but lacks time/place, 4 wants to start but not what/how, 5 no trigger yet, 6 sees "
        "no need. Required for kind learning_state, absent otherwise.");
  v.Int("practice_months", &d.practice_months, IntRule{0, 600},
        DeclarationPresence(d.kind, {}, {K::kPractice}),
        "Months of OJT practice, 0..600; only for kind practice.");
  v.String("career_wish", &d.career_wish, Str::kPersonalNonEmptyText,
           DeclarationPresence(d.kind, {K::kCareerWish}, {}),
           "Career wish (personal free text); required for kind career_wish, absent "
           "otherwise.");
}

inline constexpr std::array<std::string_view, 3> kAmendableFields = {
    "evidence", "practice_months", "career_wish"};

template <class V>
void VisitFields(V& v, DeclarationAmended& d) {
  v.String("declaration_id", &d.declaration_id, Str::kId, kRequired,
           "The declaration being amended (after it was returned).");
  v.OptString("evidence", &d.evidence, Str::kPersonalNonEmptyText,
              "Replacement evidence (personal free text).");
  v.OptInt("practice_months", &d.practice_months, IntRule{0, 600},
           "Replacement months of practice.");
  v.OptString("career_wish", &d.career_wish, Str::kPersonalNonEmptyText,
              "Replacement career wish (personal free text).");
  v.AtLeastOne(kAmendableFields, d.evidence.has_value() || d.practice_months.has_value() ||
                                     d.career_wish.has_value());
}

template <class V>
void VisitFields(V& v, DeclarationWithdrawn& d) {
  v.String("declaration_id", &d.declaration_id, Str::kId, kRequired,
           "The declaration being withdrawn.");
  v.String("reason", &d.reason, Str::kPersonalText, kOptional, "Free text (personal data).");
}

// ---- approvals -------------------------------------------------------------

template <class V>
void VisitFields(V& v, ApprovalDecision& d) {
  v.String("declaration_id", &d.declaration_id, Str::kId, kRequired,
           "The declaration decided on.");
  v.String("approver_id", &d.approver_id, Str::kId, kRequired,
           "Manager (confirmed/returned/rejected) or HR member (finalized).");
  v.String("comment", &d.comment, Str::kPersonalText, kOptional, "Free text (personal data).");
}

// ---- type dispatch ---------------------------------------------------------

// Calls f(std::type_identity<T>{}) with the data struct of `type`.
template <class F>
decltype(auto) WithDataType(EventType type, F&& f) {
  switch (type) {
    case EventType::kOrgUnitDefined: return f(std::type_identity<OrgUnitDefined>{});
    case EventType::kProgramDefined: return f(std::type_identity<ProgramDefined>{});
    case EventType::kKpiTargetSet: return f(std::type_identity<KpiTargetSet>{});
    case EventType::kEmployeeHired: return f(std::type_identity<EmployeeHired>{});
    case EventType::kEmployeeTransferred: return f(std::type_identity<EmployeeTransferred>{});
    case EventType::kEmployeeManagerChanged:
      return f(std::type_identity<EmployeeManagerChanged>{});
    case EventType::kEmployeeLeft: return f(std::type_identity<EmployeeLeft>{});
    case EventType::kInterviewHeld: return f(std::type_identity<InterviewHeld>{});
    case EventType::kInterviewCancelled: return f(std::type_identity<InterviewCancelled>{});
    case EventType::kLearningEnrolled: return f(std::type_identity<LearningEnrolled>{});
    case EventType::kLearningProgressed: return f(std::type_identity<LearningProgressed>{});
    case EventType::kLearningCompleted: return f(std::type_identity<LearningCompleted>{});
    case EventType::kLearningCertified: return f(std::type_identity<LearningCertified>{});
    case EventType::kLearningWithdrawn: return f(std::type_identity<LearningWithdrawn>{});
    case EventType::kDeclarationSubmitted: return f(std::type_identity<DeclarationSubmitted>{});
    case EventType::kDeclarationAmended: return f(std::type_identity<DeclarationAmended>{});
    case EventType::kDeclarationWithdrawn: return f(std::type_identity<DeclarationWithdrawn>{});
    case EventType::kApprovalConfirmed:
    case EventType::kApprovalReturned:
    case EventType::kApprovalRejected:
    case EventType::kApprovalFinalized:
      return f(std::type_identity<ApprovalDecision>{});
    case EventType::kLearningVoided: return f(std::type_identity<LearningVoided>{});
    case EventType::kEmployeeErasureRequested:
      return f(std::type_identity<EmployeeErasureRequested>{});
  }
  // Unreachable for valid enum values; callers validate raw type bytes first.
  return f(std::type_identity<ApprovalDecision>{});
}

// The entity id a reference event's `subject` must equal, or nullptr when
// the type has none (kpi.target.set and every employee-scoped type).
inline const std::string* EntityIdOf(const EventData& data) {
  if (const auto* d = std::get_if<OrgUnitDefined>(&data)) return &d->org_unit_id;
  if (const auto* d = std::get_if<ProgramDefined>(&data)) return &d->program_id;
  return nullptr;
}

// Field names of T in visiting order (for the unknown-field check and the
// schema generator). Computed once per type.
class NameCollector {
 public:
  std::vector<std::string_view> names;
  template <class... A> void String(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void OptString(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void Int(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void OptInt(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void Number(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void OptNumber(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void Bool(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void Enum(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void IdList(std::string_view n, A&&...) { names.push_back(n); }
  template <class... A> void Steps(std::string_view n, A&&...) { names.push_back(n); }
  void AtLeastOne(std::span<const std::string_view>, bool) {}
};

template <class T>
std::span<const std::string_view> FieldNames() {
  static const std::vector<std::string_view> names = [] {
    NameCollector c;
    T value{};
    if constexpr (std::is_same_v<T, ProgramStep>) {
      VisitFields(c, value, 1);
    } else {
      VisitFields(c, value);
    }
    return c.names;
  }();
  return names;
}

// Calls f(field_name, std::string* value) for every personal-data string
// field of `data` (IsPersonal rules) that is present and non-empty, in
// visiting order. Ingestion seals exactly these (core/personal_data.h).
template <class F>
class PersonalFieldWalker {
 public:
  explicit PersonalFieldWalker(F& f) : f_(f) {}
  void String(std::string_view name, std::string* v, Str rule, Presence, std::string_view) {
    if (IsPersonal(rule) && !v->empty()) f_(name, v);
  }
  void OptString(std::string_view name, std::optional<std::string>* v, Str rule,
                 std::string_view) {
    if (IsPersonal(rule) && v->has_value() && !(*v)->empty()) f_(name, &**v);
  }
  template <class... A> void Int(A&&...) {}
  template <class... A> void OptInt(A&&...) {}
  template <class... A> void Number(A&&...) {}
  template <class... A> void OptNumber(A&&...) {}
  template <class... A> void Bool(A&&...) {}
  template <class... A> void Enum(A&&...) {}
  template <class... A> void IdList(A&&...) {}
  template <class... A> void Steps(A&&...) {}  // programme steps hold no personal data
  void AtLeastOne(std::span<const std::string_view>, bool) {}

 private:
  F& f_;
};

template <class F>
void ForEachPersonalField(EventData* data, F&& f) {
  std::visit(
      [&](auto& value) {
        PersonalFieldWalker<std::remove_reference_t<F>> walker(f);
        VisitFields(walker, value);
      },
      *data);
}

// Largest number of fields of any data struct (decoders size slot arrays).
inline constexpr size_t kMaxFieldsPerStruct = 8;

}  // namespace jiritsu::fields
