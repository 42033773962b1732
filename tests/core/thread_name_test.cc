// Thread names (core/thread_name.h): the helper, and the threads a
// bulk-loading store starts.
#include "core/thread_name.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "core/state_store.h"
#include "tests/testing/thread_names.h"

namespace jiritsu {
namespace {

TEST(ThreadNameTest, NamesTheCallingThreadOnlyAndCutsLongNames) {
  const std::string own = CurrentThreadName();
  std::string named, cut;
  std::thread([&] {
    NameCurrentThread("jr-test");
    named = CurrentThreadName();
    NameCurrentThread("jr-a-name-longer-than-fifteen-bytes");
    cut = CurrentThreadName();
  }).join();
  EXPECT_EQ(named, "jr-test");
  EXPECT_EQ(cut, "jr-a-name-longe");
  EXPECT_EQ(cut.size(), kMaxThreadNameBytes);
  EXPECT_EQ(CurrentThreadName(), own) << "another thread's name changed this one's";
}

TEST(ThreadNameTest, ABulkLoadingStoresSpillWriterIsNamedWhileTheStoreIsOpen) {
  const auto dir = std::filesystem::path(::testing::TempDir()) /
                   ("jiritsu_thread_name_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const size_t before = testing::ThreadIdsNamed("jr-spill").size();
  {
    StateStoreOptions options;
    options.column_families = {"views"};
    options.disable_wal = true;  // a rebuild's store: spills on a writer thread
    auto store = StateStore::Open(dir.string(), options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(testing::CountOfThreadsNamedOnceItIs("jr-spill", before + 1), before + 1);
  }
  EXPECT_EQ(testing::CountOfThreadsNamedOnceItIs("jr-spill", before), before);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace jiritsu
