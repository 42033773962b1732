// RFC 3339 timestamps <-> UTC microseconds (ParseRfc3339, FormatRfc3339).
//
// Accepted: YYYY-MM-DDThh:mm:ss[.f]Z|±hh:mm, 'T'/'Z' in either case (RFC 3339
// section 5.6), 1..6 fractional digits (further digits only if they are all
// zero, so precision is never silently dropped), years 1970..9999, real
// calendar dates, no leap second (60).
#include <cstdint>
#include <string>
#include <string_view>

#include "schemas/civil_date.h"
#include "schemas/codec.h"
#include "schemas/json_text.h"

namespace jiritsu {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;
constexpr int32_t kMaxOffsetMinutes = 23 * 60 + 59;

// Reads `count` ASCII digits at text[pos]; false if any is not a digit.
bool ReadDigits(std::string_view text, size_t pos, size_t count, int* out) {
  if (pos + count > text.size()) return false;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

Status TimeError(std::string_view rule, std::string_view text) {
  std::string message(rule);
  message.append(", got ");
  json_text::AppendDisplayString(&message, text);
  return InvalidArgument(std::move(message));
}

void AppendTwoDigits(std::string* out, int value) {
  out->push_back(static_cast<char>('0' + value / 10));
  out->push_back(static_cast<char>('0' + value % 10));
}

}  // namespace

Result<int64_t> ParseRfc3339(std::string_view text, int32_t* utc_offset_minutes) {
  constexpr std::string_view kSyntax = "must be RFC 3339 with a UTC offset";
  int year, month, day, hour, minute, second;
  // Fixed part: YYYY-MM-DDThh:mm:ss (19 bytes).
  if (text.size() < 20 || !ReadDigits(text, 0, 4, &year) || text[4] != '-' ||
      !ReadDigits(text, 5, 2, &month) || text[7] != '-' || !ReadDigits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't') || !ReadDigits(text, 11, 2, &hour) ||
      text[13] != ':' || !ReadDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ReadDigits(text, 17, 2, &second)) {
    return TimeError(kSyntax, text);
  }
  size_t pos = 19;
  int64_t micros = 0;
  if (text[pos] == '.') {
    ++pos;
    const size_t first_digit = pos;
    bool dropped_nonzero = false;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const size_t index = pos - first_digit;
      if (index < 6) {
        micros = micros * 10 + (text[pos] - '0');
      } else if (text[pos] != '0') {
        dropped_nonzero = true;
      }
      ++pos;
    }
    const size_t digits = pos - first_digit;
    if (digits == 0) return TimeError(kSyntax, text);
    for (size_t i = digits; i < 6; ++i) micros *= 10;
    if (dropped_nonzero) {
      return TimeError("must have at most 6 fractional second digits", text);
    }
  }
  int32_t offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    int off_hours, off_minutes;
    if (!ReadDigits(text, pos + 1, 2, &off_hours) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, &off_minutes)) {
      return TimeError(kSyntax, text);
    }
    if (off_hours > 23 || off_minutes > 59) {
      return TimeError("must have a UTC offset within -23:59..+23:59", text);
    }
    offset = off_hours * 60 + off_minutes;
    if (negative) offset = -offset;
    pos += 6;
  } else {
    return TimeError(kSyntax, text);
  }
  if (pos != text.size()) return TimeError(kSyntax, text);

  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return TimeError("must be a valid calendar date and time", text);
  }
  if (year < 1970) return TimeError("must have a year in 1970..9999", text);

  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t local_seconds = days * 86'400 + hour * 3600 + minute * 60 + second;
  const int64_t utc_us = (local_seconds - int64_t{offset} * 60) * kMicrosPerSecond + micros;
  if (utc_offset_minutes != nullptr) *utc_offset_minutes = offset;
  return utc_us;
}

std::string FormatRfc3339(int64_t time_us, int32_t utc_offset_minutes) {
  // An offset RFC 3339 cannot express is written as UTC: same instant.
  if (utc_offset_minutes > kMaxOffsetMinutes || utc_offset_minutes < -kMaxOffsetMinutes) {
    utc_offset_minutes = 0;
  }
  const int64_t local_us = time_us + int64_t{utc_offset_minutes} * 60 * kMicrosPerSecond;
  int64_t days = local_us / kMicrosPerDay;
  int64_t day_us = local_us % kMicrosPerDay;
  if (day_us < 0) {
    day_us += kMicrosPerDay;
    --days;
  }
  int64_t year;
  int month, day;
  CivilFromDays(days, &year, &month, &day);
  const int64_t seconds_of_day = day_us / kMicrosPerSecond;
  const int64_t micros = day_us % kMicrosPerSecond;

  std::string out;
  out.reserve(32);
  if (year >= 0 && year <= 9999) {
    AppendTwoDigits(&out, static_cast<int>(year / 100));
    AppendTwoDigits(&out, static_cast<int>(year % 100));
  } else {
    json_text::AppendInt(&out, year);  // outside RFC 3339; still unambiguous
  }
  out.push_back('-');
  AppendTwoDigits(&out, month);
  out.push_back('-');
  AppendTwoDigits(&out, day);
  out.push_back('T');
  AppendTwoDigits(&out, static_cast<int>(seconds_of_day / 3600));
  out.push_back(':');
  AppendTwoDigits(&out, static_cast<int>(seconds_of_day / 60 % 60));
  out.push_back(':');
  AppendTwoDigits(&out, static_cast<int>(seconds_of_day % 60));
  if (micros != 0) {
    // Milliseconds when exact (the common producer precision), else micros.
    const bool millis = micros % 1000 == 0;
    int64_t fraction = millis ? micros / 1000 : micros;
    char digits[6];
    const int width = millis ? 3 : 6;
    for (int i = width - 1; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    out.push_back('.');
    out.append(digits, width);
  }
  if (utc_offset_minutes == 0) {
    out.push_back('Z');
  } else {
    const int32_t magnitude = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
    out.push_back(utc_offset_minutes < 0 ? '-' : '+');
    AppendTwoDigits(&out, magnitude / 60);
    out.push_back(':');
    AppendTwoDigits(&out, magnitude % 60);
  }
  return out;
}

}  // namespace jiritsu
