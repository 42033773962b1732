// Crash consistency (issue 6): `jiritsu run`, `jiritsu ingest` and
// `jiritsu replay --swap` are SIGKILLed at random points and restarted, on
// the embedded log and on Kafka (librdkafka's mock cluster, in this test
// process, so it outlives every killed child; or the real broker
// JIRITSU_KAFKA_BOOTSTRAP names, in a fresh topic namespace per log). At the
// end:
//   * run:    the views' digest equals an uninterrupted run and a clean
//             replay, and `replay --verify` agrees with the crashed views;
//   * ingest: the log holds every identity (source, id) the uninterrupted
//             ingest appended and none that it did not. A crash between a
//             log flush and the dedupe-index update re-appends that flush
//             batch: the duplicate records are counted and printed, and the
//             processors ignore them: the views have the same keys as the
//             uninterrupted ones, the same counts (`jiritsu summary`: KPIs,
//             funnel, steps, rejections), the same digest when no batch was
//             re-appended (otherwise rows record this log's positions), and
//             equal a clean replay of this log;
//   * swap:   with a live `jiritsu run` serving the views, a replay --swap
//             killed at any point leaves the served views with the expected
//             digest after every kill, the runner keeps running, and a
//             re-run swap completes.
//
// Kills per scenario: JIRITSU_CRASH_KILLS (default 5 so the CI run stays
// short; ops/crash-test runs 50). Each scenario prints the kills survived.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>

#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "ops/log_factory.h"
#include "schemas/codec.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::Child;
using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunJiritsu;
using testing::RunCommand;
using testing::TempDir;
using testing::LogContents;
using testing::ReadSourceTopics;
using Clock = std::chrono::steady_clock;
using Args = std::vector<std::string>;

