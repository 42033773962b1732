// OrderedReader (core/ordered_reader.h) on the embedded log: every record
// exactly once, each partition in log order, merged by event time across
// partitions of very different densities, poison records at their position,
// the same sequence with and without the decoding thread; and the embedded
// consumer's Pause/Resume it relies on.
#include "core/ordered_reader.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <set>

#include "core/embedded_log.h"
#include "core/topics.h"
#include "schemas/codec.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/thread_names.h"

namespace jiritsu {
namespace {

constexpr int64_t kHourUs = 3'600'000'000;
constexpr int64_t kStartUs = 1'711'900'800'000'000;

class OrderedReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = OpenEmbeddedLog(temp_.path() + "/log");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    ASSERT_TRUE(testing::EnsureFakeTopics(log_.get(), /*partitions=*/4).ok());
    // Employees whose ids land on two different partitions of the learning topic.
    for (int i = 0; dense_.empty() || sparse_.empty(); ++i) {
      const std::string id = "e" + std::to_string(i);
      const int32_t partition = PartitionForKey(id, 4);
      if (dense_.empty()) {
        dense_ = id;
        dense_partition_ = partition;
      } else if (partition != dense_partition_) {
        sparse_ = id;
        sparse_partition_ = partition;
      }
    }
    // Dense: an event every hour for 600 hours; sparse: one every 40 hours.
    // Read round-robin, the sparse partition runs ~40x ahead in event time.
    std::vector<Event> events;
    for (int h = 0; h < 600; ++h) {
      events.push_back(testing::FakeEmployeeEvent(dense_, "d" + std::to_string(h), kStartUs + h * kHourUs));
      if (h % 40 == 20) {
        events.push_back(testing::FakeEmployeeEvent(sparse_, "s" + std::to_string(h), kStartUs + h * kHourUs));
      }
    }
    ASSERT_TRUE(testing::AppendEvents(log_.get(), events).ok());
  }

  // The four learning partitions, plus `extra`, from offset 0.
  std::unique_ptr<LogConsumer> Assigned(const std::vector<TopicPartition>& extra = {}) {
    auto consumer = log_->NewConsumer({});
    EXPECT_TRUE(consumer.ok());
    std::map<TopicPartition, int64_t> starts;
    for (int32_t p = 0; p < 4; ++p) starts[{std::string(kLearningTopic), p}] = 0;
    for (const auto& tp : extra) starts[tp] = 0;
    EXPECT_TRUE((*consumer)->Assign(starts).ok());
    return std::move(*consumer);
  }

  OrderedReaderOptions Options(bool background) {
    OrderedReaderOptions options;
    for (int32_t p = 0; p < 4; ++p) {
      TopicPartition tp{std::string(kLearningTopic), p};
      auto end = log_->EndOffset(tp);
      EXPECT_TRUE(end.ok());
      options.ranges[tp] = {0, *end};
    }
    options.batch = 32;  // many polls, merges and pauses
    options.partition_lookahead = 8;
    options.background = background;
    options.poll_timeout = std::chrono::milliseconds(20);
    return options;
  }

  // Everything the reader hands out until it has been quiet for a while.
  // `copy`: take copies and leave the batch as Next() filled it (a reused
  // batch must not keep anything of its previous records).
  std::vector<DecodedRecord> ReadAll(OrderedReaderOptions options, size_t expected,
                                     const std::vector<TopicPartition>& extra = {},
                                     bool copy = false) {
    auto consumer = Assigned(extra);
    auto reader = OrderedReader::Start(consumer.get(), std::move(options));
    std::vector<DecodedRecord> all, batch;
    for (int idle = 0; idle < 20 && all.size() < expected + 1;) {
      Status status = reader->Next(std::chrono::milliseconds(50), &batch);
      EXPECT_TRUE(status.ok()) << status.ToString();
      idle = batch.empty() ? idle + 1 : 0;
      for (auto& record : batch) {
        if (copy) {
          all.push_back(record);
        } else {
          all.push_back(std::move(record));
        }
      }
    }
    reader.reset();  // before the consumer it polls
    return all;
  }

  testing::TempDir temp_;
  std::unique_ptr<EventLog> log_;
  std::string dense_, sparse_;
  int32_t dense_partition_ = -1, sparse_partition_ = -1;
};

