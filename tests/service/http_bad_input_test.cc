// Bad input at the HTTP boundary of `jiritsu serve` that http_test.cc does
// not already cover (docs/reliability.md "Bad-input inventory" lists every
// class with its test): CloudEvents binary-mode headers, non-UTF-8 and NUL
// bytes, deep nesting, duplicate keys, bad query parameters, path segments
// outside the id pattern, wrong methods, malformed credentials. Each answer
// must be a specific JSON error (code and message naming what was wrong),
// and a rejected request ingests nothing.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include "ops/serve.h"
#include "service/jwt.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using service::ServeConfig;
using testing::TempDir;

constexpr char kSecret[] = "bad-input-secret-0123456789abcdef0123";
constexpr char kIssuer[] = "https://idp.bad-input";
constexpr char kAudience[] = "jiritsu-bad-input";
constexpr char kSourceToken[] = "bad-input-source-token";

std::string HrToken() {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return service::SignHs256("{\"iss\":\"" + std::string(kIssuer) + "\",\"aud\":\"" + kAudience +
                                "\",\"sub\":\"hr-1\",\"exp\":" + std::to_string(now + 3600) +
                                ",\"roles\":[\"hr\"]}",
                            kSecret, "k1");
}

std::string Event(const std::string& id, const std::string& subject = "E1") {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id +
         "\",\"source\":\"/hr/bad\",\"type\":\"employee.hired\",\"subject\":\"" + subject +
         "\",\"time\":\"2025-04-01T09:00:00+09:00\",\"datacontenttype\":\"application/json\","
         "\"data\":{\"org_unit_id\":\"ou-a\",\"manager_id\":\"M1\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"N\"}}";
}

class HttpBadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServeConfig config;
    config.port = 0;
    config.threads = 2;
    config.store_dir = dir_->path() + "/store";
    config.max_body_bytes = 256 * 1024;
    config.refresh_ms = 0;
    config.checkpoint_ms = 50;
    config.issuer = kIssuer;
    config.audience = kAudience;
    config.keys.push_back({"k1", "HS256", kSecret, ""});
    config.service_credentials.push_back({"bad-input", {"/hr/*"}, service::Sha256Hex(kSourceToken)});
    auto instance = ServeInstance::Start(config);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    serve_ = instance->release();
    auto seeded = Post(Event("seed-1"));
    ASSERT_TRUE(seeded);
    ASSERT_EQ(seeded->status, 202) << seeded->body;
    for (int i = 0; i < 800; ++i) {
      auto res = Get("/v1/employees/E1/step-status");
      if (res && res->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL() << "the seed event was not projected in time";
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  static httplib::Result Post(const std::string& body, const std::string& content_type = "application/json",
                              httplib::Headers headers = {}) {
    httplib::Client client("127.0.0.1", serve_->port());
    headers.emplace("Authorization", std::string("Bearer ") + kSourceToken);
    return client.Post("/v1/events", headers, body, content_type);
  }
  static httplib::Result Get(const std::string& path, const std::string& authorization = "") {
    httplib::Client client("127.0.0.1", serve_->port());
    return client.Get(path, {{"Authorization", authorization.empty() ? "Bearer " + HrToken() : authorization}});
  }
  // The number of events ingestion accepted so far (the metric).
  static double Accepted() {
    auto res = Get("/metrics");
    if (!res) return -1;
    double total = 0;
    size_t pos = 0;
    const std::string prefix = "jiritsu_ingest_events_total{outcome=\"accepted\"";
    while ((pos = res->body.find(prefix, pos)) != std::string::npos) {
      const size_t space = res->body.find(' ', res->body.find('}', pos));
      total += std::stod(res->body.substr(space + 1));
      pos = space;
    }
    return total;
  }

  static TempDir* dir_;
  static ServeInstance* serve_;
};

TempDir* HttpBadInputTest::dir_ = nullptr;
ServeInstance* HttpBadInputTest::serve_ = nullptr;

#define EXPECT_ERROR(res, want_status, want_code)                                        \
  do {                                                                                      \
    ASSERT_TRUE(res);                                                                       \
    EXPECT_EQ((res)->status, want_status) << (res)->body;                                   \
    EXPECT_NE((res)->body.find("\"code\":\"" want_code "\""), std::string::npos) << (res)->body; \
  } while (0)

// ---------------------------------------------------------------- ingestion body

TEST_F(HttpBadInputTest, EmptyBodyIsMalformedJson) {
  auto res = Post("");
  EXPECT_ERROR(res, 400, "malformed_json");
}

TEST_F(HttpBadInputTest, NonUtf8BodyIsMalformedJson) {
  const double before = Accepted();
  std::string event = Event("utf8-1");
  event.insert(event.find("ou-a"), "\xC3\x28");  // invalid two-byte sequence
  auto res = Post(event);
  EXPECT_ERROR(res, 400, "malformed_json");
  EXPECT_NE(res->body.find("UTF-8"), std::string::npos) << res->body;
  EXPECT_EQ(Accepted(), before);
}

TEST_F(HttpBadInputTest, NulByteInBodyIsRejected) {
  std::string event = Event("nul-1");
  event.insert(event.find("ou-a") + 2, std::string(1, '\0'));  // raw NUL inside a string
  auto res = Post(event);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
}

TEST_F(HttpBadInputTest, DeeplyNestedBodyIsMalformedJson) {
  const std::string deep = std::string(5000, '[') + std::string(5000, ']');
  auto res = Post(deep);
  EXPECT_ERROR(res, 400, "malformed_json");
  // Nesting inside an event's data that the parser accepts is a field error.
  std::string nested = Event("nested-1");
  nested.insert(nested.size() - 2, ",\"extra\":" + std::string(200, '[') + std::string(200, ']'));
  auto field = Post(nested);
  EXPECT_ERROR(field, 400, "invalid_events");
  EXPECT_NE(field->body.find("data.extra: unknown field"), std::string::npos) << field->body;
}

TEST_F(HttpBadInputTest, DuplicateKeysAreRejected) {
  const double before = Accepted();
  std::string event = Event("dup-key-1");
  event.insert(1, "\"id\":\"dup-key-other\",");  // "id" twice
  auto res = Post(event);
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("id: duplicate"), std::string::npos) << res->body;
  std::string data = Event("dup-key-2");
  data.insert(data.find("\"org_unit_id\""), "\"org_unit_id\":\"ou-b\",");
  auto in_data = Post(data);
  EXPECT_ERROR(in_data, 400, "invalid_events");
  EXPECT_NE(in_data->body.find("data.org_unit_id: duplicate"), std::string::npos) << in_data->body;
  EXPECT_EQ(Accepted(), before);
}

