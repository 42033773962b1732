// Statement validation (xapi/statement.h): one case per MUST requirement of
// xAPI-Data.md that the LRS enforces (docs/xapi.md "Validation checklist"
// names each case), plus the value helpers and statement comparison.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "xapi/statement.h"

namespace jiritsu::xapi {
namespace {

constexpr char kActor[] = R"({"objectType":"Agent","name":"E1","mbox":"mailto:e1@example.com"})";
constexpr char kVerb[] = R"({"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}})";
constexpr char kObject[] = R"({"objectType":"Activity","id":"https://lms.example.com/course/crs-1"})";

std::string Statement(const std::string& actor = kActor, const std::string& verb = kVerb,
                      const std::string& object = kObject, const std::string& extra = "") {
  return R"({"actor":)" + actor + R"(,"verb":)" + verb + R"(,"object":)" + object + extra + "}";
}

Status Validate(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return InvalidArgument("test JSON does not parse");
  return ValidateStatement(root);
}

struct Case {
  const char* name;       // the requirement, as in docs/xapi.md
  std::string statement;
  const char* error;      // empty: valid; else a substring of the message
};

class Requirement : public ::testing::TestWithParam<Case> {};

TEST_P(Requirement, Holds) {
  const Case& c = GetParam();
  Status status = Validate(c.statement);
  if (std::string(c.error).empty()) {
    EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << c.statement;
  } else {
    ASSERT_FALSE(status.ok()) << "accepted: " << c.statement;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(c.error), std::string::npos) << status.message();
  }
}

const std::string kAccount = R"({"account":{"homePage":"https://lms.example.com","name":"E1"}})";
const std::string kGroupMembers = R"([{"mbox":"mailto:a@example.com"},{"mbox_sha1sum":"0123456789abcdef0123456789abcdef01234567"}])";

