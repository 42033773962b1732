// HTTP tests of the xAPI Statements resource (service/xapi_resource.h,
// docs/xapi.md) against a real ServeInstance: /xapi/about, version headers,
// Basic auth of LRS clients, POST/PUT/GET with the filters and `more`
// paging, immutability (409) including two racing writers, voiding,
// unmapped accounting; and an end-to-end test: an xAPI completion of a
// required course counts in step status and KPIs like the native event,
// stops counting when voided, and `jiritsu replay` rebuilds the same views;
// statements survive a restart and a deleted statement store.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <simdjson.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "ops/serve.h"
#include "service/jwt.h"
#include "service/xapi_resource.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using service::ServeConfig;
using testing::TempDir;

constexpr char kSecret[] = "test-secret-0123456789abcdef0123456789";
constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "jiritsu-test";
constexpr char kSourceToken[] = "source-token-hr";
constexpr char kPassword[] = "moodle-password-1";
constexpr char kVersion[] = "1.0.3";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Token(const std::string& sub, const std::string& role) {
  const std::string claims = "{\"iss\":\"" + std::string(kIssuer) + "\",\"aud\":\"" + kAudience +
                             "\",\"sub\":\"" + sub + "\",\"exp\":" + std::to_string(Now() + 3600) +
                             ",\"roles\":[\"" + role + "\"]}";
  return "Bearer " + service::SignHs256(claims, kSecret, "k1");
}

