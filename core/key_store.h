// KeyStore: the per-employee keys that encrypt personal data
// (crypto-shredding, docs/reliability.md "Personal data erasure").
//
// Every personal field of an employee's events is sealed under the
// employee's 32-byte key before it reaches the log (core/personal_data.h).
// Deleting the key erases those fields everywhere at once: the log, the
// views, the dead letters and any replay keep only ciphertext nobody can
// open. After an erasure the employee is recorded as erased (a tombstone), so
// a key is never silently created again for them: later personal fields of an
// erased employee are sealed under a throw-away key at ingestion, i.e. stored
// as erased.
//
// FileKeyStore, the durable embedded implementation, keeps one file per
// employee in a directory:
//   DIR/k-<employee>   the key: "JKEY" + format byte 1 + 32 key bytes (37 bytes)
//   DIR/x-<employee>   the tombstone of an erased employee ("erased\n")
// Employee ids match the id pattern [A-Za-z0-9._:@-]{1,128}, so they are safe
// file names once prefixed. Files are written to a temporary name, fsynced,
// then linked into place without replacing (link(2) fails when the name
// exists) and the directory is fsynced, so several processes (ingest, run,
// serve, query) can share the directory: two that create a key for the same
// employee at once agree on the one that was linked first. A key is returned
// only once its directory entry is durable, so nothing sealed under it can
// reach the log before the key is on disk. GetOrCreateMany does the same for
// every new key of a batch with one directory fsync for all of them (one
// fsync per new key file plus one, instead of two per key); the files' fsyncs
// run from up to 8 short-lived threads at once, so the file system commits
// them together instead of one journal commit after the other. Erase writes the
// tombstone first (durably), then unlinks the key and fsyncs the directory;
// a crash in between leaves a tombstone and a key, which reads as erased and
// is cleaned up by the next Erase.
//
// Lifecycle: Open() checks the path; the directory (mode 0700) is created by
// the first write (a key or a tombstone), so readers and processes that never
// write leave nothing behind. The store holds no open files between calls. Thread-safety: every method may be called from
// any thread (keys created by this object are cached under a mutex; reads of
// keys for decryption always go to the files, so an erasure by another
// process is seen by the next read). Failure: kInvalidArgument for an
// employee id that is not a valid id, kIOError for file-system failures
// (naming the file and errno), kCorruption for a key file that is not a key
// (naming the file), never a silently wrong key.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace jiritsu {

inline constexpr size_t kEmployeeKeyBytes = 32;
using EmployeeKey = std::array<unsigned char, kEmployeeKeyBytes>;

// What the store holds for one employee.
struct KeyLookup {
  enum State : uint8_t {
    kAbsent = 0,  // no key was ever created (nothing of theirs was sealed here)
    kPresent,     // `key` is valid
    kErased,      // the employee was erased: the key is gone for good
  };
  State state = kAbsent;
  EmployeeKey key{};
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // The employee's key, created (random, crypto-grade) when absent. An erased
  // employee gets {kErased} and no key is created.
  virtual Result<KeyLookup> GetOrCreate(std::string_view employee) = 0;
  // GetOrCreate for several employees at once (ingesting a batch): one
  // answer per id, in the order given (an id given twice gets the same answer
  // twice); erased employees get {kErased} and no key. Every id is checked
  // first: kInvalidArgument naming the first that is not an employee id, and
  // then nothing is created for any id of the batch. On an I/O error no
  // answer is returned, but keys of the batch linked before the failure stay
  // (durable or not, they are what a later GetOrCreate returns, as after a
  // crash of GetOrCreate).
  virtual Result<std::vector<KeyLookup>> GetOrCreateMany(
      std::span<const std::string_view> employees) = 0;
  // The employee's key if present; never creates one. For decryption.
  virtual Result<KeyLookup> Lookup(std::string_view employee) const = 0;
  // Records the employee as erased and deletes the key. Idempotent: erasing
  // an erased (or never seen) employee succeeds and leaves a tombstone.
  virtual Status Erase(std::string_view employee) = 0;
  // For messages, e.g. "key store /data/keys".
  virtual std::string Describe() const = 0;
};

class FileKeyStore : public KeyStore {
 public:
  // Opens the key directory (created at the first write). kIOError when the
  // path exists and is not a directory.
  static Result<std::unique_ptr<FileKeyStore>> Open(const std::string& dir);

  Result<KeyLookup> GetOrCreate(std::string_view employee) override;
  Result<std::vector<KeyLookup>> GetOrCreateMany(
      std::span<const std::string_view> employees) override;
  Result<KeyLookup> Lookup(std::string_view employee) const override;
  Status Erase(std::string_view employee) override;
  std::string Describe() const override { return "key store " + dir_; }

  // Paths of an employee's files (for tests and operators).
  std::string KeyPath(std::string_view employee) const;
  std::string TombstonePath(std::string_view employee) const;

 private:
  explicit FileKeyStore(std::string dir) : dir_(std::move(dir)) {}
  Result<KeyLookup> ReadFiles(std::string_view employee) const;
  Status EnsureDir();  // under mutex_
  // Under mutex_: the cached or stored entry; kAbsent when there is none.
  Result<KeyLookup> CachedOrStored(std::string_view employee);
  // Under mutex_: creates keys for `employees` (all absent a moment ago,
  // distinct) with one directory fsync, and returns what is stored for each
  // afterwards (the winner's key when another process linked first, or
  // kErased when an erasure raced with us), caching the keys.
  Result<std::vector<KeyLookup>> CreateKeys(std::span<const std::string_view> employees);

  std::string dir_;
  mutable std::mutex mutex_;
  bool dir_ready_ = false;
  // Keys this object created or read for sealing; dropped on Erase.
  std::unordered_map<std::string, EmployeeKey> cache_;
};

// The default key directory next to the other data of a store:
// <store>/keys on the embedded log; ./jiritsu-keys with Kafka.
std::string DefaultKeysDir(const std::string& store_dir, bool kafka);

}  // namespace jiritsu
