#include "core/view_generations.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace jiritsu {
namespace fs = std::filesystem;

namespace {

Status ErrnoStatus(const std::string& what, const std::string& path) {
  return IOError(what + " " + path + ": " + std::strerror(errno));
}

Status SyncPath(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return ErrnoStatus("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync", path);
  return Status::Ok();
}


// REPLAY-LOCK taken without waiting, released on destruction. `held` is
// false when another process (a replay) holds it.
class ReplayRootLock {
 public:
  static Result<std::unique_ptr<ReplayRootLock>> TryAcquire(const std::string& root) {
    const std::string path = root + "/" + kReplayLockFile;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return ErrnoStatus("open", path);
    auto lock = std::unique_ptr<ReplayRootLock>(new ReplayRootLock(fd, path));
    lock->held_ = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    return lock;
  }
  ~ReplayRootLock() {
    if (held_) ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  bool held() const { return held_; }
  const std::string& path() const { return path_; }

 private:
  ReplayRootLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
  bool held_ = false;
};
}  // namespace

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp";
  {
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return ErrnoStatus("create", temp);
    size_t written = 0;
    while (written < content.size()) {
      ssize_t n = ::write(fd, content.data() + written, content.size() - written);
      if (n < 0) {
        ::close(fd);
        return ErrnoStatus("write", temp);
      }
      written += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      ::close(fd);
      return ErrnoStatus("fsync", temp);
    }
    ::close(fd);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename to", path);
  return SyncPath(fs::path(path).parent_path().string(), /*directory=*/true);
}

Result<int> ViewGenerations::ReadNumberFile(const std::string& name) const {
  const std::string path = root_ + "/" + name;
  std::ifstream in(path);
  if (!in) return 0;
  std::string text;
  std::getline(in, text);
  try {
    size_t used = 0;
    int value = std::stoi(text, &used);
    if (used == 0 || value < 0) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    return Corruption(path + ": expected a generation number, got \"" + text + "\"");
  }
}

Status ViewGenerations::WriteNumberFile(const std::string& name, int value) const {
  return WriteFileAtomically(root_ + "/" + name, std::to_string(value) + "\n");
}

Result<int> ViewGenerations::Current() const { return ReadNumberFile("CURRENT"); }
Result<int> ViewGenerations::Previous() const { return ReadNumberFile("PREVIOUS"); }

std::string ViewGenerations::DirFor(int generation) const {
  char name[32];
  std::snprintf(name, sizeof(name), "gen-%06d", generation);
  return root_ + "/" + name;
}

Result<std::string> ViewGenerations::CurrentDirOrCreate() {
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) return IOError("create " + root_ + ": " + error.message());
  JIRITSU_ASSIGN_OR_RETURN(int current, Current());
  if (current == 0) {
    current = 1;
    JIRITSU_RETURN_IF_ERROR(WriteNumberFile("CURRENT", current));
  }
  return DirFor(current);
}

std::vector<int> ViewGenerations::List() const {
  std::vector<int> generations;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("gen-", 0) == 0 && entry.is_directory()) {
      try {
        generations.push_back(std::stoi(name.substr(4)));
      } catch (const std::exception&) {
      }
    }
  }
  std::sort(generations.begin(), generations.end());
  return generations;
}

Result<int> ViewGenerations::NextGeneration() const {
  JIRITSU_ASSIGN_OR_RETURN(int current, Current());
  int next = current + 1;
  for (int generation : List()) next = std::max(next, generation + 1);
  return next;
}

Status ViewGenerations::Promote(int generation) {
  if (!fs::is_directory(DirFor(generation))) {
    return NotFound("generation " + std::to_string(generation) + " does not exist at " +
                    DirFor(generation));
  }
  JIRITSU_ASSIGN_OR_RETURN(int current, Current());
  if (current == generation) return Status::Ok();
  // PREVIOUS first: if we crash between the two renames, CURRENT is still the
  // old generation and PREVIOUS merely points at it too.
  if (current > 0) JIRITSU_RETURN_IF_ERROR(WriteNumberFile("PREVIOUS", current));
  return WriteNumberFile("CURRENT", generation);
}

