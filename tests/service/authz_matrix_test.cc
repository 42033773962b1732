// The authorization matrix of `jiritsu serve`: every route registered by
// HttpService (service/server.cc RegisterRoutes) x every kind of caller
// (the six roles, no token, a malformed token, an expired token) x the
// record asked for (the caller's own / a current report, someone else's, one
// that does not exist), asserting the HTTP status of each request. A 403
// must not reveal whether a record exists: its body is the same for an
// existing and a missing record.
//
// The expectations below are the single source of the table in
// docs/reliability.md ("Authorization matrix"): DocTableMatchesExpectations
// renders them and compares with the block between the authz-matrix
// markers; JIRITSU_UPDATE_DOCS=1 rewrites that block instead of failing.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ops/serve.h"
#include "service/jwt.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using service::ServeConfig;
using testing::TempDir;

constexpr char kSecret[] = "matrix-secret-0123456789abcdef012345";
constexpr char kIssuer[] = "https://idp.matrix";
constexpr char kAudience[] = "jiritsu-matrix";
constexpr char kSourceToken[] = "matrix-source-token";

int64_t Now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Jwt(const std::string& sub, const std::string& role, int64_t exp_offset = 3600) {
  const std::string claims = "{\"iss\":\"" + std::string(kIssuer) + "\",\"aud\":\"" + kAudience +
                             "\",\"sub\":\"" + sub + "\",\"exp\":" + std::to_string(Now() + exp_offset) +
                             ",\"roles\":[\"" + role + "\"]}";
  return service::SignHs256(claims, kSecret, "k1");
}

// ------------------------------------------------------------ the callers

struct Caller {
  const char* name;  // column heading
  const char* note;  // who it is, for the doc
};

// Column order of every expectation string below.
const std::vector<Caller> kCallers = {
    {"source", "service credential of an ingesting system"},
    {"employee", "JWT, sub E1"},
    {"manager", "JWT, sub M1 (E1 reports to M1, E2 to M2)"},
    {"hr", "JWT"},
    {"auditor", "JWT"},
    {"ops", "JWT"},
    {"no token", "no Authorization header"},
    {"bad token", "Bearer with a malformed JWT"},
    {"expired", "JWT of role hr expired an hour ago"},
};

std::string AuthorizationOf(const std::string& caller) {
  if (caller == "source") return std::string("Bearer ") + kSourceToken;
  if (caller == "employee") return "Bearer " + Jwt("E1", "employee");
  if (caller == "manager") return "Bearer " + Jwt("M1", "manager");
  if (caller == "hr") return "Bearer " + Jwt("hr-1", "hr");
  if (caller == "auditor") return "Bearer " + Jwt("aud-1", "auditor");
  if (caller == "ops") return "Bearer " + Jwt("ops-1", "ops");
  if (caller == "bad token") return "Bearer eyJub3QiOiJhIGp3dCJ9.garbage.x";
  if (caller == "expired") return "Bearer " + Jwt("hr-1", "hr", -3600);
  return "";  // no token
}

// ------------------------------------------------------------ the expectations

// One row per registered route. `targets` are the values of the {id} path
// segment, in the order own / other / missing; a route without a record
// segment has one target (""). `cells` holds one entry per caller (kCallers
// order): the expected status of each target, separated by '/'; a single
// status stands for every target.
struct Expectation {
  const char* method;
  const char* route;  // the route name (metrics label) registered by AddRoute
  const char* path;   // request path, "{id}" replaced by each target
  std::vector<std::string> targets;
  std::vector<std::string> cells;
  const char* body = "";  // POST body
};

// Employee records: E1 is the employee caller's own record and a current
// report of the manager caller; E2 reports to someone else; E404 does not
// exist. Manager lists: M1 is the manager caller's own list, M2 another's.
// Org units: nobody is scoped to an org unit (only hr and auditor read org
// data), so the targets are an existing (ou-a) and a missing unit.
const std::vector<std::string> kEmployees = {"E1", "E2", "E404"};
const std::vector<std::string> kManagers = {"M1", "M2", "M404"};
const std::vector<std::string> kOrgUnits = {"ou-a", "ou-404"};
const std::vector<std::string> kNoRecord = {""};

