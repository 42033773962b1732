// Unit tests of the serve configuration (service/config.h), JWT verification
// (service/jwt.h), the authenticator (service/auth.h) and the metrics
// registry (core/metrics.h).
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <fstream>
#include <map>
#include <thread>

#include "core/metrics.h"
#include "service/auth.h"
#include "service/config.h"
#include "service/jwt.h"

namespace jiritsu::service {
namespace {

constexpr char kSecret[] = "unit-secret-0123456789abcdef0123456789";

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

const char kMinimal[] = R"(
[auth]
issuer = "iss"
audience = "aud"
[[auth.keys]]
kid = "k"
algorithm = "HS256"
secret = "unit-secret-0123456789abcdef0123456789"
)";

TEST(ServeConfigTest, ExampleConfigLoads) {
  auto config = LoadServeConfig(std::string(JIRITSU_SOURCE_DIR) + "/ops/serve.example.toml", Env({}));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->port, 8080);
  EXPECT_EQ(config->keys.size(), 1u);
  EXPECT_EQ(config->service_credentials.size(), 1u);
  EXPECT_EQ(config->service_credentials[0].token_sha256, Sha256Hex("dev-hr-system-token"));
}

TEST(ServeConfigTest, DefaultsAndEnvironmentOverrides) {
  auto defaults = ParseServeConfig(kMinimal, "t.toml", Env({}));
  ASSERT_TRUE(defaults.ok()) << defaults.status().ToString();
  EXPECT_EQ(defaults->port, 8080);
  EXPECT_EQ(defaults->store_dir, "./jiritsu-data");
  auto overridden = ParseServeConfig(std::string(kMinimal) + "[server]\nport = 1234\n", "t.toml",
                                     Env({{"JIRITSU_SERVE_SERVER_PORT", "4321"},
                                          {"JIRITSU_SERVE_LOG_KAFKA_PROPERTIES", "a=1, b=2"},
                                          {"JIRITSU_SERVE_RUNTIME_RUN_PROJECTIONS", "false"}}));
  ASSERT_TRUE(overridden.ok()) << overridden.status().ToString();
  EXPECT_EQ(overridden->port, 4321);
  EXPECT_EQ(overridden->kafka_properties, (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_FALSE(overridden->run_projections);
  EXPECT_TRUE(defaults->catch_up_merge);
  auto polled = ParseServeConfig(std::string(kMinimal) + "[runtime]\ncatch_up_merge = false\n",
                                 "t.toml", Env({}));
  ASSERT_TRUE(polled.ok()) << polled.status().ToString();
  EXPECT_FALSE(polled->catch_up_merge);
  EXPECT_TRUE(defaults->low_priority_compactions);
  auto normal = ParseServeConfig(
      std::string(kMinimal) + "[runtime]\nlow_priority_compactions = false\n", "t.toml", Env({}));
  ASSERT_TRUE(normal.ok()) << normal.status().ToString();
  EXPECT_FALSE(normal->low_priority_compactions);
  auto by_env = ParseServeConfig(
      kMinimal, "t.toml", Env({{"JIRITSU_SERVE_RUNTIME_LOW_PRIORITY_COMPACTIONS", "false"}}));
  ASSERT_TRUE(by_env.ok()) << by_env.status().ToString();
  EXPECT_FALSE(by_env->low_priority_compactions);
  auto not_a_bool = ParseServeConfig(
      std::string(kMinimal) + "[runtime]\nlow_priority_compactions = 1\n", "t.toml", Env({}));
  ASSERT_FALSE(not_a_bool.ok());
  EXPECT_NE(not_a_bool.status().message().find(
                "[runtime] low_priority_compactions: must be true or false"),
            std::string::npos)
      << not_a_bool.status().ToString();
  EXPECT_EQ(defaults->facts_budget_percent, processors::kDefaultFactsBudgetPercent);
  auto budget = ParseServeConfig(std::string(kMinimal) + "[runtime]\nfacts_budget_percent = 60\n",
                                 "t.toml", Env({}));
  ASSERT_TRUE(budget.ok()) << budget.status().ToString();
  EXPECT_EQ(budget->facts_budget_percent, 60);
  EXPECT_EQ(defaults->warm_cache_percent, processors::kDefaultWarmCachePercent);
  auto cold = ParseServeConfig(std::string(kMinimal) + "[runtime]\nwarm_cache_percent = 0\n",
                               "t.toml", Env({}));
  ASSERT_TRUE(cold.ok()) << cold.status().ToString();
  EXPECT_EQ(cold->warm_cache_percent, 0);
  EXPECT_EQ(defaults->kafka_topic_prefix, "");
  auto prefixed = ParseServeConfig(std::string(kMinimal) + "[log]\nkafka_topic_prefix = \"acme.\"\n",
                                   "t.toml", Env({}));
  ASSERT_TRUE(prefixed.ok()) << prefixed.status().ToString();
  EXPECT_EQ(prefixed->kafka_topic_prefix, "acme.");
  EXPECT_EQ(EnvNameFor("ingest", "max_queued_events"), "JIRITSU_SERVE_INGEST_MAX_QUEUED_EVENTS");
}

TEST(ServeConfigTest, ErrorsNameTheKey) {
  struct Case {
    std::string text;
    std::map<std::string, std::string> env;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {std::string(kMinimal) + "[server]\nport = 70000\n", {}, "[server] port: must be 0..65535, got 70000"},
      {std::string(kMinimal) + "[server]\nprot = 1\n", {}, "[server]: unknown key \"prot\""},
      {std::string(kMinimal) + "[servr]\n", {}, "unknown section [servr]"},
      {std::string(kMinimal) + "[server]\nport = \"x\"\n", {}, "[server] port: must be an integer"},
      {std::string(kMinimal) + "[runtime]\nfacts_budget_percent = 0\n", {},
       "[runtime] facts_budget_percent: must be 1..100, got 0"},
      {std::string(kMinimal) + "[runtime]\nwarm_cache_percent = 101\n", {},
       "[runtime] warm_cache_percent: must be 0..100, got 101"},
      {kMinimal, {{"JIRITSU_SERVE_SERVER_PORT", "abc"}}, "JIRITSU_SERVE_SERVER_PORT ([server] port): must be an integer"},
      {"[auth]\nissuer=\"i\"\naudience=\"a\"\n", {}, "configure at least one key"},
      {"[auth]\nissuer=\"i\"\naudience=\"a\"\n[[auth.keys]]\nalgorithm=\"HS256\"\nsecret=\"short\"\n", {},
       "at least 32 bytes"},
      {"[auth]\nissuer=\"i\"\naudience=\"a\"\n[[auth.keys]]\nalgorithm=\"none\"\nsecret=\"x\"\n", {},
       "algorithm must be \"HS256\" or \"RS256\""},
      {"[auth]\nissuer=\"i\"\naudience=\"a\"\n[[auth.keys]]\nalgorithm=\"HS256\"\nsecret_env=\"NOPE\"\n", {},
       "environment variable NOPE is not set"},
      {"[auth]\nissuer=\"i\"\naudience=\"a\"\n[[auth.keys]]\nalgorithm=\"RS256\"\npublic_key_file=\"/nonexistent.pem\"\n",
       {}, "cannot read /nonexistent.pem"},
      {"[auth]\n[[auth.service_credentials]]\nname=\"s\"\nsources=[\"/a\"]\ntoken_sha256=\"abc\"\n", {},
       "token_sha256 must be 64 lower-case hex digits"},
      {"[auth\n", {}, "t.toml:1:"},
  };
  for (const Case& c : cases) {
    auto config = ParseServeConfig(c.text, "t.toml", Env(c.env));
    ASSERT_FALSE(config.ok()) << c.expected;
    EXPECT_NE(config.status().message().find(c.expected), std::string::npos)
        << config.status().message();
  }
  auto from_env = ParseServeConfig(
      "[auth]\nissuer=\"i\"\naudience=\"a\"\n[[auth.keys]]\nalgorithm=\"HS256\"\nsecret_env=\"K\"\n",
      "t.toml", Env({{"K", kSecret}}));
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->keys[0].secret, kSecret);
}

TEST(JwtTest, Base64UrlRoundTripAndStrictness) {
  for (const std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00x"}) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(text));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").ok());    // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v").ok());     // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z").ok());        // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());       // non-canonical trailing bits
}

