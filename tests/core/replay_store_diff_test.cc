// Store digests and diffs (core/store_diff.h) and the offset-list helpers of
// core/replay.h.
#include <gtest/gtest.h>
#include <sodium.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/projection_runtime.h"
#include "core/replay.h"
#include "core/store_diff.h"
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

// The definition in core/store_diff.h, computed here one family after
// another: digesting families side by side must not change a byte of it.
std::string Hex(const unsigned char* bytes, size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, size);
  out.resize(size * 2);
  return out;
}
void HashSized(crypto_generichash_state* state, std::string_view bytes) {
  const uint32_t size = static_cast<uint32_t>(bytes.size());
  const unsigned char prefix[4] = {
      static_cast<unsigned char>(size >> 24), static_cast<unsigned char>(size >> 16),
      static_cast<unsigned char>(size >> 8), static_cast<unsigned char>(size)};
  crypto_generichash_update(state, prefix, sizeof(prefix));
  crypto_generichash_update(state, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

// Several families with rows of many sizes, read through a reader that
// records which thread read which row.
class StoreDigestTest : public ::testing::Test {
 protected:
  static constexpr int kFamilies = 7;
  static constexpr int kRows = 300;
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    StateStoreOptions options;
    for (int f = 0; f < kFamilies; ++f) options.column_families.push_back(FamilyName(f));
    auto store = StateStore::Open(temp_.path() + "/store", options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    StateBatch batch;
    for (int f = 0; f < kFamilies; ++f) {
      for (int r = 0; r < kRows * (f + 1) / 2; ++r) {  // families of different sizes
        batch.Put(FamilyName(f), "row" + std::to_string(1000 + r), std::string(r % 97, 'a' + f));
      }
    }
    ASSERT_TRUE(store_->Write(&batch).ok());
  }
  // Listed in reverse, so the digest must sort them itself.
  static std::string FamilyName(int f) { return "family" + std::to_string(kFamilies - f); }
  static std::vector<std::string> AllFamilies() {
    std::vector<std::string> names;
    for (int f = 0; f < kFamilies; ++f) names.push_back(FamilyName(f));
    return names;
  }
  testing::TempDir temp_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(StoreDigestTest, DigestIsTheDefinedHashOfEveryFamilysRowsWhateverTheThreads) {
  std::vector<std::string> sorted = AllFamilies();
  std::sort(sorted.begin(), sorted.end());
  crypto_generichash_state combined;
  crypto_generichash_init(&combined, nullptr, 0, 32);
  std::vector<std::string> family_hex;
  for (const std::string& family : sorted) {
    crypto_generichash_state state;
    crypto_generichash_init(&state, nullptr, 0, 32);
    auto it = store_->NewIterator(family);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      HashSized(&state, it->key());
      HashSized(&state, it->value());
    }
    ASSERT_TRUE(it->status().ok());
    unsigned char bytes[32];
    crypto_generichash_final(&state, bytes, sizeof(bytes));
    family_hex.push_back(Hex(bytes, sizeof(bytes)));
    HashSized(&combined, family);
    crypto_generichash_update(&combined, bytes, sizeof(bytes));
  }
  unsigned char bytes[32];
  crypto_generichash_final(&combined, bytes, sizeof(bytes));
  const std::string expected = Hex(bytes, sizeof(bytes));
  for (int run = 0; run < 5; ++run) {
    auto digest = DigestFamilies(*store_, AllFamilies());
    ASSERT_TRUE(digest.ok()) << digest.status().ToString();
    EXPECT_EQ(digest->combined, expected);
    ASSERT_EQ(digest->families.size(), sorted.size());
    for (size_t i = 0; i < sorted.size(); ++i) {
      EXPECT_EQ(digest->families[i].family, sorted[i]);
      EXPECT_EQ(digest->families[i].digest, family_hex[i]) << sorted[i];
    }
  }
}

TEST_F(StoreDigestTest, EachFamilysRowsAreReadByOneThreadInKeyOrder) {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> keys_read;
  std::map<std::string, std::set<std::thread::id>> threads_of;
  RowReader reader = [&](std::string_view family, std::string_view key,
                         std::string_view value) -> Result<std::optional<std::string>> {
    std::lock_guard<std::mutex> lock(mu);
    keys_read[std::string(family)].emplace_back(key);
    threads_of[std::string(family)].insert(std::this_thread::get_id());
    return std::optional<std::string>(value);
  };
  auto read = DigestFamilies(*store_, AllFamilies(), {}, reader);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto plain = DigestFamilies(*store_, AllFamilies());
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(read->combined, plain->combined);  // the reader changed no value
  ASSERT_EQ(keys_read.size(), static_cast<size_t>(kFamilies));
  for (const auto& [family, keys] : keys_read) {
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end())) << family;
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), keys.size()) << family;
    EXPECT_EQ(threads_of[family].size(), 1u) << family;
  }
}

TEST_F(StoreDigestTest, TheFirstFailingFamilyInNameOrderIsReported) {
  // family2 and family5 fail; family2 sorts first, and fails last.
  RowReader reader = [](std::string_view family, std::string_view key,
                        std::string_view value) -> Result<std::optional<std::string>> {
    if ((family == "family2" || family == "family5") && key == "row1001") {
      if (family == "family2") std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return Corruption("row " + std::string(key) + " of " + std::string(family) + " unreadable");
    }
    return std::optional<std::string>(value);
  };
  for (int run = 0; run < 5; ++run) {
    auto digest = DigestFamilies(*store_, AllFamilies(), {}, reader);
    ASSERT_FALSE(digest.ok());
    EXPECT_EQ(digest.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(digest.status().message(), "row row1001 of family2 unreadable");
  }
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
