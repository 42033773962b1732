#include "processors/employee_state.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>

namespace jiritsu::processors {

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
  std::ostringstream out;
  out.put(static_cast<char>(kEmployeeStateFormat));
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(state);
  }
  return std::move(out).str();
}

Result<EmployeeState> DecodeEmployeeState(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kEmployeeStateFormat) {
    return Corruption("employee state: unknown format version");
  }
  EmployeeState state;
  try {
    std::istringstream in(std::string(bytes.substr(1)));
    cereal::PortableBinaryInputArchive archive(in);
    archive(state);
  } catch (const std::exception& e) {
    return Corruption(std::string("employee state: ") + e.what());
  }
  return state;
}

}  // namespace jiritsu::processors
