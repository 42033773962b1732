// processors/cereal_io.h: EncodeCereal writes exactly the bytes
// std::ostringstream + cereal wrote before it (the values still stored that
// way, journal rows included, and their digests must not change), reads them
// back, and reports damaged bytes as errors.
#include "processors/cereal_io.h"

#include <gtest/gtest.h>

#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <sstream>

#include "processors/employee_state.h"
#include "processors/stored_event.h"
#include "schemas/codec.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

template <class... T>
std::string ReferenceEncoding(uint8_t format, const T&... values) {
  std::ostringstream out;
  out.put(static_cast<char>(format));
  {
    cereal::PortableBinaryOutputArchive archive(out);
    archive(values...);
  }
  return std::move(out).str();
}

EmployeeState SampleState() {
  EmployeeState state;
  state.employee_id = "e-42";
  state.events_folded = 3;
  state.last_time_us = 1'700'000'000'000'000;
  state.last_sort_key = std::string("\x01\x02\0key", 6);
  state.identity_hashes = {1, 99, 12345678901234ULL};
  state.employed = true;
  state.hired_at = 1'600'000'000'000'000;
  state.org_unit = "sales";
  state.snapshots.push_back({1, true, "sales", "dx", 3});
  state.courses_passed["c1"] = 7;
  state.finalized_steps.insert({"p1", 2});
  Rejection rejection;
  rejection.code = "SELF_APPROVAL";
  rejection.reason = "an approver may not approve their own declaration";
  state.rejections.push_back(rejection);
  return state;
}

TEST(CerealIoTest, EncodingIsByteIdenticalToStringStreamCereal) {
  const EmployeeState state = SampleState();
  // Employee states are stored in the compact archive since format 3
  // (compact_archive_test.cc); the portable encoding must stay identical for
  // the values still stored with it and for reading older states.
  EXPECT_EQ(EncodeCereal(2, state), ReferenceEncoding(2, state));

  // Journal rows are written by hand (no cereal archive) with these bytes.
  EventFactory factory;
  std::vector<Fed> events = {
      factory.Hire("2025-04-01T09:00:00+09:00", "e-42", "sales", "m1"),
      factory.Interview("2025-05-01T09:00:00+09:00", "e-42", InterviewKind::kCareer, "m1"),
      factory.Complete("2025-06-01T09:00:00+09:00", "e-42", "course-1", 2.5, true),
      factory.SubmitStep("2025-07-01T09:00:00+09:00", "e-42", "d-1", "p1", 2),
      factory.Enroll("2025-08-01T09:00:00+09:00", std::string(300, 'e'), std::string(400, 'c')),
  };
  events.back().position.offset = (int64_t{1} << 40) + 3;  // beyond 32 bits
  events.back().position.partition = 70000;                // beyond 16 bits
  for (const Fed& fed : events) {
    SCOPED_TRACE(fed.event.id);
    EXPECT_EQ(EncodeStoredEvent(fed.event, fed.position),
              ReferenceEncoding(kStoredEventFormat, fed.position.topic, fed.position.partition,
                                fed.position.offset, EncodeBinaryEvent(fed.event)));
    auto decoded = DecodeStoredEvent(EncodeStoredEvent(fed.event, fed.position));
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->event, fed.event);
    EXPECT_EQ(decoded->position.offset, fed.position.offset);
  }
  // AppendBinaryEvent appends exactly EncodeBinaryEvent's bytes.
  std::string appended = "prefix";
  AppendBinaryEvent(events[1].event, &appended);
  EXPECT_EQ(appended, "prefix" + EncodeBinaryEvent(events[1].event));
}

TEST(CerealIoTest, RoundTripsAndReportsTruncation) {
  const std::string bytes = EncodeEmployeeState(SampleState());
  auto decoded = DecodeEmployeeState(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(EncodeEmployeeState(*decoded), bytes);

  auto truncated = DecodeEmployeeState(std::string_view(bytes).substr(0, bytes.size() / 2));
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption);
  EXPECT_NE(truncated.status().message().find("employee state: "), std::string::npos)
      << truncated.status().ToString();
  // The shared stream is usable again after a failure.
  auto again = DecodeEmployeeState(bytes);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
}

// A value whose serialisation encodes another value with the same helper
// (the thread's shared stream is busy): the nested call must not disturb it.
struct Nesting {
  std::string inner;
  template <class A>
  void save(A& archive) const {
    archive(EncodeCereal(7, inner));
  }
};

TEST(CerealIoTest, NestedEncodingUsesItsOwnStream) {
  Nesting value{"nested"};
  const std::string nested = ReferenceEncoding(7, std::string("nested"));
  EXPECT_EQ(EncodeCereal(9, value), ReferenceEncoding(9, nested));
}

}  // namespace
}  // namespace jiritsu::processors::testing
