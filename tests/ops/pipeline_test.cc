// End-to-end: gen -> ingest -> run -> digest through the real `jiritsu`
// binary, on the embedded log and on Kafka (librdkafka's mock cluster, or a
// real broker when JIRITSU_KAFKA_BOOTSTRAP is set).
//
// What is proven here (issue 3): the views do not depend on the cross-topic
// interleaving of consumption, the Kafka and embedded logs give the same
// views, two group members give the same global views as one, and SIGKILL at
// random points followed by restarts ends with the same views as one
// uninterrupted run.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <cstdlib>
#include <random>
#include <thread>

#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::Child;
using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunJiritsu;
using testing::JsonField;
using testing::RunCommand;
using testing::TempDir;

// A generated enterprise, written once per test binary run.
class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_dir_ = new TempDir();
    events_path_ = shared_dir_->path() + "/events.jsonl";
    CommandResult gen = RunJiritsu({"gen", "--employees", "120", "--months", "10", "--seed", "11",
                                 "--out", events_path_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  }
  static void TearDownTestSuite() {
    delete shared_dir_;
    shared_dir_ = nullptr;
  }

  // Ingests the generated file into a fresh embedded store; returns its dir.
  std::string IngestEmbedded(const std::string& name = "store") {
    const std::string store = dir_.path() + "/" + name;
    CommandResult ingest = RunJiritsu({"ingest", "--store", store, "--keys", dir_.path() + "/keys",
                                    "--rejects", dir_.path() + "/rejects.jsonl", events_path_});
    // The generator plants invalid lines: ingest reports them with exit 1.
    EXPECT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
    EXPECT_NE(JsonField(ingest.stdout_text, "accepted"), "0") << ingest.stdout_text;
    return store;
  }

  std::string Digest(const std::vector<std::string>& location, const std::string& field = "digest") {
    std::vector<std::string> args = {"digest"};
    args.insert(args.end(), location.begin(), location.end());
    CommandResult digest = RunJiritsu(args);
    EXPECT_EQ(digest.exit_code, 0) << digest.stderr_text;
    std::string value = JsonField(digest.stdout_text, field);
    EXPECT_EQ(value.size(), 64u) << digest.stdout_text;
    return value;
  }

  // `jiritsu run --until-caught-up` + `args` (callers check the exit code).
  static CommandResult RunCaughtUp(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"run", "--until-caught-up"};
    all.insert(all.end(), args.begin(), args.end());
    return RunJiritsu(all);
  }

  void RunUntilCaughtUp(const std::vector<std::string>& location,
                        const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = location;
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult run = RunCaughtUp(args);
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
    EXPECT_NE(JsonField(run.stdout_text, "events_applied"), "") << run.stdout_text;
  }

  static TempDir* shared_dir_;
  static std::string events_path_;
  TempDir dir_;
};

TempDir* PipelineTest::shared_dir_ = nullptr;
std::string PipelineTest::events_path_;

TEST_F(PipelineTest, CrossTopicInterleavingDoesNotChangeTheViews) {
  const std::string store = IngestEmbedded();
  const std::vector<std::string> baseline = {"--store", store, "--state-dir", dir_.path() + "/v0"};
  RunUntilCaughtUp(baseline);
  const std::string expected = Digest(baseline);
  for (int seed = 1; seed <= 4; ++seed) {
    const std::vector<std::string> location = {"--store", store, "--state-dir",
                                               dir_.path() + "/v" + std::to_string(seed)};
    RunUntilCaughtUp(location, {"--interleave-seed", std::to_string(seed * 7919)});
    EXPECT_EQ(Digest(location), expected) << "interleave seed " << seed * 7919;
  }
}

// A checkpoint is a cost knob and a cache a copy: a budget small enough to
// force evictions and byte-triggered checkpoints gives the views of one large
// enough to hold everything with no checkpoint until the end. Separate logs,
// so neither run reads the other's published facts.
TEST_F(PipelineTest, MemoryBudgetDoesNotChangeTheViews) {
  const std::string tiny_store = IngestEmbedded("tiny");
  const std::string large_store = IngestEmbedded("large");
  CommandResult tiny = RunCaughtUp({"--store", tiny_store, "--memory-budget-mb", "4"});
  ASSERT_EQ(tiny.exit_code, 0) << tiny.stderr_text;
  CommandResult large = RunCaughtUp({"--store", large_store, "--memory-budget-mb", "4096",
                                     "--checkpoint-events", "100000000",
                                     "--catch-up-checkpoint-events", "100000000",
                                     "--checkpoint-ms", "100000000"});
  ASSERT_EQ(large.exit_code, 0) << large.stderr_text;
  EXPECT_EQ(JsonField(tiny.stdout_text, "events_applied"),
            JsonField(large.stdout_text, "events_applied"));
  // The tiny budget did force checkpoints; the large one needed none.
  EXPECT_GT(std::stoi(JsonField(tiny.stdout_text, "memory_checkpoints")), 3) << tiny.stdout_text;
  EXPECT_EQ(JsonField(large.stdout_text, "memory_checkpoints"), "0") << large.stdout_text;
  EXPECT_LE(std::stoi(JsonField(large.stdout_text, "checkpoints")), 3) << large.stdout_text;
  EXPECT_EQ(Digest({"--store", tiny_store}), Digest({"--store", large_store}));
}

