// StateStore: the RocksDB database holding Jiritsu's views and the source
// offsets they were built from.
//
// Why one store for views and offsets: a checkpoint writes view updates and
// the consumed offsets in one atomic WriteBatch (docs/architecture.md,
// principle 1), so after a crash the views and the positions always agree.
//
// Column families are named by the caller; "meta" and "offsets" always exist.
// Keys and values are opaque bytes.
//
// Lifecycle: Open() -> use -> destroy (closes the DB). Open() removes the
// ingest-<n>.sst files a bulk load wrote and never ingested (a process that
// died in between); nothing else in the directory is touched. A read-only store
// (OpenReadOnly) sees the state as of opening and rejects writes with
// kFailedPrecondition; opening it while another process writes the store
// retries (about 1 s) when that writer deleted files the open was reading.
// Thread-safety: all methods are thread-safe (RocksDB semantics), except
// that CompactFamiliesEarly and SyncAndFlush are the one writer's calls;
// iterators and batches are single-thread objects. A batch that spills
// (rebuilds) is written by the store's own writer thread, which the store
// joins when it is destroyed.
// Failure: RocksDB errors are translated once here: IOError, Corruption,
// Unavailable (lock held by another process), NotFound.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace rocksdb {
class Cache;
class DB;
class ColumnFamilyHandle;
class WriteBatch;
class Iterator;
}  // namespace rocksdb

namespace jiritsu {

inline constexpr std::string_view kMetaFamily = "meta";
inline constexpr std::string_view kOffsetsFamily = "offsets";

inline constexpr size_t kUnloggedWriteChunkBytes = 16 << 20;
// A bulk load (StateStoreOptions::disable_wal) writes a family's ops as one
// table file, ingested into level 0, once a write holds this many bytes of
// that family: RocksDB then neither inserts them into a memtable nor flushes
// it, which was ~11% of a rebuild's instructions (docs/performance.md,
// thirty-seventh pass). Smaller shares go through the memtable, so level 0
// does not fill with small files.
inline constexpr size_t kIngestedFamilyBytes = 4 << 20;

struct StateStoreOptions {
  std::vector<std::string> column_families;  // in addition to meta, offsets
  bool create_if_missing = true;
  // Rebuild mode: no WAL; durability comes from SyncAndFlush() at the end.
  // Write() then applies a large batch in chunks of kUnloggedWriteChunkBytes
  // (not atomic for concurrent readers: nobody reads a store being rebuilt).
  // A rebuild store that holds no table files when it opens is also bulk
  // loaded: no automatic compactions while it is written (every flush stays
  // in level 0 and writes never stall on their number), and SyncAndFlush()
  // compacts each family once into its last level. Leveled compaction during
  // a 100 000 x 36 replay rewrote the data ~4x and took a quarter of the CPU
  // (docs/performance.md, twentieth pass).
  bool disable_wal = false;
  // Sync the WAL on every Write (live mode checkpoints).
  bool sync_writes = false;
  size_t block_cache_bytes = 64 << 20;
  // 0: RocksDB's memory is bounded per column family (64 MiB write buffers,
  // up to 3 each, plus block_cache_bytes). > 0: one limit for the whole store
  // (core/memory_budget.h): a block cache of this size to which one
  // WriteBufferManager charges the memtables of every column family (they
  // flush once they reach half of it), and write buffers of at most 1/8 of
  // it; block_cache_bytes is then ignored.
  size_t memory_budget_bytes = 0;
};

// What RocksDB holds in memory for a store (diagnostics, docs/performance.md).
struct StoreMemoryUsage {
  uint64_t memtables = 0;      // all column families, active + immutable
  uint64_t block_cache = 0;    // cache usage (memtable reservations included when budgeted)
  uint64_t table_readers = 0;  // index/filter memory outside the cache
  uint64_t pinned = 0;         // cache entries pinned by iterators / pinned levels
};

// Lowers the CPU priority (nice 19) of RocksDB's low-priority background
// pool, where compactions run, for every store of this process: they share
// the default Env's pools (the views store and the embedded log alike).
// Live runs call it (RuntimeOptions::low_priority_compactions) so that a
// compaction yields the CPU to the runtime thread instead of delaying a
// checkpoint; it still runs whenever a core is free, and gets a small share
// (CFS weights) when none is. Flushes (the high pool) keep their priority,
// since writes wait for them. Process-wide and not undone; calling it again
// does nothing. Each pool thread lowers itself before its next job.
// Failure: what RocksDB reports (an Env without the feature).
Status LowerCompactionThreadPriority();

class StateStore;

class StateBatch {
 public:
  StateBatch();
  ~StateBatch();
  StateBatch(const StateBatch&) = delete;
  StateBatch& operator=(const StateBatch&) = delete;
  void Put(std::string_view family, std::string_view key, std::string_view value);
  void Delete(std::string_view family, std::string_view key);
  size_t Count() const;  // ops not yet spilled
  size_t ApproximateBytes() const;
  void Clear();

