// Interop between KafkaLog and the real `kcat` binary (another librdkafka
// client, run as a separate process): records written by one are read by the
// other with the same keys, values and partitions. Runs against librdkafka's
// mock cluster, and against a real broker when JIRITSU_KAFKA_BOOTSTRAP is set.
// Skipped, saying why, when kcat is not on PATH.
//
// Also drives `jiritsu devcluster` as a child process and talks to it with
// kcat and KafkaLog.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/event_log.h"
#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "tests/testing/kafka_namespace.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using namespace std::chrono_literals;
using ::jiritsu::testing::Child;
using ::jiritsu::testing::CommandResult;
using ::jiritsu::testing::RunCommand;
using ::jiritsu::testing::TempDir;

constexpr char kNoKcat[] =
    "kcat is not on PATH: install kcat (Debian/Ubuntu: apt-get install kcat) to run the "
    "Kafka interop tests";
using testing::kRealBrokerSkip;

bool KcatAvailable() {
  static const bool available = RunCommand({"kcat", "-V"}).exit_code == 0;
  return available;
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    fields.push_back(line.substr(start, tab - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

// CloudEvents-like JSON values, as on the source topics.
std::string JsonValue(int i) {
  return R"({"specversion":"1.0","id":"e-)" + std::to_string(i) +
         R"(","source":"kcat-test","type":"learning.completed","data":{"n":)" +
         std::to_string(i) + "}}";
}

enum class Backend { kMock, kRealBroker };

class KafkaKcatTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (!KcatAvailable()) GTEST_SKIP() << kNoKcat;
    if (GetParam() == Backend::kRealBroker) {
      const char* bootstrap = std::getenv("JIRITSU_KAFKA_BOOTSTRAP");
      if (bootstrap == nullptr || *bootstrap == '\0') GTEST_SKIP() << kRealBrokerSkip;
      bootstrap_ = bootstrap;
    } else {
      mock_ = std::make_unique<KafkaMockCluster>();
      Result<std::string> started = mock_->Start(3);
      ASSERT_TRUE(started.ok()) << started.status().ToString();
      bootstrap_ = *started;
    }
    KafkaLogOptions options;
    options.bootstrap_servers = bootstrap_;
    options.request_timeout = 20s;
    if (mock_) options.topic_creator = mock_->TopicCreator();
    Result<std::unique_ptr<EventLog>> log = OpenKafkaLog(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(log).value();
  }

  std::string NewTopic(int32_t partitions) {
    static std::atomic<int> counter{0};
    const std::string topic = "jiritsu-kcat-" + std::to_string(getpid()) + "-" +
                              std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) +
                              "-" + std::to_string(counter++);
    Status status = log_->EnsureTopics({{topic, partitions, false}});
    EXPECT_TRUE(status.ok()) << status.ToString();
    return topic;
  }

  std::string bootstrap_;
  std::unique_ptr<KafkaMockCluster> mock_;  // declared first: outlives the log
  std::unique_ptr<EventLog> log_;
};

INSTANTIATE_TEST_SUITE_P(Backends, KafkaKcatTest,
                         ::testing::Values(Backend::kMock, Backend::kRealBroker),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kMock ? "Mock" : "RealBroker";
                         });

TEST_P(KafkaKcatTest, KcatReadsWhatKafkaLogWrote) {
  constexpr int32_t kPartitions = 4;
  constexpr int kRecords = 60;
  const std::string topic = NewTopic(kPartitions);
  auto producer = log_->NewProducer();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::multiset<std::pair<std::string, std::string>> written;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "emp-" + std::to_string(i % 17);
    ASSERT_TRUE((*producer)->Append(topic, key, JsonValue(i)).ok());
    written.emplace(key, JsonValue(i));
  }
  Status flushed = (*producer)->Flush(30s);
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();

  CommandResult kcat = RunCommand({"kcat", "-C", "-b", bootstrap_, "-t", topic, "-e", "-q", "-f",
                                   "%p\\t%k\\t%s\\n"});
  ASSERT_EQ(kcat.exit_code, 0) << kcat.stderr_text;
  std::multiset<std::pair<std::string, std::string>> read;
  for (const std::string& line : SplitLines(kcat.stdout_text)) {
    const std::vector<std::string> fields = SplitTabs(line);
    ASSERT_EQ(fields.size(), 3u) << line;
    EXPECT_EQ(std::stoi(fields[0]), PartitionForKey(fields[1], kPartitions)) << line;
    read.emplace(fields[1], fields[2]);
  }
  EXPECT_EQ(read, written);
}

