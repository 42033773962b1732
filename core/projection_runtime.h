// ProjectionRuntime: drives a Projector over an EventLog and keeps its views
// and the consumed offsets together in one StateStore.
//
// What it guarantees (docs/architecture.md):
//   * Offsets live with the state: every checkpoint writes the projector's
//     changes and the positions of every input in one atomic WriteBatch; on
//     start and on partition assignment it seeks to the stored positions.
//   * Exactly-once in effect: dead letters produced by a checkpoint are
//     durable (flushed) before its batch is written, and so are its facts
//     records, or (a live run, confirm_facts_later) the batch records which
//     employees' facts are not yet confirmed durable and a restart publishes
//     those again. Both are idempotent for their readers, so a crash at any
//     point neither loses nor doubles anything.
//   * Reference data first: the global inputs (jiritsu.reference,
//     jiritsu.facts, jiritsu.dlq) are drained before each batch of employee
//     events.
//   * Poison records (undecodable, invalid, wrong topic, key != subject) go
//     to jiritsu.dlq with the reason and their source position; processing
//     continues.
//
// Lifecycle: Create() -> Run() (blocks until caught up, stopped or failed)
// -> destroy. Stop() may be called from any thread or a signal-safe flag.
// Thread-safety: Run() on one thread; Stop() and stats() from any thread.
// A live run also flushes facts on a helper thread of its own
// (confirm_facts_later), joined when Run() ends or the runtime is destroyed.
// Failure: Run() returns the first non-retryable error (store I/O, producer
// delivery failure after retries, corruption); the store is left at the last
// committed checkpoint, so restarting resumes correctly.
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
#include <utility>
#include <vector>

#include "core/event_log.h"
#include "core/memory_budget.h"
#include "core/ordered_reader.h"
#include "core/projector.h"
#include "core/state_store.h"
#include "core/status.h"