// A backlog is read merged across partitions by event time: an employee's
// events reach the fold in order instead of the sparse topics running ahead
// of the dense ones, which forced a re-fold of the employee's whole journal
// at every checkpoint. The views are the same either way. A tiny memory
// budget forces checkpoints every few hundred events (a re-fold needs an
// event sorting before one committed at an earlier checkpoint).
TEST_F(PipelineTest, ABacklogReadMergedByEventTimeRefoldsLessAndGivesTheSameViews) {
  const std::string merged_store = IngestEmbedded("merged");
  const std::string polled_store = IngestEmbedded("polled");
  CommandResult merged = RunCaughtUp({"--store", merged_store, "--memory-budget-mb", "4"});
  ASSERT_EQ(merged.exit_code, 0) << merged.stderr_text;
  CommandResult polled =
      RunCaughtUp({"--store", polled_store, "--memory-budget-mb", "4", "--no-catch-up-merge"});
  ASSERT_EQ(polled.exit_code, 0) << polled.stderr_text;
  EXPECT_EQ(JsonField(merged.stdout_text, "events_applied"),
            JsonField(polled.stdout_text, "events_applied"));
  EXPECT_GT(std::stoi(JsonField(merged.stdout_text, "memory_checkpoints")), 3) << merged.stdout_text;
  const int merged_refolds = std::stoi(JsonField(merged.stdout_text, "refolds"));
  const int polled_refolds = std::stoi(JsonField(polled.stdout_text, "refolds"));
  std::printf("[pipeline] refolds: merged %d, as polled %d\n", merged_refolds, polled_refolds);
  EXPECT_GT(polled_refolds, 50) << polled.stdout_text;
  EXPECT_LT(merged_refolds * 4, polled_refolds) << merged.stdout_text;
  EXPECT_NE(merged.stderr_text.find("merged by event time"), std::string::npos) << merged.stderr_text;
  EXPECT_EQ(polled.stderr_text.find("merged by event time"), std::string::npos) << polled.stderr_text;
  EXPECT_EQ(Digest({"--store", merged_store}), Digest({"--store", polled_store}));
}

TEST_F(PipelineTest, RunIsIdempotentAfterCatchingUp) {
  const std::string store = IngestEmbedded();
  const std::vector<std::string> location = {"--store", store};
  RunUntilCaughtUp(location);
  const std::string first = Digest(location);
  RunUntilCaughtUp(location);
  EXPECT_EQ(Digest(location), first);
}

TEST_F(PipelineTest, SigkillAtRandomPointsEndsWithTheUninterruptedViews) {
  const std::string store = IngestEmbedded();
  const std::vector<std::string> baseline = {"--store", store, "--state-dir", dir_.path() + "/base"};
  RunUntilCaughtUp(baseline);
  const std::string expected = Digest(baseline);

  // Kill at random points until kKills kills happened. Each restart resumes
  // from the last checkpoint; a run that completes is checked against the
  // uninterrupted views and the scenario starts over with empty views, so
  // the number of kills does not depend on how fast this machine is.
  constexpr int kKills = 25;
  std::mt19937_64 random(20261121);
  int kills = 0;
  int completed_runs = 0;
  for (int round = 0; kills < kKills || completed_runs == 0; ++round) {
    ASSERT_LT(round, 400) << "no progress after " << kills << " kills";
    const std::string crash_views = dir_.path() + "/crash-" + std::to_string(completed_runs);
    Child child({JiritsuBinary(), "run", "--until-caught-up", "--store", store, "--state-dir",
                 crash_views, "--checkpoint-events", "150"},
                dir_.path() + "/run.out", dir_.path() + "/run.err");
    const auto delay = kills < kKills ? std::chrono::milliseconds(10 + random() % 300)
                                      : std::chrono::milliseconds(120000);
    const auto deadline = std::chrono::steady_clock::now() + delay;
    int exit_code = 0;
    bool exited = false;
    while (!(exited = child.TryWait(&exit_code)) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!exited) {
      child.Kill(SIGKILL);
      exit_code = child.Wait();
      // It may have finished on its own just before the signal.
      exited = exit_code != -SIGKILL;
      if (!exited) ++kills;
    }
    if (exited) {
      ASSERT_EQ(exit_code, 0) << "run failed after " << kills << " kills";
      EXPECT_EQ(Digest({"--store", store, "--state-dir", crash_views}), expected)
          << "after " << kills << " kills";
      ++completed_runs;
    }
  }
  std::printf("[pipeline] SIGKILLs survived: %d, completed runs checked: %d\n", kills,
              completed_runs);
}

