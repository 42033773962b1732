#include "tests/testing/thread_names.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

namespace jiritsu::testing {

std::vector<pid_t> ThreadIdsNamed(const std::string& name) {
  std::vector<pid_t> ids;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (!std::getline(comm, line) || line != name) continue;
    ids.push_back(static_cast<pid_t>(std::stoi(task.path().filename().string())));
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