std::string BasicAuth(const std::string& name, const std::string& password) {
  const std::string raw = name + ":" + password;
  std::string out((raw.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
  out.resize(static_cast<size_t>(n));
  return "Basic " + out;
}

service::XapiClientConfig Client(const std::string& name, const std::string& source, const std::string& password) {
  service::XapiClientConfig client;
  client.name = name;
  client.source = source;
  client.iterations = 1000;
  client.salt = "0123456789abcdef";
  unsigned char key[32];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(client.salt.data()), static_cast<int>(client.salt.size()),
                    client.iterations, EVP_sha256(), sizeof(key), key);
  client.derived_key.assign(reinterpret_cast<char*>(key), sizeof(key));
  return client;
}

ServeConfig Config(const std::string& dir) {
  ServeConfig config;
  config.port = 0;
  config.threads = 4;
  config.store_dir = dir + "/store";
  config.max_batch_events = 50;
  config.refresh_ms = 0;
  config.checkpoint_ms = 50;
  config.lag_sample_ms = 100;
  config.default_page_size = 3;
  config.issuer = kIssuer;
  config.audience = kAudience;
  config.keys.push_back({"k1", "HS256", kSecret, ""});
  config.service_credentials.push_back({"hr-system", {"/hr/*"}, service::Sha256Hex(kSourceToken)});
  config.xapi_clients.push_back(Client("moodle", "/lms/moodle", kPassword));
  config.xapi_clients.push_back(Client("other-lms", "/lms/other", "other-password"));
  config.xapi_mapping.account_home_pages = {"https://lms.example.com"};
  config.xapi_mapping.course_id_prefixes = {"https://lms.example.com/course/"};
  return config;
}

std::string Event(const std::string& type, const std::string& id, const std::string& subject,
                  const std::string& time, const std::string& data, const std::string& source = "/hr/test") {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source + "\",\"type\":\"" + type +
         "\",\"subject\":\"" + subject + "\",\"time\":\"" + time +
         "\",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
}

// Org unit ou-a, programme p1 (step 1 needs course crs-1), E1 and E2 hired.
std::string Seed() {
  return "[" +
         Event("org.unit.defined", "ou-1", "ou-a", "2025-01-01T00:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"name\":\"A\"}") +
         "," +
         Event("program.defined", "p-1", "p1", "2025-01-01T00:00:00+09:00",
               "{\"program_id\":\"p1\",\"name\":\"P\",\"talent_profile\":\"dx_literacy\",\"steps\":[{\"step\":1,"
               "\"name\":\"basics\",\"required_courses\":[\"crs-1\"]}]}") +
         "," +
         Event("employee.hired", "h-e1", "E1", "2025-04-01T09:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"E one\"}") +
         "," +
         Event("employee.hired", "h-e2", "E2", "2025-04-01T09:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"E two\"}") +
         "]";
}

std::string Statement(const std::string& id, const std::string& actor_name, const std::string& verb,
                      const std::string& course, const std::string& extra = "") {
  std::string out = "{";
  if (!id.empty()) out += "\"id\":\"" + id + "\",";
  return out + "\"actor\":{\"objectType\":\"Agent\",\"account\":{\"homePage\":\"https://lms.example.com\",\"name\":\"" +
         actor_name + "\"}},\"verb\":{\"id\":\"http://adlnet.gov/expapi/verbs/" + verb +
         "\",\"display\":{\"en-US\":\"" + verb + "\"}},\"object\":{\"id\":\"https://lms.example.com/course/" + course +
         "\",\"objectType\":\"Activity\"},\"timestamp\":\"2025-04-24T20:40:00+09:00\"" + extra + "}";
}

std::string Voiding(const std::string& id, const std::string& target) {
  return "{\"id\":\"" + id +
         "\",\"actor\":{\"mbox\":\"mailto:admin@example.com\"},\"verb\":{\"id\":\"http://adlnet.gov/expapi/verbs/voided\","
         "\"display\":{\"en-US\":\"voided\"}},\"object\":{\"objectType\":\"StatementRef\",\"id\":\"" +
         target + "\"},\"timestamp\":\"2025-04-25T09:00:00+09:00\"}";
}

std::string Encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

class Lrs {
 public:
  explicit Lrs(int port) : port_(port) {}
  httplib::Result Send(const std::string& method, const std::string& path, const std::string& body = "",
                       const std::string& auth = BasicAuth("moodle", kPassword), const char* version = kVersion) {
    httplib::Client client("127.0.0.1", port_);
    httplib::Headers headers;
    if (!auth.empty()) headers.emplace("Authorization", auth);
    if (version != nullptr) headers.emplace("X-Experience-API-Version", version);
    if (method == "GET") return client.Get(path, headers);
    if (method == "PUT") return client.Put(path, headers, body, "application/json");
    return client.Post(path, headers, body, "application/json");
  }
  int port_;
};

std::string Field(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return "<not json>";
  simdjson::dom::element e;
  if (root.at_pointer(pointer).get(e) != simdjson::SUCCESS) return "<missing>";
  return e.is_string() ? std::string(e.get_string().value()) : simdjson::to_string(e);
}

// Waits until `path` (read as hr) contains `needle`; returns the last body.
std::string WaitFor(int port, const std::string& path, const std::string& needle) {
  httplib::Client client("127.0.0.1", port);
  std::string body;
  for (int i = 0; i < 800; ++i) {
    auto res = client.Get(path, {{"Authorization", Token("hr-1", "hr")}});
    if (res) body = res->body;
    if (res && res->status == 200 && body.find(needle) != std::string::npos) return body;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ADD_FAILURE() << path << " never contained " << needle << "; last: " << body;
  return body;
}

class XapiHttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto instance = ServeInstance::Start(Config(dir_->path()));
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    serve_ = instance->release();
    httplib::Client client("127.0.0.1", serve_->port());
    auto seeded = client.Post("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}}, Seed(),
                              "application/json");
    ASSERT_TRUE(seeded);
    ASSERT_EQ(seeded->status, 202) << seeded->body;
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }
  Lrs lrs() { return Lrs(serve_->port()); }

  static TempDir* dir_;
  static ServeInstance* serve_;
};
TempDir* XapiHttpTest::dir_ = nullptr;
ServeInstance* XapiHttpTest::serve_ = nullptr;

TEST_F(XapiHttpTest, AboutListsVersionsWithoutAuthentication) {
  auto res = lrs().Send("GET", "/xapi/about", "", "", nullptr);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("\"1.0.3\""), std::string::npos) << res->body;
  EXPECT_NE(res->body.find("\"2.0.0\""), std::string::npos);
  EXPECT_TRUE(res->has_header("X-Experience-API-Version"));
}

