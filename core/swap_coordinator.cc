#include "core/swap_coordinator.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "core/logging.h"
#include "core/thread_name.h"

namespace jiritsu {
namespace fs = std::filesystem;
namespace {

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("swap");
  return logger;
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

bool Exists(const std::string& path) {
  std::error_code error;
  return fs::exists(path, error);
}

Status Remove(const std::string& path) {
  std::error_code error;
  fs::remove(path, error);
  if (error) return IOError("remove " + path + ": " + error.message());
  return Status::Ok();
}

// "key=value" lines; NotFound when the file does not exist.
Result<std::map<std::string, std::string>> ReadKeyValues(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + " does not exist");
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return values;
}

Result<int64_t> IntField(const std::map<std::string, std::string>& values, const std::string& key,
                         const std::string& path) {
  auto it = values.find(key);
  if (it == values.end()) return Corruption(path + ": missing " + key);
  try {
    size_t used = 0;
    const long long value = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument(it->second);
    return static_cast<int64_t>(value);
  } catch (const std::exception&) {
    return Corruption(path + ": " + key + " is not a number: \"" + it->second + "\"");
  }
}

// The process named by a pid/host file is alive (another host: assumed).
bool OwnerAlive(const std::map<std::string, std::string>& values) {
  auto host = values.find("host");
  if (host != values.end() && host->second != HostName()) return true;
  auto pid = values.find("pid");
  if (pid == values.end()) return false;
  try {
    return ProcessAlive(static_cast<pid_t>(std::stol(pid->second)));
  } catch (const std::exception&) {
    return false;
  }
}

std::string OwnerLines() {
  return "pid=" + std::to_string(::getpid()) + "\nhost=" + HostName() + "\n";
}

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

Status SwapCoordinator::MarkRunning() {
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) return IOError("create " + root_ + ": " + error.message());
  auto existing = ReadKeyValues(PathOf(kRunningFile));
  if (existing.ok() && OwnerAlive(*existing) &&
      (*existing)["pid"] != std::to_string(::getpid())) {
    return FailedPrecondition("views in " + root_ + " are already served by process " +
                              (*existing)["pid"] + " on " + (*existing)["host"]);
  }
  return WriteFileAtomically(PathOf(kRunningFile), OwnerLines());
}

Status SwapCoordinator::ClearRunning() {
  auto existing = ReadKeyValues(PathOf(kRunningFile));
  if (!existing.ok()) return Status::Ok();
  if ((*existing)["pid"] != std::to_string(::getpid())) return Status::Ok();
  return Remove(PathOf(kRunningFile));
}

bool SwapCoordinator::SwapRequested() const { return Exists(PathOf(kSwapRequestFile)); }

Result<SwapOutcome> SwapCoordinator::AcknowledgeAndWait(int released_generation,
                                                        const std::atomic<bool>* stop,
                                                        std::chrono::milliseconds poll) {
  const std::string request_path = PathOf(kSwapRequestFile);
  const std::string ready_path = PathOf(kSwapReadyFile);
  const std::string done_path = PathOf(kSwapDoneFile);
  auto request = ReadKeyValues(request_path);
  if (!request.ok()) return SwapOutcome{false, 0, "swap request withdrawn"};
  JIRITSU_RETURN_IF_ERROR(WriteFileAtomically(
      ready_path, "generation=" + std::to_string(released_generation) + "\n" + OwnerLines()));
  Logger()->info("swap requested (generation {}): released generation {}, waiting",
                 (*request)["generation"], released_generation);
  for (;;) {
    // REQUEST before DONE: the replay writes DONE before removing REQUEST,
    // so a vanished request with no DONE really is an abort.
    const bool request_present = Exists(request_path);
    auto done = ReadKeyValues(done_path);
    if (done.ok()) {
      SwapOutcome outcome;
      outcome.promoted = (*done)["result"] == "promoted";
      auto generation = IntField(*done, "generation", done_path);
      outcome.generation = generation.ok() ? static_cast<int>(*generation) : 0;
      outcome.reason = (*done)["reason"];
      JIRITSU_RETURN_IF_ERROR(Remove(done_path));
      JIRITSU_RETURN_IF_ERROR(Remove(ready_path));
      Logger()->info("swap {}: generation {} {}", outcome.promoted ? "done" : "aborted",
                     outcome.generation, outcome.reason);
      return outcome;
    }
    if (!request_present) {
      JIRITSU_RETURN_IF_ERROR(Remove(ready_path));
      return SwapOutcome{false, 0, "swap request withdrawn"};
    }
    if (!OwnerAlive(*request)) {
      JIRITSU_RETURN_IF_ERROR(Remove(request_path));
      JIRITSU_RETURN_IF_ERROR(Remove(ready_path));
      return SwapOutcome{false, 0, "replay process " + (*request)["pid"] + " died"};
    }
    if (stop != nullptr && stop->load()) {
      JIRITSU_RETURN_IF_ERROR(Remove(ready_path));
      return SwapOutcome{false, 0, "runner stopping"};
    }
    std::this_thread::sleep_for(poll);
  }
}

