// The embedded RocksDB event log (see core/embedded_log.h for the contract
// and the on-disk format).
#include "core/embedded_log.h"
#include "core/varint.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace jiritsu {
namespace {

constexpr char kRecordsFamily[] = "records";
constexpr char kMetaFamily[] = "meta";
constexpr uint8_t kRecordFormatVersion = 1;
constexpr uint8_t kTopicMetaVersion = 1;
constexpr char kFormatKey[] = "format";
constexpr char kFormatValue[] = "jiritsu-embedded-log/1";
constexpr char kTopicMetaPrefix[] = "topic/";
constexpr size_t kOffsetBytes = 8;
constexpr std::chrono::milliseconds kIteratorMaxAge{1000};
// A reader this close to its partition's end is tailing it: its iterators
// fill the block cache (see NewRecordIterator).
constexpr int64_t kTailingRecords = 4096;
// Per-record bookkeeping counted against max_pending_bytes besides key+value.
constexpr size_t kRecordOverheadBytes = 24;
// How often a read-only follower looks for new records while Poll waits.
constexpr std::chrono::milliseconds kFollowerPollInterval{20};

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Encoding helpers (varints: core/varint.h; big-endian key integers so that
// byte order == numeric order).

void PutBigEndian32(std::string* out, uint32_t v) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(bytes, 4);
}

void PutBigEndian64(std::string* out, uint64_t v) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(v);
    v >>= 8;
  }
  out->append(bytes, 8);
}

uint64_t DecodeBigEndian(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}


std::string PartitionPrefix(std::string_view topic, int32_t partition) {
  std::string prefix;
  prefix.reserve(topic.size() + 5 + kOffsetBytes);
  prefix.append(topic);
  prefix.push_back('\0');
  PutBigEndian32(&prefix, static_cast<uint32_t>(partition));
  return prefix;
}

// Kafka's legal topic names; also guarantees no '\0' inside record keys.
bool IsLegalTopicName(std::string_view name) {
  if (name.empty() || name.size() > 249 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

std::string TopicMetaValue(const TopicSpec& spec) {
  std::string value;
  value.push_back(static_cast<char>(kTopicMetaVersion));
  PutBigEndian32(&value, static_cast<uint32_t>(spec.partitions));
  value.push_back(spec.compacted ? 1 : 0);
  return value;
}

bool IsLockError(const rocksdb::Status& s) {
  // RocksDB reports a held LOCK file as an IOError: "While lock file" when
  // another process holds it, "lock hold by current process" otherwise.
  return s.IsIOError() && s.ToString().find("lock") != std::string::npos;
}

// The single translation point for rocksdb::Status in this adapter.
Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::Ok();
  const std::string message = context + ": " + s.ToString();
  if (s.IsNotFound()) return NotFound(message);
  if (s.IsCorruption()) return Corruption(message);
  if (s.IsInvalidArgument()) return InvalidArgument(message);
  if (s.IsNotSupported()) return FailedPrecondition(message);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut() || s.IsIncomplete()) {
    return Unavailable(message);
  }
  if (s.IsIOError()) {
    if (s.IsNoSpace()) return ResourceExhausted(message);
    return IOError(message);
  }
  return Internal(message);
}

rocksdb::CompressionType BestCompression(std::initializer_list<rocksdb::CompressionType> wanted) {
  const auto supported = rocksdb::GetSupportedCompressions();
  for (auto type : wanted) {
    if (std::find(supported.begin(), supported.end(), type) != supported.end()) return type;
  }
  return rocksdb::kNoCompression;
}

// Tuned for an append-only, scan-mostly workload: big blocks (good
// compression, few reads per MB), no bloom filters (consumers Seek and scan,
// they never Get), LZ4 for fresh data, ZSTD for the bottom level.
rocksdb::Options LogOptions(size_t block_cache_bytes, size_t memtable_bytes) {
  rocksdb::Options options;
  options.compaction_style = rocksdb::kCompactionStyleLevel;
  options.level_compaction_dynamic_level_bytes = true;
  options.max_background_jobs = 2;
  options.bytes_per_sync = 1 << 20;
  options.wal_bytes_per_sync = 1 << 20;
  memtable_bytes = std::max<size_t>(memtable_bytes, 4 << 20);
  options.write_buffer_manager = std::make_shared<rocksdb::WriteBufferManager>(memtable_bytes);
  options.write_buffer_size = memtable_bytes / 4;
  options.max_write_buffer_number = 3;
  options.target_file_size_base = 64 << 20;
  options.keep_log_file_num = 3;
  options.compression = BestCompression({rocksdb::kLZ4Compression, rocksdb::kSnappyCompression});
  options.bottommost_compression = BestCompression({rocksdb::kZSTD, rocksdb::kLZ4Compression});

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(std::max<size_t>(block_cache_bytes, 1 << 20));
  table.block_size = 64 << 10;
  table.format_version = 5;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

// A record key without its offset: the partition. Records are appended in
// offset order per partition, so with one memtable insert hint per
// partition each insert starts where the partition's previous one ended
// instead of searching the whole skip list.
class PartitionOfRecordKey final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "jiritsu.PartitionOfRecordKey"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - kOffsetBytes);
  }
  bool InDomain(const rocksdb::Slice& key) const override { return key.size() > kOffsetBytes; }
};

