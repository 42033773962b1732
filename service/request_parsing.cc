#include "service/request_parsing.h"

#include <simdjson.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "schemas/codec.h"
#include "service/jwt.h"

namespace jiritsu::service {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Fail(HttpError* error, int status, std::string code, std::string message) {
  error->status = status;
  error->code = std::move(code);
  error->message = std::move(message);
  return false;
}

}  // namespace

std::string MediaTypeOf(std::string_view content_type) {
  std::string type = Lower(content_type);
  const size_t semicolon = type.find(';');
  if (semicolon != std::string::npos) type.resize(semicolon);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.erase(type.begin());
  return type;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool ParseEventsBody(std::string_view content_type, const HeaderList& headers, std::string_view body,
                     std::vector<std::string>* texts, HttpError* error) {
  texts->clear();
  const std::string media_type = MediaTypeOf(content_type);
  bool binary = false;
  for (const auto& [name, value] : headers) {
    if (Lower(name) == "ce-specversion") binary = true;
  }
  if (media_type != "application/json" && media_type != "application/cloudevents+json" &&
      media_type != "application/cloudevents-batch+json") {
    return Fail(error, 415, "unsupported_media_type",
                binary ? "binary mode: the data must be application/json"
                       : "use application/cloudevents+json, application/cloudevents-batch+json "
                         "or application/json (or binary mode with ce-* headers)");
  }
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  // A padded copy: the parser reads past the end, and an empty string_view
  // may have a null data() (fuzz-regressions/http-request/empty-body).
  const simdjson::padded_string padded(body.data() == nullptr ? std::string_view("") : body);
  if (auto parsed = parser.parse(padded).get(root); parsed != simdjson::SUCCESS) {
    return Fail(error, 400, "malformed_json",
                std::string(binary ? "data" : "body") + ": not valid JSON (" +
                    simdjson::error_message(parsed) + ")");
  }
  if (binary) {
    // CloudEvents HTTP binary mode: attributes in ce-* headers, data in the body.
    std::string event = "{";
    bool first = true;
    for (const auto& [name, value] : headers) {
      const std::string lower = Lower(name);
      if (!lower.starts_with("ce-") || lower.size() == 3) continue;
      if (lower == "ce-data" || lower == "ce-datacontenttype") continue;
      if (!first) event += ",";
      first = false;
      AppendJsonString(&event, lower.substr(3));
      event += ":";
      AppendJsonString(&event, PercentDecode(value));
    }
    event += first ? "" : ",";
    event += "\"datacontenttype\":\"application/json\",\"data\":";
    event += simdjson::to_string(root);
    event += "}";
    texts->push_back(std::move(event));
    return true;
  }
  if (root.is_array()) {
    if (media_type == "application/cloudevents+json") {
      return Fail(error, 400, "bad_request",
                  "application/cloudevents+json carries one event; send a batch as "
                  "application/cloudevents-batch+json or application/json");
    }
    for (simdjson::dom::element item : simdjson::dom::array(root)) {
      texts->push_back(simdjson::to_string(item));
    }
    if (texts->empty()) return Fail(error, 400, "empty_batch", "the batch holds no events");
    return true;
  }
  if (root.is_object()) {
    texts->push_back(simdjson::to_string(root));
    return true;
  }
  return Fail(error, 400, "bad_request", "body: must be a CloudEvent object or an array of them");
}

Result<size_t> ParseLimitParam(const std::optional<std::string>& text, int64_t default_limit,
                               int64_t max_limit) {
  if (!text) return static_cast<size_t>(default_limit);
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || errno == ERANGE || value < 1 || value > max_limit ||
      std::isspace(static_cast<unsigned char>(text->front()))) {
    return InvalidArgument("limit: must be 1.." + std::to_string(max_limit) + ", got \"" + *text + "\"");
  }
  return static_cast<size_t>(value);
}

Result<std::string> ParseCursorParam(const std::optional<std::string>& text) {
  if (!text) return std::string();
  Result<std::string> key = Base64UrlDecode(*text);
  if (!key.ok() || key->empty()) return InvalidArgument("cursor: not a cursor returned by this API");
  return key;
}

Result<std::optional<int64_t>> ParseAsOfParam(const std::optional<std::string>& text) {
  if (!text) return std::optional<int64_t>();
  int32_t offset = 0;
  Result<int64_t> time = ParseRfc3339(*text, &offset);
  if (!time.ok()) return InvalidArgument("as_of: " + time.status().message());
  return std::optional<int64_t>(*time);
}

}  // namespace jiritsu::service
