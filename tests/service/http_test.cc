// HTTP tests of `jiritsu serve` (ops/serve.h, service/server.h): a real
// ServeInstance (embedded log, projection runner, HTTP on a loopback port)
// driven with httplib's client. Every endpoint: success, validation failures,
// authentication failures (missing, expired, wrong audience/issuer, bad
// signature, alg none, unknown kid) and authorization failures (wrong role,
// someone else's record).
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <simdjson.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "ops/serve.h"
#include "service/jwt.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using service::ServeConfig;
using testing::TempDir;

constexpr char kSecret[] = "test-secret-0123456789abcdef0123456789";
constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "jiritsu-test";
constexpr char kSourceToken[] = "source-token-hr";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct RsaKeys {
  std::string public_pem;
  std::string private_pem;
};

RsaKeys MakeRsaKeys() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  RsaKeys keys;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  keys.public_pem.assign(data, size);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  size = BIO_get_mem_data(bio, &data);
  keys.private_pem.assign(data, size);
  BIO_free(bio);
  EVP_PKEY_free(key);
  return keys;
}

std::string Claims(const std::string& sub, const std::string& roles, int64_t exp_offset = 3600,
                   const std::string& aud = kAudience, const std::string& iss = kIssuer,
                   const std::string& extra = "") {
  return "{\"iss\":\"" + iss + "\",\"aud\":\"" + aud + "\",\"sub\":\"" + sub +
         "\",\"exp\":" + std::to_string(Now() + exp_offset) + ",\"roles\":[" + roles + "]" + extra +
         "}";
}

std::string Token(const std::string& sub, const std::string& role) {
  return service::SignHs256(Claims(sub, "\"" + role + "\""), kSecret, "k1");
}

std::string Event(const std::string& type, const std::string& id, const std::string& subject,
                  const std::string& time, const std::string& data,
                  const std::string& source = "/hr/test") {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source +
         "\",\"type\":\"" + type + "\",\"subject\":\"" + subject + "\",\"time\":\"" + time +
         "\",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
}

std::string Hired(const std::string& employee, const std::string& manager, const std::string& id) {
  return Event("employee.hired", id, employee, "2025-04-01T09:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"manager_id\":\"" + manager +
                   "\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"Name " + employee + "\"}");
}

std::string Completed(const std::string& employee, const std::string& id, const std::string& time) {
  return Event("learning.completed", id, employee, time,
               "{\"course_id\":\"crs-1\",\"hours\":2.0,\"score\":80,\"passed\":true}", "/lms/test");
}

simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& body) {
  return parser.parse(body).value();
}

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    keys_ = new RsaKeys(MakeRsaKeys());
    ServeConfig config;
    config.port = 0;
    config.threads = 4;
    config.store_dir = dir_->path() + "/store";
    config.as_of_dir = dir_->path() + "/audit";
    std::filesystem::create_directories(config.as_of_dir);
    config.max_body_bytes = 64 * 1024;
    config.max_batch_events = 10;
    config.refresh_ms = 0;  // every query sees the latest checkpoint
    config.checkpoint_ms = 50;
    config.lag_sample_ms = 100;
    config.issuer = kIssuer;
    config.audience = kAudience;
    config.leeway_s = 5;
    config.keys.push_back({"k1", "HS256", kSecret, ""});
    config.keys.push_back({"r1", "RS256", "", keys_->public_pem});
    config.service_credentials.push_back(
        {"hr-system", {"/hr/*", "/lms/test"}, service::Sha256Hex(kSourceToken)});
    auto instance = ServeInstance::Start(config);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    serve_ = instance->release();

    // Seed: org unit, manager M1 of E1, manager M2 of E2, a completion of E1,
    // and a learning event of the unknown E9 (a rejection).
    httplib::Client client("127.0.0.1", serve_->port());
    const std::string batch =
        "[" +
        Event("org.unit.defined", "ou-1", "ou-a", "2025-01-01T00:00:00+09:00",
              "{\"org_unit_id\":\"ou-a\",\"name\":\"A\"}") +
        "," + Hired("M1", "CEO", "h-m1") + "," + Hired("E1", "M1", "h-e1") + "," +
        Hired("E2", "M2", "h-e2") + "," + Completed("E1", "c-e1", "2025-04-24T20:40:00+09:00") +
        "," + Completed("E9", "c-e9", "2025-04-24T20:40:00+09:00") + "]";
    auto res = client.Post("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}},
                           batch, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 202) << res->body;
    // Wait until the runner folded E1 and E9 (checkpoint every 50 ms) and
    // applied their facts: the global views (view time, KPIs, engagement)
    // lag the employee views by one checkpoint.
    const std::string hr = Token("hr-1", "hr");
    for (int i = 0; i < 400; ++i) {
      // Every seeded event folded (they span topics and partitions, so they
      // may land in different checkpoints).
      auto e1 = client.Get("/v1/employees/E1/step-status", {{"Authorization", "Bearer " + hr}});
      auto e2 = client.Get("/v1/employees/E2/step-status", {{"Authorization", "Bearer " + hr}});
      auto m1 = client.Get("/v1/employees/M1/step-status", {{"Authorization", "Bearer " + hr}});
      auto roots = client.Get("/v1/org-units", {{"Authorization", "Bearer " + hr}});
      auto rejections = client.Get("/v1/rejections", {{"Authorization", "Bearer " + hr}});
      auto global = client.Get("/v1/org-units/ou-a/engagement", {{"Authorization", "Bearer " + hr}});
      if (e1 && e1->body.find("\"events_folded\":2") != std::string::npos && e2 && e2->status == 200 &&
          m1 && m1->status == 200 && roots && roots->body.find("ou-a") != std::string::npos &&
          rejections && rejections->body.find("E9") != std::string::npos && global &&
          global->status == 200) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL() << "the seeded events were not projected in time";
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete keys_;
    delete dir_;
  }

  httplib::Client Client() { return httplib::Client("127.0.0.1", serve_->port()); }

  httplib::Result Get(const std::string& path, const std::string& token) {
    httplib::Client client = Client();
    if (token.empty()) return client.Get(path);
    return client.Get(path, {{"Authorization", "Bearer " + token}});
  }
  httplib::Result Post(const std::string& body, const std::string& authorization,
                       const std::string& content_type = "application/json",
                       httplib::Headers headers = {}) {
    httplib::Client client = Client();
    if (!authorization.empty()) headers.emplace("Authorization", authorization);
    return client.Post("/v1/events", headers, body, content_type);
  }

  static TempDir* dir_;
  static RsaKeys* keys_;
  static ServeInstance* serve_;
};

