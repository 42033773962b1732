// POST /v1/events while the log fails: 503 with Retry-After, readiness
// drops, and the identities of events that were not durable are not marked
// (a retry after the log recovers is accepted, not reported as duplicate).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>

#include "core/dedupe_index.h"
#include "core/metrics.h"
#include "service/jwt.h"
#include "service/server.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

class FlakyProducer : public LogProducer {
 public:
  explicit FlakyProducer(std::atomic<bool>* down) : down_(down) {}
  Status Append(const std::string&, std::string_view, std::string_view) override {
    ++pending_;
    return Status::Ok();
  }
  Status Flush(std::chrono::milliseconds) override {
    if (down_->load()) return Unavailable("broker down (test)");
    pending_ = 0;
    return Status::Ok();
  }

 private:
  std::atomic<bool>* down_;
  int pending_ = 0;
};

class FlakyLog : public EventLog {
 public:
  Status EnsureTopics(const std::vector<TopicSpec>&) override { return Status::Ok(); }
  Result<int32_t> PartitionCount(const std::string&) override { return 8; }
  Result<int64_t> EndOffset(const TopicPartition&) override { return int64_t{0}; }
  Result<std::unique_ptr<LogProducer>> NewProducer() override {
    return std::unique_ptr<LogProducer>(new FlakyProducer(&down));
  }
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions&) override {
    return Unavailable("no consumers in this test");
  }
  std::string Describe() const override { return "flaky:test"; }
  std::atomic<bool> down{false};
};

TEST(HttpLogFailureTest, LogDownIs503AndNothingIsMarked) {
  testing::TempDir dir;
  FlakyLog log;
  auto index = DedupeIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(index.ok());
  MetricsRegistry metrics;
  service::ServeConfig config;
  config.port = 0;
  config.retry_after_s = 3;
  config.xapi_enabled = false;  // the xAPI store tails its topic: this log has no consumers
  config.service_credentials.push_back({"src", {"/lms/*"}, service::Sha256Hex("tok")});
  service::ServiceDeps deps;
  deps.log = &log;
  deps.dedupe = index->get();
  deps.views_root = dir.path() + "/views";
  deps.metrics = &metrics;
  auto http = service::HttpService::Create(config, deps);
  ASSERT_TRUE(http.ok()) << http.status().ToString();
  ASSERT_TRUE((*http)->Start().ok());
  httplib::Client client("127.0.0.1", (*http)->port());
  const std::string event =
      "{\"specversion\":\"1.0\",\"id\":\"l-1\",\"source\":\"/lms/x\",\"type\":\"learning.completed\","
      "\"subject\":\"E1\",\"time\":\"2025-04-24T20:40:00+09:00\",\"data\":{\"course_id\":\"c\","
      "\"hours\":1.0,\"passed\":true}}";
  const httplib::Headers auth = {{"Authorization", "Bearer tok"}};

  log.down = true;
  auto down = client.Post("/v1/events", auth, event, "application/json");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503) << down->body;
  EXPECT_EQ(down->get_header_value("Retry-After"), "3");
  EXPECT_NE(down->body.find("log_unavailable"), std::string::npos);
  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("ingestion commit failed"), std::string::npos);

  log.down = false;
  auto up = client.Post("/v1/events", auth, event, "application/json");
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 202) << up->body;
  EXPECT_NE(up->body.find("\"accepted\":1"), std::string::npos) << up->body;
  auto again = client.Post("/v1/events", auth, event, "application/json");
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find("\"duplicates\":1"), std::string::npos) << again->body;
  EXPECT_NE(metrics.Expose().find("jiritsu_ingest_commit_failures_total 1"), std::string::npos);
  (*http)->Stop();
}

}  // namespace
}  // namespace jiritsu
