// EncodeBinaryEvent / DecodeBinaryEvent: envelope versioning and hostile
// input. Payloads are crafted here with an independent CRC-32C so that the
// decoder's checks behind the checksum are exercised too.
#include <gtest/gtest.h>

#include <random>

#include "schemas/codec.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

uint32_t BitwiseCrc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

// Header {magic, format, min format, length, crc} + payload.
std::string Wrap(std::string_view payload, uint8_t format = 1, uint8_t min_format = 1) {
  std::string out = "JE";
  out.push_back(static_cast<char>(format));
  out.push_back(static_cast<char>(min_format));
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  PutU32(&out, BitwiseCrc32c(payload));
  out.append(payload);
  return out;
}

std::string PayloadOf(const std::string& encoded) { return encoded.substr(12); }

Event ManagerChanged() {
  Event event;
  event.type = EventType::kEmployeeManagerChanged;
  event.id = "m-1";
  event.source = "/hr";
  event.subject = "emp-1";
  event.time_us = 1'743'465'600'000'000;
  event.utc_offset_minutes = 540;
  event.data = EmployeeManagerChanged{.manager_id = "emp-2"};
  return event;
}

// Payload of ManagerChanged() with the u32 at `offset` replaced.
std::string WithU32(std::string payload, size_t offset, uint32_t value) {
  std::string v;
  PutU32(&v, value);
  payload.replace(offset, 4, v);
  return payload;
}

StatusCode CodeOf(std::string_view bytes) { return DecodeBinaryEvent(bytes).status().code(); }

TEST(BinaryCodec, KnownCrc32cVector) { EXPECT_EQ(BitwiseCrc32c("123456789"), 0xE3069283u); }

TEST(BinaryCodec, LayoutIsLittleEndianAndVersioned) {
  const std::string bytes = EncodeBinaryEvent(ManagerChanged());
  ASSERT_GE(bytes.size(), 14u);
  EXPECT_EQ(bytes.substr(0, 4), std::string("JE\x01\x01", 4));
  EXPECT_EQ(Wrap(PayloadOf(bytes)), bytes);  // length and checksum as documented
  EXPECT_EQ(bytes[12], 1);                   // cereal endianness flag: little
  EXPECT_EQ(bytes[13], static_cast<char>(EventType::kEmployeeManagerChanged));
  EXPECT_EQ(bytes.substr(14, 7), std::string("\x03\x00\x00\x00m-1", 7));
}

TEST(BinaryCodec, ChecksumMatchesTheBitwiseCrcForEveryLengthModuloEight) {
  // The encoder's CRC-32C works 8 bytes at a time where the CPU allows it:
  // payloads of every length modulo 8, and long ones, checked against the
  // bitwise reference, and read back.
  for (size_t id_length = 0; id_length < 40; ++id_length) {
    Event event = ManagerChanged();
    event.id = std::string(id_length, 'i') + "-" + std::to_string(id_length);
    const std::string bytes = EncodeBinaryEvent(event);
    EXPECT_EQ(Wrap(PayloadOf(bytes)), bytes) << "id length " << id_length;
    const Result<Event> again = DecodeBinaryEvent(bytes);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, event);
  }
}

TEST(BinaryCodec, RoundTripsEveryOptionalShape) {
  Event event = ManagerChanged();
  event.type = EventType::kDeclarationAmended;
  event.utc_offset_minutes = -570;
  event.time_us = -5;
  for (int mask = 0; mask < 8; ++mask) {
    DeclarationAmended d{.declaration_id = "d-1"};
    if (mask & 1) d.evidence = "証跡";
    if (mask & 2) d.practice_months = 600;
    if (mask & 4) d.career_wish = "";
    event.data = d;
    const Result<Event> again = DecodeBinaryEvent(EncodeBinaryEvent(event));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, event);
  }
}

