// KafkaLog against librdkafka's mock cluster (always) and against a real
// broker (when JIRITSU_KAFKA_BOOTSTRAP=host:port is set; skipped otherwise).
//
// Deadlines in these tests only bound waiting for progress (group joins,
// deliveries); nothing asserts how long anything took.
#include "core/kafka_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/event_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/logging.h"
#include "tests/core/event_log_contract.h"
#include "tests/testing/kafka_namespace.h"

namespace jiritsu {
namespace {

using namespace std::chrono_literals;

using testing::kRealBrokerSkip;

enum class Backend { kMock, kRealBroker };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kMock ? "Mock" : "RealBroker";
}

// Topic and group names unique per test and process, so runs against a
// shared real broker never see each other's data.
std::string UniqueName(std::string_view stem) {
  static std::atomic<int> counter{0};
  std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::replace_if(test.begin(), test.end(), [](char c) { return !std::isalnum(c); }, '-');
  return "jiritsu-test-" + std::string(stem) + "-" + test + "-" + std::to_string(getpid()) + "-" +
         std::to_string(counter++);
}

class RecordingListener : public RebalanceListener {
 public:
  void OnAssigned(const std::vector<TopicPartition>& partitions) override {
    ++assigned_calls;
    owned.insert(partitions.begin(), partitions.end());
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    ++revoked_calls;
    for (const auto& tp : partitions) owned.erase(tp);
  }
  std::set<TopicPartition> owned;
  int assigned_calls = 0;
  int revoked_calls = 0;
};

class KafkaLogTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kRealBroker) {
      bootstrap_ = testing::RealBrokerBootstrap();
      if (bootstrap_.empty()) GTEST_SKIP() << kRealBrokerSkip;
      return;
    }
    mock_ = std::make_unique<KafkaMockCluster>();
    Result<std::string> started = mock_->Start(3);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    bootstrap_ = *started;
  }

  KafkaLogOptions Options(std::map<std::string, std::string> properties = {},
                          std::string topic_prefix = "") const {
    KafkaLogOptions options;
    options.bootstrap_servers = bootstrap_;
    options.topic_prefix = std::move(topic_prefix);
    options.properties = std::move(properties);
    options.request_timeout = 20s;
    if (mock_) options.topic_creator = mock_->TopicCreator();
    return options;
  }

  std::unique_ptr<EventLog> Open(std::map<std::string, std::string> properties = {},
                                 std::string topic_prefix = "") {
    Result<std::unique_ptr<EventLog>> log =
        OpenKafkaLog(Options(std::move(properties), std::move(topic_prefix)));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  std::string NewTopic(EventLog* log, int32_t partitions) {
    std::string topic = UniqueName("t");
    Status status = log->EnsureTopics({{topic, partitions, false}});
    EXPECT_TRUE(status.ok()) << status.ToString();
    return topic;
  }

  static std::map<TopicPartition, int64_t> AllFromStart(const std::string& topic, int32_t n) {
    std::map<TopicPartition, int64_t> offsets;
    for (int32_t p = 0; p < n; ++p) offsets[{topic, p}] = 0;
    return offsets;
  }

  // Polls until `count` records arrived (or a generous deadline passed).
  static std::vector<LogRecord> PollUntil(LogConsumer* consumer, size_t count,
                                          size_t max_per_poll = 100) {
    std::vector<LogRecord> records;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (records.size() < count && std::chrono::steady_clock::now() < deadline) {
      Status status = consumer->Poll(200ms, max_per_poll, &records);
      EXPECT_TRUE(status.ok()) << status.ToString();
      if (!status.ok()) break;
    }
    return records;
  }

  std::string bootstrap_;
  std::unique_ptr<KafkaMockCluster> mock_;  // declared first: outlives logs
};

INSTANTIATE_TEST_SUITE_P(Backends, KafkaLogTest,
                         ::testing::Values(Backend::kMock, Backend::kRealBroker), BackendName);

TEST_P(KafkaLogTest, DescribeNamesBootstrap) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->Describe(), "kafka:" + bootstrap_);
}

TEST_P(KafkaLogTest, PartitionsAgreeWithPartitionForKey) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 8);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  constexpr int kKeys = 200;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE((*producer)->Append(topic, "employee-" + std::to_string(i), "v").ok());
  }
  ASSERT_TRUE((*producer)->Append(topic, "", "no key").ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 8)).ok());
  std::vector<LogRecord> records = PollUntil(consumer->get(), kKeys + 1);
  ASSERT_EQ(records.size(), kKeys + 1u);
  std::set<int32_t> used;
  for (const auto& record : records) {
    EXPECT_EQ(record.partition, PartitionForKey(record.key, 8)) << record.key;
    used.insert(record.partition);
  }
  EXPECT_EQ(used.size(), 8u) << "200 keys should reach every partition";
}

TEST_P(KafkaLogTest, RoundTripPreservesPerKeyOrderAndEndOffsets) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 4);
  auto count = log->PartitionCount(topic);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 4);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 30; ++i) {
    const std::string key = "k" + std::to_string(i % 3);
    ASSERT_TRUE((*producer)->Append(topic, key, std::to_string(i)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  int64_t total = 0;
  for (int32_t p = 0; p < 4; ++p) {
    auto end = log->EndOffset({topic, p});
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    total += *end;
  }
  EXPECT_EQ(total, 30);

  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 4)).ok());
  std::vector<LogRecord> records = PollUntil(consumer->get(), 30);
  ASSERT_EQ(records.size(), 30u);
  std::map<std::string, int> last_value;
  for (const auto& record : records) {
    EXPECT_EQ(record.topic, topic);
    const int value = std::stoi(record.value);
    auto [it, inserted] = last_value.emplace(record.key, value);
    if (!inserted) {
      EXPECT_LT(it->second, value) << "key " << record.key << " reordered";
      it->second = value;
    }
  }
}

