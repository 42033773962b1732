// RocksDB adapter for StateStore: the only place rocksdb::Status is
// translated for the store (see core/state_store.h for the contract).
#include "core/state_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>

#include "core/prefetch.h"
#include "core/thread_name.h"

namespace jiritsu {

namespace {

// Translates a RocksDB status once, at this boundary. `what` names the
// operation and the store directory so messages stand on their own.
constexpr std::string_view kIngestFilePrefix = "ingest-";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  const std::string message = what + ": " + s.ToString();
  if (s.IsNotFound()) return NotFound(message);
  if (s.IsCorruption()) return Corruption(message);
  if (s.IsInvalidArgument()) return InvalidArgument(message);
  if (s.IsNotSupported()) return FailedPrecondition(message);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return Unavailable(message);
  if (s.IsIncomplete()) return Unavailable(message);
  if (s.IsIOError()) {
    // RocksDB reports a held LOCK file as an IOError ("While lock file" from
    // another process, "lock hold by current process" from this one).
    if (s.ToString().find("lock") != std::string::npos) {
      return Unavailable(what + ": the directory is in use by another process or open instance (" +
                         s.ToString() + ")");
    }
    if (s.IsNoSpace()) return ResourceExhausted(message);
    return IOError(message);
  }
  return Internal(message);
}

// The compression of table files above the last level: LZ4 when this
// RocksDB build has it.
rocksdb::CompressionType DefaultCompression() {
  const auto supported = rocksdb::GetSupportedCompressions();
  for (rocksdb::CompressionType type : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), type) != supported.end()) return type;
  }
  return rocksdb::kNoCompression;
}

// The same, as SetOptions spells it.
std::string DefaultCompressionOption() {
  switch (DefaultCompression()) {
    case rocksdb::kLZ4Compression:
      return "kLZ4Compression";
    case rocksdb::kSnappyCompression:
      return "kSnappyCompression";
    default:
      return "kNoCompression";
  }
}

// A bulk load's table file is written as ingest-<n>.sst, then moved into
// RocksDB's own numbering by the ingestion. One still there was never
// ingested (the process died in between, the store was being rebuilt):
// nothing refers to it.
Status RemoveTableFilesNeverIngested(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> leftovers;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(kIngestFilePrefix) && name.ends_with(".sst")) {
      leftovers.push_back(entry.path());
    }
  }
  if (ec) return Status::Ok();  // no directory yet, or unreadable: DB::Open says which
  for (const auto& path : leftovers) {
    if (!std::filesystem::remove(path, ec) && ec) {
      return IOError("state store " + dir + ": cannot remove " + path.string() +
                     ", a table file never ingested: " + ec.message());
    }
  }
  return Status::Ok();
}

// Whether `dir` holds a table file (RocksDB's or one a bulk load wrote).
bool HasTableFiles(const std::string& dir) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".sst") return true;
  }
  return false;  // none, or no directory yet
}

// A bulk load's family options (see StateStore::bulk_loading): compactions
// wait for SyncAndFlush(), so RocksDB never stalls writes on level-0 files
// or pending bytes. Its flushes write level 0 uncompressed: every one of
// those files is read once more, by that compaction, and then deleted, so
// compressing them was work thrown away (docs/performance.md,
// thirty-seventh pass). The compaction writes the last level with LZ4
// instead of ZSTD: a 100 000 x 36 replay spent 12 s instead of 20 s
// compacting the journal, for 1.6 GB on disk instead of 1.2 GB. Later
// compactions of the live store use ZSTD again (MakeOptions). Spelled as
// SetOptions takes them, and applied at the open from the same map.
std::unordered_map<std::string, std::string> BulkLoadOptionMap() {
  return {{"disable_auto_compactions", "true"},
          {"compression", "kNoCompression"},
          {"bottommost_compression", "kLZ4Compression"}};
}

Status UseBulkLoadOptions(rocksdb::ColumnFamilyOptions* options) {
  const rocksdb::ColumnFamilyOptions base = *options;
  return FromRocks(rocksdb::GetColumnFamilyOptionsFromMap(rocksdb::ConfigOptions(), base,
                                                          BulkLoadOptionMap(), options),
                   "bulk-load options");
}

