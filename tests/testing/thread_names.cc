#include "tests/testing/thread_names.h"

#include <filesystem>
#include <fstream>
#include <system_error>

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

}  // namespace jiritsu::testing
