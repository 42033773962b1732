// xAPI statements: validation against the MUST requirements of the xAPI
// specification (1.0.3 and IEEE 9274.1.1 "2.0"), statement comparison for
// immutability, and the small value helpers the LRS needs (UUIDs, ISO 8601
// timestamps and durations, agent identifiers).
//
// The requirement list, with the test covering each, is in docs/xapi.md
// ("Validation checklist"). Errors name what was wrong, where (a JSON path
// such as "statement.actor.mbox") and why:
//   "statement.result.score.scaled: must be between -1 and 1, got 1.5".
//
// Thread-safety: pure functions. Failure: kInvalidArgument with the message
// above; nothing else.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace jiritsu::xapi {

// For optional reads whose target keeps its default when absent.
inline void IgnoreError(simdjson::error_code) {}

inline constexpr std::string_view kVoidedVerb = "http://adlnet.gov/expapi/verbs/voided";

// Validates one statement (a JSON value as received). `path` prefixes every
// error location. Attachments without fileUrl are rejected: their bodies
// would need a multipart/mixed request, which this LRS does not accept
// (docs/xapi.md, "Not implemented").
Status ValidateStatement(simdjson::dom::element statement, std::string_view path = "statement");

// Individual rules, exposed for tests and for the query parameters of GET.
bool IsUuid(std::string_view text);
// Absolute IRI: scheme ":" hier-part, no whitespace, no control characters.
bool IsIri(std::string_view text);
// RFC 5646 language tag (syntax only: language[-script][-region](-variant)*
// (-extension)*[-privateuse], or a private-use / grandfathered tag).
bool IsLanguageTag(std::string_view text);
// ISO 8601 duration as xAPI uses it: PnYnMnDTnHnMnS / PnW, at least one
// component, a fraction only on the last (smallest) component.
bool IsIso8601Duration(std::string_view text);
// Seconds of such a duration (years = 365 d, months = 30 d); nullopt when invalid.
std::optional<double> DurationSeconds(std::string_view text);
// ISO 8601 date-time with a time zone (Z or +hh:mm / +hhmm / +hh; "-00:00"
// is refused as RFC 3339 says it means "unknown offset"); fractions of any
// length. Returns UTC microseconds (fraction truncated) and the offset.
Result<int64_t> ParseTimestamp(std::string_view text, int32_t* utc_offset_minutes = nullptr);
// "YYYY-MM-DDThh:mm:ss.ffffffZ" for UTC microseconds (the LRS's own `stored`).
std::string FormatTimestampUtc(int64_t time_us);
// A random (version 4) UUID, lower case.
std::string NewUuid();
// Lower-case hex SHA-256 / SHA-1.
std::string Sha256Hex(std::string_view bytes);

// The inverse functional identifier of an Agent or identified Group as one
// comparable string ("mbox:mailto:a@b", "account:<homePage>|<name>", ...);
// nullopt for an anonymous group or an invalid value.
std::optional<std::string> AgentIdentity(simdjson::dom::element agent);

// The canonical form used to compare two statements with the same id
// (xAPI-Data 2.3.1 "Statement Comparison Requirements"): the statement
// without the immutability exceptions (id, authority, stored, timestamp,
// version, attachments, activity definitions, the verb's display); objects
// with sorted keys; group members in sorted order; numbers by value; mbox
// case-folded; everything else (durations included) compared as sent. Two statements are "the same" iff their
// SHA-256 of this form are equal.
std::string ComparisonForm(simdjson::dom::element statement);
std::string ComparisonHash(simdjson::dom::element statement);

// JSON serialisation of a DOM value with the keys of every object in the
// order given (simdjson keeps input order); strings escaped minimally.
std::string ToJson(simdjson::dom::element value);

}  // namespace jiritsu::xapi