// clang-format off
//                                                        source  employee          manager           hr                auditor           ops     none   bad    expired
const std::vector<Expectation>& Expectations() {
  static const std::vector<Expectation> rows = {
      {"POST", "events", "/v1/events", kNoRecord,
       {"202", "403", "403", "403", "403", "403", "401", "401", "401"}, "EVENT"},
      {"GET", "healthz", "/healthz", kNoRecord,
       {"200", "200", "200", "200", "200", "200", "200", "200", "200"}},
      {"GET", "readyz", "/readyz", kNoRecord,
       {"200", "200", "200", "200", "200", "200", "200", "200", "200"}},
      {"GET", "metrics", "/metrics", kNoRecord,
       {"403", "403", "403", "200", "200", "200", "401", "401", "401"}},
      {"GET", "lag", "/v1/lag", kNoRecord,
       {"403", "403", "403", "200", "200", "200", "401", "401", "401"}},
      {"GET", "view_time", "/v1/view-time", kNoRecord,
       {"403", "200", "200", "200", "200", "200", "401", "401", "401"}},
      {"GET", "employee_step-status", "/v1/employees/{id}/step-status", kEmployees,
       {"403", "200/403/403", "200/403/403", "200/200/404", "200/200/404", "403", "401", "401", "401"}},
      {"GET", "employee_engagement", "/v1/employees/{id}/engagement", kEmployees,
       {"403", "200/403/403", "200/403/403", "200/200/404", "200/200/404", "403", "401", "401", "401"}},
      {"GET", "employee_rejections", "/v1/employees/{id}/rejections", kEmployees,
       {"403", "200/403/403", "200/403/403", "200", "200", "403", "401", "401", "401"}},
      {"GET", "employee_reports", "/v1/employees/{id}/reports", kManagers,
       {"403", "403", "200/403/403", "200", "200", "403", "401", "401", "401"}},
      {"GET", "org_engagement", "/v1/org-units/{id}/engagement", kOrgUnits,
       {"403", "403", "403", "200/404", "200/404", "403", "401", "401", "401"}},
      {"GET", "org_kpis", "/v1/org-units/{id}/kpis?period=FY2025", kOrgUnits,
       {"403", "403", "403", "200/404", "200/404", "403", "401", "401", "401"}},
      {"GET", "org_units", "/v1/org-units", kNoRecord,
       {"403", "403", "403", "200", "200", "403", "401", "401", "401"}},
      {"POST", "as_of_build", "/v1/as-of-stores", kNoRecord,
       {"403", "403", "403", "403", "202", "403", "401", "401", "401"}, "AS_OF"},
      {"GET", "as_of_status", "/v1/as-of-stores/{id}", {"snap-1", "snap-404"},
       {"403", "403", "403", "200/404", "200/404", "403", "401", "401", "401"}},
      {"GET", "rejections", "/v1/rejections", kNoRecord,
       {"403", "403", "403", "200", "200", "403", "401", "401", "401"}},
      {"GET", "dead_letters", "/v1/dead-letters", kNoRecord,
       {"403", "403", "403", "200", "200", "403", "401", "401", "401"}},
      {"GET", "org_unit", "/v1/org-units/{id}", kOrgUnits,
       {"403", "403", "403", "200/404", "200/404", "403", "401", "401", "401"}},
      {"GET", "step_distribution", "/v1/step-distribution", kNoRecord,
       {"403", "403", "403", "200", "200", "403", "401", "401", "401"}},
      // xAPI (docs/xapi.md); requests to /xapi/ carry X-Experience-API-Version.
      {"GET", "xapi_about", "/xapi/about", kNoRecord,
       {"200", "200", "200", "200", "200", "200", "200", "200", "200"}},
      {"POST", "xapi_statements_post", "/xapi/statements", kNoRecord,
       {"200", "403", "403", "403", "403", "403", "401", "401", "401"}, "XAPI"},
      {"PUT", "xapi_statements_put", "/xapi/statements?statementId=d0d0d0d0-0000-4000-8000-000000000001", kNoRecord,
       {"204", "403", "403", "403", "403", "403", "401", "401", "401"}, "XAPI"},
      {"GET", "xapi_statements_get", "/xapi/statements", kNoRecord,
       {"200", "403", "403", "200", "200", "403", "401", "401", "401"}},
      {"GET", "xapi_unmapped", "/xapi/unmapped", kNoRecord,
       {"403", "403", "403", "200", "200", "403", "401", "401", "401"}},
  };
  return rows;
}
// clang-format on

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