TEST_P(KafkaLogTest, PollNeverLosesRecordsBeyondMax) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 25; ++i) ASSERT_TRUE((*producer)->Append(topic, "k", std::to_string(i)).ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 1)).ok());
  std::vector<LogRecord> records;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (records.size() < 25 && std::chrono::steady_clock::now() < deadline) {
    const size_t before = records.size();
    ASSERT_TRUE((*consumer)->Poll(200ms, 3, &records).ok());
    EXPECT_LE(records.size() - before, 3u);
  }
  ASSERT_EQ(records.size(), 25u);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(records[i].offset, i);
    EXPECT_EQ(records[i].value, std::to_string(i));
  }
  // Nothing more, and nothing twice.
  std::vector<LogRecord> more;
  ASSERT_TRUE((*consumer)->Poll(300ms, 10, &more).ok());
  EXPECT_TRUE(more.empty());
}

TEST_P(KafkaLogTest, AssignStartsAtOffsetAndSeekRereads) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE((*producer)->Append(topic, "k", std::to_string(i)).ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign({{{topic, 0}, 4}}).ok());
  EXPECT_EQ((*consumer)->Assignment(), (std::vector<TopicPartition>{{topic, 0}}));
  std::vector<LogRecord> records = PollUntil(consumer->get(), 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 4);

  ASSERT_TRUE((*consumer)->Seek({topic, 0}, 1).ok());
  records = PollUntil(consumer->get(), 5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records.front().offset, 1);
  EXPECT_EQ(records.back().offset, 5);

  Status not_assigned = (*consumer)->Seek({topic + "-other", 0}, 0);
  EXPECT_EQ(not_assigned.code(), StatusCode::kFailedPrecondition) << not_assigned.ToString();
}

// A client has one fetch per broker in flight. A fetch for partitions at
// their end waits at the broker up to fetch.wait.max.ms, and a partition
// of the same broker resumed meanwhile is fetched only after it: with the
// log-wide 3 s below, ~3 s later. A consumer asking for a short empty-fetch
// wait (a rebuild's) gets the resumed partition's records at once, whatever
// the log's properties. On the mock, one broker leads both partitions; a
// real cluster may lead them from two, so there only the short wait is
// checked.
TEST_P(KafkaLogTest, EmptyFetchWaitBoundsHowLongAResumedPartitionWaits) {
  KafkaMockCluster one_broker;  // declared before the log: outlives it
  KafkaLogOptions options = Options({{"fetch.wait.max.ms", "3000"}});
  if (mock_) {
    Result<std::string> started = one_broker.Start(1);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    options.bootstrap_servers = *started;
    options.topic_creator = one_broker.TopicCreator();
  }
  Result<std::unique_ptr<EventLog>> log = OpenKafkaLog(options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const std::string topic = NewTopic(log->get(), 2);
  auto producer = (*log)->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  ASSERT_TRUE((*producer)->Append(topic, "employee-1", "v").ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  const TopicPartition with_record{topic, PartitionForKey("employee-1", 2)};

  auto wait_for_resumed_record = [&](const ConsumerOptions& consumer_options) {
    auto consumer = (*log)->NewConsumer(consumer_options);
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    if (!consumer.ok()) return std::chrono::milliseconds::max();
    EXPECT_TRUE((*consumer)->Assign(AllFromStart(topic, 2)).ok());
    EXPECT_TRUE((*consumer)->Pause({with_record}).ok());
    // Only the empty partition is fetched now: that fetch waits at the broker.
    std::vector<LogRecord> none;
    EXPECT_TRUE((*consumer)->Poll(300ms, 10, &none).ok());
    EXPECT_TRUE(none.empty()) << "a paused partition's record was returned";
    const auto resumed = std::chrono::steady_clock::now();
    EXPECT_TRUE((*consumer)->Resume({with_record}).ok());
    const std::vector<LogRecord> records = PollUntil(consumer->get(), 1);
    EXPECT_EQ(records.size(), 1u);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 resumed);
  };
  ConsumerOptions short_wait;
  short_wait.empty_fetch_wait = 10ms;
  EXPECT_LT(wait_for_resumed_record(short_wait), 1500ms);
  // The control: without it the log's 3 s apply.
  if (mock_) {
    EXPECT_GE(wait_for_resumed_record(ConsumerOptions{}), 1500ms);
  }
}

// A position the broker does not have is an error, never a silent jump to
// the earliest record: views built from the rest would miss events.
TEST_P(KafkaLogTest, PositionsTheBrokerDoesNotHaveAreErrorsNotSilentResets) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*producer)->Append(topic, "k", std::to_string(i)).ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  auto expect_error = [&](int64_t offset, const std::string& what) {
    auto consumer = log->NewConsumer({});
    ASSERT_TRUE(consumer.ok());
    ASSERT_TRUE((*consumer)->Assign({{{topic, 0}, offset}}).ok());
    std::vector<LogRecord> records;
    Status status;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (status.ok() && records.empty() && std::chrono::steady_clock::now() < deadline) {
      status = (*consumer)->Poll(200ms, 100, &records);
    }
    EXPECT_TRUE(records.empty()) << what << ": got offset " << records.front().offset;
    EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << what << ": " << status.ToString();
    EXPECT_NE(status.message().find("no longer has the requested records"), std::string::npos)
        << status.ToString();
  };
  expect_error(10, "beyond the end");

  // librdkafka's mock keeps at most 5 MiB per partition and deletes the
  // oldest batches beyond it, like retention on a real broker.
  if (!mock_) return;
  std::string incompressible(256 << 10, '\0');
  uint64_t x = 88172645463325252ull;
  for (auto& c : incompressible) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  for (int i = 0; i < 28; ++i) {
    incompressible[0] = static_cast<char>(i);
    ASSERT_TRUE((*producer)->Append(topic, "k", incompressible).ok());
    ASSERT_TRUE((*producer)->Flush(30s).ok());  // one batch each
  }
  expect_error(0, "deleted from the start");
}

