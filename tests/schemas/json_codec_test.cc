// DecodeJsonEvent / DecodeBinaryModeEvent / EncodeJsonEvent / AppendJsonString:
// behaviour not covered by the per-type fixtures (canonical form, defaults,
// rule order, binary mode, limits, threads).
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <thread>

#include "schemas/catalog.h"
#include "schemas/codec.h"
#include "tests/schemas/schema_test_util.h"

namespace jiritsu {
namespace {

using testing_schemas::ExamplesDir;
using testing_schemas::ReadFile;

std::string Example(std::string_view type) {
  return ReadFile(ExamplesDir() / std::string(type) / "valid.json");
}

// An employee.left event with the given data object text.
std::string LeftEvent(std::string_view data, std::string_view extra = "") {
  return std::string(R"({"specversion":"1.0","id":"e-1","source":"/hr","type":"employee.left",)") +
         R"("subject":"emp-1","time":"2025-04-01T09:00:00+09:00")" + std::string(extra) +
         R"(,"data":)" + std::string(data) + "}";
}

std::string MakeEvent(std::string_view type, std::string_view data, std::string_view subject = "emp-1") {
  std::string json = R"({"specversion":"1.0","id":"e-1","source":"/src","type":")" +
                     std::string(type) + "\"";
  if (!subject.empty()) json += R"(,"subject":")" + std::string(subject) + "\"";
  return json + R"(,"time":"2025-04-01T09:00:00Z","data":)" + std::string(data) + "}";
}

std::string ErrorOf(std::string_view json) {
  const Result<Event> event = DecodeJsonEvent(json);
  if (event.ok()) return "OK";
  EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument);
  return event.status().message();
}

TEST(EncodeJsonEvent, CanonicalFormHasFixedOrderAndShortestNumbers) {
  const Result<Event> event = DecodeJsonEvent(Example("learning.completed"));
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(EncodeJsonEvent(*event),
            R"({"specversion":"1.0","id":"lms-cmp-88520","source":"/lms/manabi-hub",)"
            R"("type":"learning.completed","subject":"emp-000123",)"
            R"("time":"2025-04-24T20:40:00+09:00","schemaversion":1,)"
            R"("data":{"course_id":"crs-dx-mindset","hours":2.25,"score":86,"passed":true}})");
}

TEST(EncodeJsonEvent, OmitsAbsentOptionalsAndEmptyStrings) {
  Event event;
  event.type = EventType::kEmployeeHired;
  event.id = "h-1";
  event.source = "/hr";
  event.subject = "emp-1";
  event.time_us = 0;
  event.data = EmployeeHired{.org_unit_id = "ou-1", .manager_id = std::nullopt,
                             .talent_profile = "", .display_name = "佐藤 一郎"};
  EXPECT_EQ(EncodeJsonEvent(event),
            R"({"specversion":"1.0","id":"h-1","source":"/hr","type":"employee.hired",)"
            R"("subject":"emp-1","time":"1970-01-01T00:00:00Z","schemaversion":1,)"
            R"("data":{"org_unit_id":"ou-1","display_name":"佐藤 一郎"}})");

  event.type = EventType::kDeclarationAmended;
  event.data = DeclarationAmended{.declaration_id = "d-1", .evidence = std::string(),
                                  .practice_months = 0, .career_wish = std::nullopt};
  EXPECT_NE(EncodeJsonEvent(event).find(R"("data":{"declaration_id":"d-1","practice_months":0}})"),
            std::string::npos);
}

TEST(EncodeJsonEvent, IntegralDoublesHaveNoDecimalsAndLargeOnesStayExact) {
  for (double target : {0.0, 100000.0, 1e21, 0.1, 123.456, 1e-7, 4503599627370497.0}) {
    const std::string json = MakeEvent("kpi.target.set",
                                   R"({"org_unit_id":"ou-1","period":"FY2025","metric":"learning_hours","target":)" +
                                       std::to_string(target) + "}",
                                   "");
    Result<Event> event = DecodeJsonEvent(json);
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    auto& kpi = std::get<KpiTargetSet>(event->data);
    kpi.target = target;  // exact value, not the to_string rounding
    const std::string encoded = EncodeJsonEvent(*event);
    const Result<Event> again = DecodeJsonEvent(encoded);
    ASSERT_TRUE(again.ok()) << encoded;
    EXPECT_EQ(again->As<KpiTargetSet>().target, target) << encoded;
  }
  const Result<Event> whole = DecodeJsonEvent(MakeEvent(
      "kpi.target.set",
      R"({"org_unit_id":"ou-1","period":"2025Q3","metric":"learning_hours","target":100000})", ""));
  ASSERT_TRUE(whole.ok());
  EXPECT_NE(EncodeJsonEvent(*whole).find(R"("target":100000})"), std::string::npos);
}

