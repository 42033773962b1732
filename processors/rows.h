// Keys and values of the per-employee column families (employee, rejections),
// shared by the projector (writer) and QueryService (reader).
//
// Thread-safety: pure functions. Failure: Decode* return kCorruption (or
// nullopt) for unreadable bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"
#include "processors/employee_state.h"

namespace jiritsu::processors {

inline constexpr uint8_t kEmployeeHeaderFormat = 1;
inline constexpr uint8_t kRejectionFormat = 1;

// employee family: "h\0<employee>" (header), "s\0<employee>" (state) and,
// while the employee's facts wait for a later checkpoint
// (ProjectorOptions::facts_interval_ms), "f\0<employee>" (empty value), so a
// restart still publishes them.
std::string EmployeeHeaderKey(std::string_view employee);
std::string EmployeeStateKey(std::string_view employee);
std::string FactsWaitingKey(std::string_view employee);
std::string EncodeEmployeeHeader(int64_t last_time_us, int32_t partition);
std::optional<std::pair<int64_t, int32_t>> DecodeEmployeeHeader(std::string_view bytes);

// rejections family: "<employee>\0<sort key of the rejected event>".
std::string SortKeyOf(const EventRef& ref);
std::string RejectionKey(std::string_view employee, const EventRef& ref);
std::string EncodeRejection(const Rejection& rejection);
Result<Rejection> DecodeRejection(std::string_view bytes);

}  // namespace jiritsu::processors
