// Broker faults (issue 6): `jiritsu ingest --kafka` and `jiritsu run --kafka`
// against librdkafka's mock cluster (3 brokers, replication 3) while the
// test injects faults: a broker down and up again, partition leaders moved,
// NOT_LEADER / REQUEST_TIMED_OUT / NOT_ENOUGH_REPLICAS answers, and slow
// responses. Proven: the commands continue or wait, exit normally, the
// log holds exactly the identities of a fault-free ingest with no duplicate
// record, and the views have the fault-free digest (embedded log, same
// input). Delivery failures after retries are covered by
// KafkaIngestTest.DeliveryFailureExitsThreeAndMarksNothing (exit 3, nothing
// marked) and KafkaLogTest.Delivery* (Flush reports them).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::Child;
using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunJiritsu;
using testing::JsonField;
using testing::LogContents;
using testing::ReadSourceTopics;
using testing::RunCommand;
using testing::TempDir;
using namespace std::chrono_literals;
using Args = std::vector<std::string>;

// Client settings that make faults bite quickly: frequent metadata refreshes,
// short retry backoff. The request timeout stays far above the injected
// 900 ms slow responses even on a loaded machine: a produce request that
// times out client-side after the mock appended it is retried, and the mock
// (unlike a real broker) only drops such a retry for transactional
// producers, so the log would hold a genuine duplicate record.
const Args kClientProperties = {
    "--kafka-property", "socket.timeout.ms=8000",   "--kafka-property", "request.timeout.ms=8000",
    "--kafka-property", "topic.metadata.refresh.interval.ms=500", "--kafka-property",
    "retry.backoff.ms=50"};

class BrokerFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new TempDir();
    events_ = shared_->path() + "/events.jsonl";
    CommandResult gen = RunJiritsu({"gen", "--employees", "80", "--months", "8", "--seed", "31",
                                 "--out", events_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
    // Fault-free reference: the embedded log.
    const std::string store = shared_->path() + "/store";
    CommandResult ingest =
        RunJiritsu({"ingest", "--store", store, "--keys", shared_->path() + "/keys", "--rejects",
                    shared_->path() + "/r.jsonl", events_});
    ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
    accepted_ = JsonField(ingest.stdout_text, "accepted");
    LogSelection selection;
    selection.store_dir = store;
    Result<LogContents> contents = ReadSourceTopics(selection);
    ASSERT_TRUE(contents.ok()) << contents.status().ToString();
    identities_ = new std::set<std::string>(contents->Distinct());
    CommandResult run = RunJiritsu({"run", "--until-caught-up", "--store", store});
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
    CommandResult digest = RunJiritsu({"digest", "--store", store});
    ASSERT_EQ(digest.exit_code, 0) << digest.stderr_text;
    expected_digest_ = JsonField(digest.stdout_text, "digest");
  }
  static void TearDownTestSuite() {
    delete identities_;
    delete shared_;
    identities_ = nullptr;
    shared_ = nullptr;
  }

  void SetUp() override {
    if (std::getenv("JIRITSU_KAFKA_BOOTSTRAP") != nullptr) {
      GTEST_SKIP() << "fault injection needs the mock cluster";
    }
    ASSERT_FALSE(expected_digest_.empty());
    auto started = cluster_.Start(3);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    bootstrap_ = *started;
    for (const auto& spec : AllTopicSpecs()) {
      ASSERT_TRUE(cluster_.CreateTopic(spec.name, spec.partitions, 3).ok()) << spec.name;
    }
  }

  // Runs `argv` as a child while `faults` (given the child's start time)
  // injects faults; returns the exit code.
  int RunUnderFaults(const Args& argv, const std::string& name,
                     const std::function<void(const std::function<bool()>& running)>& faults) {
    Child child(argv, dir_.path() + "/" + name + ".out", dir_.path() + "/" + name + ".err");
    std::atomic<bool> done{false};
    std::thread injector([&] { faults([&] { return !done.load(); }); });
    const int exit_code = child.Wait();
    done = true;
    injector.join();
    return exit_code;
  }

  // Sleeps up to `duration` while the child runs; false once it ended.
  static bool Pause(const std::function<bool()>& running, std::chrono::milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
      if (!running()) return false;
      std::this_thread::sleep_for(5ms);
    }
    return running();
  }

  // The fault schedule shared by both tests: every kind of fault, each
  // counted in faults_injected_. Leaves every broker up and fast.
  void InjectFaults(int16_t api, const std::function<bool()>& running) {
    auto errors = [&](std::vector<int> codes) {
      cluster_.PushRequestErrors(api, codes);
      faults_injected_ += static_cast<int>(codes.size());
    };
    errors({kafka_error::kNotLeaderForPartition, kafka_error::kRequestTimedOut,
            kafka_error::kNotLeaderForPartition, kafka_error::kNone,
            kafka_error::kRequestTimedOut, kafka_error::kLeaderNotAvailable});
    if (api == kafka_api::kProduce) errors({kafka_error::kNotEnoughReplicas});
    if (Pause(running, 150ms)) {
      // Leaders of every employee topic partition move to another broker.
      for (const std::string& topic : EmployeeSourceTopics()) {
        for (int32_t p = 0; p < kDefaultEmployeePartitions; ++p) {
          EXPECT_TRUE(cluster_.SetPartitionLeader(topic, p, 1 + (p + 1) % 3).ok());
        }
      }
      ++faults_injected_;
    }
    if (Pause(running, 150ms)) {
      // Slow responses (below the request timeout: a request that times out
      // after the broker appended it is retried, and only a real broker
      // drops that duplicate: librdkafka's mock checks producer sequence
      // numbers for transactional producers only).
      EXPECT_TRUE(cluster_.SetBrokerRtt(2, 900ms).ok());
      ++faults_injected_;
    }
    if (Pause(running, 2500ms)) {
      EXPECT_TRUE(cluster_.SetBrokerRtt(2, 0ms).ok());
      EXPECT_TRUE(cluster_.SetBrokerDown(3).ok());
      ++faults_injected_;
      Pause(running, 1500ms);
      EXPECT_TRUE(cluster_.SetBrokerUp(3).ok());
    }
    errors({kafka_error::kRequestTimedOut, kafka_error::kNotLeaderForPartition});
    EXPECT_TRUE(cluster_.SetBrokerRtt(2, 0ms).ok());
    EXPECT_TRUE(cluster_.SetBrokerUp(3).ok());
  }

  Args Ingest() const {
    // The fault-free reference's key store: equal logs need equal keys.
    Args args = {JiritsuBinary(), "ingest", "--kafka", bootstrap_, "--keys", shared_->path() + "/keys",
                 "--dedupe-dir", dir_.path() + "/dedupe", "--rejects", dir_.path() + "/rejects.jsonl",
                 "--flush-every", "500"};
    args.insert(args.end(), kClientProperties.begin(), kClientProperties.end());
    args.push_back(events_);
    return args;
  }

  void ExpectExactlyTheFaultFreeIdentities() {
    LogSelection selection;
    selection.kafka_bootstrap = bootstrap_;
    Result<LogContents> contents = ReadSourceTopics(selection);
    ASSERT_TRUE(contents.ok()) << contents.status().ToString();
    duplicate_records_ = contents->DuplicateRecords();
    EXPECT_EQ(contents->DuplicateRecords(), 0) << "a retried request was appended twice";
    EXPECT_EQ(contents->undecodable, 0);
    EXPECT_TRUE(contents->Distinct() == *identities_)
        << contents->identities.size() << " identities vs " << identities_->size();
  }

  KafkaMockCluster cluster_;
  std::string bootstrap_;
  int faults_injected_ = 0;
  int64_t duplicate_records_ = -1;
  TempDir dir_;
  static TempDir* shared_;
  static std::string events_;
  static std::string accepted_;
  static std::string expected_digest_;
  static std::set<std::string>* identities_;
};