TempDir* HttpTest::dir_ = nullptr;
RsaKeys* HttpTest::keys_ = nullptr;
ServeInstance* HttpTest::serve_ = nullptr;

const std::string kBearerSource = std::string("Bearer ") + kSourceToken;

// ---------------------------------------------------------------- health

TEST_F(HttpTest, HealthzAndReadyzArePublic) {
  auto health = Get("/healthz", "");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "{\"status\":\"ok\"}");
  int status = 0;
  for (int i = 0; i < 200 && status != 200; ++i) {
    auto ready = Get("/readyz", "");
    ASSERT_TRUE(ready);
    status = ready->status;
    if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(HttpTest, UnknownPathIsJson404) {
  auto res = Get("/v1/nope", Token("hr-1", "hr"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_NE(res->body.find("\"not_found\""), std::string::npos);
}

// ---------------------------------------------------------------- ingestion

TEST_F(HttpTest, IngestOneEventThenItsDuplicate) {
  const std::string event = Completed("E1", "c-e1-dup-test", "2025-05-01T10:00:00+09:00");
  auto first = Post(event, kBearerSource, "application/cloudevents+json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 202) << first->body;
  simdjson::dom::parser parser;
  auto body = Parse(parser, first->body);
  EXPECT_EQ(int64_t(body["accepted"]), 1);
  EXPECT_EQ(std::string_view(body["results"].at(0)["status"]), "accepted");
  auto second = Post(event, kBearerSource, "application/cloudevents+json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 202);
  auto again = Parse(parser, second->body);
  EXPECT_EQ(int64_t(again["accepted"]), 0);
  EXPECT_EQ(int64_t(again["duplicates"]), 1);
  EXPECT_EQ(std::string_view(again["results"].at(0)["status"]), "duplicate");
}

TEST_F(HttpTest, InvalidEventsGetFieldErrorsAndNothingIsIngested) {
  std::string bad = Completed("E1", "c-bad-1", "2025-05-01T10:00:00+09:00");
  bad.replace(bad.find("\"hours\":2.0"), 11, "\"hours\":-1");
  const std::string good = Completed("E1", "c-good-1", "2025-05-02T10:00:00+09:00");
  const std::string no_subject =
      "{\"specversion\":\"1.0\",\"id\":\"x1\",\"source\":\"/hr/test\",\"type\":\"employee.left\","
      "\"time\":\"2025-05-01T10:00:00Z\",\"data\":{}}";
  std::string unknown_type = Completed("E1", "c-bad-2", "2025-05-01T10:00:00+09:00");
  unknown_type.replace(unknown_type.find("learning.completed"), 18, "learning.paused");
  auto res = Post("[" + good + "," + bad + "," + no_subject + "," + unknown_type + "]", kBearerSource);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 400) << res->body;
  simdjson::dom::parser parser;
  auto body = Parse(parser, res->body);
  EXPECT_EQ(std::string_view(body["error"]["code"]), "invalid_events");
  auto errors = body["errors"].get_array().value();
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(int64_t(errors.at(0)["index"]), 1);
  EXPECT_EQ(std::string_view(errors.at(0)["field"]), "data.hours");
  EXPECT_EQ(int64_t(errors.at(1)["index"]), 2);
  EXPECT_EQ(std::string_view(errors.at(1)["field"]), "subject");
  EXPECT_EQ(int64_t(errors.at(2)["index"]), 3);
  EXPECT_EQ(std::string_view(errors.at(2)["field"]), "type");
  // The valid event was not ingested: it is accepted (not a duplicate) now.
  auto retry = Post(good, kBearerSource);
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->status, 202);
  EXPECT_EQ(int64_t(Parse(parser, retry->body)["accepted"]), 1);
}

TEST_F(HttpTest, BinaryModeEvent) {
  httplib::Headers headers = {{"ce-specversion", "1.0"},
                              {"ce-id", "bin-1"},
                              {"ce-source", "/lms/test"},
                              {"ce-type", "learning.completed"},
                              {"ce-subject", "E2"},
                              {"ce-time", "2025-05-03T10:00:00%2B09:00"}};
  auto res = Post("{\"course_id\":\"crs-2\",\"hours\":1.5,\"passed\":true}", kBearerSource,
                  "application/json", headers);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 202) << res->body;
  EXPECT_NE(res->body.find("\"id\":\"bin-1\""), std::string::npos);
  // Binary mode with invalid attributes: the same field errors.
  headers.erase("ce-subject");
  headers.emplace("ce-subject", "bad subject");
  auto bad = Post("{\"course_id\":\"crs-2\",\"hours\":1.5,\"passed\":true}", kBearerSource,
                  "application/json", headers);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\"field\":\"subject\""), std::string::npos);
}

