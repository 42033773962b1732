// Event codecs: CloudEvents JSON (the wire/log format) and versioned cereal
// binary (stored values and internal messages).
//
// JSON decoding validates strictly. A rejection is Status kInvalidArgument
// whose message starts with the field path and states the rule, e.g.
//   "data.learning_state: must be an integer 1..6, got 7"
//   "time: must be RFC 3339 with a UTC offset, got \"2025-04-01 09:00\""
//   "type: unknown event type \"employee.promoted\""
//   "schemaversion: unsupported version 9 (this build reads 1..1)"
//   "event: 70123 bytes exceeds the 65536-byte limit"
// Older schema versions are upcast to the current struct on read.
//
// Binary encoding wraps the event in an envelope {format version, min
// compatible version, payload}; DecodeBinary rejects (kCorruption) bytes it
// cannot read and never crashes on arbitrary input.
//
// Thread-safety: all functions are reentrant (parsers are thread_local).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu {

// Parses and validates one CloudEvents structured-mode JSON object.
Result<Event> DecodeJsonEvent(std::string_view json);

// CloudEvents HTTP binary mode: attributes from ce-* headers, body = data.
struct CloudEventAttributes {
  std::string specversion, id, source, type, subject, time, schemaversion;
};
Result<Event> DecodeBinaryModeEvent(const CloudEventAttributes& attributes,
                                    std::string_view data_json);

// Canonical single-line JSON: fixed attribute order, no optional fields that
// are empty/absent, shortest round-trip numbers. DecodeJsonEvent(EncodeJson(e))
// == e for every valid e.
std::string EncodeJsonEvent(const Event& event);

// Versioned cereal binary.
std::string EncodeBinaryEvent(const Event& event);
// The same bytes appended to *out (one buffer for a record that embeds them).
void AppendBinaryEvent(const Event& event, std::string* out);
Result<Event> DecodeBinaryEvent(std::string_view bytes);

// Compact event data: only `event.data`, for stores whose keys and own
// fields already hold the event's identity, time and type (the processors'
// journal rows, processors/stored_event.h). Strings and lists carry varint
// lengths, integers are zigzag varints, numbers their 8 IEEE bytes, flags and
// enums one byte; no envelope and no checksum (the store checksums its
// blocks). Written in the current data shape.
void AppendCompactEventData(const Event& event, std::string* out);
// Reads `bytes` written with data `schema_version` into event->data, for
// event->type (set by the caller); sets event->schema_version to the
// current one. kCorruption, naming the field, for bytes it cannot read,
// trailing bytes or a schema version it has no reader for.
Status DecodeCompactEventData(std::string_view bytes, uint32_t schema_version, Event* event);

// RFC 3339 helpers (also used by the CLI for --as-of).
Result<int64_t> ParseRfc3339(std::string_view text, int32_t* utc_offset_minutes);
std::string FormatRfc3339(int64_t time_us, int32_t utc_offset_minutes);

// Minimal JSON string escaping, shared by everything that prints JSON.
void AppendJsonString(std::string* out, std::string_view text);

}  // namespace jiritsu