TempDir* BrokerFaultTest::shared_ = nullptr;
std::string BrokerFaultTest::events_;
std::string BrokerFaultTest::accepted_;
std::string BrokerFaultTest::expected_digest_;
std::set<std::string>* BrokerFaultTest::identities_ = nullptr;

TEST_F(BrokerFaultTest, IngestUnderFaultsLosesNothingAndDuplicatesNothing) {
  const int exit_code = RunUnderFaults(Ingest(), "ingest", [&](const auto& running) {
    InjectFaults(kafka_api::kProduce, running);
  });
  ASSERT_TRUE(exit_code == 0 || exit_code == 1) << exit_code;
  EXPECT_EQ(JsonField(testing::RunCommand({"cat", dir_.path() + "/ingest.out"}).stdout_text,
                      "accepted"),
            accepted_);
  ExpectExactlyTheFaultFreeIdentities();

  CommandResult run = RunJiritsu({"run", "--until-caught-up", "--kafka", bootstrap_, "--state-dir",
                               dir_.path() + "/views", "--group", "after-ingest-faults"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  CommandResult digest = RunJiritsu({"digest", "--kafka", bootstrap_, "--state-dir",
                                  dir_.path() + "/views"});
  EXPECT_EQ(JsonField(digest.stdout_text, "digest"), expected_digest_);
  std::printf("[faults] ingest: %d faults injected, %s events accepted, %lld duplicate records\n",
              faults_injected_, accepted_.c_str(), static_cast<long long>(duplicate_records_));
}

TEST_F(BrokerFaultTest, ProcessingUnderFaultsCountsEverythingOnce) {
  CommandResult ingest = RunCommand(Ingest());
  ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
  ExpectExactlyTheFaultFreeIdentities();

  Args run = {JiritsuBinary(), "run",          "--until-caught-up", "--kafka",
              bootstrap_,      "--state-dir",  dir_.path() + "/views",
              "--group",       "under-faults", "--checkpoint-events", "300"};
  run.insert(run.end(), kClientProperties.begin(), kClientProperties.end());
  // Fetch errors, moved leaders, slow and stopped brokers while consuming;
  // produce errors while the facts records are published.
  const int exit_code = RunUnderFaults(run, "run", [&](const auto& running) {
    cluster_.PushRequestErrors(kafka_api::kProduce,
                               {kafka_error::kNotLeaderForPartition, kafka_error::kRequestTimedOut});
    faults_injected_ += 2;
    InjectFaults(kafka_api::kFetch, running);
  });
  ASSERT_EQ(exit_code, 0) << testing::RunCommand({"cat", dir_.path() + "/run.err"}).stdout_text;
  CommandResult digest = RunJiritsu({"digest", "--kafka", bootstrap_, "--state-dir",
                                  dir_.path() + "/views"});
  EXPECT_EQ(JsonField(digest.stdout_text, "digest"), expected_digest_);
  // The facts published under faults are not duplicated either (a replay
  // that reads the log agrees with the live views).
  CommandResult verify = RunJiritsu({"replay", "--verify", "--quiet", "--kafka", bootstrap_,
                                  "--state-dir", dir_.path() + "/views"});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  const std::string log = testing::RunCommand({"cat", dir_.path() + "/run.err"}).stdout_text;
  size_t waited = 0;
  for (size_t at = log.find("librdkafka retries; waiting"); at != std::string::npos;
       at = log.find("librdkafka retries; waiting", at + 1)) {
    ++waited;
  }
  std::printf("[faults] run: %d faults injected, transient fetch errors waited out: %zu, digest "
              "equal to the fault-free run\n",
              faults_injected_, waited);
}

}  // namespace
}  // namespace jiritsu
