// Calendar arithmetic in the fixed reporting offset: months, fiscal years
// (April-March), fiscal quarters, period syntax, RFC 3339 formatting.
//
// Why a fixed offset: periods must not depend on where a process runs or on
// the offset an event happened to be written with (docs/views.md, "Periods").
// Durations ("within 90 days") are exact multiples of 86,400 s, not calendar
// days.
//
// Thread-safety: pure functions. Failure: ParsePeriod returns
// kInvalidArgument with the accepted syntax in the message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace jiritsu::processors {

inline constexpr int64_t kMicrosPerSecond = 1'000'000;
inline constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// A month as year * 12 + (month - 1); totally ordered, cheap to store.
using MonthIndex = int32_t;

struct CivilDate {
  int32_t year = 1970;
  int32_t month = 1;  // 1..12
  int32_t day = 1;    // 1..31
};

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(const CivilDate& date);
CivilDate CivilFromDays(int64_t days);

// The local calendar month of `time_us` in the reporting offset.
MonthIndex MonthOf(int64_t time_us, int32_t offset_minutes);
inline int32_t YearOfMonth(MonthIndex m) { return m >= 0 ? m / 12 : (m - 11) / 12; }
inline int32_t MonthNumber(MonthIndex m) { return m - YearOfMonth(m) * 12 + 1; }
inline MonthIndex MakeMonth(int32_t year, int32_t month) { return year * 12 + month - 1; }
// Fiscal year: FY2025 = 2025-04 .. 2026-03.
int32_t FiscalYearOfMonth(MonthIndex m);
// Fiscal quarter 1..4: Q1 = Apr-Jun, Q2 = Jul-Sep, Q3 = Oct-Dec, Q4 = Jan-Mar.
int32_t FiscalQuarterOfMonth(MonthIndex m);
// First month of the fiscal year / fiscal quarter that month `m` is in.
inline MonthIndex FiscalYearStartMonth(MonthIndex m) { return MakeMonth(FiscalYearOfMonth(m), 4); }
inline MonthIndex FiscalQuarterStartMonth(MonthIndex m) {
  return FiscalYearStartMonth(m) + (FiscalQuarterOfMonth(m) - 1) * 3;
}
// UTC microseconds of the first instant of month `m` in the reporting offset.
int64_t MonthStartMicros(MonthIndex m, int32_t offset_minutes);

// MonthOf for a run of times that mostly fall in the month of the previous
// one (an employee's records, in time order): remembers that month's bounds,
// so a calendar conversion happens once per month instead of once per time.
// Same results as MonthOf. A plain value; not thread-safe.
class MonthCutter {
 public:
  explicit MonthCutter(int32_t offset_minutes)
      : offset_us_(int64_t{offset_minutes} * 60 * kMicrosPerSecond) {}
  MonthIndex operator()(int64_t time_us) {
    if (time_us >= start_us_ && time_us < end_us_) return month_;
    Cut(time_us);
    return month_;
  }

 private:
  void Cut(int64_t time_us);  // one calendar conversion

  const int64_t offset_us_;
  MonthIndex month_ = 0;
  int64_t start_us_ = 1;  // empty range until the first call
  int64_t end_us_ = 0;
};

// "2025-07", "2025Q3" (fiscal quarter of FY2025), "FY2025".
std::string MonthLabel(MonthIndex m);
std::string QuarterLabel(MonthIndex m);
std::string FiscalYearLabel(MonthIndex m);

enum class PeriodKind : uint8_t { kMonth, kQuarter, kFiscalYear };

struct Period {
  PeriodKind kind = PeriodKind::kMonth;
  std::string label;        // canonical: "2025-07" | "2025Q3" | "FY2025"
  MonthIndex first_month = 0;
  MonthIndex last_month = 0;  // inclusive
};

// Accepts "FY2025", "2025Q1".."2025Q4" (also "FY2025Q3"), "2025-07".
Result<Period> ParsePeriod(std::string_view text);

// RFC 3339 in the given offset, e.g. "2025-04-01T09:00:00+09:00"; fractional
// seconds only when non-zero (6 digits).
std::string FormatTime(int64_t time_us, int32_t offset_minutes);

}  // namespace jiritsu::processors
