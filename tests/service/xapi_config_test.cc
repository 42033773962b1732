// [xapi] configuration (service/config.h) and Basic authentication of LRS
// clients against their PBKDF2 hash (service/auth.h).
#include <gtest/gtest.h>

#include <map>

#include "service/auth.h"
#include "service/config.h"

namespace jiritsu::service {
namespace {

EnvLookup Env(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt pass:secret
//   -kdfopt hexsalt:23dc555cf5ae47fcb8dc52c45aed4067 -kdfopt iter:1000 PBKDF2
constexpr char kHash[] =
    "pbkdf2-sha256$1000$23dc555cf5ae47fcb8dc52c45aed4067$B9:9A:FD:A1:85:6E:F2:DF:03:78:07:F5:E2:C5:15:40:"
    "91:00:07:2C:CC:7C:9C:67:7D:67:F3:60:48:FB:30:BB";

std::string Toml(const std::string& client_hash = std::string("password_hash = \"") + kHash + "\"") {
  return R"(
[xapi]
account_home_pages = ["https://lms.example.com"]
course_id_prefixes = ["https://lms.example.com/course/"]
[[xapi.clients]]
name = "moodle"
source = "/lms/moodle"
)" + client_hash + R"(
[[xapi.actors]]
mbox = "mailto:taro@example.com"
employee = "E7"
[[xapi.activities]]
activity_id = "https://cdn.example/scorm/abc"
course_id = "crs-abc"
)";
}

std::string Basic(const std::string& user_password) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_password.size(); i += 3) {
    const uint32_t n = (uint8_t(user_password[i]) << 16) | (uint8_t(user_password[i + 1]) << 8) | uint8_t(user_password[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(n >> s) & 63];
  }
  if (i + 1 == user_password.size()) {
    const uint32_t n = uint8_t(user_password[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == user_password.size()) {
    const uint32_t n = (uint8_t(user_password[i]) << 16) | (uint8_t(user_password[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += "=";
  }
  return "Basic " + out;
}

TEST(XapiConfig, ParsesClientsAndMappingRules) {
  auto config = ParseServeConfig(Toml(), "t.toml", Env({}));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->xapi_enabled);
  ASSERT_EQ(config->xapi_clients.size(), 1u);
  EXPECT_EQ(config->xapi_clients[0].iterations, 1000);
  EXPECT_EQ(config->xapi_clients[0].derived_key.size(), 32u);
  EXPECT_EQ(config->xapi_mapping.account_home_pages, std::vector<std::string>{"https://lms.example.com"});
  ASSERT_EQ(config->xapi_mapping.actors.size(), 1u);
  EXPECT_EQ(config->xapi_mapping.actors[0].employee, "E7");
  ASSERT_EQ(config->xapi_mapping.activities.size(), 1u);
}

TEST(XapiConfig, EnvironmentOverrides) {
  auto config = ParseServeConfig(Toml(), "t.toml",
                                 Env({{"JIRITSU_SERVE_XAPI_COURSE_ID_PREFIXES", "https://a.example/c/, https://b.example/"},
                                      {"JIRITSU_SERVE_XAPI_ENABLED", "false"},
                                      {"JIRITSU_SERVE_XAPI_STORE_DIR", "/tmp/x"}}));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->xapi_enabled);
  EXPECT_EQ(config->xapi_store_dir, "/tmp/x");
  EXPECT_EQ(config->xapi_mapping.course_id_prefixes,
            (std::vector<std::string>{"https://a.example/c/", "https://b.example/"}));
  auto from_env = ParseServeConfig(Toml("password_hash_env = \"MOODLE_HASH\""), "t.toml", Env({{"MOODLE_HASH", kHash}}));
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
}

TEST(XapiConfig, BadEntriesNameTheKey) {
  struct Bad {
    std::string toml;
    const char* message;
  } cases[] = {
      {Toml("password_hash = \"secret\""), "[[xapi.clients]] #1: password_hash must be"},
      {Toml("password_hash = \"pbkdf2-sha256$10$00112233445566778899$00\""), "iterations must be 1000..10000000"},
      {Toml("password_hash = \"pbkdf2-sha256$1000$0011$" + std::string(64, 'a') + "\""), "salt must be at least 8 bytes"},
      {Toml(""), "exactly one of password_hash, password_hash_env"},
      {Toml("password_hash_env = \"UNSET\""), "environment variable UNSET is not set"},
      {Toml() + "[[xapi.actors]]\nemployee = \"E1\"\n", "[[xapi.actors]] #2: give either mbox"},
      {Toml() + "[[xapi.actors]]\nmbox = \"taro@example.com\"\nemployee = \"E1\"\n", "mbox must start with mailto:"},
      {Toml() + "[[xapi.clients]]\nname = \"moodle\"\nsource = \"/x\"\npassword_hash = \"" + kHash + "\"\n", "duplicate client name"},
      {"[xapi]\nnope = 1\n", "[xapi]: unknown key \"nope\""},
  };
  for (const Bad& bad : cases) {
    auto config = ParseServeConfig(bad.toml, "t.toml", Env({}));
    ASSERT_FALSE(config.ok()) << bad.toml;
    EXPECT_NE(config.status().message().find(bad.message), std::string::npos) << config.status().message();
  }
}

TEST(XapiConfig, BasicAuthChecksThePbkdf2Hash) {
  auto config = ParseServeConfig(Toml(), "t.toml", Env({}));
  ASSERT_TRUE(config.ok());
  auto auth = Authenticator::Create(*config);
  ASSERT_TRUE(auth.ok()) << auth.status().ToString();
  for (int i = 0; i < 2; ++i) {  // the second time from the in-memory memo
    Result<Principal> ok = (*auth)->Authenticate(Basic("moodle:secret"), 0);
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_EQ(ok->subject, "moodle");
    EXPECT_EQ(ok->roles, kRoleSource);
    EXPECT_EQ(ok->sources, std::vector<std::string>{"/lms/moodle"});
    EXPECT_EQ(ok->method, "basic");
  }
  EXPECT_FALSE((*auth)->Authenticate(Basic("moodle:Secret"), 0).ok());
  EXPECT_FALSE((*auth)->Authenticate(Basic("moodle:"), 0).ok());
  EXPECT_FALSE((*auth)->Authenticate(Basic("nobody:secret"), 0).ok());
}

}  // namespace
}  // namespace jiritsu::service
