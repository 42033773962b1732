// The EventLog contract: one GoogleTest suite that every EventLog
// implementation must pass (embedded RocksDB log, Kafka via librdkafka's mock
// cluster, Kafka against a real broker). It only uses core/event_log.h.
//
// How to instantiate it for a new implementation (in your *_test.cc):
//
//   #include "tests/core/event_log_contract.h"
//
//   namespace jiritsu::log_contract {  // the instantiation must be in this namespace
//   class MyLogEnv : public EventLogTestEnv {
//    public:
//     MyLogEnv() { /* start a cluster / create a temp dir, open the log */ }
//     jiritsu::EventLog* log() override { return log_.get(); }
//     void Restart() override { /* close and reopen the log on the same data */ }
//     std::string UniqueTopic() override { return "contract.t" + std::to_string(++n_); }
//     // Optional: std::string SkipReason() (e.g. "no broker configured"),
//     // std::chrono::milliseconds Patience() (bound for waits; default 20 s).
//   };
//   INSTANTIATE_TYPED_TEST_SUITE_P(MyLog, EventLogContractTest, ::testing::Types<MyLogEnv>);
//   }  // namespace jiritsu::log_contract
//
// Tests then run as MyLog/EventLogContractTest/0.<TestName>.
//
// Each test constructs a fresh env (default constructor) and destroys it at
// the end. Several instantiations may live in one binary and even one file
// (this header only declares templates and internal-linkage registration, as
// GoogleTest's type-parameterized tests are designed for).
//
// Rules the suite follows so it works against slow, shared brokers:
//   * every test uses topics from UniqueTopic() and a unique consumer group;
//   * every wait is a Poll loop bounded by env->Patience() in total; no test
//     asserts on time or sleeps for a fixed duration;
//   * producers and consumers are destroyed before Restart().
#pragma once

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/event_log.h"

namespace jiritsu::log_contract {

// A running log for one test. The suite owns it for the test's duration.
class EventLogTestEnv {
 public:
  virtual ~EventLogTestEnv() = default;
  // The log under test; valid until Restart() or destruction.
  virtual EventLog* log() = 0;
  // Closes the log and opens it again on the same data (a process restart).
  // Called only when no producer or consumer of the old log exists.
  virtual void Restart() = 0;
  // A topic name never returned before in this environment.
  virtual std::string UniqueTopic() = 0;
  // Non-empty: the whole suite is skipped with this reason (e.g. no broker).
  virtual std::string SkipReason() { return ""; }
  // Upper bound for waiting on anything that should happen (records to
  // arrive, partitions to be assigned). Generous: it only bounds failures.
  virtual std::chrono::milliseconds Patience() { return std::chrono::seconds(20); }
};

// Records OnAssigned/OnRevoked calls.
class RecordingListener : public RebalanceListener {
 public:
  void OnAssigned(const std::vector<TopicPartition>& partitions) override {
    for (const auto& tp : partitions) assigned.insert(tp);
    ++assigned_calls;
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    for (const auto& tp : partitions) assigned.erase(tp);
    ++revoked_calls;
  }
  std::set<TopicPartition> assigned;
  int assigned_calls = 0;
  int revoked_calls = 0;
};

// Polls until `out` holds at least `want` records or `patience` has passed in
// total. Returns the first Poll error.
inline Status PollUntilCount(LogConsumer* consumer, size_t want, std::vector<LogRecord>* out,
                             std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (out->size() < want && std::chrono::steady_clock::now() < deadline) {
    JIRITSU_RETURN_IF_ERROR(consumer->Poll(std::chrono::milliseconds(100), want - out->size(), out));
  }
  return Status::Ok();
}

// Polls (discarding records) until `done()` or `patience` has passed.
template <typename Done>
Status PollUntil(LogConsumer* consumer, Done done, std::chrono::milliseconds patience,
                 std::vector<LogRecord>* sink) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    JIRITSU_RETURN_IF_ERROR(consumer->Poll(std::chrono::milliseconds(100), 1000, sink));
  }
  return Status::Ok();
}