TEST(DecodeJsonEvent, DefaultsForAbsentOptionalFields) {
  const Result<Event> held = DecodeJsonEvent(MakeEvent(
      "interview.held",
      R"({"interview_id":"i-1","interviewer_id":"m-1","kind":"one_on_one","duration_minutes":30})"));
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  const auto& h = held->As<InterviewHeld>();
  EXPECT_EQ(h.kind, InterviewKind::kOneOnOne);
  EXPECT_EQ(h.career_intention, CareerIntention::kUnknown);
  EXPECT_FALSE(h.transfer_wish);
  EXPECT_TRUE(h.notes.empty());

  const Result<Event> done =
      DecodeJsonEvent(MakeEvent("learning.completed", R"({"course_id":"c-1"})"));
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->As<LearningCompleted>().passed);
  EXPECT_FALSE(done->As<LearningCompleted>().score.has_value());
  EXPECT_EQ(done->As<LearningCompleted>().hours, 0);

  const Result<Event> left = DecodeJsonEvent(LeftEvent("{}"));
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->As<EmployeeLeft>().reason.empty());
}

TEST(DecodeJsonEvent, EnvelopeFieldsAndSchemaVersion) {
  const Result<Event> event =
      DecodeJsonEvent(LeftEvent(R"({"reason":"x"})", R"(,"schemaversion":1)"));
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->id, "e-1");
  EXPECT_EQ(event->source, "/hr");
  EXPECT_EQ(event->subject, "emp-1");
  EXPECT_EQ(event->utc_offset_minutes, 9 * 60);
  EXPECT_EQ(event->time_us, int64_t{1743465600} * 1'000'000);
  EXPECT_EQ(event->schema_version, kCurrentSchemaVersion);
}

TEST(DecodeJsonEvent, FutureSchemaVersionIsRejectedPrecisely) {
  EXPECT_EQ(ErrorOf(LeftEvent("{}", R"(,"schemaversion":2)")),
            "schemaversion: unsupported version 2 (this build reads 1..1)");
  EXPECT_EQ(ErrorOf(LeftEvent("{}", R"(,"schemaversion":1.5)")),
            "schemaversion: must be an integer, got 1.5");
  // Integral JSON numbers are integers (as in JSON Schema).
  EXPECT_EQ(ErrorOf(LeftEvent("{}", R"(,"schemaversion":1.0)")), "OK");
}

TEST(DecodeJsonEvent, ExtensionAttributesAreIgnored) {
  const std::string json = LeftEvent(
      "{}", R"(,"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",)"
            R"("dataschema":"https://example.com/s.json","partitionkey":{"nested":[1,2]})");
  const Result<Event> event = DecodeJsonEvent(json);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(EncodeJsonEvent(*event).find("traceparent"), std::string::npos);
}

TEST(DecodeJsonEvent, ReferenceSubjectDefaultsToTheEntityId) {
  const Result<Event> org = DecodeJsonEvent(
      MakeEvent("org.unit.defined", R"({"org_unit_id":"ou-7","name":"営業部"})", ""));
  ASSERT_TRUE(org.ok()) << org.status().ToString();
  EXPECT_EQ(org->subject, "ou-7");
  EXPECT_EQ(ErrorOf(MakeEvent("program.defined",
                          R"({"program_id":"p-1","name":"n","talent_profile":"t",)"
                          R"("steps":[{"step":1,"name":"s"}]})",
                          "p-2")),
            R"(subject: must equal data.program_id "p-1", got "p-2")");
  // kpi.target.set: any subject (or none) is kept as given.
  const Result<Event> kpi = DecodeJsonEvent(MakeEvent(
      "kpi.target.set",
      R"({"org_unit_id":"ou-1","period":"2025-07","metric":"maturity_count","target":12})",
      "kpi-ou-1"));
  ASSERT_TRUE(kpi.ok()) << kpi.status().ToString();
  EXPECT_EQ(kpi->subject, "kpi-ou-1");
}

TEST(DecodeJsonEvent, DeclarationKindsRoundTrip) {
  const std::string datas[] = {
      R"({"declaration_id":"d-1","kind":"step","program_id":"p-1","step":1})",
      R"({"declaration_id":"d-2","kind":"practice","program_id":"p-1","evidence":"OJT","practice_months":14})",
      R"({"declaration_id":"d-3","kind":"practice","program_id":"p-1"})",
      R"({"declaration_id":"d-4","kind":"career_wish","career_wish":"海外拠点で働きたい"})",
      R"({"declaration_id":"d-5","kind":"learning_state","learning_state":3})",
  };
  for (const std::string& data : datas) {
    SCOPED_TRACE(data);
    const Result<Event> event = DecodeJsonEvent(MakeEvent("declaration.submitted", data));
    ASSERT_TRUE(event.ok()) << event.status().ToString();
    const Result<Event> again = DecodeJsonEvent(EncodeJsonEvent(*event));
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(*again, *event);
  }
  EXPECT_EQ(ErrorOf(MakeEvent("declaration.submitted",
                          R"({"declaration_id":"d-5","kind":"learning_state","learning_state":3,)"
                          R"("practice_months":0})")),
            "data.practice_months: must be absent when kind is learning_state, got 0");
}

TEST(DecodeJsonEvent, IntegerFieldsAcceptIntegralNumbersOnly) {
  const std::string base =
      R"({"interview_id":"i-1","interviewer_id":"m-1","kind":"career","duration_minutes":)";
  const Result<Event> event = DecodeJsonEvent(MakeEvent("interview.held", base + "45.0}"));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->As<InterviewHeld>().duration_minutes, 45);
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held", base + "1e3}")),
            "data.duration_minutes: must be an integer 1..600, got 1000");
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held", base + "\"45\"}")),
            R"(data.duration_minutes: must be an integer 1..600, got "45")");
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held", base + "18446744073709551615}")),
            "data.duration_minutes: must be an integer 1..600, got 18446744073709551615");
}