TEST_F(HttpTest, MalformedBodies) {
  auto not_json = Post("{\"specversion\":", kBearerSource);
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_NE(not_json->body.find("malformed_json"), std::string::npos);
  auto scalar = Post("42", kBearerSource);
  ASSERT_TRUE(scalar);
  EXPECT_EQ(scalar->status, 400);
  auto empty = Post("[]", kBearerSource);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
  EXPECT_NE(empty->body.find("empty_batch"), std::string::npos);
  auto text = Post("hello", kBearerSource, "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  auto batch_as_single = Post("[" + Completed("E1", "z1", "2025-05-01T10:00:00+09:00") + "]",
                              kBearerSource, "application/cloudevents+json");
  ASSERT_TRUE(batch_as_single);
  EXPECT_EQ(batch_as_single->status, 400);
}

TEST_F(HttpTest, OversizedBodyAndBatch) {
  auto huge = Post("[" + std::string(70 * 1024, ' ') + "]", kBearerSource);
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  std::string batch = "[";
  for (int i = 0; i < 11; ++i) {
    if (i > 0) batch += ",";
    batch += Completed("E1", "many-" + std::to_string(i), "2025-05-01T10:00:00+09:00");
  }
  auto many = Post(batch + "]", kBearerSource);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 413);
  EXPECT_NE(many->body.find("batch_too_large"), std::string::npos);
}

TEST_F(HttpTest, IngestAuthentication) {
  const std::string event = Completed("E1", "auth-1", "2025-05-01T10:00:00+09:00");
  auto missing = Post(event, "");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_TRUE(missing->has_header("WWW-Authenticate"));
  auto wrong_token = Post(event, "Bearer not-a-known-token");
  ASSERT_TRUE(wrong_token);
  EXPECT_EQ(wrong_token->status, 401);
  auto basic = Post(event, "Basic aHItc3lzdGVtOnNvdXJjZS10b2tlbi1ocg=="  // hr-system:source-token-hr
);
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 202) << basic->body;
  auto basic_wrong_name =
      Post(event, "Basic b3RoZXI6c291cmNlLXRva2VuLWhy"  // other:source-token-hr
);
  ASSERT_TRUE(basic_wrong_name);
  EXPECT_EQ(basic_wrong_name->status, 401);
  // A JWT with role source and its own sources.
  const std::string jwt = service::SignHs256(
      Claims("lms-1", "\"source\"", 3600, kAudience, kIssuer, ",\"sources\":[\"/lms/test\"]"), kSecret, "k1");
  auto with_jwt = Post(Completed("E1", "auth-2", "2025-05-01T10:00:00+09:00"), "Bearer " + jwt);
  ASSERT_TRUE(with_jwt);
  EXPECT_EQ(with_jwt->status, 202) << with_jwt->body;
}

TEST_F(HttpTest, IngestAuthorization) {
  const std::string event = Completed("E1", "authz-1", "2025-05-01T10:00:00+09:00");
  // hr may read everything but not ingest.
  auto hr = Post(event, "Bearer " + Token("hr-1", "hr"));
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->status, 403);
  // A source only sends its own sources; nothing of the batch is ingested.
  const std::string foreign = Completed("E1", "authz-2", "2025-05-01T10:00:00+09:00");
  std::string other_source = foreign;
  other_source.replace(other_source.find("/lms/test"), 9, "/lms/other");
  auto res = Post("[" + event + "," + other_source + "]", kBearerSource);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  EXPECT_NE(res->body.find("forbidden_source"), std::string::npos);
  EXPECT_NE(res->body.find("\"index\":1"), std::string::npos);
  auto retry = Post(event, kBearerSource);
  ASSERT_TRUE(retry);
  EXPECT_NE(retry->body.find("\"accepted\":1"), std::string::npos) << retry->body;
}

