// Smoke test of `jiritsu bench` on a tiny workload: every requested phase
// runs and the JSON report carries positive rates and the ratios to the
// baselines. Figures are never compared with a time (CI machines vary).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunCommand;
using testing::TempDir;

void ExpectReport(const std::string& path, const std::vector<std::string>& phases,
                  const std::vector<std::string>& ratios) {
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.load(path).get(report), simdjson::SUCCESS) << path;
  for (const std::string& phase : phases) {
    double rate = 0;
    ASSERT_EQ(report["phases"][phase]["events_per_s"].get_double().get(rate), simdjson::SUCCESS)
        << phase;
    EXPECT_GT(rate, 0) << phase;
    int64_t events = 0;
    ASSERT_EQ(report["phases"][phase]["events"].get_int64().get(events), simdjson::SUCCESS);
    EXPECT_GT(events, 0) << phase;
    // CPU per thread name: the bench's own thread at least, and no more in
    // all than the process used (each figure is in 10 ms ticks).
    simdjson::dom::object threads;
    ASSERT_EQ(report["phases"][phase]["thread_cpu_s"].get_object().get(threads), simdjson::SUCCESS)
        << phase;
    double cpu = 0, own = -1, sum = 0;
    size_t names = 0;
    ASSERT_EQ(report["phases"][phase]["cpu_s"].get_double().get(cpu), simdjson::SUCCESS);
    ASSERT_EQ(threads["jiritsu"].get_double().get(own), simdjson::SUCCESS) << phase;
    EXPECT_GE(own, 0) << phase;
    for (auto [name, seconds] : threads) {
      double value = 0;
      ASSERT_EQ(seconds.get_double().get(value), simdjson::SUCCESS) << phase << " " << name;
      EXPECT_GE(value, 0) << phase << " " << name;
      sum += value;
      ++names;
    }
    EXPECT_LE(sum, cpu + 0.02 * static_cast<double>(names) + 0.05) << phase;
  }
  for (const std::string& ratio : ratios) {
    double value = 0;
    ASSERT_EQ(report["ratios"][ratio].get_double().get(value), simdjson::SUCCESS) << ratio;
    EXPECT_GT(value, 0) << ratio;
  }
}

// The live-projected views and the replayed ones of the same log are the
// same views: the bench compares their digests and says so.
void ExpectReplayEqualsProject(simdjson::dom::element report, const std::string& stdout_text) {
  bool matches = false;
  ASSERT_EQ(report["phases"]["replay"]["digest_matches_project"].get_bool().get(matches),
            simdjson::SUCCESS);
  EXPECT_TRUE(matches);
  std::string_view project_digest;
  std::string_view replay_digest;
  ASSERT_EQ(report["phases"]["project"]["digest"].get_string().get(project_digest),
            simdjson::SUCCESS);
  ASSERT_EQ(report["phases"]["replay"]["digest"].get_string().get(replay_digest),
            simdjson::SUCCESS);
  EXPECT_EQ(project_digest.size(), 64u);
  EXPECT_EQ(project_digest, replay_digest);
  EXPECT_NE(stdout_text.find("replay views = project views"), std::string::npos) << stdout_text;
}

