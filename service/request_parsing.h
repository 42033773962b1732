// The parts of HTTP request handling that need no socket: the POST /v1/events
// body (structured, batch and CloudEvents binary mode with ce-* headers),
// the Content-Type media type, percent-decoding of header values, and the
// query parameters limit / cursor / as_of. HttpService (service/server.h)
// calls these; the http-request fuzz target (tests/testing/fuzz_targets.h)
// calls them on arbitrary bytes.
//
// Lifecycle: free functions. Thread-safety: reentrant. Failure: never
// throws; a bad request is an HttpError (status, code, message naming what
// is wrong) or a kInvalidArgument Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace jiritsu::service {

struct HttpError {
  int status = 0;
  std::string code;     // machine-readable, e.g. "malformed_json"
  std::string message;  // for people: what and why
};

// Request headers as received (names in any case).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// "Application/JSON; charset=utf-8" -> "application/json".
std::string MediaTypeOf(std::string_view content_type);

// %XX escapes decoded; anything else (including a broken escape) kept as is.
std::string PercentDecode(std::string_view text);

// The events of a POST /v1/events request, each as JSON text for
// DecodeJsonEvent: one (structured mode or binary mode, where the ce-*
// headers become the attributes and the body the data) or a batch (a JSON
// array). Returns false and fills *error for an unsupported media type
// (415), a body that is not JSON (400 malformed_json), an array sent as
// application/cloudevents+json or a scalar (400 bad_request), an empty batch
// (400 empty_batch). Events themselves are not validated here.
bool ParseEventsBody(std::string_view content_type, const HeaderList& headers, std::string_view body,
                     std::vector<std::string>* texts, HttpError* error);

// ?limit=: absent -> `default_limit`; otherwise an integer 1..max_limit.
Result<size_t> ParseLimitParam(const std::optional<std::string>& text, int64_t default_limit,
                               int64_t max_limit);
// ?cursor=: absent -> "" (from the start); otherwise the non-empty key a
// previous page returned (base64url).
Result<std::string> ParseCursorParam(const std::optional<std::string>& text);
// ?as_of=: absent -> nullopt; otherwise an RFC 3339 time (microseconds).
Result<std::optional<int64_t>> ParseAsOfParam(const std::optional<std::string>& text);

}  // namespace jiritsu::service
