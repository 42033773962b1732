// ViewGenerations: the on-disk layout that lets views be rebuilt and swapped
// without downtime, rolled back, and snapshotted.
//
//   <root>/CURRENT            text "3\n": the generation being served
//   <root>/PREVIOUS           the generation served before the last swap
//   <root>/gen-000003/        a StateStore (views + offsets)
//   <root>/snapshots/<name>/  RocksDB checkpoints of a generation
//   <root>/SWAP-REQUEST, SWAP-READY, SWAP-DONE   live-swap handshake files
//
// A rebuild writes a new generation next to the served one; Promote() makes
// it current by atomically renaming a new CURRENT file into place (fsync'd),
// so a reader that resolves CURRENT sees the old or the new generation, never
// a half-built one. Old generations stay until Prune().
//
// Lifecycle: cheap value object; every call reads/writes the files anew.
// Thread-safety: calls are safe from several processes; Promote/Rollback are
// atomic with respect to readers (rename(2)); concurrent promoters must be
// serialized by the caller (only `jiritsu replay` and `jiritsu run` promote).
// Failure: I/O errors -> kIOError naming the path; a CURRENT file that does
// not parse -> kCorruption.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace jiritsu {

class ViewGenerations {
 public:
  explicit ViewGenerations(std::string root) : root_(std::move(root)) {}

  const std::string& root() const { return root_; }
  // Generation being served; 0 when none exists yet.
  Result<int> Current() const;
  Result<int> Previous() const;
  std::string DirFor(int generation) const;
  // Directory of the current generation, creating generation 1 (and making it
  // current) when the root is new.
  Result<std::string> CurrentDirOrCreate();
  // Next unused generation number (the caller builds into DirFor(n)).
  Result<int> NextGeneration() const;
  // Atomically serve `generation`; the old current becomes PREVIOUS.
  Status Promote(int generation);
  // Serve PREVIOUS again (the current becomes PREVIOUS).
  Status Rollback();
  std::vector<int> List() const;
  // Deletes generations other than current and previous.
  Status Prune();

  std::string SnapshotsDir() const { return root_ + "/snapshots"; }
  std::vector<std::string> ListSnapshots() const;  // sorted by name

 private:
  Result<int> ReadNumberFile(const std::string& name) const;
  Status WriteNumberFile(const std::string& name, int value) const;
  std::string root_;
};

// Atomically replaces `path` with `content` (write temp, fsync, rename,
// fsync directory).
Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace jiritsu
