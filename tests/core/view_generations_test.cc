#include "core/view_generations.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace jiritsu {
namespace {
namespace fs = std::filesystem;

class ViewGenerationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / ("jiritsu-gen-" + std::to_string(::getpid()) + "-" +
                                          ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  std::string root_;
};

TEST_F(ViewGenerationsTest, NewRootStartsAtGenerationOne) {
  ViewGenerations generations(root_);
  EXPECT_EQ(*generations.Current(), 0);
  auto dir = generations.CurrentDirOrCreate();
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  EXPECT_EQ(*dir, root_ + "/gen-000001");
  EXPECT_EQ(*generations.Current(), 1);
}

TEST_F(ViewGenerationsTest, PromoteAndRollbackSwitchCurrentAndPrevious) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  fs::create_directories(generations.DirFor(1));
  int next = *generations.NextGeneration();
  EXPECT_EQ(next, 2);
  fs::create_directories(generations.DirFor(next));
  ASSERT_TRUE(generations.Promote(next).ok());
  EXPECT_EQ(*generations.Current(), 2);
  EXPECT_EQ(*generations.Previous(), 1);
  ASSERT_TRUE(generations.Rollback().ok());
  EXPECT_EQ(*generations.Current(), 1);
  EXPECT_EQ(*generations.Previous(), 2);
}

TEST_F(ViewGenerationsTest, PromoteMissingGenerationFailsWithoutChangingCurrent) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  Status status = generations.Promote(7);
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(*generations.Current(), 1);
}

TEST_F(ViewGenerationsTest, RollbackWithoutPreviousIsAPreconditionError) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  EXPECT_EQ(generations.Rollback().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ViewGenerationsTest, GarbageCurrentFileIsCorruption) {
  fs::create_directories(root_);
  std::ofstream(root_ + "/CURRENT") << "not-a-number\n";
  ViewGenerations generations(root_);
  EXPECT_EQ(generations.Current().status().code(), StatusCode::kCorruption);
}

TEST_F(ViewGenerationsTest, PruneKeepsCurrentAndPrevious) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  for (int g = 1; g <= 4; ++g) fs::create_directories(generations.DirFor(g));
  ASSERT_TRUE(generations.Promote(3).ok());
  auto removed = generations.Prune();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<int>{2, 4}));
  EXPECT_EQ(generations.List(), (std::vector<int>{1, 3}));
}

TEST_F(ViewGenerationsTest, PruneIsRefusedWhileAReplayHoldsTheLock) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  for (int g = 1; g <= 3; ++g) fs::create_directories(generations.DirFor(g));
  const std::string lock_path = root_ + "/" + kReplayLockFile;
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // as a running replay holds it
  auto refused = generations.Prune();
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("a replay is working"), std::string::npos);
  EXPECT_EQ(generations.List(), (std::vector<int>{1, 2, 3}));
  ::flock(fd, LOCK_UN);
  ::close(fd);
  ASSERT_TRUE(generations.Prune().ok());
  EXPECT_EQ(generations.List(), (std::vector<int>{1}));
}

// A replay killed while building leaves its generation marked unfinished;
// the next start removes exactly those, never CURRENT or PREVIOUS, never a
// complete unpromoted rebuild, and nothing while a replay holds the lock.
TEST_F(ViewGenerationsTest, RemoveUnfinishedKeepsServedAndLiveGenerations) {
  ViewGenerations generations(root_);
  ASSERT_TRUE(generations.CurrentDirOrCreate().ok());
  for (int g = 1; g <= 6; ++g) {
    fs::create_directories(generations.DirFor(g));
    std::ofstream(generations.DirFor(g) + "/000001.sst") << "data";
  }
  ASSERT_TRUE(generations.Promote(2).ok());
  ASSERT_TRUE(generations.Promote(3).ok());
  ASSERT_TRUE(generations.Rollback().ok());  // current 2, previous 3
  // Stale marks on the served generations (a kill between promote and
  // clear), marks on two shadows; 6 is a complete plain rebuild (no mark).
  for (int g : {2, 3, 4, 5}) ASSERT_TRUE(generations.MarkUnfinished(g).ok());
  // A second mark-less directory number that only has a mark: nothing to
  // remove but the mark.
  ASSERT_TRUE(generations.MarkUnfinished(9).ok());

  {
    // A running replay holds the lock: its shadow is not a leftover.
    const int fd = ::open((root_ + "/" + kReplayLockFile).c_str(), O_RDWR | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
    auto removed = generations.RemoveUnfinished(/*replay_lock_held=*/false);
    ASSERT_TRUE(removed.ok()) << removed.status().ToString();
    EXPECT_TRUE(removed->empty());
    EXPECT_EQ(generations.List(), (std::vector<int>{1, 2, 3, 4, 5, 6}));
    ::close(fd);
  }
  auto removed = generations.RemoveUnfinished(/*replay_lock_held=*/false);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, (std::vector<int>{4, 5, 9}));
  EXPECT_EQ(generations.List(), (std::vector<int>{1, 2, 3, 6}));
  EXPECT_TRUE(fs::exists(generations.DirFor(2) + "/000001.sst"));
  EXPECT_TRUE(fs::exists(generations.DirFor(3) + "/000001.sst"));
  EXPECT_EQ(*generations.Current(), 2);
  EXPECT_EQ(*generations.Previous(), 3);
  for (int g : {2, 3, 4, 5, 9}) EXPECT_FALSE(fs::exists(generations.DirFor(g) + ".unfinished")) << g;
  // Nothing left to do the second time.
  auto again = generations.RemoveUnfinished(/*replay_lock_held=*/false);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(ViewGenerationsTest, RemoveUnfinishedOfAMissingRootIsNothing) {
  auto removed = ViewGenerations(root_ + "/missing").RemoveUnfinished(false);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_TRUE(removed->empty());
  EXPECT_FALSE(fs::exists(root_ + "/missing"));
}

}  // namespace
}  // namespace jiritsu