namespace jiritsu {

inline constexpr std::string_view kDeadLetterFamily = "dlq";
inline constexpr std::string_view kViewVersionKey = "view_version";
// Meta key marking a store that must never be advanced (as-of audit stores
// built by core/replay.h); the runtime refuses to open such a store.
inline constexpr std::string_view kReadOnlyMarkerKey = "read_only";
// Meta key: the number of rows in kDeadLetterFamily, kept by every
// checkpoint that adds some, so readers (the service's /metrics) need not
// count them.
inline constexpr std::string_view kDeadLetterCountKey = "dlq_records";

// The dead-letter count a runtime keeps in `store` (kDeadLetterCountKey);
// nullopt when none is stored yet (views written before the runtime kept it,
// until their next checkpoint). kCorruption for an unreadable value.
Result<std::optional<int64_t>> StoredDeadLetterCount(const StateStore& store);

struct RuntimeStats;

struct RuntimeOptions {
  std::string state_dir;               // the StateStore directory
  std::string group_id = "jiritsu-projections";
  // false: read every employee partition directly, without a consumer group
  // (replays, single-process tools).
  bool use_consumer_group = true;
  bool until_caught_up = false;        // exit once every input reached its end
  size_t checkpoint_every_events = 50000;
  int64_t checkpoint_every_ms = 1000;  // start to start; cadence only, never enters a view
  // While a backlog is waiting (a poll came back full), checkpoints come
  // every this many events instead: a checkpoint costs per changed employee
  // (state, facts), not per event, so catching up with fewer of them is
  // faster. Views and exactly-once do not depend on checkpoint timing; this
  // bounds the uncommitted work (memory, re-processing after a crash).
  size_t catch_up_checkpoint_events = 200000;
  // Live runs: a regular checkpoint commits without waiting for the facts it
  // published to be flushed (a flush waits on the log's fsync, 1-40 ms, and
  // every event of the checkpoint waited with it); a helper thread flushes
  // them and a later checkpoint confirms them (Projector::
  // SetFactsConfirmedLater). Only with a projector that records unconfirmed
  // facts; never in rebuilds or local_only runs. false: every checkpoint
  // waits for its facts. Views are the same either way.
  bool confirm_facts_later = true;
  // Memory (core/memory_budget.h; cost knobs, never view inputs). The views
  // store's RocksDB block cache + memtables under one limit (0: RocksDB's
  // per-family defaults), and a checkpoint as soon as the projector's
  // uncommitted bytes (ProjectorMemory) exceed checkpoint_uncommitted_bytes
  // (0: no byte trigger), checked after every applied record (after every
  // batch of a rebuild grouped by key, rebuild_group_by_key).
  size_t store_memory_bytes = MemoryBudget{}.views_store_bytes();
  size_t checkpoint_uncommitted_bytes = MemoryBudget{}.uncommitted_bytes();
  // Rebuilds: the facts they publish are deferred and applied in bursts of at
  // most this many bytes once applied (Projector::AppliedFactsBytes; 0: 256
  // MiB). Applied facts are the aggregates' dirty entries until the burst's
  // checkpoint commits them: the budget's aggregates and uncommitted shares.
  // Not used when the projector applies its facts itself, as it builds them
  // (Projector::ApplyPublishedFactsItself; the Jiritsu projector does in a
  // rebuild): its checkpoint's own batch bound then bounds them.
  size_t deferred_facts_bytes = MemoryBudget{}.deferred_facts_bytes();
  size_t poll_batch = 10000;
  // Rebuild mode (replay): no WAL, one sync at the end.
  bool rebuild_mode = false;
  // Rebuilds without a consumer group (replays): the employee input is read
  // through an OrderedReader (core/ordered_reader.h), merged across
  // partitions by event time so that events reach the fold in order instead
  // of forcing re-folds, and/or polled and decoded on a second thread. Cost
  // knobs only: the views are the same either way.
  bool rebuild_merge_by_event_time = true;
  bool rebuild_decode_thread = true;
  // With the merge: read the partitions in waves of this many partition
  // numbers (OrderedReaderOptions::wave_partitions; 0: all at once), so the
  // employees being folded are a fraction that fits the caches.
  size_t rebuild_wave_partitions = 1;
  // With the merge: each partition hands out the records it holds earliest
  // event first (OrderedReaderOptions::reorder_held; false: log order), so
  // events delivered late do not force re-folds.
  bool rebuild_reorder_held = true;
  // Rebuilds through that reader: each batch it hands out is applied grouped
  // by record key (the employee), each key's records in the reader's order,
  // so an employee's state is folded several times in a row while it is in
  // the CPU caches (a 100 000 x 36 replay: ~3% less CPU and ~3% faster, in
  // alternated runs, docs/performance.md, twenty-fourth pass). A memory
  // checkpoint then waits for the batch's end, when its positions are exact.
  // Cost knob only: each fold sees its employee's events in the same order,
  // and no view depends on the order across employees.
  bool rebuild_group_by_key = true;
  // Consumer-group runs: an assignment that finds a backlog (a partition
  // whose position is below its end offset) reads it through an
  // OrderedReader merged by event time, as rebuilds do, on the runtime
  // thread, until every assigned partition reached the end it had at the
  // assignment; then the consumer is polled directly again. Why: polled
  // round-robin, the sparse topics ran months ahead of the dense ones in
  // event time and ~15% of a catch-up's events reached their employee after
  // a later one, each forcing a re-fold of the whole journal
  // (docs/performance.md). A rebalance drops what the reader held and reads
  // again from the applied positions. A cost knob: the views are the same.
  bool catch_up_merge_by_event_time = true;
  // Live runs (not rebuilds): Run() lowers the CPU priority of the process's
  // RocksDB compaction threads (LowerCompactionThreadPriority,
  // core/state_store.h), so compactions take idle CPU instead of delaying
  // checkpoints. Process-wide: a rebuild later in the same process compacts
  // at that priority too. A scheduling hint: if RocksDB refuses, Run() logs
  // a warning and goes on. The views are the same either way.
  bool low_priority_compactions = true;
  // As-of replays: employee and reference events with a later event time are
  // consumed but not applied.
  std::optional<int64_t> as_of_time_us;
  // As-of by log position: records at or after these offsets are not applied.
  std::map<TopicPartition, int64_t> stop_offsets;
  // When set, dead letters and facts are not published (read-only replays of
  // a log the process must not write to); facts are applied locally instead.
  bool local_only = false;
  // With local_only (replays that read every employee partition): where the
  // derived global inputs jiritsu.facts and jiritsu.dlq come from.
  //   kLocal: derived from the events this replay applies; the log's copies
  //     are not read (they may hold facts of later events, e.g. for an as-of
  //     replay) and their stored positions are the topics' end offsets
  //     (or their stop offsets, if lower).
  //   kLog: read from the log up to stop_offsets exactly as a live instance
  //     did, local facts and dead letters are discarded: reproduces a live
  //     store at its stored offsets, whose global views lag by a checkpoint
  //     (replay --verify).
  enum class DerivedInputs { kLocal, kLog };
  DerivedInputs derived_inputs = DerivedInputs::kLocal;
  // The projector code's view version (0 = unchecked). Written to the meta
  // column family at each checkpoint; a store built by another version is
  // refused (kFailedPrecondition) so stale views are rebuilt, never mixed.
  int32_t view_version = 0;
  // Test knob (0 = off): re-merge every polled batch in a seeded random
  // interleaving that keeps per-partition order, and vary batch sizes, to
  // prove the views do not depend on cross-topic arrival order.
  uint64_t interleave_seed = 0;
  // Print progress lines to stderr every this many ms (0 = never).
  int64_t progress_every_ms = 0;
  // When set, called on the Run() thread at that cadence (and once at the
  // end) with fresh partition positions, instead of the progress line.
  std::function<void(const RuntimeStats&)> on_progress;
};

struct PartitionProgress {
  int64_t position = 0;    // next offset to read
  int64_t end_offset = 0;  // last known end
};

struct RuntimeStats {
  uint64_t events_applied = 0;
  uint64_t events_skipped_as_of = 0;
  uint64_t dead_letters = 0;
  // Records on jiritsu.facts / jiritsu.dlq that no Jiritsu runtime could have
  // written (undecodable facts, malformed dead letters): skipped, logged.
  uint64_t internal_records_skipped = 0;
  uint64_t facts_published = 0;
  uint64_t facts_applied = 0;
  // Rebuilds: bursts of deferred facts applied, and the largest one in
  // estimated bytes once applied (Projector::AppliedFactsBytes); 0 when the
  // projector applies its facts itself.
  uint64_t facts_bursts = 0;
  uint64_t largest_facts_burst_bytes = 0;
  // Rebuilds: families compacted while the held-back facts were published
  // (Projector::FamiliesCompleteBeforeHeldBackFacts).
  uint64_t families_compacted_early = 0;
  uint64_t reference_applied = 0;
  // Employees whose state the projector rebuilt from the whole journal (an
  // event that arrived after a later one of the same employee, a void, a
  // new programme version): Projector::TakeRefolds(). A cost figure.
  uint64_t refolds = 0;
  // Consumer-group runs: backlogs read merged by event time (one per
  // assignment that found one; catch_up_merge_by_event_time).
  uint64_t catch_up_reads = 0;
  uint64_t checkpoints = 0;
  // Of which forced by checkpoint_uncommitted_bytes.
  uint64_t memory_checkpoints = 0;
  uint64_t bytes_read = 0;
  double seconds = 0;
  // Rebuilds: of `seconds`, the publishing of the held-back facts once the
  // log was read (PublishHeldBackFacts), and the final sync (the bulk load's
  // compactions and flushes, SyncAndFlush). The rest is the reading.
  double held_back_publish_seconds = 0;
  double final_sync_seconds = 0;
  // Produce -> view-visible latency of live runs (not rebuilds): for every
  // applied employee event, wall-clock milliseconds from its log append time
  // (LogRecord::append_time_ms) to the commit of the checkpoint that holds
  // it, as latency (ms) -> events. A metric only: it never enters a view.
  std::map<int64_t, uint64_t> visible_latency_ms;
  // Live runs that publish an employee's facts at most once per interval
  // (FactsDeferral, core/projector.h): employees whose facts wait now, and
  // for every held-back record published so far, how long it waited (ms)
  // after the checkpoint that first held it back. The global views (KPIs)
  // show an event about that much after the employee's own views.
  uint64_t facts_waiting = 0;
  std::map<int64_t, uint64_t> facts_deferral_ms;
  // FactsDeferral::cost_us at the latest checkpoint.
  uint64_t facts_cost_us = 0;
  std::map<TopicPartition, PartitionProgress> partitions;
};

class ProjectionRuntime {
 public:
  static Result<std::unique_ptr<ProjectionRuntime>> Create(
      EventLog* log, std::unique_ptr<Projector> projector, RuntimeOptions options);
  ~ProjectionRuntime();

