#include "tests/testing/fuzz_targets.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>

#include "schemas/codec.h"

namespace jiritsu::fuzzing {
namespace {

[[noreturn]] void Violated(const char* target, const char* property, std::string_view detail) {
  std::fprintf(stderr, "fuzz target %s: property violated: %s\n  %.*s\n", target, property,
               static_cast<int>(std::min<size_t>(detail.size(), 2000)), detail.data());
  std::abort();
}

void CheckBinaryRoundTrip(const char* target, const Event& event) {
  const std::string bytes = EncodeBinaryEvent(event);
  Result<Event> again = DecodeBinaryEvent(bytes);
  if (!again.ok()) Violated(target, "binary re-encoding decodes", again.status().ToString());
  if (!(*again == event)) Violated(target, "binary round trip preserves the event", EncodeJsonEvent(event));
}

}  // namespace

void FuzzJsonEvent(std::string_view bytes) {
  Result<Event> event = DecodeJsonEvent(bytes);
  if (!event.ok()) {
    if (event.status().message().empty()) Violated("json-event", "a rejection says why", bytes);
    return;
  }
  const std::string canonical = EncodeJsonEvent(*event);
  Result<Event> again = DecodeJsonEvent(canonical);
  if (!again.ok()) {
    Violated("json-event", "canonical JSON of an accepted event is accepted",
             canonical + "\n  " + again.status().ToString());
  }
  if (!(*again == *event)) Violated("json-event", "JSON round trip preserves the event", canonical);
  if (EncodeJsonEvent(*again) != canonical) {
    Violated("json-event", "canonical JSON is a fixed point", canonical);
  }
  CheckBinaryRoundTrip("json-event", *event);
}

void FuzzBinaryEvent(std::string_view bytes) {
  Result<Event> event = DecodeBinaryEvent(bytes);
  if (!event.ok()) return;
  CheckBinaryRoundTrip("binary-event", *event);
}

std::vector<std::string> FuzzTargetNames() { return {"json-event", "binary-event"}; }

bool RunFuzzTarget(std::string_view name, std::string_view bytes) {
  if (name == "json-event") {
    FuzzJsonEvent(bytes);
  } else if (name == "binary-event") {
    FuzzBinaryEvent(bytes);
  } else {
    return false;
  }
  return true;
}

}  // namespace jiritsu::fuzzing
