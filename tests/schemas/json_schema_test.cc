// The checked-in JSON Schema files are exactly what the generator produces
// from the codec's own field descriptions, so what integrators read cannot
// drift from what the decoder enforces. JIRITSU_WRITE_SCHEMAS=1 rewrites them.
#include <gtest/gtest.h>

#include <cstdlib>

#include "schemas/json_schema.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

using testing_schemas::ReadFile;
using testing_schemas::SourceDir;

bool WriteRequested() {
  const char* write = std::getenv("JIRITSU_WRITE_SCHEMAS");
  return write != nullptr && std::string(write) == "1";
}

void ExpectFileMatches(const std::filesystem::path& path, const std::string& generated) {
  if (WriteRequested()) testing_schemas::WriteFile(path, generated);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(generated).get(root), simdjson::SUCCESS) << "generated schema is not JSON";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << ": run with JIRITSU_WRITE_SCHEMAS=1";
  EXPECT_EQ(ReadFile(path), generated)
      << path << " is stale: regenerate with JIRITSU_WRITE_SCHEMAS=1 and review the diff";
}

TEST(JsonSchemaFiles, EnvelopeIsUpToDate) {
  ExpectFileMatches(SourceDir() / "schemas" / "envelope.schema.json", EnvelopeJsonSchema());
}

TEST(JsonSchemaFiles, EveryTypeIsUpToDate) {
  for (int i = 0; i < kEventTypeCount; ++i) {
    const auto type = static_cast<EventType>(i);
    SCOPED_TRACE(std::string(EventTypeName(type)));
    ExpectFileMatches(SourceDir() / "schemas" / (std::string(EventTypeName(type)) + ".schema.json"),
                      EventJsonSchema(type));
  }
}

TEST(JsonSchemaFiles, DescribeTheDecoderRules) {
  const std::string held = EventJsonSchema(EventType::kInterviewHeld);
  EXPECT_NE(held.find(R"("required": ["interview_id", "interviewer_id", "kind", "duration_minutes"])"),
            std::string::npos);
  EXPECT_NE(held.find(R"("enum": ["career", "one_on_one", "counseling"])"), std::string::npos);
  EXPECT_NE(held.find(R"("additionalProperties": false)"), std::string::npos);
  const std::string submitted = EventJsonSchema(EventType::kDeclarationSubmitted);
  EXPECT_NE(submitted.find(R"("const": "learning_state")"), std::string::npos);
  EXPECT_NE(submitted.find(R"("required": ["learning_state"])"), std::string::npos);
  const std::string program = EventJsonSchema(EventType::kProgramDefined);
  EXPECT_NE(program.find(R"("$ref": "#/$defs/step")"), std::string::npos);
}

}  // namespace
}  // namespace jiritsu