// ---------------------------------------------------------------------------
// In-memory state

struct PartitionState {
  TopicPartition tp;
  std::string key_prefix;  // topic + '\0' + BE32(partition)

  // Guarded by EmbeddedLog::mu_ (writer side).
  int64_t next_offset = 0;  // offset the next Append gets
  int64_t pending_first = 0;
  size_t pending_count = 0;
  // Buffered records: [varint64 size][encoded record value], in offset order.
  std::string pending;

  // Offset after the last written record. Stored under mu_ (so Poll can wait
  // on the condition variable without lost wake-ups), read lock-free.
  std::atomic<int64_t> written_end{0};
};

struct TopicState {
  std::string name;
  int32_t partitions = 0;
  bool compacted = false;
  // Immutable after creation; elements have stable addresses.
  std::vector<std::unique_ptr<PartitionState>> parts;
};

class EmbeddedLog;

class EmbeddedProducer final : public LogProducer {
 public:
  explicit EmbeddedProducer(EmbeddedLog* log) : log_(log) {}
  Status Append(const std::string& topic, std::string_view key, std::string_view value) override;
  Status Flush(std::chrono::milliseconds timeout) override;

 private:
  EmbeddedLog* log_;
};

class EmbeddedConsumer final : public LogConsumer {
 public:
  EmbeddedConsumer(EmbeddedLog* log, ConsumerOptions options)
      : log_(log), options_(std::move(options)) {}
  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override;
  Status Assign(const std::map<TopicPartition, int64_t>& start_offsets) override;
  Status Seek(const TopicPartition& tp, int64_t offset) override;
  Status Poll(std::chrono::milliseconds timeout, size_t max_records,
              std::vector<LogRecord>* out) override;
  std::vector<TopicPartition> Assignment() const override;
  Status Pause(const std::vector<TopicPartition>& partitions) override {
    return SetPaused(partitions, true);
  }
  Status Resume(const std::vector<TopicPartition>& partitions) override {
    return SetPaused(partitions, false);
  }

 private:
  // One assigned partition with its own iterator, so each partition is read
  // sequentially (RocksDB readahead works per iterator).
  struct Reader {
    PartitionState* state = nullptr;
    int64_t position = 0;
    std::string upper_bound;  // prefix of the next partition: iterator stops there
    rocksdb::Slice upper_bound_slice;
    std::unique_ptr<rocksdb::Iterator> it;
    Clock::time_point it_created;
    bool positioned = false;  // `it` is at `position`
    bool paused = false;      // Pause(): skipped by Poll
  };

  Status SetPaused(const std::vector<TopicPartition>& partitions, bool paused);

  Status SetAssignment(const std::map<TopicPartition, int64_t>& start_offsets);
  Status CompleteSubscription();
  Result<size_t> ReadAvailable(size_t max_records, std::vector<LogRecord>* out);
  Result<size_t> ReadPartition(Reader& reader, size_t want, std::vector<LogRecord>* out);
  bool AnyAvailable() const;

  EmbeddedLog* log_;
  ConsumerOptions options_;
  std::vector<std::unique_ptr<Reader>> readers_;  // sorted by topic-partition
  size_t next_reader_ = 0;                        // round-robin start
  std::string seek_key_;                          // reused buffer

  std::vector<std::string> subscribed_topics_;
  RebalanceListener* listener_ = nullptr;
  bool subscription_pending_ = false;  // assign at the next Poll
  bool assigned_by_subscription_ = false;
};

class EmbeddedLog final : public EventLog {
 public:
  static Result<std::unique_ptr<EmbeddedLog>> Open(const std::string& dir,
                                                   const EmbeddedLogOptions& options,
                                                   bool read_only);
  ~EmbeddedLog() override;