// Level compaction, the best compression this RocksDB build supports, bloom
// filters and one block cache shared by all column families. With a memory
// budget, the memtables of every family are charged to that cache (one
// WriteBufferManager), so the store's memory has one limit instead of
// 3 x 64 MiB per family plus the cache.
rocksdb::Options MakeOptions(size_t block_cache_bytes, size_t memory_budget_bytes = 0,
                             std::shared_ptr<rocksdb::Cache> shared_cache = nullptr) {
  rocksdb::Options options;
  options.compaction_style = rocksdb::kCompactionStyleLevel;
  options.level_compaction_dynamic_level_bytes = true;
  options.max_background_jobs = 2;
  options.bytes_per_sync = 1 << 20;
  options.write_buffer_size = 64 << 20;
  options.max_write_buffer_number = 3;
  options.target_file_size_base = 64 << 20;
  options.keep_log_file_num = 3;
  // With many column families a WAL lives until every family flushed past it;
  // rarely written families (meta, dlq) would pin gigabytes of WAL. Cap it.
  options.max_total_wal_size = 256 << 20;
  options.max_manifest_file_size = 64 << 20;

  const auto supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  options.compression = DefaultCompression();
  // Cold data in the last level: denser ZSTD when available.
  if (has(rocksdb::kZSTD)) options.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions table;
  if (memory_budget_bytes > 0) {
    const size_t budget = std::max<size_t>(memory_budget_bytes, 4 << 20);
    table.block_cache = rocksdb::NewLRUCache(budget);
    // Memtables flush when all families together hold half the budget; the
    // reservations evict cached blocks, so blocks + memtables fit `budget`.
    options.write_buffer_manager =
        std::make_shared<rocksdb::WriteBufferManager>(budget / 2, table.block_cache);
    options.write_buffer_size = std::clamp<size_t>(budget / 8, 1 << 20, 64 << 20);
  } else if (shared_cache) {
    table.block_cache = std::move(shared_cache);
  } else {
    table.block_cache = rocksdb::NewLRUCache(std::max<size_t>(block_cache_bytes, 1 << 20));
  }
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Partitioned filters and index: a point lookup (dedupe index, journal)
  // reads one small partition through the cache. A full filter of a 64 MB
  // file is megabytes; once evicted from a small cache every Get re-read
  // and re-checksummed it (ingest fell from 110k to 340 events/s at 5M
  // identities).
  table.index_type = rocksdb::BlockBasedTableOptions::IndexType::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_top_level_index_and_filter = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.block_size = 16 << 10;
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Batches are written in key order per family (StateStore::Write). A
  // plain memtable insert re-searches the skip list from the top unless the
  // key lands right next to the previous one, which in a memtable of ~10^5
  // rows it rarely does; an insert with a hint (kept per first key byte, so
  // per row kind: states, headers, journal, KPI rows...) climbs only the
  // levels that no longer bracket the key. Checkpoint writes took ~40% less
  // time in a live run (docs/performance.md, thirteenth pass).
  options.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
  return options;
}

// Every family the store opens with: default, meta, offsets, the caller's.
std::vector<std::string> WantedFamilies(const std::vector<std::string>& requested) {
  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, std::string(kMetaFamily),
                                    std::string(kOffsetsFamily)};
  for (const auto& name : requested) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

}  // namespace

// ---------------------------------------------------------------------------
// StateBatch

struct StateBatch::Rep {
  enum class Kind : uint8_t { kPut, kDelete };
  struct Op {
    Kind kind;
    uint32_t family;       // index into `families`
    const char* data;      // key bytes, then value bytes, in a chunk of the arena
    size_t key_size;
    size_t value_size;
  };
  // Interned family names: a batch touches few families.
  std::vector<std::string> families;
  std::vector<Op> ops;
  // Every key and value goes into chunks growing from 4 KiB to 1 MiB: no
  // allocation per op, and bytes never move once added. (One growing string
  // copied the whole batch at each doubling: a live checkpoint of ~40 MB
  // spent 5% of the runtime thread in those copies.)
  static constexpr size_t kFirstChunkBytes = size_t{4} << 10;
  static constexpr size_t kChunkBytes = size_t{1} << 20;
  struct Chunk {
    std::unique_ptr<char[]> bytes;
    size_t used = 0;
    size_t capacity = 0;
  };
  std::vector<Chunk> chunks;
  size_t arena_bytes = 0;  // key and value bytes added
  // StateBatch::SpillTo(): where and from what size the batch writes itself.
  StateStore* spill_store = nullptr;
  size_t spill_bytes = 0;
  size_t spilled_bytes = 0;
  Status spill_error;

  uint32_t FamilyIndex(std::string_view name) {
    for (size_t i = 0; i < families.size(); ++i) {
      if (families[i] == name) return static_cast<uint32_t>(i);
    }
    families.emplace_back(name);
    return static_cast<uint32_t>(families.size() - 1);
  }
  char* Allocate(size_t size) {
    if (chunks.empty() || chunks.back().capacity - chunks.back().used < size) {
      Chunk chunk;
      const size_t grown = chunks.empty() ? kFirstChunkBytes : std::min(kChunkBytes, 2 * chunks.back().capacity);
      chunk.capacity = std::max(size, grown);
      chunk.bytes = std::make_unique_for_overwrite<char[]>(chunk.capacity);
      chunks.push_back(std::move(chunk));
    }
    Chunk& chunk = chunks.back();
    char* out = chunk.bytes.get() + chunk.used;
    chunk.used += size;
    return out;
  }
  void Add(Kind kind, std::string_view family, std::string_view key, std::string_view value) {
    char* data = Allocate(key.size() + value.size());
    if (!key.empty()) std::memcpy(data, key.data(), key.size());
    if (!value.empty()) std::memcpy(data + key.size(), value.data(), value.size());
    ops.push_back(Op{kind, FamilyIndex(family), data, key.size(), value.size()});
    arena_bytes += key.size() + value.size();
  }
  void ClearArena() {
    // The first chunk is kept: a batch reused for each checkpoint (or spill)
    // does not allocate it again.
    if (chunks.size() > 1) chunks.resize(1);
    if (!chunks.empty()) chunks.front().used = 0;
    arena_bytes = 0;
  }
};

StateBatch::StateBatch() : rep_(std::make_unique<Rep>()) {}
StateBatch::~StateBatch() = default;