INSTANTIATE_TEST_SUITE_P(
    XapiData, Requirement,
    ::testing::Values(
        // --- statement structure
        Case{"minimal_statement_valid", Statement(), ""},
        Case{"statement_must_be_object", "[1]", "statement: must be an object"},
        Case{"actor_required", R"({"verb":)" + std::string(kVerb) + R"(,"object":)" + kObject + "}", "statement.actor: is required"},
        Case{"verb_required", R"({"actor":)" + std::string(kActor) + R"(,"object":)" + kObject + "}", "statement.verb: is required"},
        Case{"object_required", R"({"actor":)" + std::string(kActor) + R"(,"verb":)" + kVerb + "}", "statement.object: is required"},
        Case{"unknown_top_level_property_rejected", Statement(kActor, kVerb, kObject, R"(,"foo":1)"), "statement.foo: unknown property"},
        Case{"null_value_rejected", Statement(kActor, kVerb, kObject, R"(,"result":null)"), "statement.result: must not be null"},
        Case{"duplicate_property_rejected", Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-04-24T11:40:00Z","timestamp":"2025-04-24T11:40:00Z")"), "appears twice"},
        Case{"id_must_be_uuid", Statement(kActor, kVerb, kObject, R"(,"id":"not-a-uuid")"), "statement.id: must be a UUID"},
        Case{"id_uuid_valid", Statement(kActor, kVerb, kObject, R"(,"id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b")"), ""},
        // --- actor / agents
        Case{"agent_exactly_one_ifi_none", Statement(R"({"name":"x"})"), "exactly one inverse functional identifier"},
        Case{"agent_exactly_one_ifi_two", Statement(R"({"mbox":"mailto:a@b.c","openid":"https://id.example.com/a"})"), "exactly one inverse functional identifier"},
        Case{"mbox_must_be_mailto", Statement(R"({"mbox":"a@example.com"})"), "statement.actor.mbox: must be \"mailto:\""},
        Case{"mbox_sha1sum_40_hex", Statement(R"({"mbox_sha1sum":"xyz"})"), "statement.actor.mbox_sha1sum: must be 40 hex"},
        Case{"openid_must_be_iri", Statement(R"({"openid":"not an iri"})"), "statement.actor.openid: must be an absolute IRI"},
        Case{"account_valid", Statement(kAccount), ""},
        Case{"account_homepage_required", Statement(R"({"account":{"name":"E1"}})"), "statement.actor.account.homePage: is required"},
        Case{"account_name_required", Statement(R"({"account":{"homePage":"https://lms.example.com"}})"), "statement.actor.account.name: is required"},
        Case{"account_homepage_iri", Statement(R"({"account":{"homePage":"lms","name":"E1"}})"), "account.homePage: must be an absolute IRI"},
        Case{"account_no_extra_properties", Statement(R"({"account":{"homePage":"https://l.example","name":"E1","x":1}})"), "account.x: unknown property"},
        Case{"agent_unknown_property_rejected", Statement(R"({"mbox":"mailto:a@b.c","age":3})"), "statement.actor.age: unknown property"},
        Case{"agent_name_string", Statement(R"({"mbox":"mailto:a@b.c","name":3})"), "statement.actor.name: must be a string"},
        Case{"actor_object_type_agent_or_group", Statement(R"({"objectType":"Person","mbox":"mailto:a@b.c"})"), "must be \"Agent\" or \"Group\""},
        Case{"anonymous_group_needs_members", Statement(R"({"objectType":"Group","name":"g"})"), "an anonymous Group (no identifier) must list its members"},
        Case{"anonymous_group_valid", Statement(R"({"objectType":"Group","member":)" + kGroupMembers + "}"), ""},
        Case{"identified_group_valid", Statement(R"({"objectType":"Group","mbox":"mailto:team@example.com"})"), ""},
        Case{"group_at_most_one_ifi", Statement(R"({"objectType":"Group","mbox":"mailto:t@e.com","openid":"https://id.example.com/t"})"), "at most one inverse functional identifier"},
        Case{"group_members_are_agents", Statement(R"({"objectType":"Group","member":[{"objectType":"Group","mbox":"mailto:t@e.com"}]})"), "a Group's members must be Agents"},
        Case{"group_member_needs_ifi", Statement(R"({"objectType":"Group","member":[{"name":"x"}]})"), "statement.actor.member[0]: an Agent must have exactly one"},
        // --- verb
        Case{"verb_id_required", Statement(kActor, R"({"display":{"en-US":"x"}})"), "statement.verb.id: is required"},
        Case{"verb_id_iri", Statement(kActor, R"({"id":"completed"})"), "statement.verb.id: must be an absolute IRI"},
        Case{"verb_display_language_map", Statement(kActor, R"({"id":"http://x.example/v","display":{"english_US":"x"}})"), "is not an RFC 5646 language tag"},
        Case{"verb_display_values_strings", Statement(kActor, R"({"id":"http://x.example/v","display":{"en":1}})"), "statement.verb.display.en: must be a string"},
        Case{"verb_unknown_property", Statement(kActor, R"({"id":"http://x.example/v","x":1})"), "statement.verb.x: unknown property"},
        // --- object
        Case{"object_default_activity_needs_id", Statement(kActor, kVerb, R"({"definition":{}})"), "statement.object.id: is required for an Activity"},
        Case{"activity_id_iri", Statement(kActor, kVerb, R"({"id":"course 1"})"), "statement.object.id: must be an absolute IRI"},
        Case{"object_type_known", Statement(kActor, kVerb, R"({"objectType":"Thing","id":"http://x.example/a"})"), "must be Activity, Agent, Group, StatementRef or SubStatement"},
        Case{"activity_definition_valid", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"name":{"en-US":"A"},"description":{"ja-JP":"説明"},"type":"http://adlnet.gov/expapi/activities/course","moreInfo":"https://x.example/a","extensions":{"http://x.example/ext":{"any":[1]}}}})"), ""},
        Case{"definition_type_iri", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"type":"course"}})"), "definition.type: must be an absolute IRI"},
        Case{"definition_unknown_property", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"title":"x"}})"), "definition.title: unknown property"},
        Case{"extension_keys_iri", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"extensions":{"progress":1}}})"), "extension key \"progress\" must be an absolute IRI"},
        Case{"interaction_type_known", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"interactionType":"essay"}})"), "unknown interaction type"},
        Case{"interaction_components_match_type", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"interactionType":"true-false","choices":[{"id":"a"}]}})"), "is not allowed for interactionType"},
        Case{"interaction_component_ids_unique", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"interactionType":"choice","choices":[{"id":"a"},{"id":"a"}]}})"), "must be unique"},
        Case{"interaction_choice_valid", Statement(kActor, kVerb, R"({"id":"http://x.example/a","definition":{"interactionType":"choice","correctResponsesPattern":["a"],"choices":[{"id":"a","description":{"en":"A"}},{"id":"b"}]}})"), ""},
        Case{"object_agent_valid", Statement(kActor, kVerb, R"({"objectType":"Agent","mbox":"mailto:b@example.com"})"), ""},
        Case{"object_agent_ifi", Statement(kActor, kVerb, R"({"objectType":"Agent","name":"b"})"), "exactly one inverse functional identifier"},
        Case{"statement_ref_needs_uuid", Statement(kActor, kVerb, R"({"objectType":"StatementRef","id":"x"})"), "statement.object.id: must be a UUID"},
        Case{"statement_ref_only_id", Statement(kActor, kVerb, R"({"objectType":"StatementRef","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b","definition":{}})"), "statement.object.definition: unknown property"},
        Case{"substatement_valid", Statement(kActor, kVerb, R"({"objectType":"SubStatement","actor":)" + std::string(kActor) + R"(,"verb":)" + kVerb + R"(,"object":)" + kObject + "}"), ""},
        Case{"substatement_no_id", Statement(kActor, kVerb, R"({"objectType":"SubStatement","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b","actor":)" + std::string(kActor) + R"(,"verb":)" + kVerb + R"(,"object":)" + kObject + "}"), "statement.object.id: unknown property"},
        Case{"substatement_no_stored_version_authority", Statement(kActor, kVerb, R"({"objectType":"SubStatement","stored":"2025-04-24T11:40:00Z","actor":)" + std::string(kActor) + R"(,"verb":)" + kVerb + R"(,"object":)" + kObject + "}"), "statement.object.stored: unknown property"},
        Case{"substatement_not_nested", Statement(kActor, kVerb, R"({"objectType":"SubStatement","actor":)" + std::string(kActor) + R"(,"verb":)" + kVerb + R"(,"object":{"objectType":"SubStatement","actor":)" + kActor + R"(,"verb":)" + kVerb + R"(,"object":)" + kObject + "}}"), "must not contain a SubStatement"},
        Case{"substatement_validated_recursively", Statement(kActor, kVerb, R"({"objectType":"SubStatement","actor":{"name":"x"},"verb":)" + std::string(kVerb) + R"(,"object":)" + kObject + "}"), "statement.object.actor: an Agent must have exactly one"},
        // --- voiding
        Case{"voiding_needs_statement_ref", Statement(kActor, R"({"id":"http://adlnet.gov/expapi/verbs/voided"})", kObject), "must have a StatementRef object"},
        Case{"voiding_valid", Statement(kActor, R"({"id":"http://adlnet.gov/expapi/verbs/voided"})", R"({"objectType":"StatementRef","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b"})"), ""},
        // --- result
        Case{"result_valid", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"scaled":0.8,"raw":80,"min":0,"max":100},"success":true,"completion":true,"response":"x","duration":"PT1H30M","extensions":{"http://x.example/e":1}})"), ""},
        Case{"score_scaled_range_high", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"scaled":1.5}})"), "statement.result.score.scaled: must be between -1 and 1, got 1.5"},
        Case{"score_scaled_range_low", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"scaled":-1.01}})"), "must be between -1 and 1"},
        Case{"score_raw_not_below_min", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"raw":-1,"min":0}})"), "statement.result.score.raw: must not be below min"},
        Case{"score_raw_not_above_max", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"raw":101,"max":100}})"), "statement.result.score.raw: must not exceed max"},
        Case{"score_max_above_min", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"min":10,"max":5}})"), "statement.result.score.max: must be greater than min"},
        Case{"score_numbers", Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"raw":"80"}})"), "statement.result.score.raw: must be a number"},
        Case{"success_boolean", Statement(kActor, kVerb, kObject, R"(,"result":{"success":"true"})"), "statement.result.success: must be true or false"},
        Case{"completion_boolean", Statement(kActor, kVerb, kObject, R"(,"result":{"completion":1})"), "statement.result.completion: must be true or false"},
        Case{"duration_iso8601", Statement(kActor, kVerb, kObject, R"(,"result":{"duration":"90 minutes"})"), "statement.result.duration: must be an ISO 8601 duration"},
        Case{"result_unknown_property", Statement(kActor, kVerb, kObject, R"(,"result":{"grade":"A"})"), "statement.result.grade: unknown property"},
        // --- context
        Case{"context_valid", Statement(kActor, kVerb, kObject, R"(,"context":{"registration":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b","instructor":{"mbox":"mailto:t@e.com"},"team":{"objectType":"Group","mbox":"mailto:team@e.com"},"contextActivities":{"parent":{"id":"http://x.example/p"},"grouping":[{"id":"http://x.example/g"}],"category":[{"id":"https://w3id.org/xapi/cmi5/context/categories/moveon"}]},"revision":"r1","platform":"Moodle","language":"ja-JP","statement":{"objectType":"StatementRef","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b"},"extensions":{"http://x.example/e":1}})"), ""},
        Case{"registration_uuid", Statement(kActor, kVerb, kObject, R"(,"context":{"registration":"r-1"})"), "statement.context.registration: must be a UUID"},
        Case{"revision_only_for_activity", Statement(kActor, kVerb, R"({"objectType":"Agent","mbox":"mailto:b@e.com"})", R"(,"context":{"revision":"r1"})"), "statement.context.revision: is only allowed when the statement's object is an Activity"},
        Case{"platform_only_for_activity", Statement(kActor, kVerb, R"({"objectType":"StatementRef","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b"})", R"(,"context":{"platform":"p"})"), "statement.context.platform: is only allowed"},
        Case{"team_must_be_group", Statement(kActor, kVerb, kObject, R"(,"context":{"team":{"mbox":"mailto:t@e.com"}})"), "the team must be a Group"},
        Case{"context_language_rfc5646", Statement(kActor, kVerb, kObject, R"(,"context":{"language":"japanese!"})"), "statement.context.language: must be an RFC 5646 language tag"},
        Case{"context_statement_is_ref", Statement(kActor, kVerb, kObject, R"(,"context":{"statement":{"id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b"}})"), "statement.context.statement.objectType: must be \"StatementRef\""},
        Case{"context_activities_keys", Statement(kActor, kVerb, kObject, R"(,"context":{"contextActivities":{"sibling":[{"id":"http://x.example/s"}]}})"), "contextActivities.sibling: unknown property"},
        Case{"context_activities_are_activities", Statement(kActor, kVerb, kObject, R"(,"context":{"contextActivities":{"parent":[{"id":"parent"}]}})"), "contextActivities.parent[0].id: must be an absolute IRI"},
        Case{"context_agents_2_0", Statement(kActor, kVerb, kObject, R"(,"context":{"contextAgents":[{"objectType":"contextAgent","agent":{"mbox":"mailto:x@e.com"},"relevantTypes":["http://x.example/t"]}]})"), ""},
        Case{"context_agents_object_type", Statement(kActor, kVerb, kObject, R"(,"context":{"contextAgents":[{"agent":{"mbox":"mailto:x@e.com"}}]})"), "must be \"contextAgent\""},
        Case{"context_unknown_property", Statement(kActor, kVerb, kObject, R"(,"context":{"course":"x"})"), "statement.context.course: unknown property"},
        // --- timestamps, stored, authority, version
        Case{"timestamp_valid", Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-04-24T20:40:00.1234567+09:00")"), ""},
        Case{"timestamp_needs_zone", Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-04-24T20:40:00")"), "statement.timestamp: must be an ISO 8601 timestamp with a time zone"},
        Case{"timestamp_not_minus_zero", Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-04-24T20:40:00-00:00")"), "unknown offset"},
        Case{"timestamp_real_date", Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-02-30T20:40:00Z")"), "no such date"},
        Case{"stored_iso8601", Statement(kActor, kVerb, kObject, R"(,"stored":"yesterday")"), "statement.stored: must be an ISO 8601 timestamp"},
        Case{"authority_agent_valid", Statement(kActor, kVerb, kObject, R"(,"authority":{"objectType":"Agent","account":{"homePage":"https://lrs.example","name":"lms"}})"), ""},
        Case{"authority_group_two_members", Statement(kActor, kVerb, kObject, R"(,"authority":{"objectType":"Group","member":[{"mbox":"mailto:a@e.com"}]})"), "exactly two members"},
        Case{"authority_is_agent", Statement(kActor, kVerb, kObject, R"(,"authority":{"name":"x"})"), "statement.authority: an Agent must have exactly one"},
        Case{"version_1_0_x", Statement(kActor, kVerb, kObject, R"(,"version":"1.0.3")"), ""},
        Case{"version_2_0_x", Statement(kActor, kVerb, kObject, R"(,"version":"2.0.0")"), ""},
        Case{"version_other_rejected", Statement(kActor, kVerb, kObject, R"(,"version":"0.95")"), "statement.version: must be 1.0.x or 2.0.x"},
        // --- attachments
        Case{"attachment_with_file_url_valid", Statement(kActor, kVerb, kObject, R"(,"attachments":[{"usageType":"http://adlnet.gov/expapi/attachments/certificate","display":{"en":"c"},"contentType":"application/pdf","length":10,"sha2":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","fileUrl":"https://x.example/c.pdf"}])"), ""},
        Case{"attachment_without_body_rejected", Statement(kActor, kVerb, kObject, R"(,"attachments":[{"usageType":"http://adlnet.gov/expapi/attachments/certificate","display":{"en":"c"},"contentType":"application/pdf","length":10,"sha2":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}])"), "needs its body in a multipart/mixed request"},
        Case{"attachment_required_properties", Statement(kActor, kVerb, kObject, R"(,"attachments":[{"usageType":"http://x.example/u","display":{"en":"c"},"contentType":"text/plain","length":1}])"), "attachments[0].sha2: is required"},
        Case{"attachment_length_integer", Statement(kActor, kVerb, kObject, R"(,"attachments":[{"usageType":"http://x.example/u","display":{"en":"c"},"contentType":"text/plain","length":"1","sha2":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","fileUrl":"https://x.example/a"}])"), "attachments[0].length: must be a non-negative integer"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(XapiValues, Uuid) {
  EXPECT_TRUE(IsUuid("3F2A0C9E-1B7D-4E5F-8A6B-0C9D8E7F6A5B"));
  EXPECT_FALSE(IsUuid("3f2a0c9e1b7d4e5f8a6b0c9d8e7f6a5b"));
  EXPECT_FALSE(IsUuid("3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5g"));
  EXPECT_TRUE(IsUuid(NewUuid()));
  EXPECT_NE(NewUuid(), NewUuid());
}

TEST(XapiValues, LanguageTags) {
  for (const char* ok : {"en", "en-US", "ja-JP", "zh-Hant-TW", "sr-Latn-RS", "es-419", "de-CH-1996", "x-private", "en-US-x-twain"}) {
    EXPECT_TRUE(IsLanguageTag(ok)) << ok;
  }
  for (const char* bad : {"", "e", "english_us", "en--US", "en-US-", "12", "x"}) EXPECT_FALSE(IsLanguageTag(bad)) << bad;
}

TEST(XapiValues, Durations) {
  EXPECT_EQ(DurationSeconds("PT1H30M"), 5400);
  EXPECT_EQ(DurationSeconds("P1D"), 86400);
  EXPECT_EQ(DurationSeconds("PT0.5S"), 0.5);
  EXPECT_EQ(DurationSeconds("P2W"), 14 * 86400);
  for (const char* bad : {"P", "PT", "1H", "PT1.5H30M", "P1H", "PTM", "P1M2Y", "PT1H1H"}) {
    EXPECT_FALSE(IsIso8601Duration(bad)) << bad;
  }
}

TEST(XapiValues, Timestamps) {
  int32_t offset = 0;
  Result<int64_t> t = ParseTimestamp("2025-04-24T20:40:00.5+09:00", &offset);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(offset, 540);
  EXPECT_EQ(FormatTimestampUtc(*t), "2025-04-24T11:40:00.500000Z");
  EXPECT_TRUE(ParseTimestamp("2025-04-24T11:40Z").ok());
  EXPECT_TRUE(ParseTimestamp("2025-04-24T11:40:00+0900").ok());
  EXPECT_FALSE(ParseTimestamp("2025-04-24 11:40:00Z").ok());
  EXPECT_FALSE(ParseTimestamp("2025-04-24T24:00:00Z").ok());
}

TEST(XapiValues, Iri) {
  EXPECT_TRUE(IsIri("http://adlnet.gov/expapi/verbs/completed"));
  EXPECT_TRUE(IsIri("urn:uuid:3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b"));
  EXPECT_TRUE(IsIri("https://例え.jp/コース"));
  EXPECT_FALSE(IsIri("completed"));
  EXPECT_FALSE(IsIri("http://a b"));
  EXPECT_FALSE(IsIri(":x"));
}

std::string Hash(const std::string& json) {
  simdjson::dom::parser parser;
  return ComparisonHash(parser.parse(json).value());
}

// xAPI-Data 2.3.1 Statement Comparison Requirements.
TEST(XapiComparison, IgnoresLrsAssignedPropertiesOrderAndTimestampForm) {
  const std::string a = Statement(kActor, kVerb, kObject, R"(,"timestamp":"2025-04-24T20:40:00+09:00")");
  const std::string b = R"({"object":)" + std::string(kObject) + R"(,"verb":)" + kVerb + R"(,"actor":)" + kActor +
                        R"(,"timestamp":"2025-04-24T11:40:00.000Z","id":"3f2a0c9e-1b7d-4e5f-8a6b-0c9d8e7f6a5b","stored":"2025-04-25T00:00:00Z","version":"1.0.0","authority":{"mbox":"mailto:lrs@e.com"}})";
  EXPECT_EQ(Hash(a), Hash(b));
}

TEST(XapiComparison, GroupMemberOrderIgnored) {
  const std::string a = Statement(R"({"objectType":"Group","member":[{"mbox":"mailto:a@e.com"},{"mbox":"mailto:b@e.com"}]})");
  const std::string b = Statement(R"({"objectType":"Group","member":[{"mbox":"mailto:b@e.com"},{"mbox":"mailto:a@e.com"}]})");
  EXPECT_EQ(Hash(a), Hash(b));
}

TEST(XapiComparison, ImmutabilityExceptionsAreIgnored) {
  // Verb display, activity definitions, timestamp (the LRS may assign it).
  EXPECT_EQ(Hash(Statement(kActor, R"({"id":"http://adlnet.gov/expapi/verbs/completed","display":{"en-US":"completed"}})",
                           R"({"id":"https://lms.example.com/course/crs-1","definition":{"name":{"en":"One"}}})")),
            Hash(Statement(kActor, R"({"id":"http://adlnet.gov/expapi/verbs/completed","display":{"de":"abgeschlossen"}})",
                           R"({"id":"https://lms.example.com/course/crs-1"})", R"(,"timestamp":"2025-04-24T11:40:00Z")")));
  // A duration is compared as a string (xAPI-Data 2.3.1.b8).
  EXPECT_NE(Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"duration":"PT1H"})")),
            Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"duration":"PT60M"})")));
}

TEST(XapiComparison, DifferentContentDiffers) {
  EXPECT_NE(Hash(Statement()), Hash(Statement(kActor, kVerb, R"({"id":"https://lms.example.com/course/crs-2"})")));
  EXPECT_NE(Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"success":true})")),
            Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"success":false})")));
  // 1 and 1.0 are the same number.
  EXPECT_EQ(Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"raw":1}})")),
            Hash(Statement(kActor, kVerb, kObject, R"(,"result":{"score":{"raw":1.0}})")));
}

TEST(XapiValues, AgentIdentity) {
  simdjson::dom::parser parser;
  EXPECT_EQ(AgentIdentity(parser.parse(std::string(R"({"mbox":"mailto:A@Example.com"})")).value()), "mbox:mailto:a@example.com");
  EXPECT_EQ(AgentIdentity(parser.parse(kAccount).value()), "account:https://lms.example.com|E1");
  EXPECT_EQ(AgentIdentity(parser.parse(std::string(R"({"objectType":"Group","member":[]})")).value()), std::nullopt);
}

}  // namespace
}  // namespace jiritsu::xapi