void ExpectEachPartitionOnceInOrder(const std::vector<DecodedRecord>& records,
                                    const std::map<int32_t, int64_t>& ends) {
  std::map<int32_t, int64_t> next;
  for (const auto& decoded : records) {
    EXPECT_EQ(decoded.record.offset, next[decoded.record.partition])
        << "partition " << decoded.record.partition << ": a record missing, doubled or out of order";
    next[decoded.record.partition] = decoded.record.offset + 1;
    EXPECT_EQ(decoded.safe_position, decoded.record.offset + 1) << "in log order";
  }
  for (const auto& [partition, end] : ends) EXPECT_EQ(next[partition], end) << partition;
}

TEST_F(OrderedReaderTest, MergesPartitionsByEventTimeEachRecordOnceInPartitionOrder) {
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "background" : "inline");
    const auto records = ReadAll(Options(background), 615);
    ASSERT_EQ(records.size(), 615u);
    ExpectEachPartitionOnceInOrder(records, {{dense_partition_, 600}, {sparse_partition_, 15}});
    for (size_t i = 1; i < records.size(); ++i) {
      ASSERT_TRUE(records[i].decode_status.ok()) << records[i].decode_status.ToString();
      EXPECT_LE(records[i - 1].event.time_us, records[i].event.time_us)
          << "record " << i << " goes out before an earlier event of another partition";
      EXPECT_EQ(records[i].event.subject, records[i].record.key);
    }
  }
}

TEST_F(OrderedReaderTest, WithoutMergeEveryRecordStillComesOnceInPartitionOrder) {
  OrderedReaderOptions options = Options(true);
  options.merge = false;
  const auto records = ReadAll(std::move(options), 615);
  ASSERT_EQ(records.size(), 615u);
  ExpectEachPartitionOnceInOrder(records, {{dense_partition_, 600}, {sparse_partition_, 15}});
  // The sparse partition's last event (hour 580) comes long before the dense
  // partition's: the order a round-robin read gives, which the merge fixes.
  size_t last_sparse = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].record.partition == sparse_partition_) last_sparse = i;
  }
  EXPECT_LT(last_sparse, 300u);
}

TEST_F(OrderedReaderTest, EveryRecordNamesItsPartitionThroughOneSharedCopyPerPartition) {
  // The applying thread compares DecodedRecord::source, not each record's
  // own topic string: it must be the record's topic and partition, one
  // object per partition while the reader lives (also for a partition
  // outside the ranges, handed out as it comes).
  // A poison record: handed out with its decode error, and its source.
  ASSERT_TRUE(
      testing::AppendRaw(log_.get(), std::string(kEmployeeTopic), "e-extra", "{not json").ok());
  const TopicPartition extra{std::string(kEmployeeTopic), PartitionForKey("e-extra", 4)};
  for (bool merge : {true, false}) {
    for (bool background : {false, true}) {
      SCOPED_TRACE(std::string(merge ? "merged" : "in poll order") +
                   (background ? ", background" : ", inline"));
      OrderedReaderOptions options = Options(background);
      options.merge = merge;
      auto consumer = Assigned({extra});
      auto reader = OrderedReader::Start(consumer.get(), std::move(options));
      std::map<std::pair<std::string, int32_t>, const TopicPartition*> seen;
      size_t records = 0;
      std::vector<DecodedRecord> batch;
      for (int idle = 0; idle < 20 && records < 616;) {
        ASSERT_TRUE(reader->Next(std::chrono::milliseconds(50), &batch).ok());
        idle = batch.empty() ? idle + 1 : 0;
        for (const DecodedRecord& decoded : batch) {
          ++records;
          ASSERT_NE(decoded.source, nullptr) << "offset " << decoded.record.offset;
          EXPECT_EQ(decoded.source->topic, decoded.record.topic);
          EXPECT_EQ(decoded.source->partition, decoded.record.partition);
          auto [it, first] = seen.emplace(std::pair(decoded.record.topic, decoded.record.partition),
                                          decoded.source);
          EXPECT_EQ(it->second, decoded.source) << "a second copy for " << ToString(*it->second);
        }
      }
      EXPECT_EQ(records, 616u);
      EXPECT_EQ(seen.size(), 3u);  // the dense, sparse and extra partitions
      reader.reset();              // before the consumer it polls
    }
  }
}