TEST_P(KafkaLogTest, EnsureTopicsIsIdempotentAndRejectsOtherPartitionCounts) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = UniqueName("t");
  const std::string compacted = UniqueName("facts");
  ASSERT_TRUE(log->EnsureTopics({{topic, 4, false}, {compacted, 2, true}}).ok());
  ASSERT_TRUE(log->EnsureTopics({{topic, 4, false}, {compacted, 2, true}}).ok());
  EXPECT_EQ(*log->PartitionCount(compacted), 2);

  Status mismatch = log->EnsureTopics({{topic, 6, false}});
  EXPECT_EQ(mismatch.code(), StatusCode::kFailedPrecondition) << mismatch.ToString();
  EXPECT_NE(mismatch.message().find(topic), std::string::npos) << mismatch.ToString();
  EXPECT_NE(mismatch.message().find("has 4 partitions, wanted 6"), std::string::npos)
      << mismatch.ToString();

  EXPECT_EQ(log->EnsureTopics({{"", 1, false}}).code(), StatusCode::kInvalidArgument);
}

TEST_P(KafkaLogTest, UnknownTopicIsNotFoundEverywhere) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = UniqueName("missing");
  EXPECT_EQ(log->PartitionCount(topic).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->EndOffset({topic, 0}).status().code(), StatusCode::kNotFound);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  EXPECT_EQ((*producer)->Append(topic, "k", "v").code(), StatusCode::kNotFound);
  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  EXPECT_EQ((*consumer)->Assign({{{topic, 0}, 0}}).code(), StatusCode::kNotFound);
  RecordingListener listener;
  EXPECT_EQ((*consumer)->Subscribe({topic}, &listener).code(), StatusCode::kNotFound);
  // And nothing got auto-created by asking.
  EXPECT_EQ(log->PartitionCount(topic).status().code(), StatusCode::kNotFound);

  const std::string existing = NewTopic(log.get(), 2);
  EXPECT_EQ(log->EndOffset({existing, 2}).status().code(), StatusCode::kNotFound);
}

TEST_P(KafkaLogTest, RecreatedClientsReadWhatWasFlushed) {
  std::string topic;
  {
    auto log = Open();
    ASSERT_NE(log, nullptr);
    topic = NewTopic(log.get(), 2);
    auto producer = log->NewProducer();
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*producer)->Append(topic, "k" + std::to_string(i), "v").ok());
    }
    ASSERT_TRUE((*producer)->Flush(30s).ok());
  }
  auto log = Open();  // "restart": new clients, same cluster
  ASSERT_NE(log, nullptr);
  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 2)).ok());
  EXPECT_EQ(PollUntil(consumer->get(), 10).size(), 10u);
}

TEST_P(KafkaLogTest, QueueFullIsResourceExhaustedNotBlocking) {
  // One record in flight at most; a long linger keeps it queued locally.
  auto log = Open({{"queue.buffering.max.messages", "1"}, {"linger.ms", "2000"}});
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Append(topic, "k", "first").ok());
  Status full = (*producer)->Append(topic, "k", "second");
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_TRUE(full.IsRetryable());
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  EXPECT_TRUE((*producer)->Append(topic, "k", "after flush").ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  EXPECT_EQ(*log->EndOffset({topic, 0}), 2);
}

TEST_P(KafkaLogTest, DeliveryFailureSurfacesFromFlushOnce) {
  std::map<std::string, std::string> properties;
  std::string value = "v";
  if (!mock_) {
    // Real broker: a record above the broker's default message.max.bytes
    // (1 MiB) is refused by the broker, i.e. fails at delivery.
    properties["message.max.bytes"] = "4000000";
    value.assign(2'000'000, 'x');
  }
  // librdkafka keeps a topic's authorization error until its next metadata
  // refresh: refresh often so the producer recovers within the test.
  properties["topic.metadata.refresh.interval.ms"] = "200";
  auto log = Open(properties);
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->Append(topic, "k", "ok-before").ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  if (mock_) {
    mock_->PushRequestErrors(kafka_api::kProduce,
                             std::vector<int>(50, kafka_error::kTopicAuthorizationFailed));
  }
  ASSERT_TRUE((*producer)->Append(topic, "k", value).ok());
  Status failed = (*producer)->Flush(30s);
  ASSERT_FALSE(failed.ok()) << "a failed delivery must not be silently dropped";
  EXPECT_FALSE(failed.IsRetryable()) << failed.ToString();
  EXPECT_NE(failed.message().find(topic), std::string::npos) << failed.ToString();
  if (mock_) {
    EXPECT_EQ(failed.code(), StatusCode::kFailedPrecondition) << failed.ToString();
    EXPECT_NE(failed.message().find("TOPIC_AUTHORIZATION_FAILED"), std::string::npos)
        << failed.ToString();
    mock_->ClearRequestErrors(kafka_api::kProduce);
  } else {
    EXPECT_EQ(failed.code(), StatusCode::kInvalidArgument) << failed.ToString();
  }
  // Reported once; the producer recovers (meanwhile Append may refuse the
  // topic with the same, non-retryable, authorization error).
  EXPECT_TRUE((*producer)->Flush(30s).ok());
  Status appended = (*producer)->Append(topic, "k", "ok-after");
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!appended.ok() && std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(appended.code(), failed.code()) << appended.ToString();
    std::this_thread::sleep_for(50ms);
    appended = (*producer)->Append(topic, "k", "ok-after");
  }
  ASSERT_TRUE(appended.ok()) << appended.ToString();
  Status after = (*producer)->Flush(30s);
  ASSERT_TRUE(after.ok()) << after.ToString();

  auto consumer = log->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 1)).ok());
  std::vector<LogRecord> records = PollUntil(consumer->get(), 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].value, "ok-before");
  EXPECT_EQ(records[1].value, "ok-after");
}

