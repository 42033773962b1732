#include "core/view_generations.h"

#include <gtest/gtest.h>

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
  ASSERT_TRUE(generations.Prune().ok());
  EXPECT_EQ(generations.List(), (std::vector<int>{1, 3}));
}

}  // namespace
}  // namespace jiritsu
