// processors/compact_archive.h: every stored value round-trips field for
// field, integers take the documented number of bytes, values of the older
// portable-binary formats still decode, and damaged bytes (any truncation,
// trailing bytes, impossible sizes, bools and integers) are errors that say
// where, never crashes or silently wrong values.
#include "processors/compact_archive.h"

#include <gtest/gtest.h>

#include <cereal/types/array.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "processors/aggregates.h"
#include "processors/cereal_io.h"
#include "processors/employee_state.h"
#include "processors/facts.h"

namespace jiritsu::processors::testing {
namespace {

template <class T>
std::string Compact(const T& value) {
  std::string out;
  CompactOutputArchive archive(&out);
  archive(value);
  return out;
}

template <class T>
T FromCompact(const std::string& bytes) {
  T value{};
  auto error = DecodeCompact(bytes, value);
  EXPECT_FALSE(error.has_value()) << *error;
  return value;
}

EventRef Ref(int64_t time_us, const std::string& id) {
  return EventRef{4, "lms", id, time_us, "jiritsu.employee", 3, 1'234'567};
}

EmployeeState RichState() {
  EmployeeState state;
  state.employee_id = "e-42";
  state.events_folded = 12;
  state.last_time_us = 1'700'000'000'000'000;
  state.last_sort_key = std::string("\x01\x02\0key", 6);
  state.identity_hashes = {1, 99, 12345678901234ULL, std::numeric_limits<uint64_t>::max()};
  state.voided_hashes = {7};
  state.employed = true;
  state.hired_at = 1'600'000'000'000'000;
  state.org_unit = "sales";
  state.manager_id = "m-1";
  state.profile = "dx";
  state.snapshots.push_back({1'600'000'000'000'000, true, "sales", "dx", 3});
  state.snapshots.push_back({-5, false, "", "", 0});  // before the epoch: zigzag
  state.display_name = {"display_name", std::string("sealed\0bytes", 12), "hr", "ev-1"};
  state.erased_at = 1'650'000'000'000'000;
  state.last_changed_by = Ref(1'700'000'000'000'000, "ev-12");
  state.courses_passed["c1"] = 7;
  state.activities.push_back({1'610'000'000'000'000, 2, 1500, true, 0});
  state.activities.push_back({1'620'000'000'000'000, 1, -3, false, 1});
  state.interviews.push_back({1'615'000'000'000'000, 1, 0});
  state.cancellations.push_back({1'616'000'000'000'000, 0});
  state.learning_states.push_back({1'617'000'000'000'000, 4});
  DeclarationRecord declaration;
  declaration.declaration_id = "d-1";
  declaration.kind = 1;
  declaration.program_id = "p1";
  declaration.step = 2;
  declaration.learning_state = -1;
  declaration.practice_months = 18;
  declaration.state = 6;
  declaration.submitted_at = 1'618'000'000'000'000;
  declaration.submitted_snapshot = 1;
  declaration.finalized_at = 1'619'000'000'000'000;
  declaration.finalized_snapshot = std::numeric_limits<uint32_t>::max();
  declaration.history.push_back({"submitted", 1'618'000'000'000'000, "e-42", Ref(1, "ev-3"), {}});
  declaration.history.push_back(
      {"finalized", 1'619'000'000'000'000, "hr-1", Ref(2, "ev-4"), {"note", "ok", "hr", "ev-4"}});
  declaration.evidence = {"evidence", "certificate", "e-42", "ev-3"};
  state.declarations["d-1"] = declaration;
  state.steps_reached["p1"] = {{1, 10}, {2, 20}};
  state.finalized_steps.insert({"p1", 2});
  state.rejections.push_back({Ref(3, "ev-9"), "SELF_APPROVAL", "an approver may not approve"});
  return state;
}

EmployeeFacts RichFacts() {
  EmployeeFacts facts;
  facts.employee_id = "e-42";
  facts.events_folded = 12;
  facts.program_versions = 3;
  facts.views_hash = std::string(32, '\xab');
  facts.last_event_time_us = 1'700'000'000'000'000;
  facts.timeline.push_back({1, true, "sales", "dx"});
  facts.learning_states.push_back({5, 2});
  facts.recent_activities.push_back({6, 2, 1500, true});
  facts.recent_interviews.push_back({7, 1});
  facts.older_activity_us = 3;
  facts.career_interviews = {7, 8};
  facts.active_months = {600, 601};
  facts.participation = {{2025, 5}};
  StateDeltaRow delta{"sales", "dx", 600, {}};
  delta.values = {1, 0, -1, 0, 1};
  facts.state_deltas.push_back(delta);
  PeriodRow period{"sales", "dx", "2025Q3", {}, {{1440, 2}, {30, 1}}};
  period.values[kTrainingsCompleted] = 4;
  period.values[kLearningMilliHours] = 123'456'789;
  facts.period_rows.push_back(period);
  facts.last_event = Ref(1'700'000'000'000'000, "ev-12");
  return facts;
}

// Field-for-field equality through the older, independent encoding.
std::string Portable(const EmployeeState& state) { return EncodeCereal(2, state); }
std::string Portable(const EmployeeFacts& facts) { return EncodeCereal(2, facts, facts.last_event); }

TEST(CompactArchiveTest, IntegersTakeTheDocumentedBytesAndRoundTrip) {
  EXPECT_EQ(Compact(uint64_t{0}), std::string(1, '\0'));
  EXPECT_EQ(Compact(uint64_t{127}).size(), 1u);
  EXPECT_EQ(Compact(uint64_t{128}), std::string("\x80\x01", 2));
  EXPECT_EQ(Compact(std::numeric_limits<uint64_t>::max()).size(), 10u);
  EXPECT_EQ(Compact(int64_t{-1}), std::string("\x01", 1));  // zigzag
  EXPECT_EQ(Compact(int64_t{1}), std::string("\x02", 1));
  EXPECT_EQ(Compact(int64_t{1'700'000'000'000'000}).size(), 8u);  // a timestamp in us
  EXPECT_EQ(Compact(uint8_t{200}), std::string("\xc8", 1));       // bytes stay raw
  EXPECT_EQ(Compact(true), std::string("\x01", 1));
  EXPECT_EQ(Compact(std::string("ab")), std::string("\x02" "ab", 3));

  for (int64_t v : {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                    int64_t{0}, int64_t{-1}, int64_t{-64}, int64_t{64}, int64_t{1} << 40}) {
    EXPECT_EQ(FromCompact<int64_t>(Compact(v)), v);
  }
  for (int32_t v : {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()}) {
    EXPECT_EQ(FromCompact<int32_t>(Compact(v)), v);
  }
  EXPECT_EQ(FromCompact<uint64_t>(Compact(std::numeric_limits<uint64_t>::max())),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(FromCompact<double>(Compact(-2.5)), -2.5);
  const std::array<int64_t, 4> values = {0, -3, 1'000'000, std::numeric_limits<int64_t>::min()};
  EXPECT_EQ((FromCompact<std::array<int64_t, 4>>(Compact(values))), values);
  EXPECT_EQ(Compact(std::array<int64_t, 3>{0, 0, 1}).size(), 3u);  // element by element
}

TEST(CompactArchiveTest, StoredValuesRoundTripFieldForFieldInFewerBytes) {
  const EmployeeState state = RichState();
  const std::string bytes = EncodeEmployeeState(state);
  ASSERT_EQ(static_cast<uint8_t>(bytes[0]), kEmployeeStateFormat);
  auto decoded = DecodeEmployeeState(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(Portable(*decoded), Portable(state));
  EXPECT_EQ(EncodeEmployeeState(*decoded), bytes);
  EXPECT_LT(bytes.size() * 3, Portable(state).size() * 2) << bytes.size() << " compact bytes";

  const EmployeeFacts facts = RichFacts();
  const std::string facts_bytes = EncodeFacts(facts);
  ASSERT_EQ(static_cast<uint8_t>(facts_bytes[0]), kFactsFormat);
  auto decoded_facts = DecodeFacts(facts_bytes);
  ASSERT_TRUE(decoded_facts.ok()) << decoded_facts.status().ToString();
  EXPECT_EQ(Portable(*decoded_facts), Portable(facts));
  EXPECT_LT(facts_bytes.size() * 2, Portable(facts).size());

  KpiRow row;
  row.values = {0, 5, -2, 1'000'000'000};
  row.lead_minutes = {{30, 2}, {1440, 1}};
  row.contributors = 7;
  row.last_changed_by = Ref(9, "ev-9");
  row.holding_last = 2;
  auto decoded_row = DecodeKpiRow(EncodeKpiRow(row));
  ASSERT_TRUE(decoded_row.ok()) << decoded_row.status().ToString();
  EXPECT_EQ(decoded_row->values, row.values);
  EXPECT_EQ(decoded_row->lead_minutes, row.lead_minutes);
  EXPECT_EQ(decoded_row->contributors, 7);
  EXPECT_EQ(decoded_row->last_changed_by, row.last_changed_by);
  EXPECT_EQ(decoded_row->holding_last, 2);
}

TEST(CompactArchiveTest, ValuesOfTheOlderPortableFormatsStillDecode) {
  const EmployeeState state = RichState();
  auto old_state = DecodeEmployeeState(EncodeCereal(2, state));
  ASSERT_TRUE(old_state.ok()) << old_state.status().ToString();
  EXPECT_EQ(EncodeEmployeeState(*old_state), EncodeEmployeeState(state));

  const EmployeeFacts facts = RichFacts();
  auto format2 = DecodeFacts(EncodeCereal(2, facts, facts.last_event));
  ASSERT_TRUE(format2.ok()) << format2.status().ToString();
  EXPECT_EQ(EncodeFacts(*format2), EncodeFacts(facts));
  auto format1 = DecodeFacts(EncodeCereal(1, facts));  // before last_event
  ASSERT_TRUE(format1.ok()) << format1.status().ToString();
  EXPECT_EQ(format1->period_rows.size(), 1u);
  EXPECT_EQ(format1->last_event, EventRef());

  KpiRow row;
  row.values = {1, 2};
  row.contributors = 1;
  row.last_changed_by = Ref(1, "ev-1");
  row.holding_last = 1;
  auto old_row = DecodeKpiRow(EncodeCereal(2, row.values, row.lead_minutes, row.contributors,
                                           row.last_changed_by, row.holding_last));
  ASSERT_TRUE(old_row.ok()) << old_row.status().ToString();
  EXPECT_EQ(EncodeKpiRow(*old_row), EncodeKpiRow(row));

  for (uint8_t unknown : {uint8_t{0}, uint8_t{1}, uint8_t{4}}) {
    std::string bytes = EncodeEmployeeState(state);
    bytes[0] = static_cast<char>(unknown);
    auto decoded = DecodeEmployeeState(bytes);
    ASSERT_FALSE(decoded.ok());
    EXPECT_NE(decoded.status().message().find("unknown format version " + std::to_string(unknown)),
              std::string::npos)
        << decoded.status().ToString();
  }
}

TEST(CompactArchiveTest, EveryTruncationAndTrailingBytesAreCorruption) {
  const std::string state_bytes = EncodeEmployeeState(RichState());
  for (size_t size = 1; size < state_bytes.size(); ++size) {
    auto decoded = DecodeEmployeeState(std::string_view(state_bytes).substr(0, size));
    ASSERT_FALSE(decoded.ok()) << "prefix of " << size << " bytes decoded";
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  }
  const std::string facts_bytes = EncodeFacts(RichFacts());
  for (size_t size = 1; size < facts_bytes.size(); ++size) {
    ASSERT_FALSE(DecodeFacts(std::string_view(facts_bytes).substr(0, size)).ok())
        << "prefix of " << size << " bytes decoded";
  }
  auto trailing = DecodeEmployeeState(state_bytes + '\0');
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.status().message().find("1 trailing bytes"), std::string::npos)
      << trailing.status().ToString();
}

TEST(CompactArchiveTest, ImpossibleSizesBoolsAndIntegersAreErrorsThatSayWhere) {
  std::vector<int64_t> list;
  // A vector claiming a billion elements in four bytes: refused before any
  // allocation.
  auto size_error = DecodeCompact(std::string("\x80\x94\xeb\xdc\x03\x01", 6), list);
  ASSERT_TRUE(size_error.has_value());
  EXPECT_NE(size_error->find("size 1000000000 exceeds the 1 bytes left"), std::string::npos)
      << *size_error;
  EXPECT_NE(size_error->find("at byte 5"), std::string::npos) << *size_error;

  bool flag = false;
  auto bool_error = DecodeCompact(std::string("\x02", 1), flag);
  ASSERT_TRUE(bool_error.has_value());
  EXPECT_NE(bool_error->find("neither 0 nor 1"), std::string::npos) << *bool_error;

  uint32_t narrow = 0;
  auto range_error = DecodeCompact(Compact(uint64_t{1} << 32), narrow);
  ASSERT_TRUE(range_error.has_value());
  EXPECT_NE(range_error->find("out of range"), std::string::npos) << *range_error;
  int32_t narrow_signed = 0;
  ASSERT_TRUE(DecodeCompact(Compact(int64_t{-1} << 40), narrow_signed).has_value());

  uint64_t wide = 0;
  auto long_error = DecodeCompact(std::string(10, '\xff') + '\x01', wide);
  ASSERT_TRUE(long_error.has_value());
  EXPECT_NE(long_error->find("exceeds 64 bits"), std::string::npos) << *long_error;
  ASSERT_TRUE(DecodeCompact(std::string(11, '\x80'), wide).has_value());
}

}  // namespace
}  // namespace jiritsu::processors::testing
