// ParseRfc3339 / FormatRfc3339.
#include <gtest/gtest.h>

#include <random>

#include "schemas/codec.h"

namespace jiritsu {
namespace {

constexpr int64_t kSecond = 1'000'000;

int64_t ParseOk(std::string_view text, int32_t* offset = nullptr) {
  int32_t ignored = 0;
  Result<int64_t> t = ParseRfc3339(text, offset ? offset : &ignored);
  EXPECT_TRUE(t.ok()) << text << ": " << t.status().ToString();
  return t.ok() ? *t : -1;
}

std::string ParseError(std::string_view text) {
  int32_t offset = 0;
  Result<int64_t> t = ParseRfc3339(text, &offset);
  if (t.ok()) return "OK";
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  return t.status().message();
}

TEST(ParseRfc3339, OffsetsAndFractions) {
  int32_t offset = -1;
  EXPECT_EQ(ParseOk("2025-04-01T09:00:00+09:00", &offset), 1743465600 * kSecond);
  EXPECT_EQ(offset, 540);
  EXPECT_EQ(ParseOk("2025-04-01T00:00:00Z", &offset), 1743465600 * kSecond);
  EXPECT_EQ(offset, 0);
  EXPECT_EQ(ParseOk("2025-03-31T14:30:00-09:30", &offset), 1743465600 * kSecond);
  EXPECT_EQ(offset, -570);
  EXPECT_EQ(ParseOk("1970-01-01T00:00:00.5z"), kSecond / 2);
  EXPECT_EQ(ParseOk("1970-01-01t00:00:01.000001Z"), kSecond + 1);
  EXPECT_EQ(ParseOk("1970-01-01T00:00:00.123Z"), 123000);
  EXPECT_EQ(ParseOk("1970-01-01T00:00:00.123456000Z"), 123456);  // zeros beyond micros
  EXPECT_EQ(ParseOk("1970-01-01T00:00:00-00:00", &offset), 0);
  EXPECT_EQ(offset, 0);
  // Before the epoch in UTC although the local year is 1970.
  EXPECT_EQ(ParseOk("1970-01-01T00:30:00+09:00"), -(8 * 3600 + 1800) * kSecond);
  EXPECT_EQ(ParseOk("9999-12-31T23:59:59.999999-23:59"),
            (253402300799 + 23 * 3600 + 59 * 60) * kSecond + 999999);
}

TEST(ParseRfc3339, CalendarRules) {
  EXPECT_EQ(ParseError("2024-02-29T00:00:00Z"), "OK");
  EXPECT_EQ(ParseError("2000-02-29T00:00:00Z"), "OK");
  EXPECT_EQ(ParseError("2025-02-29T00:00:00Z"),
            R"(must be a valid calendar date and time, got "2025-02-29T00:00:00Z")");
  EXPECT_EQ(ParseError("2100-02-29T00:00:00Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("2025-04-31T00:00:00Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("2025-00-10T00:00:00Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("2025-04-01T24:00:00Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("2025-04-01T23:60:00Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("2016-12-31T23:59:60Z").rfind("must be a valid calendar", 0), 0u);
  EXPECT_EQ(ParseError("1969-12-31T23:59:59Z"),
            R"(must have a year in 1970..9999, got "1969-12-31T23:59:59Z")");
}

TEST(ParseRfc3339, SyntaxRules) {
  for (std::string_view bad :
       {"", "2025-04-01", "2025-04-01T09:00:00", "2025-04-01T09:00Z", "2025-04-01 09:00:00Z",
        "2025-4-01T09:00:00Z", "2025-04-01T09:00:00+0900", "2025-04-01T09:00:00+09",
        "2025-04-01T09:00:00.Z", "2025-04-01T09:00:00Z ", " 2025-04-01T09:00:00Z",
        "2025-04-01T09:00:00ZZ", "2025-04-01T09:00:00+09:00:00", "+2025-04-01T09:00:00Z",
        "２０２５-04-01T09:00:00Z"}) {
    EXPECT_EQ(ParseError(bad).rfind("must be RFC 3339 with a UTC offset, got ", 0), 0u) << bad;
  }
  EXPECT_EQ(ParseError("2025-04-01T09:00:00+24:00"),
            R"(must have a UTC offset within -23:59..+23:59, got "2025-04-01T09:00:00+24:00")");
  EXPECT_EQ(ParseError("2025-04-01T09:00:00+09:60").rfind("must have a UTC offset", 0), 0u);
  EXPECT_EQ(ParseError("2025-04-01T09:00:00.0000001Z"),
            R"(must have at most 6 fractional second digits, got "2025-04-01T09:00:00.0000001Z")");
}

TEST(FormatRfc3339, ReproducesTheOffset) {
  EXPECT_EQ(FormatRfc3339(1743465600 * kSecond, 540), "2025-04-01T09:00:00+09:00");
  EXPECT_EQ(FormatRfc3339(1743465600 * kSecond, 0), "2025-04-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1743465600 * kSecond, -570), "2025-03-31T14:30:00-09:30");
  EXPECT_EQ(FormatRfc3339(0, 0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(-1, 0), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(-(8 * 3600 + 1800) * kSecond, 540), "1970-01-01T00:30:00+09:00");
  EXPECT_EQ(FormatRfc3339(123000, 0), "1970-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(123400, 0), "1970-01-01T00:00:00.123400Z");
  // An offset RFC 3339 cannot write falls back to UTC (same instant).
  EXPECT_EQ(FormatRfc3339(0, 24 * 60), "1970-01-01T00:00:00Z");
}

TEST(FormatRfc3339, RandomInstantsAndOffsetsRoundTrip) {
  std::mt19937_64 rng(20250401);
  std::uniform_int_distribution<int64_t> instant(0, 253402214400LL * kSecond);  // to 9999-12-31
  std::uniform_int_distribution<int32_t> offset(-(23 * 60 + 59), 23 * 60 + 59);
  for (int i = 0; i < 20000; ++i) {
    const int64_t t = instant(rng);
    const int32_t off = offset(rng);
    const std::string text = FormatRfc3339(t, off);
    int32_t parsed_offset = 0;
    Result<int64_t> parsed = ParseRfc3339(text, &parsed_offset);
    if (!parsed.ok()) {
      // Only local dates outside 1970..9999 may be unrepresentable.
      EXPECT_TRUE(text.rfind("1969-", 0) == 0 || text.rfind("10000-", 0) == 0) << text;
      continue;
    }
    ASSERT_EQ(*parsed, t) << text;
    ASSERT_EQ(parsed_offset, off) << text;
  }
}

}  // namespace
}  // namespace jiritsu