// Its polling thread carries a name (core/thread_name.h) while it runs.
TEST_F(OrderedReaderTest, TheBackgroundReadersThreadIsNamedWhileItRuns) {
  const size_t before = testing::ThreadIdsNamed("jr-log-read").size();
  auto consumer = Assigned();
  auto reader = OrderedReader::Start(consumer.get(), Options(true));
  std::vector<DecodedRecord> batch;
  ASSERT_TRUE(reader->Next(std::chrono::milliseconds(2000), &batch).ok());
  EXPECT_FALSE(batch.empty());
  EXPECT_EQ(testing::CountOfThreadsNamedOnceItIs("jr-log-read", before + 1), before + 1);
  reader.reset();  // before the consumer it polls
  EXPECT_EQ(testing::CountOfThreadsNamedOnceItIs("jr-log-read", before), before);
}

TEST_F(OrderedReaderTest, BackgroundAndInlineHandOutTheSameSequence) {
  const auto inline_records = ReadAll(Options(false), 615);
  // The background reader refills the batches Next() hands back: with the
  // records moved out of them, and with the records left in place.
  for (bool copy : {false, true}) {
    SCOPED_TRACE(copy ? "records copied" : "records moved");
    const auto background_records = ReadAll(Options(true), 615, {}, copy);
    ASSERT_EQ(inline_records.size(), background_records.size());
    for (size_t i = 0; i < inline_records.size(); ++i) {
      EXPECT_EQ(inline_records[i].record.partition, background_records[i].record.partition) << i;
      EXPECT_EQ(inline_records[i].record.offset, background_records[i].record.offset) << i;
      EXPECT_EQ(inline_records[i].record.key, background_records[i].record.key) << i;
      EXPECT_EQ(inline_records[i].record.value, background_records[i].record.value) << i;
      EXPECT_EQ(inline_records[i].safe_position, background_records[i].safe_position) << i;
      EXPECT_EQ(inline_records[i].event, background_records[i].event) << i;
    }
  }
}

// The live catch-up (core/projection_runtime.h) reads inline until the
// reader is drained, then polls the consumer itself: nothing may be left
// held, and no partition left paused.
TEST_F(OrderedReaderTest, InlineReaderIsDrainedOnceEveryRangeIsReadAndResumesWhatItPaused) {
  auto consumer = Assigned();
  auto reader = OrderedReader::Start(consumer.get(), Options(false));
  EXPECT_FALSE(reader->Drained());
  size_t read = 0;
  std::vector<DecodedRecord> batch;
  for (int i = 0; i < 10'000 && !reader->Drained(); ++i) {
    ASSERT_TRUE(reader->Next(std::chrono::milliseconds(20), &batch).ok());
    read += batch.size();
  }
  EXPECT_TRUE(reader->Drained());
  EXPECT_EQ(read, 615u) << "drained before every record was handed out";
  ASSERT_TRUE(reader->ResumePaused().ok());
  reader.reset();

  // Stopped mid-way, the sparse partition (far ahead in event time) is
  // paused; once resumed, the consumer read directly gets new records of
  // both partitions.
  auto mid_consumer = Assigned();
  auto mid = OrderedReader::Start(mid_consumer.get(), Options(false));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(mid->Next(std::chrono::milliseconds(20), &batch).ok());
  EXPECT_FALSE(mid->Drained());
  ASSERT_TRUE(mid->ResumePaused().ok());
  mid.reset();
  ASSERT_TRUE(testing::AppendEvents(log_.get(),
                                    {testing::FakeEmployeeEvent(dense_, "d-new", kStartUs),
                                     testing::FakeEmployeeEvent(sparse_, "s-new", kStartUs)})
                  .ok());
  std::set<int32_t> partitions;
  std::vector<LogRecord> records;
  for (int i = 0; i < 200 && partitions.size() < 2; ++i) {
    records.clear();
    ASSERT_TRUE(mid_consumer->Poll(std::chrono::milliseconds(20), 100, &records).ok());
    for (const auto& record : records) partitions.insert(record.partition);
  }
  EXPECT_EQ(partitions, (std::set<int32_t>{dense_partition_, sparse_partition_}));

  // With a polling thread the caller owns neither the state nor the consumer.
  auto background_consumer = Assigned();
  auto background = OrderedReader::Start(background_consumer.get(), Options(true));
  EXPECT_FALSE(background->Drained());
  EXPECT_EQ(background->ResumePaused().code(), StatusCode::kFailedPrecondition);
  background.reset();
}

