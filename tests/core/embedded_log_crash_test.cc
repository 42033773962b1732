// kill -9 test for the embedded log: a child process appends and flushes
// continuously, the parent SIGKILLs it at a random moment and checks that the
// reopened log holds every flushed record, intact, with contiguous offsets.
//
// The child re-executes this test binary (fork, then only execve) running the
// DISABLED_ helper below: it starts as a fresh single-threaded process, so
// RocksDB's thread pools work, and it never returns to GoogleTest (it is
// killed, or leaves with _exit).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/embedded_log.h"
#include "tests/core/event_log_contract.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

namespace fs = std::filesystem;

constexpr char kTopic[] = "crash.records";
constexpr int32_t kPartitions = 4;
constexpr char kDirEnv[] = "JIRITSU_CRASH_TEST_LOG_DIR";
constexpr char kReportFdEnv[] = "JIRITSU_CRASH_TEST_REPORT_FD";
constexpr char kFlushEveryEnv[] = "JIRITSU_CRASH_TEST_FLUSH_EVERY";
constexpr char kSeedEnv[] = "JIRITSU_CRASH_TEST_SEED";  // optional: reproduce a run
constexpr char kChildTest[] = "EmbeddedLogCrashChild.DISABLED_AppendAndFlushForever";
// Child -> parent: a u64 count of records durable after a Flush, or this.
constexpr uint64_t kChildFailed = UINT64_MAX;
// Safety net: a child nobody kills stops by itself.
constexpr uint64_t kChildMaxRecords = 2'000'000;

std::string KeyFor(uint64_t seq) { return "employee-" + std::to_string(seq % 97); }

// Deterministic, self-describing value: the sequence number, then a payload
// whose length and bytes derive from it. Any damage changes the bytes.
std::string ValueFor(uint64_t seq) {
  std::string value = "seq=" + std::to_string(seq) + ";";
  uint64_t x = seq * 0x9E3779B97F4A7C15ull + 1;
  const size_t payload = (seq * 7919) % 400;
  for (size_t i = 0; i < payload; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    value.push_back(static_cast<char>(x));
  }
  return value;
}

bool ParseSeq(const std::string& value, uint64_t* seq) {
  if (value.rfind("seq=", 0) != 0) return false;
  const size_t end = value.find(';');
  if (end == std::string::npos) return false;
  *seq = std::strtoull(value.substr(4, end - 4).c_str(), nullptr, 10);
  return true;
}

void WriteReport(int fd, uint64_t value) {
  if (::write(fd, &value, sizeof(value)) != sizeof(value)) ::_exit(4);
}

[[noreturn]] void ChildFail(int fd, const Status& status) {
  std::fprintf(stderr, "crash test child: %s\n", status.ToString().c_str());
  WriteReport(fd, kChildFailed);
  ::_exit(2);
}

// The child's whole life: continue the sequence where the log ends, append,
// Flush every N records and report the durable count after each Flush.
TEST(EmbeddedLogCrashChild, DISABLED_AppendAndFlushForever) {
  const char* dir = std::getenv(kDirEnv);
  if (dir == nullptr) GTEST_SKIP() << "helper process of EmbeddedLogCrashTest";
  const int fd = std::atoi(std::getenv(kReportFdEnv));
  const uint64_t flush_every = std::strtoull(std::getenv(kFlushEveryEnv), nullptr, 10);

  auto log = OpenEmbeddedLog(dir, {});
  if (!log.ok()) ChildFail(fd, log.status());
  Status s = (*log)->EnsureTopics({TopicSpec{kTopic, kPartitions}});
  if (!s.ok()) ChildFail(fd, s);
  // Durable records always form a prefix of the sequence: continue after it.
  uint64_t seq = 0;
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto end = (*log)->EndOffset(TopicPartition{kTopic, p});
    if (!end.ok()) ChildFail(fd, end.status());
    seq += static_cast<uint64_t>(*end);
  }
  auto producer = (*log)->NewProducer();
  if (!producer.ok()) ChildFail(fd, producer.status());
  const uint64_t start = seq;
  while (seq - start < kChildMaxRecords) {
    s = (*producer)->Append(kTopic, KeyFor(seq), ValueFor(seq));
    if (!s.ok()) ChildFail(fd, s);
    ++seq;
    if ((seq - start) % flush_every == 0) {
      s = (*producer)->Flush(std::chrono::seconds(60));
      if (!s.ok()) ChildFail(fd, s);
      WriteReport(fd, seq);
    }
  }
  ::_exit(0);
}

