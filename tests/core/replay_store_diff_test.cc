// Store digests and diffs (core/store_diff.h) and the offset-list helpers of
// core/replay.h.
#include "core/store_diff.h"

#include <gtest/gtest.h>

#include "core/projection_runtime.h"
#include "core/replay.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

std::unique_ptr<StateStore> OpenStore(const std::string& dir) {
  StateStoreOptions options;
  options.column_families = {"a", "b"};
  auto store = StateStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

void Put(StateStore* store, const std::string& family, const std::string& key,
         const std::string& value) {
  StateBatch batch;
  batch.Put(family, key, value);
  ASSERT_TRUE(store->Write(&batch).ok());
}

class StoreDiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    left_ = OpenStore(temp_.path() + "/left");
    right_ = OpenStore(temp_.path() + "/right");
    for (auto* store : {left_.get(), right_.get()}) {
      Put(store, "a", "k1", "v1");
      Put(store, "a", std::string("k\0bin", 5), "v2");
      Put(store, "b", "x", "1");
    }
  }
  testing::TempDir temp_;
  std::unique_ptr<StateStore> left_;
  std::unique_ptr<StateStore> right_;
};

TEST_F(StoreDiffTest, EqualContentHasEqualDigestsAndNoDifferences) {
  auto left = DigestFamilies(*left_, {"b", "a"});
  auto right = DigestFamilies(*right_, {"a", "b", "a"});
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  ASSERT_TRUE(right.ok());
  EXPECT_EQ(left->combined, right->combined);
  ASSERT_EQ(left->families.size(), 2u);
  EXPECT_EQ(left->families[0].family, "a");  // sorted
  EXPECT_EQ(left->families[0].keys, 2u);
  EXPECT_EQ(left->families[0].digest.size(), 64u);
  auto diffs = DiffFamilies(*left_, *right_, {"a", "b"});
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty());
}

TEST_F(StoreDiffTest, DiffNamesFamilyKeyAndKindInKeyOrder) {
  Put(right_.get(), "a", "k1", "changed");
  Put(right_.get(), "a", "k0", "extra");
  Put(left_.get(), "a", "k9", "only-left");
  auto left = DigestFamilies(*left_, {"a", "b"});
  auto right = DigestFamilies(*right_, {"a", "b"});
  ASSERT_TRUE(left.ok() && right.ok());
  EXPECT_NE(left->combined, right->combined);
  EXPECT_NE(left->families[0].digest, right->families[0].digest);
  EXPECT_EQ(left->families[1].digest, right->families[1].digest);

  auto diffs = DiffFamilies(*left_, *right_, {"a", "b"}, 2);
  ASSERT_TRUE(diffs.ok()) << diffs.status().ToString();
  ASSERT_EQ(diffs->size(), 1u);
  const FamilyDiff& diff = (*diffs)[0];
  EXPECT_EQ(diff.family, "a");
  EXPECT_EQ(diff.differing_keys, 3u);  // counted in full
  ASSERT_EQ(diff.first_differences.size(), 2u);  // kept up to the limit
  EXPECT_EQ(diff.first_differences[0].key, "k0");
  EXPECT_EQ(diff.first_differences[0].kind, KeyDifference::Kind::kOnlyRight);
  EXPECT_EQ(diff.first_differences[0].right_value, "extra");
  EXPECT_EQ(diff.first_differences[1].key, "k1");
  EXPECT_EQ(diff.first_differences[1].kind, KeyDifference::Kind::kValueDiffers);
  EXPECT_EQ(diff.first_differences[1].left_value, "v1");
  EXPECT_EQ(diff.first_differences[1].right_value, "changed");
}

TEST_F(StoreDiffTest, SameBytesSplitDifferentlyDigestDifferently) {
  Put(left_.get(), "b", "ab", "c");
  Put(right_.get(), "b", "a", "bc");
  auto left = DigestFamilies(*left_, {"b"});
  auto right = DigestFamilies(*right_, {"b"});
  ASSERT_TRUE(left.ok() && right.ok());
  EXPECT_NE(left->combined, right->combined);
}

TEST_F(StoreDiffTest, MissingFamilyDigestsLikeEmptyOne) {
  auto missing = DigestFamilies(*left_, {"not_there"});
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(missing->families[0].keys, 0u);
  StateStoreOptions options;
  options.column_families = {"not_there"};
  auto with_empty = StateStore::Open(temp_.path() + "/empty", options);
  ASSERT_TRUE(with_empty.ok());
  auto empty = DigestFamilies(**with_empty, {"not_there"});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(missing->combined, empty->combined);
  auto diffs = DiffFamilies(*left_, **with_empty, {"not_there"});
  ASSERT_TRUE(diffs.ok());
  EXPECT_TRUE(diffs->empty());
}

TEST(PrintableBytesTest, EscapesAndCuts) {
  EXPECT_EQ(PrintableBytes(std::string("a\0\\b", 4)), "a\\x00\\x5cb");
  EXPECT_EQ(PrintableBytes("abcdef", 3), "abc...");
}

TEST(OffsetListTest, ParsesAndFormatsRoundTrip) {
  auto offsets = ParseOffsetList("jiritsu.learning:3:120,jiritsu.reference:0:7");
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  EXPECT_EQ(offsets->size(), 2u);
  EXPECT_EQ((*offsets)[(TopicPartition{"jiritsu.learning", 3})], 120);
  EXPECT_EQ(FormatOffsetList(*offsets), "jiritsu.learning:3:120,jiritsu.reference:0:7");
}

TEST(OffsetListTest, RejectsMalformedEntriesNamingThem) {
  for (const char* bad : {"", "jiritsu.learning:3", "jiritsu.learning:x:1", ":1:2",
                          "jiritsu.learning:-1:5", "jiritsu.learning:1:5z"}) {
    auto offsets = ParseOffsetList(bad);
    EXPECT_EQ(offsets.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_NE(ParseOffsetList("t:1:2,oops").status().message().find("oops"), std::string::npos);
}

TEST(OffsetListTest, ReadStoredOffsetsDecodesTheRuntimeEncoding) {
  testing::TempDir temp;
  auto store = StateStore::Open(temp.path() + "/s", {});
  ASSERT_TRUE(store.ok());
  StateBatch batch;
  batch.Put(kOffsetsFamily, OffsetKey({"jiritsu.employee", 300}), EncodeOffset(42));
  batch.Put(kOffsetsFamily, OffsetKey({"jiritsu.reference", 0}), EncodeOffset(7));
  ASSERT_TRUE((*store)->Write(&batch).ok());
  auto offsets = ReadStoredOffsets(**store);
  ASSERT_TRUE(offsets.ok()) << offsets.status().ToString();
  EXPECT_EQ(FormatOffsetList(*offsets), "jiritsu.employee:300:42,jiritsu.reference:0:7");
}

}  // namespace
}  // namespace jiritsu
