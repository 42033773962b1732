// Mapping of statements onto learning events (xapi/mapping.h): every verb of
// the table, actor and activity rules, the unmapped outcomes, and voiding.
// Every produced event must pass the same validation as POST /v1/events.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "schemas/codec.h"
#include "xapi/mapping.h"

namespace jiritsu::xapi {
namespace {

MappingConfig Config() {
  MappingConfig config;
  config.account_home_pages = {"https://lms.example.com"};
  config.mbox_domains = {"example.co.jp"};
  config.actors.push_back({"mailto:Taro.Yamada@partner.example", "", "", "E7"});
  config.actors.push_back({"", "https://sso.example", "u-42", "E42"});
  config.course_id_prefixes = {"https://lms.example.com/course/"};
  config.activities.push_back({"https://cdn.example/scorm/abc", "crs-abc"});
  return config;
}

std::string Statement(const std::string& verb, const std::string& actor = R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                      const std::string& object = R"({"id":"https://lms.example.com/course/crs-1"})",
                      const std::string& extra = "") {
  return R"({"id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b","actor":)" + actor + R"(,"verb":{"id":")" + verb +
         R"("},"object":)" + object + R"(,"timestamp":"2025-04-24T20:40:00+09:00","stored":"2025-04-24T11:41:00Z")" +
         extra + "}";
}

Mapped Map(const std::string& json, const MappingConfig& config = Config()) {
  simdjson::dom::parser parser;
  return Mapper(config).Map(parser.parse(json).value(), "/lms/moodle");
}

// The produced event decodes with the ingestion codec; returns it.
Event Decoded(const Mapped& mapped) {
  Result<Event> event = DecodeJsonEvent(mapped.event_json);
  EXPECT_TRUE(event.ok()) << event.status().ToString() << "\n" << mapped.event_json;
  return event.ok() ? *event : Event{};
}

struct VerbCase {
  const char* verb;
  EventType type;
};

class EveryVerb : public ::testing::TestWithParam<VerbCase> {};

TEST_P(EveryVerb, MapsToItsLearningEvent) {
  const Mapped mapped = Map(Statement(GetParam().verb, R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                                      R"({"id":"https://lms.example.com/course/crs-1"})",
                                      R"(,"result":{"duration":"PT1H30M","score":{"scaled":0.8}})"));
  ASSERT_EQ(mapped.outcome, Outcome::kMapped) << mapped.reason;
  const Event event = Decoded(mapped);
  EXPECT_EQ(event.type, GetParam().type);
  EXPECT_EQ(event.subject, "E1");
  EXPECT_EQ(event.source, "/lms/moodle");
  EXPECT_EQ(event.id, "xapi-3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b");
  EXPECT_EQ(FormatRfc3339(event.time_us, event.utc_offset_minutes), "2025-04-24T20:40:00+09:00");
}

INSTANTIATE_TEST_SUITE_P(
    AdlAndCmi5, EveryVerb,
    ::testing::Values(VerbCase{"http://adlnet.gov/expapi/verbs/registered", EventType::kLearningEnrolled},
                      VerbCase{"http://adlnet.gov/expapi/verbs/launched", EventType::kLearningProgressed},
                      VerbCase{"http://adlnet.gov/expapi/verbs/attempted", EventType::kLearningProgressed},
                      VerbCase{"http://adlnet.gov/expapi/verbs/progressed", EventType::kLearningProgressed},
                      VerbCase{"http://adlnet.gov/expapi/verbs/completed", EventType::kLearningCompleted},
                      VerbCase{"http://adlnet.gov/expapi/verbs/passed", EventType::kLearningCompleted},
                      VerbCase{"http://adlnet.gov/expapi/verbs/failed", EventType::kLearningCompleted},
                      VerbCase{"http://adlnet.gov/expapi/verbs/scored", EventType::kLearningProgressed},
                      VerbCase{"http://adlnet.gov/expapi/verbs/mastered", EventType::kLearningCompleted},
                      VerbCase{"http://adlnet.gov/expapi/verbs/satisfied", EventType::kLearningCompleted},
                      VerbCase{"https://w3id.org/xapi/adl/verbs/satisfied", EventType::kLearningCompleted},
                      VerbCase{"https://w3id.org/xapi/adl/verbs/waived", EventType::kLearningCompleted},
                      VerbCase{"https://w3id.org/xapi/adl/verbs/abandoned", EventType::kLearningWithdrawn}),
    [](const auto& info) {
      std::string name = info.param.verb;
      std::string out;
      for (char c : name.substr(name.find("//") + 2)) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return out;
    });

TEST(XapiMapping, CompletedCarriesHoursScoreAndSuccess) {
  Event event = Decoded(Map(Statement("http://adlnet.gov/expapi/verbs/completed", R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                                      R"({"id":"https://lms.example.com/course/crs-1"})",
                                      R"(,"result":{"duration":"PT1H30M","score":{"raw":40,"min":0,"max":50},"success":false})")));
  const auto& data = event.As<LearningCompleted>();
  EXPECT_EQ(data.course_id, "crs-1");
  EXPECT_DOUBLE_EQ(data.hours, 1.5);
  EXPECT_DOUBLE_EQ(*data.score, 80);
  EXPECT_FALSE(data.passed);  // result.success false
  EXPECT_TRUE(Decoded(Map(Statement("http://adlnet.gov/expapi/verbs/passed"))).As<LearningCompleted>().passed);
  EXPECT_FALSE(Decoded(Map(Statement("http://adlnet.gov/expapi/verbs/failed"))).As<LearningCompleted>().passed);
  EXPECT_TRUE(Decoded(Map(Statement("http://adlnet.gov/expapi/verbs/completed"))).As<LearningCompleted>().passed);
}