Args Concat(Args a, const Args& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

int KillsPerScenario() {
  const char* value = std::getenv("JIRITSU_CRASH_KILLS");
  return value != nullptr && std::atoi(value) > 0 ? std::atoi(value) : 5;
}

uint64_t Seed() {
  const char* value = std::getenv("JIRITSU_CRASH_SEED");
  return value != nullptr ? std::strtoull(value, nullptr, 10) : 20261121;
}

LogContents ReadLog(const LogSelection& selection) {
  Result<LogContents> contents = ReadSourceTopics(selection);
  EXPECT_TRUE(contents.ok()) << contents.status().ToString();
  return contents.ok() ? *contents : LogContents{};
}

// Starts `argv()` and SIGKILLs it after a random delay in [0, max_delay],
// over and over, until `target_kills` kills happened; then lets one attempt
// run to completion. Every attempt that ends on its own (also one that ended
// just before its signal) goes to `completed`; every kill to `after_kill`.
// Returns the kills survived.
int KillLoop(const std::string& name, const std::function<Args()>& argv, int target_kills,
             std::chrono::milliseconds max_delay, std::mt19937_64& random,
             const std::string& work_dir, const std::function<void(int exit_code)>& completed,
             const std::function<void()>& after_kill = [] {}) {
  int kills = 0;
  int completions = 0;
  for (int attempt = 0; kills < target_kills || completions == 0; ++attempt) {
    if (attempt > 20 * target_kills + 50) {
      ADD_FAILURE() << name << ": no progress after " << kills << " kills";
      break;
    }
    const bool final_attempt = kills >= target_kills;
    Child child(argv(), work_dir + "/" + name + ".out", work_dir + "/" + name + ".err");
    const auto delay = final_attempt
                           ? std::chrono::milliseconds(300'000)
                           : std::chrono::milliseconds(random() % (max_delay.count() + 1));
    const auto deadline = Clock::now() + delay;
    int exit_code = 0;
    bool exited = false;
    while (!(exited = child.TryWait(&exit_code)) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!exited) {
      child.Kill(SIGKILL);
      exit_code = child.Wait();
      exited = exit_code != -SIGKILL;
      if (!exited) {
        ++kills;
        after_kill();
        if (::testing::Test::HasFatalFailure()) break;
      }
    }
    if (exited) {
      ++completions;
      completed(exit_code);
      if (::testing::Test::HasFatalFailure()) break;
    }
  }
  std::printf("[crash] %s: SIGKILLs survived: %d, completed attempts checked: %d\n", name.c_str(),
              kills, completions);
  std::fflush(stdout);
  return kills;
}

// A fresh, empty Kafka log for a scenario: a new topic namespace
// (--kafka-topic-prefix) on the real broker JIRITSU_KAFKA_BOOTSTRAP names
// (`jiritsu ingest` creates its topics), else on a new mock cluster (3
// brokers) with every Jiritsu topic created, since the mock has no
// CreateTopics. False when the mock did not start (a failure).
bool StartKafkaNamespace(std::unique_ptr<KafkaMockCluster>* cluster, std::string* bootstrap,
                         std::string* prefix) {
  *prefix = testing::FreshTopicPrefix("crash");
  if (const std::string broker = testing::RealBrokerBootstrap(); !broker.empty()) {
    cluster->reset();
    *bootstrap = broker;
    return true;
  }
  *cluster = std::make_unique<KafkaMockCluster>();
  auto started = (*cluster)->Start(3);
  EXPECT_TRUE(started.ok()) << started.status().ToString();
  if (!started.ok()) return false;
  *bootstrap = *started;
  for (const auto& spec : AllTopicSpecs()) {
    EXPECT_TRUE((*cluster)->CreateTopic(*prefix + spec.name, spec.partitions).ok()) << spec.name;
  }
  return true;
}

class CrashTest : public ::testing::TestWithParam<bool> {
 protected:
  static void SetUpTestSuite() {
    shared_ = new TempDir();
    events_ = shared_->path() + "/events.jsonl";
    CommandResult gen = RunJiritsu({"gen", "--employees", "100", "--months", "8", "--seed", "23",
                                 "--duplicate-share", "0.01", "--out", events_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  void SetUp() override {
    kafka_ = GetParam();
    if (kafka_) {
      ASSERT_TRUE(StartKafkaNamespace(&cluster_, &bootstrap_, &prefix_));
    }
    random_.seed(Seed() + (kafka_ ? 1 : 0));
  }

  // --store / --kafka (+ --state-dir) for a views root under the work dir.
  Args Location(const std::string& store, const std::string& views) const {
    if (kafka_) {
      return {"--kafka", bootstrap_, "--kafka-topic-prefix", prefix_, "--state-dir", views};
    }
    return {"--store", store, "--state-dir", views};
  }
  Args LogOnly(const std::string& store) const {
    if (kafka_) return {"--kafka", bootstrap_, "--kafka-topic-prefix", prefix_};
    return {"--store", store};
  }
  // A group of its own per attempt on Kafka: offsets live with the views, not
  // with the group, and a fresh group is assigned at once instead of waiting
  // for the killed member's session to expire.
  Args Group() {
    if (!kafka_) return {};
    return {"--group", "g" + std::to_string(groups_++)};
  }

  void Ingest(const std::string& store, const std::string& dedupe) {
    Args args = Concat({"ingest", "--keys", dir_.path() + "/keys"}, LogOnly(store));
    if (kafka_) args = Concat(args, {"--dedupe-dir", dedupe});
    CommandResult ingest =
        RunJiritsu(Concat(args, {"--rejects", dir_.path() + "/rejects.jsonl", events_}));
    ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
  }

  std::string Digest(const Args& location) {
    CommandResult digest = RunJiritsu(Concat({"digest"}, location));
    EXPECT_EQ(digest.exit_code, 0) << digest.stderr_text;
    return testing::JsonField(digest.stdout_text, "digest");
  }

  // `jiritsu summary` without its first line (which names the store).
  std::string Summary(const Args& location) {
    CommandResult summary = RunJiritsu(Concat({"summary"}, location));
    EXPECT_EQ(summary.exit_code, 0) << summary.stderr_text;
    const size_t line = summary.stdout_text.find('\n');
    EXPECT_NE(line, std::string::npos);
    return line == std::string::npos ? "" : summary.stdout_text.substr(line + 1);
  }

  // Uninterrupted run into `views`; returns its duration.
  std::chrono::milliseconds RunOnce(const std::string& store, const std::string& views) {
    const auto started = Clock::now();
    CommandResult run =
        RunJiritsu(Concat(Concat({"run", "--until-caught-up"}, Location(store, views)), Group()));
    EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  }

  std::string CleanReplayDigest(const std::string& store, const std::string& views) {
    CommandResult replay =
        RunJiritsu(Concat(Concat({"replay", "--quiet"}, Location(store, views)), {"--no-snapshot"}));
    EXPECT_EQ(replay.exit_code, 0) << replay.stderr_text;
    return testing::JsonField(replay.stdout_text, "digest");
  }

  bool kafka_ = false;
  std::unique_ptr<KafkaMockCluster> cluster_;  // null on a real broker
  std::string bootstrap_;
  std::string prefix_;
  int groups_ = 0;
  std::mt19937_64 random_;
  TempDir dir_;
  static TempDir* shared_;
  static std::string events_;
};

TempDir* CrashTest::shared_ = nullptr;
std::string CrashTest::events_;

TEST_P(CrashTest, KilledRunsEndWithTheUninterruptedViewsAndAReplay) {
  const std::string store = dir_.path() + "/store";
  ASSERT_NO_FATAL_FAILURE(Ingest(store, dir_.path() + "/dedupe"));
  const auto duration = RunOnce(store, dir_.path() + "/base");
  const std::string expected = Digest(Location(store, dir_.path() + "/base"));
  ASSERT_EQ(expected.size(), 64u);
  ASSERT_EQ(CleanReplayDigest(store, dir_.path() + "/replay"), expected);

  int round = 0;
  auto views = [&] { return dir_.path() + "/crash-" + std::to_string(round); };
  const int kills = KillLoop(
      kafka_ ? "run-kafka" : "run-embedded",
      [&] {
        return Concat(Concat({JiritsuBinary(), "run", "--until-caught-up", "--checkpoint-events",
                              "150"},
                             Location(store, views())),
                      Group());
      },
      KillsPerScenario(), duration + duration / 4, random_, dir_.path(),
      [&](int exit_code) {
        ASSERT_EQ(exit_code, 0) << "round " << round;
        ASSERT_EQ(Digest(Location(store, views())), expected) << "round " << round;
        // The views that survived the kills also verify view by view.
        CommandResult verify = RunJiritsu(Concat({"replay", "--verify", "--quiet"}, Location(store, views())));
        ASSERT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
        ++round;
      });
  EXPECT_GE(kills, KillsPerScenario());
}

TEST_P(CrashTest, KilledIngestsLoseNothingAndCountNothingTwice) {
  // The uninterrupted ingest and its views.
  std::unique_ptr<KafkaMockCluster> base_cluster;
  std::string base_bootstrap;
  std::string base_prefix;
  if (kafka_) {
    base_cluster = std::move(cluster_);
    base_bootstrap = bootstrap_;
    base_prefix = prefix_;
  }
  const std::string base_store = dir_.path() + "/base-store";
  const auto started = Clock::now();
  ASSERT_NO_FATAL_FAILURE(Ingest(base_store, dir_.path() + "/base-dedupe"));
  const auto duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  LogSelection base_selection;
  base_selection.store_dir = base_store;
  base_selection.kafka_bootstrap = kafka_ ? base_bootstrap : "";
  base_selection.kafka_topic_prefix = base_prefix;
  const LogContents base = ReadLog(base_selection);
  ASSERT_GT(base.identities.size(), 1000u);
  ASSERT_EQ(base.DuplicateRecords(), 0);
  RunOnce(base_store, dir_.path() + "/base-views");
  const auto expected_views = testing::ParseViewDigests(
      RunJiritsu(Concat({"digest"}, Location(base_store, dir_.path() + "/base-views"))).stdout_text);
  ASSERT_GT(expected_views.size(), 3u);
  const std::string expected_summary =
      Summary(Location(base_store, dir_.path() + "/base-views"));

  // Each round: a fresh log (and cluster) + index, ingest killed until one
  // attempt completes, then the log and the views are checked.
  int round = 0;
  int64_t duplicate_records = 0;
  auto store = [&] { return dir_.path() + "/store-" + std::to_string(round); };
  auto fresh_log = [&] {
    if (kafka_) {
      ASSERT_TRUE(StartKafkaNamespace(&cluster_, &bootstrap_, &prefix_));
    }
  };
  fresh_log();
  const int kills = KillLoop(
      kafka_ ? "ingest-kafka" : "ingest-embedded",
      [&] {
        // One key store for every round and the base: personal fields are
        // sealed deterministically per key, so equal logs need shared keys.
        Args args = Concat({JiritsuBinary(), "ingest", "--flush-every", "97", "--keys",
                            dir_.path() + "/keys"},
                           LogOnly(store()));
        if (kafka_) args = Concat(args, {"--dedupe-dir", store() + "-dedupe"});
        return Concat(args, {"--rejects", store() + "-rejects.jsonl", events_});
      },
      KillsPerScenario(), duration + duration / 4, random_, dir_.path(),
      [&](int exit_code) {
        ASSERT_TRUE(exit_code == 0 || exit_code == 1) << "round " << round;
        LogSelection selection;
        selection.store_dir = store();
        selection.kafka_bootstrap = kafka_ ? bootstrap_ : "";
        selection.kafka_topic_prefix = prefix_;
        const LogContents after = ReadLog(selection);
        EXPECT_EQ(after.undecodable, 0);
        // Nothing lost, nothing invented.
        ASSERT_EQ(after.Distinct(), base.Distinct()) << "round " << round;
        // Re-appended flush batches: at most one batch per kill.
        EXPECT_LE(after.DuplicateRecords(), 97 * KillsPerScenario());
        duplicate_records += after.DuplicateRecords();
        // Nothing counted twice. The views have the keys of the
        // uninterrupted ones, and the same values once the log has no
        // duplicate record; with one, rows record the positions of this
        // log (their audit trail), so the counts are compared through
        // `jiritsu summary` (KPIs, funnel, step distribution, rejections).
        RunOnce(store(), store() + "-views");
        const auto views = testing::ParseViewDigests(
            RunJiritsu(Concat({"digest"}, Location(store(), store() + "-views"))).stdout_text);
        ASSERT_EQ(views.size(), expected_views.size());
        for (const auto& [view, digest] : expected_views) {
          EXPECT_EQ(views.at(view).keys, digest.keys) << view << ", round " << round;
          if (after.DuplicateRecords() == 0) {
            EXPECT_EQ(views.at(view).digest, digest.digest) << view << ", round " << round;
          }
        }
        EXPECT_EQ(Summary(Location(store(), store() + "-views")), expected_summary)
            << "round " << round;
        // And they are what a replay of this log computes.
        ASSERT_EQ(CleanReplayDigest(store(), store() + "-replay"),
                  Digest(Location(store(), store() + "-views")))
            << "round " << round;
        ++round;
        fresh_log();
      });
  std::printf("[crash] %s: duplicate records re-appended after kills (ignored by the "
              "processors): %lld over %d rounds\n",
              kafka_ ? "ingest-kafka" : "ingest-embedded",
              static_cast<long long>(duplicate_records), round);
  EXPECT_GE(kills, KillsPerScenario());
}

TEST_P(CrashTest, KilledSwapsLeaveTheServedViewsConsistent) {
  const std::string store = dir_.path() + "/store";
  const std::string views = dir_.path() + "/views";
  ASSERT_NO_FATAL_FAILURE(Ingest(store, dir_.path() + "/dedupe"));
  RunOnce(store, views);
  const std::string expected = Digest(Location(store, views));
  ASSERT_EQ(expected.size(), 64u);

  // A live runner serving the views (and the swaps).
  Child runner(Concat(Concat({JiritsuBinary(), "run"}, Location(store, views)), Group()),
               dir_.path() + "/runner.out", dir_.path() + "/runner.err");
  const auto ready_deadline = Clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(views + "/RUNNING") && Clock::now() < ready_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(std::filesystem::exists(views + "/RUNNING"));

  const Args swap = Concat(Concat({JiritsuBinary(), "replay", "--swap", "--quiet"},
                                  Location(store, views)),
                           {"--swap-timeout", "60"});
  const auto started = Clock::now();
  {
    Child first(swap, dir_.path() + "/swap0.out", dir_.path() + "/swap0.err");
    ASSERT_EQ(first.Wait(), 0);
  }
  const auto duration =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  ASSERT_EQ(Digest(Location(store, views)), expected);

  auto runner_alive = [&] {
    int code = 0;
    return !runner.TryWait(&code);
  };
  int promoted = 0;
  const int kills = KillLoop(
      kafka_ ? "swap-kafka" : "swap-embedded", [&] { return swap; }, KillsPerScenario(),
      duration + duration / 4, random_, dir_.path(),
      [&](int exit_code) {
        ASSERT_EQ(exit_code, 0);
        ++promoted;
        ASSERT_TRUE(runner_alive());
        ASSERT_EQ(Digest(Location(store, views)), expected);
      },
      [&] {
        ASSERT_TRUE(runner_alive()) << "the runner died with the replay";
        ASSERT_EQ(Digest(Location(store, views)), expected) << "served views after a kill";
      });
  EXPECT_GE(kills, KillsPerScenario());
  ASSERT_TRUE(runner_alive());
  runner.Kill(SIGTERM);
  EXPECT_EQ(runner.Wait(), 0);
  EXPECT_EQ(Digest(Location(store, views)), expected);
  CommandResult verify =
      RunJiritsu(Concat({"replay", "--verify", "--quiet"}, Location(store, views)));
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  // The verify above started like every replay: it removed the shadows of
  // killed swaps, so no generation is left marked unfinished.
  int generations = 0;
  for (const auto& entry : std::filesystem::directory_iterator(views)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("gen-", 0) != 0) continue;
    EXPECT_FALSE(name.ends_with(".unfinished")) << name << " left after the verify";
    if (entry.is_directory()) ++generations;
  }
  std::printf("[crash] %s: swaps completed: %d, generation directories left: %d\n",
              kafka_ ? "swap-kafka" : "swap-embedded", promoted + 1, generations);
}

INSTANTIATE_TEST_SUITE_P(Logs, CrashTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Kafka" : "Embedded";
                         });

}  // namespace
}  // namespace jiritsu
