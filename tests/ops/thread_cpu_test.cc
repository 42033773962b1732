// ThreadCpuSampler (ops/thread_cpu.h): a named thread's CPU is counted under
// its name, and only what it used after Start().
#include "ops/thread_cpu.h"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/thread_name.h"

namespace jiritsu {
namespace {

double ThisThreadCpuSeconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

void BurnCpuUntil(double cpu_seconds) {
  volatile uint64_t sink = 0;
  while (ThisThreadCpuSeconds() < cpu_seconds) {
    for (int i = 0; i < 100000; ++i) sink = sink + static_cast<uint64_t>(i);
  }
}

// A thread that burns `before` CPU seconds, waits for the test to start the
// sampler, burns `after` more, then waits to be let go: the test samples
// while it still exists, so the figure does not depend on the machine's
// load or on when the periodic samples fall.
TEST(ThreadCpuSamplerTest, CountsANamedThreadsCpuSinceStartUnderItsName) {
  std::mutex mutex;
  std::condition_variable changed;
  int stage = 0;  // 1: burned `before`; 2: sampler started; 3: burned `after`; 4: let go
  auto wait_for = [&](int wanted) {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return stage >= wanted; });
  };
  auto advance = [&](int to) {
    {
      std::lock_guard lock(mutex);
      stage = to;
    }
    changed.notify_all();
  };
  std::thread burner([&] {
    NameCurrentThread("jr-test-burn");
    BurnCpuUntil(0.3);
    advance(1);
    wait_for(2);
    BurnCpuUntil(0.3 + 0.2);
    advance(3);
    wait_for(4);
  });
  wait_for(1);
  ThreadCpuSampler sampler(std::chrono::milliseconds(20));
  sampler.Start();
  advance(2);
  wait_for(3);
  sampler.SampleNow();
  advance(4);
  burner.join();
  const auto by_name = sampler.Stop();

  ASSERT_EQ(by_name.count("jr-test-burn"), 1u);
  // 0.2 s after Start, not the 0.3 s before it; /proc counts in 10 ms ticks.
  EXPECT_GE(by_name.at("jr-test-burn"), 0.2 - 0.02);
  EXPECT_LE(by_name.at("jr-test-burn"), 0.2 + 0.05);
  EXPECT_EQ(by_name.count("jr-cpu-sampler"), 0u) << "the sampler counted itself";
}

}  // namespace
}  // namespace jiritsu