  Status EnsureTopics(const std::vector<TopicSpec>& topics) override;
  Result<int32_t> PartitionCount(const std::string& topic) override;
  Result<int64_t> EndOffset(const TopicPartition& tp) override;
  Result<std::unique_ptr<LogProducer>> NewProducer() override;
  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions& options) override;
  LogMemoryUsage MemoryUsage() const override;
  std::string Describe() const override {
    return "embedded:" + dir_ + (read_only_ ? " (read-only)" : "");
  }

  // --- used by producers and consumers ---
  Status Append(const std::string& topic, std::string_view key, std::string_view value);
  Status Flush(std::chrono::milliseconds timeout);
  // The topic, catching up with the writer first if a follower does not know it.
  Result<TopicState*> FindTopic(std::string_view topic);
  Result<PartitionState*> FindPartition(const TopicPartition& tp);
  // `near_end`: the reader is within kTailingRecords of the partition's end.
  std::unique_ptr<rocksdb::Iterator> NewRecordIterator(const rocksdb::Slice* upper_bound, bool near_end);
  // Blocks until `ready()` or `deadline` (writer: woken by Flush).
  template <typename Ready>
  void WaitForData(Ready ready, Clock::time_point deadline);
  // Follower only: sees the writer's latest flushed records and topics.
  Status CatchUp();
  bool read_only() const { return read_only_; }
  const std::string& dir() const { return dir_; }
  Status RecordCorruption(const TopicPartition& tp, int64_t offset, std::string_view why) const {
    return Corruption("embedded log " + dir_ + ": " + ToString(tp) + " offset " +
                      std::to_string(offset) + ": " + std::string(why));
  }

 private:
  EmbeddedLog() = default;
  Status LoadTopics();     // adds topics found in the meta family
  Status RecoverEnds();    // written_end of every partition from the last key
  Status CheckFormat();
  std::string Context(std::string_view what) const { return "embedded log " + dir_ + ": " + std::string(what); }

  std::string dir_;
  bool read_only_ = false;
  EmbeddedLogOptions options_;
  std::string secondary_dir_;  // follower's own info-log directory
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* records_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable data_cv_;  // notified when written_end advances
  std::map<std::string, std::unique_ptr<TopicState>, std::less<>> topics_;  // guarded by mu_
  std::vector<PartitionState*> dirty_;  // partitions with pending records, guarded by mu_
  size_t pending_records_ = 0;          // guarded by mu_
  size_t pending_bytes_ = 0;            // guarded by mu_

  // Serializes Flushes so batches reach RocksDB in offset order.
  std::timed_mutex flush_mu_;
  std::mutex catch_up_mu_;  // serializes follower catch-ups
};

// ---------------------------------------------------------------------------
// EmbeddedLog: open and recovery

namespace {

// Followers name their info-log directory after their pid, so a follower that
// was killed (kill -9 skips the destructor) leaves a directory the next
// follower can recognise as dead and remove.
constexpr std::string_view kFollowerDirPrefix = "jiritsu-log-follower-";

bool ProcessIsAlive(pid_t pid) {
  // EPERM: it exists but belongs to someone else, so it is alive.
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Best effort: a directory we cannot parse, or whose process is alive (or is
// a reused pid), is left alone; removal errors are ignored.
void RemoveDeadFollowerDirs(const std::filesystem::path& temp_dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(temp_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kFollowerDirPrefix, 0) != 0) continue;
    const std::string rest = name.substr(kFollowerDirPrefix.size());
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos ||
        rest.find_first_not_of("0123456789") != dash || dash > 9) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (pid <= 0 || ProcessIsAlive(pid)) continue;
    std::error_code remove_ec;
    std::filesystem::remove_all(it->path(), remove_ec);
  }
}

}  // namespace

Result<std::unique_ptr<EmbeddedLog>> EmbeddedLog::Open(const std::string& dir,
                                                       const EmbeddedLogOptions& options,
                                                       bool read_only) {
  std::unique_ptr<EmbeddedLog> log(new EmbeddedLog());
  log->dir_ = dir;
  log->read_only_ = read_only;
  log->options_ = options;

  rocksdb::Options rocks = LogOptions(options.block_cache_bytes, options.memtable_bytes);
  rocksdb::ColumnFamilyOptions records_options(rocks);
  records_options.memtable_insert_with_hint_prefix_extractor =
      std::make_shared<PartitionOfRecordKey>();
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(rocks)},
      {kRecordsFamily, records_options},
      {kMetaFamily, rocksdb::ColumnFamilyOptions(rocks)},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  std::error_code ec;
  if (read_only) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT", ec)) {
      return NotFound("embedded log " + dir + " does not exist");
    }
    const std::filesystem::path temp_dir = std::filesystem::temp_directory_path(ec);
    RemoveDeadFollowerDirs(temp_dir);
    std::string pattern =
        (temp_dir / (std::string(kFollowerDirPrefix) + std::to_string(::getpid()) + "-XXXXXX"))
            .string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return IOError("embedded log " + dir + ": cannot create follower directory: " +
                     std::strerror(errno));
    }
    log->secondary_dir_ = pattern;
    rocks.max_open_files = -1;  // required by secondary instances
    s = rocksdb::DB::OpenAsSecondary(rocksdb::DBOptions(rocks), dir, log->secondary_dir_, families,
                                     &handles, &raw);
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) return IOError("embedded log " + dir + ": cannot create directory: " + ec.message());
    rocks.create_if_missing = true;
    rocks.create_missing_column_families = true;
    s = rocksdb::DB::Open(rocksdb::DBOptions(rocks), dir, families, &handles, &raw);
  }
  if (IsLockError(s)) {
    return Unavailable("embedded log " + dir + " is in use by another process (" + s.ToString() + ")");
  }
  if (!s.ok()) return FromRocks(s, "open embedded log " + dir);
  log->db_.reset(raw);
  log->default_cf_ = handles[0];
  log->records_cf_ = handles[1];
  log->meta_cf_ = handles[2];

  JIRITSU_RETURN_IF_ERROR(log->CheckFormat());
  JIRITSU_RETURN_IF_ERROR(log->LoadTopics());
  JIRITSU_RETURN_IF_ERROR(log->RecoverEnds());
  return log;
}

EmbeddedLog::~EmbeddedLog() {
  if (db_) {
    for (auto* handle : {default_cf_, records_cf_, meta_cf_}) {
      if (handle != nullptr) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);
  }
}

