// Golden fixtures, one directory per event type (schemas/examples/<type>/):
//   valid.json     decodes, and round-trips through JSON and binary;
//   invalid.jsonl  every line is rejected with exactly the expected message;
//   golden-v1.bin  decodes to the same Event as valid.json and re-encodes to
//                  identical bytes, so any change that would break stored data
//                  fails here. Damaged golden bytes give kCorruption.
// JIRITSU_WRITE_GOLDEN=1 (re)writes golden-v1.bin from valid.json; do that
// once per new type or format version, then commit. Never rewrite an existing
// golden file to make a test pass: write a new version beside it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "schemas/codec.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

using testing_schemas::ExamplesDir;
using testing_schemas::ReadFile;

std::vector<std::string> AllTypeNames() {
  std::vector<std::string> names;
  for (int i = 0; i < kEventTypeCount; ++i) {
    names.emplace_back(EventTypeName(static_cast<EventType>(i)));
  }
  return names;
}

class TypeFixture : public ::testing::TestWithParam<std::string> {
 protected:
  std::filesystem::path Dir() const { return ExamplesDir() / GetParam(); }
  Event DecodeValid() const {
    const std::string json = ReadFile(Dir() / "valid.json");
    Result<Event> event = DecodeJsonEvent(json);
    EXPECT_TRUE(event.ok()) << event.status().ToString();
    return event.ok() ? *event : Event{};
  }
};

TEST_P(TypeFixture, ValidExampleDecodesToItsType) {
  ASSERT_TRUE(std::filesystem::exists(Dir() / "valid.json")) << Dir();
  const Result<Event> event = DecodeJsonEvent(ReadFile(Dir() / "valid.json"));
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(EventTypeName(event->type), GetParam());
  EXPECT_EQ(event->schema_version, kCurrentSchemaVersion);
  // Every type but kpi.target.set has a subject (reference entities default
  // it to their id).
  EXPECT_EQ(event->subject.empty(), event->type == EventType::kKpiTargetSet);
}

// The journal rows' compact data (schemas/codec.h): every type's data reads
// back as written, and every shorter prefix of it is kCorruption, not a
// shorter event.
TEST_P(TypeFixture, CompactDataRoundTripsAndEveryPrefixIsCorruption) {
  const Event event = DecodeValid();
  std::string bytes = "kept";
  AppendCompactEventData(event, &bytes);
  ASSERT_EQ(bytes.substr(0, 4), "kept");  // appends, leaves what was there
  bytes.erase(0, 4);
  Event again;
  again.type = event.type;
  const Status status = DecodeCompactEventData(bytes, kCurrentSchemaVersion, &again);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(again.data, event.data);
  EXPECT_EQ(again.schema_version, kCurrentSchemaVersion);
  ASSERT_LT(bytes.size(), EncodeBinaryEvent(event).size());
  for (size_t n = 0; n < bytes.size(); ++n) {
    Event cut;
    cut.type = event.type;
    EXPECT_EQ(DecodeCompactEventData(bytes.substr(0, n), kCurrentSchemaVersion, &cut).code(),
              StatusCode::kCorruption)
        << n << " of " << bytes.size() << " bytes";
  }
  Event trailing;
  trailing.type = event.type;
  EXPECT_EQ(DecodeCompactEventData(bytes + "x", kCurrentSchemaVersion, &trailing).message(),
            "compact event data: 1 unexpected trailing bytes");
}

TEST_P(TypeFixture, JsonRoundTripIsExactAndStable) {
  const Event event = DecodeValid();
  const std::string encoded = EncodeJsonEvent(event);
  const Result<Event> again = DecodeJsonEvent(encoded);
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << encoded;
  EXPECT_EQ(*again, event);
  EXPECT_EQ(EncodeJsonEvent(*again), encoded);  // canonical: byte-for-byte stable
  EXPECT_EQ(encoded.find('\n'), std::string::npos);
}

TEST_P(TypeFixture, BinaryRoundTrip) {
  const Event event = DecodeValid();
  const std::string bytes = EncodeBinaryEvent(event);
  const Result<Event> again = DecodeBinaryEvent(bytes);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, event);
  EXPECT_EQ(EncodeBinaryEvent(*again), bytes);
}

