// Scheduling of a live ProjectionRuntime: applied events are committed by
// the checkpoint they are due at, whatever the consumer does meanwhile; and
// a backlog read through the catch-up reader survives a rebalance.
#include "core/projection_runtime.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/embedded_log.h"
#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/thread_priority.h"

namespace jiritsu {
namespace {

// What one Poll was asked for and what it returned.
struct PollCall {
  std::chrono::milliseconds timeout;
  size_t employee_records = 0;
};

// Forwards every call to another log; a test overrides what it observes.
class ForwardingLog : public EventLog {
 public:
  explicit ForwardingLog(EventLog* log) : log_(log) {}
  Status EnsureTopics(const std::vector<TopicSpec>& topics) override {
    return log_->EnsureTopics(topics);
  }
  Result<int32_t> PartitionCount(const std::string& topic) override {
    return log_->PartitionCount(topic);
  }
  Result<int64_t> EndOffset(const TopicPartition& tp) override { return log_->EndOffset(tp); }
  Result<std::unique_ptr<LogProducer>> NewProducer() override { return log_->NewProducer(); }
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions& options) override {
    return log_->NewConsumer(options);
  }
  std::string Describe() const override { return "forwarding:" + log_->Describe(); }

 protected:
  EventLog* const log_;
};

// Forwards to another log; its consumers record their Poll calls.
class PollRecordingLog : public ForwardingLog {
 public:
  explicit PollRecordingLog(EventLog* log) : ForwardingLog(log) {}
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions& options) override {
    JIRITSU_ASSIGN_OR_RETURN(auto consumer, log_->NewConsumer(options));
    return std::unique_ptr<LogConsumer>(new Consumer(std::move(consumer), this));
  }
  std::string Describe() const override { return "recording:" + log_->Describe(); }

  // Polls of the consumer that read employee events (the task consumer).
  std::vector<PollCall> TaskPolls() {
    std::lock_guard<std::mutex> lock(mu_);
    return task_polls_;
  }

 private:
  class Consumer : public LogConsumer {
   public:
    Consumer(std::unique_ptr<LogConsumer> inner, PollRecordingLog* log)
        : inner_(std::move(inner)), log_(log) {}
    Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override {
      for (const auto& topic : topics) {
        reads_employees_ = reads_employees_ || (topic != kReferenceTopic && topic != kFactsTopic &&
                                                topic != kDeadLetterTopic);
      }
      return inner_->Subscribe(topics, listener);
    }
    Status Assign(const std::map<TopicPartition, int64_t>& start_offsets) override {
      return inner_->Assign(start_offsets);
    }
    Status Seek(const TopicPartition& tp, int64_t offset) override { return inner_->Seek(tp, offset); }
    Status Poll(std::chrono::milliseconds timeout, size_t max_records,
                std::vector<LogRecord>* out) override {
      const size_t before = out->size();
      Status status = inner_->Poll(timeout, max_records, out);
      if (reads_employees_) {
        std::lock_guard<std::mutex> lock(log_->mu_);
        log_->task_polls_.push_back({timeout, out->size() - before});
      }
      return status;
    }
    std::vector<TopicPartition> Assignment() const override { return inner_->Assignment(); }

   private:
    std::unique_ptr<LogConsumer> inner_;
    PollRecordingLog* log_;
    bool reads_employees_ = false;
  };

  std::mutex mu_;
  std::vector<PollCall> task_polls_;
};

// Forwards to another log; records the options of every consumer made.
class ConsumerOptionsRecordingLog : public ForwardingLog {
 public:
  using ForwardingLog::ForwardingLog;
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions& options) override {
    made.push_back(options);
    return log_->NewConsumer(options);
  }
  std::vector<ConsumerOptions> made;
};

