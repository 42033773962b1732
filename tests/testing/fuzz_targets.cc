#include "tests/testing/fuzz_targets.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>

#include <ctime>
#include <memory>

#include <simdjson.h>

#include "schemas/codec.h"
#include "service/auth.h"
#include "service/jwt.h"
#include "service/request_parsing.h"

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

void FuzzCompactData(std::string_view bytes) {
  if (bytes.empty()) return;
  Event event;
  event.type = static_cast<EventType>(static_cast<uint8_t>(bytes[0]) % kEventTypeCount);
  const Status decoded = DecodeCompactEventData(bytes.substr(1), kCurrentSchemaVersion, &event);
  if (!decoded.ok()) {
    if (decoded.code() != StatusCode::kCorruption || decoded.message().empty()) {
      Violated("compact-data", "a rejection is kCorruption and says why", decoded.ToString());
    }
    return;
  }
  // Varints may have been longer than needed, and a NaN never equals
  // itself: the re-encoding is the fixed point to compare.
  std::string again;
  AppendCompactEventData(event, &again);
  Event twice;
  twice.type = event.type;
  const Status redecoded = DecodeCompactEventData(again, kCurrentSchemaVersion, &twice);
  if (!redecoded.ok()) {
    Violated("compact-data", "the re-encoding of accepted data decodes", redecoded.ToString());
  }
  std::string thrice;
  AppendCompactEventData(twice, &thrice);
  if (thrice != again) Violated("compact-data", "the re-encoding is a fixed point", again);
}

namespace {

constexpr char kFuzzSecret[] = "fuzz-secret-0123456789abcdef0123456789";
constexpr int64_t kFuzzNow = 1'750'000'000;  // fixed: the target must be deterministic

const service::Authenticator& FuzzAuthenticator() {
  static const std::unique_ptr<service::Authenticator> authenticator = [] {
    service::ServeConfig config;
    config.issuer = "https://idp.fuzz";
    config.audience = "jiritsu-fuzz";
    config.leeway_s = 5;
    config.keys.push_back({"k1", "HS256", kFuzzSecret, ""});
    config.service_credentials.push_back({"fuzz-system", {"/hr/*"}, service::Sha256Hex("fuzz-token")});
    auto created = service::Authenticator::Create(config);
    if (!created.ok()) Violated("http-request", "the fuzz authenticator is created", created.status().ToString());
    return std::move(created).value();
  }();
  return *authenticator;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  return text;
}

void CheckParams(const service::HeaderList& headers) {
  for (const auto& [name, value] : headers) {
    if (name == "limit") {
      Result<size_t> limit = service::ParseLimitParam(value, 50, 1000);
      if (limit.ok() && (*limit < 1 || *limit > 1000)) Violated("http-request", "limit within 1..max", value);
    } else if (name == "cursor") {
      Result<std::string> key = service::ParseCursorParam(value);
      if (key.ok()) {
        if (key->empty()) Violated("http-request", "an accepted cursor names a key", value);
        Result<std::string> again = service::Base64UrlDecode(service::Base64UrlEncode(*key));
        if (!again.ok() || *again != *key) Violated("http-request", "cursor keys round-trip", value);
      }
    } else if (name == "as_of") {
      Result<std::optional<int64_t>> time = service::ParseAsOfParam(value);
      if (time.ok() && time->has_value()) {
        int32_t offset = 0;
        Result<int64_t> again = ParseRfc3339(FormatRfc3339(**time, 0), &offset);
        if (!again.ok() || *again != **time) Violated("http-request", "as_of times round-trip", value);
      }
    } else if (name == "authorization") {
      Result<service::Principal> principal = FuzzAuthenticator().Authenticate(value, kFuzzNow);
      if (!principal.ok() && principal.status().message().empty()) {
        Violated("http-request", "a refused credential says why", value);
      }
    } else if (name == "jwt-claims") {
      // Claims signed with the configured key: the claims parser and the
      // checks behind the signature see arbitrary JSON.
      const std::string token = service::SignHs256(value, kFuzzSecret, "k1");
      Result<service::Principal> principal = FuzzAuthenticator().Authenticate("Bearer " + token, kFuzzNow);
      if (principal.ok() && principal->method != "jwt") Violated("http-request", "a JWT authenticates as jwt", value);
    }
  }
}

}  // namespace

// Input: header lines "name: value" (the body starts after the first empty
// line). Content-Type and ce-* go to the POST /v1/events body parser; the
// pseudo headers limit, cursor, as_of, authorization and jwt-claims go to
// the query-parameter parsers and the authenticator.
void FuzzHttpRequest(std::string_view bytes) {
  service::HeaderList headers;
  std::string content_type = "application/json";
  size_t pos = 0;
  while (pos < bytes.size()) {
    size_t end = bytes.find('\n', pos);
    if (end == std::string_view::npos) end = bytes.size();
    const std::string_view line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (Trim(line).empty()) break;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(Trim(line.substr(0, colon)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string value(Trim(line.substr(colon + 1)));
    if (name == "content-type") content_type = value;
    headers.emplace_back(std::move(name), value);
  }
  const std::string_view body = pos < bytes.size() ? bytes.substr(pos) : std::string_view();
  CheckParams(headers);

  std::vector<std::string> texts;
  service::HttpError error;
  if (!service::ParseEventsBody(content_type, headers, body, &texts, &error)) {
    if (error.status < 400 || error.status > 499 || error.code.empty() || error.message.empty()) {
      Violated("http-request", "a refused body gets a 4xx with a code and a message", error.message);
    }
    return;
  }
  if (texts.empty()) Violated("http-request", "an accepted body holds events", body);
  simdjson::dom::parser parser;
  for (const std::string& text : texts) {
    // Every event text (including one built from ce-* headers) is JSON.
    simdjson::dom::element element;
    if (parser.parse(text).get(element) != simdjson::SUCCESS) {
      Violated("http-request", "each event text is valid JSON", text);
    }
    FuzzJsonEvent(text);
  }
}

std::vector<std::string> FuzzTargetNames() {
  return {"json-event", "binary-event", "compact-data", "http-request"};
}

bool RunFuzzTarget(std::string_view name, std::string_view bytes) {
  if (name == "json-event") {
    FuzzJsonEvent(bytes);
  } else if (name == "binary-event") {
    FuzzBinaryEvent(bytes);
  } else if (name == "compact-data") {
    FuzzCompactData(bytes);
  } else if (name == "http-request") {
    FuzzHttpRequest(bytes);
  } else {
    return false;
  }
  return true;
}

}  // namespace jiritsu::fuzzing
