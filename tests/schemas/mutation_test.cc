// Property-style tests: random mutations of the valid examples never crash
// the decoder, give the same answer twice, and whatever is accepted
// round-trips canonically. Field-level mutations report an error on the
// mutated field (or accept the value).
#include <gtest/gtest.h>

#include <random>

#include "schemas/codec.h"
#include "schemas/event_fields.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

using testing_schemas::ExamplesDir;
using testing_schemas::ReadFile;

std::vector<std::string> ValidExamples() {
  std::vector<std::string> examples;
  for (int i = 0; i < kEventTypeCount; ++i) {
    examples.push_back(
        ReadFile(ExamplesDir() / std::string(EventTypeName(static_cast<EventType>(i))) / "valid.json"));
  }
  return examples;
}

// Checks the decoder's contract on one input; returns the outcome text.
std::string CheckOne(const std::string& input) {
  const Result<Event> first = DecodeJsonEvent(input);
  const Result<Event> second = DecodeJsonEvent(input);
  EXPECT_EQ(first.ok(), second.ok());
  if (!first.ok()) {
    EXPECT_EQ(first.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(first.status().message(), second.status().message());
    EXPECT_NE(first.status().message().find(": "), std::string::npos) << first.status().message();
    return first.status().message();
  }
  EXPECT_EQ(*first, *second);
  const std::string canonical = EncodeJsonEvent(*first);
  const Result<Event> again = DecodeJsonEvent(canonical);
  EXPECT_TRUE(again.ok()) << canonical;
  if (again.ok()) {
    EXPECT_EQ(*again, *first) << canonical;
    EXPECT_EQ(EncodeJsonEvent(*again), canonical);
  }
  const Result<Event> binary = DecodeBinaryEvent(EncodeBinaryEvent(*first));
  EXPECT_TRUE(binary.ok());
  if (binary.ok()) {
    EXPECT_EQ(*binary, *first);
  }
  return "OK";
}

TEST(Mutation, RandomByteEditsOfValidEvents) {
  static constexpr std::string_view kInteresting = "{}[]\",:0-9.eE\\ ntfu";
  std::mt19937 rng(20250401);
  int accepted = 0;
  for (const std::string& valid : ValidExamples()) {
    for (int round = 0; round < 400; ++round) {
      std::string input = valid;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !input.empty(); ++e) {
        const size_t at = rng() % input.size();
        switch (rng() % 4) {
          case 0: input[at] = kInteresting[rng() % kInteresting.size()]; break;
          case 1: input.erase(at, 1 + rng() % 8); break;
          case 2: input.insert(at, 1, kInteresting[rng() % kInteresting.size()]); break;
          case 3: input.resize(at); break;
        }
      }
      SCOPED_TRACE(input);
      if (CheckOne(input) == "OK") ++accepted;
    }
  }
  // Edits inside free text or whitespace keep the event valid.
  EXPECT_GT(accepted, 0);
}

// The same event with one data field replaced or removed.
std::string WithDataField(simdjson::dom::object event, std::string_view field,
                          const std::string* replacement) {
  std::string out = "{";
  bool first = true;
  for (auto member : event) {
    if (!first) out += ",";
    first = false;
    out += "\"" + std::string(member.key) + "\":";
    if (member.key != "data") {
      out += simdjson::minify(member.value);
      continue;
    }
    out += "{";
    bool first_field = true;
    for (auto data_member : simdjson::dom::object(member.value)) {
      const bool target = data_member.key == field;
      if (target && replacement == nullptr) continue;
      if (!first_field) out += ",";
      first_field = false;
      out += "\"" + std::string(data_member.key) + "\":";
      out += target ? *replacement : simdjson::minify(data_member.value);
    }
    out += "}";
  }
  return out + "}";
}

TEST(Mutation, ReplacedOrMissingFieldsReportThatField) {
  const std::vector<std::string> values = {
      "null", "true", "false", "0", "-1", "1.5", "1e308", "-0", "601", "10001", "\"\"",
      "\"x\"", "\"a b\"", "[]", "[\"x\"]", "{}", "\"" + std::string(200, 'z') + "\""};
  simdjson::dom::parser parser;
  int rejected = 0;
  for (const std::string& valid : ValidExamples()) {
    simdjson::dom::object event;
    ASSERT_EQ(parser.parse(valid).get(event), simdjson::SUCCESS);
    std::vector<std::string> field_names;
    for (auto member : simdjson::dom::object(event["data"])) field_names.emplace_back(member.key);
    for (const std::string& field : field_names) {
      for (const std::string* replacement = nullptr;;) {
        const std::string input = WithDataField(event, field, replacement);
        SCOPED_TRACE(input);
        const std::string outcome = CheckOne(input);
        if (outcome != "OK") {
          ++rejected;
          // The error names the mutated field (a step inside it, the whole
          // data object for cross-field rules, or the subject that must equal
          // an entity id).
          const bool on_field = outcome.rfind("data." + field, 0) == 0;
          const bool on_object = outcome.rfind("data: ", 0) == 0;
          const bool on_subject = outcome.rfind("subject: must equal data." + field, 0) == 0;
          const bool on_dependent = field == "kind";  // kind changes which fields belong
          EXPECT_TRUE(on_field || on_object || on_subject || on_dependent) << outcome;
        }
        const size_t next = replacement == nullptr ? 0 : static_cast<size_t>(replacement - values.data()) + 1;
        if (next >= values.size()) break;
        replacement = &values[next];
      }
    }
  }
  EXPECT_GT(rejected, 500);
}

}  // namespace
}  // namespace jiritsu
