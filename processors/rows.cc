#include "processors/cereal_io.h"
#include "processors/rows.h"

#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>

#include "processors/reference_table.h"

namespace jiritsu::processors {
namespace {

void AppendBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t ReadBigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return v;
}

}  // namespace

std::string EmployeeHeaderKey(std::string_view employee) {
  return std::string("h\0", 2) + std::string(employee);
}

std::string EmployeeStateKey(std::string_view employee) {
  return std::string("s\0", 2) + std::string(employee);
}

std::string FactsWaitingKey(std::string_view employee) {
  return std::string("f\0", 2) + std::string(employee);
}

std::string EncodeEmployeeHeader(int64_t last_time_us, int32_t partition) {
  std::string out(1, static_cast<char>(kEmployeeHeaderFormat));
  AppendBigEndian(&out, static_cast<uint64_t>(last_time_us), 8);
  AppendBigEndian(&out, static_cast<uint32_t>(partition), 4);
  return out;
}

std::optional<std::pair<int64_t, int32_t>> DecodeEmployeeHeader(std::string_view bytes) {
  if (bytes.size() != 13 || static_cast<uint8_t>(bytes[0]) != kEmployeeHeaderFormat) {
    return std::nullopt;
  }
  return std::make_pair(static_cast<int64_t>(ReadBigEndian(bytes.substr(1, 8))),
                        static_cast<int32_t>(static_cast<uint32_t>(ReadBigEndian(bytes.substr(9, 4)))));
}

std::string SortKeyOf(const EventRef& ref) {
  Event event;
  event.type = static_cast<EventType>(ref.type);
  event.time_us = ref.time_us;
  event.source = ref.source;
  event.id = ref.id;
  return EventSortKey(event);
}

std::string RejectionKey(std::string_view employee, const EventRef& ref) {
  std::string key(employee);
  key.push_back('\0');
  key.append(SortKeyOf(ref));
  return key;
}

std::string EncodeRejection(const Rejection& rejection) {
  return EncodeCereal(kRejectionFormat, rejection);
}

Result<Rejection> DecodeRejection(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kRejectionFormat) {
    return Corruption("rejection: unknown format version");
  }
  Rejection rejection;
  if (auto error = DecodeCereal(bytes.substr(1), rejection)) {
    return Corruption("rejection: " + *error);
  }
  return rejection;
}

}  // namespace jiritsu::processors