TEST_P(KafkaLogTest, DeliveryTimeoutWithBrokersDownSurfacesFromFlush) {
  if (!mock_) GTEST_SKIP() << "needs the mock cluster's fault injection (brokers down)";
  auto log = Open({{"message.timeout.ms", "2000"}});
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  // Warm up (connections, producer id) while the brokers are up. On a loaded
  // machine that can outlast the short delivery timeout: try again then.
  Status warm = DeadlineExceeded("not tried");
  for (int attempt = 0; attempt < 10 && !warm.ok(); ++attempt) {
    ASSERT_TRUE((*producer)->Append(topic, "k", "before").ok());
    warm = (*producer)->Flush(30s);
  }
  ASSERT_TRUE(warm.ok()) << warm.ToString();
  for (int broker = 1; broker <= 3; ++broker) ASSERT_TRUE(mock_->SetBrokerDown(broker).ok());
  ASSERT_TRUE((*producer)->Append(topic, "k", "lost").ok());
  Status failed = (*producer)->Flush(30s);
  EXPECT_EQ(failed.code(), StatusCode::kDeadlineExceeded) << failed.ToString();
  EXPECT_NE(failed.message().find(topic), std::string::npos) << failed.ToString();
  EXPECT_NE(failed.message().find("MSG_TIMED_OUT"), std::string::npos) << failed.ToString();
  for (int broker = 1; broker <= 3; ++broker) ASSERT_TRUE(mock_->SetBrokerUp(broker).ok());
}

// Two members of one group end up with two partitions each, every handover
// announced to the listeners. Run with the eager protocol (librdkafka's
// default range,roundrobin) and with cooperative-sticky (incremental).
void CheckGroupRebalance(EventLog* log, const std::string& topic, const std::string& group,
                         bool cooperative);

// Subscribes `consumer` (alone in its group) and polls until its listener
// owns `partitions` partitions (a failure after 60 s).
void SubscribeUntilItOwns(LogConsumer* consumer, const std::string& topic,
                          RecordingListener* listener, size_t partitions) {
  ASSERT_TRUE(consumer->Subscribe({topic}, listener).ok());
  std::vector<LogRecord> sink;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (listener->owned.size() < partitions && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE(consumer->Poll(100ms, 100, &sink).ok());
  }
  ASSERT_EQ(listener->owned.size(), partitions);
}

TEST_P(KafkaLogTest, GroupRebalanceSplitsPartitionsAndCallsListeners) {
  // Short heartbeats so that members notice the rebalance quickly.
  auto log = Open({{"heartbeat.interval.ms", "200"}, {"session.timeout.ms", "6000"}});
  ASSERT_NE(log, nullptr);
  CheckGroupRebalance(log.get(), NewTopic(log.get(), 4), UniqueName("group"), false);
}

TEST_P(KafkaLogTest, CooperativeRebalanceMovesOnlyWhatChangesOwner) {
  auto log = Open({{"heartbeat.interval.ms", "200"},
                   {"session.timeout.ms", "6000"},
                   {"partition.assignment.strategy", "cooperative-sticky"}});
  ASSERT_NE(log, nullptr);
  CheckGroupRebalance(log.get(), NewTopic(log.get(), 4), UniqueName("group"), true);
}

void CheckGroupRebalance(EventLog* log, const std::string& topic, const std::string& group,
                         bool cooperative) {
  ConsumerOptions options;
  options.group_id = group;

  auto first = log->NewConsumer(options);
  ASSERT_TRUE(first.ok());
  RecordingListener first_listener;
  ASSERT_NO_FATAL_FAILURE(SubscribeUntilItOwns(first->get(), topic, &first_listener, 4));
  EXPECT_EQ((*first)->Assignment().size(), 4u);
  std::vector<LogRecord> sink;

  auto second = log->NewConsumer(options);
  ASSERT_TRUE(second.ok());
  RecordingListener second_listener;
  ASSERT_TRUE((*second)->Subscribe({topic}, &second_listener).ok());
  auto deadline = std::chrono::steady_clock::now() + 90s;
  while ((first_listener.owned.size() != 2 || second_listener.owned.size() != 2) &&
         std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*first)->Poll(50ms, 100, &sink).ok());
    ASSERT_TRUE((*second)->Poll(50ms, 100, &sink).ok());
  }
  ASSERT_EQ(first_listener.owned.size(), 2u);
  ASSERT_EQ(second_listener.owned.size(), 2u);
  EXPECT_GE(first_listener.revoked_calls, 1) << "partitions were given away without OnRevoked";
  if (cooperative) {
    EXPECT_EQ(first_listener.assigned_calls, 1) << "the first member kept two partitions";
  }
  EXPECT_GE(second_listener.assigned_calls, 1);
  std::set<TopicPartition> all = first_listener.owned;
  all.insert(second_listener.owned.begin(), second_listener.owned.end());
  EXPECT_EQ(all.size(), 4u) << "each partition has exactly one owner";
  const auto first_assignment = (*first)->Assignment();
  EXPECT_EQ(std::set<TopicPartition>(first_assignment.begin(), first_assignment.end()),
            first_listener.owned);
}

