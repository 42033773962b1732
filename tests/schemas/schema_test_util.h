// Shared helpers for the schemas tests: reading the example fixtures in
// schemas/examples/<type>/ (valid.json, invalid.jsonl, golden-v1.bin).
//
// Fixture line format (invalid.jsonl), one JSON object per line:
//   {"event": <the bad event, or a string holding raw bytes such as malformed
//    JSON>, "error": "<exact expected message>", "pad_to_bytes": N (optional:
//    append spaces to the raw event up to N bytes, for the size limit)}
#pragma once

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace jiritsu::testing_schemas {

inline std::filesystem::path SourceDir() { return JIRITSU_SOURCE_DIR; }
inline std::filesystem::path ExamplesDir() { return SourceDir() / "schemas" / "examples"; }

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct InvalidCase {
  int line = 0;
  std::string raw_event;       // the bytes handed to the decoder
  std::string expected_error;  // exact Status message
  std::string problem;         // non-empty when the fixture line itself is broken
};

// Parses one invalid.jsonl line; the raw event keeps its exact bytes.
inline InvalidCase ParseInvalidLine(int line_number, const std::string& line) {
  InvalidCase c;
  c.line = line_number;
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(line);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(padded).get(doc) || doc.get_object().get(object)) {
    c.problem = "line is not a JSON object";
    return c;
  }
  int64_t pad_to = 0;
  bool have_event = false;
  for (auto field : object) {
    std::string_view key;
    simdjson::ondemand::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) {
      c.problem = "unreadable field";
      return c;
    }
    if (key == "event") {
      have_event = true;
      simdjson::ondemand::json_type type;
      if (value.type().get(type)) {
        c.problem = "bad event value";
        return c;
      }
      std::string_view raw;
      simdjson::error_code error = simdjson::SUCCESS;
      switch (type) {
        case simdjson::ondemand::json_type::string: error = value.get_string().get(raw); break;
        case simdjson::ondemand::json_type::object: {
          simdjson::ondemand::object inner;
          error = value.get_object().get(inner);
          if (!error) error = inner.raw_json().get(raw);
          break;
        }
        case simdjson::ondemand::json_type::array: {
          simdjson::ondemand::array inner;
          error = value.get_array().get(inner);
          if (!error) error = inner.raw_json().get(raw);
          break;
        }
        default: raw = value.raw_json_token(); break;
      }
      if (error) {
        c.problem = "bad event value";
        return c;
      }
      c.raw_event.assign(raw);
      // raw_json_token keeps trailing whitespace before the next comma.
      while (!c.raw_event.empty() && (c.raw_event.back() == ' ' || c.raw_event.back() == '\t')) {
        if (type == simdjson::ondemand::json_type::string) break;
        c.raw_event.pop_back();
      }
    } else if (key == "error") {
      std::string_view error;
      if (value.get_string().get(error)) {
        c.problem = "error must be a string";
        return c;
      }
      c.expected_error.assign(error);
    } else if (key == "pad_to_bytes") {
      if (value.get_int64().get(pad_to)) {
        c.problem = "pad_to_bytes must be an integer";
        return c;
      }
    } else {
      c.problem = "unknown key in fixture line";
      return c;
    }
  }
  if (!have_event || c.expected_error.empty()) c.problem = "needs \"event\" and \"error\"";
  if (pad_to > 0 && static_cast<size_t>(pad_to) > c.raw_event.size()) {
    c.raw_event.append(static_cast<size_t>(pad_to) - c.raw_event.size(), ' ');
  }
  return c;
}

inline std::vector<InvalidCase> LoadInvalidCases(const std::filesystem::path& path) {
  std::vector<InvalidCase> cases;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    cases.push_back(ParseInvalidLine(number, line));
  }
  return cases;
}

}  // namespace jiritsu::testing_schemas