TEST_F(OrderedReaderTest, ReorderedPartitionsHandOutLateRecordsEarlierWithSafePositions) {
  // A third employee, on a partition of its own, whose source delivers late:
  // in every block of four hours the first hour's event is logged after the
  // other three.
  std::string late;
  int32_t late_partition = -1;
  for (int i = 0; late.empty(); ++i) {
    const std::string id = "late" + std::to_string(i);
    const int32_t partition = PartitionForKey(id, 4);
    if (partition != dense_partition_ && partition != sparse_partition_) {
      late = id;
      late_partition = partition;
    }
  }
  std::vector<Event> events;
  for (int block = 0; block < 300; block += 4) {
    for (int h : {block + 1, block + 2, block + 3, block}) {
      events.push_back(testing::FakeEmployeeEvent(late, "l" + std::to_string(h),
                                                  kStartUs + h * kHourUs + 1));
    }
  }
  ASSERT_TRUE(testing::AppendEvents(log_.get(), events).ok());
  const std::map<int32_t, int64_t> ends = {
      {dense_partition_, 600}, {sparse_partition_, 15}, {late_partition, 300}};
  auto inversions = [&](const std::vector<DecodedRecord>& records) {
    size_t count = 0;
    int64_t last = std::numeric_limits<int64_t>::min();
    for (const auto& decoded : records) {
      if (decoded.record.partition != late_partition) continue;
      if (decoded.event.time_us < last) ++count;
      last = std::max(last, decoded.event.time_us);
    }
    return count;
  };

  {
    SCOPED_TRACE("log order");
    const auto records = ReadAll(Options(true), 915);
    ASSERT_EQ(records.size(), 915u);
    ExpectEachPartitionOnceInOrder(records, ends);
    EXPECT_EQ(inversions(records), 75u);  // the late events, as logged
  }
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "reordered, background" : "reordered, inline");
    OrderedReaderOptions options = Options(background);
    options.reorder_held = true;
    const auto records = ReadAll(std::move(options), 915);
    ASSERT_EQ(records.size(), 915u);
    EXPECT_EQ(inversions(records), 0u);
    // Each record once; a safe position never passes a record not yet
    // handed out, never goes back, and reaches the end.
    std::map<int32_t, std::set<int64_t>> handed;
    std::map<int32_t, int64_t> last_safe;
    for (const auto& decoded : records) {
      const int32_t partition = decoded.record.partition;
      EXPECT_TRUE(handed[partition].insert(decoded.record.offset).second) << "doubled";
      for (int64_t offset = 0; offset < decoded.safe_position; ++offset) {
        ASSERT_TRUE(handed[partition].count(offset))
            << "partition " << partition << ": safe position " << decoded.safe_position
            << " passes offset " << offset << ", not handed out yet";
      }
      EXPECT_GE(decoded.safe_position, last_safe[partition]);
      last_safe[partition] = decoded.safe_position;
    }
    for (const auto& [partition, end] : ends) {
      EXPECT_EQ(handed[partition].size(), static_cast<size_t>(end)) << partition;
      EXPECT_EQ(last_safe[partition], end) << partition;
    }
  }
}