Status ViewGenerations::Rollback() {
  JIRITSU_ASSIGN_OR_RETURN(int previous, Previous());
  if (previous == 0) return FailedPrecondition("no previous generation to roll back to in " + root_);
  JIRITSU_ASSIGN_OR_RETURN(int current, Current());
  if (!fs::is_directory(DirFor(previous))) {
    return NotFound("previous generation " + std::to_string(previous) + " was pruned");
  }
  JIRITSU_RETURN_IF_ERROR(WriteNumberFile("CURRENT", previous));
  return WriteNumberFile("PREVIOUS", current);
}

Result<std::vector<int>> ViewGenerations::Prune() const {
  std::vector<int> removed;
  std::error_code error;
  if (!fs::is_directory(root_, error)) return removed;
  JIRITSU_ASSIGN_OR_RETURN(auto lock, ReplayRootLock::TryAcquire(root_));
  if (!lock->held()) {
    // The generation a replay is building is not yet marked anywhere we
    // could skip it by: never prune under a running replay.
    return FailedPrecondition("a replay is working on " + root_ + " (" + lock->path() +
                              " is locked): prune after it finished");
  }
  JIRITSU_ASSIGN_OR_RETURN(const int current, Current());
  JIRITSU_ASSIGN_OR_RETURN(const int previous, Previous());
  for (int generation : List()) {
    if (generation == current || generation == previous) continue;
    fs::remove_all(DirFor(generation), error);
    if (error) return IOError("remove " + DirFor(generation) + ": " + error.message());
    fs::remove(DirFor(generation) + ".unfinished", error);  // a leftover mark, if any
    removed.push_back(generation);
  }
  return removed;
}

namespace {
constexpr char kUnfinishedSuffix[] = ".unfinished";
}  // namespace

Status ViewGenerations::MarkUnfinished(int generation) const {
  std::error_code error;
  fs::create_directories(root_, error);
  if (error) return IOError("create " + root_ + ": " + error.message());
  return WriteFileAtomically(DirFor(generation) + kUnfinishedSuffix, "being built\n");
}

Status ViewGenerations::ClearUnfinished(int generation) const {
  std::error_code error;
  fs::remove(DirFor(generation) + kUnfinishedSuffix, error);
  if (error) return IOError("remove " + DirFor(generation) + kUnfinishedSuffix + ": " + error.message());
  return Status::Ok();
}

Result<std::vector<int>> ViewGenerations::RemoveUnfinished(bool replay_lock_held) const {
  std::vector<int> removed;
  std::error_code error;
  if (!fs::is_directory(root_, error)) return removed;
  std::unique_ptr<ReplayRootLock> lock;
  if (!replay_lock_held) {
    JIRITSU_ASSIGN_OR_RETURN(lock, ReplayRootLock::TryAcquire(root_));
    // A replay is working on the root: its mark is not a leftover.
    if (!lock->held()) return removed;
  }
  JIRITSU_ASSIGN_OR_RETURN(const int current, Current());
  JIRITSU_ASSIGN_OR_RETURN(const int previous, Previous());
  std::vector<int> marked;
  for (const auto& entry : fs::directory_iterator(root_, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("gen-", 0) != 0 || !name.ends_with(kUnfinishedSuffix)) continue;
    const std::string digits = name.substr(4, name.size() - 4 - std::strlen(kUnfinishedSuffix));
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
      continue;
    }
    marked.push_back(std::stoi(digits));
  }
  if (error) return IOError("list " + root_ + ": " + error.message());
  std::sort(marked.begin(), marked.end());
  for (int generation : marked) {
    if (generation != current && generation != previous) {
      fs::remove_all(DirFor(generation), error);
      if (error) return IOError("remove " + DirFor(generation) + ": " + error.message());
      removed.push_back(generation);
    }
    JIRITSU_RETURN_IF_ERROR(ClearUnfinished(generation));
  }
  return removed;
}

std::vector<std::string> ViewGenerations::ListSnapshots() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(SnapshotsDir(), error)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace jiritsu
