#include "core/key_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/thread_name.h"

namespace jiritsu {
namespace {

constexpr std::string_view kKeyMagic = "JKEY";
constexpr unsigned char kKeyFormat = 1;
constexpr size_t kKeyFileBytes = 4 + 1 + kEmployeeKeyBytes;
constexpr std::string_view kTombstoneText = "erased\n";

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

bool IsValidEmployeeId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status CheckEmployee(std::string_view employee) {
  if (!IsValidEmployeeId(employee)) {
    return InvalidArgument("key store: \"" + std::string(employee.substr(0, 160)) +
                           "\" is not an employee id");
  }
  return Status::Ok();
}

Status FsyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IOError(Errno("cannot open directory", dir));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return IOError(Errno("cannot fsync directory", dir));
  return Status::Ok();
}

// Temporary files open at once while PublishFiles makes them durable.
constexpr size_t kFilesPerSync = 256;
// Threads (this one included) fsyncing the temporary files of a batch.
constexpr size_t kFsyncThreads = 8;

// Writes `bytes` to a new unique temporary file in `dir` and starts its
// writeback; returns its descriptor (still open: the caller fsyncs and
// closes it) and sets `path`. On failure nothing is left behind.
Result<int> WriteTemp(const std::string& dir, std::string_view bytes, std::string* path) {
  static std::atomic<uint64_t> counter{0};
  *path = dir + "/.tmp-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter.fetch_add(1)) + "-" + std::to_string(randombytes_random());
  const int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IOError(Errno("cannot create", *path));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status error = IOError(Errno("cannot write", *path));
      ::close(fd);
      ::unlink(path->c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  // Only a hint (errors surface at fsync): with the writeback of every file
  // of a batch started before the first fsync waits, the file system commits
  // them together instead of one journal commit per file.
  ::sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
  return fd;
}

// A file to bring into the key directory under `path`.
struct NewFile {
  std::string path;
  std::string bytes;  // zeroed once written (keys are secrets)
};

// The one way files enter the key directory: every file is written to a
// temporary name and fsynced, linked to its name without replacing (EEXIST:
// the file already there stays, so the first linked wins across processes),
// its temporary name removed, and then the directory is fsynced once, so on
// success every name is durable. `what` names the kind of file in errors. On
// an error the temporary files are removed; names linked before it stay.
Status PublishFiles(const std::string& dir, std::span<NewFile> files, std::string_view what) {
  std::vector<std::string> temps;
  temps.reserve(files.size());
  std::vector<int> open_fds;
  auto clean_up = [&] {
    for (int fd : open_fds) ::close(fd);
    open_fds.clear();
    for (const std::string& temp : temps) ::unlink(temp.c_str());
  };
  // Written in groups (bounded open files): all of a group, then its fsyncs.
  for (size_t from = 0; from < files.size(); from += kFilesPerSync) {
    const size_t to = std::min(files.size(), from + kFilesPerSync);
    for (size_t i = from; i < to; ++i) {
      std::string temp;
      Result<int> fd = WriteTemp(dir, files[i].bytes, &temp);
      sodium_memzero(files[i].bytes.data(), files[i].bytes.size());
      if (!fd.ok()) {
        clean_up();
        return fd.status();
      }
      temps.push_back(std::move(temp));
      open_fds.push_back(*fd);
    }
    // Concurrent fsyncs share journal commits (ext4, xfs): one thread per
    // file would make a batch of new keys cost about one commit instead of
    // one per key; a few threads get most of that.
    std::vector<int> fsync_errno(open_fds.size(), 0);
    std::atomic<size_t> next{0};
    auto fsync_some = [&] {
      for (size_t k = next.fetch_add(1); k < open_fds.size(); k = next.fetch_add(1)) {
        if (::fsync(open_fds[k]) != 0) fsync_errno[k] = errno;
      }
    };
    std::vector<std::thread> helpers;
    for (size_t t = 1; t < std::min(kFsyncThreads, open_fds.size()); ++t) {
      helpers.emplace_back([&fsync_some] {
        NameCurrentThread("jr-fsync");
        fsync_some();
      });
    }
    fsync_some();
    for (std::thread& helper : helpers) helper.join();
    for (size_t k = 0; k < open_fds.size(); ++k) {
      if (fsync_errno[k] != 0) {
        errno = fsync_errno[k];
        const Status error = IOError(Errno("cannot fsync", temps[from + k]));
        clean_up();
        return error;
      }
    }
    Status closed;
    for (size_t k = 0; k < open_fds.size(); ++k) {
      // close(2) releases the descriptor even when it fails.
      if (::close(open_fds[k]) != 0 && closed.ok()) {
        closed = IOError(Errno("cannot close", temps[from + k]));
      }
    }
    open_fds.clear();
    if (!closed.ok()) {
      clean_up();
      return closed;
    }
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (::link(temps[i].c_str(), files[i].path.c_str()) != 0 && errno != EEXIST) {
      const Status error = IOError(Errno("cannot create " + std::string(what), files[i].path));
      clean_up();
      return error;
    }
  }
  clean_up();
  return FsyncDir(dir);
}

// Reads a whole small file; kNotFound when it does not exist.
Status ReadSmallFile(const std::string& path, std::string* out, size_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NotFound(path);
    return IOError(Errno("cannot open", path));
  }
  out->clear();
  char buffer[256];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status error = IOError(Errno("cannot read", path));
      ::close(fd);
      return error;
    }
    if (n == 0) break;
    out->append(buffer, static_cast<size_t>(n));
    if (out->size() > limit) break;
  }
  ::close(fd);
  return Status::Ok();
}