template <typename Env>
class EventLogContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::make_unique<Env>();
    const std::string skip = env_->SkipReason();
    if (!skip.empty()) GTEST_SKIP() << skip;
  }
  void TearDown() override {
    consumers_.clear();
    producers_.clear();
    env_.reset();
  }

  EventLog* log() { return env_->log(); }
  std::chrono::milliseconds patience() { return env_->Patience(); }

  // A fresh topic with `partitions` partitions.
  std::string NewTopic(int32_t partitions) {
    std::string topic = env_->UniqueTopic();
    Status s = log()->EnsureTopics({TopicSpec{topic, partitions}});
    EXPECT_TRUE(s.ok()) << s.ToString();
    return topic;
  }

  LogProducer* Producer() {
    auto producer = log()->NewProducer();
    EXPECT_TRUE(producer.ok()) << producer.status().ToString();
    if (!producer.ok()) return nullptr;
    producers_.push_back(std::move(producer).value());
    return producers_.back().get();
  }

  LogConsumer* Consumer() {
    ConsumerOptions options;
    options.group_id = "contract-group-" + env_->UniqueTopic();
    auto consumer = log()->NewConsumer(options);
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    if (!consumer.ok()) return nullptr;
    consumers_.push_back(std::move(consumer).value());
    return consumers_.back().get();
  }

  // Producers and consumers die before the log is reopened.
  void Restart() {
    consumers_.clear();
    producers_.clear();
    env_->Restart();
  }

  // Appends key/value pairs and flushes them.
  void Produce(const std::string& topic, const std::vector<std::pair<std::string, std::string>>& records) {
    LogProducer* producer = Producer();
    ASSERT_NE(producer, nullptr);
    for (const auto& [key, value] : records) {
      Status s = producer->Append(topic, key, value);
      if (s.code() == StatusCode::kResourceExhausted) {
        ASSERT_TRUE(producer->Flush(patience()).ok());
        s = producer->Append(topic, key, value);
      }
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    Status flushed = producer->Flush(patience());
    ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  }

  // Every partition of `topic` from `offset`.
  std::map<TopicPartition, int64_t> AllPartitions(const std::string& topic, int32_t partitions,
                                                  int64_t offset = 0) {
    std::map<TopicPartition, int64_t> result;
    for (int32_t p = 0; p < partitions; ++p) result[TopicPartition{topic, p}] = offset;
    return result;
  }

  // Reads `want` records of the given partitions from their start offsets.
  std::vector<LogRecord> ReadAll(const std::map<TopicPartition, int64_t>& start, size_t want) {
    LogConsumer* consumer = Consumer();
    std::vector<LogRecord> out;
    if (consumer == nullptr) return out;
    Status s = consumer->Assign(start);
    EXPECT_TRUE(s.ok()) << s.ToString();
    s = PollUntilCount(consumer, want, &out, patience());
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(out.size(), want) << "records missing after waiting " << patience().count() << " ms";
    return out;
  }

  static std::vector<std::pair<std::string, std::string>> KeyedRecords(int count, int keys,
                                                                       const std::string& tag) {
    std::vector<std::pair<std::string, std::string>> records;
    for (int i = 0; i < count; ++i) {
      records.emplace_back("key-" + std::to_string(i % keys), tag + "-" + std::to_string(i));
    }
    return records;
  }

  std::unique_ptr<EventLogTestEnv> env_;
  std::vector<std::unique_ptr<LogConsumer>> consumers_;
  std::vector<std::unique_ptr<LogProducer>> producers_;
};

TYPED_TEST_SUITE_P(EventLogContractTest);

TYPED_TEST_P(EventLogContractTest, EnsureTopicsIsIdempotent) {
  const std::string topic = this->env_->UniqueTopic();
  ASSERT_TRUE(this->log()->EnsureTopics({TopicSpec{topic, 3}}).ok());
  Status again = this->log()->EnsureTopics({TopicSpec{topic, 3}});
  EXPECT_TRUE(again.ok()) << again.ToString();
  auto count = this->log()->PartitionCount(topic);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, 3);
  EXPECT_FALSE(this->log()->Describe().empty());
}

TYPED_TEST_P(EventLogContractTest, EnsureTopicsRejectsDifferentPartitionCount) {
  const std::string topic = this->NewTopic(2);
  Status s = this->log()->EnsureTopics({TopicSpec{topic, 4}});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(topic), std::string::npos) << s.ToString();
  auto count = this->log()->PartitionCount(topic);
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
}