Result<bool> SwapCoordinator::RunnerActive() const {
  auto running = ReadKeyValues(PathOf(kRunningFile));
  if (!running.ok()) return false;
  return OwnerAlive(*running);
}

Status SwapCoordinator::RequestSwap(int generation) {
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) return IOError("create " + root_ + ": " + error.message());
  // Leftovers of an interrupted handshake would answer for this one.
  JIRITSU_RETURN_IF_ERROR(Remove(PathOf(kSwapDoneFile)));
  JIRITSU_RETURN_IF_ERROR(Remove(PathOf(kSwapReadyFile)));
  return WriteFileAtomically(PathOf(kSwapRequestFile),
                             "generation=" + std::to_string(generation) + "\n" + OwnerLines());
}

Status SwapCoordinator::WaitForReady(std::chrono::milliseconds timeout,
                                     const std::atomic<bool>* stop) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (Exists(PathOf(kSwapReadyFile))) return Status::Ok();
    JIRITSU_ASSIGN_OR_RETURN(bool active, RunnerActive());
    if (!active) return Unavailable("the runner of " + root_ + " exited before acknowledging");
    if (stop != nullptr && stop->load()) return FailedPrecondition("stopped while waiting for the runner");
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceeded("the runner of " + root_ + " did not acknowledge the swap within " +
                              std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool SwapCoordinator::ReadyPresent() const { return Exists(PathOf(kSwapReadyFile)); }

Status SwapCoordinator::FinishSwap(int generation, bool acknowledged) {
  if (acknowledged) {
    JIRITSU_RETURN_IF_ERROR(WriteFileAtomically(
        PathOf(kSwapDoneFile), "result=promoted\ngeneration=" + std::to_string(generation) + "\n"));
  }
  return Remove(PathOf(kSwapRequestFile));
}

Status SwapCoordinator::AbortSwap(const std::string& reason, bool acknowledged) {
  if (acknowledged) {
    std::string one_line = reason;
    for (char& c : one_line) {
      if (c == '\n') c = ' ';
    }
    JIRITSU_RETURN_IF_ERROR(WriteFileAtomically(
        PathOf(kSwapDoneFile), "result=aborted\ngeneration=0\nreason=" + one_line + "\n"));
  }
  return Remove(PathOf(kSwapRequestFile));
}

Status RunServingSwaps(const std::string& views_root, const RuntimeMaker& make_runtime,
                       const std::atomic<bool>& stop) {
  SwapCoordinator swap(views_root);
  ViewGenerations generations(views_root);
  JIRITSU_RETURN_IF_ERROR(swap.MarkRunning());
  // Shadows of replays killed before promoting: never served, only disk.
  Result<std::vector<int>> removed = generations.RemoveUnfinished(/*replay_lock_held=*/false);
  if (!removed.ok()) {
    swap.ClearRunning().IgnoreError();
    return removed.status().WithContext("removing unfinished generations");
  }
  for (int generation : *removed) {
    Logger()->info("removed unfinished generation {} (left by a killed replay)", generation);
  }
  Status result;
  while (!stop.load()) {
    JIRITSU_ASSIGN_OR_RETURN(int current, generations.Current());
    if (swap.SwapRequested()) {
      auto outcome = swap.AcknowledgeAndWait(current, &stop);
      if (!outcome.ok()) {
        result = outcome.status();
        break;
      }
      continue;  // reopen whatever CURRENT names now
    }
    auto dir = generations.CurrentDirOrCreate();
    if (!dir.ok()) {
      result = dir.status();
      break;
    }
    auto runtime = make_runtime(*dir);
    if (!runtime.ok()) {
      result = runtime.status().WithContext("open views " + *dir);
      break;
    }
    std::atomic<bool> finished{false};
    ProjectionRuntime* running = runtime->get();
    std::thread watcher([&] {
      NameCurrentThread("jr-swap-watch");
      while (!finished.load()) {
        if (stop.load() || swap.SwapRequested()) {
          running->Stop();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    Status status = (*runtime)->Run();
    finished.store(true);
    watcher.join();
    runtime->reset();  // closes the store: the replay may now take it
    if (!status.ok()) {
      result = status;
      break;
    }
    if (!stop.load() && !swap.SwapRequested()) break;  // the runtime finished on its own
  }
  Status cleared = swap.ClearRunning();
  if (result.ok()) return cleared;
  return result;
}

}  // namespace jiritsu