bool Exists(const std::string& path, Status* error) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno != ENOENT) *error = IOError(Errno("cannot stat", path));
  return false;
}

}  // namespace

Result<std::unique_ptr<FileKeyStore>> FileKeyStore::Open(const std::string& dir) {
  if (dir.empty()) return InvalidArgument("key store: empty directory name");
  if (sodium_init() < 0) return Internal("key store: libsodium failed to initialise");
  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
    return IOError("key store " + dir + " is not a directory");
  }
  return std::unique_ptr<FileKeyStore>(new FileKeyStore(dir));
}

Status FileKeyStore::EnsureDir() {
  if (dir_ready_) return Status::Ok();
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return IOError("cannot create key directory " + dir_ + ": " + ec.message());
  if (!std::filesystem::is_directory(dir_, ec)) {
    return IOError("key store " + dir_ + " is not a directory");
  }
  ::chmod(dir_.c_str(), 0700);  // best effort: keys are secrets
  dir_ready_ = true;
  return Status::Ok();
}

std::string FileKeyStore::KeyPath(std::string_view employee) const {
  return dir_ + "/k-" + std::string(employee);
}

std::string FileKeyStore::TombstonePath(std::string_view employee) const {
  return dir_ + "/x-" + std::string(employee);
}

Result<KeyLookup> FileKeyStore::ReadFiles(std::string_view employee) const {
  Status error;
  if (Exists(TombstonePath(employee), &error)) return KeyLookup{KeyLookup::kErased, {}};
  JIRITSU_RETURN_IF_ERROR(error);
  const std::string path = KeyPath(employee);
  std::string bytes;
  const Status read = ReadSmallFile(path, &bytes, kKeyFileBytes);
  if (read.code() == StatusCode::kNotFound) return KeyLookup{};
  JIRITSU_RETURN_IF_ERROR(read);
  if (bytes.size() != kKeyFileBytes || std::string_view(bytes).substr(0, 4) != kKeyMagic ||
      static_cast<unsigned char>(bytes[4]) != kKeyFormat) {
    return Corruption("key file " + path + " is damaged (" + std::to_string(bytes.size()) +
                      " bytes; expected " + std::to_string(kKeyFileBytes) +
                      " starting with JKEY and format 1): restore it from the key backup");
  }
  KeyLookup lookup{KeyLookup::kPresent, {}};
  std::memcpy(lookup.key.data(), bytes.data() + 5, kEmployeeKeyBytes);
  return lookup;
}

Result<KeyLookup> FileKeyStore::Lookup(std::string_view employee) const {
  JIRITSU_RETURN_IF_ERROR(CheckEmployee(employee));
  return ReadFiles(employee);
}

Result<KeyLookup> FileKeyStore::CachedOrStored(std::string_view employee) {
  if (auto it = cache_.find(std::string(employee)); it != cache_.end()) {
    return KeyLookup{KeyLookup::kPresent, it->second};
  }
  JIRITSU_ASSIGN_OR_RETURN(KeyLookup lookup, ReadFiles(employee));
  if (lookup.state == KeyLookup::kPresent) cache_.emplace(std::string(employee), lookup.key);
  return lookup;
}