TEST_F(OrderedReaderTest, WavesReadOnePartitionNumberAtATimeEachRecordOnce) {
  // A third partition of another topic with the sparse employee's partition
  // number: a wave spans every topic.
  const TopicPartition other{std::string(kInterviewTopic), sparse_partition_};
  std::vector<Event> interviews;
  for (int h = 0; h < 30; ++h) {
    Event event = testing::FakeEmployeeEvent(sparse_, "i" + std::to_string(h), kStartUs + h * 20 * kHourUs);
    event.type = EventType::kInterviewHeld;
    event.data = InterviewHeld{"iv-" + std::to_string(h), "m1", InterviewKind::kCareer, 30,
                               CareerIntention::kUnknown, false, false, ""};
    interviews.push_back(event);
  }
  const size_t appended_interviews = interviews.size();
  Status appended = testing::AppendEvents(log_.get(), interviews);
  ASSERT_TRUE(appended.ok()) << appended.ToString();
  auto other_end = log_->EndOffset(other);
  ASSERT_TRUE(other_end.ok());
  ASSERT_EQ(static_cast<size_t>(*other_end), appended_interviews);
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "background" : "inline");
    OrderedReaderOptions options = Options(background);
    options.ranges[other] = {0, *other_end};
    options.wave_partitions = 1;
    const auto all = ReadAll(std::move(options), 645, {other});
    ASSERT_EQ(all.size(), 645u);
    // Partition numbers never go down: the lower one's records (on both
    // topics) all come before any record of the higher one.
    for (size_t i = 1; i < all.size(); ++i) {
      ASSERT_LE(all[i - 1].record.partition, all[i].record.partition) << "record " << i;
    }
    // Within the wave of the sparse partition, its two topics are merged by
    // event time; each topic partition once, in log order.
    std::map<TopicPartition, int64_t> next;
    for (size_t i = 0; i < all.size(); ++i) {
      const TopicPartition tp{all[i].record.topic, all[i].record.partition};
      EXPECT_EQ(all[i].record.offset, next[tp]) << tp.topic << "/" << tp.partition;
      next[tp] = all[i].record.offset + 1;
      if (i > 0 && all[i - 1].record.partition == all[i].record.partition) {
        EXPECT_LE(all[i - 1].event.time_us, all[i].event.time_us) << "record " << i;
      }
    }
    EXPECT_EQ(next[(TopicPartition{std::string(kLearningTopic), dense_partition_})], 600);
    EXPECT_EQ(next[(TopicPartition{std::string(kLearningTopic), sparse_partition_})], 15);
    EXPECT_EQ(next[other], static_cast<int64_t>(appended_interviews));
  }
}

TEST_F(OrderedReaderTest, PoisonRecordKeepsItsPositionAndItsDecodeError) {
  // Offset 600 of the dense partition, between two valid events.
  ASSERT_TRUE(testing::AppendRaw(log_.get(), std::string(kLearningTopic), dense_, "{not json").ok());
  ASSERT_TRUE(testing::AppendEvents(
                  log_.get(), {testing::FakeEmployeeEvent(dense_, "after", kStartUs + 700 * kHourUs)})
                  .ok());
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "background" : "inline");
    const auto records = ReadAll(Options(background), 617);
    ASSERT_EQ(records.size(), 617u);
    ExpectEachPartitionOnceInOrder(records, {{dense_partition_, 602}, {sparse_partition_, 15}});
    size_t poisoned = 0;
    for (const auto& decoded : records) {
      if (decoded.decode_status.ok()) continue;
      ++poisoned;
      EXPECT_EQ(decoded.record.partition, dense_partition_);
      EXPECT_EQ(decoded.record.offset, 600);
      EXPECT_EQ(decoded.record.value, "{not json");
      EXPECT_EQ(decoded.decode_status.code(), StatusCode::kInvalidArgument);
    }
    EXPECT_EQ(poisoned, 1u);
  }
}

// Returns two records, then fails every poll.
class FailingConsumer : public LogConsumer {
 public:
  Status Subscribe(const std::vector<std::string>&, RebalanceListener*) override { return Status::Ok(); }
  Status Assign(const std::map<TopicPartition, int64_t>&) override { return Status::Ok(); }
  Status Seek(const TopicPartition&, int64_t) override { return Status::Ok(); }
  Status Poll(std::chrono::milliseconds, size_t, std::vector<LogRecord>* out) override {
    if (polls_++ > 0) return Unavailable("broker gone for good");
    for (int64_t offset : {0, 1}) {
      out->push_back(LogRecord{std::string(kLearningTopic), 0, offset, "e1", "{not json", 0});
    }
    return Status::Ok();
  }
  std::vector<TopicPartition> Assignment() const override { return {}; }

 private:
  int polls_ = 0;
};