TEST_F(XapiHttpTest, VersionHeaderIsRequiredAndEchoed) {
  const std::string body = Statement("", "E1", "experienced", "crs-v");
  auto missing = lrs().Send("POST", "/xapi/statements", body, BasicAuth("moodle", kPassword), nullptr);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  EXPECT_EQ(Field(missing->body, "/error/where"), "X-Experience-API-Version");
  EXPECT_TRUE(missing->has_header("X-Experience-API-Version"));
  auto old = lrs().Send("POST", "/xapi/statements", body, BasicAuth("moodle", kPassword), "0.95");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 400);
  auto v2 = lrs().Send("GET", "/xapi/statements?limit=1", "", BasicAuth("moodle", kPassword), "2.0.0");
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->status, 200);
  EXPECT_EQ(v2->get_header_value("X-Experience-API-Version"), "2.0.0");
  EXPECT_TRUE(v2->has_header("X-Experience-API-Consistent-Through"));
  auto v1 = lrs().Send("GET", "/xapi/statements?limit=1");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->get_header_value("X-Experience-API-Version"), "1.0.3");
}

TEST_F(XapiHttpTest, BasicAuthOfLrsClients) {
  const std::string body = Statement("", "E1", "experienced", "crs-a");
  auto none = lrs().Send("POST", "/xapi/statements", body, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_TRUE(none->has_header("X-Experience-API-Version"));
  auto wrong = lrs().Send("POST", "/xapi/statements", body, BasicAuth("moodle", "guess"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto hr = lrs().Send("POST", "/xapi/statements", body, Token("hr-1", "hr"));
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->status, 403);
  auto ok = lrs().Send("POST", "/xapi/statements", body);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST_F(XapiHttpTest, PostReturnsIdsAndGetReturnsTheStoredStatement) {
  const std::string id = "a1a1a1a1-0000-4000-8000-000000000001";
  auto post = lrs().Send("POST", "/xapi/statements",
                         "[" + Statement(id, "E1", "experienced", "crs-p") + "," + Statement("", "E1", "experienced", "crs-p") + "]");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  EXPECT_EQ(Field(post->body, "/0"), id);
  EXPECT_EQ(Field(post->body, "/1").size(), 36u);  // LRS-assigned UUID
  auto get = lrs().Send("GET", "/xapi/statements?statementId=" + id);
  ASSERT_TRUE(get);
  ASSERT_EQ(get->status, 200) << get->body;
  EXPECT_EQ(Field(get->body, "/id"), id);
  EXPECT_EQ(Field(get->body, "/version"), "1.0.0");
  EXPECT_EQ(Field(get->body, "/authority/account/name"), "moodle");
  EXPECT_NE(Field(get->body, "/stored"), "<missing>");
  EXPECT_EQ(Field(get->body, "/verb/id"), "http://adlnet.gov/expapi/verbs/experienced");
  EXPECT_TRUE(get->has_header("X-Experience-API-Consistent-Through"));
  // Another LRS client does not see it; 404, not 403.
  auto other = lrs().Send("GET", "/xapi/statements?statementId=" + id, "", BasicAuth("other-lms", "other-password"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);
  auto hr = lrs().Send("GET", "/xapi/statements?statementId=" + id, "", Token("hr-1", "hr"));
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->status, 200);
  auto missing = lrs().Send("GET", "/xapi/statements?statementId=a1a1a1a1-0000-4000-8000-0000000000ff");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(XapiHttpTest, InvalidStatementsGetWhatWhereWhy) {
  auto res = lrs().Send("POST", "/xapi/statements",
                        Statement("", "E1", "completed", "crs-1", ",\"result\":{\"score\":{\"scaled\":2}}"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(Field(res->body, "/error/where"), "statement.result.score.scaled");
  EXPECT_EQ(Field(res->body, "/error/why"), "must be between -1 and 1, got 2");
  auto batch = lrs().Send("POST", "/xapi/statements",
                          "[" + Statement("", "E1", "experienced", "crs-x") + ",{\"actor\":{}}]");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 400);
  EXPECT_EQ(Field(batch->body, "/error/index"), "1");
  auto malformed = lrs().Send("POST", "/xapi/statements", "{");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  const std::string dup = "a1a1a1a1-0000-4000-8000-0000000000d0";
  auto twice = lrs().Send("POST", "/xapi/statements",
                          "[" + Statement(dup, "E1", "experienced", "crs-x") + "," + Statement(dup, "E1", "experienced", "crs-x") + "]");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 400);
  auto gone = lrs().Send("GET", "/xapi/statements?statementId=" + dup);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status, 404) << "a rejected batch stores nothing";
}

TEST_F(XapiHttpTest, PutAndImmutability) {
  const std::string id = "a1a1a1a1-0000-4000-8000-000000000002";
  const std::string body = Statement(id, "E1", "experienced", "crs-q");
  auto no_id = lrs().Send("PUT", "/xapi/statements", body);
  ASSERT_TRUE(no_id);
  EXPECT_EQ(no_id->status, 400);
  auto mismatch = lrs().Send("PUT", "/xapi/statements?statementId=a1a1a1a1-0000-4000-8000-000000000003", body);
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->status, 400);
  auto first = lrs().Send("PUT", "/xapi/statements?statementId=" + id, body);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 204) << first->body;
  // The same statement again (other property order, timestamp in UTC): no-op.
  const std::string same = "{\"timestamp\":\"2025-04-24T11:40:00Z\"," + body.substr(1, body.find(",\"timestamp\"") - 1) + "}";
  auto again = lrs().Send("PUT", "/xapi/statements?statementId=" + id, same);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 204) << again->body;
  auto post_again = lrs().Send("POST", "/xapi/statements", body);
  ASSERT_TRUE(post_again);
  EXPECT_EQ(post_again->status, 200);
  auto conflict = lrs().Send("PUT", "/xapi/statements?statementId=" + id, Statement(id, "E1", "experienced", "crs-other"));
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409) << conflict->body;
  auto post_conflict = lrs().Send("POST", "/xapi/statements", Statement(id, "E2", "experienced", "crs-q"));
  ASSERT_TRUE(post_conflict);
  EXPECT_EQ(post_conflict->status, 409);
  auto get = lrs().Send("GET", "/xapi/statements?statementId=" + id);
  ASSERT_TRUE(get);
  EXPECT_EQ(Field(get->body, "/object/id"), "https://lms.example.com/course/crs-q");
}