void StateBatch::Put(std::string_view family, std::string_view key, std::string_view value) {
  rep_->Add(Rep::Kind::kPut, family, key, value);
  MaybeSpill();
}

void StateBatch::Delete(std::string_view family, std::string_view key) {
  rep_->Add(Rep::Kind::kDelete, family, key, {});
  MaybeSpill();
}

Status StateBatch::SpillTo(StateStore* store, size_t bytes) {
  if (store == nullptr || !store->unlogged()) {
    return FailedPrecondition("a batch spills only into a store without a WAL (rebuilds)");
  }
  rep_->spill_store = store;
  rep_->spill_bytes = std::max<size_t>(bytes, 1);
  return Status::Ok();
}

size_t StateBatch::SpilledBytes() const { return rep_->spilled_bytes; }

void StateBatch::MaybeSpill() {
  Rep& rep = *rep_;
  if (rep.spill_store == nullptr || !rep.spill_error.ok() || ApproximateBytes() < rep.spill_bytes) {
    return;
  }
  const size_t bytes = ApproximateBytes();
  auto fresh = std::make_unique<Rep>();
  fresh->ops.reserve(rep.ops.size());
  fresh->spill_store = rep.spill_store;
  fresh->spill_bytes = rep.spill_bytes;
  fresh->spilled_bytes = rep.spilled_bytes + bytes;
  std::unique_ptr<Rep> full = std::exchange(rep_, std::move(fresh));
  Status handed = rep_->spill_store->SpillInBackground(&full);
  if (!handed.ok()) {
    // The ops stay (the next Write reports the error without writing them).
    full->spill_error = std::move(handed);
    full->spilled_bytes = rep_->spilled_bytes - bytes;
    rep_ = std::move(full);
  }
}

size_t StateBatch::Count() const { return rep_->ops.size(); }

size_t StateBatch::ApproximateBytes() const {
  return rep_->arena_bytes + rep_->ops.size() * sizeof(Rep::Op);
}

void StateBatch::Clear() {
  rep_->ops.clear();
  rep_->ClearArena();
  rep_->families.clear();
}

// ---------------------------------------------------------------------------
// StateIterator

StateIterator::StateIterator(rocksdb::Iterator* it) : it_(it) {}
StateIterator::~StateIterator() { delete it_; }
void StateIterator::Seek(std::string_view key) { it_->Seek(rocksdb::Slice(key.data(), key.size())); }
void StateIterator::SeekToFirst() { it_->SeekToFirst(); }
bool StateIterator::Valid() const { return it_->Valid(); }
void StateIterator::Next() { it_->Next(); }
std::string_view StateIterator::key() const {
  const rocksdb::Slice k = it_->key();
  return {k.data(), k.size()};
}
std::string_view StateIterator::value() const {
  const rocksdb::Slice v = it_->value();
  return {v.data(), v.size()};
}
Status StateIterator::status() const { return FromRocks(it_->status(), "state store iterator"); }

// ---------------------------------------------------------------------------
// StateStore

// An unlogged store's thread (rebuilds): it writes the full batches the
// runtime thread hands over while that thread goes on applying events.
struct StateStore::SpillWriter {
  std::mutex mu;
  std::condition_variable changed;
  std::unique_ptr<StateBatch::Rep> next;  // handed over, not taken yet
  bool writing = false;
  bool stopping = false;
  Status error;        // the first failed spill's
  std::thread thread;  // last: starts once the rest is initialised

  explicit SpillWriter(StateStore* store)
      : thread([this, store] {
          NameCurrentThread("jr-spill");
          Run(store);
        }) {}
  ~SpillWriter() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
    }
    changed.notify_all();
    thread.join();
  }
  void Run(StateStore* store) {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      changed.wait(lock, [&] { return stopping || next != nullptr; });
      if (next == nullptr) return;  // stopping, nothing left
      std::unique_ptr<StateBatch::Rep> rep = std::move(next);
      writing = true;
      lock.unlock();
      // A spill after a failed one is dropped: the store's writes stop.
      Status written = error.ok() ? store->WriteOps(*rep) : Status::Ok();
      rep.reset();  // its arena is freed here, off the runtime thread
      lock.lock();
      if (!written.ok() && error.ok()) error = std::move(written);
      writing = false;
      changed.notify_all();
    }
  }
  // Under `lock`: nothing handed over or being written.
  void WaitIdle(std::unique_lock<std::mutex>& lock) {
    changed.wait(lock, [&] { return next == nullptr && !writing; });
  }
};