// Namespaces (KafkaLogOptions::topic_prefix): one logical topic in two
// namespaces is two topics on the cluster; each log sees only its own, by
// the unprefixed name, and errors name the topic as the cluster does.
TEST_P(KafkaLogTest, TopicPrefixesAreSeparateNamespacesOnOneCluster) {
  const std::string prefix_a = UniqueName("ns-a") + ".";
  const std::string prefix_b = UniqueName("ns-b") + ".";
  auto a = Open({}, prefix_a);
  auto b = Open({}, prefix_b);
  auto plain = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(a->Describe(), "kafka:" + bootstrap_ + " (topic prefix " + prefix_a + ")");
  const std::string topic = "jiritsu.employee";
  ASSERT_TRUE(a->EnsureTopics({{topic, 2, false}}).ok());
  ASSERT_TRUE(b->EnsureTopics({{topic, 3, false}}).ok());
  EXPECT_EQ(*a->PartitionCount(topic), 2);
  EXPECT_EQ(*b->PartitionCount(topic), 3);
  // On the cluster, the topics carry their prefixes.
  EXPECT_EQ(*plain->PartitionCount(prefix_a + topic), 2);
  EXPECT_EQ(*plain->PartitionCount(prefix_b + topic), 3);

  for (auto [log, value] : {std::pair{a.get(), "in a"}, std::pair{b.get(), "in b"}}) {
    auto producer = log->NewProducer();
    ASSERT_TRUE(producer.ok());
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE((*producer)->Append(topic, "k" + std::to_string(i), value).ok());
    }
    ASSERT_TRUE((*producer)->Flush(30s).ok());
  }
  auto consumer = a->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign(AllFromStart(topic, 2)).ok());
  const std::vector<LogRecord> records = PollUntil(consumer->get(), 10);
  ASSERT_EQ(records.size(), 10u);
  for (const LogRecord& record : records) {
    EXPECT_EQ(record.topic, topic);
    EXPECT_EQ(record.value, "in a");
  }
  int64_t end = 0;
  for (int32_t p = 0; p < 2; ++p) end += *a->EndOffset({topic, p});
  EXPECT_EQ(end, 10);
  const std::vector<TopicPartition> assigned = (*consumer)->Assignment();
  EXPECT_EQ(assigned, (std::vector<TopicPartition>{{topic, 0}, {topic, 1}}));

  // A topic of another namespace (or none) is not in this one.
  const std::string only_b = UniqueName("only-b");
  ASSERT_TRUE(b->EnsureTopics({{only_b, 1, false}}).ok());
  Status missing = a->PartitionCount(only_b).status();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("'" + prefix_a + only_b + "'"), std::string::npos)
      << missing.ToString();
  auto producer = a->NewProducer();
  ASSERT_TRUE(producer.ok());
  EXPECT_EQ((*producer)->Append(only_b, "k", "v").code(), StatusCode::kNotFound);
  EXPECT_EQ(a->PartitionCount(prefix_b + topic).status().code(), StatusCode::kNotFound);
}

// Consumer groups are namespaced too: members of the same group name in two
// namespaces are two groups, so joining one never rebalances the other.
TEST_P(KafkaLogTest, TopicPrefixesSeparateConsumerGroupsAndRebalanceByUnprefixedNames) {
  const std::map<std::string, std::string> quick = {{"heartbeat.interval.ms", "200"},
                                                    {"session.timeout.ms", "6000"}};
  const std::string prefix_a = UniqueName("ns-a") + ".";
  const std::string prefix_b = UniqueName("ns-b") + ".";
  auto a = Open(quick, prefix_a);
  auto b = Open(quick, prefix_b);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string topic = UniqueName("t");
  ASSERT_TRUE(a->EnsureTopics({{topic, 4, false}}).ok());
  ASSERT_TRUE(b->EnsureTopics({{topic, 4, false}}).ok());
  const std::string group = UniqueName("group");
  // Within a namespace, a group splits and rebalances as without one.
  CheckGroupRebalance(a.get(), topic, group, false);

  ConsumerOptions options;
  options.group_id = group + "-shared";
  auto in_a = a->NewConsumer(options);
  auto in_b = b->NewConsumer(options);
  ASSERT_TRUE(in_a.ok());
  ASSERT_TRUE(in_b.ok());
  RecordingListener listener_a;
  RecordingListener listener_b;
  ASSERT_NO_FATAL_FAILURE(SubscribeUntilItOwns(in_a->get(), topic, &listener_a, 4));
  ASSERT_TRUE((*in_b)->Subscribe({topic}, &listener_b).ok());
  std::vector<LogRecord> sink;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (listener_b.owned.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*in_a)->Poll(50ms, 100, &sink).ok());
    ASSERT_TRUE((*in_b)->Poll(50ms, 100, &sink).ok());
  }
  // One shared group would have had to rebalance `in_a` (eager protocol)
  // before `in_b` got anything.
  ASSERT_EQ(listener_b.owned.size(), 4u);
  EXPECT_EQ(listener_a.revoked_calls, 0);
  EXPECT_EQ(listener_a.owned.size(), 4u);
  EXPECT_EQ(*listener_b.owned.begin(), (TopicPartition{topic, 0}));
}