// An HS256 token with an arbitrary (correctly signed) header.
std::string SignedWithHeader(const std::string& header, const std::string& claims) {
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(sizeof(kSecret) - 1),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), size));
}

std::unique_ptr<JwtVerifier> Verifier() {
  auto verifier = JwtVerifier::Create({{"k", "HS256", kSecret, ""}}, "iss", "aud", 10);
  EXPECT_TRUE(verifier.ok());
  return std::move(verifier).value();
}

TEST(JwtTest, VerifiesClaims) {
  auto verifier = Verifier();
  const int64_t now = 1'800'000'000;
  auto claims = verifier->Verify(
      SignHs256("{\"iss\":\"iss\",\"aud\":[\"x\",\"aud\"],\"sub\":\"E1\",\"exp\":1800000100,"
                "\"roles\":[\"employee\",\"manager\"],\"source\":\"/a\"}",
                kSecret, "k"),
      now);
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->subject, "E1");
  EXPECT_EQ(claims->roles, (std::vector<std::string>{"employee", "manager"}));
  EXPECT_EQ(claims->sources, (std::vector<std::string>{"/a"}));
  struct Case {
    std::string claims;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {R"({"iss":"iss","aud":"aud","sub":"E1"})", "claim exp: required"},
      {R"({"iss":"iss","aud":"aud","sub":"E1","exp":1799999989})", "token: expired"},
      {R"({"iss":"iss","aud":"aud","sub":"E1","exp":"soon"})", "NumericDate"},
      {R"({"iss":"iss","aud":"aud","sub":"E1","exp":1800000100,"nbf":1800000011})", "not yet valid"},
      {R"({"iss":"other","aud":"aud","sub":"E1","exp":1800000100})", "wrong issuer"},
      {R"({"iss":"iss","aud":"other","sub":"E1","exp":1800000100})", "wrong audience"},
      {R"({"iss":"iss","sub":"E1","exp":1800000100})", "wrong audience"},
      {R"({"iss":"iss","aud":"aud","exp":1800000100})", "claim sub"},
      {R"({"iss":"iss","aud":"aud","sub":"E1","exp":1800000100,"roles":7})", "claim roles"},
      {R"([1,2])", "not a JSON object"},
  };
  for (const Case& c : cases) {
    auto result = verifier->Verify(SignHs256(c.claims, kSecret, "k"), now);
    ASSERT_FALSE(result.ok()) << c.claims;
    EXPECT_NE(result.status().message().find(c.expected), std::string::npos)
        << c.claims << " -> " << result.status().message();
  }
  // Leeway: 10 s after exp still passes, nbf 10 s ahead too.
  EXPECT_TRUE(verifier->Verify(SignHs256(R"({"iss":"iss","aud":"aud","sub":"E1","exp":1799999990})", kSecret), now).ok());
}

