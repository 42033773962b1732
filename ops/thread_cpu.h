// ThreadCpuSampler: CPU seconds per thread name over an interval (a bench
// phase), read from /proc/self/task/*/stat, so a report says which thread
// was busy (`jr-log-read`, `rocksdb:low`, ...; docs/operations.md, Threads).
//
// A background thread samples every `interval`; Stop() samples once more.
// A thread's figure is what it used since Start() (or since it started),
// as of the last sample that saw it: a thread that ends between samples
// loses at most one interval, and one that lives less than an interval may
// not be seen. A thread that renamed itself counts under its last name.
// Clock-tick resolution (10 ms on Linux).
//
// Lifecycle: Start(), then Stop() once; the destructor stops it.
// Thread-safety: Start/Stop/SampleNow from one thread. Failure: none
// reported; a thread whose stat cannot be read is left out (it ended).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace jiritsu {

// One of this process's threads, as /proc/self/task/<tid>/stat shows it.
struct ProcessThread {
  pid_t tid = 0;
  std::string name;
  double cpu_s = 0;  // user + system, since the thread started
};
// This process's threads now; one that ends while they are read is left
// out. Also what tests use to find threads by name.
std::vector<ProcessThread> ProcessThreads();

class ThreadCpuSampler {
 public:
  explicit ThreadCpuSampler(std::chrono::milliseconds interval = std::chrono::milliseconds(100))
      : interval_(interval) {}
  ~ThreadCpuSampler();
  ThreadCpuSampler(const ThreadCpuSampler&) = delete;
  ThreadCpuSampler& operator=(const ThreadCpuSampler&) = delete;

  void Start();
  // Takes a sample now (besides the periodic ones).
  void SampleNow();
  // CPU seconds per thread name since Start() (threads of one name summed),
  // leaving out the sampler's own thread.
  std::map<std::string, double> Stop();

 private:
  struct Seen {
    std::string name;
    double start_s = 0;   // CPU when first seen (0 for a thread started since)
    double latest_s = 0;  // CPU at the last sample that saw it
  };
  void SampleLocked(bool first);
  void Loop();

  static constexpr const char* kSamplerThreadName = "jr-cpu-sampler";
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::condition_variable stop_;
  std::map<pid_t, Seen> threads_;  // guarded by mutex_
  bool stopping_ = false;
  std::thread sampler_;
};

}  // namespace jiritsu