TEST_P(KafkaLogTest, ListenerSeekInOnAssignedSetsStartAndLatestSkipsHistory) {
  auto log = Open({{"heartbeat.interval.ms", "200"}});
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  auto producer = log->NewProducer();
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*producer)->Append(topic, "k", std::to_string(i)).ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  // Seeks every assigned partition to offset 3, as the runtime seeks to the
  // offsets stored with its state.
  class SeekingListener : public RecordingListener {
   public:
    LogConsumer* consumer = nullptr;
    Status seek_status;
    void OnAssigned(const std::vector<TopicPartition>& partitions) override {
      RecordingListener::OnAssigned(partitions);
      for (const auto& tp : partitions) seek_status = consumer->Seek(tp, 3);
    }
  };
  ConsumerOptions options;
  options.group_id = UniqueName("group");
  auto consumer = log->NewConsumer(options);
  ASSERT_TRUE(consumer.ok());
  SeekingListener listener;
  listener.consumer = consumer->get();
  ASSERT_TRUE((*consumer)->Subscribe({topic}, &listener).ok());
  std::vector<LogRecord> records = PollUntil(consumer->get(), 2);
  ASSERT_TRUE(listener.seek_status.ok()) << listener.seek_status.ToString();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 3);

  // start_from_beginning=false: a new member without a seek sees only new records.
  ConsumerOptions latest;
  latest.group_id = UniqueName("group");
  latest.start_from_beginning = false;
  auto tail = log->NewConsumer(latest);
  ASSERT_TRUE(tail.ok());
  RecordingListener tail_listener;
  ASSERT_TRUE((*tail)->Subscribe({topic}, &tail_listener).ok());
  std::vector<LogRecord> none;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (tail_listener.owned.empty() && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*tail)->Poll(100ms, 10, &none).ok());
  }
  ASSERT_EQ(tail_listener.owned.size(), 1u);
  ASSERT_TRUE((*producer)->Append(topic, "k", "new").ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  std::vector<LogRecord> fresh = PollUntil(tail->get(), 1);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].value, "new");
  EXPECT_EQ(fresh[0].offset, 5);
}

TEST_P(KafkaLogTest, AssignAfterSubscribeIsRejected) {
  auto log = Open();
  ASSERT_NE(log, nullptr);
  const std::string topic = NewTopic(log.get(), 1);
  ConsumerOptions options;
  options.group_id = UniqueName("group");
  auto consumer = log->NewConsumer(options);
  ASSERT_TRUE(consumer.ok());
  RecordingListener listener;
  ASSERT_TRUE((*consumer)->Subscribe({topic}, &listener).ok());
  EXPECT_EQ((*consumer)->Assign({{{topic, 0}, 0}}).code(), StatusCode::kFailedPrecondition);
}

// --- Closing a group member (librdkafka issue #3608). ---
//
// Closing a consumer clears its group coordinator, whose thread then drops
// the connection and refreshes metadata through another broker. librdkafka
// 2.0 aborts the process when that refresh overlaps rd_kafka_destroy, so the
// consumer's destructor must wait for it. librdkafka's own debug log shows
// the order: the coordinator's "broker down" refresh, then "Terminating
// instance". Without the wait, this test failed in each of three runs.
// Keeps every message it is given (the raw text), for one test to inspect.
class CapturingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Take() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::exchange(lines_, {});
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& message) override {
    lines_.emplace_back(message.payload.data(), message.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;  // guarded by mutex_
};

class KafkaConsumerCloseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kRealBroker) {
      bootstrap_ = testing::RealBrokerBootstrap();
      if (bootstrap_.empty()) GTEST_SKIP() << kRealBrokerSkip;
    }
    // Before any client exists: spdlog does not guard a logger's sink list.
    logger_ = ModuleLogger("kafka");
    saved_level_ = logger_->level();
    for (const auto& sink : logger_->sinks()) sink->set_level(spdlog::level::info);
    logger_->sinks().push_back(captured_);
    logger_->set_level(spdlog::level::debug);
    if (GetParam() == Backend::kMock) {
      mock_ = std::make_unique<KafkaMockCluster>();
      Result<std::string> started = mock_->Start(3);
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      bootstrap_ = *started;
    }
  }
  void TearDown() override {
    mock_.reset();  // no client is left to log
    if (!logger_) return;
    logger_->sinks().pop_back();
    for (const auto& sink : logger_->sinks()) sink->set_level(spdlog::level::trace);
    logger_->set_level(saved_level_);
  }

  // librdkafka's log lines captured since the last call.
  std::vector<std::string> TakeLines() { return captured_->Take(); }

  std::string bootstrap_;
  std::unique_ptr<KafkaMockCluster> mock_;
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::level::level_enum saved_level_ = spdlog::level::info;
  std::shared_ptr<CapturingSink> captured_ = std::make_shared<CapturingSink>();
};

INSTANTIATE_TEST_SUITE_P(Backends, KafkaConsumerCloseTest,
                         ::testing::Values(Backend::kMock, Backend::kRealBroker), BackendName);