TEST(OrderedReaderFailureTest, ConsumerErrorComesAfterTheRecordsReadBeforeIt) {
  for (bool background : {false, true}) {
    SCOPED_TRACE(background ? "background" : "inline");
    FailingConsumer consumer;
    OrderedReaderOptions options;
    options.ranges[{std::string(kLearningTopic), 0}] = {0, 10};  // more than it will ever get
    options.background = background;
    auto reader = OrderedReader::Start(&consumer, std::move(options));
    std::vector<DecodedRecord> batch, got;
    Status status;
    for (int i = 0; i < 100 && status.ok(); ++i) {
      status = reader->Next(std::chrono::milliseconds(50), &batch);
      for (auto& record : batch) got.push_back(std::move(record));
    }
    EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.ToString();
    ASSERT_EQ(got.size(), 2u) << "the records read before the error are handed out first";
    EXPECT_EQ(got[0].record.offset, 0);
    EXPECT_EQ(got[1].record.offset, 1);
    EXPECT_FALSE(got[0].decode_status.ok());
  }
}

// Hands out a fixed list of polls, one per Poll(), then nothing.
class ScriptedConsumer : public LogConsumer {
 public:
  explicit ScriptedConsumer(std::vector<std::vector<LogRecord>> polls) : polls_(std::move(polls)) {}
  Status Subscribe(const std::vector<std::string>&, RebalanceListener*) override {
    return Status::Ok();
  }
  Status Assign(const std::map<TopicPartition, int64_t>&) override { return Status::Ok(); }
  Status Seek(const TopicPartition&, int64_t) override { return Status::Ok(); }
  Status Poll(std::chrono::milliseconds, size_t, std::vector<LogRecord>* out) override {
    if (next_ < polls_.size()) {
      for (const LogRecord& record : polls_[next_]) out->push_back(record);
      ++next_;
    }
    return Status::Ok();
  }
  std::vector<TopicPartition> Assignment() const override { return {}; }

 private:
  std::vector<std::vector<LogRecord>> polls_;
  size_t next_ = 0;
};

LogRecord LearningRecord(int32_t partition, int64_t offset, const std::string& employee,
                         int64_t time_us) {
  const Event event = testing::FakeEmployeeEvent(employee, "o" + std::to_string(offset), time_us);
  return LogRecord{std::string(kLearningTopic), partition, offset, employee,
                   EncodeJsonEvent(event),      0};
}

// Everything an inline reader over `consumer` hands out until three polls in
// a row give nothing.
std::vector<DecodedRecord> ReadInline(LogConsumer* consumer, OrderedReaderOptions options) {
  options.background = false;
  options.poll_timeout = std::chrono::milliseconds(1);
  auto reader = OrderedReader::Start(consumer, std::move(options));
  std::vector<DecodedRecord> all, batch;
  for (int idle = 0; idle < 3;) {
    Status status = reader->Next(std::chrono::milliseconds(1), &batch);
    EXPECT_TRUE(status.ok()) << status.ToString();
    idle = batch.empty() ? idle + 1 : 0;
    for (auto& record : batch) all.push_back(std::move(record));
  }
  return all;
}

TEST(OrderedReaderReuseTest, ARecordHeldWhereAPoisonRecordWasKeepsNothingOfIt) {
  // One record per poll: the valid one is held in the entry the poison
  // record left, which must not pass on its decode error; the next poison
  // record, in the valid one's entry, must not keep its event.
  const std::string learning(kLearningTopic);
  ScriptedConsumer consumer({{LogRecord{learning, 0, 0, "e1", "{not json", 0}},
                             {LearningRecord(0, 1, "e1", kStartUs)},
                             {LogRecord{learning, 0, 2, "e1", "[]", 0}}});
  OrderedReaderOptions options;
  options.ranges[{learning, 0}] = {0, 3};
  const auto records = ReadInline(&consumer, std::move(options));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].decode_status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(records[1].decode_status.ok()) << records[1].decode_status.ToString();
  EXPECT_EQ(records[1].record.offset, 1);
  EXPECT_EQ(records[1].event.subject, "e1");
  EXPECT_EQ(records[1].event.time_us, kStartUs);
  EXPECT_FALSE(records[2].decode_status.ok());
  EXPECT_EQ(records[2].record.value, "[]");
  EXPECT_EQ(records[2].event, Event());
}