struct Child {
  pid_t pid = -1;
  int report_fd = -1;
};

// This binary again, running only `kChildTest`.
Child SpawnWriter(const std::string& dir, uint64_t flush_every) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = testing::StartTestInFreshProcess(
      kChildTest,
      {std::string(kDirEnv) + "=" + dir, std::string(kReportFdEnv) + "=" + std::to_string(fds[1]),
       std::string(kFlushEveryEnv) + "=" + std::to_string(flush_every)},
      /*close_in_child=*/{fds[0]}, /*quiet=*/true);
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    return {};
  }
  return Child{pid, fds[0]};
}

// Reads one report; false on EOF, error or after `timeout` without data.
bool ReadReport(int fd, uint64_t* value, std::chrono::milliseconds timeout) {
  char buffer[sizeof(uint64_t)];
  size_t got = 0;
  while (got < sizeof(buffer)) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return false;
    const ssize_t n = ::read(fd, buffer + got, sizeof(buffer) - got);
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  std::memcpy(value, buffer, sizeof(buffer));
  return true;
}

class EmbeddedLogCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(::testing::TempDir()) / ("jiritsu_crash_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    dir_ = (root_ / "log").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  // Reads the whole log and checks it; returns the number of records.
  uint64_t VerifyLog(EventLog* log, uint64_t at_least) {
    std::map<TopicPartition, int64_t> all;
    int64_t total = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      all[TopicPartition{kTopic, p}] = 0;
      auto end = log->EndOffset(TopicPartition{kTopic, p});
      EXPECT_TRUE(end.ok()) << end.status().ToString();
      if (end.ok()) total += *end;
    }
    auto consumer = log->NewConsumer({});
    EXPECT_TRUE(consumer.ok());
    if (!consumer.ok()) return 0;
    EXPECT_TRUE((*consumer)->Assign(all).ok());
    std::vector<LogRecord> records;
    Status s = log_contract::PollUntilCount(consumer->get(), static_cast<size_t>(total), &records,
                                            std::chrono::seconds(30));
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(records.size(), static_cast<size_t>(total));

    std::map<int32_t, int64_t> next_offset;
    std::map<int32_t, uint64_t> last_seq;
    std::vector<uint64_t> seqs;
    seqs.reserve(records.size());
    for (const auto& record : records) {
      // Offsets: contiguous from 0, no gap, no duplicate.
      EXPECT_EQ(record.offset, next_offset[record.partition]++) << "partition " << record.partition;
      uint64_t seq = 0;
      if (!ParseSeq(record.value, &seq)) {
        ADD_FAILURE() << "undecodable value at " << record.partition << "/" << record.offset;
        continue;
      }
      EXPECT_TRUE(record.value == ValueFor(seq)) << "damaged value, seq " << seq;
      EXPECT_EQ(record.key, KeyFor(seq));
      EXPECT_EQ(record.partition, PartitionForKey(record.key, kPartitions));
      auto [it, first] = last_seq.try_emplace(record.partition, seq);
      if (!first) {
        EXPECT_GT(seq, it->second) << "partition " << record.partition << " out of order";
        it->second = seq;
      }
      seqs.push_back(seq);
    }
    // Durable records are exactly the prefix 0..total-1 of the sequence, and
    // it covers every record whose Flush returned.
    std::sort(seqs.begin(), seqs.end());
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i] != i) {
        ADD_FAILURE() << "sequence has a hole or duplicate at " << i << " (found " << seqs[i] << ")";
        break;
      }
    }
    EXPECT_GE(static_cast<uint64_t>(total), at_least) << "a flushed record was lost";
    return static_cast<uint64_t>(total);
  }

  fs::path root_;
  std::string dir_;
};

