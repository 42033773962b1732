#include "processors/time_util.h"

#include "schemas/civil_date.h"

#include <charconv>
#include <cstdio>

namespace jiritsu::processors {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool ParseInt(std::string_view text, int32_t* out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// Appends `value` (0..9999) as exactly `width` digits.
void AppendDigits(std::string* out, int32_t value, int width) {
  char digits[4];
  for (int i = width - 1; i >= 0; --i, value /= 10) digits[i] = static_cast<char>('0' + value % 10);
  out->append(digits, static_cast<size_t>(width));
}

int DigitCount(int32_t value) { return value >= 1000 ? 4 : value >= 100 ? 3 : value >= 10 ? 2 : 1; }

}  // namespace

// The arithmetic is schemas/civil_date.h's (one copy for the whole code base).
int64_t DaysFromCivil(const CivilDate& date) {
  return jiritsu::DaysFromCivil(date.year, date.month, date.day);
}

CivilDate CivilFromDays(int64_t days) {
  int64_t year = 0;
  int month = 0;
  int day = 0;
  jiritsu::CivilFromDays(days, &year, &month, &day);
  return CivilDate{static_cast<int32_t>(year), month, day};
}

MonthIndex MonthOf(int64_t time_us, int32_t offset_minutes) {
  const int64_t local = time_us + int64_t{offset_minutes} * 60 * kMicrosPerSecond;
  const CivilDate date = CivilFromDays(FloorDiv(local, kMicrosPerDay));
  return MakeMonth(date.year, date.month);
}

void MonthCutter::Cut(int64_t time_us) {
  const int64_t days = FloorDiv(time_us + offset_us_, kMicrosPerDay);
  const CivilDate date = CivilFromDays(days);
  const int64_t first_day = days - (date.day - 1);
  month_ = MakeMonth(date.year, date.month);
  start_us_ = first_day * kMicrosPerDay - offset_us_;
  end_us_ = (first_day + jiritsu::DaysInMonth(date.year, date.month)) * kMicrosPerDay - offset_us_;
}

int32_t FiscalYearOfMonth(MonthIndex m) {
  const int32_t year = YearOfMonth(m);
  return MonthNumber(m) >= 4 ? year : year - 1;
}

int32_t FiscalQuarterOfMonth(MonthIndex m) { return ((MonthNumber(m) + 8) % 12) / 3 + 1; }

int64_t MonthStartMicros(MonthIndex m, int32_t offset_minutes) {
  const int64_t days = DaysFromCivil(CivilDate{YearOfMonth(m), MonthNumber(m), 1});
  return days * kMicrosPerDay - int64_t{offset_minutes} * 60 * kMicrosPerSecond;
}

// Labels are built for every KPI row of every facts record: formatted by
// hand for years 0..9999 (printf was a tenth of BuildFacts), the same bytes.
std::string MonthLabel(MonthIndex m) {
  const int32_t year = YearOfMonth(m);
  if (year < 0 || year > 9999) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%04d-%02d", year, MonthNumber(m));
    return buf;
  }
  std::string out;
  AppendDigits(&out, year, 4);
  out.push_back('-');
  AppendDigits(&out, MonthNumber(m), 2);
  return out;
}

std::string QuarterLabel(MonthIndex m) {
  const int32_t year = FiscalYearOfMonth(m);
  if (year < 0 || year > 9999) {
    return std::to_string(year) + "Q" + std::to_string(FiscalQuarterOfMonth(m));
  }
  std::string out;
  AppendDigits(&out, year, DigitCount(year));
  out.push_back('Q');
  out.push_back(static_cast<char>('0' + FiscalQuarterOfMonth(m)));
  return out;
}

std::string FiscalYearLabel(MonthIndex m) {
  const int32_t year = FiscalYearOfMonth(m);
  if (year < 0 || year > 9999) return "FY" + std::to_string(year);
  std::string out = "FY";
  AppendDigits(&out, year, DigitCount(year));
  return out;
}

Result<Period> ParsePeriod(std::string_view text) {
  const auto invalid = [&] {
    return InvalidArgument("period: expected FY2025, 2025Q3 (fiscal quarter) or 2025-07, got \"" +
                           std::string(text) + "\"");
  };
  int32_t year = 0;
  std::string_view rest = text;
  const bool fy_prefix = rest.substr(0, 2) == "FY";
  if (fy_prefix) rest.remove_prefix(2);
  if (rest.size() < 4 || !ParseInt(rest.substr(0, 4), &year)) return invalid();
  rest.remove_prefix(4);
  Period period;
  if (rest.empty()) {
    if (!fy_prefix) return invalid();
    period.kind = PeriodKind::kFiscalYear;
    period.first_month = MakeMonth(year, 4);
    period.last_month = period.first_month + 11;
    period.label = "FY" + std::to_string(year);
    return period;
  }
  if (rest.size() == 2 && rest[0] == 'Q' && rest[1] >= '1' && rest[1] <= '4') {
    const int32_t quarter = rest[1] - '0';
    period.kind = PeriodKind::kQuarter;
    period.first_month = MakeMonth(year, 4) + (quarter - 1) * 3;
    period.last_month = period.first_month + 2;
    period.label = std::to_string(year) + "Q" + std::to_string(quarter);
    return period;
  }
  int32_t month = 0;
  if (!fy_prefix && rest.size() == 3 && rest[0] == '-' && ParseInt(rest.substr(1), &month) &&
      month >= 1 && month <= 12) {
    period.kind = PeriodKind::kMonth;
    period.first_month = period.last_month = MakeMonth(year, month);
    period.label = MonthLabel(period.first_month);
    return period;
  }
  return invalid();
}

std::string FormatTime(int64_t time_us, int32_t offset_minutes) {
  const int64_t local = time_us + int64_t{offset_minutes} * 60 * kMicrosPerSecond;
  const int64_t days = FloorDiv(local, kMicrosPerDay);
  const int64_t in_day = local - days * kMicrosPerDay;
  const CivilDate date = CivilFromDays(days);
  const int64_t seconds = in_day / kMicrosPerSecond;
  const int64_t micros = in_day % kMicrosPerSecond;
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", date.year, date.month,
                        date.day, static_cast<int>(seconds / 3600),
                        static_cast<int>(seconds / 60 % 60), static_cast<int>(seconds % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (micros != 0) {
    n = std::snprintf(buf, sizeof(buf), ".%06d", static_cast<int>(micros));
    out.append(buf, static_cast<size_t>(n));
  }
  if (offset_minutes == 0) {
    out += 'Z';
  } else {
    const int32_t abs_minutes = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    n = std::snprintf(buf, sizeof(buf), "%c%02d:%02d", offset_minutes < 0 ? '-' : '+',
                      abs_minutes / 60, abs_minutes % 60);
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace jiritsu::processors
