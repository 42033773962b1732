#include "tests/testing/thread_names.h"

#include <thread>

#include "ops/thread_cpu.h"

namespace jiritsu::testing {

std::vector<pid_t> ThreadIdsNamed(const std::string& name) {
  std::vector<pid_t> ids;
  for (const ProcessThread& thread : ProcessThreads()) {
    if (thread.name == name) ids.push_back(thread.tid);
  }
  return ids;
}

size_t CountOfThreadsNamedOnceItIs(const std::string& name, size_t expected,
                                   std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  size_t count = ThreadIdsNamed(name).size();
  while (count != expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    count = ThreadIdsNamed(name).size();
  }
  return count;
}

}  // namespace jiritsu::testing
