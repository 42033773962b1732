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
//
// Leftovers: a killed replay leaves its unfinished generation directory;
// RemoveUnfinished() deletes those (`jiritsu replay` and `jiritsu run` /
// `serve` call it when they start). Old served generations stay until
// Prune() (`jiritsu replay --prune`).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace jiritsu {

// The file every `jiritsu replay` holds an exclusive flock(2) on while it
// works on a root (core/replay.h Replayer).
inline constexpr char kReplayLockFile[] = "REPLAY-LOCK";

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
  // Deletes every generation other than current and previous (complete
  // rebuilds that were never promoted included), under REPLAY-LOCK taken
  // without waiting: kFailedPrecondition while a replay works on the root.
  // Returns the generations removed (ascending). A reader that still has an
  // old generation open keeps reading it (unlinked files stay readable).
  Result<std::vector<int>> Prune() const;
  // A replay marks a generation unfinished (a file <root>/gen-NNNNNN.unfinished)
  // before it creates the directory, and clears the mark once the generation
  // is complete (before promoting it; a plain rebuild stays unpromoted but
  // complete).
  Status MarkUnfinished(int generation) const;
  Status ClearUnfinished(int generation) const;
  // Deletes every generation still marked unfinished that is neither CURRENT
  // nor PREVIOUS (those keep their directory; only the stale mark goes): the
  // shadow of a replay killed while building. Such a directory was never
  // served: readers and runners open only what CURRENT names. A running
  // replay has its own shadow marked, so this never runs beside one:
  // `replay_lock_held` says the caller holds REPLAY-LOCK (the Replayer);
  // otherwise it takes that lock without waiting, removes nothing when a
  // replay holds it, and releases it. Returns the generations removed.
  Result<std::vector<int>> RemoveUnfinished(bool replay_lock_held) const;

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