// Crypto-shredding over HTTP: personal fields are sealed at ingestion and
// revealed in responses; only hr may request an erasure, which deletes the
// key once the request is durable and then reads as erased.
TEST_F(HttpTest, OnlyHrMayRequestAnErasureWhichThenReadsAsErased) {
  const std::string hr = Token("hr-1", "hr");
  auto hired = Post(Hired("E7", "M9", "h-e7"), kBearerSource);
  ASSERT_TRUE(hired);
  ASSERT_EQ(hired->status, 202) << hired->body;
  const auto wait_for = [&](const std::string& needle) {
    for (int i = 0; i < 400; ++i) {
      auto res = Get("/v1/employees/E7/step-status", hr);
      if (res && res->status == 200 && res->body.find(needle) != std::string::npos) return res->body;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return std::string("timed out waiting for ") + needle;
  };
  const std::string before = wait_for("\"display_name\":\"Name E7\"");
  EXPECT_NE(before.find("\"erased\":false"), std::string::npos) << before;
  const std::string keys = dir_->path() + "/store/keys";
  EXPECT_TRUE(std::filesystem::exists(keys + "/k-E7"));

  const std::string erasure =
      Event("employee.erasure.requested", "er-e7", "E7", "2025-06-01T09:00:00+09:00",
            R"({"requested_by":"hr-1","reason":"privacy request"})", "/hr/privacy");
  // A source credential may not, even for a source it may send.
  auto by_source = Post(erasure, kBearerSource);
  ASSERT_TRUE(by_source);
  EXPECT_EQ(by_source->status, 403) << by_source->body;
  EXPECT_NE(by_source->body.find("only role hr may request an erasure"), std::string::npos);
  auto employee = Post(erasure, "Bearer " + Token("E7", "employee"));
  ASSERT_TRUE(employee);
  EXPECT_EQ(employee->status, 403);
  EXPECT_TRUE(std::filesystem::exists(keys + "/k-E7"));
  // hr may send nothing else.
  auto other = Post("[" + erasure + "," + Completed("E7", "hr-c", "2025-05-01T10:00:00+09:00") + "]",
                    "Bearer " + hr);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 403);
  EXPECT_NE(other->body.find("role hr may send only employee.erasure.requested"), std::string::npos)
      << other->body;
  EXPECT_TRUE(std::filesystem::exists(keys + "/k-E7"));

  auto by_hr = Post(erasure, "Bearer " + hr);
  ASSERT_TRUE(by_hr);
  EXPECT_EQ(by_hr->status, 202) << by_hr->body;
  EXPECT_NE(by_hr->body.find("\"accepted\":1"), std::string::npos) << by_hr->body;
  // The key is gone as soon as the request is acknowledged (durable first).
  EXPECT_FALSE(std::filesystem::exists(keys + "/k-E7"));
  EXPECT_TRUE(std::filesystem::exists(keys + "/x-E7"));
  const std::string after = wait_for("\"erased_at\":\"2025-06-01T09:00:00+09:00\"");
  EXPECT_NE(after.find("\"display_name\":null"), std::string::npos) << after;
  EXPECT_NE(after.find("\"erased\":true"), std::string::npos) << after;
  EXPECT_EQ(after.find("Name E7"), std::string::npos) << after;
  // Others still read in clear.
  auto e1 = Get("/v1/employees/E1/step-status", hr);
  ASSERT_TRUE(e1);
  EXPECT_NE(e1->body.find("\"display_name\":\"Name E1\""), std::string::npos) << e1->body;
}

// ---------------------------------------------------------------- JWT failures

TEST_F(HttpTest, TokenFailuresAre401) {
  const std::string path = "/v1/employees/E1/step-status";
  auto ok = Get(path, Token("hr-1", "hr"));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  struct Case {
    const char* name;
    std::string token;
  };
  std::string tampered = Token("E2", "employee");
  tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
  const std::string header_none = service::Base64UrlEncode("{\"alg\":\"none\",\"typ\":\"JWT\"}");
  const std::string none_token =
      header_none + "." + service::Base64UrlEncode(Claims("hr-1", "\"hr\"")) + ".";
  // HS256 signed with the RSA public key as the secret (algorithm confusion).
  const std::string confused = service::SignHs256(Claims("hr-1", "\"hr\""), keys_->public_pem, "r1");
  const std::vector<Case> cases = {
      {"missing", ""},
      {"expired", service::SignHs256(Claims("hr-1", "\"hr\"", -3600), kSecret, "k1")},
      {"wrong audience", service::SignHs256(Claims("hr-1", "\"hr\"", 3600, "other"), kSecret, "k1")},
      {"wrong issuer", service::SignHs256(Claims("hr-1", "\"hr\"", 3600, kAudience, "https://evil"), kSecret, "k1")},
      {"bad signature", service::SignHs256(Claims("hr-1", "\"hr\""), "another-secret-0123456789abcdef012", "k1")},
      {"tampered", tampered},
      {"alg none", none_token},
      {"alg confusion", confused},
      {"unknown kid", service::SignHs256(Claims("hr-1", "\"hr\""), kSecret, "k9")},
      {"garbage", "a.b.c"},
  };
  for (const Case& c : cases) {
    auto res = Get(path, c.token);
    ASSERT_TRUE(res) << c.name;
    EXPECT_EQ(res->status, 401) << c.name << ": " << res->body;
  }
  // Within the leeway an expired token still passes.
  auto leeway = Get(path, service::SignHs256(Claims("hr-1", "\"hr\"", -2), kSecret, "k1"));
  ASSERT_TRUE(leeway);
  EXPECT_EQ(leeway->status, 200);
  // RS256 with the configured public key.
  auto rs = service::SignRs256(Claims("hr-1", "\"hr\""), keys_->private_pem, "r1");
  ASSERT_TRUE(rs.ok());
  auto rs_res = Get(path, *rs);
  ASSERT_TRUE(rs_res);
  EXPECT_EQ(rs_res->status, 200);
  // Bearer with an unknown role set: authenticated, but no role -> 403.
  auto no_role = Get(path, service::SignHs256(Claims("x", "\"superuser\""), kSecret, "k1"));
  ASSERT_TRUE(no_role);
  EXPECT_EQ(no_role->status, 403);
}

