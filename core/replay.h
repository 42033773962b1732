// Replayer: rebuilds Jiritsu's views from the event log at storage-engine
// speed, swaps them in without downtime, builds audit views as of a date,
// verifies the live views, and manages snapshots. `jiritsu replay`
// (ops/cmd_replay.cc) and the HTTP service both drive it; it works on any
// EventLog (embedded, read-only follower or Kafka) and any Projector (given
// as a factory, so core/ stays independent of processors/).
//
// Every build is a ProjectionRuntime (core/projection_runtime.h) in replay
// mode: no consumer group (all partitions), rebuild_mode (WAL off, one
// SyncAndFlush at the end), local_only (nothing is published to the log;
// facts and dead letters are derived locally), until_caught_up, large
// checkpoints (bounded memory: the projector flushes its dirty state at each).
//
// Operations (see docs/operations.md for the commands and the handshake):
//   Rebuild       a new generation <root>/gen-N from offset 0 or from a
//                 snapshot; with `swap`, caught up and promoted (handshake
//                 with a live runner, SwapCoordinator); with `view`, only
//                 that view's column families replace those of a checkpoint
//                 of the live generation. A snapshot is taken at the end.
//   BuildAsOf     a standalone store in `target_dir` from the events up to
//                 an instant (event time) and/or log positions; marked
//                 read-only in its meta (the runtime refuses to advance it).
//   Verify        rebuilds up to the live generation's stored offsets into a
//                 temporary store, reading facts and dead letters from the
//                 log as the live runner did, and compares per-family digests
//                 and, on mismatch, the first differing keys.
//   Rollback      serves the previous generation again (handshake too).
//   RestoreSnapshot  a snapshot as a new generation, promoted as is (the
//                 runner catches it up from the snapshot's offsets).
//
// View version: the code's version (ReplayOptions::view_version) is written
// to every store a build makes (meta "view_version"); a snapshot of another
// version is refused; NeedsRebuild() tells `jiritsu run` when its store was
// built by another version.
//
// Lifecycle: construct with a log the Replayer does not own (it must outlive
// it; it may be null for Rollback, RestoreSnapshot and ListSnapshots, which
// do not read the log), call one operation at a time, destroy.
// Thread-safety: operations are serialised per views root (a lock file, so
// across processes too: kUnavailable if another replay holds it). Stop() and
// stats() may be called from any thread while an operation runs.
// Failure: operations return Status: kInvalidArgument (bad request: names
// the option), kNotFound (no live generation / snapshot), kFailedPrecondition
// (view version mismatch, target exists), kUnavailable (another replay, a
// store in use), kDeadlineExceeded (the runner did not acknowledge), or the
// runtime's error. A failed or stopped build never changes CURRENT and
// removes its half-built directory; a failure after the swap request tells
// the runner to resume (SWAP-DONE result=aborted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/memory_budget.h"
#include "core/projection_runtime.h"
#include "core/projector.h"
#include "core/state_store.h"
#include "core/status.h"
#include "core/store_diff.h"