TEST_P(KafkaKcatTest, KafkaLogReadsWhatKcatWrote) {
  constexpr int32_t kPartitions = 4;
  constexpr int kRecords = 60;
  const std::string topic = NewTopic(kPartitions);
  std::string input;
  std::map<std::string, std::vector<std::string>> written;  // per key, in order
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = "emp-" + std::to_string(i % 13);
    input += key + "\t" + JsonValue(i) + "\n";
    written[key].push_back(JsonValue(i));
  }
  // kcat's default partitioner is librdkafka's consistent_random (CRC32);
  // with murmur2_random it places keys as Kafka's Java client does.
  CommandResult kcat = RunCommand({"kcat", "-P", "-b", bootstrap_, "-t", topic, "-K", "\\t",
                                   "-X", "partitioner=murmur2_random"},
                                  input);
  ASSERT_EQ(kcat.exit_code, 0) << kcat.stderr_text;

  auto consumer = log_->NewConsumer({});
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::map<TopicPartition, int64_t> start;
  for (int32_t p = 0; p < kPartitions; ++p) start[{topic, p}] = 0;
  ASSERT_TRUE((*consumer)->Assign(start).ok());
  std::vector<LogRecord> records;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (records.size() < kRecords && std::chrono::steady_clock::now() < deadline) {
    Status status = (*consumer)->Poll(200ms, 100, &records);
    ASSERT_TRUE(status.ok()) << status.ToString();
  }
  ASSERT_EQ(records.size(), static_cast<size_t>(kRecords));
  std::map<std::string, std::vector<std::string>> read;
  for (const LogRecord& record : records) {
    EXPECT_EQ(record.partition, PartitionForKey(record.key, kPartitions)) << record.key;
    read[record.key].push_back(record.value);
  }
  EXPECT_EQ(read, written) << "same keys and values, in order per key";
}

// --- `jiritsu devcluster` as a child process. ---

std::string FirstLine(const std::string& path) {
  std::ifstream file(path);
  std::string line;
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  const size_t newline = content.find('\n');
  return newline == std::string::npos ? "" : content.substr(0, newline);
}