TEST(OrderedReaderReuseTest, RecordsReadAgainAfterASeekBackAreEachHandedOutWithSafePositions) {
  // Partition 0 delivers four records out of event-time order, then (as
  // after a seek back) offsets 2 and 3 again, with partition 1's first
  // record. Every record returned is handed out once per return, earliest
  // event first, and a safe position never passes an offset still held.
  const std::string learning(kLearningTopic);
  ScriptedConsumer consumer({
      {LearningRecord(0, 0, "a", kStartUs + 40 * kHourUs),
       LearningRecord(0, 1, "a", kStartUs + 10 * kHourUs),
       LearningRecord(0, 2, "a", kStartUs + 30 * kHourUs),
       LearningRecord(0, 3, "a", kStartUs + 20 * kHourUs)},
      {LearningRecord(0, 2, "a", kStartUs + 30 * kHourUs),
       LearningRecord(0, 3, "a", kStartUs + 20 * kHourUs),
       LearningRecord(1, 0, "b", kStartUs + 25 * kHourUs)},
  });
  OrderedReaderOptions options;
  options.ranges[{learning, 0}] = {0, 100};
  options.ranges[{learning, 1}] = {0, 100};
  options.reorder_held = true;
  const auto records = ReadInline(&consumer, std::move(options));
  std::vector<std::pair<int32_t, int64_t>> handed;
  for (const auto& record : records)
    handed.emplace_back(record.record.partition, record.record.offset);
  const std::vector<std::pair<int32_t, int64_t>> expected = {{0, 1}, {0, 3}, {0, 3}, {1, 0},
                                                             {0, 2}, {0, 2}, {0, 0}};
  EXPECT_EQ(handed, expected);
  std::map<int64_t, int> copies_left = {{0, 1}, {1, 1}, {2, 2}, {3, 2}};
  int64_t last_safe = 0;
  for (const auto& record : records) {
    if (record.record.partition != 0) continue;
    --copies_left[record.record.offset];
    for (const auto& [offset, left] : copies_left) {
      if (offset < record.safe_position) {
        EXPECT_EQ(left, 0) << "safe position " << record.safe_position << " passes offset "
                           << offset << ", still held";
      }
    }
    EXPECT_GE(record.safe_position, last_safe);
    last_safe = record.safe_position;
  }
  EXPECT_EQ(last_safe, 4);
}

TEST(EmbeddedConsumerPauseTest, PausedPartitionsAreSkippedUntilResumedWithoutLosingTheirPosition) {
  testing::TempDir temp;
  auto log = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(log.ok());
  ASSERT_TRUE((*log)->EnsureTopics({{"t", 2, false}}).ok());
  auto producer = (*log)->NewProducer();
  ASSERT_TRUE(producer.ok());
  std::string key0, key1;
  for (int i = 0; key0.empty() || key1.empty(); ++i) {
    const std::string key = "k" + std::to_string(i);
    (PartitionForKey(key, 2) == 0 ? key0 : key1) = key;
  }
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*producer)->Append("t", key0, "a" + std::to_string(i)).ok());
    ASSERT_TRUE((*producer)->Append("t", key1, "b" + std::to_string(i)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(10)).ok());
  auto consumer = (*log)->NewConsumer({});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Assign({{{"t", 0}, 0}, {{"t", 1}, 0}}).ok());
  ASSERT_TRUE((*consumer)->Pause({{"t", 0}}).ok());
  std::vector<LogRecord> out;
  ASSERT_TRUE((*consumer)->Poll(std::chrono::milliseconds(10), 100, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  for (const auto& record : out) EXPECT_EQ(record.partition, 1);
  out.clear();
  ASSERT_TRUE((*consumer)->Poll(std::chrono::milliseconds(10), 100, &out).ok());
  EXPECT_TRUE(out.empty()) << "a paused partition is not read, and Poll waits without it";
  ASSERT_TRUE((*consumer)->Resume({{"t", 0}}).ok());
  ASSERT_TRUE((*consumer)->Poll(std::chrono::milliseconds(10), 100, &out).ok());
  ASSERT_EQ(out.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(out[i].partition, 0);
    EXPECT_EQ(out[i].offset, i);
  }
  Status unknown = (*consumer)->Pause({{"t", 7}});
  EXPECT_EQ(unknown.code(), StatusCode::kFailedPrecondition) << unknown.ToString();
}

}  // namespace
}  // namespace jiritsu