TEST_F(EmbeddedLogCrashTest, FlushedRecordsSurviveKillNine) {
  constexpr int kIterations = 20;
  uint64_t seed = std::random_device{}();
  if (const char* fixed = std::getenv(kSeedEnv)) seed = std::strtoull(fixed, nullptr, 10);
  SCOPED_TRACE("seed " + std::to_string(seed) + " (rerun with " + kSeedEnv + "=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);

  uint64_t durable = 0;  // records known to be flushed
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    const uint64_t flush_every = std::uniform_int_distribution<uint64_t>(1, 250)(rng);
    const int kill_after_reports = std::uniform_int_distribution<int>(1, 8)(rng);
    const int kill_delay_us = std::uniform_int_distribution<int>(0, 3000)(rng);

    Child child = SpawnWriter(dir_, flush_every);
    ASSERT_GT(child.pid, 0) << "fork failed";
    uint64_t report = 0;
    bool child_failed = false;
    for (int r = 0; r < kill_after_reports; ++r) {
      if (!ReadReport(child.report_fd, &report, std::chrono::seconds(60)) || report == kChildFailed) {
        child_failed = true;
        break;
      }
      durable = std::max(durable, report);
    }
    if (!child_failed && iteration == 0) {
      // While the writer runs, its directory is locked against other writers.
      auto second = OpenEmbeddedLog(dir_, {});
      ASSERT_FALSE(second.ok());
      EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
      EXPECT_NE(second.status().message().find("embedded log " + dir_ + " is in use by another process"),
                std::string::npos)
          << second.status().ToString();
    }
    if (!child_failed && iteration % 5 == 1) {
      // A follower in this process reads what the writer process flushed.
      auto follower = OpenEmbeddedLogReadOnly(dir_);
      ASSERT_TRUE(follower.ok()) << follower.status().ToString();
      int64_t total = 0;
      for (int32_t p = 0; p < kPartitions; ++p) total += *(*follower)->EndOffset(TopicPartition{kTopic, p});
      EXPECT_GE(static_cast<uint64_t>(total), report);
    }
    ::usleep(kill_delay_us);
    ::kill(child.pid, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child.pid, &wstatus, 0), child.pid);
    // Reports written before the kill are still in the pipe.
    while (!child_failed && ReadReport(child.report_fd, &report, std::chrono::milliseconds(0))) {
      if (report == kChildFailed) {
        child_failed = true;
      } else {
        durable = std::max(durable, report);
      }
    }
    ::close(child.report_fd);
    ASSERT_FALSE(child_failed) << "writer process failed (see its stderr)";
    EXPECT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

    auto log = OpenEmbeddedLog(dir_, {});
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    const uint64_t total = VerifyLog(log->get(), durable);
    if (HasFailure()) return;

    // The next append continues at the end.
    const std::string key = KeyFor(total);
    const TopicPartition tp{kTopic, PartitionForKey(key, kPartitions)};
    const int64_t end_before = *(*log)->EndOffset(tp);
    auto producer = (*log)->NewProducer();
    ASSERT_TRUE(producer.ok());
    ASSERT_TRUE((*producer)->Append(kTopic, key, ValueFor(total)).ok());
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(60)).ok());
    EXPECT_EQ(*(*log)->EndOffset(tp), end_before + 1);
    auto consumer = (*log)->NewConsumer({});
    ASSERT_TRUE(consumer.ok());
    ASSERT_TRUE((*consumer)->Assign({{tp, end_before}}).ok());
    std::vector<LogRecord> out;
    ASSERT_TRUE(log_contract::PollUntilCount(consumer->get(), 1, &out, std::chrono::seconds(30)).ok());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].offset, end_before);
    EXPECT_TRUE(out[0].value == ValueFor(total));
    durable = total + 1;
  }
}

}  // namespace
}  // namespace jiritsu