TEST_F(XapiHttpTest, TwoRacingWritersOfOneIdGetOneSuccessAndOneConflict) {
  for (int round = 0; round < 5; ++round) {
    const std::string id = "a1a1a1a1-0000-4000-8000-0000000001" + std::to_string(10 + round);
    std::atomic<int> ok{0}, conflict{0}, other{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        auto res = Lrs(serve_->port()).Send("POST", "/xapi/statements",
                                            Statement(id, "E1", "experienced", "crs-race-" + std::to_string(w)));
        if (res && res->status == 200) ++ok;
        else if (res && res->status == 409) ++conflict;
        else ++other;
      });
    }
    for (auto& t : writers) t.join();
    EXPECT_EQ(ok.load(), 1) << "round " << round;
    EXPECT_EQ(conflict.load(), 1);
    EXPECT_EQ(other.load(), 0);
  }
}

TEST_F(XapiHttpTest, FiltersAndMorePaging) {
  const std::string verb = "http://adlnet.gov/expapi/verbs/interacted";
  std::string batch = "[";
  for (int i = 0; i < 7; ++i) {
    if (i) batch += ",";
    batch += Statement("", "F" + std::to_string(i % 2), "interacted", "crs-f" + std::to_string(i % 3),
                       ",\"context\":{\"registration\":\"b2b2b2b2-0000-4000-8000-00000000000" + std::to_string(i % 2) + "\"}");
  }
  auto post = lrs().Send("POST", "/xapi/statements", batch + "]");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  // Page through every "interacted" statement (page size 3): 3 + 3 + 1.
  std::string path = "/xapi/statements?verb=" + Encode(verb);
  int total = 0, pages = 0;
  while (!path.empty() && pages < 10) {
    auto res = lrs().Send("GET", path);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    simdjson::dom::parser parser;
    auto root = parser.parse(res->body).value();
    total += static_cast<int>(simdjson::dom::array(root["statements"]).size());
    path = std::string(std::string_view(root["more"]));
    ++pages;
  }
  EXPECT_EQ(total, 7);
  EXPECT_EQ(pages, 3);
  const std::string agent = Encode(R"({"account":{"homePage":"https://lms.example.com","name":"F1"}})");
  auto by_agent = lrs().Send("GET", "/xapi/statements?limit=0&agent=" + agent);
  ASSERT_TRUE(by_agent);
  EXPECT_EQ(by_agent->status, 200) << by_agent->body;
  simdjson::dom::parser parser;
  EXPECT_EQ(simdjson::dom::array(parser.parse(by_agent->body).value()["statements"]).size(), 3u);
  auto by_activity = lrs().Send("GET", "/xapi/statements?limit=0&activity=" +
                                           Encode("https://lms.example.com/course/crs-f0"));
  ASSERT_TRUE(by_activity);
  EXPECT_EQ(simdjson::dom::array(parser.parse(by_activity->body).value()["statements"]).size(), 3u);
  auto by_registration = lrs().Send("GET", "/xapi/statements?limit=0&registration=b2b2b2b2-0000-4000-8000-000000000000");
  ASSERT_TRUE(by_registration);
  EXPECT_EQ(simdjson::dom::array(parser.parse(by_registration->body).value()["statements"]).size(), 4u);
  // ascending: the oldest interacted statement first; format=ids keeps ids only.
  auto asc = lrs().Send("GET", "/xapi/statements?ascending=true&limit=1&format=ids&verb=" + Encode(verb));
  ASSERT_TRUE(asc);
  EXPECT_EQ(Field(asc->body, "/statements/0/object/id"), "https://lms.example.com/course/crs-f0");
  EXPECT_EQ(Field(asc->body, "/statements/0/verb/display"), "<missing>");
  auto future = lrs().Send("GET", "/xapi/statements?since=2999-01-01T00:00:00Z");
  ASSERT_TRUE(future);
  EXPECT_EQ(simdjson::dom::array(parser.parse(future->body).value()["statements"]).size(), 0u);
  auto past = lrs().Send("GET", "/xapi/statements?until=2000-01-01T00:00:00Z");
  ASSERT_TRUE(past);
  EXPECT_EQ(simdjson::dom::array(parser.parse(past->body).value()["statements"]).size(), 0u);
  for (const char* bad : {"/xapi/statements?foo=1", "/xapi/statements?limit=-1", "/xapi/statements?since=yesterday",
                          "/xapi/statements?statementId=a1a1a1a1-0000-4000-8000-000000000001&verb=http://x.example/v",
                          "/xapi/statements?statementId=a1a1a1a1-0000-4000-8000-000000000001&voidedStatementId=a1a1a1a1-0000-4000-8000-000000000001",
                          "/xapi/statements?agent=%7B%7D", "/xapi/statements?format=full"}) {
    auto res = lrs().Send("GET", bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad << " " << res->body;
  }
}

TEST_F(XapiHttpTest, VoidingHidesTheTargetAndCannotBeVoided) {
  const std::string target = "a1a1a1a1-0000-4000-8000-000000000020";
  const std::string voiding = "a1a1a1a1-0000-4000-8000-000000000021";
  auto post = lrs().Send("POST", "/xapi/statements", Statement(target, "E2", "experienced", "crs-v"));
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200);
  auto voided = lrs().Send("POST", "/xapi/statements", Voiding(voiding, target));
  ASSERT_TRUE(voided);
  ASSERT_EQ(voided->status, 200) << voided->body;
  auto by_id = lrs().Send("GET", "/xapi/statements?statementId=" + target);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 404);
  auto by_voided = lrs().Send("GET", "/xapi/statements?voidedStatementId=" + target);
  ASSERT_TRUE(by_voided);
  EXPECT_EQ(by_voided->status, 200);
  EXPECT_EQ(Field(by_voided->body, "/id"), target);
  auto voiding_itself = lrs().Send("GET", "/xapi/statements?statementId=" + voiding);
  ASSERT_TRUE(voiding_itself);
  EXPECT_EQ(voiding_itself->status, 200);
  auto not_voided = lrs().Send("GET", "/xapi/statements?voidedStatementId=" + voiding);
  ASSERT_TRUE(not_voided);
  EXPECT_EQ(not_voided->status, 404);
  auto list = lrs().Send("GET", "/xapi/statements?limit=0&activity=" +
                                    Encode("https://lms.example.com/course/crs-v"));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->body.find(target + "\",\"actor\""), std::string::npos) << "voided statements are not listed";
  auto void_void = lrs().Send("POST", "/xapi/statements", Voiding("a1a1a1a1-0000-4000-8000-000000000022", voiding));
  ASSERT_TRUE(void_void);
  EXPECT_EQ(void_void->status, 400) << void_void->body;
}