TEST(DecodeJsonEvent, NegativeZeroBecomesZero) {
  const Result<Event> event = DecodeJsonEvent(
      MakeEvent("learning.progressed", R"({"course_id":"c","progress_percent":-0.0,"hours":-0})"));
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_FALSE(std::signbit(event->As<LearningProgressed>().progress_percent));
  EXPECT_NE(EncodeJsonEvent(*event).find(R"("progress_percent":0,"hours":0)"), std::string::npos);
}

TEST(DecodeJsonEvent, ReportsTheFirstRuleInDocumentedOrder) {
  // Envelope before data, whatever the order of members in the document.
  EXPECT_EQ(ErrorOf(R"({"data":{"bogus":1},"specversion":"0.3"})"),
            R"(specversion: must be "1.0", got "0.3")");
  // Top-level names are checked before attribute values.
  EXPECT_EQ(ErrorOf(R"({"specversion":"0.3","Type":"x"})"),
            "Type: unknown attribute; extension attribute names are lowercase a-z and 0-9");
  // Unknown data fields before field rules, field rules in struct order.
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held", R"({"kind":"lunch","x":1})")), "data.x: unknown field");
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held", R"({"kind":"lunch","duration_minutes":0})")),
            "data.interview_id: required");
  EXPECT_EQ(ErrorOf(MakeEvent("interview.held",
                          R"({"duration_minutes":0,"interviewer_id":"m","kind":"lunch","interview_id":"i"})")),
            R"(data.kind: must be one of career|one_on_one|counseling, got "lunch")");
  // Data before the subject/entity rule.
  EXPECT_EQ(ErrorOf(MakeEvent("org.unit.defined", R"({"org_unit_id":"ou-1"})", "ou-2")),
            "data.name: required");
}

TEST(DecodeJsonEvent, SizeLimitIsCheckedBeforeParsing) {
  std::string json = LeftEvent("{}");
  json.append(kMaxEventBytes - json.size(), ' ');
  EXPECT_EQ(ErrorOf(json), "OK");
  json.push_back(' ');
  EXPECT_EQ(ErrorOf(json), "event: 65537 bytes exceeds the 65536-byte limit");
  EXPECT_EQ(ErrorOf(std::string(kMaxEventBytes + 1, '{')),
            "event: 65537 bytes exceeds the 65536-byte limit");
}

TEST(DecodeJsonEvent, RejectsInvalidUtf8AndControlCharacters) {
  EXPECT_EQ(ErrorOf(LeftEvent("{\"reason\":\"\xC3\x28\"}")),
            "json: The input is not valid UTF-8");
  EXPECT_EQ(ErrorOf(LeftEvent("{\"reason\":\"a\x01b\"}")).rfind("json: ", 0), 0u);
  // Escaped control characters are fine in free text, not in ids.
  const Result<Event> event = DecodeJsonEvent(LeftEvent(R"({"reason":"a\u0000b\n"})"));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->As<EmployeeLeft>().reason, std::string("a\0b\n", 4));
  EXPECT_EQ(EncodeJsonEvent(*event).find(R"("reason":"a\u0000b\n")") != std::string::npos, true);
}

