// The views refresher and the org roll-up memo (service/views.h) in a real
// ServeInstance: the refresher publishes newer checkpoints without any
// request reopening the store, queries keep succeeding while the runner
// checkpoints and the refresher swaps snapshots, and memoized org answers are
// byte-identical to computed ones and belong to one snapshot.
// refresh_ms = 0 (a reopen per request) is covered by the other service tests.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics.h"
#include "ops/serve.h"
#include "service/server.h"
#include "service/jwt.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::TempDir;

constexpr char kSecret[] = "views-secret-0123456789abcdef0123456789";

std::string Event(const std::string& type, const std::string& id, const std::string& subject,
                  const std::string& time, const std::string& data, const std::string& source) {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id + "\",\"source\":\"" + source +
         "\",\"type\":\"" + type + "\",\"subject\":\"" + subject + "\",\"time\":\"" + time +
         "\",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
}

std::string OrgUnit() {
  return Event("org.unit.defined", "ou-1", "ou-a", "2025-01-01T00:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"name\":\"A\"}", "/hr/x");
}

std::string Hired(const std::string& employee) {
  return Event("employee.hired", "h-" + employee, employee, "2025-04-01T09:00:00+09:00",
               "{\"org_unit_id\":\"ou-a\",\"manager_id\":\"M1\",\"talent_profile\":\"p\","
               "\"display_name\":\"N\"}",
               "/hr/x");
}

std::string Completed(const std::string& employee, const std::string& id) {
  return Event("learning.completed", id, employee, "2025-05-01T10:00:00+09:00",
               "{\"course_id\":\"c\",\"hours\":1.0,\"score\":80,\"passed\":true}", "/lms/x");
}

std::string Token(const std::string& subject, const std::string& role) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return service::SignHs256("{\"iss\":\"iss\",\"aud\":\"aud\",\"sub\":\"" + subject +
                                "\",\"exp\":" + std::to_string(now + 600) + ",\"roles\":[\"" +
                                role + "\"]}",
                            kSecret);
}

std::unique_ptr<ServeInstance> StartServe(const std::string& dir, int64_t refresh_ms) {
  service::ServeConfig config;
  config.port = 0;
  config.threads = 8;
  config.store_dir = dir + "/store";
  config.checkpoint_ms = 20;
  config.refresh_ms = refresh_ms;
  config.issuer = "iss";
  config.audience = "aud";
  config.keys.push_back({"", "HS256", kSecret, ""});
  config.service_credentials.push_back({"src", {"/lms/*", "/hr/*"}, service::Sha256Hex("tok")});
  auto instance = ServeInstance::Start(config);
  EXPECT_TRUE(instance.ok()) << instance.status().ToString();
  return instance.ok() ? std::move(instance).value() : nullptr;
}

httplib::Result Post(httplib::Client& client, const std::string& batch) {
  return client.Post("/v1/events", {{"Authorization", "Bearer tok"}}, batch, "application/json");
}

httplib::Result Get(httplib::Client& client, const std::string& path, const std::string& token,
                    httplib::Headers headers = {}) {
  headers.emplace("Authorization", "Bearer " + token);
  return client.Get(path, headers);
}