TEST_F(XapiHttpTest, AVoidBeforeItsTargetIsAcceptedAndTheTargetNeverCounts) {
  const std::string target = "a1a1a1a1-0000-4000-8000-000000000040";
  auto voiding = lrs().Send("POST", "/xapi/statements", Voiding("a1a1a1a1-0000-4000-8000-000000000041", target));
  ASSERT_TRUE(voiding);
  ASSERT_EQ(voiding->status, 200) << voiding->body;  // the target is unknown yet: still accepted
  auto post = lrs().Send("POST", "/xapi/statements", Statement(target, "E2", "passed", "crs-1"));
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  auto by_id = lrs().Send("GET", "/xapi/statements?statementId=" + target);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 404);
  // E2's journal: hired, the completion and its compensation; step 1 not reached.
  const std::string status = WaitFor(serve_->port(), "/v1/employees/E2/step-status", "\"events_folded\":3");
  EXPECT_EQ(Field(status, "/programs/0/current_step"), "0") << status;
}

TEST_F(XapiHttpTest, UnmappedStatementsAreKeptCountedAndListed) {
  const std::string id = "a1a1a1a1-0000-4000-8000-000000000030";
  auto post = lrs().Send("POST", "/xapi/statements",
                         "{\"id\":\"" + id + "\",\"actor\":{\"mbox\":\"mailto:stranger@nowhere.example\"},\"verb\":{\"id\":"
                         "\"http://adlnet.gov/expapi/verbs/completed\"},\"object\":{\"id\":\"https://lms.example.com/course/crs-1\"}}");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  auto get = lrs().Send("GET", "/xapi/statements?statementId=" + id);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  auto metrics = lrs().Send("GET", "/metrics", "", Token("ops-1", "ops"));
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("jiritsu_xapi_statements_total{outcome=\"unmapped_actor\"}"), std::string::npos);
  auto listed = lrs().Send("GET", "/xapi/unmapped?limit=100", "", Token("hr-1", "hr"));
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->status, 200) << listed->body;
  EXPECT_NE(listed->body.find(id), std::string::npos);
  EXPECT_NE(listed->body.find("\"outcome\":\"unmapped_actor\""), std::string::npos);
  auto as_source = lrs().Send("GET", "/xapi/unmapped");
  ASSERT_TRUE(as_source);
  EXPECT_EQ(as_source->status, 403);
  auto as_ops = lrs().Send("GET", "/xapi/unmapped", "", Token("ops-1", "ops"));
  ASSERT_TRUE(as_ops);
  EXPECT_EQ(as_ops->status, 403) << "ops sees counts, not personal data";
}