TEST_P(KafkaConsumerCloseTest, TheCoordinatorsLastRefreshEndsBeforeTheClientIsDestroyed) {
  KafkaLogOptions options;
  options.bootstrap_servers = bootstrap_;
  // broker: state changes and connection closes; metadata: the refreshes.
  options.properties = {{"debug", "broker,metadata"}};
  options.request_timeout = 20s;
  if (mock_) options.topic_creator = mock_->TopicCreator();
  Result<std::unique_ptr<EventLog>> log = OpenKafkaLog(options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const std::string topic = UniqueName("t");
  ASSERT_TRUE((*log)->EnsureTopics({{topic, 2, false}}).ok());

  // Several closes, each a chance for the two to overlap: members of groups
  // of their own, joined together (a join takes seconds on the mock).
  constexpr int kMembers = 5;
  std::vector<std::unique_ptr<LogConsumer>> members;
  std::vector<RecordingListener> listeners(kMembers);
  for (int member = 0; member < kMembers; ++member) {
    ConsumerOptions consumer_options;
    consumer_options.group_id = UniqueName("group");
    auto consumer = (*log)->NewConsumer(consumer_options);
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    ASSERT_TRUE((*consumer)->Subscribe({topic}, &listeners[member]).ok());
    members.push_back(std::move(consumer).value());
  }
  std::vector<LogRecord> sink;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  auto all_own_both = [&] {
    return std::all_of(listeners.begin(), listeners.end(),
                       [](const RecordingListener& l) { return l.owned.size() == 2; });
  };
  while (!all_own_both() && std::chrono::steady_clock::now() < deadline) {
    for (auto& member : members) ASSERT_TRUE(member->Poll(20ms, 100, &sink).ok());
  }
  ASSERT_TRUE(all_own_both());

  for (int member = 0; member < kMembers; ++member) {
    TakeLines();  // only the close matters
    members[member].reset();
    const std::vector<std::string> lines = TakeLines();
    auto line_with = [&](std::string_view a, std::string_view b, size_t from) {
      for (size_t i = from; i < lines.size(); ++i) {
        if (lines[i].find(a) != std::string::npos && lines[i].find(b) != std::string::npos) {
          return i;
        }
      }
      return lines.size();
    };
    const size_t refresh = line_with("[thrd:GroupCoordinator]", "broker down", 0);
    const size_t destroy = line_with("[thrd:app]", "Terminating instance", 0);
    ASSERT_LT(refresh, lines.size()) << "no coordinator refresh logged at close " << member;
    ASSERT_LT(destroy, lines.size()) << "no destroy logged at close " << member;
    EXPECT_LT(refresh, destroy) << "close " << member << ": the coordinator refreshed metadata "
                                << "while the client was being destroyed";
    EXPECT_EQ(line_with("[thrd:GroupCoordinator]", "broker down", destroy), lines.size())
        << "close " << member << ": a coordinator refresh after the destroy began";
  }
}

// --- Configuration: validated before any broker is contacted. ---

KafkaLogOptions OfflineOptions(std::map<std::string, std::string> properties) {
  KafkaLogOptions options;
  options.bootstrap_servers = "127.0.0.1:1";  // never contacted by these tests
  options.properties = std::move(properties);
  return options;
}

TEST(KafkaLogConfigTest, UnknownPropertyIsInvalidArgumentNamingIt) {
  auto log = OpenKafkaLog(OfflineOptions({{"no.such.property", "1"}}));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(log.status().message().find("no.such.property"), std::string::npos)
      << log.status().ToString();
}

TEST(KafkaLogConfigTest, InvalidValueIsInvalidArgumentNamingIt) {
  auto log = OpenKafkaLog(OfflineOptions({{"linger.ms", "soon"}}));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(log.status().message().find("linger.ms"), std::string::npos)
      << log.status().ToString();
  auto protocol = OpenKafkaLog(OfflineOptions({{"security.protocol", "carrier-pigeon"}}));
  ASSERT_FALSE(protocol.ok());
  EXPECT_NE(protocol.status().message().find("security.protocol"), std::string::npos)
      << protocol.status().ToString();
}

TEST(KafkaLogConfigTest, ManagedPropertiesCannotBeOverridden) {
  for (const char* key : {"enable.idempotence", "enable.auto.commit", "partitioner", "acks",
                          "group.id", "bootstrap.servers"}) {
    auto log = OpenKafkaLog(OfflineOptions({{key, "x"}}));
    ASSERT_FALSE(log.ok()) << key;
    EXPECT_EQ(log.status().code(), StatusCode::kInvalidArgument) << key;
    EXPECT_NE(log.status().message().find(key), std::string::npos) << log.status().ToString();
  }
}

TEST(KafkaLogConfigTest, ValidPropertiesPassThroughAndBootstrapIsRequired) {
  auto log = OpenKafkaLog(OfflineOptions({{"security.protocol", "plaintext"},
                                          {"socket.keepalive.enable", "true"},
                                          {"linger.ms", "20"},
                                          {"fetch.wait.max.ms", "50"}}));
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->Describe(), "kafka:127.0.0.1:1");
  EXPECT_TRUE((*log)->NewProducer().ok());
  EXPECT_TRUE((*log)->NewConsumer({}).ok());

  KafkaLogOptions empty;
  EXPECT_EQ(OpenKafkaLog(empty).status().code(), StatusCode::kInvalidArgument);
}

TEST(KafkaLogConfigTest, TopicPrefixOutsideKafkaTopicCharactersIsInvalidArgument) {
  for (const std::string& prefix : std::vector<std::string>{"acme staging.", "acme/", "ümlaut.",
                                                              std::string(201, 'a')}) {
    KafkaLogOptions options = OfflineOptions({});
    options.topic_prefix = prefix;
    auto log = OpenKafkaLog(options);
    ASSERT_FALSE(log.ok()) << prefix;
    EXPECT_EQ(log.status().code(), StatusCode::kInvalidArgument) << prefix;
    EXPECT_NE(log.status().message().find("topic prefix"), std::string::npos)
        << log.status().ToString();
  }
  KafkaLogOptions options = OfflineOptions({});
  options.topic_prefix = "acme-staging_2.";
  EXPECT_TRUE(OpenKafkaLog(options).ok());
}