Status EmbeddedLog::CheckFormat() {
  std::string format;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta_cf_, kFormatKey, &format);
  if (s.IsNotFound()) {
    if (read_only_) return Status::Ok();  // writer has not finished creating it yet
    rocksdb::WriteOptions write_options;
    write_options.sync = true;
    return FromRocks(db_->Put(write_options, meta_cf_, kFormatKey, kFormatValue), Context("write format"));
  }
  JIRITSU_RETURN_IF_ERROR(FromRocks(s, Context("read format")));
  if (format != kFormatValue) {
    return FailedPrecondition(Context("format '" + format + "' is not readable by this build (reads '" +
                                      kFormatValue + "')"));
  }
  return Status::Ok();
}

Status EmbeddedLog::LoadTopics() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  const std::string_view prefix = kTopicMetaPrefix;
  std::lock_guard lock(mu_);
  for (it->Seek(prefix.data()); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string name = it->key().ToString().substr(prefix.size());
    const rocksdb::Slice value = it->value();
    if (value.size() != 6 || static_cast<uint8_t>(value[0]) != kTopicMetaVersion) {
      return Corruption(Context("bad metadata for topic '" + name + "'"));
    }
    if (topics_.count(name) > 0) continue;
    auto topic = std::make_unique<TopicState>();
    topic->name = name;
    topic->partitions = static_cast<int32_t>(DecodeBigEndian(value.data() + 1, 4));
    topic->compacted = value[5] != 0;
    if (topic->partitions <= 0) return Corruption(Context("bad partition count for topic '" + name + "'"));
    for (int32_t p = 0; p < topic->partitions; ++p) {
      auto part = std::make_unique<PartitionState>();
      part->tp = TopicPartition{name, p};
      part->key_prefix = PartitionPrefix(name, p);
      topic->parts.push_back(std::move(part));
    }
    topics_.emplace(name, std::move(topic));
  }
  return FromRocks(it->status(), Context("read topics"));
}

Status EmbeddedLog::RecoverEnds() {
  std::vector<PartitionState*> parts;
  {
    std::lock_guard lock(mu_);
    for (auto& [name, topic] : topics_) {
      for (auto& part : topic->parts) parts.push_back(part.get());
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), records_cf_));
  std::string last_key;
  std::vector<int64_t> ends(parts.size(), 0);
  for (size_t i = 0; i < parts.size(); ++i) {
    // The greatest possible key of the partition, then step back to the last real one.
    last_key = parts[i]->key_prefix;
    PutBigEndian64(&last_key, UINT64_MAX);
    it->SeekForPrev(last_key);
    if (it->Valid() && it->key().starts_with(parts[i]->key_prefix)) {
      if (it->key().size() != parts[i]->key_prefix.size() + kOffsetBytes) {
        return RecordCorruption(parts[i]->tp, -1, "malformed record key");
      }
      ends[i] = static_cast<int64_t>(
                    DecodeBigEndian(it->key().data() + parts[i]->key_prefix.size(), kOffsetBytes)) + 1;
    }
    JIRITSU_RETURN_IF_ERROR(FromRocks(it->status(), Context("recover " + ToString(parts[i]->tp))));
  }
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!read_only_ && parts[i]->next_offset < ends[i]) parts[i]->next_offset = ends[i];
    parts[i]->written_end.store(ends[i], std::memory_order_release);
  }
  data_cv_.notify_all();
  return Status::Ok();
}

Status EmbeddedLog::CatchUp() {
  if (!read_only_) return Status::Ok();
  std::lock_guard lock(catch_up_mu_);
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->TryCatchUpWithPrimary(), Context("catch up with writer")));
  JIRITSU_RETURN_IF_ERROR(LoadTopics());
  return RecoverEnds();
}

// ---------------------------------------------------------------------------
// EmbeddedLog: topics and offsets

