// Scheduling of a live ProjectionRuntime: applied events are committed by
// the checkpoint they are due at, whatever the consumer does meanwhile.
#include "core/projection_runtime.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "core/embedded_log.h"
#include "core/topics.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

// What one Poll was asked for and what it returned.
struct PollCall {
  std::chrono::milliseconds timeout;
  size_t employee_records = 0;
};

// Forwards to another log; its consumers record their Poll calls.
class PollRecordingLog : public EventLog {
 public:
  explicit PollRecordingLog(EventLog* log) : log_(log) {}
  Status EnsureTopics(const std::vector<TopicSpec>& topics) override { return log_->EnsureTopics(topics); }
  Result<int32_t> PartitionCount(const std::string& topic) override { return log_->PartitionCount(topic); }
  Result<int64_t> EndOffset(const TopicPartition& tp) override { return log_->EndOffset(tp); }
  Result<std::unique_ptr<LogProducer>> NewProducer() override { return log_->NewProducer(); }
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

  EventLog* log_;
  std::mutex mu_;
  std::vector<PollCall> task_polls_;
};

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
  // checkpoint the event is due at, not the idle 100 ms.
  const std::vector<PollCall> polls = log.TaskPolls();
  size_t read = polls.size();
  for (size_t i = 0; i < polls.size() && read == polls.size(); ++i) {
    if (polls[i].employee_records > 0) read = i;
  }
  ASSERT_LT(read + 1, polls.size()) << "no poll after the event was read";
  EXPECT_LE(polls[read + 1].timeout.count(), options.checkpoint_every_ms);
  EXPECT_EQ(polls.front().timeout.count(), 100) << "an idle runtime waits the full poll";
}

}  // namespace
}  // namespace jiritsu
