#include "processors/recency_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace jiritsu::processors {
namespace {

using Map = RecencyMap<int>;

std::vector<std::string> OldestFirst(const Map& map) {
  std::vector<std::string> keys;
  for (Map::Node* node = map.LeastRecent(); node != nullptr; node = node->newer) {
    keys.push_back(node->key);
  }
  return keys;
}

std::vector<std::string> NewestFirst(const Map& map) {
  std::vector<std::string> keys;
  for (Map::Node* node = map.MostRecent(); node != nullptr; node = node->older) {
    keys.push_back(node->key);
  }
  return keys;
}

TEST(RecencyMapTest, AnEmptyMapFindsNothing) {
  Map map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.Find("E1"), nullptr);
  EXPECT_EQ(map.LeastRecent(), nullptr);
  EXPECT_EQ(map.MostRecent(), nullptr);
}

TEST(RecencyMapTest, InsertedKeysAreFoundWithTheirValuesAndNewestLast) {
  Map map;
  map.Insert("E1")->value = 1;
  map.Insert("E2")->value = 2;
  map.Insert("E3")->value = 3;
  ASSERT_EQ(map.size(), 3u);
  ASSERT_NE(map.Find("E2"), nullptr);
  EXPECT_EQ(map.Find("E2")->value, 2);
  EXPECT_EQ(map.Find("E2")->key, "E2");
  EXPECT_EQ(map.Find("E4"), nullptr);
  EXPECT_EQ(map.Find(""), nullptr);
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"E1", "E2", "E3"}));
  EXPECT_EQ(NewestFirst(map), (std::vector<std::string>{"E3", "E2", "E1"}));
}

TEST(RecencyMapTest, FindDoesNotReorderAndTouchMakesTheNodeNewest) {
  Map map;
  for (const char* key : {"a", "b", "c"}) map.Insert(key);
  ASSERT_NE(map.Find("a"), nullptr);
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"a", "b", "c"}));
  map.Touch(map.Find("a"));
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"b", "c", "a"}));
  map.Touch(map.Find("c"));  // from the middle
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"b", "a", "c"}));
  map.Touch(map.Find("c"));  // already the newest
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(NewestFirst(map), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(RecencyMapTest, ErasingAnyNodeKeepsTheRestFindableAndInOrder) {
  Map map;
  for (const char* key : {"a", "b", "c", "d"}) map.Insert(key);
  map.Erase(map.Find("a"));  // the oldest
  map.Erase(map.Find("d"));  // the newest
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(NewestFirst(map), (std::vector<std::string>{"c", "b"}));
  map.Erase(map.Find("b"));
  map.Erase(map.Find("c"));
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.LeastRecent(), nullptr);
  EXPECT_EQ(map.MostRecent(), nullptr);
  EXPECT_EQ(map.Find("b"), nullptr);
  map.Insert("b")->value = 7;  // the slots are reused
  EXPECT_EQ(map.Find("b")->value, 7);
}

TEST(RecencyMapTest, NodesStayPutWhileTheTableGrows) {
  Map map;
  Map::Node* first = map.Insert("first");
  first->value = 42;
  for (int i = 0; i < 10'000; ++i) map.Insert("E" + std::to_string(i))->value = i;
  EXPECT_EQ(map.Find("first"), first);
  EXPECT_EQ(first->value, 42);
  EXPECT_EQ(map.LeastRecent(), first);
  for (int i = 0; i < 10'000; i += 997) EXPECT_EQ(map.Find("E" + std::to_string(i))->value, i);
}

// Against std::map as the model: random inserts, erases, touches and finds
// on few keys, so probe runs collide, wrap and shift back on erasure.
uint64_t HashOf(std::string_view key) { return std::hash<std::string_view>{}(key); }

TEST(RecencyMapTest, PeekNodeFindsANodeByItsHashAndChangesNothing) {
  Map map;
  EXPECT_EQ(map.PeekNode(HashOf("E1")), nullptr);
  map.PrefetchSlot(HashOf("E1"));  // an empty table: nothing to prefetch
  for (const char* key : {"E1", "E2", "E3", "E4"}) map.Insert(key);
  for (const char* key : {"E1", "E2", "E3", "E4"}) {
    map.PrefetchSlot(HashOf(key));
    EXPECT_EQ(map.PeekNode(HashOf(key)), map.Find(key)) << key;
  }
  EXPECT_EQ(map.PeekNode(HashOf("E5")), nullptr);
  EXPECT_EQ(OldestFirst(map), (std::vector<std::string>{"E1", "E2", "E3", "E4"}))
      << "peeking reordered the recency list";
  map.Erase(map.Find("E2"));
  EXPECT_EQ(map.PeekNode(HashOf("E2")), nullptr);
  EXPECT_EQ(map.PeekNode(HashOf("E3")), map.Find("E3"));
}

TEST(RecencyMapTest, RandomOperationsAgreeWithAModel) {
  Map map;
  std::map<std::string, int> model;
  std::vector<std::string> recency;  // oldest first
  std::mt19937 random(20261125);
  for (int step = 0; step < 200'000; ++step) {
    const std::string key = "k" + std::to_string(random() % 300);
    Map::Node* node = map.Find(key);
    const bool present = model.count(key) > 0;
    ASSERT_EQ(node != nullptr, present) << "step " << step << " key " << key;
    // No two of these 300 keys share a hash: a peek finds what Find finds,
    // also after erasures have shifted slots back.
    ASSERT_EQ(map.PeekNode(HashOf(key)), node) << "step " << step << " key " << key;
    if (present) {
      ASSERT_EQ(node->value, model[key]) << "step " << step;
    }
    const auto in_recency = std::find(recency.begin(), recency.end(), key);
    switch (random() % 3) {
      case 0:
        if (!present) {
          map.Insert(key)->value = step;
          model[key] = step;
          recency.push_back(key);
        }
        break;
      case 1:
        if (present) {
          map.Erase(node);
          model.erase(key);
          recency.erase(in_recency);
        }
        break;
      default:
        if (present) {
          map.Touch(node);
          recency.erase(in_recency);
          recency.push_back(key);
        }
    }
    ASSERT_EQ(map.size(), model.size());
    if (step % 1000 == 0) {
      ASSERT_EQ(OldestFirst(map), recency) << "step " << step;
    }
  }
  for (const auto& [key, value] : model) {
    ASSERT_NE(map.Find(key), nullptr) << key;
    EXPECT_EQ(map.Find(key)->value, value);
  }
  EXPECT_EQ(OldestFirst(map), recency);
  map.Clear();
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.Find(recency.empty() ? "k0" : recency.front()), nullptr);
}

}  // namespace
}  // namespace jiritsu::processors