// ---------------------------------------------------------------- employee rows

TEST_F(HttpTest, EmployeeReadsOnlyOwnRows) {
  const std::string e1 = Token("E1", "employee");
  for (const char* what : {"step-status", "engagement", "rejections"}) {
    auto own = Get(std::string("/v1/employees/E1/") + what, e1);
    ASSERT_TRUE(own);
    EXPECT_EQ(own->status, 200) << what << own->body;
    auto other = Get(std::string("/v1/employees/E2/") + what, e1);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 403) << what;
    // Someone who does not exist: the same 403 (no existence oracle).
    auto ghost = Get(std::string("/v1/employees/GHOST/") + what, e1);
    ASSERT_TRUE(ghost);
    EXPECT_EQ(ghost->status, 403) << what;
    EXPECT_EQ(ghost->body, other->body);
  }
}

TEST_F(HttpTest, ManagerReadsCurrentReportsOnly) {
  const std::string m1 = Token("M1", "manager");
  auto report = Get("/v1/employees/E1/step-status", m1);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->status, 200) << report->body;
  EXPECT_NE(report->body.find("\"manager_id\":\"M1\""), std::string::npos);
  auto not_report = Get("/v1/employees/E2/step-status", m1);
  ASSERT_TRUE(not_report);
  EXPECT_EQ(not_report->status, 403);
  auto ghost = Get("/v1/employees/GHOST/engagement", m1);
  ASSERT_TRUE(ghost);
  EXPECT_EQ(ghost->status, 403);
  auto self = Get("/v1/employees/M1/step-status", m1);
  ASSERT_TRUE(self);
  EXPECT_EQ(self->status, 200);
  // The manager's list of current reports; nobody else's list.
  auto reports = Get("/v1/employees/M1/reports", m1);
  ASSERT_TRUE(reports);
  EXPECT_EQ(reports->status, 200) << reports->body;
  EXPECT_NE(reports->body.find("\"reports\":[\"E1\"]"), std::string::npos) << reports->body;
  auto others = Get("/v1/employees/M2/reports", m1);
  ASSERT_TRUE(others);
  EXPECT_EQ(others->status, 403);
  auto as_employee = Get("/v1/employees/E1/reports", Token("E1", "employee"));
  ASSERT_TRUE(as_employee);
  EXPECT_EQ(as_employee->status, 403);
  auto by_hr = Get("/v1/employees/M2/reports?limit=1", Token("hr-1", "hr"));
  ASSERT_TRUE(by_hr);
  EXPECT_NE(by_hr->body.find("\"reports\":[\"E2\"]"), std::string::npos) << by_hr->body;
  // Aggregates are for hr and auditors.
  auto kpi = Get("/v1/org-units/ou-a/kpis?period=FY2025", m1);
  ASSERT_TRUE(kpi);
  EXPECT_EQ(kpi->status, 403);
}

TEST_F(HttpTest, HrAndAuditorReadEverythingOpsNoPersonalData) {
  for (const char* role : {"hr", "auditor"}) {
    const std::string token = Token(std::string(role) + "-1", role);
    auto e2 = Get("/v1/employees/E2/step-status", token);
    ASSERT_TRUE(e2);
    EXPECT_EQ(e2->status, 200) << role;
    auto ghost = Get("/v1/employees/GHOST/step-status", token);
    ASSERT_TRUE(ghost);
    EXPECT_EQ(ghost->status, 404) << role;
  }
  const std::string ops = Token("ops-1", "ops");
  for (const char* path : {"/v1/employees/E1/step-status", "/v1/rejections", "/v1/dead-letters",
                           "/v1/org-units/ou-a/kpis?period=FY2025", "/v1/org-units"}) {
    auto res = Get(path, ops);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 403) << path;
  }
  auto lag = Get("/v1/lag", ops);
  ASSERT_TRUE(lag);
  EXPECT_EQ(lag->status, 200);
  EXPECT_NE(lag->body.find("\"partitions\""), std::string::npos);
  auto view_time = Get("/v1/view-time", ops);
  ASSERT_TRUE(view_time);
  EXPECT_EQ(view_time->status, 200);
  // A source credential reads nothing.
  httplib::Client client = Client();
  auto source_read = client.Get("/v1/view-time", {{"Authorization", kBearerSource}});
  ASSERT_TRUE(source_read);
  EXPECT_EQ(source_read->status, 403);
}