  // Rebuilds: once the batch holds `bytes`, it hands what it holds to
  // `store`'s background writer and starts over, so a checkpoint's batch
  // stays that small however much it changes, and the thread building it
  // does not wait for RocksDB (see StateStore::WaitForSpills). Only for a
  // store without a WAL (FailedPrecondition otherwise): the batch is then
  // not atomic, as an unlogged Write() is not (see
  // StateStoreOptions::disable_wal). A failed spill stops spilling and is
  // returned by the next StateStore::Write. `store` must outlive the batch.
  Status SpillTo(StateStore* store, size_t bytes);
  size_t SpilledBytes() const;

 private:
  friend class StateStore;
  void MaybeSpill();
  // Ops are buffered with family names; families resolve to RocksDB handles
  // in StateStore::Write, so a batch can be built before the store is open.
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// Forward iterator over one column family, in key order.
class StateIterator {
 public:
  explicit StateIterator(rocksdb::Iterator* it);
  ~StateIterator();
  void Seek(std::string_view key);
  void SeekToFirst();
  bool Valid() const;
  void Next();
  std::string_view key() const;
  std::string_view value() const;
  Status status() const;

 private:
  rocksdb::Iterator* it_;
};

class StateStore {
 public:
  static Result<std::unique_ptr<StateStore>> Open(const std::string& dir,
                                                  const StateStoreOptions& options);
  // Read-only view of a store possibly open by another process.
  // `block_cache` (from NewBlockCache; null: a private cache of
  // StateStoreOptions().block_cache_bytes) may be shared by several stores:
  // RocksDB keys cached blocks by the table file's identity, so a reopen of
  // the same files finds their blocks still cached.
  static Result<std::unique_ptr<StateStore>> OpenReadOnly(
      const std::string& dir, const std::vector<std::string>& column_families,
      std::shared_ptr<rocksdb::Cache> block_cache = nullptr);
  // An LRU block cache of `bytes` (at least 1 MiB) for OpenReadOnly; it
  // lives as long as its last user (a store or the caller's pointer).
  static std::shared_ptr<rocksdb::Cache> NewBlockCache(size_t bytes);
  ~StateStore();