TEST_F(HttpBadInputTest, TrailingGarbageAfterTheBodyIsMalformedJson) {
  auto res = Post(Event("trailing-1") + " {}");
  EXPECT_ERROR(res, 400, "malformed_json");
}

TEST_F(HttpBadInputTest, MissingContentTypeIs415) {
  httplib::Client client("127.0.0.1", serve_->port());
  auto res = client.Post("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}},
                         Event("no-type-1"), "");
  EXPECT_ERROR(res, 415, "unsupported_media_type");
}

TEST_F(HttpBadInputTest, BatchMixingValidAndInvalidIngestsNothing) {
  const double before = Accepted();
  auto res = Post("[" + Event("mix-1") + ",{\"specversion\":\"1.0\"}," + Event("mix-2") + "]");
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("\"index\":1"), std::string::npos) << res->body;
  EXPECT_EQ(Accepted(), before);
}

// ---------------------------------------------------------------- binary mode

httplib::Headers BinaryHeaders() {
  return {{"ce-specversion", "1.0"},
          {"ce-id", "bin-1"},
          {"ce-source", "/hr/bad"},
          {"ce-type", "employee.hired"},
          {"ce-subject", "E5"},
          {"ce-time", "2025-04-01T09:00:00+09:00"}};
}
const char kBinaryData[] = "{\"org_unit_id\":\"ou-a\",\"manager_id\":\"M1\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"N\"}";

TEST_F(HttpBadInputTest, BinaryModeMissingRequiredHeader) {
  httplib::Headers headers = BinaryHeaders();
  headers.erase("ce-type");
  auto res = Post(kBinaryData, "application/json", headers);
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("\"field\":\"type\""), std::string::npos) << res->body;
}

TEST_F(HttpBadInputTest, BinaryModeWrongSpecVersionHeader) {
  httplib::Headers headers = BinaryHeaders();
  headers.erase("ce-specversion");
  headers.emplace("ce-specversion", "0.3");
  auto res = Post(kBinaryData, "application/json", headers);
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("specversion: must be"), std::string::npos) << res->body;
}

TEST_F(HttpBadInputTest, BinaryModeBadTimeHeader) {
  httplib::Headers headers = BinaryHeaders();
  headers.erase("ce-time");
  headers.emplace("ce-time", "yesterday");
  auto res = Post(kBinaryData, "application/json", headers);
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("\"field\":\"time\""), std::string::npos) << res->body;
}

TEST_F(HttpBadInputTest, BinaryModeBrokenPercentEncodingIsKeptLiterally) {
  // "%zz" is not an escape: kept as is, then the source pattern rejects it.
  httplib::Headers headers = BinaryHeaders();
  headers.erase("ce-source");
  headers.emplace("ce-source", "/hr/%zz");
  auto res = Post(kBinaryData, "application/json", headers);
  EXPECT_ERROR(res, 400, "invalid_events");
  EXPECT_NE(res->body.find("source: must be a URI-reference"), std::string::npos) << res->body;
}