TEST(BinaryCodec, NewerCompatibleWriterMayAppendFields) {
  const std::string payload = PayloadOf(EncodeBinaryEvent(ManagerChanged())) + "new-field";
  const Result<Event> event = DecodeBinaryEvent(Wrap(payload, /*format=*/2, /*min_format=*/1));
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(*event, ManagerChanged());
  // The same bytes from a writer of this format version are damage.
  const Result<Event> same_version = DecodeBinaryEvent(Wrap(payload, 1, 1));
  EXPECT_EQ(same_version.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(same_version.status().message(), "binary event: 9 unexpected trailing bytes");
}

TEST(BinaryCodec, IncompatibleWriterIsRejected) {
  const std::string payload = PayloadOf(EncodeBinaryEvent(ManagerChanged()));
  const Result<Event> event = DecodeBinaryEvent(Wrap(payload, 3, 2));
  EXPECT_EQ(event.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(event.status().message(),
            "binary event: format version 3 needs a reader of version >= 2 (this build reads 1)");
}

TEST(BinaryCodec, ChecksBehindTheChecksum) {
  const std::string payload = PayloadOf(EncodeBinaryEvent(ManagerChanged()));
  const auto message = [](const std::string& p) {
    return DecodeBinaryEvent(Wrap(p)).status().message();
  };
  // Event type byte.
  std::string p = payload;
  p[1] = static_cast<char>(kEventTypeCount);  // the first unknown type byte
  EXPECT_EQ(message(p), "binary event: unknown event type " + std::to_string(kEventTypeCount));
  // A string length far beyond the bytes present: rejected before allocating.
  EXPECT_EQ(message(WithU32(payload, 2, 0xFFFFFFF0u)),
            "binary event: string of 4294967280 exceeds the " +
                std::to_string(payload.size() - 6) + " remaining bytes");
  // Endianness flag.
  p = payload;
  p[0] = 0;
  EXPECT_EQ(message(p), "binary event: bad endianness flag");
  // Schema version of the data (after type, 3 strings, i64, i32).
  const size_t version_offset = 2 + (4 + 3) + (4 + 3) + (4 + 5) + 8 + 4;
  EXPECT_EQ(message(WithU32(payload, version_offset, 2)),
            "binary event: unsupported schema version 2 (this build reads 1..1)");
  EXPECT_EQ(message(WithU32(payload, version_offset, 0)),
            "binary event: unsupported schema version 0 (this build reads 1..1)");
  // Truncated payload (consistent header).
  EXPECT_EQ(message(payload.substr(0, payload.size() - 1)).rfind("binary event: ", 0), 0u);
  EXPECT_EQ(CodeOf(Wrap(payload.substr(0, payload.size() - 1))), StatusCode::kCorruption);
}

TEST(BinaryCodec, EnumAndBoolBytesAreRangeChecked) {
  Event event = ManagerChanged();
  event.type = EventType::kInterviewCancelled;
  event.data = InterviewCancelled{.interview_id = "i", .reason = CancelReason::kNoShow};
  std::string payload = PayloadOf(EncodeBinaryEvent(event));
  ASSERT_EQ(payload.back(), 1);  // the reason enum is the last byte
  payload.back() = 2;
  EXPECT_EQ(DecodeBinaryEvent(Wrap(payload)).status().message(),
            "binary event: invalid reason byte 2");

  event.type = EventType::kLearningCompleted;
  event.data = LearningCompleted{.course_id = "c", .hours = 1, .score = std::nullopt, .passed = true};
  payload = PayloadOf(EncodeBinaryEvent(event));
  ASSERT_EQ(payload.back(), 1);  // passed
  payload.back() = 7;
  EXPECT_EQ(DecodeBinaryEvent(Wrap(payload)).status().message(), "binary event: invalid bool byte 7");
}

TEST(BinaryCodec, ListCountsAreCappedByRemainingBytes) {
  Event event = ManagerChanged();
  event.type = EventType::kProgramDefined;
  event.subject = "p";
  event.data = ProgramDefined{.program_id = "p", .name = "n", .talent_profile = "t",
                              .steps = {ProgramStep{.step = 1, .name = "s"}}};
  std::string payload = PayloadOf(EncodeBinaryEvent(event));
  // Steps count sits after program_id, name, talent_profile.
  const size_t header = 2 + (4 + 3) + (4 + 3) + (4 + 1) + 8 + 4 + 4;
  const size_t steps_offset = header + 3 * (4 + 1);
  ASSERT_EQ(payload.substr(steps_offset, 4), std::string("\x01\x00\x00\x00", 4));
  const Result<Event> decoded = DecodeBinaryEvent(Wrap(WithU32(payload, steps_offset, 1u << 30)));
  EXPECT_EQ(decoded.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(decoded.status().message().rfind("binary event: step list of 1073741824 exceeds", 0), 0u)
      << decoded.status().message();
}

TEST(BinaryCodec, ArbitraryBytesNeverCrashAndAreDeterministic) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 300);
  const std::string valid_payload = PayloadOf(EncodeBinaryEvent(ManagerChanged()));
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(static_cast<size_t>(length(rng)), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    // Half of the inputs get a valid header and checksum so the payload
    // reader itself sees garbage; some start from a real payload.
    if (i % 2 == 1) {
      if (i % 4 == 1) {
        std::string p = valid_payload;
        for (int k = 0; k < 3; ++k) {
          p[static_cast<size_t>(byte(rng)) % p.size()] = static_cast<char>(byte(rng));
        }
        bytes = p;
      }
      bytes = Wrap(bytes);
    }
    const Result<Event> first = DecodeBinaryEvent(bytes);
    const Result<Event> second = DecodeBinaryEvent(bytes);
    ASSERT_EQ(first.ok(), second.ok());
    if (first.ok()) {
      EXPECT_EQ(*first, *second);
      // Whatever decodes re-encodes to the same bytes.
      EXPECT_EQ(EncodeBinaryEvent(*first), bytes);
    } else {
      EXPECT_EQ(first.status().code(), StatusCode::kCorruption) << first.status().ToString();
      EXPECT_EQ(first.status().message(), second.status().message());
    }
  }
}

}  // namespace
}  // namespace jiritsu