namespace jiritsu {

using ProjectorFactory = std::function<std::unique_ptr<Projector>()>;

// Meta keys written by replay builds (besides kViewVersionKey and, for as-of
// stores, kReadOnlyMarkerKey).
inline constexpr std::string_view kBuiltByKey = "built_by";        // "jiritsu replay <mode>"
inline constexpr std::string_view kAsOfTimeKey = "as_of_time_us";  // decimal
inline constexpr std::string_view kAsOfOffsetsKey = "as_of_offsets";  // topic:partition:offset,...
// Progress of the running replay, rewritten every progress tick.
inline constexpr char kReplayProgressFile[] = "REPLAY-PROGRESS.json";
// Inside each snapshot directory.
inline constexpr char kSnapshotManifestFile[] = "jiritsu-snapshot.json";

struct ReplayOptions {
  std::string views_root;    // ViewGenerations root of the deployment
  int32_t view_version = 0;  // the projector code's declared version (0: none)
  // Documented view names -> column families (`--view step-status`). A view
  // request may also name any column family of the projector directly.
  std::map<std::string, std::vector<std::string>> view_families;
  // Bounded memory: the projector's dirty state is flushed this often.
  size_t checkpoint_every_events = 500'000;
  // The build's byte budget (core/memory_budget.h): its views-store share and
  // the uncommitted bytes that force a checkpoint. The caller's projector
  // factory sizes the projector's caches from the same budget.
  MemoryBudget memory;
  int64_t checkpoint_every_ms = 30'000;
  size_t poll_batch = 20'000;
  // Cost knobs of the employee input (RuntimeOptions::rebuild_*): merged
  // across partitions by event time, polled and decoded on a second thread.
  bool merge_by_event_time = true;
  bool decode_thread = true;
  size_t wave_partitions = 1;  // RuntimeOptions::rebuild_wave_partitions
  bool reorder_held = true;    // RuntimeOptions::rebuild_reorder_held
  bool group_by_key = true;    // RuntimeOptions::rebuild_group_by_key
  // Progress bar on stderr and REPLAY-PROGRESS.json cadence (0: neither).
  int64_t progress_every_ms = 1000;
  bool progress_bar = true;
  // Snapshot at the end of every Rebuild, keeping the newest keep_snapshots.
  bool snapshot = true;
  int keep_snapshots = 3;
  // How long a live runner may take to checkpoint and release its store.
  std::chrono::milliseconds swap_ready_timeout{120'000};
  // Test hook: called between the build and the final catch-up of a swap,
  // before SWAP-REQUEST (a runner that already released its store could not
  // advance the live views the hook may wait for).
  std::function<void()> before_catch_up;
};

// The rows of the view families that belong to one part of the
// organisation (an org subtree), for a partial swap or verify. Built by the
// caller once the rebuilt views exist: only the projector's owner knows the
// key layouts and how membership is stored. Membership may differ between
// the live and the rebuilt views (that can be the very damage being
// repaired), so a factory gets both and should take the union.
struct KeyScope {
  std::string description;  // for reports, e.g. "org subtree D01: 4 units, 37 employees"
  RowPredicate contains;    // pure; false for rows outside the scope
};
using KeyScopeFactory =
    std::function<Result<KeyScope>(const StateStore& live, const StateStore& rebuilt)>;

struct RebuildRequest {
  std::string from_snapshot;  // "" (offset 0), a snapshot name, or "latest"
  bool swap = false;          // catch up and promote (handshake if a runner is live)
  std::string view;           // partial: only this view's families (needs swap)
  // Partial: only the scope's rows (of `view`'s families, or of all), the
  // other rows stay as they are live (needs swap).
  KeyScopeFactory scope;
};

struct AsOfRequest {
  std::optional<int64_t> as_of_time_us;      // event time (inclusive)
  int32_t as_of_utc_offset_minutes = 0;      // for messages and meta only
  std::map<TopicPartition, int64_t> as_of_offsets;  // exclusive log positions
  std::string target_dir;                    // must not exist, or be empty
  std::string from_snapshot;                 // only with as_of_offsets only
};

struct VerifyRequest {
  std::string view;               // "" = every view family
  size_t max_differences = 10;    // per family
  KeyScopeFactory scope;          // only these rows (digests and diffs)
  // How the live generation's rows read as views (RowReader,
  // core/store_diff.h), given the open live store; empty = as stored. A live
  // runner may keep rows whose bytes depend on its checkpoint timing.
  std::function<Result<RowReader>(const StateStore& live)> live_rows;
};

struct SnapshotInfo {
  std::string name;
  std::string dir;
  int generation = 0;
  int32_t view_version = 0;
  uint64_t events = 0;  // employee events applied by the build it was taken of
  int64_t created_unix_ms = 0;
  std::map<TopicPartition, int64_t> offsets;
};

struct ReplayReport {
  std::string mode;  // rebuild | swap | partial | as-of | verify | rollback | restore
  uint64_t events = 0;        // employee events applied
  uint64_t records = 0;       // records read (events, skipped, dead letters)
  uint64_t skipped_as_of = 0;
  uint64_t dead_letters = 0;
  // Of the build's runtimes (the build and its catch-up together): bytes of
  // records read, checkpoints written, employees folded again from their
  // journal (an event sorting before what was folded, or a voiding).
  uint64_t bytes_read = 0;
  uint64_t checkpoints = 0;
  uint64_t refolds = 0;
  double seconds = 0;         // build time (digest excluded)
  // Of `seconds`: publishing the facts held back while the log was read
  // (each employee's, from its final state), and the final sync of the
  // bulk-loaded store (its remaining compactions). The rest is the reading.
  double publish_seconds = 0;
  double sync_seconds = 0;
  double events_per_s = 0;
  std::string digest;         // combined digest of the view families
  std::vector<FamilyDigest> family_digests;
  int generation = 0;         // the generation built / now current
  bool promoted = false;
  bool handshake = false;     // a live runner took part
  std::string store_dir;
  std::string snapshot;       // name of the snapshot taken, if any
  int32_t view_version = 0;
  std::vector<std::string> families;  // the families the digest covers
  std::string scope;                  // KeyScope::description of a scoped run
  std::map<TopicPartition, int64_t> offsets;
  // Verify only.
  bool equal = true;
  std::string live_digest;
  std::vector<FamilyDigest> live_family_digests;
  std::vector<FamilyDiff> differences;  // left = live, right = replay