TEST_F(HttpBadInputTest, BinaryModeNonJsonData) {
  auto text = Post("plain words", "text/plain", BinaryHeaders());
  EXPECT_ERROR(text, 415, "unsupported_media_type");
  EXPECT_NE(text->body.find("binary mode"), std::string::npos) << text->body;
  auto broken = Post("{\"org_unit_id\":", "application/json", BinaryHeaders());
  EXPECT_ERROR(broken, 400, "malformed_json");
  EXPECT_NE(broken->body.find("data: not valid JSON"), std::string::npos) << broken->body;
}

// ---------------------------------------------------------------- routes and methods

TEST_F(HttpBadInputTest, WrongMethodOnAKnownPath) {
  httplib::Client client("127.0.0.1", serve_->port());
  auto del = client.Delete("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}});
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 404) << del->body;
  EXPECT_NE(del->body.find("\"code\":\"not_found\""), std::string::npos) << del->body;
  auto get = Get("/v1/events");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404) << get->body;
}

TEST_F(HttpBadInputTest, IdOutsideThePatternIsNotARoute) {
  for (const std::string& id : {std::string(129, 'a'), std::string("a%20b"), std::string("a%2Fb"),
                                std::string("..")}) {
    auto res = Get("/v1/employees/" + id + "/step-status");
    ASSERT_TRUE(res) << id;
    EXPECT_TRUE(res->status == 404 || res->status == 400) << id << ": " << res->status << " " << res->body;
    EXPECT_NE(res->body.find("\"error\""), std::string::npos) << id << ": " << res->body;
  }
}

// ---------------------------------------------------------------- query parameters

TEST_F(HttpBadInputTest, BadLimitValues) {
  for (const char* limit : {"-1", "abc", "1e3", "10x", "", "99999999999999999999"}) {
    auto res = Get(std::string("/v1/rejections?limit=") + limit);
    EXPECT_ERROR(res, 400, "bad_request");
    EXPECT_NE(res->body.find("limit: must be 1.."), std::string::npos) << limit << ": " << res->body;
  }
}

TEST_F(HttpBadInputTest, CursorThatDecodesToNothingIsRejected) {
  for (const char* cursor : {"", "%3D%3D", "A"}) {
    auto res = Get(std::string("/v1/dead-letters?cursor=") + cursor);
    EXPECT_ERROR(res, 400, "bad_request");
    EXPECT_NE(res->body.find("cursor: not a cursor"), std::string::npos) << cursor << ": " << res->body;
  }
}

TEST_F(HttpBadInputTest, BadAsOfDatesInQueries) {
  for (const char* as_of : {"2025-02-30T00:00:00Z", "2025-04-01", "2025-04-01T25:00:00Z",
                            "2025-04-01T00:00:00", "2025-04-01T00:00:00%2B24:00"}) {
    auto res = Get(std::string("/v1/employees/E1/engagement?as_of=") + as_of);
    EXPECT_ERROR(res, 400, "bad_request");
    EXPECT_NE(res->body.find("as_of: "), std::string::npos) << as_of << ": " << res->body;
    auto org = Get(std::string("/v1/org-units/ou-a/engagement?as_of=") + as_of);
    EXPECT_ERROR(org, 400, "bad_request");
  }
}

TEST_F(HttpBadInputTest, BadKpiPeriods) {
  for (const char* period : {"2025Q5", "FY25", "2025-13", "2025-00", "FY2025x"}) {
    auto res = Get(std::string("/v1/org-units/ou-a/kpis?period=") + period);
    EXPECT_ERROR(res, 400, "bad_request");
    EXPECT_NE(res->body.find("period"), std::string::npos) << period << ": " << res->body;
  }
}

TEST_F(HttpBadInputTest, BadAsOfStoreNames) {
  for (const char* store : {"..", "../store", "a%2Fb", ".hidden"}) {
    auto res = Get(std::string("/v1/employees/E1/step-status?as_of_store=") + store);
    ASSERT_TRUE(res) << store;
    EXPECT_TRUE(res->status == 400 || res->status == 404) << store << ": " << res->body;
    EXPECT_NE(res->body.find("\"error\""), std::string::npos) << store;
  }
}

// ---------------------------------------------------------------- credentials

TEST_F(HttpBadInputTest, MalformedAuthorizationHeaders) {
  for (const char* header : {"Bearer", "Bearer ", "Token abc", "Basic !!!notbase64", "Basic Zm9v" /* foo, no colon */,
                             "bearer a.b", "Bearer a.b.c.d", "Bearer \xff\xfe.x.y"}) {
    auto res = Get("/v1/rejections", header);
    ASSERT_TRUE(res) << header;
    EXPECT_EQ(res->status, 401) << header << ": " << res->body;
    EXPECT_NE(res->body.find("\"code\":\"unauthenticated\""), std::string::npos) << header;
  }
}

}  // namespace
}  // namespace jiritsu