// Polls until `done` holds (bounded; no timing assertion, the bound is only
// there so a broken refresher fails instead of hanging).
template <typename Done>
bool Eventually(Done done) {
  for (int i = 0; i < 1200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

TEST(ViewsRefreshTest, RefresherPublishesNewCheckpointsWithoutRequestOpens) {
  TempDir dir;
  std::unique_ptr<ServeInstance> serve = StartServe(dir.path(), 50);
  ASSERT_NE(serve, nullptr);
  httplib::Client client("127.0.0.1", serve->port());
  const std::string hr = Token("hr-1", "hr");
  auto posted = Post(client, "[" + OrgUnit() + "," + Hired("E1") + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  ASSERT_TRUE(Eventually([&] {
    auto res = Get(client, "/v1/employees/E1/step-status", hr);
    return res && res->status == 200;
  }));
  service::ViewReader& views = serve->http().views();
  const service::ViewReader::Stats before = views.stats();
  auto first = views.Current();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const uint64_t first_ticket = (*first)->ticket;
  first->reset();  // hold no snapshot: the refresher may close it

  // A new checkpoint, then no request at all until the refresher published
  // a snapshot that contains it and closed the replaced ones itself.
  posted = Post(client, "[" + Completed("E1", "c-1") + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  ASSERT_TRUE(Eventually([&] {
    const service::ViewReader::Stats now = views.stats();
    return now.opens_by_refresher >= before.opens_by_refresher + 3 && now.closed_by_refresher > 0;
  }));
  // The refresher published: this is not a request's open.
  ASSERT_TRUE(Eventually([&] {
    auto res = Get(client, "/v1/employees/E1/step-status", hr);
    return res && res->status == 200 && res->body.find("\"events_folded\":2") != std::string::npos;
  }));
  auto latest = views.Current();
  ASSERT_TRUE(latest.ok());
  EXPECT_GT((*latest)->ticket, first_ticket);
  const service::ViewReader::Stats after = views.stats();
  EXPECT_EQ(after.opens_by_request, before.opens_by_request);
  EXPECT_EQ(after.open_errors, before.open_errors);
  // Prepared before publishing.
  EXPECT_TRUE((*latest)->Reports().ok());
  EXPECT_GT(serve->metrics()
                .GetCounter("jiritsu_views_opens_total", "", {{"by", "refresher"}})
                ->value(),
            0);
}

TEST(ViewsRefreshTest, QueriesSucceedWhileTheRunnerCheckpointsAndSnapshotsSwap) {
  TempDir dir;
  std::unique_ptr<ServeInstance> serve = StartServe(dir.path(), 10);
  ASSERT_NE(serve, nullptr);
  httplib::Client client("127.0.0.1", serve->port());
  const std::string hr = Token("hr-1", "hr");
  const std::string m1 = Token("M1", "manager");
  std::string batch = "[" + OrgUnit();
  for (int e = 0; e < 8; ++e) {
    batch += "," + Hired("E" + std::to_string(e)) + "," +
             Completed("E" + std::to_string(e), "seed-" + std::to_string(e));
  }
  auto posted = Post(client, batch + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  // Every seeded employee has facts (each query below answers 200).
  ASSERT_TRUE(Eventually([&] {
    for (int e = 0; e < 8; ++e) {
      auto res = Get(client, "/v1/employees/E" + std::to_string(e) + "/engagement", hr);
      if (!res || res->status != 200) return false;
    }
    auto org = Get(client, "/v1/org-units/ou-a/engagement", hr);
    return org && org->status == 200;
  }));
  const uint64_t refreshes_before = serve->http().views().stats().opens_by_refresher;
  // (Before the first checkpoint the refresher counted "no views yet".)
  const uint64_t errors_before = serve->http().views().stats().open_errors;

  std::atomic<bool> writing{true};
  std::thread writer([&] {
    httplib::Client w("127.0.0.1", serve->port());
    for (int i = 0; i < 40; ++i) {
      auto res = Post(w, "[" + Completed("E" + std::to_string(i % 8), "c-" + std::to_string(i)) + "]");
      EXPECT_TRUE(res && res->status == 202);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    writing = false;
  });
  std::atomic<int> failures{0};
  std::atomic<int> answered{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      httplib::Client c("127.0.0.1", serve->port());
      // The manager's report list reads Reports() of each swapped-in snapshot.
      const std::vector<std::pair<std::string, std::string>> queries = {
          {"/v1/employees/E" + std::to_string(r) + "/step-status", hr},
          {"/v1/employees/M1/reports", m1},
          {"/v1/employees/E" + std::to_string(r + 4) + "/engagement", m1},
          {"/v1/org-units/ou-a/engagement", hr},
          {"/v1/org-units/ou-a/kpis?period=FY2025", hr}};
      for (int i = 0; i < 60 || writing; ++i) {
        const auto& [path, token] = queries[i % queries.size()];
        auto res = Get(c, path, token);
        if (!res || res->status != 200) {
          ++failures;
          ADD_FAILURE() << path << ": " << (res ? std::to_string(res->status) + " " + res->body : "no answer");
        }
        ++answered;
      }
    });
  }
  writer.join();
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(answered.load(), 240);
  // Snapshots really were swapped under the readers.
  EXPECT_TRUE(Eventually([&] {
    return serve->http().views().stats().opens_by_refresher >= refreshes_before + 2;
  }));
  EXPECT_EQ(serve->http().views().stats().open_errors, errors_before);
}

TEST(ViewsRefreshTest, OrgMemoIsExactAndPerSnapshot) {
  TempDir dir;
  std::unique_ptr<ServeInstance> serve = StartServe(dir.path(), 100);
  ASSERT_NE(serve, nullptr);
  httplib::Client client("127.0.0.1", serve->port());
  const std::string hr = Token("hr-1", "hr");
  auto posted = Post(client, "[" + OrgUnit() + "," + Hired("E1") + "," + Completed("E1", "c-1") + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  ASSERT_TRUE(Eventually([&] {
    auto res = Get(client, "/v1/employees/E1/step-status", hr);
    auto org = Get(client, "/v1/org-units/ou-a/engagement", hr);
    return res && res->status == 200 && res->body.find("\"events_folded\":2") != std::string::npos &&
           org && org->status == 200;
  }));
  const std::string path = "/v1/org-units/ou-a/engagement";
  Counter* hits = serve->metrics().GetCounter("jiritsu_views_org_memo_total", "", {{"result", "hit"}});
  const double hits_before = hits->value();

  // Answers while no event arrives: every snapshot holds the same data, so
  // every answer (memoized or computed) is the same bytes with the same ETag.
  auto computed_snapshot = serve->http().views().Current();
  ASSERT_TRUE(computed_snapshot.ok());
  Result<std::string> direct = (*computed_snapshot)->query->OrgEngagement("ou-a");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  auto first = Get(client, path, hr);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->body, *direct);
  const std::string etag = first->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  ASSERT_TRUE(Eventually([&] {
    auto again = Get(client, path, hr);
    EXPECT_TRUE(again && again->status == 200);
    if (!again) return true;
    EXPECT_EQ(again->body, first->body);
    EXPECT_EQ(again->get_header_value("ETag"), etag);
    return hits->value() > hits_before;  // at least one came from the memo
  }));
  // The refresher recomputes the answers asked for on the previous snapshot
  // before publishing the next one; they are the same bytes.
  ASSERT_TRUE(Eventually([&] {
    auto again = Get(client, path, hr);
    EXPECT_TRUE(again && again->status == 200);
    if (!again) return true;
    EXPECT_EQ(again->body, first->body);
    EXPECT_EQ(again->get_header_value("ETag"), etag);
    return serve->http().views().stats().memo_warmed > 0;
  }));
  EXPECT_GT(serve->metrics().GetCounter("jiritsu_views_org_memo_warmed_total", "")->value(), 0);
  // A memoized answer honours If-None-Match like a computed one.
  auto not_modified = Get(client, path, hr, {{"If-None-Match", etag}});
  ASSERT_TRUE(not_modified);
  EXPECT_EQ(not_modified->status, 304);
  // Parameters are part of the key: another period is another answer.
  auto fy2025 = Get(client, "/v1/org-units/ou-a/kpis?period=FY2025", hr);
  auto q1 = Get(client, "/v1/org-units/ou-a/kpis?period=2025Q1", hr);
  ASSERT_TRUE(fy2025 && q1);
  EXPECT_EQ(fy2025->status, 200);
  EXPECT_EQ(q1->status, 200);
  EXPECT_NE(fy2025->body, q1->body);
  // Authorization runs before the memo: a memoized answer is still refused
  // to a role that may not read org roll-ups.
  auto employee = Get(client, path, Token("E1", "employee"));
  ASSERT_TRUE(employee);
  EXPECT_EQ(employee->status, 403);

  // The memo belongs to a snapshot: a new checkpoint's data shows once the
  // refresher published it, without any invalidation.
  posted = Post(client, "[" + Hired("E2") + "," + Completed("E2", "c-2") + "]");
  ASSERT_TRUE(posted);
  ASSERT_EQ(posted->status, 202) << posted->body;
  std::string changed;
  ASSERT_TRUE(Eventually([&] {
    auto res = Get(client, path, hr);
    if (res && res->status == 200 && res->body != first->body) changed = res->body;
    return !changed.empty();
  }));
  EXPECT_NE(Get(client, path, hr)->get_header_value("ETag"), etag);
}

// A Create that fails before the reader exists destroys the half-built
// service, whose Stop() must not reach for the missing reader.
TEST(ViewsRefreshTest, FailedCreateStopsCleanly) {
  TempDir dir;
  MetricsRegistry metrics;
  service::ServiceDeps deps;
  deps.views_root = dir.path() + "/views";
  deps.metrics = &metrics;
  service::ServeConfig config;
  config.issuer = "iss";
  config.audience = "aud";
  config.keys.push_back({"r1", "RS256", "", "not a PEM public key"});
  auto created = service::HttpService::Create(config, std::move(deps));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().code(), StatusCode::kInvalidArgument) << created.status().ToString();
}

}  // namespace
}  // namespace jiritsu