TEST_F(XapiHttpTest, CanonicalFormatKeepsOneLanguagePerMap) {
  const std::string id = "a1a1a1a1-0000-4000-8000-000000000050";
  auto post = lrs().Send("POST", "/xapi/statements",
                         "{\"id\":\"" + id + "\",\"actor\":{\"mbox\":\"mailto:c@example.com\",\"name\":\"C\"},"
                         "\"verb\":{\"id\":\"http://adlnet.gov/expapi/verbs/experienced\",\"display\":{\"en-US\":\"experienced\","
                         "\"ja-JP\":\"経験した\"}},\"object\":{\"id\":\"https://lms.example.com/course/crs-c\",\"definition\":"
                         "{\"name\":{\"en-US\":\"Course\",\"ja\":\"講座\"},\"extensions\":{\"http://x.example/e\":{\"name\":{\"a\":1,\"b\":2}}}}}}");
  ASSERT_TRUE(post);
  ASSERT_EQ(post->status, 200) << post->body;
  httplib::Client client("127.0.0.1", serve_->port());
  const httplib::Headers headers = {{"Authorization", BasicAuth("moodle", kPassword)},
                                    {"X-Experience-API-Version", kVersion},
                                    {"Accept-Language", "ja-JP, en;q=0.5"}};
  auto canonical = client.Get("/xapi/statements?format=canonical&statementId=" + id, headers);
  ASSERT_TRUE(canonical);
  ASSERT_EQ(canonical->status, 200) << canonical->body;
  EXPECT_EQ(Field(canonical->body, "/verb/display"), "{\"ja-JP\":\"経験した\"}");
  EXPECT_EQ(Field(canonical->body, "/object/definition/name"), "{\"ja\":\"講座\"}");  // same primary language
  EXPECT_EQ(Field(canonical->body, "/object/definition/extensions/http:~1~1x.example~1e/name/b"), "2");
  EXPECT_EQ(Field(canonical->body, "/actor/name"), "C");
  auto exact = client.Get("/xapi/statements?statementId=" + id, headers);
  ASSERT_TRUE(exact);
  EXPECT_EQ(Field(exact->body, "/verb/display/en-US"), "experienced");
}