TYPED_TEST_P(EventLogContractTest, UnknownTopicIsNotFound) {
  const std::string topic = this->env_->UniqueTopic();  // never created
  auto count = this->log()->PartitionCount(topic);
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), StatusCode::kNotFound) << count.status().ToString();
  EXPECT_NE(count.status().message().find(topic), std::string::npos);

  auto end = this->log()->EndOffset(TopicPartition{topic, 0});
  ASSERT_FALSE(end.ok());
  EXPECT_EQ(end.status().code(), StatusCode::kNotFound) << end.status().ToString();

  // Append may fail at once or when the delivery is flushed.
  LogProducer* producer = this->Producer();
  ASSERT_NE(producer, nullptr);
  Status s = producer->Append(topic, "k", "v");
  if (s.ok()) s = producer->Flush(this->patience());
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find(topic), std::string::npos) << s.ToString();
}

TYPED_TEST_P(EventLogContractTest, EndOffsetBeforeAndAfterAppends) {
  const std::string topic = this->NewTopic(2);
  for (int32_t p = 0; p < 2; ++p) {
    auto end = this->log()->EndOffset(TopicPartition{topic, p});
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    EXPECT_EQ(*end, 0);
  }
  const auto records = this->KeyedRecords(40, 7, "v");
  this->Produce(topic, records);
  std::map<int32_t, int64_t> expected;
  for (const auto& [key, value] : records) ++expected[PartitionForKey(key, 2)];
  for (int32_t p = 0; p < 2; ++p) {
    auto end = this->log()->EndOffset(TopicPartition{topic, p});
    ASSERT_TRUE(end.ok()) << end.status().ToString();
    EXPECT_EQ(*end, expected[p]) << "partition " << p;
  }
}

TYPED_TEST_P(EventLogContractTest, ConsumesEverythingAppended) {
  constexpr int32_t kPartitions = 3;
  const std::string topic = this->NewTopic(kPartitions);
  const auto records = this->KeyedRecords(300, 23, "value");
  this->Produce(topic, records);

  const auto out = this->ReadAll(this->AllPartitions(topic, kPartitions), records.size());
  std::multiset<std::pair<std::string, std::string>> expected(records.begin(), records.end());
  std::multiset<std::pair<std::string, std::string>> seen;
  std::map<int32_t, int64_t> last_offset;
  for (const auto& record : out) {
    EXPECT_EQ(record.topic, topic);
    EXPECT_EQ(record.partition, PartitionForKey(record.key, kPartitions)) << record.key;
    auto [it, first] = last_offset.emplace(record.partition, record.offset);
    if (first) {
      EXPECT_EQ(record.offset, 0) << "partition " << record.partition;
    } else {
      EXPECT_GT(record.offset, it->second) << "partition " << record.partition;
      it->second = record.offset;
    }
    seen.emplace(record.key, record.value);
  }
  EXPECT_EQ(seen, expected);
  for (const auto& [partition, last] : last_offset) {
    auto end = this->log()->EndOffset(TopicPartition{topic, partition});
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(*end, last + 1);
  }
}

TYPED_TEST_P(EventLogContractTest, PreservesOrderPerKeyAcrossManyKeys) {
  constexpr int32_t kPartitions = 4;
  constexpr int kKeys = 60;
  constexpr int kPerKey = 15;
  const std::string topic = this->NewTopic(kPartitions);
  std::vector<std::pair<std::string, std::string>> records;
  for (int seq = 0; seq < kPerKey; ++seq) {
    for (int k = 0; k < kKeys; ++k) records.emplace_back("emp-" + std::to_string(k), std::to_string(seq));
  }
  this->Produce(topic, records);

  const auto out = this->ReadAll(this->AllPartitions(topic, kPartitions), records.size());
  std::map<std::string, int> next_seq;
  for (const auto& record : out) {
    EXPECT_EQ(record.partition, PartitionForKey(record.key, kPartitions));
    EXPECT_EQ(std::stoi(record.value), next_seq[record.key]++) << record.key;
  }
  EXPECT_EQ(next_seq.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, count] : next_seq) EXPECT_EQ(count, kPerKey) << key;
}

TYPED_TEST_P(EventLogContractTest, PartitionIsChosenByPartitionForKey) {
  constexpr int32_t kPartitions = 8;
  const std::string topic = this->NewTopic(kPartitions);
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 200; ++i) records.emplace_back("employee-" + std::to_string(i * 7919), "x");
  records.emplace_back("", "empty key");  // partition 0 by definition
  this->Produce(topic, records);

  const auto out = this->ReadAll(this->AllPartitions(topic, kPartitions), records.size());
  std::set<int32_t> used;
  for (const auto& record : out) {
    EXPECT_EQ(record.partition, PartitionForKey(record.key, kPartitions)) << "key '" << record.key << "'";
    used.insert(record.partition);
    if (record.key.empty()) {
      EXPECT_EQ(record.partition, 0);
    }
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(kPartitions)) << "200 keys should hit every partition";
}

