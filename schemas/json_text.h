// Internal to schemas/: small text helpers shared by the JSON encoder, the
// decoder's error messages and the JSON Schema generator.
//
// Thread-safety: pure functions. Failure: none (inputs are total).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jiritsu::json_text {

// Integers as decimal.
void AppendInt(std::string* out, int64_t value);
void AppendUint(std::string* out, uint64_t value);
// A finite double as the shortest text that parses back to the same value;
// integral values below 2^53 without decimals or exponent ("12", not
// "12.0" or "1.2e+01"); -0 as "0". Non-finite values (never produced by the
// decoder) are written as null.
void AppendDouble(std::string* out, double value);

// Unicode code points in valid UTF-8 (bytes that are not continuations).
size_t CountCodePoints(std::string_view utf8);

// A string for an error message: JSON-quoted when at most 64 code points,
// else "a 300-character string" (keeps messages short and deterministic).
void AppendDisplayString(std::string* out, std::string_view value);

}  // namespace jiritsu::json_text