// A rebuild pauses and resumes partitions while it reads its backlog: on
// Kafka, a resume waited behind the other partitions' empty fetch for the
// default 500 ms (KafkaLogTest.EmptyFetchWaitBoundsHowLongAResumedPartitionWaits).
// A live run keeps the log's default: its fetches wait for new records.
TEST(ProjectionRuntimeTest, OnlyARebuildsConsumersAskForAShortEmptyFetchWait) {
  for (const bool rebuild : {false, true}) {
    testing::TempDir temp;
    auto embedded = OpenEmbeddedLog(temp.path() + "/log");
    ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
    ASSERT_TRUE(testing::EnsureFakeTopics(embedded->get()).ok());
    ASSERT_TRUE(
        testing::AppendEvents(embedded->get(), {testing::FakeEmployeeEvent("e1", "a", 1)}).ok());
    ConsumerOptionsRecordingLog log(embedded->get());
    RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
    if (rebuild) {
      options.use_consumer_group = false;
      options.rebuild_mode = true;
      options.local_only = true;
    }
    Result<RuntimeStats> stats = testing::RunFakeLive(&log, options);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ(stats->events_applied, 1u);
    ASSERT_EQ(log.made.size(), 2u) << "the task and the global inputs' consumers";
    for (const ConsumerOptions& made : log.made) {
      EXPECT_EQ(made.empty_fetch_wait.count(), rebuild ? 10 : 0) << made.group_id;
    }
  }
}

TEST(ProjectionRuntimeTest, AnAppliedEventIsNotHeldPastItsCheckpointByAnEmptyPoll) {
  testing::TempDir temp;
  auto embedded = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(embedded->get()).ok());
  PollRecordingLog log(embedded->get());
  RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
  options.checkpoint_every_ms = 40;  // below the runtime's 100 ms idle poll
  auto runtime = ProjectionRuntime::Create(&log, testing::NewFakeProjector(), options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  Status run_status;
  std::thread runner([&] { run_status = (*runtime)->Run(); });

  // One event into a quiet log: nothing else arrives to end the next poll.
  ASSERT_TRUE(testing::AppendEvents(&log, {testing::FakeEmployeeEvent("e1", "only", 1)}).ok());
  for (int i = 0; i < 500 && (*runtime)->stats().visible_latency_ms.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*runtime)->Stop();
  runner.join();
  ASSERT_TRUE(run_status.ok()) << run_status.ToString();
  ASSERT_EQ((*runtime)->stats().events_applied, 1u);

  // The poll after the one that read the event waits at most for the
  // checkpoint the event is due at, not the idle 100 ms. (The last poll that
  // read it: a poll that saw the assignment is dropped and read again.)
  const std::vector<PollCall> polls = log.TaskPolls();
  size_t read = polls.size();
  for (size_t i = 0; i < polls.size(); ++i) {
    if (polls[i].employee_records > 0) read = i;
  }
  ASSERT_LT(read + 1, polls.size()) << "no poll after the event was read";
  EXPECT_LE(polls[read + 1].timeout.count(), options.checkpoint_every_ms);
  EXPECT_EQ(polls.front().timeout.count(), 100) << "an idle runtime waits the full poll";
}

// Forwards to a FakeProjector, taking `delay` per employee event: a catch-up
// slow enough for a second member to join while it runs.
class SlowProjector : public Projector {
 public:
  explicit SlowProjector(std::chrono::microseconds delay)
      : inner_(testing::NewFakeProjector()), delay_(delay) {}
  std::vector<std::string> ColumnFamilies() const override { return inner_->ColumnFamilies(); }
  Status Open(StateStore* store) override { return inner_->Open(store); }
  Status ApplyReference(const Event& event, const SourcePosition& pos) override {
    return inner_->ApplyReference(event, pos);
  }
  Status ApplyEmployeeEvent(const Event& event, const SourcePosition& pos) override {
    std::this_thread::sleep_for(delay_);
    return inner_->ApplyEmployeeEvent(event, pos);
  }
  Status ApplyFacts(const LogRecord& record) override { return inner_->ApplyFacts(record); }
  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    return inner_->Checkpoint(batch, facts_out);
  }
  void OnPartitionsRevoked(const std::vector<int32_t>& partitions) override {
    inner_->OnPartitionsRevoked(partitions);
  }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Projector> inner_;
  std::chrono::microseconds delay_;
};

// Records the cadence the runtime hands over, and whether it came before
// Open() (the projector sizes what it defers per checkpoint from it).
class CadenceRecordingProjector : public SlowProjector {
 public:
  CadenceRecordingProjector(int64_t* cadence_ms, bool* set_before_open)
      : SlowProjector(std::chrono::microseconds(0)),
        cadence_ms_(cadence_ms),
        set_before_open_(set_before_open) {}
  void SetCheckpointCadence(int64_t every_ms) override {
    *cadence_ms_ = every_ms;
    *set_before_open_ = !opened_;
  }
  Status Open(StateStore* store) override {
    opened_ = true;
    return SlowProjector::Open(store);
  }

 private:
  int64_t* cadence_ms_;
  bool* set_before_open_;
  bool opened_ = false;
};