TEST_P(TypeFixture, InvalidLinesFailWithTheExactMessage) {
  const auto path = Dir() / "invalid.jsonl";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const auto cases = testing_schemas::LoadInvalidCases(path);
  EXPECT_GE(cases.size(), 3u) << "at least three invalid cases per type";
  for (const auto& c : cases) {
    SCOPED_TRACE(path.string() + ":" + std::to_string(c.line));
    ASSERT_TRUE(c.problem.empty()) << c.problem;
    const Result<Event> event = DecodeJsonEvent(c.raw_event);
    ASSERT_FALSE(event.ok()) << "accepted: " << c.raw_event.substr(0, 300);
    EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(event.status().message(), c.expected_error);
  }
}

TEST_P(TypeFixture, GoldenBytesStillDecodeAndReencodeIdentically) {
  const auto path = Dir() / "golden-v1.bin";
  if (const char* write = std::getenv("JIRITSU_WRITE_GOLDEN"); write && std::string(write) == "1") {
    testing_schemas::WriteFile(path, EncodeBinaryEvent(DecodeValid()));
  }
  ASSERT_TRUE(std::filesystem::exists(path))
      << path << " missing: run once with JIRITSU_WRITE_GOLDEN=1 and commit it";
  const std::string golden = ReadFile(path);
  const Result<Event> event = DecodeBinaryEvent(golden);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(*event, DecodeValid());
  EXPECT_EQ(EncodeBinaryEvent(*event), golden);
}

TEST_P(TypeFixture, DamagedGoldenBytesAreCorruption) {
  const std::string golden = ReadFile(Dir() / "golden-v1.bin");
  ASSERT_GT(golden.size(), 12u);
  // Every truncation.
  for (size_t size = 0; size < golden.size(); ++size) {
    const Result<Event> event = DecodeBinaryEvent(std::string_view(golden).substr(0, size));
    ASSERT_FALSE(event.ok()) << "truncated to " << size;
    EXPECT_EQ(event.status().code(), StatusCode::kCorruption) << event.status().ToString();
  }
  // Every single-bit flip.
  for (size_t i = 0; i < golden.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = golden;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      const Result<Event> event = DecodeBinaryEvent(damaged);
      // Byte 2 is the writer's format version: a newer writer with the same
      // minimum version is readable by design.
      if (i == 2 && static_cast<uint8_t>(damaged[2]) > 1) continue;
      ASSERT_FALSE(event.ok()) << "flip byte " << i << " bit " << bit;
      EXPECT_EQ(event.status().code(), StatusCode::kCorruption) << event.status().ToString();
    }
  }
  // Trailing garbage.
  const Result<Event> longer = DecodeBinaryEvent(golden + std::string(1, '\0'));
  EXPECT_EQ(longer.status().code(), StatusCode::kCorruption);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, TypeFixture, ::testing::ValuesIn(AllTypeNames()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '.') c = '_';
                           }
                           return name;
                         });

// Extra invalid.jsonl files in non-type directories (e.g. envelope/) and no
// directory that is not a known type.
TEST(Fixtures, EveryDirectoryIsATypeOrEnvelope) {
  std::set<std::string> types;
  for (const auto& name : AllTypeNames()) types.insert(name);
  for (const auto& entry : std::filesystem::directory_iterator(ExamplesDir())) {
    if (!entry.is_directory()) continue;
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(types.count(name) || name == "envelope") << name;
  }
}

TEST(Fixtures, EnvelopeInvalidLinesFailWithTheExactMessage) {
  const auto path = ExamplesDir() / "envelope" / "invalid.jsonl";
  ASSERT_TRUE(std::filesystem::exists(path));
  for (const auto& c : testing_schemas::LoadInvalidCases(path)) {
    SCOPED_TRACE(path.string() + ":" + std::to_string(c.line));
    ASSERT_TRUE(c.problem.empty()) << c.problem;
    const Result<Event> event = DecodeJsonEvent(c.raw_event);
    ASSERT_FALSE(event.ok()) << "accepted: " << c.raw_event.substr(0, 300);
    EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(event.status().message(), c.expected_error);
  }
}

}  // namespace
}  // namespace jiritsu