TEST(JwtTest, RejectsBadStructureAndAlgorithms) {
  auto verifier = Verifier();
  const std::string claims = R"({"iss":"iss","aud":"aud","sub":"E1","exp":1800000100})";
  const int64_t now = 1'800'000'000;
  const std::string good = SignHs256(claims, kSecret, "k");
  ASSERT_TRUE(verifier->Verify(good, now).ok());
  // The helper signs correctly: a plain header passes.
  ASSERT_TRUE(verifier->Verify(SignedWithHeader(R"({"alg":"HS256","typ":"JWT"})", claims), now).ok());
  const std::string body = Base64UrlEncode(claims);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"two parts", "a.b"},
      {"four parts", good + ".x"},
      {"alg none", Base64UrlEncode(R"({"alg":"none"})") + "." + body + "."},
      {"alg HS512", Base64UrlEncode(R"({"alg":"HS512"})") + "." + body + "." + Base64UrlEncode("x")},
      {"no alg", Base64UrlEncode(R"({"typ":"JWT"})") + "." + body + "." + Base64UrlEncode("x")},
      {"crit", SignedWithHeader(R"({"alg":"HS256","crit":["exp"]})", claims)},
      {"RS256 without an RS key", Base64UrlEncode(R"({"alg":"RS256"})") + "." + body + "." + Base64UrlEncode("x")},
      {"unknown kid", SignHs256(claims, kSecret, "other")},
      {"wrong secret", SignHs256(claims, "another-secret-0123456789abcdef0123", "k")},
      {"truncated signature", good.substr(0, good.size() - 2)},
      {"padding", good + "="},
      {"oversized", std::string(9000, 'a')},
  };
  for (const auto& [name, token] : cases) {
    EXPECT_FALSE(verifier->Verify(token, now).ok()) << name;
  }
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(AuthTest, SourcesAndRoles) {
  EXPECT_TRUE(SourceAllowed({"/hr/*"}, "/hr/workday"));
  EXPECT_FALSE(SourceAllowed({"/hr/*"}, "/hrx/workday"));
  EXPECT_TRUE(SourceAllowed({"/lms/moodle"}, "/lms/moodle"));
  EXPECT_FALSE(SourceAllowed({"/lms/moodle"}, "/lms/moodle2"));
  EXPECT_EQ(RoleFromName("auditor"), kRoleAuditor);
  EXPECT_EQ(RoleFromName("root"), 0u);
  EXPECT_EQ(RoleNames(kRoleHr | kRoleOps), "hr,ops");
  ServeConfig config;
  config.issuer = "iss";
  config.audience = "aud";
  config.keys.push_back({"k", "HS256", kSecret, ""});
  config.service_credentials.push_back({"lms", {"/lms/*"}, Sha256Hex("t0k")});
  auto auth = Authenticator::Create(config);
  ASSERT_TRUE(auth.ok());
  auto bearer = (*auth)->Authenticate("Bearer t0k", 0);
  ASSERT_TRUE(bearer.ok());
  EXPECT_EQ(bearer->roles, kRoleSource);
  EXPECT_EQ(bearer->subject, "lms");
  auto basic = (*auth)->Authenticate("Basic bG1zOnQwaw==", 0);  // lms:t0k
  ASSERT_TRUE(basic.ok()) << basic.status().ToString();
  EXPECT_EQ(basic->method, "basic");
  EXPECT_FALSE((*auth)->Authenticate("Basic b3RoZXI6dDBr", 0).ok());  // other:t0k
  EXPECT_FALSE((*auth)->Authenticate("Basic !!!!", 0).ok());
  EXPECT_FALSE((*auth)->Authenticate("Digest x", 0).ok());
  EXPECT_FALSE((*auth)->Authenticate("", 0).ok());
  EXPECT_FALSE((*auth)->Authenticate("Bearer ", 0).ok());
}

TEST(MetricsTest, TextExposition) {
  MetricsRegistry metrics;
  metrics.GetCounter("jobs_total", "Jobs", {{"kind", "a\"b"}})->Increment(2);
  metrics.GetGauge("queue", "Queue")->Set(3.5);
  Histogram* h = metrics.GetHistogram("latency_seconds", "Latency", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  metrics.AddCollector([](MetricsRegistry& m) { m.GetGauge("collected", "From a collector")->Set(1); });
  const std::string text = metrics.Expose();
  EXPECT_NE(text.find("# TYPE jobs_total counter\njobs_total{kind=\"a\\\"b\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("queue 3.5\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("collected 1\n"), std::string::npos);
  // A type clash does not corrupt the family.
  metrics.GetGauge("jobs_total", "clash")->Set(9);
  EXPECT_EQ(metrics.Expose().find("jobs_total 9"), std::string::npos);
  // Concurrent increments are not lost.
  Counter* c = metrics.GetCounter("concurrent_total", "c");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 10000; ++i) c->Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000);
}

}  // namespace
}  // namespace jiritsu::service