TEST(ProjectionRuntimeTest, TheProjectorLearnsTheCheckpointCadenceBeforeItOpens) {
  testing::TempDir temp;
  auto log = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(log->get()).ok());
  RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
  options.checkpoint_every_ms = 40;
  int64_t cadence_ms = 0;
  bool set_before_open = false;
  auto runtime = ProjectionRuntime::Create(
      log->get(), std::make_unique<CadenceRecordingProjector>(&cadence_ms, &set_before_open),
      options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  EXPECT_EQ(cadence_ms, 40);
  EXPECT_TRUE(set_before_open);
}

using testing::kRealBrokerSkip;

// Options of a Kafka log on a started mock cluster (kept in `cluster`, which
// must outlive the log) or, with `real_broker`, on JIRITSU_KAFKA_BOOTSTRAP;
// short sessions, so a join or a rebalance takes seconds, not tens. False
// when the broker is not set (skip) or the cluster did not start (a failure).
bool KafkaTestLogOptions(bool real_broker, std::unique_ptr<KafkaMockCluster>* cluster,
                         KafkaLogOptions* options) {
  if (real_broker) {
    const char* bootstrap = std::getenv("JIRITSU_KAFKA_BOOTSTRAP");
    if (bootstrap == nullptr || *bootstrap == '\0') return false;
    options->bootstrap_servers = bootstrap;
  } else {
    *cluster = std::make_unique<KafkaMockCluster>();
    auto bootstrap = (*cluster)->Start(1);
    if (!bootstrap.ok()) {
      ADD_FAILURE() << bootstrap.status().ToString();
      return false;
    }
    options->bootstrap_servers = *bootstrap;
    options->topic_creator = (*cluster)->TopicCreator();
  }
  options->request_timeout = std::chrono::seconds(20);
  options->properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  return true;
}

// Facts confirmed later. A log whose producers' Flush waits at a gate the
// test opens, or fails; a projector that records unconfirmed facts and what
// the runtime tells it about them.
class GatedLog : public ForwardingLog {
 public:
  explicit GatedLog(EventLog* log) : ForwardingLog(log) {}
  Result<std::unique_ptr<LogProducer>> NewProducer() override {
    JIRITSU_ASSIGN_OR_RETURN(auto producer, log_->NewProducer());
    return std::unique_ptr<LogProducer>(new Producer(std::move(producer), this));
  }
  std::string Describe() const override { return "gated:" + log_->Describe(); }

  void Open() { Set(true, false); }
  void FailFlushes() { Set(false, true); }
  int flushes_waiting() {
    std::lock_guard lock(mu_);
    return waiting_;
  }

 private:
  class Producer : public LogProducer {
   public:
    Producer(std::unique_ptr<LogProducer> inner, GatedLog* log)
        : inner_(std::move(inner)), log_(log) {}
    Status Append(const std::string& topic, std::string_view key, std::string_view value) override {
      return inner_->Append(topic, key, value);
    }
    Status Flush(std::chrono::milliseconds timeout) override {
      std::unique_lock lock(log_->mu_);
      ++log_->waiting_;
      const bool passed =
          log_->cv_.wait_for(lock, timeout, [&] { return log_->open_ || log_->failing_; });
      --log_->waiting_;
      if (!passed) return DeadlineExceeded("gated flush");
      if (log_->failing_) return Unavailable("injected flush failure");
      lock.unlock();
      return inner_->Flush(timeout);
    }