TEST(DecodeJsonEvent, TextLimitsCountCharactersNotBytes) {
  std::string reason;
  for (int i = 0; i < 4000; ++i) reason += "研";  // 12000 bytes, 4000 characters
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":")" + reason + "\"}")), "OK");
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":")" + reason + "x\"}")),
            "data.reason: must be a string of at most 4000 characters (or a sealed value), got a 4001-character "
            "string");
}

// Personal fields accept the sealed values ingestion writes (even beyond the
// plaintext limit, since base64 is longer), and only well-formed ones.
TEST(DecodeJsonEvent, PersonalFieldsAcceptWellFormedSealedValues) {
  // Nonce + tag + 1 byte = 41 bytes -> 56 base64 characters ("...=").
  const std::string sealed41 = "jiritsu-enc:v1:" + std::string(55, 'A') + "=";
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":")" + sealed41 + "\"}")), "OK");
  // The longest plaintext (4000 four-byte characters) sealed: beyond 4000 characters.
  const size_t max_b64 = kMaxSealedChars - kSealedPrefix.size();
  const std::string longest = "jiritsu-enc:v1:" + std::string(max_b64, 'B');
  ASSERT_GT(longest.size(), kMaxTextChars);
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":")" + longest + "\"}")), "OK");
  const Result<Event> event = DecodeJsonEvent(LeftEvent(R"({"reason":")" + longest + "\"}"));
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->As<EmployeeLeft>().reason, longest);
  const std::string rule =
      "data.reason: must be a string of at most 4000 characters (or a sealed value), got ";
  // Too long, bad alphabet, bad padding, too short to hold nonce and tag, no payload.
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":")" + longest + "BBBB\"}")).rfind(rule, 0), 0u);
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":"jiritsu-enc:v1:)" + std::string(52, 'A') + "!!!!\"}")),
            rule + "a 71-character string");
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":"jiritsu-enc:v1:)" + std::string(52, 'A') + "=AAA\"}")),
            rule + "a 71-character string");
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":"jiritsu-enc:v1:AAAA"})")),
            rule + "\"jiritsu-enc:v1:AAAA\"");
  EXPECT_EQ(ErrorOf(LeftEvent(R"({"reason":"jiritsu-enc:v1:"})")), rule + "\"jiritsu-enc:v1:\"");
  // A non-personal text field takes the prefix as ordinary text (and its limit).
  EXPECT_EQ(ErrorOf(MakeEvent("learning.enrolled",
                              R"({"course_id":"c-1","course_title":")" + longest + "\"}")),
            "data.course_title: must be a string of at most 4000 characters, got a " +
                std::to_string(longest.size()) + "-character string");
}

TEST(DecodeJsonEvent, IdsAndSourceFollowTheirPatterns) {
  EXPECT_EQ(ErrorOf(MakeEvent("employee.left", "{}", "user@example.com:jp.tokyo_01-x")), "OK");
  EXPECT_EQ(ErrorOf(MakeEvent("employee.left", "{}", std::string(128, 'a'))), "OK");
  EXPECT_EQ(ErrorOf(MakeEvent("employee.left", "{}", std::string(129, 'a'))),
            "subject: must be an id matching [A-Za-z0-9._:@-]{1,128}, got a 129-character string");
  std::string json = LeftEvent("{}");
  for (std::string_view source :
       {"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", "https://hr.example.co.jp/api?x=1#f",
        "/%E4%BA%BA%E4%BA%8B", "hr-system"}) {
    std::string with = json;
    with.replace(with.find("\"/hr\""), 5, "\"" + std::string(source) + "\"");
    EXPECT_EQ(ErrorOf(with), "OK") << source;
  }
  std::string bad = json;
  bad.replace(bad.find("\"/hr\""), 5, "\"/人事\"");
  EXPECT_EQ(ErrorOf(bad), R"(source: must be a URI-reference of 1..1024 characters, got "/人事")");
}

TEST(DecodeBinaryModeEvent, SameResultAsStructuredMode) {
  CloudEventAttributes attributes{.specversion = "1.0", .id = "iv-1", .source = "/iv",
                                  .type = "interview.cancelled", .subject = "emp-9",
                                  .time = "2025-06-10T10:00:00.123456+09:00", .schemaversion = ""};
  const std::string data = R"({"interview_id":"i-1","reason":"cancelled"})";
  const Result<Event> binary_mode = DecodeBinaryModeEvent(attributes, data);
  ASSERT_TRUE(binary_mode.ok()) << binary_mode.status().ToString();
  const Result<Event> structured = DecodeJsonEvent(
      R"({"specversion":"1.0","id":"iv-1","source":"/iv","type":"interview.cancelled",)"
      R"("subject":"emp-9","time":"2025-06-10T10:00:00.123456+09:00","data":)" +
      data + "}");
  ASSERT_TRUE(structured.ok());
  EXPECT_EQ(*binary_mode, *structured);

  attributes.schemaversion = "1";
  EXPECT_TRUE(DecodeBinaryModeEvent(attributes, data).ok());
}