TEST(KafkaLogConfigTest, UnreachableClusterIsRetryableNotAHang) {
  KafkaLogOptions options = OfflineOptions({});
  options.request_timeout = 1s;
  auto log = OpenKafkaLog(options);
  ASSERT_TRUE(log.ok());
  auto count = (*log)->PartitionCount("anything");
  ASSERT_FALSE(count.ok());
  EXPECT_TRUE(count.status().IsRetryable()) << count.status().ToString();
}

// --- The mock cluster wrapper itself. ---

TEST(KafkaMockClusterTest, StartsOnceAndValidatesArguments) {
  KafkaMockCluster cluster;
  EXPECT_TRUE(cluster.bootstrap_servers().empty());
  EXPECT_EQ(cluster.CreateTopic("t", 1).code(), StatusCode::kFailedPrecondition);
  auto started = cluster.Start(2);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(*started, cluster.bootstrap_servers());
  EXPECT_NE(started->find("127.0.0.1:"), std::string::npos);
  EXPECT_EQ(cluster.Start(1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(cluster.CreateTopic("t", 3, 2).ok());
  EXPECT_EQ(cluster.CreateTopic("u", 1, 3).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(cluster.SetPartitionLeader("t", 0, 2).ok());
  EXPECT_TRUE(cluster.SetBrokerRtt(1, 5ms).ok());
  EXPECT_FALSE(cluster.SetBrokerDown(9).ok());

  KafkaMockCluster invalid;
  EXPECT_EQ(invalid.Start(0).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace jiritsu

// --- The shared EventLog contract. "Restart" = destroy the log and open a new
// one (new clients) against the same cluster. ---

namespace jiritsu::log_contract {
namespace {

KafkaLogOptions ContractOptions(const std::string& bootstrap) {
  KafkaLogOptions options;
  options.bootstrap_servers = bootstrap;
  options.request_timeout = std::chrono::seconds(20);
  // Quick group joins for the Subscribe test.
  options.properties["heartbeat.interval.ms"] = "500";
  return options;
}

// A fresh in-process mock cluster (3 brokers) per test.
class KafkaMockLogEnv : public EventLogTestEnv {
 public:
  explicit KafkaMockLogEnv(std::string topic_prefix = "") {
    Result<std::string> bootstrap = cluster_.Start(3);
    if (!bootstrap.ok()) {
      ADD_FAILURE() << bootstrap.status().ToString();
      return;
    }
    options_ = ContractOptions(*bootstrap);
    options_.topic_creator = cluster_.TopicCreator();
    options_.topic_prefix = std::move(topic_prefix);
    Open();
  }
  EventLog* log() override { return log_.get(); }
  void Restart() override {
    log_.reset();
    Open();
  }
  std::string UniqueTopic() override { return "contract.t" + std::to_string(++topics_); }

 private:
  void Open() {
    auto log = OpenKafkaLog(options_);
    if (!log.ok()) {
      ADD_FAILURE() << log.status().ToString();
      return;
    }
    log_ = std::move(log).value();
  }
  KafkaMockCluster cluster_;  // declared first: outlives the log
  KafkaLogOptions options_;
  std::unique_ptr<EventLog> log_;
  int topics_ = 0;
};

// The whole contract through a namespaced log: every topic the caller names or
// gets back is unprefixed, while the cluster holds the prefixed ones.
class KafkaMockPrefixedLogEnv : public KafkaMockLogEnv {
 public:
  KafkaMockPrefixedLogEnv() : KafkaMockLogEnv("acme-staging.") {}
};

// A real cluster named by JIRITSU_KAFKA_BOOTSTRAP; topics and groups are
// unique per process so runs do not see each other's data.
class KafkaBrokerLogEnv : public EventLogTestEnv {
 public:
  KafkaBrokerLogEnv() {
    const std::string bootstrap = testing::RealBrokerBootstrap();
    if (bootstrap.empty()) return;
    options_ = ContractOptions(bootstrap);
    auto log = OpenKafkaLog(options_);
    if (!log.ok()) {
      ADD_FAILURE() << log.status().ToString();
      return;
    }
    log_ = std::move(log).value();
  }
  std::string SkipReason() override {
    return options_.bootstrap_servers.empty() ? kRealBrokerSkip : "";
  }
  EventLog* log() override { return log_.get(); }
  void Restart() override {
    log_.reset();
    auto log = OpenKafkaLog(options_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }
  std::string UniqueTopic() override {
    static std::atomic<int> counter{0};
    static const std::string run = std::to_string(getpid()) + "-" +
        std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    return "jiritsu-contract-" + run + "-" + std::to_string(++counter);
  }
  std::chrono::milliseconds Patience() override { return std::chrono::seconds(60); }

 private:
  KafkaLogOptions options_;
  std::unique_ptr<EventLog> log_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(KafkaMock, EventLogContractTest, ::testing::Types<KafkaMockLogEnv>);
INSTANTIATE_TYPED_TEST_SUITE_P(KafkaMockPrefixed, EventLogContractTest,
                               ::testing::Types<KafkaMockPrefixedLogEnv>);
INSTANTIATE_TYPED_TEST_SUITE_P(KafkaBroker, EventLogContractTest,
                               ::testing::Types<KafkaBrokerLogEnv>);

}  // namespace jiritsu::log_contract