   private:
    std::unique_ptr<LogProducer> inner_;
    GatedLog* log_;
  };
  void Set(bool open, bool failing) {
    {
      std::lock_guard lock(mu_);
      open_ = open;
      failing_ = failing;
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  bool failing_ = false;
  int waiting_ = 0;
};

class UnconfirmedFactsProjector : public SlowProjector {
 public:
  UnconfirmedFactsProjector() : SlowProjector(std::chrono::microseconds(0)) {}
  bool RecordsUnconfirmedFacts() const override { return true; }
  void SetFactsConfirmedLater(bool later) override {
    std::lock_guard lock(mu_);
    later_.push_back(later);
  }
  void OnFactsDurable(uint64_t checkpoints) override {
    std::lock_guard lock(mu_);
    durable_.push_back(checkpoints);
  }
  std::vector<bool> later() {
    std::lock_guard lock(mu_);
    return later_;
  }
  std::vector<uint64_t> durable() {
    std::lock_guard lock(mu_);
    return durable_;
  }

 private:
  std::mutex mu_;
  std::vector<bool> later_;  // per Checkpoint() of a live run
  std::vector<uint64_t> durable_;
};

template <typename Condition>
bool WaitUntil(Condition condition) {
  for (int i = 0; i < 1000; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// On the embedded log, librdkafka's mock cluster, and a real broker when
// JIRITSU_KAFKA_BOOTSTRAP is set (the group and employees are unique per run;
// earlier records there are only read).
enum class Backend { kEmbedded, kMock, kRealBroker };
class FactsConfirmedLaterTest : public ::testing::TestWithParam<Backend> {};

TEST_P(FactsConfirmedLaterTest, ACheckpointCommitsWhileItsFactsFlushAndALaterOneConfirmsThem) {
  testing::TempDir temp;
  std::unique_ptr<KafkaMockCluster> cluster;  // declared first: outlives the log
  Result<std::unique_ptr<EventLog>> inner = std::unique_ptr<EventLog>();
  if (GetParam() == Backend::kEmbedded) {
    inner = OpenEmbeddedLog(temp.path() + "/log");
  } else {
    KafkaLogOptions log_options;
    if (!KafkaTestLogOptions(GetParam() == Backend::kRealBroker, &cluster, &log_options)) {
      if (!HasFailure()) GTEST_SKIP() << kRealBrokerSkip;
      return;
    }
    inner = OpenKafkaLog(log_options);
  }
  ASSERT_TRUE(inner.ok()) << inner.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(inner->get(), 4).ok());
  GatedLog log(inner->get());
  auto projector = std::make_unique<UnconfirmedFactsProjector>();
  UnconfirmedFactsProjector* recorder = projector.get();
  const std::string run = std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
  options.group_id = "jiritsu-facts-later-" + run;
  auto runtime = ProjectionRuntime::Create(&log, std::move(projector), options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  Status run_status;
  std::thread runner([&] { run_status = (*runtime)->Run(); });

  ASSERT_TRUE(testing::AppendEvents(
                  inner->get(), {testing::FakeEmployeeEvent("later-" + run + "-1", "a-" + run, 1),
                                 testing::FakeEmployeeEvent("later-" + run + "-2", "b-" + run, 2)})
                  .ok());
  // The events are committed (visible) while their facts' flush waits.
  EXPECT_TRUE(WaitUntil([&] {
    const RuntimeStats stats = (*runtime)->stats();
    return stats.events_applied >= 2 && !stats.visible_latency_ms.empty() &&
           log.flushes_waiting() == 1;
  }));
  EXPECT_TRUE(recorder->durable().empty()) << "confirmed before the flush";
  ASSERT_FALSE(recorder->later().empty());
  EXPECT_TRUE(recorder->later().front());

  // Flushed: a later checkpoint confirms them.
  log.Open();
  EXPECT_TRUE(WaitUntil([&] { return !recorder->durable().empty(); }));
  (*runtime)->Stop();
  runner.join();
  ASSERT_TRUE(run_status.ok()) << run_status.ToString();
  // The last checkpoint waited for its facts instead.
  ASSERT_FALSE(recorder->later().empty());
  EXPECT_FALSE(recorder->later().back());
  const std::vector<uint64_t> durable = recorder->durable();
  ASSERT_FALSE(durable.empty());
  EXPECT_TRUE(std::is_sorted(durable.begin(), durable.end()));
  EXPECT_GE(durable.front(), 1u);
  EXPECT_LT(durable.back(), recorder->later().size()) << "confirmed a checkpoint not yet run";
}

INSTANTIATE_TEST_SUITE_P(Backends, FactsConfirmedLaterTest,
                         ::testing::Values(Backend::kEmbedded, Backend::kMock,
                                           Backend::kRealBroker),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           switch (info.param) {
                             case Backend::kEmbedded:
                               return std::string("Embedded");
                             case Backend::kMock:
                               return std::string("Mock");
                             case Backend::kRealBroker:
                               return std::string("RealBroker");
                           }
                           return std::string("Unknown");
                         });

TEST(ProjectionRuntimeTest, AFailedFactsFlushStopsTheRunWithItsError) {
  testing::TempDir temp;
  auto embedded = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(embedded->get()).ok());
  GatedLog log(embedded->get());
  log.FailFlushes();
  auto runtime = ProjectionRuntime::Create(&log, std::make_unique<UnconfirmedFactsProjector>(),
                                           testing::FakeLiveOptions(temp.path() + "/views"));
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  Status run_status;
  std::atomic<bool> finished{false};
  std::thread runner([&] {
    run_status = (*runtime)->Run();
    finished = true;
  });
  ASSERT_TRUE(
      testing::AppendEvents(embedded->get(), {testing::FakeEmployeeEvent("e1", "a", 1)}).ok());
  // The run ends by itself, at the next checkpoint after the failed flush.
  const bool ended = WaitUntil([&] { return finished.load(); });
  (*runtime)->Stop();  // in case it did not
  runner.join();
  EXPECT_TRUE(ended);
  EXPECT_EQ((*runtime)->stats().events_applied, 1u);
  EXPECT_EQ(run_status.code(), StatusCode::kUnavailable) << run_status.ToString();
  EXPECT_NE(run_status.ToString().find("publishing facts"), std::string::npos)
      << run_status.ToString();
  EXPECT_NE(run_status.ToString().find("injected flush failure"), std::string::npos);
}

TEST(ProjectionRuntimeTest, WithoutConfirmFactsLaterACheckpointWaitsForItsFacts) {
  testing::TempDir temp;
  auto embedded = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(embedded.ok()) << embedded.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(embedded->get()).ok());
  GatedLog log(embedded->get());
  RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
  options.confirm_facts_later = false;
  auto projector = std::make_unique<UnconfirmedFactsProjector>();
  UnconfirmedFactsProjector* recorder = projector.get();
  auto runtime = ProjectionRuntime::Create(&log, std::move(projector), options);
  ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
  Status run_status;
  std::thread runner([&] { run_status = (*runtime)->Run(); });
  ASSERT_TRUE(
      testing::AppendEvents(embedded->get(), {testing::FakeEmployeeEvent("e1", "a", 1)}).ok());
  EXPECT_TRUE(WaitUntil([&] { return log.flushes_waiting() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several cadences
  EXPECT_TRUE((*runtime)->stats().visible_latency_ms.empty()) << "committed before its facts";
  log.Open();
  EXPECT_TRUE(WaitUntil([&] { return !(*runtime)->stats().visible_latency_ms.empty(); }));
  (*runtime)->Stop();
  runner.join();
  ASSERT_TRUE(run_status.ok()) << run_status.ToString();
  EXPECT_TRUE(recorder->later().empty()) << "the projector was never asked";
  EXPECT_TRUE(recorder->durable().empty());
}

// Holds `held` employees' facts back and publishes one of them per
// checkpoint asked for all (a projector that bounds that checkpoint's
// batch), or none when stuck.
class HeldBackProjector : public SlowProjector {
 public:
  HeldBackProjector(size_t held, bool stuck)
      : SlowProjector(std::chrono::microseconds(0)), held_(held), stuck_(stuck) {}
  void PublishDeferredFactsAtNextCheckpoint() override { asked_ = true; }
  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    if (asked_) ++asked_checkpoints_;
    if (asked_ && held_ > 0 && !stuck_) --held_;
    asked_ = false;
    return SlowProjector::Checkpoint(batch, facts_out);
  }
  size_t FactsHeldBack() const override { return held_; }
  size_t asked_checkpoints() const { return asked_checkpoints_; }

 private:
  size_t held_;
  bool stuck_;
  bool asked_ = false;
  size_t asked_checkpoints_ = 0;
};

TEST(ProjectionRuntimeTest, HeldBackFactsGoOutInAsManyCheckpointsAsTheProjectorNeeds) {
  for (const bool stuck : {false, true}) {
    SCOPED_TRACE(stuck ? "stuck" : "publishing");
    testing::TempDir temp;
    auto log = OpenEmbeddedLog(temp.path() + "/log");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_TRUE(testing::EnsureFakeTopics(log->get()).ok());
    ASSERT_TRUE(testing::AppendEvents(log->get(), {testing::FakeEmployeeEvent("e1", "a", 1)}).ok());
    RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
    options.until_caught_up = true;
    auto projector = std::make_unique<HeldBackProjector>(3, stuck);
    HeldBackProjector* held_back = projector.get();
    auto runtime = ProjectionRuntime::Create(log->get(), std::move(projector), options);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    Status run_status = (*runtime)->Run();  // returns: a stuck projector does not hang it
    ASSERT_TRUE(run_status.ok()) << run_status.ToString();
    if (stuck) {
      // Caught up and the end of the run: each stops after one checkpoint
      // that made no progress.
      EXPECT_EQ(held_back->FactsHeldBack(), 3u);
      EXPECT_EQ(held_back->asked_checkpoints(), 4u);
    } else {
      // Caught up: three checkpoints; the end of the run: one more.
      EXPECT_EQ(held_back->FactsHeldBack(), 0u);
      EXPECT_EQ(held_back->asked_checkpoints(), 4u);
    }
  }
}

// The dead-letter count the runtime keeps in the meta family (what /metrics
// reports): `{stored count, rows in the family}` of the views in `dir`.
std::pair<std::optional<int64_t>, int64_t> DeadLetterCounts(const std::string& dir) {
  auto store = StateStore::OpenReadOnly(dir, testing::FakeViewFamilies());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return {};
  Result<std::optional<int64_t>> stored = StoredDeadLetterCount(**store);
  EXPECT_TRUE(stored.ok()) << stored.status().ToString();
  int64_t rows = 0;
  auto it = (*store)->NewIterator(kDeadLetterFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++rows;
  return {stored.ok() ? *stored : std::nullopt, rows};
}

// Writes what `fill` puts in a batch to the fake views at `dir` (no runtime
// holds them), as an older or damaged store would have it.
void WriteToViews(const std::string& dir, const std::function<void(StateBatch*)>& fill) {
  StateStoreOptions store_options;
  store_options.column_families = testing::FakeViewFamilies();
  auto store = StateStore::Open(dir, store_options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StateBatch batch;
  fill(&batch);
  ASSERT_TRUE((*store)->Write(&batch).ok());
}

TEST(ProjectionRuntimeTest, TheDeadLetterCountFollowsTheRowsAndCountsARepeatOnce) {
  testing::TempDir temp;
  auto log = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(log->get()).ok());
  auto producer = (*log)->NewProducer();
  ASSERT_TRUE(producer.ok());
  auto poison = [&](const std::string& key) {
    ASSERT_TRUE((*producer)->Append(std::string(kEmployeeTopic), key, "not an event: " + key).ok());
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(10)).ok());
  };
  for (const char* key : {"p1", "p2", "p3"}) poison(key);
  ASSERT_TRUE(testing::AppendEvents(log->get(), {testing::FakeEmployeeEvent("e1", "ok", 1)}).ok());
  const RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/views");
  auto stats = testing::RunFakeLive(log->get(), options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->dead_letters, 3u);
  EXPECT_EQ(DeadLetterCounts(options.state_dir),
            (std::pair<std::optional<int64_t>, int64_t>{3, 3}));

  // A dead letter published again (a crash after its flush, before the
  // checkpoint) is the same row, and one new poison record is one more.
  std::string key, value;
  {
    auto store = StateStore::OpenReadOnly(options.state_dir, testing::FakeViewFamilies());
    ASSERT_TRUE(store.ok());
    auto it = (*store)->NewIterator(kDeadLetterFamily);
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    key = std::string(it->key());
    value = std::string(it->value());
  }
  ASSERT_TRUE((*producer)->Append(std::string(kDeadLetterTopic), key, value).ok());
  poison("p4");
  ASSERT_TRUE(testing::RunFakeLive(log->get(), options).ok());
  EXPECT_EQ(DeadLetterCounts(options.state_dir),
            (std::pair<std::optional<int64_t>, int64_t>{4, 4}));

  // Views from before the count: counted once at the next start, stored by
  // its first checkpoint, and kept from there.
  ASSERT_NO_FATAL_FAILURE(WriteToViews(options.state_dir, [](StateBatch* batch) {
    batch->Delete(kMetaFamily, kDeadLetterCountKey);
  }));
  EXPECT_EQ(DeadLetterCounts(options.state_dir).first, std::nullopt);
  ASSERT_TRUE(testing::RunFakeLive(log->get(), options).ok());
  EXPECT_EQ(DeadLetterCounts(options.state_dir),
            (std::pair<std::optional<int64_t>, int64_t>{4, 4}));
  poison("p5");
  ASSERT_TRUE(testing::RunFakeLive(log->get(), options).ok());
  EXPECT_EQ(DeadLetterCounts(options.state_dir),
            (std::pair<std::optional<int64_t>, int64_t>{5, 5}));

  // An unreadable count is an error naming the key, never a guess.
  ASSERT_NO_FATAL_FAILURE(WriteToViews(options.state_dir, [](StateBatch* batch) {
    batch->Put(kMetaFamily, kDeadLetterCountKey, "five");
  }));
  auto broken = testing::RunFakeLive(log->get(), options);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kCorruption);
  EXPECT_NE(broken.status().ToString().find("dlq_records"), std::string::npos)
      << broken.status().ToString();
}

// fake_counts of `dir`: employee -> distinct events applied.
std::map<std::string, int64_t> FakeCounts(const std::string& dir) {
  std::map<std::string, int64_t> counts;
  auto store = StateStore::OpenReadOnly(dir, testing::FakeViewFamilies());
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return counts;
  auto it = (*store)->NewIterator(testing::kFakeCountsFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    counts[std::string(it->key())] = std::stoll(std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return counts;
}

// A consumer-group member that finds a backlog reads it through the
// catch-up reader (merged by event time). A second member joining mid-way
// takes partitions away inside that reader's poll: what the reader held is
// dropped and read again from the applied positions, so every event still
// reaches the member that owns its employee in the end. With eager
// assignment every partition is revoked and re-assigned (seeked to its
// stored offset); with cooperative-sticky the first member keeps half of
// its partitions without either callback, so only the runtime's own seek
// brings back what its reader held for them. On librdkafka's mock cluster,
// and on a real broker when JIRITSU_KAFKA_BOOTSTRAP is set (the employees
// and group are unique per run, so earlier data is only read).
struct CatchUpCase {
  bool real_broker = false;
  bool cooperative = false;
};
class CatchUpRebalanceTest : public ::testing::TestWithParam<CatchUpCase> {};

TEST_P(CatchUpRebalanceTest, ARebalanceDuringACatchUpLosesNoEvent) {
  const bool real_broker = GetParam().real_broker;
  std::unique_ptr<KafkaMockCluster> cluster;  // declared first: outlives the log
  KafkaLogOptions log_options;
  if (!KafkaTestLogOptions(real_broker, &cluster, &log_options)) {
    if (!HasFailure()) GTEST_SKIP() << kRealBrokerSkip;
    return;
  }
  if (GetParam().cooperative) {
    log_options.properties["partition.assignment.strategy"] = "cooperative-sticky";
  }
  auto log = OpenKafkaLog(log_options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(log->get(), 4).ok());

  const std::string run = std::to_string(::getpid()) + "-" + std::to_string(std::rand());
  testing::FakeHistoryOptions history_options;
  history_options.employees = 40;
  history_options.events = 6000;
  std::vector<Event> history = testing::FakeHistory(history_options);
  std::map<std::string, int64_t> expected;
  for (Event& event : history) {
    if (!IsEmployeeScoped(event.type)) continue;
    event.subject = "catchup-" + run + "-" + event.subject;
    event.id += "-" + run;
    ++expected[event.subject];
  }
  ASSERT_TRUE(testing::AppendEvents(log->get(), history).ok());

  testing::TempDir temp;
  auto member = [&](const std::string& name, std::chrono::microseconds delay) {
    RuntimeOptions options = testing::FakeLiveOptions(temp.path() + "/" + name);
    options.group_id = "jiritsu-catch-up-" + run;
    options.poll_batch = 50;
    return ProjectionRuntime::Create(log->get(),
                                     std::make_unique<SlowProjector>(delay),
                                     options);
  };
  auto first = member("a", std::chrono::microseconds(2000));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Status first_status, second_status;
  std::thread first_thread([&] { first_status = (*first)->Run(); });
  // The second member joins once the first is catching up.
  for (int i = 0; i < 3000 && (*first)->stats().events_applied < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto second = member("b", std::chrono::microseconds(0));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  std::thread second_thread([&] { second_status = (*second)->Run(); });
  // Live members (--until-caught-up would end a member left without
  // partitions): stopped once the second one owns partitions and, between
  // them, every employee partition is read to its end (the second member's
  // view of a partition wins over the first's, which may be from before it
  // lost it).
  const size_t employee_partitions = 4 * EmployeeSourceTopics().size();
  bool shared_and_read = false;
  for (int i = 0; i < 6000 && !shared_and_read; ++i) {
    std::map<TopicPartition, bool> done;
    size_t second_owns = 0;
    for (const RuntimeStats& stats : {(*first)->stats(), (*second)->stats()}) {
      second_owns = 0;
      for (const auto& [tp, progress] : stats.partitions) {
        if (tp.topic == kReferenceTopic || tp.topic == kFactsTopic || tp.topic == kDeadLetterTopic) {
          continue;
        }
        done[tp] = progress.position >= progress.end_offset;
        ++second_owns;
      }
    }
    size_t finished = 0;
    for (const auto& [tp, at_end] : done) finished += at_end ? 1 : 0;
    shared_and_read =
        second_owns > 0 && done.size() == employee_partitions && finished == employee_partitions;
    if (!shared_and_read) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  (*first)->Stop();
  (*second)->Stop();
  first_thread.join();
  second_thread.join();
  ASSERT_TRUE(first_status.ok()) << first_status.ToString();
  ASSERT_TRUE(second_status.ok()) << second_status.ToString();
  const RuntimeStats a = (*first)->stats();
  first->reset();
  second->reset();

  EXPECT_TRUE(shared_and_read) << "the members did not share and read every partition in 60 s";
  // The first member caught up through the reader, was rebalanced while
  // doing so, and read its remaining backlog through a new reader. (Only
  // the learning topic holds events: the second member may own only empty
  // partitions, so what each applied is not asserted.)
  EXPECT_GE(a.catch_up_reads, 2u) << "no rebalance reached the first member mid catch-up";

  // Every employee's events reached the member that owned it last: the
  // larger of the two counts is the full count.
  const std::map<std::string, int64_t> counts_a = FakeCounts(temp.path() + "/a");
  const std::map<std::string, int64_t> counts_b = FakeCounts(temp.path() + "/b");
  for (const auto& [employee, count] : expected) {
    auto in_a = counts_a.find(employee);
    auto in_b = counts_b.find(employee);
    const int64_t seen = std::max(in_a == counts_a.end() ? 0 : in_a->second,
                                  in_b == counts_b.end() ? 0 : in_b->second);
    EXPECT_EQ(seen, count) << employee;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CatchUpRebalanceTest,
                         ::testing::Values(CatchUpCase{false, false}, CatchUpCase{false, true},
                                           CatchUpCase{true, false}, CatchUpCase{true, true}),
                         [](const ::testing::TestParamInfo<CatchUpCase>& info) {
                           return std::string(info.param.real_broker ? "RealBroker" : "Mock") +
                                  (info.param.cooperative ? "Cooperative" : "Eager");
                         });

// The child of the next test, in a process of its own: a fake projection
// runs to its end as JIRITSU_TEST_CASE says (live, live with the option
// off, a rebuild), then a bulk load's compaction shows whether the run
// lowered the compaction threads.
TEST(ProjectionRuntimeChild, DISABLED_RunsAndChecksTheCompactionPriority) {
  const char* dir = std::getenv("JIRITSU_TEST_DIR");
  const char* run = std::getenv("JIRITSU_TEST_CASE");
  ASSERT_TRUE(dir != nullptr && run != nullptr)
      << "run by ProjectionRuntimeTest.OnlyALiveRunLowersTheCompactionThreads";
  const std::string which = run;
  auto log = OpenEmbeddedLog(std::string(dir) + "/log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  ASSERT_TRUE(testing::EnsureFakeTopics(log->get()).ok());
  ASSERT_TRUE(testing::AppendEvents(log->get(), {testing::FakeEmployeeEvent("e1", "a", 1)}).ok());
  RuntimeOptions options = testing::FakeLiveOptions(std::string(dir) + "/views");
  options.low_priority_compactions = which != "off";
  if (which == "rebuild") {
    options.use_consumer_group = false;
    options.rebuild_mode = true;
    options.local_only = true;
  }
  Result<RuntimeStats> stats = testing::RunFakeLive(log->get(), options);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events_applied, 1u);
  const Status checked =
      testing::CheckCompactionPriorityAfterALoad(std::string(dir) + "/load", which == "live");
  EXPECT_TRUE(checked.ok()) << checked.ToString();
}

TEST(ProjectionRuntimeTest, OnlyALiveRunLowersTheCompactionThreads) {
  if (::getpriority(PRIO_PROCESS, 0) == 19) GTEST_SKIP() << "the test already runs at nice 19";
  for (const char* which : {"live", "off", "rebuild"}) {
    testing::TempDir temp;
    EXPECT_EQ(testing::RunTestInFreshProcess(
                  "ProjectionRuntimeChild.DISABLED_RunsAndChecksTheCompactionPriority",
                  {"JIRITSU_TEST_DIR=" + temp.path(), std::string("JIRITSU_TEST_CASE=") + which}),
              0)
        << which;
  }
}

}  // namespace
}  // namespace jiritsu