TYPED_TEST_P(EventLogContractTest, AssignStartsAtTheGivenOffset) {
  const std::string topic = this->NewTopic(1);
  this->Produce(topic, this->KeyedRecords(10, 3, "v"));
  const auto out = this->ReadAll({{TopicPartition{topic, 0}, 4}}, 6);
  ASSERT_EQ(out.size(), 6u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].offset, static_cast<int64_t>(4 + i));
    EXPECT_EQ(out[i].value, "v-" + std::to_string(4 + i));
  }
}

TYPED_TEST_P(EventLogContractTest, SeekMovesBackwardsAndForwards) {
  const std::string topic = this->NewTopic(1);
  const TopicPartition tp{topic, 0};
  this->Produce(topic, this->KeyedRecords(10, 1, "v"));
  LogConsumer* consumer = this->Consumer();
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Assign({{tp, 0}}).ok());
  std::vector<LogRecord> out;
  ASSERT_TRUE(PollUntilCount(consumer, 10, &out, this->patience()).ok());
  ASSERT_EQ(out.size(), 10u);

  ASSERT_TRUE(consumer->Seek(tp, 2).ok());
  out.clear();
  ASSERT_TRUE(PollUntilCount(consumer, 3, &out, this->patience()).ok());
  ASSERT_GE(out.size(), 3u);
  EXPECT_EQ(out[0].offset, 2);
  EXPECT_EQ(out[0].value, "v-2");
  EXPECT_EQ(out[2].offset, 4);

  ASSERT_TRUE(consumer->Seek(tp, 8).ok());
  out.clear();
  ASSERT_TRUE(PollUntilCount(consumer, 2, &out, this->patience()).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].offset, 8);
  EXPECT_EQ(out[1].offset, 9);
  EXPECT_EQ(out[1].value, "v-9");

  EXPECT_EQ(consumer->Assignment(), std::vector<TopicPartition>{tp});
}

TYPED_TEST_P(EventLogContractTest, SubscribeAssignsEveryPartitionThroughTheListener) {
  const std::string a = this->NewTopic(3);
  const std::string b = this->NewTopic(2);
  this->Produce(a, this->KeyedRecords(30, 10, "a"));
  this->Produce(b, this->KeyedRecords(20, 10, "b"));
  LogConsumer* consumer = this->Consumer();
  ASSERT_NE(consumer, nullptr);
  RecordingListener listener;
  ASSERT_TRUE(consumer->Subscribe({a, b}, &listener).ok());

  std::vector<LogRecord> out;
  ASSERT_TRUE(PollUntil(consumer, [&] { return listener.assigned.size() == 5 && out.size() >= 50; },
                        this->patience(), &out)
                  .ok());
  std::set<TopicPartition> expected;
  for (int32_t p = 0; p < 3; ++p) expected.insert(TopicPartition{a, p});
  for (int32_t p = 0; p < 2; ++p) expected.insert(TopicPartition{b, p});
  EXPECT_EQ(listener.assigned, expected);
  EXPECT_GE(listener.assigned_calls, 1);
  const auto assignment = consumer->Assignment();
  EXPECT_EQ(std::set<TopicPartition>(assignment.begin(), assignment.end()), expected);
  EXPECT_EQ(out.size(), 50u) << "a fresh member starts every partition from the beginning";
}

TYPED_TEST_P(EventLogContractTest, PollTimesOutWithNothingAsOkAndEmpty) {
  const std::string topic = this->NewTopic(1);
  LogConsumer* consumer = this->Consumer();
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Assign({{TopicPartition{topic, 0}, 0}}).ok());
  std::vector<LogRecord> out;
  Status s = consumer->Poll(std::chrono::milliseconds(50), 100, &out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(out.empty());
}

TYPED_TEST_P(EventLogContractTest, CarriesValuesUpToOneMegabyte) {
  const std::string topic = this->NewTopic(2);
  std::vector<std::pair<std::string, std::string>> records;
  for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{100'000}, size_t{1'000'000}}) {
    std::string value(size, '\0');
    for (size_t i = 0; i < size; ++i) value[i] = static_cast<char>((i * 131 + size) & 0xff);
    records.emplace_back("size-" + std::to_string(size), std::move(value));
  }
  this->Produce(topic, records);
  const auto out = this->ReadAll(this->AllPartitions(topic, 2), records.size());
  std::map<std::string, std::string> seen;
  for (const auto& record : out) seen[record.key] = record.value;
  for (const auto& [key, value] : records) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen[key].size(), value.size()) << key;
    EXPECT_TRUE(seen[key] == value) << key << ": bytes differ";
  }
}