Status LowerCompactionThreadPriority() {
  return FromRocks(rocksdb::Env::Default()->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                                       rocksdb::CpuPriority::kLow),
                   "lowering the compaction threads' CPU priority");
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& dir,
                                                     const StateStoreOptions& options) {
  rocksdb::Options rocks = MakeOptions(options.block_cache_bytes, options.memory_budget_bytes);
  rocks.create_if_missing = options.create_if_missing;

  // RocksDB must open every existing family in read-write mode.
  std::vector<std::string> names = WantedFamilies(options.column_families);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(rocks, dir, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  } else if (!options.create_if_missing) {
    return NotFound("state store " + dir + " does not exist");
  }
  if (options.create_if_missing) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IOError("state store " + dir + ": cannot create directory: " + ec.message());
  }
  JIRITSU_RETURN_IF_ERROR(RemoveTableFilesNeverIngested(dir));

  // An unlogged store keeps what it was written only in table files (the
  // memtables die with the process), so one whose directory holds none is
  // empty: a rebuild's new store, bulk loaded (see bulk_loading()). Its
  // families open with the load's options, and an unlogged store that is
  // not empty opens with compactions on, instead of changing either after
  // the open: every SetOptions call makes RocksDB write its options file
  // and parse it back, ~8 ms each, and the 59 calls of a rebuild and its
  // catch-up were ~0.5 s of a 10 000 x 24 replay (docs/performance.md,
  // fortieth pass).
  const bool unlogged_and_empty = options.disable_wal && !HasTableFiles(dir);
  rocksdb::ColumnFamilyOptions family_options(rocks);
  if (unlogged_and_empty) JIRITSU_RETURN_IF_ERROR(UseBulkLoadOptions(&family_options));
  // The existing families are opened and the missing ones created in one
  // call, which writes the options file once; DB::Open's
  // create_missing_column_families writes it once per family.
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  std::vector<std::string> missing;
  for (const auto& name : names) {
    const bool exists = name == rocksdb::kDefaultColumnFamilyName ||
                        std::find(existing.begin(), existing.end(), name) != existing.end();
    if (exists) {
      descriptors.emplace_back(name, family_options);
    } else {
      missing.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(rocks), dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "open state store " + dir);

  std::unique_ptr<StateStore> store(new StateStore());
  store->dir_ = dir;
  store->options_ = options;
  store->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) {
    store->families_.emplace_back(descriptors[i].name, handles[i]);
  }
  if (!missing.empty()) {
    std::vector<rocksdb::ColumnFamilyHandle*> created;
    s = raw->CreateColumnFamilies(family_options, missing, &created);
    // Those created before a failure are the store's to release.
    for (size_t i = 0; i < created.size(); ++i) {
      store->families_.emplace_back(missing[i], created[i]);
    }
    if (!s.ok()) return FromRocks(s, "state store " + dir + ": create column families");
  }
  // In the order the caller named them, then the others that exist.
  std::vector<std::pair<std::string, rocksdb::ColumnFamilyHandle*>> ordered;
  for (const auto& name : names) ordered.emplace_back(name, store->Family(name));
  store->families_ = std::move(ordered);
  if (options.disable_wal) {
    bool empty = unlogged_and_empty;
    if (!empty) {
      // Table files RocksDB does not list (a crash before it deleted them):
      // empty after all, and bulk loaded as such.
      std::vector<rocksdb::LiveFileMetaData> files;
      store->db_->GetLiveFilesMetaData(&files);
      empty = files.empty();
      if (empty) {
        for (auto& [name, handle] : store->families_) {
          JIRITSU_RETURN_IF_ERROR(FromRocks(store->db_->SetOptions(handle, BulkLoadOptionMap()),
                                            "state store " + dir + ": bulk-load options"));
        }
      }
    }
    store->bulk_loading_ = empty;
  }
  // Started here, not at the first spill: every writer may ask for it.
  if (options.disable_wal) store->spill_writer_ = std::make_unique<SpillWriter>(store.get());
  return store;
}

std::shared_ptr<rocksdb::Cache> StateStore::NewBlockCache(size_t bytes) {
  return rocksdb::NewLRUCache(std::max<size_t>(bytes, 1 << 20));
}

Result<std::unique_ptr<StateStore>> StateStore::OpenReadOnly(
    const std::string& dir, const std::vector<std::string>& column_families,
    std::shared_ptr<rocksdb::Cache> block_cache) {
  rocksdb::Options rocks =
      MakeOptions(StateStoreOptions().block_cache_bytes, 0, std::move(block_cache));
  std::vector<std::string> existing;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocks, dir, &existing);
  if (!s.ok()) return NotFound("state store " + dir + " does not exist or is unreadable: " + s.ToString());

  // Read-only mode may open a subset: families not created yet by the writer
  // are simply unknown (NotFound on use).
  std::vector<std::string> names;
  for (const auto& name : WantedFamilies(column_families)) {
    if (std::find(existing.begin(), existing.end(), name) != existing.end()) names.push_back(name);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions(rocks));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  // A writer in another process (jiritsu run) may compact and delete table
  // files between our reading its MANIFEST and opening them ("Can't access
  // 000044.sst: No such file"): the next attempt reads the newer MANIFEST.
  // Found by the crash harness (tests/ops/crash_test.cc, swap scenario).
  for (int attempt = 0;; ++attempt) {
    handles.clear();
    s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(rocks), dir, descriptors, &handles, &raw);
    if (s.ok() || attempt >= 50 || !(s.IsCorruption() || s.IsIOError() || s.IsPathNotFound())) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!s.ok()) return FromRocks(s, "open state store " + dir + " read-only");

  std::unique_ptr<StateStore> store(new StateStore());
  store->dir_ = dir;
  store->read_only_ = true;
  store->options_.column_families = column_families;
  store->db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) store->families_.emplace_back(names[i], handles[i]);
  return store;
}