Status EmbeddedLog::EnsureTopics(const std::vector<TopicSpec>& topics) {
  for (const auto& spec : topics) {
    if (!IsLegalTopicName(spec.name)) {
      return InvalidArgument(Context("illegal topic name '" + spec.name +
                                     "' (allowed: 1-249 of [A-Za-z0-9._-])"));
    }
    if (spec.partitions < 1) {
      return InvalidArgument(Context("topic '" + spec.name + "' needs at least 1 partition, got " +
                                     std::to_string(spec.partitions)));
    }
  }
  if (read_only_) JIRITSU_RETURN_IF_ERROR(CatchUp());

  std::lock_guard lock(mu_);
  std::map<std::string, const TopicSpec*> to_create;
  for (const auto& spec : topics) {
    int32_t existing = 0;
    if (auto it = topics_.find(spec.name); it != topics_.end()) {
      existing = it->second->partitions;
    } else if (auto created = to_create.find(spec.name); created != to_create.end()) {
      existing = created->second->partitions;
    }
    if (existing != 0 && existing != spec.partitions) {
      return FailedPrecondition(Context("topic '" + spec.name + "' has " + std::to_string(existing) +
                                        " partitions, requested " + std::to_string(spec.partitions)));
    }
    if (existing == 0) {
      if (read_only_) {
        return FailedPrecondition(Context("topic '" + spec.name + "' does not exist and the log is read-only"));
      }
      to_create.emplace(spec.name, &spec);
    }
  }
  if (to_create.empty()) return Status::Ok();

  rocksdb::WriteBatch batch;
  for (const auto& [name, spec] : to_create) {
    JIRITSU_RETURN_IF_ERROR(
        FromRocks(batch.Put(meta_cf_, kTopicMetaPrefix + name, TopicMetaValue(*spec)), Context("create topics")));
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  JIRITSU_RETURN_IF_ERROR(FromRocks(db_->Write(write_options, &batch), Context("create topics")));
  for (const auto& [name, spec] : to_create) {
    auto topic = std::make_unique<TopicState>();
    topic->name = name;
    topic->partitions = spec->partitions;
    topic->compacted = spec->compacted;
    for (int32_t p = 0; p < spec->partitions; ++p) {
      auto part = std::make_unique<PartitionState>();
      part->tp = TopicPartition{name, p};
      part->key_prefix = PartitionPrefix(name, p);
      topic->parts.push_back(std::move(part));
    }
    topics_.emplace(name, std::move(topic));
  }
  return Status::Ok();
}

Result<TopicState*> EmbeddedLog::FindTopic(std::string_view topic) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    {
      std::lock_guard lock(mu_);
      if (auto it = topics_.find(topic); it != topics_.end()) return it->second.get();
    }
    if (!read_only_ || attempt > 0) break;
    JIRITSU_RETURN_IF_ERROR(CatchUp());
  }
  return NotFound(Context("unknown topic '" + std::string(topic) + "'"));
}

Result<PartitionState*> EmbeddedLog::FindPartition(const TopicPartition& tp) {
  JIRITSU_ASSIGN_OR_RETURN(TopicState * topic, FindTopic(tp.topic));
  if (tp.partition < 0 || tp.partition >= topic->partitions) {
    return NotFound(Context(ToString(tp) + " does not exist (topic has " +
                            std::to_string(topic->partitions) + " partitions)"));
  }
  return topic->parts[tp.partition].get();
}

Result<int32_t> EmbeddedLog::PartitionCount(const std::string& topic) {
  JIRITSU_ASSIGN_OR_RETURN(TopicState * state, FindTopic(topic));
  return state->partitions;
}

Result<int64_t> EmbeddedLog::EndOffset(const TopicPartition& tp) {
  if (read_only_) JIRITSU_RETURN_IF_ERROR(CatchUp());
  JIRITSU_ASSIGN_OR_RETURN(PartitionState * part, FindPartition(tp));
  return part->written_end.load(std::memory_order_acquire);
}

Result<std::unique_ptr<LogProducer>> EmbeddedLog::NewProducer() {
  if (read_only_) return FailedPrecondition(Context("opened read-only: cannot produce"));
  return std::unique_ptr<LogProducer>(std::make_unique<EmbeddedProducer>(this));
}

Result<std::unique_ptr<LogConsumer>> EmbeddedLog::NewConsumer(const ConsumerOptions& options) {
  return std::unique_ptr<LogConsumer>(std::make_unique<EmbeddedConsumer>(this, options));
}

LogMemoryUsage EmbeddedLog::MemoryUsage() const {
  LogMemoryUsage usage;
  uint64_t value = 0;
  if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &value)) {
    usage.memtables = value;
  }
  if (db_->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &value)) usage.block_cache = value;
  return usage;
}

std::unique_ptr<rocksdb::Iterator> EmbeddedLog::NewRecordIterator(const rocksdb::Slice* upper_bound,
                                                                  bool near_end) {
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = upper_bound;
  // Readahead is RocksDB's own: per table file, from 8 KiB doubling up to
  // 256 KiB while reads stay sequential. A fixed 2 MiB per file cost more
  // than it bought: a consumer reads 5 topics x its partitions, each through
  // every level's file, so 160 buffers held 340 MB in a 100 000-employee run,
  // and the raw read of the 100 000 x 36 log (in the page cache) was faster
  // without them, 893k vs 800k records/s; a tailing reader's Seek prefetched
  // 2 MiB it did not need (28% of the live runtime thread at 20k events/s).
  // Data read once does not churn the block cache either; but a tailing
  // reader seeks the same last blocks again with every new iterator (one per
  // Poll that finds new records), and read uncached each Seek fetched and
  // decompressed them: 10% of the live runtime thread at 20k events/s.
  read_options.adaptive_readahead = true;
  read_options.fill_cache = near_end;
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read_options, records_cf_));
}

template <typename Ready>
void EmbeddedLog::WaitForData(Ready ready, Clock::time_point deadline) {
  if (read_only_) {
    // Another process writes: nothing to be notified by, so look again soon.
    const auto now = Clock::now();
    if (now < deadline) std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, kFollowerPollInterval));
    CatchUp().IgnoreError();  // a failure resurfaces from the next read
    return;
  }
  std::unique_lock lock(mu_);
  data_cv_.wait_until(lock, deadline, ready);
}

// ---------------------------------------------------------------------------
// EmbeddedLog: append and flush