TEST_F(HttpTest, EtagAndNotModified) {
  const std::string hr = Token("hr-1", "hr");
  httplib::Client client = Client();
  auto first = client.Get("/v1/employees/E2/step-status", {{"Authorization", "Bearer " + hr}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  const std::string etag = first->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  auto second = client.Get("/v1/employees/E2/step-status",
                           {{"Authorization", "Bearer " + hr}, {"If-None-Match", etag}});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 304);
  EXPECT_TRUE(second->body.empty());
  auto other = client.Get("/v1/employees/E2/step-status",
                          {{"Authorization", "Bearer " + hr}, {"If-None-Match", "\"0000\""}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  // Authorization still applies before the ETag.
  auto denied = client.Get("/v1/employees/E2/step-status",
                           {{"Authorization", "Bearer " + Token("E1", "employee")}, {"If-None-Match", etag}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 403);
}

TEST_F(HttpTest, RejectionsArePaginated) {
  const std::string hr = Token("hr-1", "hr");
  auto page = Get("/v1/rejections?limit=1", hr);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->status, 200) << page->body;
  simdjson::dom::parser parser;
  auto body = Parse(parser, page->body);
  EXPECT_EQ(body["rejections"].get_array().value().size(), 1u);
  // Walk every page; each row once.
  std::string cursor;
  size_t rows = 0;
  for (int i = 0; i < 100; ++i) {
    auto res = Get("/v1/rejections?limit=1" + (cursor.empty() ? "" : "&cursor=" + cursor), hr);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    auto b = Parse(parser, res->body);
    rows += b["rejections"].get_array().value().size();
    if (b["next_cursor"].is_null()) break;
    cursor = std::string(std::string_view(b["next_cursor"]));
  }
  EXPECT_GE(rows, 1u);
  auto bad_limit = Get("/v1/rejections?limit=0", hr);
  ASSERT_TRUE(bad_limit);
  EXPECT_EQ(bad_limit->status, 400);
  auto too_big = Get("/v1/rejections?limit=100000", hr);
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 400);
  auto bad_cursor = Get("/v1/rejections?cursor=***", hr);
  ASSERT_TRUE(bad_cursor);
  EXPECT_EQ(bad_cursor->status, 400);
  auto e9 = Get("/v1/employees/E9/rejections", hr);
  ASSERT_TRUE(e9);
  EXPECT_EQ(e9->status, 200);
  EXPECT_NE(e9->body.find("NOT_EMPLOYED"), std::string::npos) << e9->body;
}

TEST_F(HttpTest, DeadLettersOrgQueriesAndViewTime) {
  const std::string auditor = Token("aud-1", "auditor");
  auto dlq = Get("/v1/dead-letters?limit=5", auditor);
  ASSERT_TRUE(dlq);
  EXPECT_EQ(dlq->status, 200);
  EXPECT_NE(dlq->body.find("\"dead_letters\":["), std::string::npos);
  auto roots = Get("/v1/org-units", auditor);
  ASSERT_TRUE(roots);
  EXPECT_EQ(roots->status, 200);
  EXPECT_NE(roots->body.find("ou-a"), std::string::npos);
  auto kpi = Get("/v1/org-units/ou-a/kpis?period=FY2025", auditor);
  ASSERT_TRUE(kpi);
  EXPECT_EQ(kpi->status, 200) << kpi->body;
  auto no_period = Get("/v1/org-units/ou-a/kpis", auditor);
  ASSERT_TRUE(no_period);
  EXPECT_EQ(no_period->status, 400);
  auto bad_period = Get("/v1/org-units/ou-a/kpis?period=someday", auditor);
  ASSERT_TRUE(bad_period);
  EXPECT_EQ(bad_period->status, 400);
  auto engagement = Get("/v1/org-units/ou-a/engagement", auditor);
  ASSERT_TRUE(engagement);
  EXPECT_EQ(engagement->status, 200);
  auto unknown = Get("/v1/org-units/ou-zzz/engagement", auditor);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto as_of = Get("/v1/employees/E1/engagement?as_of=2025-05-01T00:00:00Z", auditor);
  ASSERT_TRUE(as_of);
  EXPECT_EQ(as_of->status, 200);
  auto bad_as_of = Get("/v1/employees/E1/engagement?as_of=yesterday", auditor);
  ASSERT_TRUE(bad_as_of);
  EXPECT_EQ(bad_as_of->status, 400);
  auto view_time = Get("/v1/view-time", auditor);
  ASSERT_TRUE(view_time);
  EXPECT_NE(view_time->body.find("\"view_time\":\"2025-"), std::string::npos) << view_time->body;
}

TEST_F(HttpTest, DashboardAggregatesOrgUnitAndStepDistribution) {
  const std::string hr = Token("hr-1", "hr");
  // A two-step programme for the seeded dx_literacy employees; nobody has
  // completed its course, so they all sit at step 0.
  const std::string program =
      Event("program.defined", "prg-dash-1", "prg-dash", "2025-01-01T00:00:00+09:00",
            "{\"program_id\":\"prg-dash\",\"name\":\"Dash\",\"talent_profile\":\"dx_literacy\","
            "\"steps\":[{\"step\":1,\"name\":\"one\",\"required_courses\":[\"crs-never\"]},"
            "{\"step\":2,\"name\":\"two\",\"required_courses\":[\"crs-never-2\"]}]}");
  auto posted = Post(program, kBearerSource);
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  simdjson::dom::parser parser;
  std::string body;
  for (int i = 0; i < 400; ++i) {
    auto res = Get("/v1/step-distribution", hr);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    if (res->body.find("prg-dash") != std::string::npos) {
      body = res->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_FALSE(body.empty()) << "the programme was not projected in time";
  simdjson::dom::element all = Parse(parser, body);
  EXPECT_GE(all["employees"].get_int64().value(), 3);  // M1, E1, E2 (+ other tests' hires)
  bool found = false;
  for (simdjson::dom::element row : all["programs"].get_array()) {
    if (std::string_view(row["program"].get_string().value()) != "prg-dash") continue;
    found = true;
    EXPECT_EQ(std::string_view(row["talent_profile"].get_string().value()), "dx_literacy");
    simdjson::dom::array steps = row["steps"].get_array().value();
    ASSERT_EQ(steps.size(), 3u) << body;  // steps 0, 1, 2
    EXPECT_GE(steps.at(0).get_int64().value(), 3) << body;
    EXPECT_EQ(steps.at(1).get_int64().value(), 0) << body;
  }
  EXPECT_TRUE(found) << body;

  auto scoped = Get("/v1/step-distribution?org_unit=ou-a", hr);
  ASSERT_TRUE(scoped);
  EXPECT_EQ(scoped->status, 200);
  EXPECT_NE(scoped->body.find("\"org_unit\":\"ou-a\""), std::string::npos) << scoped->body;
  auto unknown_org = Get("/v1/step-distribution?org_unit=ou-zzz", hr);
  ASSERT_TRUE(unknown_org);
  EXPECT_EQ(unknown_org->status, 404);

  auto unit = Get("/v1/org-units/ou-a", Token("aud-1", "auditor"));
  ASSERT_TRUE(unit);
  EXPECT_EQ(unit->status, 200);
  EXPECT_EQ(unit->body,
            "{\"children\":[],\"last_changed_by\":{\"id\":\"ou-1\",\"offset\":0,\"partition\":0,"
            "\"source\":\"/hr/test\",\"time\":\"2025-01-01T00:00:00+09:00\",\"topic\":"
            "\"jiritsu.reference\",\"type\":\"org.unit.defined\"},\"name\":\"A\",\"org_unit\":"
            "\"ou-a\",\"parent\":null}");
  auto unknown_unit = Get("/v1/org-units/ou-zzz", hr);
  ASSERT_TRUE(unknown_unit);
  EXPECT_EQ(unknown_unit->status, 404);

  // No personal data, but still hr/auditor only: ops, employees, managers get 403.
  for (const std::string& token : {Token("ops-1", "ops"), Token("E1", "employee"), Token("M1", "manager")}) {
    auto distribution = Get("/v1/step-distribution", token);
    ASSERT_TRUE(distribution);
    EXPECT_EQ(distribution->status, 403);
    auto org = Get("/v1/org-units/ou-a", token);
    ASSERT_TRUE(org);
    EXPECT_EQ(org->status, 403);
  }
  auto anonymous = Get("/v1/step-distribution", "");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
}

TEST_F(HttpTest, AsOfStoresForAuditorsOnly) {
  auto employee = Get("/v1/employees/E1/step-status?as_of_store=q1", Token("E1", "employee"));
  ASSERT_TRUE(employee);
  EXPECT_EQ(employee->status, 403);
  const std::string auditor = Token("aud-1", "auditor");
  auto missing = Get("/v1/employees/E1/step-status?as_of_store=q1", auditor);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto traversal = Get("/v1/employees/E1/step-status?as_of_store=..", auditor);
  ASSERT_TRUE(traversal);
  EXPECT_EQ(traversal->status, 400);

  // Building one: auditors only, validated, then readable read-only.
  httplib::Client client = Client();
  const std::string request = "{\"name\":\"april2\",\"as_of\":\"2025-04-02T00:00:00+09:00\"}";
  auto by_hr = client.Post("/v1/as-of-stores", {{"Authorization", "Bearer " + Token("hr-1", "hr")}},
                           request, "application/json");
  ASSERT_TRUE(by_hr);
  EXPECT_EQ(by_hr->status, 403);
  const httplib::Headers auth = {{"Authorization", "Bearer " + auditor}};
  for (const char* bad : {"[]", "{\"name\":\"x\"}", "{\"name\":\"../x\",\"as_of\":\"2025-04-02T00:00:00Z\"}",
                          "{\"name\":\"x\",\"as_of\":\"April\"}"}) {
    auto res = client.Post("/v1/as-of-stores", auth, bad, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
  }
  auto started = client.Post("/v1/as-of-stores", auth, request, "application/json");
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status, 202) << started->body;
  std::string status;
  for (int i = 0; i < 400; ++i) {
    auto res = client.Get("/v1/as-of-stores/april2", auth);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    if (res->body.find("\"status\":\"building\"") == std::string::npos) {
      status = res->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_NE(status.find("\"status\":\"ready\""), std::string::npos) << status;
  auto as_of = Get("/v1/employees/E1/step-status?as_of_store=april2", auditor);
  ASSERT_TRUE(as_of);
  EXPECT_EQ(as_of->status, 200) << as_of->body;
  EXPECT_NE(as_of->body.find("\"events_folded\":1"), std::string::npos) << as_of->body;  // hire only
  auto again = client.Post("/v1/as-of-stores", auth, request, "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  auto unknown = client.Get("/v1/as-of-stores/nope", auth);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

// ---------------------------------------------------------------- metrics

TEST_F(HttpTest, MetricsForOpsInPrometheusFormat) {
  // ctest runs each test in its own process: produce every outcome here.
  const std::string seen = Completed("E1", "c-e1", "2025-04-24T20:40:00+09:00");  // seeded
  auto duplicate = Post(seen, kBearerSource);
  ASSERT_TRUE(duplicate);
  ASSERT_EQ(duplicate->status, 202);
  std::string unknown_type = Completed("E1", "m-bad-1", "2025-05-01T10:00:00+09:00");
  unknown_type.replace(unknown_type.find("learning.completed"), 18, "learning.paused");
  std::string bad_hours = Completed("E1", "m-bad-2", "2025-05-01T10:00:00+09:00");
  bad_hours.replace(bad_hours.find("\"hours\":2.0"), 11, "\"hours\":-1");
  auto invalid = Post("[" + unknown_type + "," + bad_hours + "]", kBearerSource);
  ASSERT_TRUE(invalid);
  ASSERT_EQ(invalid->status, 400);
  auto unauthenticated = Get("/metrics", "");
  ASSERT_TRUE(unauthenticated);
  EXPECT_EQ(unauthenticated->status, 401);
  auto employee = Get("/metrics", Token("E1", "employee"));
  ASSERT_TRUE(employee);
  EXPECT_EQ(employee->status, 403);
  auto res = Get("/metrics", Token("ops-1", "ops"));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain", 0), 0u);
  for (const char* needle :
       {"# TYPE jiritsu_ingest_events_total counter",
        "jiritsu_ingest_events_total{outcome=\"accepted\",type=\"learning.completed\"}",
        "jiritsu_ingest_events_total{outcome=\"duplicate\",type=\"learning.completed\"}",
        "jiritsu_ingest_events_total{outcome=\"rejected\",type=\"learning.completed\"}",
        "jiritsu_ingest_events_total{outcome=\"rejected\",type=\"unknown\"}",
        "# TYPE jiritsu_http_request_duration_seconds histogram",
        "jiritsu_http_request_duration_seconds_bucket{method=\"POST\",route=\"events\",le=\"+Inf\"}",
        "jiritsu_consumer_lag_records{partition=\"0\",topic=\"jiritsu.learning\"}",
        "jiritsu_partition_records_processed_total{", "jiritsu_events_processed_total",
        "jiritsu_dlq_records", "jiritsu_views_store_bytes", "jiritsu_stalled_partitions 0",
        "jiritsu_runner_up 1", "# TYPE jiritsu_facts_waiting gauge",
        "# TYPE jiritsu_refolds_total counter"}) {
    EXPECT_NE(res->body.find(needle), std::string::npos) << needle;
  }
}

// ---------------------------------------------------------------- backpressure

TEST(HttpBackpressureTest, QueueFullIs429WithRetryAfter) {
  TempDir dir;
  ServeConfig config;
  config.port = 0;
  config.store_dir = dir.path() + "/store";
  config.run_projections = false;
  config.max_queued_events = 2;
  config.max_batch_events = 10;
  config.retry_after_s = 7;
  config.service_credentials.push_back({"src", {"/lms/*"}, service::Sha256Hex(kSourceToken)});
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  httplib::Client client("127.0.0.1", (*serve)->port());
  const std::string batch = "[" + Completed("E1", "q1", "2025-05-01T10:00:00+09:00") + "," +
                            Completed("E1", "q2", "2025-05-01T10:00:00+09:00") + "," +
                            Completed("E1", "q3", "2025-05-01T10:00:00+09:00") + "]";
  auto res = client.Post("/v1/events", {{"Authorization", kBearerSource}}, batch, "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  EXPECT_EQ(res->get_header_value("Retry-After"), "7");
  // Within the limit it goes through.
  auto small = client.Post("/v1/events", {{"Authorization", kBearerSource}},
                           Completed("E1", "q4", "2025-05-01T10:00:00+09:00"), "application/json");
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 202) << small->body;
}

}  // namespace
}  // namespace jiritsu
