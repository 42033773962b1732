// AppendCompactEventData / DecodeCompactEventData (schemas/codec.h), the
// journal rows' data: the field encodings, and hostile bytes rejected with
// the field named. Every type's round trip is in fixtures_test.cc.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "schemas/codec.h"

namespace jiritsu {
namespace {

Result<Event> Decode(EventType type, std::string_view bytes, uint32_t version = 1) {
  Event event;
  event.type = type;
  JIRITSU_RETURN_IF_ERROR(DecodeCompactEventData(bytes, version, &event));
  return event;
}

TEST(CompactDataCodec, LayoutUsesVarintLengthsAndZigzagIntegers) {
  Event event;
  event.type = EventType::kDeclarationAmended;
  event.data = DeclarationAmended{.declaration_id = "d1", .practice_months = -3};
  std::string bytes;
  AppendCompactEventData(event, &bytes);
  // "d1" with a one-byte length, no evidence, -3 present as zigzag 5, no wish.
  EXPECT_EQ(bytes, std::string("\x02"
                               "d1"
                               "\x00"
                               "\x01\x05"
                               "\x00",
                               7));
  const Result<Event> again = Decode(event.type, bytes);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->data, event.data);

  event.type = EventType::kLearningProgressed;
  event.data = LearningProgressed{.course_id = "c", .progress_percent = 50, .hours = 1.5};
  bytes.clear();
  AppendCompactEventData(event, &bytes);
  ASSERT_EQ(bytes.size(), 2u + 8 + 8);  // numbers keep their IEEE bytes
  double hours = 0;
  std::memcpy(&hours, bytes.data() + 10, sizeof hours);
  EXPECT_EQ(hours, 1.5);
}

TEST(CompactDataCodec, OptionalShapesAndLongStringsRoundTrip) {
  for (int mask = 0; mask < 8; ++mask) {
    DeclarationAmended d{.declaration_id = std::string(300, 'd')};  // a two-byte length
    if (mask & 1) d.evidence = "証跡";
    if (mask & 2) d.practice_months = -600;
    if (mask & 4) d.career_wish = "";
    Event event;
    event.type = EventType::kDeclarationAmended;
    event.data = d;
    std::string bytes;
    AppendCompactEventData(event, &bytes);
    const Result<Event> again = Decode(event.type, bytes);
    ASSERT_TRUE(again.ok()) << mask << ": " << again.status().ToString();
    EXPECT_EQ(again->data, event.data) << mask;
  }
}

TEST(CompactDataCodec, FlagEnumAndVersionProblemsNameTheField) {
  Event event;
  event.type = EventType::kInterviewCancelled;
  event.data = InterviewCancelled{.interview_id = "i", .reason = CancelReason::kNoShow};
  std::string bytes;
  AppendCompactEventData(event, &bytes);
  ASSERT_EQ(bytes.back(), 1);  // the reason enum is the last byte
  bytes.back() = 9;
  EXPECT_EQ(Decode(event.type, bytes).status().message(),
            "compact event data: reason: invalid enum byte 9");

  event.type = EventType::kLearningCompleted;
  event.data =
      LearningCompleted{.course_id = "c", .hours = 1, .score = std::nullopt, .passed = true};
  bytes.clear();
  AppendCompactEventData(event, &bytes);
  ASSERT_EQ(bytes.back(), 1);  // passed
  bytes.back() = 7;
  EXPECT_EQ(Decode(event.type, bytes).status().message(),
            "compact event data: passed: invalid flag byte 7");

  bytes.back() = 1;
  EXPECT_TRUE(Decode(event.type, bytes).ok());
  EXPECT_EQ(Decode(event.type, bytes, /*version=*/2).status().message(),
            "compact event data: no reader for schema version 2");
  EXPECT_EQ(Decode(static_cast<EventType>(kEventTypeCount), bytes).status().code(),
            StatusCode::kCorruption);
}

TEST(CompactDataCodec, CountsAreCappedByTheRemainingBytes) {
  // A course id claiming 2^40 bytes, and a varint that never ends.
  const std::string huge = "\x80\x80\x80\x80\x80\x20";
  EXPECT_EQ(Decode(EventType::kLearningProgressed, huge).status().message(),
            "compact event data: course_id: 1099511627776 items exceed the 0 remaining bytes");
  EXPECT_EQ(Decode(EventType::kLearningProgressed, std::string(3, '\x80')).status().message(),
            "compact event data: course_id: varint runs past the end");
  EXPECT_EQ(Decode(EventType::kLearningProgressed, std::string(11, '\xff')).status().message(),
            "compact event data: course_id: varint exceeds 64 bits");
}

TEST(CompactDataCodec, ArbitraryBytesNeverCrashAndWhatDecodesReencodes) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 80);
  std::uniform_int_distribution<int> type(0, kEventTypeCount - 1);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(static_cast<size_t>(length(rng)), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng) % 8 == 0 ? byte(rng) : byte(rng) % 4);
    const auto event_type = static_cast<EventType>(type(rng));
    const Result<Event> decoded = Decode(event_type, bytes);
    if (!decoded.ok()) {
      EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
      continue;
    }
    std::string again;
    AppendCompactEventData(*decoded, &again);
    // Varints may have been longer than needed, so compare re-encodings (a
    // NaN never equals itself).
    const Result<Event> twice = Decode(event_type, again);
    ASSERT_TRUE(twice.ok()) << twice.status().ToString();
    std::string thrice;
    AppendCompactEventData(*twice, &thrice);
    EXPECT_EQ(thrice, again);
  }
}

}  // namespace
}  // namespace jiritsu