Result<std::vector<KeyLookup>> FileKeyStore::CreateKeys(
    std::span<const std::string_view> employees) {
  JIRITSU_RETURN_IF_ERROR(EnsureDir());
  std::vector<NewFile> files;
  files.reserve(employees.size());
  for (std::string_view employee : employees) {
    EmployeeKey key;
    randombytes_buf(key.data(), key.size());
    std::string bytes(kKeyMagic);
    bytes.push_back(static_cast<char>(kKeyFormat));
    bytes.append(reinterpret_cast<const char*>(key.data()), key.size());
    sodium_memzero(key.data(), key.size());
    files.push_back(NewFile{KeyPath(employee), std::move(bytes)});
  }
  JIRITSU_RETURN_IF_ERROR(PublishFiles(dir_, files, "key file"));
  // Re-read: our key, the winner's when another process linked first, or
  // erased when an erasure raced with us.
  std::vector<KeyLookup> lookups;
  lookups.reserve(employees.size());
  for (std::string_view employee : employees) {
    JIRITSU_ASSIGN_OR_RETURN(KeyLookup lookup, CachedOrStored(employee));
    if (lookup.state == KeyLookup::kAbsent) {
      return IOError("key file " + KeyPath(employee) + " vanished right after it was created");
    }
    lookups.push_back(lookup);
  }
  return lookups;
}

Result<KeyLookup> FileKeyStore::GetOrCreate(std::string_view employee) {
  JIRITSU_RETURN_IF_ERROR(CheckEmployee(employee));
  std::lock_guard lock(mutex_);
  JIRITSU_ASSIGN_OR_RETURN(KeyLookup lookup, CachedOrStored(employee));
  if (lookup.state != KeyLookup::kAbsent) return lookup;
  JIRITSU_ASSIGN_OR_RETURN(std::vector<KeyLookup> created, CreateKeys({&employee, 1}));
  return created.front();
}

Result<std::vector<KeyLookup>> FileKeyStore::GetOrCreateMany(
    std::span<const std::string_view> employees) {
  for (size_t i = 0; i < employees.size(); ++i) {
    const Status checked = CheckEmployee(employees[i]);
    if (!checked.ok()) {
      return checked.WithContext("id " + std::to_string(i + 1) + " of a batch of " +
                                 std::to_string(employees.size()) + ", nothing created");
    }
  }
  std::lock_guard lock(mutex_);
  std::vector<KeyLookup> lookups(employees.size());
  std::unordered_map<std::string_view, size_t> first_at;  // id -> its first position
  std::vector<std::string_view> missing;
  std::vector<size_t> missing_at;
  for (size_t i = 0; i < employees.size(); ++i) {
    if (!first_at.emplace(employees[i], i).second) continue;
    JIRITSU_ASSIGN_OR_RETURN(lookups[i], CachedOrStored(employees[i]));
    if (lookups[i].state == KeyLookup::kAbsent) {
      missing.push_back(employees[i]);
      missing_at.push_back(i);
    }
  }
  if (!missing.empty()) {
    JIRITSU_ASSIGN_OR_RETURN(std::vector<KeyLookup> created, CreateKeys(missing));
    for (size_t j = 0; j < missing.size(); ++j) lookups[missing_at[j]] = created[j];
  }
  for (size_t i = 0; i < employees.size(); ++i) {
    const size_t first = first_at[employees[i]];
    if (first != i) lookups[i] = lookups[first];
  }
  return lookups;
}

Status FileKeyStore::Erase(std::string_view employee) {
  JIRITSU_RETURN_IF_ERROR(CheckEmployee(employee));
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(std::string(employee)); it != cache_.end()) {
    sodium_memzero(it->second.data(), it->second.size());
    cache_.erase(it);
  }
  JIRITSU_RETURN_IF_ERROR(EnsureDir());
  const std::string tombstone = TombstonePath(employee);
  Status error;
  if (!Exists(tombstone, &error)) {
    JIRITSU_RETURN_IF_ERROR(error);
    NewFile file{tombstone, std::string(kTombstoneText)};
    JIRITSU_RETURN_IF_ERROR(PublishFiles(dir_, {&file, 1}, "tombstone"));
  }
  // The tombstone is durable before the key goes.
  const std::string key = KeyPath(employee);
  if (::unlink(key.c_str()) != 0 && errno != ENOENT) {
    return IOError(Errno("cannot delete key file", key));
  }
  return FsyncDir(dir_);
}

std::string DefaultKeysDir(const std::string& store_dir, bool kafka) {
  return kafka ? std::string("./jiritsu-keys") : store_dir + "/keys";
}

}  // namespace jiritsu