// The first line `jiritsu devcluster` prints (its bootstrap address), once
// it is there; empty (and a test failure) if the child exits or 30 s pass.
std::string WaitForBootstrap(Child* devcluster, const std::string& out_path) {
  std::string bootstrap;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int exit_code = 0;
  while (bootstrap.empty() && std::chrono::steady_clock::now() < deadline) {
    if (devcluster->TryWait(&exit_code)) {
      ADD_FAILURE() << "devcluster exited with " << exit_code;
      return "";
    }
    bootstrap = FirstLine(out_path);
    if (bootstrap.empty()) std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(bootstrap.empty()) << "no bootstrap address printed";
  return bootstrap;
}

TEST(KafkaDevclusterTest, PrintsBootstrapFirstServesTopicsAndStopsOnSigterm) {
  if (!KcatAvailable()) GTEST_SKIP() << kNoKcat;
  const std::string binary = JIRITSU_BINARY;
  if (access(binary.c_str(), X_OK) != 0) GTEST_SKIP() << "build the jiritsu binary first: " << binary;
  TempDir dir;
  const std::string out_path = dir.path() + "/stdout";
  const std::string err_path = dir.path() + "/stderr";
  Child devcluster({binary, "devcluster", "--brokers", "2", "--partitions", "3"}, out_path,
                   err_path);
  const std::string bootstrap = WaitForBootstrap(&devcluster, out_path);
  ASSERT_FALSE(bootstrap.empty());
  EXPECT_EQ(bootstrap.find(' '), std::string::npos) << "first line must be just the address";

  // Every Jiritsu topic exists with its partition count (kcat's view).
  CommandResult metadata = RunCommand({"kcat", "-L", "-b", bootstrap});
  ASSERT_EQ(metadata.exit_code, 0) << metadata.stderr_text;
  for (const TopicSpec& spec : AllTopicSpecs(3)) {
    const std::string expected = "topic \"" + spec.name + "\" with " +
                                 std::to_string(spec.partitions) + " partitions";
    EXPECT_NE(metadata.stdout_text.find(expected), std::string::npos) << expected;
  }

  // KafkaLog against it: the topics are there, with the counts it was started with.
  KafkaLogOptions options;
  options.bootstrap_servers = bootstrap;
  options.request_timeout = 20s;
  {
    auto log = OpenKafkaLog(options);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_TRUE((*log)->EnsureTopics(AllTopicSpecs(3)).ok());
    EXPECT_EQ((*log)->EnsureTopics(AllTopicSpecs(5)).code(), StatusCode::kFailedPrecondition);
    auto producer = (*log)->NewProducer();
    ASSERT_TRUE(producer.ok());
    ASSERT_TRUE((*producer)->Append(std::string(kLearningTopic), "emp-7", JsonValue(7)).ok());
    ASSERT_TRUE((*producer)->Flush(30s).ok());
  }
  CommandResult consumed = RunCommand({"kcat", "-C", "-b", bootstrap, "-t",
                                       std::string(kLearningTopic), "-e", "-q", "-f",
                                       "%p\\t%k\\t%s\\n"});
  ASSERT_EQ(consumed.exit_code, 0) << consumed.stderr_text;
  EXPECT_EQ(consumed.stdout_text,
            std::to_string(PartitionForKey("emp-7", 3)) + "\temp-7\t" + JsonValue(7) + "\n");

  devcluster.Kill(SIGTERM);
  EXPECT_EQ(devcluster.Wait(), 0);
  std::ifstream out(out_path);
  std::string printed((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_NE(printed.find("IN MEMORY ONLY"), std::string::npos) << printed;
}

// --topic-prefix: the topics are created in that namespace, where a log with
// the same prefix finds them under the plain names.
TEST(KafkaDevclusterTest, TopicPrefixCreatesTheTopicsInThatNamespace) {
  if (!KcatAvailable()) GTEST_SKIP() << kNoKcat;
  const std::string binary = JIRITSU_BINARY;
  if (access(binary.c_str(), X_OK) != 0) {
    GTEST_SKIP() << "build the jiritsu binary first: " << binary;
  }
  TempDir dir;
  const std::string out_path = dir.path() + "/stdout";
  Child devcluster({binary, "devcluster", "--partitions", "2", "--topic-prefix", "acme-dev."},
                   out_path, dir.path() + "/stderr");
  const std::string bootstrap = WaitForBootstrap(&devcluster, out_path);
  ASSERT_FALSE(bootstrap.empty());
  CommandResult metadata = RunCommand({"kcat", "-L", "-b", bootstrap});
  ASSERT_EQ(metadata.exit_code, 0) << metadata.stderr_text;
  EXPECT_NE(metadata.stdout_text.find("topic \"acme-dev.jiritsu.employee\" with 2 partitions"),
            std::string::npos)
      << metadata.stdout_text;
  EXPECT_EQ(metadata.stdout_text.find("topic \"jiritsu.employee\""), std::string::npos)
      << metadata.stdout_text;

  KafkaLogOptions options;
  options.bootstrap_servers = bootstrap;
  options.request_timeout = 20s;
  options.topic_prefix = "acme-dev.";
  auto log = OpenKafkaLog(options);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_TRUE((*log)->EnsureTopics(AllTopicSpecs(2)).ok());
  EXPECT_EQ(*(*log)->PartitionCount(std::string(kEmployeeTopic)), 2);
  devcluster.Kill(SIGTERM);
  EXPECT_EQ(devcluster.Wait(), 0);
}

}  // namespace
}  // namespace jiritsu
