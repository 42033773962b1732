#include "processors/cereal_io.h"
#include "processors/employee_state.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <string_view>
#include <tuple>

namespace jiritsu::processors {

bool EventRefLess(const EventRef& a, const EventRef& b) {
  const auto key = [](const EventRef& r) {
    const bool empty = r.source.empty() && r.id.empty();
    return std::make_tuple(!empty, r.time_us,
                           empty ? -1 : EventFamilyRank(static_cast<EventType>(r.type)),
                           std::string_view(r.source), std::string_view(r.id),
                           std::string_view(r.topic), r.partition, r.offset);
  };
  return key(a) < key(b);
}

std::string_view DeclarationStateName(DeclarationState state) {
  switch (state) {
    case DeclarationState::kSubmitted: return "submitted";
    case DeclarationState::kConfirmed: return "confirmed";
    case DeclarationState::kReturned: return "returned";
    case DeclarationState::kAmended: return "amended";
    case DeclarationState::kRejected: return "rejected";
    case DeclarationState::kWithdrawn: return "withdrawn";
    case DeclarationState::kFinalized: return "finalized";
  }
  return "unknown";
}

std::string_view DeclarationKindName(DeclarationKind kind) {
  switch (kind) {
    case DeclarationKind::kStep: return "step";
    case DeclarationKind::kPractice: return "practice";
    case DeclarationKind::kCareerWish: return "career_wish";
    case DeclarationKind::kLearningState: return "learning_state";
  }
  return "unknown";
}

std::string EncodeEmployeeState(const EmployeeState& state) {
  return EncodeCompact(1024, kEmployeeStateFormat, state);
}

Result<EmployeeState> DecodeEmployeeState(std::string_view bytes) {
  const uint8_t format = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
  if (format != 2 && format != kEmployeeStateFormat) {
    return Corruption("employee state: unknown format version " + std::to_string(format));
  }
  EmployeeState state;
  const auto error = format == 2 ? DecodeCereal(bytes.substr(1), state)
                                 : DecodeCompact(bytes.substr(1), state);
  if (error) return Corruption("employee state: " + *error);
  return state;
}

}  // namespace jiritsu::processors