TEST(XapiMapping, ProgressFromTheCmi5Extension) {
  Event event = Decoded(Map(Statement("http://adlnet.gov/expapi/verbs/progressed", R"({"mbox":"mailto:E1@example.co.jp"})",
                                      R"({"id":"https://lms.example.com/course/crs-1"})",
                                      R"(,"result":{"extensions":{"https://w3id.org/xapi/cmi5/result/extensions/progress":40}})")));
  EXPECT_EQ(event.subject, "E1");  // mbox domain rule: the local part
  EXPECT_DOUBLE_EQ(event.As<LearningProgressed>().progress_percent, 40);
}

TEST(XapiMapping, ActorRules) {
  Mapper mapper(Config());
  simdjson::dom::parser parser;
  auto employee = [&](const std::string& actor) { return mapper.EmployeeOf(parser.parse(actor).value()); };
  EXPECT_EQ(employee(R"({"mbox":"mailto:taro.yamada@PARTNER.example"})"), "E7");  // explicit, case-insensitive
  EXPECT_EQ(employee(R"({"account":{"homePage":"https://sso.example","name":"u-42"}})"), "E42");
  EXPECT_EQ(employee(R"({"account":{"homePage":"https://lms.example.com","name":"E9"}})"), "E9");
  EXPECT_EQ(employee(R"({"account":{"homePage":"https://other.example","name":"E9"}})"), std::nullopt);
  EXPECT_EQ(employee(R"({"account":{"homePage":"https://lms.example.com","name":"E 9/x"}})"), std::nullopt);
  EXPECT_EQ(employee(R"({"mbox":"mailto:e1@other.example"})"), std::nullopt);
  EXPECT_EQ(employee(R"({"openid":"https://id.example/e1"})"), std::nullopt);
  EXPECT_EQ(employee(R"({"objectType":"Group","mbox":"mailto:team@example.co.jp"})"), std::nullopt);
}

TEST(XapiMapping, ActivityRules) {
  Mapper mapper(Config());
  EXPECT_EQ(mapper.CourseOf("https://cdn.example/scorm/abc"), "crs-abc");
  EXPECT_EQ(mapper.CourseOf("https://lms.example.com/course/crs-1"), "crs-1");
  EXPECT_EQ(mapper.CourseOf("https://lms.example.com/course/a/b"), std::nullopt);  // not an id
  EXPECT_EQ(mapper.CourseOf("https://elsewhere.example/c"), std::nullopt);
}

TEST(XapiMapping, UnmappedOutcomesSayWhy) {
  Mapped actor = Map(Statement("http://adlnet.gov/expapi/verbs/completed", R"({"mbox":"mailto:x@unknown.example"})"));
  EXPECT_EQ(actor.outcome, Outcome::kUnmappedActor);
  EXPECT_NE(actor.reason.find("mbox:mailto:x@unknown.example"), std::string::npos) << actor.reason;
  EXPECT_TRUE(actor.event_json.empty());
  Mapped verb = Map(Statement("http://adlnet.gov/expapi/verbs/experienced"));
  EXPECT_EQ(verb.outcome, Outcome::kUnmappedVerb);
  EXPECT_NE(verb.reason.find("experienced"), std::string::npos);
  Mapped activity = Map(Statement("http://adlnet.gov/expapi/verbs/completed", R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                                  R"({"id":"https://elsewhere.example/c"})"));
  EXPECT_EQ(activity.outcome, Outcome::kUnmappedActivity);
  EXPECT_EQ(activity.employee, "E1");
  Mapped agent_object = Map(Statement("http://adlnet.gov/expapi/verbs/completed", R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                                      R"({"objectType":"Agent","mbox":"mailto:b@e.com"})"));
  EXPECT_EQ(agent_object.outcome, Outcome::kUnmappedActivity);
  EXPECT_EQ(OutcomeName(Outcome::kUnmappedActor), "unmapped_actor");
}

TEST(XapiMapping, VoidingStatement) {
  Mapped mapped = Map(Statement("http://adlnet.gov/expapi/verbs/voided", R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})",
                                R"({"objectType":"StatementRef","id":"9C1F3A52-7E0D-4B8A-9F5E-2D6C1B0A3E47"})"));
  EXPECT_EQ(mapped.outcome, Outcome::kVoiding);
  EXPECT_EQ(mapped.voided_statement_id, "9C1F3A52-7E0D-4B8A-9F5E-2D6C1B0A3E47");
  EXPECT_TRUE(mapped.event_json.empty());  // the LRS adds learning.voided when the target was mapped
  const std::string json = VoidedEventJson("3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b", "/lms/moodle", "E1",
                                           "2025-04-25T09:00:00+09:00", "/lms/moodle",
                                           EventIdFor("9C1F3A52-7E0D-4B8A-9F5E-2D6C1B0A3E47"));
  Result<Event> event = DecodeJsonEvent(json);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  EXPECT_EQ(event->type, EventType::kLearningVoided);
  EXPECT_EQ(event->As<LearningVoided>().voided_id, "xapi-9c1f3a52-7e0d-4b8a-9f5e-2d6c1b0a3e47");
  EXPECT_EQ(event->As<LearningVoided>().voided_source, "/lms/moodle");
}

TEST(XapiMapping, VerbTableCoversTheIssueList) {
  for (const char* name : {"registered", "launched", "attempted", "progressed", "completed", "passed", "failed",
                           "scored", "mastered", "satisfied", "waived", "abandoned", "voided"}) {
    bool found = false;
    for (const VerbMapping& v : VerbTable()) found |= v.short_name == name;
    EXPECT_TRUE(found) << name;
  }
}

}  // namespace
}  // namespace jiritsu::xapi
