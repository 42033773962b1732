#include "core/key_store.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

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

// Writes `bytes` to a unique temporary file in `dir` and fsyncs it.
Result<std::string> WriteTemp(const std::string& dir, std::string_view bytes) {
  static std::atomic<uint64_t> counter{0};
  const std::string path = dir + "/.tmp-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + "-" +
                           std::to_string(randombytes_random());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return IOError(Errno("cannot create", path));
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status error = IOError(Errno("cannot write", path));
      ::close(fd);
      ::unlink(path.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const Status error = IOError(Errno("cannot fsync", path));
    ::close(fd);
    ::unlink(path.c_str());
    return error;
  }
  if (::close(fd) != 0) {
    const Status error = IOError(Errno("cannot close", path));
    ::unlink(path.c_str());
    return error;
  }
  return path;
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

Result<KeyLookup> FileKeyStore::GetOrCreate(std::string_view employee) {
  JIRITSU_RETURN_IF_ERROR(CheckEmployee(employee));
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(std::string(employee)); it != cache_.end()) {
    return KeyLookup{KeyLookup::kPresent, it->second};
  }
  JIRITSU_ASSIGN_OR_RETURN(KeyLookup lookup, ReadFiles(employee));
  if (lookup.state == KeyLookup::kAbsent) {
    JIRITSU_RETURN_IF_ERROR(EnsureDir());
    EmployeeKey key;
    randombytes_buf(key.data(), key.size());
    std::string bytes(kKeyMagic);
    bytes.push_back(static_cast<char>(kKeyFormat));
    bytes.append(reinterpret_cast<const char*>(key.data()), key.size());
    JIRITSU_ASSIGN_OR_RETURN(std::string temp, WriteTemp(dir_, bytes));
    sodium_memzero(bytes.data(), bytes.size());
    const std::string path = KeyPath(employee);
    // link(2) never replaces: when another process linked its key first, use that one.
    const bool linked = ::link(temp.c_str(), path.c_str()) == 0;
    const int link_errno = errno;
    ::unlink(temp.c_str());
    if (!linked && link_errno != EEXIST) {
      errno = link_errno;
      return IOError(Errno("cannot create key file", path));
    }
    JIRITSU_RETURN_IF_ERROR(FsyncDir(dir_));
    // Re-read: the winner's key, or erased when an erasure raced with us.
    JIRITSU_ASSIGN_OR_RETURN(lookup, ReadFiles(employee));
    if (lookup.state == KeyLookup::kAbsent) {
      return IOError("key file " + path + " vanished right after it was created");
    }
  }
  if (lookup.state == KeyLookup::kPresent) cache_.emplace(std::string(employee), lookup.key);
  return lookup;
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
    JIRITSU_ASSIGN_OR_RETURN(std::string temp, WriteTemp(dir_, kTombstoneText));
    const bool linked = ::link(temp.c_str(), tombstone.c_str()) == 0;
    const int link_errno = errno;
    ::unlink(temp.c_str());
    if (!linked && link_errno != EEXIST) {
      errno = link_errno;
      return IOError(Errno("cannot create tombstone", tombstone));
    }
    JIRITSU_RETURN_IF_ERROR(FsyncDir(dir_));
  }
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
