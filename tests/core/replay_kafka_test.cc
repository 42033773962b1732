// The replay tool on Kafka: a rebuild equals the live views, verify passes,
// and an as-of build filters by event time.
#include <gtest/gtest.h>

#include <string>

#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/replay.h"
#include "core/view_generations.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

// On librdkafka's mock cluster, and on the real broker JIRITSU_KAFKA_BOOTSTRAP
// names, in a topic namespace of the run's own (the broker keeps topics).
class ReplayKafkaTest : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(Backends, ReplayKafkaTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "RealBroker" : "Mock";
                         });

TEST_P(ReplayKafkaTest, RebuildVerifyAndAsOfOnKafka) {
  KafkaMockCluster cluster;  // declared first: outlives the log
  KafkaLogOptions log_options;
  if (GetParam()) {
    log_options.bootstrap_servers = testing::RealBrokerBootstrap();
    if (log_options.bootstrap_servers.empty()) GTEST_SKIP() << testing::kRealBrokerSkip;
    log_options.topic_prefix = testing::FreshTopicPrefix("replay");
  } else {
    auto bootstrap = cluster.Start(1);
    ASSERT_TRUE(bootstrap.ok()) << bootstrap.status().ToString();
    log_options.bootstrap_servers = *bootstrap;
    log_options.topic_creator = cluster.TopicCreator();
  }
  log_options.request_timeout = std::chrono::seconds(20);
  auto log = OpenKafkaLog(log_options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(log->get(), 2).ok());
  testing::FakeHistoryOptions history;
  history.events = 600;
  history.employees = 30;
  const std::vector<Event> events = testing::FakeHistory(history);
  ASSERT_TRUE(testing::AppendEvents(log->get(), events).ok());

  testing::TempDir temp;
  const std::string root = temp.path() + "/state";
  ViewGenerations generations(root);
  auto live_dir = generations.CurrentDirOrCreate();
  ASSERT_TRUE(live_dir.ok());
  RuntimeOptions live = testing::FakeLiveOptions(*live_dir);
  live.use_consumer_group = false;  // no group join: keeps the test quick
  live.view_version = 1;
  auto live_stats = testing::RunFakeLive(log->get(), live);
  ASSERT_TRUE(live_stats.ok()) << live_stats.status().ToString();
  EXPECT_EQ(live_stats->events_applied, 600u);

  ReplayOptions options;
  options.views_root = root;
  options.view_version = 1;
  options.checkpoint_every_events = 200;
  options.progress_every_ms = 0;
  Replayer replayer(log->get(), [] { return testing::NewFakeProjector(); }, options);
  auto rebuilt = replayer.Rebuild({});
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->events, 600u);
  auto live_store = StateStore::OpenReadOnly(*live_dir, testing::FakeViewFamilies());
  ASSERT_TRUE(live_store.ok());
  auto live_digest = DigestFamilies(**live_store, testing::FakeViewFamilies());
  ASSERT_TRUE(live_digest.ok());
  EXPECT_EQ(rebuilt->digest, live_digest->combined);
  live_store->reset();

  auto verified = replayer.Verify({});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->equal) << verified->ToJson();

  AsOfRequest as_of;
  as_of.as_of_time_us = events[305].time_us;  // 5 reference events first
  as_of.target_dir = temp.path() + "/audit";
  auto audit = replayer.BuildAsOf(as_of);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  EXPECT_EQ(audit->events, 301u);
  EXPECT_EQ(audit->skipped_as_of, 299u);
}

}  // namespace
}  // namespace jiritsu