// The expected status of each target of one cell.
std::vector<int> ExpectedStatuses(const Expectation& row, size_t caller) {
  std::vector<std::string> parts = Split(row.cells[caller], '/');
  std::vector<int> statuses;
  for (size_t t = 0; t < row.targets.size(); ++t) {
    statuses.push_back(std::stoi(parts.size() == 1 ? parts[0] : parts.at(t)));
  }
  return statuses;
}

std::string TargetsNote(const Expectation& row) {
  if (row.targets.size() == 1) return "";
  std::string note = " (";
  for (size_t t = 0; t < row.targets.size(); ++t) note += (t ? " / " : "") + row.targets[t];
  return note + ")";
}

// The markdown table of docs/reliability.md, from the expectations.
std::string RenderDocTable() {
  std::string out = "| endpoint (targets own / other / missing) |";
  for (const Caller& caller : kCallers) out += std::string(" ") + caller.name + " |";
  out += "\n|---|";
  for (size_t i = 0; i < kCallers.size(); ++i) out += "---|";
  out += "\n";
  for (const Expectation& row : Expectations()) {
    std::string path = row.path;
    const size_t query = path.find('?');
    if (query != std::string::npos) path.resize(query);
    out += std::string("| `") + row.method + " " + path + "`" + TargetsNote(row) + " |";
    for (const std::string& cell : row.cells) {
      std::string shown = cell;
      for (size_t pos = 0; (pos = shown.find('/', pos)) != std::string::npos; pos += 3) {
        shown.replace(pos, 1, " / ");
      }
      out += " " + shown + " |";
    }
    out += "\n";
  }
  return out;
}

constexpr char kBeginMarker[] = "<!-- authz-matrix:begin (generated by tests/service/authz_matrix_test.cc) -->\n";
constexpr char kEndMarker[] = "<!-- authz-matrix:end -->";

// ------------------------------------------------------------ the fixture

std::string Event(const std::string& type, const std::string& id, const std::string& subject,
                  const std::string& time, const std::string& data,
                  const std::string& source = "/hr/matrix") {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source +
         "\",\"type\":\"" + type + "\",\"subject\":\"" + subject + "\",\"time\":\"" + time +
         "\",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
}

std::string Hired(const std::string& employee, const std::string& manager) {
  return Event("employee.hired", "h-" + employee, employee, "2025-04-01T09:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"manager_id\":\"" + manager +
                   "\",\"talent_profile\":\"dx_literacy\",\"display_name\":\"Name " + employee + "\"}");
}

std::string Completed(const std::string& employee, const std::string& id) {
  return Event("learning.completed", id, employee, "2025-04-24T20:40:00+09:00",
               "{\"course_id\":\"crs-1\",\"hours\":2.0,\"score\":80,\"passed\":true}", "/lms/matrix");
}

class AuthorizationMatrixTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    ServeConfig config;
    config.port = 0;
    config.threads = 4;
    config.store_dir = dir_->path() + "/store";
    config.as_of_dir = dir_->path() + "/audit";
    // An as-of store that exists (the status route reads the directory).
    std::filesystem::create_directories(config.as_of_dir + "/snap-1");
    config.refresh_ms = 0;
    config.checkpoint_ms = 50;
    config.lag_sample_ms = 100;
    config.issuer = kIssuer;
    config.audience = kAudience;
    config.leeway_s = 5;
    config.keys.push_back({"k1", "HS256", kSecret, ""});
    config.service_credentials.push_back(
        {"matrix-system", {"/hr/*", "/lms/matrix"}, service::Sha256Hex(kSourceToken)});
    auto instance = ServeInstance::Start(config);
    ASSERT_TRUE(instance.ok()) << instance.status().ToString();
    serve_ = instance->release();

    httplib::Client client("127.0.0.1", serve_->port());
    const std::string batch = "[" +
                              Event("org.unit.defined", "ou-1", "ou-a", "2025-01-01T00:00:00+09:00",
                                    "{\"org_unit_id\":\"ou-a\",\"name\":\"A\"}") +
                              "," + Hired("M1", "CEO") + "," + Hired("M2", "CEO") + "," +
                              Hired("E1", "M1") + "," + Hired("E2", "M2") + "," +
                              Completed("E1", "c-e1") + "," + Completed("E9", "c-e9") + "]";
    auto res = client.Post("/v1/events", {{"Authorization", std::string("Bearer ") + kSourceToken}},
                           batch, "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 202) << res->body;
    const httplib::Headers hr = {{"Authorization", "Bearer " + Jwt("hr-1", "hr")}};
    for (int i = 0; i < 800; ++i) {
      auto e1 = client.Get("/v1/employees/E1/step-status", hr);
      auto e2 = client.Get("/v1/employees/E2/step-status", hr);
      auto m2 = client.Get("/v1/employees/M2/reports", hr);
      auto org = client.Get("/v1/org-units/ou-a", hr);
      auto rejections = client.Get("/v1/rejections", hr);
      auto ready = client.Get("/readyz");
      if (e1 && e1->body.find("\"events_folded\":2") != std::string::npos && e2 && e2->status == 200 &&
          m2 && m2->body.find("E2") != std::string::npos && org && org->status == 200 &&
          rejections && rejections->body.find("E9") != std::string::npos && ready &&
          ready->status == 200) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    FAIL() << "the seeded events were not projected in time";
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  static TempDir* dir_;
  static ServeInstance* serve_;
};

TempDir* AuthorizationMatrixTest::dir_ = nullptr;
ServeInstance* AuthorizationMatrixTest::serve_ = nullptr;

std::string BodyFor(const Expectation& row, int serial) {
  if (std::string(row.body) == "EVENT") {
    return Event("learning.completed", "matrix-" + std::to_string(serial), "E1",
                 "2025-05-01T10:00:00+09:00",
                 "{\"course_id\":\"crs-2\",\"hours\":1.0,\"score\":70,\"passed\":true}", "/lms/matrix");
  }
  if (std::string(row.body) == "XAPI") {
    return "{\"actor\":{\"mbox\":\"mailto:e1@example.com\"},\"verb\":{\"id\":\"http://adlnet.gov/expapi/verbs/"
           "experienced\"},\"object\":{\"id\":\"https://lms.example.com/course/matrix-" + std::to_string(serial) + "\"}}";
  }
  if (std::string(row.body) == "AS_OF") {
    return "{\"name\":\"matrix-" + std::to_string(serial) + "\",\"as_of\":\"2025-04-02T00:00:00+09:00\"}";
  }
  return "";
}

TEST_F(AuthorizationMatrixTest, ExpectationsAreWellFormed) {
  for (const Expectation& row : Expectations()) {
    ASSERT_EQ(row.cells.size(), kCallers.size()) << row.route;
    for (size_t c = 0; c < kCallers.size(); ++c) {
      const size_t parts = Split(row.cells[c], '/').size();
      EXPECT_TRUE(parts == 1 || parts == row.targets.size())
          << row.route << " / " << kCallers[c].name << ": \"" << row.cells[c] << "\" for "
          << row.targets.size() << " targets";
    }
  }
}

// Every route the service registered has exactly one row, so a new endpoint
// cannot go unchecked.
TEST_F(AuthorizationMatrixTest, EveryRegisteredRouteHasARow) {
  std::set<std::string> expected;
  for (const Expectation& row : Expectations()) {
    EXPECT_TRUE(expected.insert(std::string(row.method) + " " + row.route).second) << row.route;
  }
  std::set<std::string> registered;
  for (const service::RouteInfo& route : serve_->http().routes()) {
    registered.insert(route.method + " " + route.name);
    EXPECT_TRUE(expected.count(route.method + " " + route.name))
        << "route " << route.method << " " << route.pattern << " (" << route.name
        << ") has no row in the authorization matrix (tests/service/authz_matrix_test.cc)";
  }
  for (const std::string& row : expected) {
    EXPECT_TRUE(registered.count(row)) << "matrix row " << row << " names no registered route";
  }
}

TEST_F(AuthorizationMatrixTest, EveryCallerOnEveryRouteAndRecord) {
  int serial = 0;
  int requests = 0;
  for (const Expectation& row : Expectations()) {
    for (size_t c = 0; c < kCallers.size(); ++c) {
      const std::string caller = kCallers[c].name;
      const std::vector<int> expected = ExpectedStatuses(row, c);
      httplib::Headers headers;
      const std::string authorization = AuthorizationOf(caller);
      if (!authorization.empty()) headers.emplace("Authorization", authorization);
      if (std::string(row.path).starts_with("/xapi/")) headers.emplace("X-Experience-API-Version", "1.0.3");
      std::map<std::string, std::string> forbidden_bodies;  // target -> 403 body
      for (size_t t = 0; t < row.targets.size(); ++t) {
        std::string path = row.path;
        const size_t id = path.find("{id}");
        if (id != std::string::npos) path.replace(id, 4, row.targets[t]);
        httplib::Client client("127.0.0.1", serve_->port());
        const std::string method = row.method;
        httplib::Result res = method == "POST"  ? client.Post(path, headers, BodyFor(row, ++serial), "application/json")
                              : method == "PUT" ? client.Put(path, headers, BodyFor(row, ++serial), "application/json")
                                                : client.Get(path, headers);
        ++requests;
        ASSERT_TRUE(res) << row.method << " " << path;
        EXPECT_EQ(res->status, expected[t])
            << row.method << " " << path << " as " << caller << ": " << res->body;
        if (res->status == 401) {
          EXPECT_FALSE(res->get_header_value("WWW-Authenticate").empty()) << path << " as " << caller;
        }
        if (res->status == 403) forbidden_bodies[row.targets[t]] = res->body;
      }
      // A 403 reads the same for an existing and a missing record.
      if (forbidden_bodies.size() > 1) {
        for (const auto& [target, body] : forbidden_bodies) {
          EXPECT_EQ(body, forbidden_bodies.begin()->second)
              << row.route << " as " << caller << ": the 403 for " << target
              << " differs from the one for " << forbidden_bodies.begin()->first;
        }
      }
    }
  }
  std::printf("authorization matrix: %d requests (%zu routes x %zu callers x targets)\n", requests,
              Expectations().size(), kCallers.size());
}

TEST_F(AuthorizationMatrixTest, DocTableMatchesExpectations) {
  const std::string path = std::string(JIRITSU_SOURCE_DIR) + "/docs/reliability.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  const size_t begin = doc.find(kBeginMarker);
  const size_t end = doc.find(kEndMarker);
  ASSERT_NE(begin, std::string::npos) << "no authz-matrix:begin marker in " << path;
  ASSERT_NE(end, std::string::npos) << "no authz-matrix:end marker in " << path;
  const size_t start = begin + std::string(kBeginMarker).size();
  ASSERT_LE(start, end);
  const std::string table = RenderDocTable();
  if (doc.substr(start, end - start) == table) return;
  const char* update = std::getenv("JIRITSU_UPDATE_DOCS");
  if (update != nullptr && std::string(update) == "1") {
    doc.replace(start, end - start, table);
    std::ofstream(path) << doc;
    return;
  }
  FAIL() << "docs/reliability.md's authorization matrix differs from the test's expectations; "
            "re-run with JIRITSU_UPDATE_DOCS=1 to rewrite it. Expected:\n"
         << table;
}

}  // namespace
}  // namespace jiritsu