Status StateStore::SpillInBackground(std::unique_ptr<StateBatch::Rep>* rep) {
  if (spill_writer_ == nullptr)
    return FailedPrecondition("state store " + dir_ + " does not spill");
  SpillWriter& writer = *spill_writer_;
  {
    std::unique_lock<std::mutex> lock(writer.mu);
    writer.WaitIdle(lock);
    if (!writer.error.ok()) return writer.error;
    writer.next = std::move(*rep);
  }
  writer.changed.notify_all();
  return Status::Ok();
}

Status StateStore::WaitForSpills() {
  if (spill_writer_ == nullptr) return Status::Ok();
  std::unique_lock<std::mutex> lock(spill_writer_->mu);
  spill_writer_->WaitIdle(lock);
  return spill_writer_->error;
}

StateStore::~StateStore() {
  spill_writer_.reset();  // writes what it was handed (the store is discarded then anyway)
  if (!db_) return;
  if (early_compaction_.joinable()) {
    // An error path: the store goes away before SyncAndFlush.
    db_->DisableManualCompaction();
    early_compaction_.join();
  }
  for (auto& [name, handle] : families_) {
    db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }
  families_.clear();
  if (!read_only_) db_->Close().PermitUncheckedError();
  db_.reset();
}

rocksdb::ColumnFamilyHandle* StateStore::Family(std::string_view name) const {
  for (const auto& [family_name, handle] : families_) {
    if (family_name == name) return handle;
  }
  return nullptr;
}

Status StateStore::Get(std::string_view family, std::string_view key, std::string* value) const {
  rocksdb::ColumnFamilyHandle* handle = Family(family);
  if (handle == nullptr) {
    return NotFound("state store " + dir_ + ": unknown column family '" + std::string(family) + "'");
  }
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handle, rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return NotFound("key not found in " + std::string(family));
  return FromRocks(s, "state store " + dir_ + ": get from " + std::string(family));
}

Status StateStore::Write(StateBatch* batch) {
  if (read_only_) return FailedPrecondition("state store " + dir_ + " is open read-only");
  JIRITSU_RETURN_IF_ERROR(WaitForSpills());
  const StateBatch::Rep& rep = *batch->rep_;
  if (!rep.spill_error.ok()) return rep.spill_error;
  return WriteOps(rep);
}

namespace {

// Bytes [at, at + 8) of `key`, zero-padded past its end, as a big-endian
// word: two keys' words compare as their bytes do.
uint64_t KeyWord(std::string_view key, size_t at) {
  unsigned char bytes[8] = {};
  if (key.size() > at) std::memcpy(bytes, key.data() + at, std::min<size_t>(8, key.size() - at));
  uint64_t word = 0;
  for (unsigned char byte : bytes) word = (word << 8) | byte;
  return word;
}

}  // namespace

// The indices of `rep.ops` in write order: by family, then key, several ops
// on one key in the order they were made. Each entry carries its key's first
// 16 bytes, so most comparisons read no key: sorting bare indices and
// comparing the keys was ~40% of a rebuild's spill writer, nearly all of it
// cache misses on keys spread over the batch's arena (docs/performance.md,
// forty-fifth pass). Zero padding cannot misorder: keys whose words tie are
// compared in full. `superseded[i]` is set when the op at `order[i]` is
// followed by another on the same key, found by the same words.
std::vector<uint32_t> StateStore::WriteOrder(const StateBatch::Rep& rep,
                                             std::vector<char>* superseded) {
  struct Entry {
    uint64_t high;
    uint64_t low;
    uint32_t family;
    uint32_t index;
  };
  std::vector<Entry> entries(rep.ops.size());
  for (size_t i = 0; i < rep.ops.size(); ++i) {
    const auto& op = rep.ops[i];
    const std::string_view key(op.data, op.key_size);
    entries[i] = Entry{KeyWord(key, 0), KeyWord(key, 8), op.family, static_cast<uint32_t>(i)};
  }
  auto same_words = [](const Entry& a, const Entry& b) {
    return a.family == b.family && a.high == b.high && a.low == b.low;
  };
  auto key_of = [&](const Entry& e) {
    return std::string_view(rep.ops[e.index].data, rep.ops[e.index].key_size);
  };
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    if (a.family != b.family) return a.family < b.family;
    if (a.high != b.high) return a.high < b.high;
    if (a.low != b.low) return a.low < b.low;
    const int by_key = key_of(a).compare(key_of(b));
    return by_key != 0 ? by_key < 0 : a.index < b.index;
  });
  std::vector<uint32_t> order(entries.size());
  superseded->assign(entries.size(), 0);
  for (size_t i = 0; i < entries.size(); ++i) {
    order[i] = entries[i].index;
    if (i + 1 < entries.size() && same_words(entries[i], entries[i + 1]) &&
        key_of(entries[i]) == key_of(entries[i + 1])) {
      (*superseded)[i] = 1;
    }
  }
  return order;
}

// The ops a few places after position `i` of `order`, and their bytes,
// brought into the cache in two steps (an op's own line first, then the
// data it points to): a write walks the arena in key order, not in the
// order it was filled.
void StateStore::PrefetchOpsAhead(const StateBatch::Rep& rep, const std::vector<uint32_t>& order,
                                  size_t i) {
  constexpr size_t kOpAhead = 16;
  constexpr size_t kDataAhead = 8;
  if (i + kOpAhead < order.size()) __builtin_prefetch(&rep.ops[order[i + kOpAhead]]);
  if (i + kDataAhead < order.size()) {
    const auto& op = rep.ops[order[i + kDataAhead]];
    PrefetchLines(op.data, std::min<size_t>(op.key_size + op.value_size, 256));
  }
}