  // One JSON object (the CLI prints it on stdout).
  std::string ToJson() const;
};

class Replayer {
 public:
  Replayer(EventLog* log, ProjectorFactory factory, ReplayOptions options);
  ~Replayer();
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  Result<ReplayReport> Rebuild(const RebuildRequest& request);
  Result<ReplayReport> BuildAsOf(const AsOfRequest& request);
  // OK with report.equal == false when the views differ.
  Result<ReplayReport> Verify(const VerifyRequest& request);
  Result<ReplayReport> Rollback();
  Result<ReplayReport> RestoreSnapshot(const std::string& name);
  Result<std::vector<SnapshotInfo>> ListSnapshots() const;

  // Stops the running build at its next poll; the operation then fails with
  // kFailedPrecondition ("stopped") and leaves CURRENT untouched.
  void Stop();
  // Lag and progress of the running build (the live processors' metrics).
  RuntimeStats stats() const;

 private:
  struct Build;
  struct ProgressState;
  Result<std::vector<std::string>> ViewFamilies() const;
  Result<std::vector<std::string>> FamiliesOfView(const std::string& view) const;
  Result<SnapshotInfo> FindSnapshot(const std::string& name) const;
  Status RunBuild(Build* build);
  Result<ReplayReport> SwapIn(Build* build, const RebuildRequest& request, int live_generation);
  // Generation `generation` = a checkpoint of the live one with `families`
  // (only their rows `in_scope` accepts, if given) replaced by the shadow's.
  Status MakePartialGeneration(int generation, const std::string& live_dir,
                               const std::string& shadow_dir,
                               const std::vector<std::string>& families,
                               const RowPredicate& in_scope = {});
  Result<std::string> TakeSnapshot(StateStore* store, int generation, uint64_t events);
  Status FillDigest(const StateStore& store, const std::vector<std::string>& families,
                    ReplayReport* report, const RowPredicate& in_scope = {}) const;
  Status WriteBuildMeta(StateStore* store, const std::string& mode,
                        const std::vector<std::pair<std::string, std::string>>& extra);
  void ReportProgress(const RuntimeStats& stats, const std::string& phase, bool final);
  Status LockRoot();
  void UnlockRoot();

  EventLog* log_;
  ProjectorFactory factory_;
  ReplayOptions options_;
  std::atomic<bool> stop_{false};
  mutable std::mutex runtime_mutex_;
  ProjectionRuntime* running_ = nullptr;  // guarded by runtime_mutex_
  RuntimeStats last_stats_;               // guarded by runtime_mutex_
  std::unique_ptr<ProgressState> progress_;
  int lock_fd_ = -1;
};

// True when the store in `store_dir` holds views built by another view
// version than `code_view_version` (or by an unversioned build while the
// code declares one). False for a missing or never-checkpointed store, or
// when code_view_version is 0.
Result<bool> NeedsRebuild(const std::string& store_dir, int32_t code_view_version);

// The offsets column family of a store: topic partition -> next offset.
Result<std::map<TopicPartition, int64_t>> ReadStoredOffsets(const StateStore& store);
// "topic:partition:offset,..." (as --as-of-offset takes it).
Result<std::map<TopicPartition, int64_t>> ParseOffsetList(std::string_view text);
std::string FormatOffsetList(const std::map<TopicPartition, int64_t>& offsets);

}  // namespace jiritsu