TYPED_TEST_P(EventLogContractTest, DataAndOffsetsSurviveRestart) {
  constexpr int32_t kPartitions = 3;
  const std::string topic = this->NewTopic(kPartitions);
  const auto records = this->KeyedRecords(90, 11, "r");
  this->Produce(topic, records);
  const auto before = this->ReadAll(this->AllPartitions(topic, kPartitions), records.size());
  std::map<int32_t, int64_t> ends_before;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto end = this->log()->EndOffset(TopicPartition{topic, p});
    ASSERT_TRUE(end.ok());
    ends_before[p] = *end;
  }

  this->Restart();

  auto count = this->log()->PartitionCount(topic);
  ASSERT_TRUE(count.ok()) << count.status().ToString();
  EXPECT_EQ(*count, kPartitions);
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto end = this->log()->EndOffset(TopicPartition{topic, p});
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(*end, ends_before[p]) << "partition " << p;
  }
  const auto after = this->ReadAll(this->AllPartitions(topic, kPartitions), records.size());
  auto by_position = [](const std::vector<LogRecord>& records) {
    std::map<std::pair<int32_t, int64_t>, const LogRecord*> index;
    for (const auto& record : records) index[{record.partition, record.offset}] = &record;
    return index;
  };
  const auto old_index = by_position(before);
  const auto new_index = by_position(after);
  ASSERT_EQ(old_index.size(), new_index.size());
  for (const auto& [position, old_record] : old_index) {
    auto it = new_index.find(position);
    ASSERT_NE(it, new_index.end());
    EXPECT_EQ(it->second->key, old_record->key);
    EXPECT_EQ(it->second->value, old_record->value);
    EXPECT_EQ(it->second->append_time_ms, old_record->append_time_ms);
  }
}

TYPED_TEST_P(EventLogContractTest, AppendingAfterRestartContinuesOffsets) {
  const std::string topic = this->NewTopic(1);
  const TopicPartition tp{topic, 0};
  this->Produce(topic, this->KeyedRecords(5, 2, "before"));
  this->Restart();
  this->Produce(topic, this->KeyedRecords(3, 2, "after"));
  auto end = this->log()->EndOffset(tp);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(*end, 8);
  const auto out = this->ReadAll({{tp, 0}}, 8);
  ASSERT_EQ(out.size(), 8u);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].offset, static_cast<int64_t>(i));
    EXPECT_EQ(out[i].value, (i < 5 ? "before-" + std::to_string(i) : "after-" + std::to_string(i - 5)));
  }
}

TYPED_TEST_P(EventLogContractTest, ConsumerSeesRecordsFlushedWhileItWaits) {
  const std::string topic = this->NewTopic(1);
  const TopicPartition tp{topic, 0};
  LogConsumer* consumer = this->Consumer();
  ASSERT_NE(consumer, nullptr);
  ASSERT_TRUE(consumer->Assign({{tp, 0}}).ok());
  std::vector<LogRecord> out;
  ASSERT_TRUE(consumer->Poll(std::chrono::milliseconds(0), 10, &out).ok());
  EXPECT_TRUE(out.empty());
  this->Produce(topic, this->KeyedRecords(4, 1, "late"));
  ASSERT_TRUE(PollUntilCount(consumer, 4, &out, this->patience()).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out.back().value, "late-3");
}

REGISTER_TYPED_TEST_SUITE_P(EventLogContractTest, EnsureTopicsIsIdempotent,
                            EnsureTopicsRejectsDifferentPartitionCount, UnknownTopicIsNotFound,
                            EndOffsetBeforeAndAfterAppends, ConsumesEverythingAppended,
                            PreservesOrderPerKeyAcrossManyKeys, PartitionIsChosenByPartitionForKey,
                            AssignStartsAtTheGivenOffset, SeekMovesBackwardsAndForwards,
                            SubscribeAssignsEveryPartitionThroughTheListener,
                            PollTimesOutWithNothingAsOkAndEmpty, CarriesValuesUpToOneMegabyte,
                            DataAndOffsetsSurviveRestart, AppendingAfterRestartContinuesOffsets,
                            ConsumerSeesRecordsFlushedWhileItWaits);

}  // namespace jiritsu::log_contract