Status StateStore::WriteOps(const StateBatch::Rep& rep) {
  if (rep.ops.empty()) return Status::Ok();

  std::vector<rocksdb::ColumnFamilyHandle*> handles(rep.families.size());
  for (size_t i = 0; i < rep.families.size(); ++i) {
    handles[i] = Family(rep.families[i]);
    if (handles[i] == nullptr) {
      return NotFound("state store " + dir_ + ": unknown column family '" + rep.families[i] + "'");
    }
  }
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = options_.disable_wal;
  // RocksDB rejects sync without a WAL; durability then comes from SyncAndFlush.
  write_options.sync = options_.sync_writes && !options_.disable_wal;
  // Without a WAL a write is not atomic across a crash anyway (a rebuild
  // that dies is discarded whole), so a large batch goes in chunks: a
  // second full copy of it, and one memtable several times the write
  // buffer size, are not needed.
  const size_t chunk_bytes =
      options_.disable_wal ? kUnloggedWriteChunkBytes : std::numeric_limits<size_t>::max();
  // Batches go in key order per family, for the memtable's insert hints
  // (MakeOptions): a rebuild's journal rows arrive in event time across
  // employees, and a checkpoint interleaves each employee's state, header
  // and held-back-facts rows. Ops on one key keep their order, so the last
  // one still wins; the write is one atomic batch either way.
  std::vector<char> superseded;
  const std::vector<uint32_t> order = WriteOrder(rep, &superseded);
  auto op_at = [&](size_t i) -> const StateBatch::Rep::Op& {
    return rep.ops[order[i]];
  };
  // A bulk load's large share of one family goes straight into a table file
  // (kIngestedFamilyBytes).
  std::vector<char> ingested(rep.families.size(), 0);
  if (bulk_loading_.load()) {
    std::vector<size_t> family_bytes(rep.families.size(), 0);
    for (const auto& op : rep.ops) family_bytes[op.family] += op.key_size + op.value_size;
    for (size_t i = 0; i < family_bytes.size(); ++i) {
      ingested[i] = family_bytes[i] >= kIngestedFamilyBytes ? 1 : 0;
    }
  }
  size_t op_index = 0;
  while (op_index < rep.ops.size()) {
    const uint32_t family = op_at(op_index).family;
    if (ingested[family] != 0) {
      size_t end = op_index;
      while (end < rep.ops.size() && op_at(end).family == family) ++end;
      JIRITSU_RETURN_IF_ERROR(IngestSorted(handles[family], rep, order, superseded, op_index, end));
      op_index = end;
      continue;
    }
    // Reserve the encoded size up front: one allocation per write.
    size_t end = op_index, bytes = 0;
    while (end < rep.ops.size() && ingested[op_at(end).family] == 0 &&
           (end == op_index || bytes < chunk_bytes)) {
      bytes += op_at(end).key_size + op_at(end).value_size + 16;
      ++end;
    }
    rocksdb::WriteBatch write_batch(bytes + 12);
    for (; op_index < end; ++op_index) {
      PrefetchOpsAhead(rep, order, op_index);
      const auto& op = op_at(op_index);
      const rocksdb::Slice key(op.data, op.key_size);
      rocksdb::Status s;
      if (op.kind == StateBatch::Rep::Kind::kPut) {
        s = write_batch.Put(handles[op.family], key,
                            rocksdb::Slice(op.data + op.key_size, op.value_size));
      } else {
        s = write_batch.Delete(handles[op.family], key);
      }
      if (!s.ok()) return FromRocks(s, "state store " + dir_ + ": build batch");
    }
    JIRITSU_RETURN_IF_ERROR(
        FromRocks(db_->Write(write_options, &write_batch), "state store " + dir_ + ": write"));
  }
  return Status::Ok();
}

// The ops are in key order, several ops on one key in the order they were
// made. A table file holds a key once, so only the last op on each key is
// written. The file is ingested into level 0 above everything the family
// holds (a memtable holding older writes to those keys is flushed first),
// so it reads as the same ops written in a batch would.
Status StateStore::IngestSorted(rocksdb::ColumnFamilyHandle* handle, const StateBatch::Rep& rep,
                                const std::vector<uint32_t>& order,
                                const std::vector<char>& superseded, size_t begin, size_t end) {
  const std::string what =
      "state store " + dir_ + ": table file for family '" + handle->GetName() + "'";
  rocksdb::Options options = db_->GetOptions(handle);
  // Like the load's flushes: level 0, compacted once and deleted.
  options.compression = rocksdb::kNoCompression;
  options.bottommost_compression = rocksdb::kDisableCompressionOption;
  // The final compaction reads the file soon: keep it in the page cache.
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), options, handle,
                                /*invalidate_page_cache=*/false);
  const std::string path = dir_ + "/" + std::string(kIngestFilePrefix) +
                           std::to_string(ingest_file_number_.fetch_add(1) + 1) + ".sst";
  JIRITSU_RETURN_IF_ERROR(FromRocks(writer.Open(path), what));
  Status status = Status::Ok();
  for (size_t i = begin; i < end && status.ok(); ++i) {
    if (superseded[i] != 0) continue;  // a later op on the key wins
    PrefetchOpsAhead(rep, order, i);
    const auto& op = rep.ops[order[i]];
    const rocksdb::Slice key(op.data, op.key_size);
    status = FromRocks(op.kind == StateBatch::Rep::Kind::kPut
                           ? writer.Put(key, rocksdb::Slice(op.data + op.key_size, op.value_size))
                           : writer.Delete(key),
                       what);
  }
  if (status.ok()) status = FromRocks(writer.Finish(), what);
  if (status.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;           // a hard link, not a copy
    ingest.write_global_seqno = false;  // kept in the manifest, no write into the file
    status = FromRocks(db_->IngestExternalFile(handle, {path}, ingest), what + ": ingest");
  }
  if (!status.ok()) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);  // RocksDB did not take it
    return status;
  }
  files_ingested_.fetch_add(1);
  return status;
}

