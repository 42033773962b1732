#include "ops/thread_cpu.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/thread_name.h"

namespace jiritsu {
namespace {

// /proc/self/task/<tid>/stat: "tid (comm) state ..." with utime and stime
// the 14th and 15th fields; comm may hold spaces or parentheses, so the
// fields are counted from the last ')'.
bool ReadTaskStat(const std::filesystem::path& stat_path, ProcessThread* out) {
  std::ifstream in(stat_path);
  std::string line;
  if (!std::getline(in, line)) return false;
  const size_t open = line.find('(');
  const size_t close = line.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  out->name = line.substr(open + 1, close - open - 1);
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields 3..13 (state .. cmajflt), then utime (14) and stime (15).
  for (int i = 3; i <= 13; ++i) {
    if (!(fields >> field)) return false;
  }
  if (!(fields >> utime >> stime)) return false;
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  out->cpu_s = static_cast<double>(utime + stime) / (ticks > 0 ? ticks : 100.0);
  return true;
}

}  // namespace

std::vector<ProcessThread> ProcessThreads() {
  std::vector<ProcessThread> threads;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", error)) {
    const std::string file = task.path().filename().string();
    ProcessThread thread;
    if (std::from_chars(file.data(), file.data() + file.size(), thread.tid).ec != std::errc()) {
      continue;
    }
    if (ReadTaskStat(task.path() / "stat", &thread)) threads.push_back(std::move(thread));
  }
  return threads;
}

ThreadCpuSampler::~ThreadCpuSampler() {
  if (sampler_.joinable()) Stop();
}

void ThreadCpuSampler::Start() {
  std::lock_guard lock(mutex_);
  threads_.clear();
  stopping_ = false;
  SampleLocked(/*first=*/true);
  sampler_ = std::thread([this] {
    NameCurrentThread(kSamplerThreadName);
    Loop();
  });
}

void ThreadCpuSampler::SampleNow() {
  std::lock_guard lock(mutex_);
  SampleLocked(/*first=*/false);
}

std::map<std::string, double> ThreadCpuSampler::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (sampler_.joinable()) sampler_.join();
  std::lock_guard lock(mutex_);
  SampleLocked(/*first=*/false);
  std::map<std::string, double> by_name;
  for (const auto& [tid, seen] : threads_) {
    if (seen.name == kSamplerThreadName) continue;  // the measurement itself
    by_name[seen.name] += seen.latest_s - seen.start_s;
  }
  return by_name;
}

void ThreadCpuSampler::SampleLocked(bool first) {
  for (const ProcessThread& thread : ProcessThreads()) {
    auto [it, inserted] = threads_.try_emplace(thread.tid);
    if (inserted) it->second.start_s = first ? thread.cpu_s : 0;
    it->second.name = thread.name;
    it->second.latest_s = thread.cpu_s;
  }
}

void ThreadCpuSampler::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (stop_.wait_for(lock, interval_, [this] { return stopping_; })) break;
    SampleLocked(/*first=*/false);
  }
}

}  // namespace jiritsu