  Status Run();
  void Stop() { stop_requested_.store(true); }
  RuntimeStats stats() const;
  StateStore* store() { return store_.get(); }

 private:
  class Listener;
  ProjectionRuntime() = default;

  Status OpenStore();
  Status CheckViewVersion();
  Status CheckWritable();
  // dead_letter_count_ from the store, or by counting the family once (then
  // the next checkpoint stores it).
  Status LoadDeadLetterCount();
  bool SkipsDerivedTopics() const;
  Status RefreshDerivedPositions();
  Status StartGlobalInputs();
  Status DrainGlobalInputs(bool block_until_end);
  Status ApplyGlobalRecord(const LogRecord& record);
  // `decoded`: the record's decode result when the OrderedReader made it.
  Status ApplyTaskRecord(const LogRecord& record, const DecodedRecord* decoded = nullptr);
  Status StartOrderedReader();
  // Every employee partition from its position to its end, in poll_batch
  // batches and rebuild_wave_partitions waves (rebuild and catch-up readers).
  OrderedReaderOptions ReaderOptionsFromPositions();
  // Consumer-group runs (catch_up_merge_by_event_time): starts, restarts
  // after a rebalance, or ends the catch-up reader, before each poll.
  Status UpdateCatchUpReader();
  bool CatchUpMerges() const;   // the option applies to this run
  bool CatchUpBacklog() const;  // an assigned partition is below its end
  Status DeadLetter(const LogRecord& record, const std::string& reason);
  Status SkipInternalPoison(const LogRecord& record, const std::string& reason);
  // `facts_may_follow`: a regular live checkpoint, whose facts may become
  // durable after its batch is written (confirm_facts_later); the others
  // (revocation, caught up, the end of a run, dead letters) wait for them.
  Status Checkpoint(bool facts_may_follow = false);
  // Checkpoints that publish every held-back facts record, as many as the
  // projector needs (Projector::FactsHeldBack), stopping if one makes no
  // progress.
  Status PublishHeldBackFacts();
  // A bulk-loaded rebuild whose input is read to its end: commits what was
  // read, then starts compacting the families that the held-back facts do
  // not write, so that compaction overlaps their publishing. Once per run.
  Status CompactCompleteFamiliesEarly();
  // Checkpoints when the projector's uncommitted bytes exceed
  // checkpoint_uncommitted_bytes (called after every applied record).
  void LogCheckpointMemory(size_t batch_bytes, size_t facts) const;
  Status CheckpointIfOverMemory();
  Status AssignAllTaskPartitions();
  Status OnAssigned(const std::vector<TopicPartition>& partitions);
  Status OnRevoked(const std::vector<TopicPartition>& partitions);
  Result<int64_t> StoredOffset(const TopicPartition& tp) const;
  bool TasksCaughtUp() const;
  Status RefreshTaskEnds();
  void MaybeReportProgress(bool force);
  // True (and the position held at the stop) for a record at or after its
  // partition's stop offset.
  bool PastStopOffset(const LogRecord& record);
  // Local rebuilds: facts are absolute, so only each employee's latest one
  // matters for the global tables. They are held (up to 256 MiB) and applied
  // at the final checkpoint instead of re-aggregating every changed employee
  // at every checkpoint; an unfinished rebuild is discarded, so nothing reads
  // the intermediate aggregates. Moves what is due into `facts`.
  void DeferFacts(std::vector<FactsRecord>* facts);
  // `end` lowered to the partition's stop offset, if it has one.
  int64_t EndWithinStop(const TopicPartition& tp, int64_t end) const;
  void Interleave(std::vector<LogRecord>* records);
  // positions_[{topic, partition}], memoised (position_slots_).
  int64_t& PositionOf(const std::string& topic, int32_t partition);
  // Moves the per-record counters into stats_ (one lock per polled batch).
  void FlushHotCounters();
  // Applies a rebuild reader's batch grouped by key (rebuild_group_by_key),
  // then checkpoints if over memory.
  Status ApplyGroupedByKey(const std::vector<DecodedRecord>& decoded);

