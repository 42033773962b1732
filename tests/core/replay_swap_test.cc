// A replay swaps a rebuilt generation in while a live runner keeps
// projecting and readers keep querying: no reader ever sees a missing,
// half-built or inconsistent view, and no event is lost across the swap.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/embedded_log.h"
#include "core/replay.h"
#include "core/swap_coordinator.h"
#include "core/view_generations.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Sum of the employee offsets of the current generation (-1 if unreadable).
int64_t LiveEmployeeOffsets(const std::string& root) {
  ViewGenerations generations(root);
  auto current = generations.Current();
  if (!current.ok() || *current == 0) return -1;
  auto store = StateStore::OpenReadOnly(generations.DirFor(*current), {});
  if (!store.ok()) return -1;
  auto sum = testing::SumEmployeeOffsets(**store);
  return sum.ok() ? *sum : -1;
}

// Functional wait (not a timing assertion): generous deadline, then fail.
bool WaitUntil(const std::function<bool()>& done, std::chrono::seconds limit = 120s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

struct ReaderFindings {
  std::mutex mutex;
  uint64_t reads = 0;
  uint64_t transient_open_failures = 0;
  std::vector<std::string> violations;
  void Violation(std::string what) {
    std::lock_guard<std::mutex> lock(mutex);
    if (violations.size() < 20) violations.push_back(std::move(what));
  }
};

// What `jiritsu query` does: resolve CURRENT, open read-only, read. Checks
// the view is there, agrees with its own offsets (counts == records
// consumed: a half-applied checkpoint would break it) and never goes back.
void Reader(const std::string& root, const std::atomic<bool>& stop, ReaderFindings* findings) {
  int64_t last_seen = 0;
  const std::vector<std::string> families = testing::FakeViewFamilies();
  while (!stop.load()) {
    ViewGenerations generations(root);
    auto current = generations.Current();
    if (!current.ok()) {
      findings->Violation("CURRENT unreadable: " + current.status().ToString());
      continue;
    }
    const std::string dir = generations.DirFor(*current);
    if (!fs::exists(dir + "/CURRENT")) {
      findings->Violation("CURRENT names a missing store " + dir);
      continue;
    }
    auto store = StateStore::OpenReadOnly(dir, families);
    if (!store.ok()) {  // e.g. racing the writer's file deletions: retry
      std::lock_guard<std::mutex> lock(findings->mutex);
      ++findings->transient_open_failures;
      continue;
    }
    auto counts = testing::SumFakeCounts(**store);
    auto offsets = testing::SumEmployeeOffsets(**store);
    if (!counts.ok() || !offsets.ok()) {
      findings->Violation("read failed in " + dir);
      continue;
    }
    if (*counts != *offsets) {
      findings->Violation(dir + ": counts " + std::to_string(*counts) + " != consumed " +
                          std::to_string(*offsets));
    }
    if (*offsets < last_seen) {
      findings->Violation(dir + ": views went back from " + std::to_string(last_seen) + " to " +
                          std::to_string(*offsets));
    }
    last_seen = std::max(last_seen, *offsets);
    std::lock_guard<std::mutex> lock(findings->mutex);
    ++findings->reads;
  }
}

TEST(ReplaySwapTest, SwapUnderConcurrentReadersNeverShowsAHalfBuiltOrMissingView) {
  testing::TempDir temp;
  auto opened = OpenEmbeddedLog(temp.path() + "/log");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EventLog* log = opened->get();
  ASSERT_TRUE(testing::EnsureFakeTopics(log).ok());
  const std::string root = temp.path() + "/views";

  testing::FakeHistoryOptions history;
  history.events = 3000;
  ASSERT_TRUE(testing::AppendEvents(log, testing::FakeHistory(history)).ok());
  std::atomic<int64_t> appended{3000};
  // Each batch has its own seed: distinct ids, so counts == records.
  std::atomic<uint64_t> next_seed{100};
  auto append_batch = [&](int events) {
    testing::FakeHistoryOptions batch;
    batch.events = events;
    batch.reference_events = 0;
    batch.seed = next_seed.fetch_add(1);
    Status status = testing::AppendEvents(log, testing::FakeHistory(batch));
    if (status.ok()) appended += events;
    return status;
  };

  // The live runner (`jiritsu run`), handling swap requests.
  std::atomic<bool> stop_runner{false};
  Status runner_status;
  RuntimeMaker make_runtime = [&](const std::string& dir) {
    RuntimeOptions options = testing::FakeLiveOptions(dir);
    options.view_version = 1;
    return ProjectionRuntime::Create(log, testing::NewFakeProjector(), options);
  };
  std::thread runner([&] { runner_status = RunServingSwaps(root, make_runtime, stop_runner); });
  ASSERT_TRUE(WaitUntil([&] { return LiveEmployeeOffsets(root) == appended.load(); }));

  std::atomic<bool> stop_readers{false};
  ReaderFindings findings;
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(Reader, root, std::cref(stop_readers), &findings);
  std::atomic<bool> stop_appender{false};
  std::atomic<int> batches_after_swap{0};
  std::atomic<bool> swapped{false};
  std::thread appender([&] {
    while (!stop_appender.load()) {
      if (!append_batch(40).ok()) return;
      if (swapped.load()) ++batches_after_swap;
      std::this_thread::sleep_for(3ms);
    }
  });

  ReplayOptions options;
  options.views_root = root;
  options.view_version = 1;
  options.checkpoint_every_events = 500;
  options.progress_every_ms = 0;
  // Make sure the live views move on between the build and the handshake,
  // so the catch-up to the live positions has work to do.
  options.before_catch_up = [&] {
    ASSERT_TRUE(append_batch(100).ok());
    const int64_t target = appended.load();
    ASSERT_TRUE(WaitUntil([&] { return LiveEmployeeOffsets(root) >= target; }));
  };
  Replayer replayer(log, [] { return testing::NewFakeProjector(); }, options);
  auto report = replayer.Rebuild({"", /*swap=*/true});
  swapped.store(true);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->promoted);
  EXPECT_TRUE(report->handshake);
  EXPECT_EQ(*ViewGenerations(root).Current(), report->generation);
  EXPECT_EQ(*ViewGenerations(root).Previous(), 1);

  // The runner continues on the new generation.
  ASSERT_TRUE(WaitUntil([&] { return batches_after_swap.load() >= 5; }));
  stop_appender.store(true);
  appender.join();
  ASSERT_TRUE(WaitUntil([&] { return LiveEmployeeOffsets(root) == appended.load(); }))
      << "live " << LiveEmployeeOffsets(root) << " of " << appended.load();
  stop_readers.store(true);
  for (auto& reader : readers) reader.join();
  stop_runner.store(true);
  runner.join();
  ASSERT_TRUE(runner_status.ok()) << runner_status.ToString();

  EXPECT_TRUE(findings.violations.empty()) << findings.violations.size() << " violations, first: "
                                           << findings.violations.front();
  EXPECT_GT(findings.reads, 0u);
  std::printf("readers: %llu reads, %llu transient open failures\n",
              static_cast<unsigned long long>(findings.reads),
              static_cast<unsigned long long>(findings.transient_open_failures));

  // No event lost or doubled across the swap, and the swapped-in views
  // verify against the log.
  ViewGenerations generations(root);
  {
    auto store = StateStore::OpenReadOnly(generations.DirFor(*generations.Current()),
                                          testing::FakeViewFamilies());
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*testing::SumFakeCounts(**store), appended.load());
  }
  auto verified = replayer.Verify({});
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_TRUE(verified->equal) << verified->ToJson();
  EXPECT_FALSE(fs::exists(root + "/" + kSwapRequestFile));
  EXPECT_FALSE(fs::exists(root + "/" + kRunningFile));

  // Rollback goes through the same handshake when a runner is live.
  std::atomic<bool> stop_again{false};
  std::thread runner_again([&] { runner_status = RunServingSwaps(root, make_runtime, stop_again); });
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(root + "/" + kRunningFile); }));
  auto rolled = replayer.Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_TRUE(rolled->handshake);
  EXPECT_EQ(*generations.Current(), 1);
  // The old generation catches up from its own offsets.
  ASSERT_TRUE(WaitUntil([&] { return LiveEmployeeOffsets(root) == appended.load(); }));
  stop_again.store(true);
  runner_again.join();
  ASSERT_TRUE(runner_status.ok()) << runner_status.ToString();
}

}  // namespace
}  // namespace jiritsu