std::unique_ptr<StateIterator> StateStore::NewIterator(std::string_view family) const {
  rocksdb::ColumnFamilyHandle* handle = Family(family);
  if (handle == nullptr) {
    // An iterator that is never Valid and reports the error via status().
    return std::make_unique<StateIterator>(rocksdb::NewErrorIterator(rocksdb::Status::NotFound(
        "state store " + dir_ + ": unknown column family '" + std::string(family) + "'")));
  }
  rocksdb::ReadOptions read_options;
  read_options.adaptive_readahead = true;
  return std::make_unique<StateIterator>(db_->NewIterator(read_options, handle));
}

// Every flush of the load is still in level 0: each family's files are
// merged once into its last level, so readers find one sorted run. RocksDB
// 7.8 does not split a compaction of level-0 files only, so the families run
// side by side instead (the journal takes most of the time).
Status StateStore::CompactBulkLoad(const std::vector<rocksdb::ColumnFamilyHandle*>& to_compact,
                                   const std::vector<rocksdb::ColumnFamilyHandle*>& all) {
  // Three compaction slots: nothing else runs in the store now.
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->SetDBOptions({{"max_background_jobs", "4"}}),
                                    "state store " + dir_ + ": background jobs"));
  std::vector<rocksdb::Status> results(to_compact.size());
  {
    std::vector<std::jthread> workers;
    for (size_t i = 0; i < to_compact.size(); ++i) {
      workers.emplace_back([this, &to_compact, &results, i] {
        NameCurrentThread("jr-compact");
        rocksdb::CompactRangeOptions compact;
        compact.exclusive_manual_compaction = false;  // the families run together
        results[i] = db_->CompactRange(compact, to_compact[i], nullptr, nullptr);
      });
    }
  }
  for (size_t i = 0; i < to_compact.size(); ++i) {
    JIRITSU_RETURN_IF_ERROR(FromRocks(results[i], "state store " + dir_ + ": compact family '" +
                                                      to_compact[i]->GetName() +
                                                      "' after the load"));
  }
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->SetDBOptions({{"max_background_jobs", "2"}}),
                                    "state store " + dir_ + ": background jobs"));
  // Flushes after the load (the catch-up) stay in level 0 a while: compress
  // them again. One SetOptions per family (each rewrites the options file):
  // EnableAutoCompaction would be a second.
  for (rocksdb::ColumnFamilyHandle* handle : all) {
    JIRITSU_RETURN_IF_ERROR(
        FromRocks(db_->SetOptions(handle, {{"compression", DefaultCompressionOption()},
                                           {"disable_auto_compactions", "false"}}),
                  "state store " + dir_ + ": compression and compactions after the load"));
  }
  return Status::Ok();
}

Status StateStore::CompactFamiliesEarly(const std::vector<std::string>& families) {
  if (!bulk_loading_.load()) {
    return FailedPrecondition("state store " + dir_ + ": early compaction outside a bulk load");
  }
  if (early_compaction_.joinable() || !compacted_early_.empty()) {
    return FailedPrecondition("state store " + dir_ + ": early compaction started twice");
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (const std::string& name : families) {
    rocksdb::ColumnFamilyHandle* handle = Family(name);
    if (handle == nullptr) {
      return NotFound("state store " + dir_ + ": unknown column family '" + name + "'");
    }
    handles.push_back(handle);
  }
  JIRITSU_RETURN_IF_ERROR(WaitForSpills());
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  JIRITSU_RETURN_IF_ERROR(
      FromRocks(db_->Flush(flush_options, handles), "state store " + dir_ + ": early flush"));
  compacted_early_ = handles;
  // One at a time, in the store's one compaction slot of a load: the caller
  // keeps the other core.
  early_compaction_ = std::thread([this, handles] {
    NameCurrentThread("jr-compact");
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      rocksdb::CompactRangeOptions compact;
      compact.exclusive_manual_compaction = false;
      early_compaction_status_ =
          FromRocks(db_->CompactRange(compact, handle, nullptr, nullptr),
                    "state store " + dir_ + ": early compaction of '" + handle->GetName() + "'");
      if (!early_compaction_status_.ok()) return;
    }
  });
  return Status::Ok();
}

