// libFuzzer entry point for one target of tests/testing/fuzz_targets.h; the
// target name is compiled in (JIRITSU_FUZZ_TARGET). Built only by
// tests/fuzz/CMakeLists.txt (JIRITSU_FUZZ=ON, clang), see ops/fuzz.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/testing/fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  jiritsu::fuzzing::RunFuzzTarget(JIRITSU_FUZZ_TARGET,
                                  std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