  EventLog* log_ = nullptr;
  std::unique_ptr<Projector> projector_;
  RuntimeOptions options_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<LogProducer> producer_;
  std::unique_ptr<LogConsumer> task_consumer_;
  std::unique_ptr<LogConsumer> global_consumer_;
  std::unique_ptr<OrderedReader> ordered_reader_;  // polls task_consumer_ while it exists
  std::unique_ptr<Listener> listener_;
  // Flushes facts off the runtime thread (confirm_facts_later); declared
  // after producer_, which it uses, so it is destroyed first.
  class FactsFlusher;
  std::unique_ptr<FactsFlusher> facts_flusher_;
  uint64_t projector_checkpoints_ = 0;  // calls of Projector::Checkpoint
  uint64_t facts_flush_requested_ = 0;  // through that call
  uint64_t facts_confirmed_ = 0;        // last OnFactsDurable

  std::map<TopicPartition, int64_t> positions_;  // next offset, owned + global
  std::map<TopicPartition, int64_t> ends_;       // end offsets to reach
  // Derived topics a kLocal replay does not read: stored as their end offsets.
  std::map<TopicPartition, int64_t> derived_positions_;
  struct DeferredFacts {
    std::string value;
    size_t cost = 0;  // Projector::AppliedFactsBytes
  };
  std::map<std::string, DeferredFacts> deferred_facts_;  // employee -> latest facts
  size_t deferred_facts_bytes_ = 0;
  bool flush_deferred_facts_ = false;
  // The projector applies the facts it publishes itself
  // (Projector::ApplyPublishedFactsItself): nothing to defer or hand back.
  bool projector_applies_own_facts_ = false;
  bool early_compaction_started_ = false;
  std::vector<int64_t> pending_append_times_ms_;  // applied since the last checkpoint
  // PositionOf memo: the positions_ nodes read so far, by partition number
  // (map nodes are stable; cleared when a partition is erased). A rebuild's
  // merged input alternates partitions at every record, and a map lookup
  // copied the topic name (a heap string) and compared strings per record.
  struct PositionSlot {
    const TopicPartition* tp;
    int64_t* position;
  };
  std::vector<std::vector<PositionSlot>> position_slots_;
  SourcePosition record_position_;  // ApplyTaskRecord's, reused per record
  // ApplyGroupedByKey's (key hash, record index), reused per batch.
  std::vector<std::pair<uint64_t, uint32_t>> apply_order_;
  uint64_t unflushed_events_applied_ = 0;
  uint64_t unflushed_bytes_read_ = 0;
  std::vector<std::pair<std::string, std::string>> pending_dlq_rows_;
  int64_t dead_letter_count_ = 0;         // rows in kDeadLetterFamily, committed
  bool dead_letter_count_stored_ = true;  // kDeadLetterCountKey holds it
  std::vector<std::pair<std::string, std::string>> pending_dead_letters_;  // key, value
  Status rebalance_status_;
  // OnAssigned/OnRevoked ran since UpdateCatchUpReader last looked.
  bool assignment_changed_ = false;
  size_t events_since_checkpoint_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  int64_t last_progress_ms_ = 0;
  int64_t started_ms_ = 0;
  uint64_t interleave_state_ = 0;
  std::atomic<bool> stop_requested_{false};
  mutable std::mutex stats_mutex_;
  RuntimeStats stats_;
};

// The p-th percentile (0..100) of a latency histogram such as
// RuntimeStats::visible_latency_ms; 0 when it is empty.
int64_t HistogramPercentile(const std::map<int64_t, uint64_t>& histogram, double p);

// Dead-letter record published on jiritsu.dlq (JSON, one object):
// {"reason": "...", "topic": "...", "partition": n, "offset": n,
//  "key": "...", "value_base64": "...", "value_preview": "..."}
// Keyed by "<topic>/<partition>/<offset>" so re-publication collapses.
// value_base64 holds at most the first kDeadLetterValueLimit bytes; a longer
// record adds "value_bytes" (its size) and "value_truncated":true.
inline constexpr size_t kDeadLetterValueLimit = 65 * 1024;
std::string DeadLetterKey(const LogRecord& record);
// "" when a jiritsu.dlq record is a well-formed dead letter (the fields
// above, keyed by its position), else what is wrong with it.
std::string DeadLetterProblem(const LogRecord& record);
std::string EncodeDeadLetter(const LogRecord& record, const std::string& reason);

// Offsets column family encoding (shared with replay and tests).
std::string OffsetKey(const TopicPartition& tp);
std::string EncodeOffset(int64_t offset);
Result<int64_t> DecodeOffset(std::string_view bytes);

}  // namespace jiritsu