  Status Get(std::string_view family, std::string_view key, std::string* value) const;
  // Writes `batch` after every spill handed to the background writer, so
  // the store sees one order of writes; fails with the first error a spill
  // met (and then keeps failing: part of the rebuild is lost).
  Status Write(StateBatch* batch);
  // Waits until the background writer has written every spill handed to it
  // (StateBatch::SpillTo); the first error one met. Only then are spilled
  // ops visible to Get and iterators, as a batch's ops are only once
  // written. Write, SyncAndFlush, CompactFamiliesEarly and Checkpoint wait
  // first themselves.
  Status WaitForSpills();
  std::unique_ptr<StateIterator> NewIterator(std::string_view family) const;
  // Flushes memtables and syncs: after it, everything written is durable even
  // with the WAL disabled. A bulk-loaded store (disable_wal above) is then
  // compacted, so it reads as fast as one compacted as it was written. It
  // first waits for CompactFamiliesEarly's compaction and returns its error.
  Status SyncAndFlush();
  // Bulk loading only (FailedPrecondition otherwise, or when called twice):
  // flushes `families` now and starts their one compaction on a background
  // thread, so that it overlaps what the caller writes next to the other
  // families (the rebuild's facts, after its journal is complete).
  // SyncAndFlush() compacts such a family again only if it was written
  // after that flush: a late write costs time, never correctness. NotFound
  // for an unknown family. Destroying the store cancels the compaction.
  Status CompactFamiliesEarly(const std::vector<std::string>& families);
  // Families SyncAndFlush() compacted at the end of the bulk load
  // (diagnostics: those compacted early and not written since are not).
  size_t families_compacted_at_sync() const { return families_compacted_at_sync_; }
  // A RocksDB checkpoint (hard links) in `dir`, which must not exist.
  Status Checkpoint(const std::string& dir);
  // Sum of live SST + memtable bytes (for metrics).
  uint64_t ApproximateSizeBytes() const;
  StoreMemoryUsage MemoryUsage() const;
  // Table files in level 0 of `family` (diagnostics: a bulk load leaves none).
  Result<uint64_t> Level0FileCount(std::string_view family) const;
  // The level and compression (RocksDB's name, e.g. "LZ4", "NoCompression")
  // of every table file of `family` (diagnostics and tests).
  Result<std::vector<std::pair<int, std::string>>> TableFileCompressions(
      std::string_view family) const;
  const std::string& dir() const { return dir_; }
  bool read_only() const { return read_only_; }
  bool unlogged() const { return options_.disable_wal; }
  // Opened empty in rebuild mode: compactions wait for SyncAndFlush().
  bool bulk_loading() const { return bulk_loading_.load(); }
  // Whether RocksDB compacts `family` on its own now (diagnostics and tests:
  // off while a bulk load lasts). NotFound for an unknown family.
  Result<bool> AutoCompactionsEnabled(std::string_view family) const;
  // Table files a bulk load wrote itself (kIngestedFamilyBytes; diagnostics).
  uint64_t files_ingested() const { return files_ingested_.load(); }

 private:
  StateStore() = default;
  friend class StateBatch;
  struct SpillWriter;
  rocksdb::ColumnFamilyHandle* Family(std::string_view name) const;
  // The ops of `rep`, in key order per family (the memtable's insert hints),
  // in chunks when unlogged.
  Status WriteOps(const StateBatch::Rep& rep);
  // The indices of rep.ops in that order, ops on one key in the order made;
  // `superseded` marks each followed by another op on the same key.
  static std::vector<uint32_t> WriteOrder(const StateBatch::Rep& rep,
                                          std::vector<char>* superseded);
  // Prefetches the ops a few places after `i` in `order`, and their bytes.
  static void PrefetchOpsAhead(const StateBatch::Rep& rep, const std::vector<uint32_t>& order,
                               size_t i);
  // Writes the ops rep.ops[order[begin..end)], all of one family and in key
  // order, as a table file and ingests it (bulk loads only); an op marked
  // in `superseded` (WriteOrder) is left out.
  Status IngestSorted(rocksdb::ColumnFamilyHandle* handle, const StateBatch::Rep& rep,
                      const std::vector<uint32_t>& order, const std::vector<char>& superseded,
                      size_t begin, size_t end);
  // Hands a full batch to the writer thread (an unlogged store's, started
  // by Open), after the previous one is written: at most one waits or is
  // being written. Fails with an earlier spill's error, and then takes
  // nothing.
  Status SpillInBackground(std::unique_ptr<StateBatch::Rep>* rep);
  // Compacts `to_compact` side by side, then turns automatic compactions of
  // every family in `all` back on.
  Status CompactBulkLoad(const std::vector<rocksdb::ColumnFamilyHandle*>& to_compact,
                         const std::vector<rocksdb::ColumnFamilyHandle*>& all);
  // Waits for CompactFamiliesEarly's thread; its result.
  Status JoinEarlyCompaction();
  std::string dir_;
  bool read_only_ = false;
  std::atomic<bool> bulk_loading_{false};
  std::atomic<uint64_t> files_ingested_{0};
  std::atomic<uint64_t> ingest_file_number_{0};  // names the next table file
  StateStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::pair<std::string, rocksdb::ColumnFamilyHandle*>> families_;
  // CompactFamiliesEarly: the families, the thread, its result (read after
  // the join).
  std::vector<rocksdb::ColumnFamilyHandle*> compacted_early_;
  std::thread early_compaction_;
  Status early_compaction_status_;
  size_t families_compacted_at_sync_ = 0;
  std::unique_ptr<SpillWriter> spill_writer_;  // unlogged stores only
};

}  // namespace jiritsu
