// Fuzz target bodies, shared by the libFuzzer executables (tests/fuzz/,
// built by ops/fuzz with clang) and the regression test that replays
// tests/fuzz-regressions/<target>/* with the normal compiler
// (tests/schemas/fuzz_regression_test.cc).
//
// Each body feeds arbitrary bytes to a decoder and checks the properties a
// decoder must keep on any input; a violated property aborts (std::abort
// after a message on stderr), which libFuzzer and the test both report.
//   json-event:   DecodeJsonEvent never crashes; an accepted event re-encodes
//                 to canonical JSON that decodes to the same Event and
//                 re-encodes to the same bytes, and round-trips through the
//                 binary codec.
//   binary-event: DecodeBinaryEvent never crashes; a decoded event
//                 re-encodes to bytes that decode to the same Event.
//   compact-data: the journal rows' data (DecodeCompactEventData): the first
//                 byte picks the event type, the rest is the data; it never
//                 crashes, and what it accepts re-encodes to bytes that
//                 decode and re-encode to the same bytes.
//   http-request: the HTTP request parsing of `jiritsu serve` that needs no
//                 socket (service/request_parsing.h: POST /v1/events bodies
//                 in structured, batch and binary mode with ce-* headers;
//                 limit / cursor / as_of; service/auth.h: the Authorization
//                 header and JWT claims behind a valid signature) never
//                 crashes; a refusal is a 4xx with a code and a message;
//                 every event text it produces is JSON and passes json-event.
//
// Thread-safety: reentrant. Failure: abort() on a violated property.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jiritsu::fuzzing {

void FuzzJsonEvent(std::string_view bytes);
void FuzzBinaryEvent(std::string_view bytes);
void FuzzCompactData(std::string_view bytes);
void FuzzHttpRequest(std::string_view bytes);

// The target names ops/fuzz and the regression directories use.
// {"json-event", "binary-event", "compact-data", "http-request"}
std::vector<std::string> FuzzTargetNames();
// Runs the named target on `bytes`; false for an unknown name.
bool RunFuzzTarget(std::string_view name, std::string_view bytes);

}  // namespace jiritsu::fuzzing
