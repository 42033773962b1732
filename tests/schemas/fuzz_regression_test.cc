// Replays every input kept in tests/fuzz-regressions/<target>/ (inputs that
// once crashed a decoder or broke a round-trip property, plus hand-written
// edge cases) through the fuzz target bodies, with the normal compiler: a
// decoder regression aborts this test. New crash inputs from ops/fuzz go
// there once fixed (named after what they exercise).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tests/testing/fuzz_targets.h"

namespace jiritsu {
namespace {

TEST(FuzzRegressionTest, EveryKeptInputPassesItsTarget) {
  const std::filesystem::path root =
      std::filesystem::path(JIRITSU_SOURCE_DIR) / "tests" / "fuzz-regressions";
  int inputs = 0;
  for (const std::string& target : fuzzing::FuzzTargetNames()) {
    const std::filesystem::path dir = root / target;
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      ASSERT_TRUE(fuzzing::RunFuzzTarget(target, bytes));
      ++inputs;
    }
  }
  EXPECT_GT(inputs, 0);
  std::printf("[fuzz-regressions] %d inputs replayed\n", inputs);
}

TEST(FuzzRegressionTest, UnknownTargetIsRefused) {
  EXPECT_FALSE(fuzzing::RunFuzzTarget("no-such-target", "x"));
}

}  // namespace
}  // namespace jiritsu