Status StateStore::JoinEarlyCompaction() {
  if (!early_compaction_.joinable()) return Status::Ok();
  early_compaction_.join();
  if (!early_compaction_status_.ok()) compacted_early_.clear();  // all compacted at the sync
  return early_compaction_status_;
}

Status StateStore::SyncAndFlush() {
  if (read_only_) return FailedPrecondition("state store " + dir_ + " is open read-only");
  JIRITSU_RETURN_IF_ERROR(WaitForSpills());
  JIRITSU_RETURN_IF_ERROR(JoinEarlyCompaction());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  for (const auto& [name, handle] : families_) handles.push_back(handle);
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->Flush(flush_options, handles), "state store " + dir_ + ": flush"));
  if (bulk_loading_.load()) {
    // A family compacted early and written since has files in level 0 again.
    std::vector<rocksdb::ColumnFamilyHandle*> to_compact;
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      if (std::find(compacted_early_.begin(), compacted_early_.end(), handle) !=
          compacted_early_.end()) {
        JIRITSU_ASSIGN_OR_RETURN(const uint64_t level0, Level0FileCount(handle->GetName()));
        if (level0 == 0) continue;
      }
      to_compact.push_back(handle);
    }
    bulk_loading_.store(false);
    Status compacted = CompactBulkLoad(to_compact, handles);
    if (!compacted.ok()) {
      bulk_loading_.store(true);  // the next sync tries again
      compacted_early_.clear();
      return compacted;
    }
    families_compacted_at_sync_ = to_compact.size();
  }
  return FromRocks(db_->SyncWAL(), "state store " + dir_ + ": sync WAL");
}

Status StateStore::Checkpoint(const std::string& dir) {
  JIRITSU_RETURN_IF_ERROR(WaitForSpills());
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return AlreadyExists("checkpoint target " + dir + " already exists");
  }
  rocksdb::Checkpoint* raw = nullptr;
  JIRITSU_RETURN_IF_ERROR(
      FromRocks(rocksdb::Checkpoint::Create(db_.get(), &raw), "state store " + dir_ + ": checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), "state store " + dir_ + ": checkpoint to " + dir);
}

uint64_t StateStore::ApproximateSizeBytes() const {
  uint64_t total = 0;
  for (const auto& [name, handle] : families_) {
    uint64_t value = 0;
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kLiveSstFilesSize, &value)) total += value;
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kCurSizeAllMemTables, &value)) total += value;
  }
  return total;
}

Result<bool> StateStore::AutoCompactionsEnabled(std::string_view family) const {
  rocksdb::ColumnFamilyHandle* handle = Family(family);
  if (handle == nullptr) {
    return NotFound("state store " + dir_ + ": unknown column family '" + std::string(family) +
                    "'");
  }
  return !db_->GetOptions(handle).disable_auto_compactions;
}

Result<uint64_t> StateStore::Level0FileCount(std::string_view family) const {
  rocksdb::ColumnFamilyHandle* handle = Family(family);
  if (handle == nullptr) {
    return NotFound("state store " + dir_ + ": unknown column family '" + std::string(family) + "'");
  }
  std::string files;
  if (!db_->GetProperty(handle, rocksdb::DB::Properties::kNumFilesAtLevelPrefix + "0", &files)) {
    return Internal("state store " + dir_ + ": no level-0 file count for " + std::string(family));
  }
  return static_cast<uint64_t>(std::stoull(files));
}

Result<std::vector<std::pair<int, std::string>>> StateStore::TableFileCompressions(
    std::string_view family) const {
  rocksdb::ColumnFamilyHandle* handle = Family(family);
  if (handle == nullptr) {
    return NotFound("state store " + dir_ + ": unknown column family '" + std::string(family) +
                    "'");
  }
  rocksdb::TablePropertiesCollection properties;
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->GetPropertiesOfAllTables(handle, &properties),
                                    "state store " + dir_ + ": table properties"));
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  std::vector<std::pair<int, std::string>> compressions;
  for (const rocksdb::LiveFileMetaData& file : files) {
    if (file.column_family_name != family) continue;
    auto found = properties.find(file.db_path + file.name);
    if (found == properties.end()) {
      return Internal("state store " + dir_ + ": no properties for table file " + file.name);
    }
    compressions.emplace_back(file.level, found->second->compression_name);
  }
  return compressions;
}

StoreMemoryUsage StateStore::MemoryUsage() const {
  StoreMemoryUsage usage;
  uint64_t value = 0;
  for (const auto& [name, handle] : families_) {
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kCurSizeAllMemTables, &value)) {
      usage.memtables += value;
    }
    if (db_->GetIntProperty(handle, rocksdb::DB::Properties::kEstimateTableReadersMem, &value)) {
      usage.table_readers += value;
    }
  }
  // One cache shared by every family: read it once.
  if (!families_.empty()) {
    rocksdb::ColumnFamilyHandle* any = families_.front().second;
    if (db_->GetIntProperty(any, rocksdb::DB::Properties::kBlockCacheUsage, &value)) {
      usage.block_cache = value;
    }
    if (db_->GetIntProperty(any, rocksdb::DB::Properties::kBlockCachePinnedUsage, &value)) {
      usage.pinned = value;
    }
  }
  return usage;
}

}  // namespace jiritsu