Status EmbeddedLog::Append(const std::string& topic, std::string_view key, std::string_view value) {
  if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
    return InvalidArgument(Context("record too large for topic '" + topic + "'"));
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const size_t record_bytes = key.size() + value.size() + kRecordOverheadBytes;

  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return NotFound(Context("unknown topic '" + topic + "'"));
  if (pending_records_ > 0 && (pending_records_ >= options_.max_pending_records ||
                               pending_bytes_ + record_bytes > options_.max_pending_bytes)) {
    return ResourceExhausted(Context(std::to_string(pending_records_) + " records (" +
                                     std::to_string(pending_bytes_) + " bytes) await Flush"));
  }
  TopicState& state = *it->second;
  PartitionState& part = *state.parts[PartitionForKey(key, state.partitions)];
  if (part.pending_count == 0) {
    part.pending_first = part.next_offset;
    dirty_.push_back(&part);
  }
  // Encoded record value, prefixed by its size inside the pending buffer.
  uint64_t time = static_cast<uint64_t>(std::max<int64_t>(now_ms, 0));
  size_t time_bytes = 1;
  for (uint64_t t = time; t >= 0x80; t >>= 7) ++time_bytes;
  size_t key_size_bytes = 1;
  for (uint64_t k = key.size(); k >= 0x80; k >>= 7) ++key_size_bytes;
  const size_t encoded_size = 1 + time_bytes + key_size_bytes + key.size() + value.size();
  PutVarint64(&part.pending, encoded_size);
  part.pending.push_back(static_cast<char>(kRecordFormatVersion));
  PutVarint64(&part.pending, time);
  PutVarint64(&part.pending, key.size());
  part.pending.append(key);
  part.pending.append(value);

  ++part.next_offset;
  ++part.pending_count;
  ++pending_records_;
  pending_bytes_ += record_bytes;
  return Status::Ok();
}

Status EmbeddedLog::Flush(std::chrono::milliseconds timeout) {
  if (read_only_) return FailedPrecondition(Context("opened read-only"));
  std::unique_lock flush_lock(flush_mu_, std::defer_lock);
  if (!flush_lock.try_lock_for(timeout)) {
    return DeadlineExceeded(Context("another Flush did not finish within " +
                                    std::to_string(timeout.count()) + " ms"));
  }

  struct Chunk {
    PartitionState* part;
    int64_t first;
    size_t count;
    std::string data;
  };
  std::vector<Chunk> chunks;
  size_t total_bytes = 0;
  {
    std::lock_guard lock(mu_);
    chunks.reserve(dirty_.size());
    for (PartitionState* part : dirty_) {
      chunks.push_back(Chunk{part, part->pending_first, part->pending_count, std::move(part->pending)});
      part->pending = std::string();
      part->pending_count = 0;
      // Every record's key repeats the prefix: counting it once made the
      // batch outgrow its reservation and double (to 128 MB for 64 MB).
      total_bytes += chunks.back().data.size() + chunks.back().count * part->key_prefix.size();
    }
    dirty_.clear();
    pending_records_ = 0;
    pending_bytes_ = 0;
  }
  if (chunks.empty()) return Status::Ok();

  // Key order: RocksDB inserts a sorted batch most cheaply, and the WAL is
  // then laid out partition by partition.
  std::sort(chunks.begin(), chunks.end(),
            [](const Chunk& a, const Chunk& b) { return a.part->tp < b.part->tp; });
  size_t record_count = 0;
  for (const auto& chunk : chunks) record_count += chunk.count;
  rocksdb::WriteBatch batch(total_bytes + record_count * (kOffsetBytes + 16) + 64);
  std::string key;
  Status status;
  for (const auto& chunk : chunks) {
    key.assign(chunk.part->key_prefix);
    const size_t prefix_size = key.size();
    const char* p = chunk.data.data();
    const char* limit = p + chunk.data.size();
    for (size_t i = 0; i < chunk.count && status.ok(); ++i) {
      uint64_t size = 0;
      if (!GetVarint64(&p, limit, &size) || size > static_cast<uint64_t>(limit - p)) {
        status = Internal(Context("pending buffer of " + ToString(chunk.part->tp) + " is malformed"));
        break;
      }
      key.resize(prefix_size);
      PutBigEndian64(&key, static_cast<uint64_t>(chunk.first) + i);
      status = FromRocks(batch.Put(records_cf_, key, rocksdb::Slice(p, size)), Context("build batch"));
      p += size;
    }
  }
  if (status.ok()) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync_on_flush;
    status = FromRocks(db_->Write(write_options, &batch), Context("flush"));
  }

  std::lock_guard lock(mu_);
  if (!status.ok()) {
    // Offsets are taken: keep the records in front of anything appended
    // meanwhile so the next Flush writes them without a gap.
    for (auto& chunk : chunks) {
      PartitionState& part = *chunk.part;
      if (part.pending_count == 0) dirty_.push_back(&part);
      chunk.data.append(part.pending);
      part.pending = std::move(chunk.data);
      part.pending_first = chunk.first;
      part.pending_count += chunk.count;
      pending_records_ += chunk.count;
      pending_bytes_ += part.pending.size();
    }
    return status;
  }
  for (const auto& chunk : chunks) {
    chunk.part->written_end.store(chunk.first + static_cast<int64_t>(chunk.count),
                                  std::memory_order_release);
  }
  data_cv_.notify_all();
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Producer

