// `jiritsu serve` beyond the HTTP matrix: on Kafka (librdkafka's mock
// cluster, and a real broker when JIRITSU_KAFKA_BOOTSTRAP is set), as a
// process (config errors, SIGTERM, the printed port, dev tokens), the
// lag/stall monitor, and the static dashboard directory.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "core/embedded_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "ops/serve.h"
#include "schemas/codec.h"
#include "service/jwt.h"
#include "service/runner_monitor.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::TempDir;

constexpr char kSecret[] = "modes-secret-0123456789abcdef0123456789";

std::string Learning(const std::string& id, const std::string& employee, const std::string& time) {
  return "{\"specversion\":\"1.0\",\"id\":\"" + id +
         "\",\"source\":\"/lms/x\",\"type\":\"learning.completed\",\"subject\":\"" + employee +
         "\",\"time\":\"" + time + "\",\"data\":{\"course_id\":\"c\",\"hours\":1.0,\"passed\":true}}";
}

std::string Hired(const std::string& employee) {
  return "{\"specversion\":\"1.0\",\"id\":\"h-" + employee +
         "\",\"source\":\"/hr/x\",\"type\":\"employee.hired\",\"subject\":\"" + employee +
         "\",\"time\":\"2025-04-01T09:00:00+09:00\",\"data\":{\"org_unit_id\":\"ou-a\",\"manager_id\":\"M1\","
         "\"talent_profile\":\"p\",\"display_name\":\"N\"}}";
}

std::string HrToken(const std::string& audience = "aud") {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return service::SignHs256("{\"iss\":\"iss\",\"aud\":\"" + audience + "\",\"sub\":\"hr-1\",\"exp\":" +
                                std::to_string(now + 600) + ",\"roles\":[\"hr\"]}",
                            kSecret);
}

service::ServeConfig BaseConfig(const std::string& dir) {
  service::ServeConfig config;
  config.port = 0;
  config.store_dir = dir + "/store";
  config.checkpoint_ms = 50;
  config.refresh_ms = 0;
  config.issuer = "iss";
  config.audience = "aud";
  config.keys.push_back({"", "HS256", kSecret, ""});
  config.service_credentials.push_back({"src", {"/lms/*", "/hr/*"}, service::Sha256Hex("tok")});
  return config;
}

// Polls `path` with an hr token until it answers 200 (the runner caught up).
bool WaitFor200(httplib::Client& client, const std::string& path) {
  const std::string token = HrToken();
  for (int i = 0; i < 600; ++i) {
    auto res = client.Get(path, {{"Authorization", "Bearer " + token}});
    if (res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return false;
}

// On the mock cluster, and on the real broker JIRITSU_KAFKA_BOOTSTRAP names;
// both in a topic namespace of the test's own ([log] kafka_topic_prefix).
class ServeKafkaTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Backends, ServeKafkaTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "RealBroker" : "Mock";
                         });

