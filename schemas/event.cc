#include "schemas/event.h"

#include <array>
#include <tuple>

namespace jiritsu {
namespace {

struct TypeInfo {
  EventType type;
  std::string_view name;
  Family family;
};

constexpr std::array<TypeInfo, kEventTypeCount> kTypes = {{
    {EventType::kOrgUnitDefined, "org.unit.defined", Family::kReference},
    {EventType::kProgramDefined, "program.defined", Family::kReference},
    {EventType::kKpiTargetSet, "kpi.target.set", Family::kReference},
    {EventType::kEmployeeHired, "employee.hired", Family::kEmployee},
    {EventType::kEmployeeTransferred, "employee.transferred", Family::kEmployee},
    {EventType::kEmployeeManagerChanged, "employee.manager.changed", Family::kEmployee},
    {EventType::kEmployeeLeft, "employee.left", Family::kEmployee},
    {EventType::kInterviewHeld, "interview.held", Family::kInterview},
    {EventType::kInterviewCancelled, "interview.cancelled", Family::kInterview},
    {EventType::kLearningEnrolled, "learning.enrolled", Family::kLearning},
    {EventType::kLearningProgressed, "learning.progressed", Family::kLearning},
    {EventType::kLearningCompleted, "learning.completed", Family::kLearning},
    {EventType::kLearningCertified, "learning.certified", Family::kLearning},
    {EventType::kLearningWithdrawn, "learning.withdrawn", Family::kLearning},
    {EventType::kDeclarationSubmitted, "declaration.submitted", Family::kDeclaration},
    {EventType::kDeclarationAmended, "declaration.amended", Family::kDeclaration},
    {EventType::kDeclarationWithdrawn, "declaration.withdrawn", Family::kDeclaration},
    {EventType::kApprovalConfirmed, "approval.confirmed", Family::kApproval},
    {EventType::kApprovalReturned, "approval.returned", Family::kApproval},
    {EventType::kApprovalRejected, "approval.rejected", Family::kApproval},
    {EventType::kApprovalFinalized, "approval.finalized", Family::kApproval},
    {EventType::kLearningVoided, "learning.voided", Family::kLearning},
    {EventType::kEmployeeErasureRequested, "employee.erasure.requested", Family::kEmployee},
}};

// Same-instant events apply causally: lifecycle, then activity, then
// declarations, then approvals (an approval stamped with the same second as
// its declaration must not be judged before it).
int FamilyRank(Family family) {
  switch (family) {
    case Family::kReference: return 0;
    case Family::kEmployee: return 1;
    case Family::kInterview: return 2;
    case Family::kLearning: return 2;
    case Family::kDeclaration: return 3;
    case Family::kApproval: return 4;
  }
  return 5;
}

}  // namespace

std::string_view EventTypeName(EventType type) {
  return kTypes[static_cast<size_t>(type)].name;
}

std::optional<EventType> ParseEventType(std::string_view name) {
  for (const auto& info : kTypes) {
    if (info.name == name) return info.type;
  }
  return std::nullopt;
}

Family FamilyOf(EventType type) { return kTypes[static_cast<size_t>(type)].family; }

std::string_view FamilyName(Family family) {
  switch (family) {
    case Family::kReference: return "reference";
    case Family::kEmployee: return "employee";
    case Family::kInterview: return "interview";
    case Family::kLearning: return "learning";
    case Family::kDeclaration: return "declaration";
    case Family::kApproval: return "approval";
  }
  return "unknown";
}

int EventFamilyRank(EventType type) { return FamilyRank(FamilyOf(type)); }

bool IsEmployeeScoped(EventType type) { return FamilyOf(type) != Family::kReference; }

bool EventOrderLess(const Event& a, const Event& b) {
  const int ra = FamilyRank(FamilyOf(a.type));
  const int rb = FamilyRank(FamilyOf(b.type));
  return std::tie(a.time_us, ra, a.source, a.id) < std::tie(b.time_us, rb, b.source, b.id);
}

}  // namespace jiritsu