Status EmbeddedProducer::Append(const std::string& topic, std::string_view key, std::string_view value) {
  return log_->Append(topic, key, value);
}

Status EmbeddedProducer::Flush(std::chrono::milliseconds timeout) { return log_->Flush(timeout); }

// ---------------------------------------------------------------------------
// Consumer

Status EmbeddedConsumer::Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) {
  for (const auto& topic : topics) JIRITSU_RETURN_IF_ERROR(log_->FindTopic(topic).status());
  subscribed_topics_ = topics;
  listener_ = listener;
  subscription_pending_ = true;
  return Status::Ok();
}

Status EmbeddedConsumer::Assign(const std::map<TopicPartition, int64_t>& start_offsets) {
  JIRITSU_RETURN_IF_ERROR(SetAssignment(start_offsets));
  subscribed_topics_.clear();
  listener_ = nullptr;
  subscription_pending_ = false;
  assigned_by_subscription_ = false;
  return Status::Ok();
}

Status EmbeddedConsumer::SetAssignment(const std::map<TopicPartition, int64_t>& start_offsets) {
  std::vector<std::unique_ptr<Reader>> readers;
  for (const auto& [tp, offset] : start_offsets) {
    if (offset < 0) {
      return InvalidArgument("embedded log " + log_->dir() + ": negative start offset " +
                             std::to_string(offset) + " for " + ToString(tp));
    }
    JIRITSU_ASSIGN_OR_RETURN(PartitionState * part, log_->FindPartition(tp));
    auto reader = std::make_unique<Reader>();
    reader->state = part;
    reader->position = offset;
    reader->upper_bound = PartitionPrefix(tp.topic, tp.partition + 1);
    reader->upper_bound_slice = rocksdb::Slice(reader->upper_bound);
    readers.push_back(std::move(reader));
  }
  readers_ = std::move(readers);
  next_reader_ = 0;
  return Status::Ok();
}

Status EmbeddedConsumer::CompleteSubscription() {
  subscription_pending_ = false;
  if (assigned_by_subscription_ && listener_ != nullptr && !readers_.empty()) {
    listener_->OnRevoked(Assignment());
  }
  std::map<TopicPartition, int64_t> start_offsets;
  for (const auto& topic : subscribed_topics_) {
    JIRITSU_ASSIGN_OR_RETURN(TopicState * state, log_->FindTopic(topic));
    for (const auto& part : state->parts) {
      start_offsets[part->tp] =
          options_.start_from_beginning ? 0 : part->written_end.load(std::memory_order_acquire);
    }
  }
  JIRITSU_RETURN_IF_ERROR(SetAssignment(start_offsets));
  assigned_by_subscription_ = true;
  // The listener may Seek: the assignment is in place before it is told.
  if (listener_ != nullptr) listener_->OnAssigned(Assignment());
  return Status::Ok();
}

Status EmbeddedConsumer::Seek(const TopicPartition& tp, int64_t offset) {
  if (offset < 0) {
    return InvalidArgument("embedded log " + log_->dir() + ": cannot seek " + ToString(tp) +
                           " to negative offset " + std::to_string(offset));
  }
  for (auto& reader : readers_) {
    if (reader->state->tp == tp) {
      reader->position = offset;
      reader->positioned = false;
      return Status::Ok();
    }
  }
  return FailedPrecondition("embedded log " + log_->dir() + ": " + ToString(tp) + " is not assigned");
}

std::vector<TopicPartition> EmbeddedConsumer::Assignment() const {
  std::vector<TopicPartition> result;
  result.reserve(readers_.size());
  for (const auto& reader : readers_) result.push_back(reader->state->tp);
  return result;
}

Status EmbeddedConsumer::SetPaused(const std::vector<TopicPartition>& partitions, bool paused) {
  for (const auto& tp : partitions) {
    bool found = false;
    for (auto& reader : readers_) {
      if (reader->state->tp != tp) continue;
      reader->paused = paused;
      found = true;
    }
    if (!found) {
      return FailedPrecondition("embedded log " + log_->dir() + ": " + ToString(tp) +
                                " is not assigned");
    }
  }
  return Status::Ok();
}

bool EmbeddedConsumer::AnyAvailable() const {
  for (const auto& reader : readers_) {
    if (reader->paused) continue;
    if (reader->position < reader->state->written_end.load(std::memory_order_acquire)) return true;
  }
  return false;
}

Status EmbeddedConsumer::Poll(std::chrono::milliseconds timeout, size_t max_records,
                              std::vector<LogRecord>* out) {
  if (subscription_pending_) JIRITSU_RETURN_IF_ERROR(CompleteSubscription());
  if (max_records == 0) return Status::Ok();
  const auto deadline = Clock::now() + timeout;
  // A follower catches up with the writer at once when it has nothing to read.
  bool may_catch_up = log_->read_only();
  for (;;) {
    JIRITSU_ASSIGN_OR_RETURN(size_t got, ReadAvailable(max_records, out));
    if (got > 0) return Status::Ok();
    if (may_catch_up) {
      may_catch_up = false;
      JIRITSU_RETURN_IF_ERROR(log_->CatchUp());
      continue;
    }
    if (Clock::now() >= deadline) return Status::Ok();
    log_->WaitForData([this] { return AnyAvailable(); }, deadline);
  }
}

