// The swap handshake files (core/swap_coordinator.h), both sides.
#include "core/swap_coordinator.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

// The pid of a process that has exited and been reaped.
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

std::string HostName() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

void WriteOwnerFile(const std::string& path, pid_t pid, const std::string& extra = "") {
  std::ofstream(path) << extra << "pid=" << pid << "\nhost=" << HostName() << "\n";
}

class SwapCoordinatorTest : public ::testing::Test {
 protected:
  std::string Path(const char* name) const { return temp_.path() + "/" + name; }
  testing::TempDir temp_;
};

TEST_F(SwapCoordinatorTest, RunnerActiveFollowsTheRunningFile) {
  SwapCoordinator swap(temp_.path());
  EXPECT_FALSE(*swap.RunnerActive());
  ASSERT_TRUE(swap.MarkRunning().ok());
  EXPECT_TRUE(*swap.RunnerActive());
  ASSERT_TRUE(swap.ClearRunning().ok());
  EXPECT_FALSE(*swap.RunnerActive());
  WriteOwnerFile(Path(kRunningFile), DeadPid());
  EXPECT_FALSE(*swap.RunnerActive()) << "a dead runner's file is stale";
}

TEST_F(SwapCoordinatorTest, MarkRunningRefusesAnotherLiveRunner) {
  WriteOwnerFile(Path(kRunningFile), 1);  // init: always alive
  SwapCoordinator swap(temp_.path());
  Status status = swap.MarkRunning();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.ToString();
  WriteOwnerFile(Path(kRunningFile), DeadPid());
  EXPECT_TRUE(swap.MarkRunning().ok());
  // ClearRunning leaves another process's file alone.
  WriteOwnerFile(Path(kRunningFile), 1);
  ASSERT_TRUE(swap.ClearRunning().ok());
  EXPECT_TRUE(std::filesystem::exists(Path(kRunningFile)));
}

TEST_F(SwapCoordinatorTest, HandshakePromotesAndCleansUp) {
  SwapCoordinator replay(temp_.path());
  SwapCoordinator runner(temp_.path());
  ASSERT_TRUE(runner.MarkRunning().ok());
  EXPECT_FALSE(runner.SwapRequested());
  ASSERT_TRUE(replay.RequestSwap(5).ok());
  EXPECT_TRUE(runner.SwapRequested());
  Result<SwapOutcome> outcome = Internal("not run");
  std::thread runner_thread([&] { outcome = runner.AcknowledgeAndWait(4); });
  ASSERT_TRUE(replay.WaitForReady(std::chrono::seconds(30)).ok());
  EXPECT_TRUE(replay.ReadyPresent());
  ASSERT_TRUE(replay.FinishSwap(5, /*acknowledged=*/true).ok());
  runner_thread.join();
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->promoted);
  EXPECT_EQ(outcome->generation, 5);
  for (const char* file : {kSwapRequestFile, kSwapReadyFile, kSwapDoneFile}) {
    EXPECT_FALSE(std::filesystem::exists(Path(file))) << file;
  }
}

TEST_F(SwapCoordinatorTest, AbortTellsTheRunnerToResume) {
  SwapCoordinator replay(temp_.path());
  SwapCoordinator runner(temp_.path());
  ASSERT_TRUE(runner.MarkRunning().ok());
  ASSERT_TRUE(replay.RequestSwap(2).ok());
  Result<SwapOutcome> outcome = Internal("not run");
  std::thread runner_thread([&] { outcome = runner.AcknowledgeAndWait(1); });
  ASSERT_TRUE(replay.WaitForReady(std::chrono::seconds(30)).ok());
  ASSERT_TRUE(replay.AbortSwap("catch-up failed:\ndisk full", true).ok());
  runner_thread.join();
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->promoted);
  EXPECT_EQ(outcome->reason, "catch-up failed: disk full");
}

TEST_F(SwapCoordinatorTest, RunnerResumesWhenTheReplayDies) {
  WriteOwnerFile(Path(kSwapRequestFile), DeadPid(), "generation=3\n");
  SwapCoordinator runner(temp_.path());
  auto outcome = runner.AcknowledgeAndWait(2);
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->promoted);
  EXPECT_NE(outcome->reason.find("died"), std::string::npos) << outcome->reason;
  EXPECT_FALSE(runner.SwapRequested());
  EXPECT_FALSE(std::filesystem::exists(Path(kSwapReadyFile)));
}

TEST_F(SwapCoordinatorTest, RunnerStopsWaitingWhenAskedToStop) {
  SwapCoordinator replay(temp_.path());
  ASSERT_TRUE(replay.RequestSwap(2).ok());
  std::atomic<bool> stop{true};
  auto outcome = SwapCoordinator(temp_.path()).AcknowledgeAndWait(1, &stop);
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->promoted);
  EXPECT_FALSE(replay.ReadyPresent()) << "a runner that gave up must not look ready";
}

TEST_F(SwapCoordinatorTest, WaitForReadyTimesOutOrNoticesADeadRunner) {
  SwapCoordinator replay(temp_.path());
  ASSERT_TRUE(replay.MarkRunning().ok());  // "a runner" that never answers
  ASSERT_TRUE(replay.RequestSwap(2).ok());
  EXPECT_EQ(replay.WaitForReady(std::chrono::milliseconds(50)).code(), StatusCode::kDeadlineExceeded);
  WriteOwnerFile(Path(kRunningFile), DeadPid());
  EXPECT_EQ(replay.WaitForReady(std::chrono::seconds(30)).code(), StatusCode::kUnavailable);
}

TEST_F(SwapCoordinatorTest, RequestClearsLeftoversOfAnInterruptedHandshake) {
  std::ofstream(Path(kSwapDoneFile)) << "result=promoted\ngeneration=9\n";
  std::ofstream(Path(kSwapReadyFile)) << "generation=8\n";
  SwapCoordinator replay(temp_.path());
  ASSERT_TRUE(replay.RequestSwap(10).ok());
  EXPECT_FALSE(std::filesystem::exists(Path(kSwapDoneFile)));
  EXPECT_FALSE(replay.ReadyPresent());
}

}  // namespace
}  // namespace jiritsu