TEST_P(ServeKafkaTest, IngestAndQueryOverKafka) {
  KafkaMockCluster cluster;
  TempDir dir;
  service::ServeConfig config = BaseConfig(dir.path());
  config.kafka_topic_prefix = testing::FreshTopicPrefix("serve");
  if (GetParam()) {
    config.kafka_bootstrap = testing::RealBrokerBootstrap();  // the service creates the topics
    if (config.kafka_bootstrap.empty()) GTEST_SKIP() << testing::kRealBrokerSkip;
  } else {
    Result<std::string> bootstrap = cluster.Start(1);
    ASSERT_TRUE(bootstrap.ok()) << bootstrap.status().ToString();
    for (const TopicSpec& spec : AllTopicSpecs(8)) {  // the mock has no CreateTopics
      ASSERT_TRUE(cluster.CreateTopic(config.kafka_topic_prefix + spec.name, spec.partitions).ok())
          << spec.name;
    }
    config.kafka_bootstrap = *bootstrap;
  }
  config.state_dir = dir.path() + "/state";
  config.dedupe_dir = dir.path() + "/dedupe";
  config.keys_dir = dir.path() + "/keys";
  config.group = "serve-kafka-test";
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  httplib::Client client("127.0.0.1", (*serve)->port());
  client.set_read_timeout(30, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer tok"}};
  auto res = client.Post("/v1/events", auth,
                         "[" + Hired("K1") + "," + Learning("k-1", "K1", "2025-05-01T10:00:00+09:00") + "]",
                         "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  EXPECT_NE(res->body.find("\"accepted\":2"), std::string::npos);
  auto duplicate = client.Post("/v1/events", auth, Learning("k-1", "K1", "2025-05-01T10:00:00+09:00"),
                               "application/json");
  ASSERT_TRUE(duplicate);
  EXPECT_NE(duplicate->body.find("\"duplicates\":1"), std::string::npos) << duplicate->body;
  EXPECT_TRUE(WaitFor200(client, "/v1/employees/K1/step-status"));
  // The two events live on two topics: they may be folded in two checkpoints.
  std::string body;
  for (int i = 0; i < 600 && body.find("\"events_folded\":2") == std::string::npos; ++i) {
    auto step = client.Get("/v1/employees/K1/step-status", {{"Authorization", "Bearer " + HrToken()}});
    ASSERT_TRUE(step);
    body = step->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_NE(body.find("\"events_folded\":2"), std::string::npos) << body;
  (*serve)->Stop();
}

TEST(ServeProcessTest, ConfigErrorsStartStopAndTokens) {
  TempDir dir;
  const std::string bad = dir.path() + "/bad.toml";
  std::ofstream(bad) << "[server]\nport = 99999\n";
  auto bad_run = testing::RunCommand({testing::JiritsuBinary(), "serve", "--config", bad});
  EXPECT_EQ(bad_run.exit_code, 2);
  EXPECT_NE(bad_run.stderr_text.find("[server] port: must be 0..65535, got 99999"), std::string::npos)
      << bad_run.stderr_text;
  auto missing = testing::RunCommand({testing::JiritsuBinary(), "serve", "--config", dir.path() + "/none.toml"});
  EXPECT_EQ(missing.exit_code, 2);

  const std::string config = dir.path() + "/serve.toml";
  std::ofstream(config) << "[server]\nport = 0\n[log]\nstore_dir = \"" << dir.path()
                        << "/store\"\n[auth]\nissuer = \"iss\"\naudience = \"aud\"\n"
                        << "[[auth.keys]]\nkid = \"dev\"\nalgorithm = \"HS256\"\nsecret = \"" << kSecret
                        << "\"\n";
  auto token = testing::RunCommand({testing::JiritsuBinary(), "token", "--config", config, "--sub", "hr-1",
                                    "--role", "hr", "--ttl", "600"});
  ASSERT_EQ(token.exit_code, 0) << token.stderr_text;
  std::string jwt = token.stdout_text;
  while (!jwt.empty() && jwt.back() == '\n') jwt.pop_back();
  auto bad_role = testing::RunCommand(
      {testing::JiritsuBinary(), "token", "--config", config, "--sub", "x", "--role", "root"});
  EXPECT_EQ(bad_role.exit_code, 2);

  testing::Child child({testing::JiritsuBinary(), "serve", "--config", config}, dir.path() + "/out",
                       dir.path() + "/err");
  int port = 0;
  for (int i = 0; i < 400 && port == 0; ++i) {
    std::ifstream err(dir.path() + "/err");
    std::string text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    std::smatch match;
    if (std::regex_search(text, match, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)"))) {
      port = std::stoi(match[1]);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  ASSERT_GT(port, 0);
  httplib::Client client("127.0.0.1", port);
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto lag = client.Get("/v1/lag", {{"Authorization", "Bearer " + jwt}});
  ASSERT_TRUE(lag);
  EXPECT_EQ(lag->status, 200) << lag->body;
  // A second serve on the same store cannot take the embedded log.
  auto second = testing::RunCommand({testing::JiritsuBinary(), "serve", "--config", config});
  EXPECT_EQ(second.exit_code, 3) << second.stderr_text;
  child.Kill(SIGTERM);
  EXPECT_EQ(child.Wait(), 0);
}

TEST(RunnerMonitorTest, EventTimeLagAndStalls) {
  TempDir dir;
  auto log = OpenEmbeddedLog(dir.path() + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE((*log)->EnsureTopics({{"jiritsu.learning", 1, false}}).ok());
  auto producer = (*log)->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (const auto& [id, time] : std::vector<std::pair<std::string, std::string>>{
           {"a", "2025-05-01T10:00:00Z"}, {"b", "2025-05-01T10:00:30Z"}, {"c", "2025-05-01T10:02:00Z"}}) {
    ASSERT_TRUE((*producer)->Append("jiritsu.learning", "E1", Learning(id, "E1", time)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(5)).ok());
  const TopicPartition tp{"jiritsu.learning", 0};

  service::RunnerMonitor monitor(true, /*stall_after_s=*/0);
  RuntimeStats stats;
  stats.events_applied = 1;
  stats.refolds = 2;
  stats.facts_cost_us = 140;
  stats.partitions[tp] = PartitionProgress{1, 1};  // consumed "a"
  monitor.OnProgress(stats);
  monitor.Sample(log->get());
  service::RunnerSnapshot snapshot = monitor.Snapshot();
  ASSERT_EQ(snapshot.partitions.size(), 1u);
  EXPECT_EQ(snapshot.partitions[0].end, 3);
  EXPECT_EQ(snapshot.partitions[0].lag, 2);
  EXPECT_DOUBLE_EQ(snapshot.partitions[0].lag_seconds, 120.0);  // "c" - "a"
  EXPECT_TRUE(snapshot.partitions[0].stalled);  // records wait, position did not move (threshold 0)
  MetricsRegistry metrics;
  monitor.Publish(&metrics);
  const std::string text = metrics.Expose();
  EXPECT_NE(text.find("jiritsu_consumer_lag_seconds{partition=\"0\",topic=\"jiritsu.learning\"} 120"),
            std::string::npos) << text;
  EXPECT_NE(text.find("jiritsu_partition_stalled{partition=\"0\",topic=\"jiritsu.learning\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("jiritsu_events_processed_total 1"), std::string::npos);
  EXPECT_NE(text.find("jiritsu_facts_cost_microseconds 140"), std::string::npos) << text;

  // Caught up: no lag, not stalled; the per-partition counter counts the 2 records.
  stats.events_applied = 3;
  stats.partitions[tp] = PartitionProgress{3, 3};
  monitor.OnProgress(stats);
  monitor.Sample(log->get());
  snapshot = monitor.Snapshot();
  EXPECT_EQ(snapshot.partitions[0].lag, 0);
  EXPECT_FALSE(snapshot.partitions[0].stalled);
  monitor.Publish(&metrics);
  const std::string after = metrics.Expose();
  EXPECT_NE(after.find("jiritsu_partition_records_processed_total{partition=\"0\",topic=\"jiritsu.learning\"} 2"),
            std::string::npos) << after;
  // The runtime saw records the sampler has not sampled yet: they count as lag
  // at once (the lag used to read 0 against the sampler's stale end).
  stats.partitions[tp] = PartitionProgress{3, 5};
  monitor.OnProgress(stats);
  snapshot = monitor.Snapshot();
  EXPECT_EQ(snapshot.partitions[0].end, 5);
  EXPECT_EQ(snapshot.partitions[0].lag, 2);
  // A sample that read an older end (before the report) does not lower it.
  monitor.Sample(log->get());
  EXPECT_EQ(monitor.Snapshot().partitions[0].end, 5);
  stats.partitions[tp] = PartitionProgress{3, 3};
  // A restarted runtime (after a swap) reports from zero again: totals stay monotonic.
  stats.events_applied = 1;
  stats.refolds = 1;
  monitor.OnProgress(stats);
  monitor.Publish(&metrics);
  EXPECT_NE(metrics.Expose().find("jiritsu_events_processed_total 4"), std::string::npos);
  EXPECT_NE(metrics.Expose().find("jiritsu_refolds_total 3"), std::string::npos) << metrics.Expose();
  monitor.OnRunnerExit(Unavailable("test"));
  EXPECT_TRUE(monitor.Snapshot().exited);
}

// `jiritsu replay --swap` (another process) hands a rebuilt generation to the
// runner inside serve; queries keep answering throughout and then read it.
TEST(ServeSwapTest, ReplaySwapWhileServing) {
  TempDir dir;
  service::ServeConfig config = BaseConfig(dir.path());
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  httplib::Client client("127.0.0.1", (*serve)->port());
  auto res = client.Post("/v1/events", {{"Authorization", "Bearer tok"}},
                         "[" + Hired("S1") + "," + Learning("s-1", "S1", "2025-05-01T10:00:00+09:00") + "]",
                         "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  ASSERT_TRUE(WaitFor200(client, "/v1/employees/S1/step-status"));
  const std::string token = HrToken();
  std::string before;
  for (int i = 0; i < 600; ++i) {
    auto r = client.Get("/v1/employees/S1/step-status", {{"Authorization", "Bearer " + token}});
    ASSERT_TRUE(r);
    before = r->body;
    if (before.find("\"events_folded\":2") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_NE(before.find("\"events_folded\":2"), std::string::npos) << before;

  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> answered{0};
  std::thread reader([&] {
    httplib::Client c("127.0.0.1", (*serve)->port());
    while (!done.load()) {
      auto r = c.Get("/v1/employees/S1/step-status", {{"Authorization", "Bearer " + token}});
      if (!r || r->status != 200) ++failures;
      else ++answered;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  auto replay = testing::RunCommand({testing::JiritsuBinary(), "replay", "--store", config.store_dir,
                                     "--swap", "--quiet", "--no-snapshot"});
  EXPECT_EQ(replay.exit_code, 0) << replay.stderr_text;
  EXPECT_NE(replay.stdout_text.find("\"promoted\":true"), std::string::npos) << replay.stdout_text;
  std::string views;
  for (int i = 0; i < 400; ++i) {
    auto t = client.Get("/v1/view-time", {{"Authorization", "Bearer " + token}});
    if (t && t->body.find("gen-000002") != std::string::npos) {
      views = t->body;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  done = true;
  reader.join();
  EXPECT_NE(views.find("gen-000002"), std::string::npos);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(answered.load(), 0);
  auto after = client.Get("/v1/employees/S1/step-status", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, before);  // the rebuild equals the live views
  // The runner serves the new generation: new events still arrive in the views.
  auto more = client.Post("/v1/events", {{"Authorization", "Bearer tok"}},
                          Learning("s-2", "S1", "2025-05-02T10:00:00+09:00"), "application/json");
  ASSERT_TRUE(more);
  ASSERT_EQ(more->status, 202);
  bool folded = false;
  for (int i = 0; i < 400 && !folded; ++i) {
    auto r = client.Get("/v1/employees/S1/step-status", {{"Authorization", "Bearer " + token}});
    folded = r && r->body.find("\"events_folded\":3") != std::string::npos;
    if (!folded) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  EXPECT_TRUE(folded);
}

// Many clients against few workers and a tiny accept queue: nothing is lost,
// nothing doubled, the group commit takes requests of several workers.
TEST(ServeConcurrencyTest, ConcurrentIngestionThroughFewWorkers) {
  TempDir dir;
  service::ServeConfig config = BaseConfig(dir.path());
  config.run_projections = false;
  config.threads = 2;
  config.max_pending_connections = 2;
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  const int port = (*serve)->port();
  constexpr int kClients = 12;
  constexpr int kEach = 15;
  std::atomic<int> accepted{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "cc-" + std::to_string(c) + "-" + std::to_string(i);
        auto res = client.Post("/v1/events", {{"Authorization", "Bearer tok"}},
                               Learning(id, "E" + std::to_string(c), "2025-05-01T10:00:00+09:00"),
                               "application/json");
        if (res && res->status == 202 && res->body.find("\"accepted\":1") != std::string::npos) {
          ++accepted;
        } else {
          ++failures;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(accepted.load(), kClients * kEach);
  httplib::Client client("127.0.0.1", port);
  auto again = client.Post("/v1/events", {{"Authorization", "Bearer tok"}},
                           Learning("cc-3-7", "E3", "2025-05-01T10:00:00+09:00"), "application/json");
  ASSERT_TRUE(again);
  EXPECT_NE(again->body.find("\"duplicates\":1"), std::string::npos) << again->body;
  const std::string metrics = (*serve)->metrics().Expose();
  EXPECT_NE(metrics.find("jiritsu_ingest_events_total{outcome=\"accepted\",type=\"learning.completed\"} " +
                         std::to_string(kClients * kEach)),
            std::string::npos);
}

// Replay progress (core/replay.h writes REPLAY-PROGRESS.json in the views
// root) and the views' RocksDB size reach /metrics.
TEST(ServeMetricsTest, ReplayProgressAndStoreSize) {
  TempDir dir;
  service::ServeConfig config = BaseConfig(dir.path());
  config.run_projections = false;
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  const std::string root = config.store_dir + "/views";
  std::ofstream(root + "/REPLAY-PROGRESS.json")
      << "{\"pid\":" << ::getpid()
      << ",\"phase\":\"build\",\"done\":false,\"events\":1234,\"records_remaining\":99,"
         "\"events_per_s\":5000,\"eta_s\":0.5,\"partitions\":[]}\n";
  std::string text = (*serve)->metrics().Expose();
  EXPECT_NE(text.find("jiritsu_replay_running 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("jiritsu_replay_events 1234\n"), std::string::npos);
  EXPECT_NE(text.find("jiritsu_replay_records_remaining 99\n"), std::string::npos);
  EXPECT_NE(text.find("jiritsu_replay_eta_seconds 0.5\n"), std::string::npos);
  std::ofstream(root + "/REPLAY-PROGRESS.json")
      << "{\"pid\":" << ::getpid() << ",\"done\":true,\"events\":2000,\"records_remaining\":0}\n";
  text = (*serve)->metrics().Expose();
  EXPECT_NE(text.find("jiritsu_replay_running 0\n"), std::string::npos);
  EXPECT_NE(text.find("jiritsu_replay_events 2000\n"), std::string::npos);
  EXPECT_NE(text.find("jiritsu_ingest_index_bytes "), std::string::npos);
}

TEST(ServeStaticTest, DashboardDirectoryServedAtRoot) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/static");
  std::ofstream(dir.path() + "/static/index.html") << "<html>dashboard</html>";
  service::ServeConfig config = BaseConfig(dir.path());
  config.static_dir = dir.path() + "/static";
  config.run_projections = false;
  auto serve = ServeInstance::Start(config);
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  httplib::Client client("127.0.0.1", (*serve)->port());
  auto index = client.Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body, "<html>dashboard</html>");
  auto api = client.Get("/v1/view-time");
  ASSERT_TRUE(api);
  EXPECT_EQ(api->status, 401);  // API paths are not shadowed
  auto missing = client.Get("/nope.js");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

}  // namespace
}  // namespace jiritsu