// ---- Kafka ----

// On librdkafka's mock cluster, or on the real broker JIRITSU_KAFKA_BOOTSTRAP
// names. Either way every test runs in a namespace of its own
// (--kafka-topic-prefix): a real broker keeps topics and groups between
// runs, and the tests need fresh ones.
class KafkaPipelineTest : public PipelineTest {
 protected:
  void SetUp() override {
    prefix_ = testing::FreshTopicPrefix("pipeline");
    bootstrap_ = testing::RealBrokerBootstrap();
    if (!bootstrap_.empty()) return;  // `jiritsu ingest` creates the topics (Admin API)
    auto started = cluster_.Start(3);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    bootstrap_ = *started;
    // The mock cluster has no CreateTopics: the topics are made here.
    for (const auto& spec : AllTopicSpecs()) {
      ASSERT_TRUE(cluster_.CreateTopic(prefix_ + spec.name, spec.partitions).ok());
    }
  }

  // The test's namespace, for every command that talks to Kafka.
  std::vector<std::string> Namespace(std::vector<std::string> args = {}) const {
    args.insert(args.end(), {"--kafka-topic-prefix", prefix_});
    return args;
  }

  void IngestKafka() {
    CommandResult ingest =
        RunJiritsu({"ingest", "--kafka", bootstrap_, "--kafka-topic-prefix", prefix_, "--keys",
                    dir_.path() + "/keys", "--dedupe-dir", dir_.path() + "/dedupe", "--rejects",
                    dir_.path() + "/rejects.jsonl", events_path_});
    ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
    ASSERT_NE(JsonField(ingest.stdout_text, "accepted"), "0") << ingest.stdout_text;
  }

  KafkaMockCluster cluster_;
  std::string bootstrap_;
  std::string prefix_;
};

TEST_F(KafkaPipelineTest, KafkaAndEmbeddedLogsGiveTheSameViews) {
  const std::string store = IngestEmbedded();
  RunUntilCaughtUp({"--store", store});
  const std::string embedded = Digest({"--store", store});

  IngestKafka();
  const std::vector<std::string> kafka = {"--kafka", bootstrap_, "--state-dir",
                                          dir_.path() + "/kafka-views"};
  RunUntilCaughtUp(kafka, Namespace({"--group", "single"}));
  EXPECT_EQ(Digest(kafka), embedded);
}

// Short session timeouts so that members leaving/joining rebalance quickly.
const std::vector<std::string> kFastGroup = {"--kafka-property", "session.timeout.ms=6000",
                                             "--kafka-property", "heartbeat.interval.ms=500"};

TEST_F(KafkaPipelineTest, TwoInstancesInOneGroupGiveTheSameViewsAsOne) {
  IngestKafka();
  const std::vector<std::string> single = {"--kafka", bootstrap_, "--state-dir",
                                           dir_.path() + "/single"};
  std::vector<std::string> one = Namespace({"--group", "one"});
  one.insert(one.end(), kFastGroup.begin(), kFastGroup.end());
  RunUntilCaughtUp(single, one);
  const std::string expected = Digest(single, "global_digest");

  const std::string a = dir_.path() + "/a";
  const std::string b = dir_.path() + "/b";
  {
    auto member = [&](const std::string& views) {
      std::vector<std::string> args = {JiritsuBinary(), "run", "--until-caught-up", "--kafka",
                                       bootstrap_, "--kafka-topic-prefix", prefix_, "--group",
                                       "pair", "--state-dir", views};
      args.insert(args.end(), kFastGroup.begin(), kFastGroup.end());
      return args;
    };
    Child first(member(a), dir_.path() + "/a.out", dir_.path() + "/a.err");
    Child second(member(b), dir_.path() + "/b.out", dir_.path() + "/b.err");
    ASSERT_EQ(first.Wait(), 0);
    ASSERT_EQ(second.Wait(), 0);
  }
  // Each member publishes its last facts as it finishes; one more catch-up
  // lets each read what the other published after it had stopped.
  std::vector<std::string> pair = Namespace({"--group", "pair"});
  pair.insert(pair.end(), kFastGroup.begin(), kFastGroup.end());
  RunUntilCaughtUp({"--kafka", bootstrap_, "--state-dir", a}, pair);
  RunUntilCaughtUp({"--kafka", bootstrap_, "--state-dir", b}, pair);
  // Both members did real work: each applied events during the shared run.
  for (const char* out : {"/a.out", "/b.out"}) {
    std::ifstream in(dir_.path() + out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::printf("[pipeline] member %s: events_applied=%s\n", out,
                JsonField(text, "events_applied").c_str());
  }
  EXPECT_EQ(Digest({"--kafka", bootstrap_, "--state-dir", a}, "global_digest"), expected);
  EXPECT_EQ(Digest({"--kafka", bootstrap_, "--state-dir", b}, "global_digest"), expected);
}

}  // namespace
}  // namespace jiritsu