Result<size_t> EmbeddedConsumer::ReadAvailable(size_t max_records, std::vector<LogRecord>* out) {
  const size_t n = readers_.size();
  size_t active = 0;
  for (const auto& reader : readers_) active += reader->paused ? 0 : 1;
  if (active == 0) return size_t{0};
  // Each partition gets a share per pass; passes repeat while any partition
  // still has data, so one busy partition can fill the whole Poll.
  const size_t share = std::max<size_t>(1, max_records / active);
  const size_t start = next_reader_ % n;
  next_reader_ = (start + 1) % n;
  size_t total = 0;
  bool progress = true;
  while (total < max_records && progress) {
    progress = false;
    for (size_t i = 0; i < n && total < max_records; ++i) {
      Reader& reader = *readers_[(start + i) % n];
      if (reader.paused) continue;
      JIRITSU_ASSIGN_OR_RETURN(
          size_t got, ReadPartition(reader, std::min(share, max_records - total), out));
      total += got;
      progress = progress || got > 0;
    }
  }
  return total;
}

Result<size_t> EmbeddedConsumer::ReadPartition(Reader& reader, size_t want, std::vector<LogRecord>* out) {
  const PartitionState& part = *reader.state;
  const int64_t end = part.written_end.load(std::memory_order_acquire);
  size_t got = 0;
  bool renewed = false;
  // An iterator pins the memtables that existed when it was made, flushed or
  // not: 40 long-lived readers held ~150 MB of them in a 100 000-employee
  // run, outside every budget. So a reader renews its iterator at least every
  // kIteratorMaxAge and lets it go when it reaches the end (a tailing reader
  // needed a new one for the next records anyway).
  if (reader.it && Clock::now() - reader.it_created > kIteratorMaxAge) reader.it.reset();
  while (got < want && reader.position < end) {
    if (!reader.it) {
      reader.it = log_->NewRecordIterator(&reader.upper_bound_slice,
                                          end - reader.position <= kTailingRecords);
      reader.it_created = Clock::now();
      reader.positioned = false;
    }
    if (!reader.positioned) {
      seek_key_.assign(part.key_prefix);
      PutBigEndian64(&seek_key_, static_cast<uint64_t>(reader.position));
      reader.it->Seek(seek_key_);
      reader.positioned = true;
    }
    if (!reader.it->Valid()) {
      JIRITSU_RETURN_IF_ERROR(FromRocks(reader.it->status(), "embedded log " + log_->dir() + ": read " +
                                                                  ToString(part.tp)));
      // An iterator sees the records written before it was created: renew it
      // once to see newer ones; if they are still missing, the log is damaged.
      if (renewed) {
        return log_->RecordCorruption(part.tp, reader.position,
                                      "missing record below end offset " + std::to_string(end));
      }
      reader.it.reset();
      renewed = true;
      continue;
    }
    const rocksdb::Slice key = reader.it->key();
    if (key.size() != part.key_prefix.size() + kOffsetBytes) {
      return log_->RecordCorruption(part.tp, reader.position, "malformed record key");
    }
    const int64_t offset =
        static_cast<int64_t>(DecodeBigEndian(key.data() + part.key_prefix.size(), kOffsetBytes));
    const rocksdb::Slice value = reader.it->value();
    const char* p = value.data();
    const char* limit = p + value.size();
    if (p == limit || static_cast<uint8_t>(*p) != kRecordFormatVersion) {
      return log_->RecordCorruption(
          part.tp, offset,
          p == limit ? "empty record" : "unknown record format version " + std::to_string(static_cast<uint8_t>(*p)));
    }
    ++p;
    uint64_t append_time = 0;
    uint64_t key_size = 0;
    if (!GetVarint64(&p, limit, &append_time) || !GetVarint64(&p, limit, &key_size) ||
        key_size > static_cast<uint64_t>(limit - p)) {
      return log_->RecordCorruption(part.tp, offset, "truncated record");
    }
    LogRecord& record = out->emplace_back();
    record.topic = part.tp.topic;
    record.partition = part.tp.partition;
    record.offset = offset;
    record.key.assign(p, key_size);
    record.value.assign(p + key_size, limit - p - key_size);
    record.append_time_ms = static_cast<int64_t>(append_time);
    reader.position = offset + 1;
    ++got;
    reader.it->Next();
  }
  if (reader.position >= end) reader.it.reset();
  return got;
}

}  // namespace

Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir, const EmbeddedLogOptions& options) {
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, EmbeddedLog::Open(dir, options, false));
  return std::unique_ptr<EventLog>(std::move(log));
}

Result<std::unique_ptr<EventLog>> OpenEmbeddedLogReadOnly(const std::string& dir) {
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<EmbeddedLog> log, EmbeddedLog::Open(dir, EmbeddedLogOptions(), true));
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace jiritsu
