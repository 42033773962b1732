// JSON Schema (draft 2020-12) documents for the event contract, generated
// from the same field descriptions the codec validates with
// (schemas/event_fields.h). The checked-in files schemas/envelope.schema.json
// and schemas/<type>.schema.json are this output; a test fails when they
// drift (regenerate with JIRITSU_WRITE_SCHEMAS=1 schemas_tests).
//
// What JSON Schema cannot express is stated in the descriptions and enforced
// only by the decoder: a reference event's subject must equal its entity id;
// calendar validity of `time` (Feb 30) unless a validator asserts "format";
// free-text lengths count code points (as JSON Schema's maxLength does).
//
// Lifecycle: pure functions returning pretty-printed JSON (2-space indent,
// trailing newline), byte-for-byte deterministic.
// Thread-safety: reentrant. Failure: none.
#pragma once

#include <string>

#include "schemas/event.h"

namespace jiritsu {

// Base URI of the published schemas; relative "$ref"s resolve against it.
inline constexpr std::string_view kSchemaBaseUri = "https://jiritsu.example/schemas/";

std::string EnvelopeJsonSchema();
std::string EventJsonSchema(EventType type);

}  // namespace jiritsu