TEST_F(XapiHttpTest, AttachmentsWithoutBodiesAndMultipartAreRefused) {
  auto res = lrs().Send("POST", "/xapi/statements",
                        Statement("", "E1", "experienced", "crs-1",
                                  ",\"attachments\":[{\"usageType\":\"http://adlnet.gov/expapi/attachments/signature\","
                                  "\"display\":{\"en\":\"s\"},\"contentType\":\"application/octet-stream\",\"length\":3,"
                                  "\"sha2\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  httplib::Client client("127.0.0.1", serve_->port());
  auto multipart = client.Post("/xapi/statements",
                               {{"Authorization", BasicAuth("moodle", kPassword)}, {"X-Experience-API-Version", kVersion}},
                               "--b\r\n\r\n--b--", "multipart/mixed; boundary=b");
  ASSERT_TRUE(multipart);
  EXPECT_EQ(multipart->status, 400);
  EXPECT_EQ(Field(multipart->body, "/error/code"), "attachments_unsupported");
}

// ---------------------------------------------------------------- end to end

TEST(XapiEndToEnd, CompletionCountsLikeANativeEventUntilVoidedAlsoAfterReplayAndRestart) {
  TempDir dir;
  const ServeConfig config = Config(dir.path());
  const std::string target = "c0c0c0c0-0000-4000-8000-000000000001";
  const std::string voiding = "c0c0c0c0-0000-4000-8000-000000000002";
  std::string kpi_with_both;
  {
    auto serve = ServeInstance::Start(config);
    ASSERT_TRUE(serve.ok()) << serve.status().ToString();
    const int port = (*serve)->port();
    httplib::Client client("127.0.0.1", port);
    // E1 completes crs-1 through xAPI; E2 the same course natively, same data.
    const std::string native = Event("learning.completed", "native-1", "E2", "2025-04-24T20:40:00+09:00",
                                     "{\"course_id\":\"crs-1\",\"hours\":1.5,\"score\":80,\"passed\":true}", "/hr/lms");
    auto seeded = client.Post("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}},
                              Seed().substr(0, Seed().size() - 1) + "," + native + "]", "application/json");
    ASSERT_TRUE(seeded);
    ASSERT_EQ(seeded->status, 202) << seeded->body;
    auto post = Lrs(port).Send("POST", "/xapi/statements",
                               Statement(target, "E1", "completed", "crs-1",
                                         ",\"result\":{\"duration\":\"PT1H30M\",\"score\":{\"scaled\":0.8},\"success\":true}"));
    ASSERT_TRUE(post);
    ASSERT_EQ(post->status, 200) << post->body;
    const std::string e1 = WaitFor(port, "/v1/employees/E1/step-status", "\"current_step\":1");
    const std::string e2 = WaitFor(port, "/v1/employees/E2/step-status", "\"current_step\":1");
    EXPECT_EQ(Field(e1, "/programs/0/steps_reached/0/reached_at"), Field(e2, "/programs/0/steps_reached/0/reached_at"));
    kpi_with_both = WaitFor(port, "/v1/org-units/ou-a/kpis?period=FY2025", "\"trainings_completed\":2");
    EXPECT_NE(kpi_with_both.find("\"learning_hours\":3"), std::string::npos) << kpi_with_both;
    EXPECT_NE(kpi_with_both.find("\"completed\":2"), std::string::npos) << kpi_with_both;

    auto voided = Lrs(port).Send("POST", "/xapi/statements", Voiding(voiding, target));
    ASSERT_TRUE(voided);
    ASSERT_EQ(voided->status, 200) << voided->body;
    const std::string after = WaitFor(port, "/v1/employees/E1/step-status", "\"current_step\":0");
    EXPECT_EQ(Field(after, "/programs/0/next_step/criteria/0/met"), "false");
    const std::string kpi = WaitFor(port, "/v1/org-units/ou-a/kpis?period=FY2025", "\"trainings_completed\":1");
    EXPECT_NE(kpi.find("\"learning_hours\":1.5"), std::string::npos) << kpi;
    (*serve)->Stop();
  }
  // jiritsu replay rebuilds the same views from the log.
  const std::string store = config.store_dir;
  testing::CommandResult live = testing::RunJiritsu({"digest", "--store", store});
  ASSERT_EQ(live.exit_code, 0) << live.stderr_text;
  testing::CommandResult replay = testing::RunJiritsu({"replay", "--quiet", "--store", store});
  ASSERT_EQ(replay.exit_code, 0) << replay.stderr_text;
  EXPECT_EQ(testing::JsonField(replay.stdout_text, "digest"), testing::JsonField(live.stdout_text, "digest"));

  // After a restart, and again with the statement store deleted (rebuilt
  // from jiritsu.xapi), the statements and the voiding are still there.
  for (int round = 0; round < 2; ++round) {
    if (round == 1) std::filesystem::remove_all(service::XapiStoreDir(config));
    auto serve = ServeInstance::Start(config);
    ASSERT_TRUE(serve.ok()) << serve.status().ToString();
    Lrs lrs((*serve)->port());
    auto by_id = lrs.Send("GET", "/xapi/statements?statementId=" + target);
    ASSERT_TRUE(by_id);
    EXPECT_EQ(by_id->status, 404) << "round " << round;
    auto by_voided = lrs.Send("GET", "/xapi/statements?voidedStatementId=" + target);
    ASSERT_TRUE(by_voided);
    EXPECT_EQ(by_voided->status, 200) << "round " << round << " " << by_voided->body;
    auto voiding_statement = lrs.Send("GET", "/xapi/statements?statementId=" + voiding);
    ASSERT_TRUE(voiding_statement);
    EXPECT_EQ(voiding_statement->status, 200);
    // Immutability holds across the restart too.
    auto conflict = lrs.Send("POST", "/xapi/statements", Statement(target, "E1", "completed", "crs-2"));
    ASSERT_TRUE(conflict);
    EXPECT_EQ(conflict->status, 409);
    (*serve)->Stop();
  }
}

}  // namespace
}  // namespace jiritsu