TEST(BenchTest, EmbeddedLogEveryPhaseReportsPositiveRatesAndRatios) {
  TempDir dir;
  const std::string json = dir.path() + "/bench.json";
  CommandResult run = RunCommand({JiritsuBinary(), "bench", "--employees", "30", "--months", "3",
                                  "--work-dir", dir.path() + "/work", "--queries", "300",
                                  "--phases",
                                  "ingest,ingest-http,raw-read,decode,raw-write,project,replay,"
                                  "query,latency",
                                  "--latency-seconds", "1", "--latency-rate", "500", "--json",
                                  json});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text << run.stdout_text;
  EXPECT_NE(run.stdout_text.find("replay / raw-read"), std::string::npos) << run.stdout_text;
  ExpectReport(json,
               {"ingest", "ingest-http", "raw-read", "decode", "raw-write", "project", "replay",
                "query", "latency"},
               {"replay/raw-read", "replay/raw-write", "project/raw-read", "decode/raw-read",
                "ingest-http/raw-read", "ingest-http/raw-write"});
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.load(json).get(report), simdjson::SUCCESS);
  double p99 = 0;
  ASSERT_EQ(report["phases"]["query"]["latency_ms"]["p99"].get_double().get(p99),
            simdjson::SUCCESS);
  EXPECT_GT(p99, 0);
  ASSERT_EQ(report["phases"]["latency"]["latency_ms"]["p99"].get_double().get(p99),
            simdjson::SUCCESS);
  EXPECT_GT(p99, 0);
  // The producer's durable flushes, timed: ~one per 5 ms linger over 1 s.
  int64_t flushes = 0;
  ASSERT_EQ(report["phases"]["latency"]["producer_flushes"].get_int64().get(flushes),
            simdjson::SUCCESS);
  EXPECT_GT(flushes, 20);
  EXPECT_LE(flushes, 500);
  double flush_p50 = 0, flush_p99 = 0, flush_max = 0;
  ASSERT_EQ(report["phases"]["latency"]["producer_flush_p50_ms"].get_double().get(flush_p50),
            simdjson::SUCCESS);
  ASSERT_EQ(report["phases"]["latency"]["producer_flush_p99_ms"].get_double().get(flush_p99),
            simdjson::SUCCESS);
  ASSERT_EQ(report["phases"]["latency"]["producer_flush_max_ms"].get_double().get(flush_max),
            simdjson::SUCCESS);
  EXPECT_GT(flush_p50, 0);
  EXPECT_LE(flush_p50, flush_p99);
  EXPECT_LE(flush_p99, flush_max);
  int64_t slow_flushes = -1;
  ASSERT_EQ(report["phases"]["latency"]["producer_flushes_over_20ms"].get_int64().get(slow_flushes),
            simdjson::SUCCESS);
  EXPECT_GE(slow_flushes, 0);
  EXPECT_LE(slow_flushes, flushes);
  // The setup's writes went to disk before the measured seconds.
  EXPECT_EQ(run.stderr_text.find("could not sync"), std::string::npos) << run.stderr_text;
  EXPECT_NE(run.stdout_text.find("latency: the producer's " + std::to_string(flushes) +
                                 " flushes took p50"),
            std::string::npos)
      << run.stdout_text;
  ExpectReplayEqualsProject(report, run.stdout_text);

  // A second run reuses the workload and the loaded log.
  CommandResult again = RunCommand({JiritsuBinary(), "bench", "--employees", "30", "--months",
                                    "3", "--work-dir", dir.path() + "/work", "--phases",
                                    "raw-read,replay", "--json", json});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_EQ(again.stderr_text.find("generated"), std::string::npos) << again.stderr_text;
  ExpectReport(json, {"raw-read", "replay"}, {"replay/raw-read"});
}

// On the in-process mock cluster, and on the real broker JIRITSU_KAFKA_BOOTSTRAP
// names (in a topic namespace of this run's own, which the bench loads).
void ExpectKafkaProjectAndReplayGiveTheSameViews(const std::vector<std::string>& log_args) {
  TempDir dir;
  const std::string json = dir.path() + "/bench.json";
  std::vector<std::string> args = {JiritsuBinary(), "bench", "--log", "kafka", "--employees", "20",
                                   "--months", "2", "--work-dir", dir.path() + "/work",
                                   "--phases", "raw-read,project,replay", "--json", json};
  args.insert(args.end(), log_args.begin(), log_args.end());
  CommandResult run = RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text << run.stdout_text;
  ExpectReport(json, {"raw-read", "project", "replay"}, {"replay/raw-read", "project/raw-read"});
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.load(json).get(report), simdjson::SUCCESS);
  ExpectReplayEqualsProject(report, run.stdout_text);
}

TEST(BenchTest, KafkaMockClusterProjectAndReplayGiveTheSameViews) {
  ExpectKafkaProjectAndReplayGiveTheSameViews({});
}

TEST(BenchTest, KafkaRealBrokerProjectAndReplayGiveTheSameViews) {
  const std::string bootstrap = testing::RealBrokerBootstrap();
  if (bootstrap.empty()) GTEST_SKIP() << testing::kRealBrokerSkip;
  ExpectKafkaProjectAndReplayGiveTheSameViews(
      {"--kafka", bootstrap, "--kafka-topic-prefix", testing::FreshTopicPrefix("bench")});
}