TEST(DecodeBinaryModeEvent, SameMessages) {
  const CloudEventAttributes good{.specversion = "1.0", .id = "iv-1", .source = "/iv",
                                  .type = "interview.cancelled", .subject = "emp-9",
                                  .time = "2025-06-10T10:00:00Z", .schemaversion = ""};
  const std::string data = R"({"interview_id":"i-1","reason":"cancelled"})";
  const auto error = [&](CloudEventAttributes a, std::string_view body) {
    const Result<Event> event = DecodeBinaryModeEvent(a, body);
    return event.ok() ? std::string("OK") : event.status().message();
  };
  CloudEventAttributes a = good;
  a.schemaversion = "9";
  EXPECT_EQ(error(a, data), "schemaversion: unsupported version 9 (this build reads 1..1)");
  a.schemaversion = "v1";
  EXPECT_EQ(error(a, data), R"(schemaversion: must be an integer, got "v1")");
  a.schemaversion = "123456789012345678901234567890";
  EXPECT_EQ(error(a, data),
            "schemaversion: unsupported version 123456789012345678901234... (this build reads 1..1)");
  a = good;
  a.subject = "";
  EXPECT_EQ(error(a, data), "subject: required (the employee id)");
  a = good;
  a.type = "interview.postponed";
  EXPECT_EQ(error(a, data), R"(type: unknown event type "interview.postponed")");
  a = good;
  a.time = "2025-06-10T10:00:00";
  EXPECT_EQ(error(a, data), R"(time: must be RFC 3339 with a UTC offset, got "2025-06-10T10:00:00")");
  EXPECT_EQ(error(good, "[1]"), "data: must be a JSON object, got an array of 1");
  EXPECT_EQ(error(good, R"({"interview_id":"i-1"})"), "data.reason: required");
  EXPECT_EQ(error(good, "{"), "json: The JSON document has an improper structure: missing or "
                              "superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(error(good, std::string(kMaxEventBytes, ' ')).find("event: "), 0u);
}

TEST(DecodeJsonEvent, ThreadsDecodeIndependently) {
  std::vector<std::string> inputs;
  for (int i = 0; i < kEventTypeCount; ++i) {
    inputs.push_back(Example(EventTypeName(static_cast<EventType>(i))));
  }
  std::vector<std::string> expected;
  for (const auto& json : inputs) expected.push_back(EncodeJsonEvent(*DecodeJsonEvent(json)));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        const size_t i = static_cast<size_t>((round * 7 + t) % inputs.size());
        const Result<Event> event = DecodeJsonEvent(inputs[i]);
        if (!event.ok() || EncodeJsonEvent(*event) != expected[i]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

TEST(AppendJsonString, EscapesPerRfc8259) {
  std::string out;
  AppendJsonString(&out, std::string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f", 14));
  EXPECT_EQ(out, R"("q\"b\\s/\b\f\n\r\t\u0001\u001f)" "\x7f\"");
  out.clear();
  AppendJsonString(&out, "人事部 🙂 \u2028");
  EXPECT_EQ(out, "\"人事部 🙂 \u2028\"");
}

TEST(AppendJsonString, InvalidUtf8BecomesReplacementCharacters) {
  std::string out;
  AppendJsonString(&out, std::string("a\xC3\x28z\xED\xA0\x80\xF4\x90\x80\x80\xE4\xBA", 13));
  EXPECT_EQ(out, R"("a\ufffd(z\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd")");
  EXPECT_TRUE(simdjson::validate_utf8(out.data(), out.size()));
}

TEST(Catalog, KpiMetricNamesAreUniqueAndKnown) {
  std::set<std::string_view> names(kKpiMetricNames.begin(), kKpiMetricNames.end());
  EXPECT_EQ(names.size(), kKpiMetricNames.size());
  EXPECT_TRUE(IsKpiMetricName("awareness_rate"));
  EXPECT_FALSE(IsKpiMetricName("Awareness_rate"));
  EXPECT_EQ(DeclarationKindName(DeclarationKind::kLearningState), "learning_state");
}

}  // namespace
}  // namespace jiritsu
