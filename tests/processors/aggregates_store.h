// Test helpers for GlobalAggregates on a store of its own: a store with the
// families the aggregates write, and a family read back whole.
// Thread-safety: as StateStore. Failure: reported as test failures (EXPECT).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/state_store.h"
#include "processors/aggregates.h"

namespace jiritsu::processors::testing {

// A new (or reopened) store in `dir` with the facts, KPI and org-index
// families; nullptr after a failed EXPECT when it cannot be opened.
inline std::unique_ptr<StateStore> OpenAggregatesStore(const std::string& dir) {
  StateStoreOptions options;
  options.column_families = {std::string(kFactsFamily), std::string(kKpiFamily),
                             std::string(kOrgIndexFamily)};
  auto store = StateStore::Open(dir, options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Every key and value of `family`.
inline std::map<std::string, std::string> ReadFamily(const StateStore& store,
                                                     std::string_view family) {
  std::map<std::string, std::string> rows;
  auto it = store.NewIterator(family);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rows[std::string(it->key())] = std::string(it->value());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return rows;
}

}  // namespace jiritsu::processors::testing