int64_t Count(simdjson::dom::element report, const char* phase, const char* key) {
  int64_t value = -1;
  EXPECT_EQ(report["phases"][phase][key].get_int64().get(value), simdjson::SUCCESS)
      << phase << "." << key;
  return value;
}

// ingest-http posts the workload through the real service over a fresh log
// and must reach the same verdicts as the CLI ingest of the same lines: the
// workload holds duplicates and schema-invalid lines (this one, seed 1, a
// malformed JSON line too, which makes the client bisect its batch).
void ExpectHttpIngestMatchesCli(const std::vector<std::string>& log_args) {
  TempDir dir;
  const std::string json = dir.path() + "/bench.json";
  std::vector<std::string> args = {JiritsuBinary(), "bench", "--employees", "20", "--months", "3",
                                   "--work-dir", dir.path() + "/work", "--phases",
                                   "ingest,ingest-http", "--http-batch", "25",
                                   "--http-connections", "3", "--json", json};
  args.insert(args.end(), log_args.begin(), log_args.end());
  CommandResult run = RunCommand(args);
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text << run.stdout_text;
  ExpectReport(json, {"ingest", "ingest-http"}, {});
  simdjson::dom::parser parser;
  simdjson::dom::element report;
  ASSERT_EQ(parser.load(json).get(report), simdjson::SUCCESS);
  const int64_t accepted = Count(report, "ingest", "accepted");
  EXPECT_GT(accepted, 0);
  EXPECT_EQ(Count(report, "ingest-http", "accepted"), accepted);
  EXPECT_EQ(Count(report, "ingest-http", "duplicates"), Count(report, "ingest", "duplicates"));
  EXPECT_EQ(Count(report, "ingest-http", "rejected"), Count(report, "ingest", "rejected"));
  EXPECT_GT(Count(report, "ingest", "rejected"), 0) << "the workload should hold invalid lines";
  EXPECT_EQ(Count(report, "ingest-http", "events"), Count(report, "ingest", "events"));
  EXPECT_GE(Count(report, "ingest-http", "http_429"), 0);
  EXPECT_GT(Count(report, "ingest-http", "http_400"), 0) << "batches with invalid lines";
  EXPECT_GE(Count(report, "ingest-http", "http_requests"), Count(report, "ingest", "events") / 25);
  double p99 = 0;
  ASSERT_EQ(report["phases"]["ingest-http"]["latency_ms"]["p99"].get_double().get(p99),
            simdjson::SUCCESS);
  EXPECT_GT(p99, 0);
  EXPECT_NE(run.stdout_text.find("ingest-http"), std::string::npos) << run.stdout_text;
}

TEST(BenchTest, HttpIngestAcceptsWhatTheCliIngestAccepts) { ExpectHttpIngestMatchesCli({}); }

TEST(BenchTest, HttpIngestOnTheKafkaMockCluster) { ExpectHttpIngestMatchesCli({"--log", "kafka"}); }

TEST(BenchTest, BadHttpOptionsAreUsageErrors) {
  TempDir dir;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--http-batch", "0"}, {"--http-batch", "many"},
        {"--http-connections", "0"}, {"--http-connections", "1000"}}) {
    std::vector<std::string> args = {JiritsuBinary(), "bench", "--work-dir", dir.path(),
                                     "--phases", "ingest-http"};
    args.insert(args.end(), bad.begin(), bad.end());
    CommandResult run = RunCommand(args);
    EXPECT_EQ(run.exit_code, 2) << bad[0] << " " << bad[1] << ": " << run.stderr_text;
    EXPECT_NE(run.stderr_text.find(bad[0]), std::string::npos) << run.stderr_text;
  }
  // Nothing was generated or started for a usage error.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/ingest-http"));
}

TEST(BenchTest, UnknownPhaseIsAUsageError) {
  TempDir dir;
  CommandResult run = RunCommand({JiritsuBinary(), "bench", "--work-dir", dir.path(), "--phases",
                                  "replay,warp-speed"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.stderr_text.find("unknown phase \"warp-speed\""), std::string::npos)
      << run.stderr_text;
}

}  // namespace
}  // namespace jiritsu
