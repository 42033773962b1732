#include "core/projection_runtime.h"

#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <simdjson.h>

#include "core/logging.h"
#include "core/prefetch.h"
#include "core/thread_name.h"
#include "core/topics.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

// How far ahead ApplyGroupedByKey prefetches: a record's lines, then an
// employee's stages 2, 1 and 0 (Projector::PrefetchEmployee).
constexpr size_t kPrefetchRecordAhead = 20;
constexpr size_t kPrefetchEmployeeAhead = 16;
constexpr size_t kPrefetchStateAhead = 4;

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("runtime");
  return logger;
}

// A rebuild's consumers read a backlog to its end, pausing and resuming
// partitions as they go (waves, the merge's lookahead): an empty fetch held
// for Kafka's default 500 ms delayed every resume behind it
// (ConsumerOptions::empty_fetch_wait).
constexpr std::chrono::milliseconds kRebuildEmptyFetchWait{10};

bool IsGlobalTopic(const std::string& topic) {
  return topic == kReferenceTopic || topic == kFactsTopic || topic == kDeadLetterTopic;
}

std::string Base64(std::string_view bytes) {
  const size_t size = sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(size, '\0');
  sodium_bin2base64(out.data(), size, reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(size - 1);  // drop the terminating NUL
  return out;
}

// A printable prefix of arbitrary bytes: invalid UTF-8 and control bytes are
// replaced so that the preview is always valid JSON text.
std::string Preview(std::string_view bytes, size_t limit) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && out.size() < limit; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

}  // namespace

std::string DeadLetterProblem(const LogRecord& record) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(record.value.data(), record.value.size()).get(object) != simdjson::SUCCESS) {
    return "dead letter: not a JSON object";
  }
  std::string_view reason, topic;
  int64_t partition = 0, offset = 0;
  if (object["reason"].get(reason) != simdjson::SUCCESS ||
      object["topic"].get(topic) != simdjson::SUCCESS ||
      object["partition"].get(partition) != simdjson::SUCCESS ||
      object["offset"].get(offset) != simdjson::SUCCESS) {
    return "dead letter: needs string reason and topic, integer partition and offset";
  }
  const std::string position =
      std::string(topic) + "/" + std::to_string(partition) + "/" + std::to_string(offset);
  if (record.key != position) {
    return "dead letter: key \"" + Preview(record.key, 128) + "\" is not its position " + position;
  }
  return "";
}

std::string DeadLetterKey(const LogRecord& record) {
  return record.topic + "/" + std::to_string(record.partition) + "/" +
         std::to_string(record.offset);
}

std::string EncodeDeadLetter(const LogRecord& record, const std::string& reason) {
  std::string out = "{\"reason\":";
  AppendJsonString(&out, reason);
  out += ",\"topic\":";
  AppendJsonString(&out, record.topic);
  out += ",\"partition\":" + std::to_string(record.partition);
  out += ",\"offset\":" + std::to_string(record.offset);
  out += ",\"key\":";
  AppendJsonString(&out, Preview(record.key, 256));
  // The original bytes, up to just over the event size limit: a dead letter
  // must stay producible (Kafka refuses records above message.max.bytes)
  // however large the poison record; its position locates the whole record.
  if (record.value.size() > kDeadLetterValueLimit) {
    out += ",\"value_bytes\":" + std::to_string(record.value.size());
    out += ",\"value_truncated\":true";
  }
  out += ",\"value_base64\":\"" +
         Base64(std::string_view(record.value).substr(0, kDeadLetterValueLimit)) + "\"";
  out += ",\"value_preview\":";
  AppendJsonString(&out, Preview(record.value, 200));
  out += "}";
  return out;
}

int64_t HistogramPercentile(const std::map<int64_t, uint64_t>& histogram, double p) {
  uint64_t total = 0;
  for (const auto& [value, count] : histogram) total += count;
  if (total == 0) return 0;
  // Nearest rank: the smallest value with at least p% of the samples at or below it.
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(p / 100.0 * total)));
  uint64_t seen = 0;
  for (const auto& [value, count] : histogram) {
    seen += count;
    if (seen >= rank) return value;
  }
  return histogram.rbegin()->first;
}

std::string OffsetKey(const TopicPartition& tp) {
  std::string key = tp.topic;
  key.push_back('\0');
  for (int shift = 24; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((static_cast<uint32_t>(tp.partition) >> shift) & 0xff));
  }
  return key;
}

std::string EncodeOffset(int64_t offset) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>((static_cast<uint64_t>(offset) >> (56 - 8 * i)) & 0xff);
  }
  return out;
}

Result<int64_t> DecodeOffset(std::string_view bytes) {
  if (bytes.size() != 8) {
    return Corruption("stored offset has " + std::to_string(bytes.size()) + " bytes, expected 8");
  }
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(value);
}

class ProjectionRuntime::Listener : public RebalanceListener {
 public:
  explicit Listener(ProjectionRuntime* runtime) : runtime_(runtime) {}
  void OnAssigned(const std::vector<TopicPartition>& partitions) override {
    Status status = runtime_->OnAssigned(partitions);
    if (!status.ok() && runtime_->rebalance_status_.ok()) runtime_->rebalance_status_ = status;
    assigned_once = true;
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    Status status = runtime_->OnRevoked(partitions);
    if (!status.ok() && runtime_->rebalance_status_.ok()) runtime_->rebalance_status_ = status;
  }
  bool assigned_once = false;

 private:
  ProjectionRuntime* runtime_;
};

Result<std::unique_ptr<ProjectionRuntime>> ProjectionRuntime::Create(
    EventLog* log, std::unique_ptr<Projector> projector, RuntimeOptions options) {
  if (sodium_init() < 0) return Internal("libsodium failed to initialise");
  std::unique_ptr<ProjectionRuntime> runtime(new ProjectionRuntime());
  runtime->log_ = log;
  runtime->projector_ = std::move(projector);
  runtime->options_ = std::move(options);
  JIRITSU_RETURN_IF_ERROR(runtime->OpenStore());
  JIRITSU_RETURN_IF_ERROR(runtime->CheckViewVersion());
  JIRITSU_RETURN_IF_ERROR(runtime->CheckWritable());
  JIRITSU_RETURN_IF_ERROR(runtime->LoadDeadLetterCount());
  runtime->projector_->SetCheckpointCadence(runtime->options_.checkpoint_every_ms);
  const int64_t open_started_ms = SteadyNowMs();
  JIRITSU_RETURN_IF_ERROR(runtime->projector_->Open(runtime->store_.get()));
  runtime->projector_applies_own_facts_ = runtime->options_.rebuild_mode &&
                                          runtime->SkipsDerivedTopics() &&
                                          runtime->projector_->ApplyPublishedFactsItself();
  const ProjectorMemory opened = runtime->projector_->Memory();
  if (opened.cached_entries > 0) {
    Logger()->info("opened the views with {} cache entries ({:.1f} MB) in {} ms",
                   opened.cached_entries, static_cast<double>(opened.cached_bytes) / 1e6,
                   SteadyNowMs() - open_started_ms);
  }
  if (!runtime->options_.local_only) {
    JIRITSU_ASSIGN_OR_RETURN(runtime->producer_, log->NewProducer());
    if (runtime->options_.confirm_facts_later && !runtime->options_.rebuild_mode &&
        runtime->projector_->RecordsUnconfirmedFacts()) {
      runtime->facts_flusher_ = std::make_unique<FactsFlusher>(runtime->producer_.get());
    }
  }
  JIRITSU_RETURN_IF_ERROR(runtime->StartGlobalInputs());
  ConsumerOptions consumer_options;
  consumer_options.group_id = runtime->options_.group_id;
  if (runtime->options_.rebuild_mode) consumer_options.empty_fetch_wait = kRebuildEmptyFetchWait;
  JIRITSU_ASSIGN_OR_RETURN(runtime->task_consumer_, log->NewConsumer(consumer_options));
  runtime->listener_ = std::make_unique<Listener>(runtime.get());
  if (runtime->options_.use_consumer_group) {
    JIRITSU_RETURN_IF_ERROR(
        runtime->task_consumer_->Subscribe(EmployeeSourceTopics(), runtime->listener_.get()));
  } else {
    JIRITSU_RETURN_IF_ERROR(runtime->AssignAllTaskPartitions());
    JIRITSU_RETURN_IF_ERROR(runtime->StartOrderedReader());
  }
  return runtime;
}

ProjectionRuntime::~ProjectionRuntime() {
  ordered_reader_.reset();  // its thread polls task_consumer_
  // Consumers first: closing a group member may call back into OnRevoked.
  task_consumer_.reset();
  global_consumer_.reset();
  if (projector_) projector_->Close();
}

Status ProjectionRuntime::OpenStore() {
  StateStoreOptions store_options;
  store_options.column_families = projector_->ColumnFamilies();
  store_options.column_families.emplace_back(kDeadLetterFamily);
  store_options.disable_wal = options_.rebuild_mode;
  store_options.memory_budget_bytes = options_.store_memory_bytes;
  JIRITSU_ASSIGN_OR_RETURN(store_, StateStore::Open(options_.state_dir, store_options));
  return Status::Ok();
}

Status ProjectionRuntime::CheckViewVersion() {
  if (options_.view_version == 0) return Status::Ok();
  std::string stored;
  Status status = store_->Get(kMetaFamily, kViewVersionKey, &stored);
  if (status.code() == StatusCode::kNotFound) return Status::Ok();
  JIRITSU_RETURN_IF_ERROR(status);
  if (stored != std::to_string(options_.view_version)) {
    return FailedPrecondition("views in " + options_.state_dir + " were built by view version " +
                              stored + "; this build projects version " +
                              std::to_string(options_.view_version) +
                              ": rebuild them with `jiritsu replay --swap`");
  }
  return Status::Ok();
}

Status ProjectionRuntime::CheckWritable() {
  std::string marker;
  Status status = store_->Get(kMetaFamily, kReadOnlyMarkerKey, &marker);
  if (status.code() == StatusCode::kNotFound) return Status::Ok();
  JIRITSU_RETURN_IF_ERROR(status);
  return FailedPrecondition("views in " + options_.state_dir + " are a read-only store (" + marker +
                            "): query them, never advance them");
}

Result<std::optional<int64_t>> StoredDeadLetterCount(const StateStore& store) {
  std::string stored;
  Status status = store.Get(kMetaFamily, kDeadLetterCountKey, &stored);
  if (status.code() == StatusCode::kNotFound) return std::optional<int64_t>();
  JIRITSU_RETURN_IF_ERROR(status);
  int64_t count = -1;
  const auto [end, error] = std::from_chars(stored.data(), stored.data() + stored.size(), count);
  if (error != std::errc() || end != stored.data() + stored.size() || count < 0) {
    return Corruption("meta key " + std::string(kDeadLetterCountKey) + " holds '" + stored +
                      "', not a dead-letter count");
  }
  return std::optional<int64_t>(count);
}

Status ProjectionRuntime::LoadDeadLetterCount() {
  JIRITSU_ASSIGN_OR_RETURN(std::optional<int64_t> stored, StoredDeadLetterCount(*store_));
  if (stored) {
    dead_letter_count_ = *stored;
    return Status::Ok();
  }
  auto it = store_->NewIterator(kDeadLetterFamily);
  dead_letter_count_ = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++dead_letter_count_;
  JIRITSU_RETURN_IF_ERROR(it->status());
  dead_letter_count_stored_ = dead_letter_count_ == 0;  // nothing to say for an empty store
  return Status::Ok();
}

bool ProjectionRuntime::SkipsDerivedTopics() const {
  return options_.local_only && options_.derived_inputs == RuntimeOptions::DerivedInputs::kLocal;
}

Status ProjectionRuntime::RefreshDerivedPositions() {
  for (auto& [tp, position] : derived_positions_) {
    JIRITSU_ASSIGN_OR_RETURN(position, log_->EndOffset(tp));
    auto stop = options_.stop_offsets.find(tp);
    if (stop != options_.stop_offsets.end()) position = std::min(position, stop->second);
  }
  return Status::Ok();
}

Result<int64_t> ProjectionRuntime::StoredOffset(const TopicPartition& tp) const {
  std::string value;
  Status status = store_->Get(kOffsetsFamily, OffsetKey(tp), &value);
  if (status.code() == StatusCode::kNotFound) return int64_t{0};
  if (!status.ok()) return status;
  return DecodeOffset(value);
}

Status ProjectionRuntime::StartGlobalInputs() {
  ConsumerOptions consumer_options;
  consumer_options.group_id = options_.group_id + "-global";
  // Not paused, but a rebuild ends by reading the facts it just produced to
  // their end, and a mock cluster answers a waiting fetch only when its wait
  // is over, even once records arrived (docs/performance.md, live latency).
  if (options_.rebuild_mode) consumer_options.empty_fetch_wait = kRebuildEmptyFetchWait;
  JIRITSU_ASSIGN_OR_RETURN(global_consumer_, log_->NewConsumer(consumer_options));
  std::map<TopicPartition, int64_t> starts;
  for (const std::string& topic :
       {std::string(kReferenceTopic), std::string(kFactsTopic), std::string(kDeadLetterTopic)}) {
    JIRITSU_ASSIGN_OR_RETURN(int32_t partitions, log_->PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      TopicPartition tp{topic, p};
      if (SkipsDerivedTopics() && topic != kReferenceTopic) {
        derived_positions_[tp] = 0;  // set below
        continue;
      }
      JIRITSU_ASSIGN_OR_RETURN(int64_t offset, StoredOffset(tp));
      starts[tp] = offset;
      positions_[tp] = offset;
    }
  }
  JIRITSU_RETURN_IF_ERROR(RefreshDerivedPositions());
  return global_consumer_->Assign(starts);
}

Status ProjectionRuntime::AssignAllTaskPartitions() {
  std::map<TopicPartition, int64_t> starts;
  for (const auto& topic : EmployeeSourceTopics()) {
    JIRITSU_ASSIGN_OR_RETURN(int32_t partitions, log_->PartitionCount(topic));
    for (int32_t p = 0; p < partitions; ++p) {
      TopicPartition tp{topic, p};
      JIRITSU_ASSIGN_OR_RETURN(int64_t offset, StoredOffset(tp));
      JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(tp));
      starts[tp] = offset;
      positions_[tp] = offset;
      ends_[tp] = EndWithinStop(tp, end);
    }
  }
  listener_->assigned_once = true;
  return task_consumer_->Assign(starts);
}

OrderedReaderOptions ProjectionRuntime::ReaderOptionsFromPositions() {
  OrderedReaderOptions reader_options;
  for (const auto& [tp, end] : ends_) {
    reader_options.ranges[tp] = OrderedReaderOptions::Range{positions_[tp], end};
  }
  reader_options.batch = options_.poll_batch;
  reader_options.wave_partitions = options_.rebuild_wave_partitions;
  return reader_options;
}

Status ProjectionRuntime::StartOrderedReader() {
  const bool merge = options_.rebuild_merge_by_event_time;
  if (!options_.rebuild_mode || options_.interleave_seed != 0 ||
      (!merge && !options_.rebuild_decode_thread)) {
    return Status::Ok();
  }
  OrderedReaderOptions reader_options = ReaderOptionsFromPositions();
  reader_options.merge = merge;
  reader_options.background = options_.rebuild_decode_thread;
  reader_options.reorder_held = options_.rebuild_reorder_held;
  ordered_reader_ = OrderedReader::Start(task_consumer_.get(), std::move(reader_options));
  return Status::Ok();
}

bool ProjectionRuntime::CatchUpMerges() const {
  return options_.use_consumer_group && options_.catch_up_merge_by_event_time &&
         options_.interleave_seed == 0;
}

bool ProjectionRuntime::CatchUpBacklog() const {
  for (const auto& [tp, end] : ends_) {
    auto position = positions_.find(tp);
    if (position != positions_.end() && position->second < end) return true;
  }
  return false;
}

Status ProjectionRuntime::UpdateCatchUpReader() {
  if (!CatchUpMerges()) return Status::Ok();
  if (assignment_changed_) {
    assignment_changed_ = false;
    // What the poll that saw the rebalance returned, and what a reader held,
    // was dropped (some of it for partitions this member lost, and from
    // before a seek): read again from the applied positions.
    ordered_reader_.reset();
    std::vector<TopicPartition> assigned;
    for (const auto& [tp, end] : ends_) {
      assigned.push_back(tp);
      JIRITSU_RETURN_IF_ERROR(task_consumer_->Seek(tp, positions_[tp]));
    }
    if (!assigned.empty()) JIRITSU_RETURN_IF_ERROR(task_consumer_->Resume(assigned));
    if (!CatchUpBacklog()) return Status::Ok();
    OrderedReaderOptions reader_options = ReaderOptionsFromPositions();
    reader_options.background = false;  // rebalance callbacks stay on this thread
    // Log order within a partition: positions stay exact (offset + 1).
    reader_options.reorder_held = false;
    ordered_reader_ = OrderedReader::Start(task_consumer_.get(), std::move(reader_options));
    {
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++stats_.catch_up_reads;
    }
    Logger()->info("catching up {} partitions merged by event time", ends_.size());
    return Status::Ok();
  }
  if (ordered_reader_ && ordered_reader_->Drained()) {
    JIRITSU_RETURN_IF_ERROR(ordered_reader_->ResumePaused());
    ordered_reader_.reset();
    Logger()->info("caught up with the backlog of the assignment: reading as it comes");
  }
  return Status::Ok();
}

Status ProjectionRuntime::OnAssigned(const std::vector<TopicPartition>& partitions) {
  for (const auto& tp : partitions) {
    JIRITSU_ASSIGN_OR_RETURN(int64_t offset, StoredOffset(tp));
    positions_[tp] = offset;
    JIRITSU_RETURN_IF_ERROR(task_consumer_->Seek(tp, offset));
    JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(tp));
    ends_[tp] = EndWithinStop(tp, end);
  }
  assignment_changed_ = true;
  Logger()->info("assigned {} partitions", partitions.size());
  return Status::Ok();
}

Status ProjectionRuntime::OnRevoked(const std::vector<TopicPartition>& partitions) {
  // Commit what was processed for them, with every facts record held back,
  // before another member takes over.
  JIRITSU_RETURN_IF_ERROR(PublishHeldBackFacts());
  std::set<int32_t> numbers;
  position_slots_.clear();  // their nodes may go
  for (const auto& tp : partitions) {
    positions_.erase(tp);
    ends_.erase(tp);
    numbers.insert(tp.partition);
  }
  assignment_changed_ = true;
  projector_->OnPartitionsRevoked(std::vector<int32_t>(numbers.begin(), numbers.end()));
  Logger()->info("revoked {} partitions", partitions.size());
  return Status::Ok();
}

void ProjectionRuntime::Interleave(std::vector<LogRecord>* records) {
  auto next = [this] {  // splitmix64: deterministic, no library distributions
    uint64_t z = (interleave_state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  std::map<TopicPartition, std::vector<LogRecord>> queues;
  for (auto& record : *records) {
    queues[TopicPartition{record.topic, record.partition}].push_back(std::move(record));
  }
  std::vector<std::pair<std::vector<LogRecord>*, size_t>> cursors;
  for (auto& [tp, queue] : queues) cursors.emplace_back(&queue, 0);
  records->clear();
  while (!cursors.empty()) {
    const size_t pick = next() % cursors.size();
    auto& [queue, index] = cursors[pick];
    records->push_back(std::move((*queue)[index++]));
    if (index == queue->size()) cursors.erase(cursors.begin() + static_cast<long>(pick));
  }
}

void ProjectionRuntime::DeferFacts(std::vector<FactsRecord>* facts) {
  // Each burst rewrites most KPI rows, so fewer, larger bursts cost less CPU;
  // the batch a burst makes spills to the store as it is built. What bounds
  // a burst is what its facts hold once applied, not their encoded size:
  // with compact facts (processors, format 3) the same encoded bytes decode
  // to 2.5x more facts, and a 100 000 x 36 replay peaked 660 MB higher.
  const size_t kMaxDeferredBytes = options_.deferred_facts_bytes == 0
                                       ? size_t{256} << 20
                                       : std::max<size_t>(1 << 20, options_.deferred_facts_bytes);
  for (auto& record : *facts) {
    const size_t cost = projector_->AppliedFactsBytes(record);
    auto [it, inserted] = deferred_facts_.try_emplace(std::move(record.key));
    if (!inserted) deferred_facts_bytes_ -= it->second.cost;
    deferred_facts_bytes_ += cost;
    it->second = {std::move(record.value), cost};
  }
  facts->clear();
  if (!flush_deferred_facts_ && deferred_facts_bytes_ < kMaxDeferredBytes) return;
  if (!deferred_facts_.empty()) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.facts_bursts;
    stats_.largest_facts_burst_bytes =
        std::max<uint64_t>(stats_.largest_facts_burst_bytes, deferred_facts_bytes_);
  }
  for (auto& [key, deferred] : deferred_facts_) {
    facts->push_back(FactsRecord{key, std::move(deferred.value)});
  }
  deferred_facts_.clear();
  deferred_facts_bytes_ = 0;
}

int64_t ProjectionRuntime::EndWithinStop(const TopicPartition& tp, int64_t end) const {
  auto stop = options_.stop_offsets.find(tp);
  return stop == options_.stop_offsets.end() ? end : std::min(end, stop->second);
}

bool ProjectionRuntime::PastStopOffset(const LogRecord& record) {
  if (options_.stop_offsets.empty()) return false;
  const TopicPartition tp{record.topic, record.partition};
  auto it = options_.stop_offsets.find(tp);
  if (it == options_.stop_offsets.end() || record.offset < it->second) return false;
  // Not consumed: the stored position stays at the stop offset, so a store
  // caught up to stop offsets (replay swap) resumes with these records.
  int64_t& position = positions_[tp];
  position = std::max(position, it->second);
  return true;
}

Status ProjectionRuntime::DeadLetter(const LogRecord& record, const std::string& reason) {
  std::string value = EncodeDeadLetter(record, reason);
  if (options_.local_only) {
    // kLog replays take the dead-letter rows from jiritsu.dlq, as live did.
    if (SkipsDerivedTopics()) pending_dlq_rows_.emplace_back(DeadLetterKey(record), std::move(value));
  } else {
    pending_dead_letters_.emplace_back(DeadLetterKey(record), std::move(value));
  }
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.dead_letters;
  return Status::Ok();
}

Status ProjectionRuntime::SkipInternalPoison(const LogRecord& record, const std::string& reason) {
  // Not a dead letter: the internal topics are derived data that a rebuild
  // recomputes instead of reading, so a row for them would make replay and
  // live views differ. Logged and counted; the source topics are unaffected.
  Logger()->warn("skipped an invalid record on internal topic {} at {}: {}",
                          ToString(TopicPartition{record.topic, record.partition}),
                          record.offset, reason);
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.internal_records_skipped;
  return Status::Ok();
}

Status ProjectionRuntime::ApplyGlobalRecord(const LogRecord& record) {
  if (PastStopOffset(record)) return Status::Ok();
  positions_[TopicPartition{record.topic, record.partition}] = record.offset + 1;
  if (record.topic == kFactsTopic) {
    const Status applied = projector_->ApplyFacts(record);
    if (applied.code() == StatusCode::kInvalidArgument) return SkipInternalPoison(record, applied.message());
    JIRITSU_RETURN_IF_ERROR(applied);
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.facts_applied;
    return Status::Ok();
  }
  if (record.topic == kDeadLetterTopic) {
    if (const std::string problem = DeadLetterProblem(record); !problem.empty()) {
      return SkipInternalPoison(record, problem);
    }
    pending_dlq_rows_.emplace_back(record.key, record.value);
    return Status::Ok();
  }
  // Reference topic.
  Result<Event> event = DecodeJsonEvent(record.value);
  if (!event.ok()) return DeadLetter(record, event.status().message());
  if (FamilyOf(event->type) != Family::kReference) {
    return DeadLetter(record, "type: " + std::string(EventTypeName(event->type)) +
                                  " belongs on " + TopicForFamily(FamilyOf(event->type)) +
                                  ", found on " + record.topic);
  }
  if (options_.as_of_time_us && event->time_us > *options_.as_of_time_us) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.events_skipped_as_of;
    return Status::Ok();
  }
  JIRITSU_RETURN_IF_ERROR(projector_->ApplyReference(
      *event, SourcePosition{record.topic, record.partition, record.offset}));
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.reference_applied;
  return Status::Ok();
}

int64_t& ProjectionRuntime::PositionOf(const std::string& topic, int32_t partition) {
  // One slot per topic with this partition number: a handful to scan.
  const size_t number = static_cast<size_t>(std::max(partition, 0));
  if (number < position_slots_.size()) {
    for (const PositionSlot& slot : position_slots_[number]) {
      if (slot.tp->partition == partition && slot.tp->topic == topic) return *slot.position;
    }
  }
  auto it = positions_.try_emplace(TopicPartition{topic, partition}, 0).first;
  if (number >= position_slots_.size()) position_slots_.resize(number + 1);
  position_slots_[number].push_back(PositionSlot{&it->first, &it->second});
  return it->second;
}

Status ProjectionRuntime::ApplyTaskRecord(const LogRecord& record, const DecodedRecord* decoded) {
  if (PastStopOffset(record)) return Status::Ok();
  // The reader's copy of the topic name, hot, where there is one: each
  // record's own is a cold heap string (compared three times below).
  const std::string& topic =
      decoded != nullptr && decoded->source != nullptr ? decoded->source->topic : record.topic;
  // A reordering reader hands a partition out of log order: the position
  // only moves past what every earlier record of the partition reached.
  int64_t& position = PositionOf(topic, record.partition);
  position = std::max(position, decoded != nullptr ? decoded->safe_position : record.offset + 1);
  unflushed_bytes_read_ += record.value.size();
  std::optional<Result<Event>> decoded_here;
  const Event* event = nullptr;
  if (decoded != nullptr) {
    if (!decoded->decode_status.ok()) return DeadLetter(record, decoded->decode_status.message());
    event = &decoded->event;
  } else {
    decoded_here.emplace(DecodeJsonEvent(record.value));
    if (!decoded_here->ok()) return DeadLetter(record, decoded_here->status().message());
    event = &**decoded_here;
  }
  const std::string_view expected_topic = TopicNameForFamily(FamilyOf(event->type));
  if (expected_topic != topic) {
    return DeadLetter(record, "type: " + std::string(EventTypeName(event->type)) +
                                  " belongs on " + std::string(expected_topic) + ", found on " +
                                  record.topic);
  }
  if (record.key != event->subject) {
    return DeadLetter(record, "key: record key \"" + Preview(record.key, 128) +
                                  "\" differs from subject \"" + event->subject +
                                  "\"; employee events must be keyed by subject");
  }
  if (options_.as_of_time_us && event->time_us > *options_.as_of_time_us) {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.events_skipped_as_of;
    return Status::Ok();
  }
  // Reused: a topic name is a heap string, and this runs once per event.
  if (record_position_.topic != topic) record_position_.topic.assign(topic);
  record_position_.partition = record.partition;
  record_position_.offset = record.offset;
  JIRITSU_RETURN_IF_ERROR(projector_->ApplyEmployeeEvent(*event, record_position_));
  ++events_since_checkpoint_;
  if (!options_.rebuild_mode && record.append_time_ms > 0) {
    pending_append_times_ms_.push_back(record.append_time_ms);
  }
  ++unflushed_events_applied_;
  return Status::Ok();
}

Status ProjectionRuntime::ApplyGroupedByKey(const std::vector<DecodedRecord>& decoded) {
  // Stable: each key's records keep the reader's order, so every fold sees
  // its employee's events as it would have. Positions only move forward
  // (the maximum of what each record reached), so once the whole batch is
  // applied they are what applying it in order gives; a checkpoint waits
  // for that.
  // Grouped by a hash of the key, not by the key: comparing integers instead
  // of strings made the sort ~5x cheaper, and the groups need no order
  // (each employee's views depend on its own events only). The index breaks
  // ties, so a key's records keep their order even if two keys collide;
  // those two then interleave, which costs a cache lookup, never a view.
  apply_order_.resize(decoded.size());
  const std::hash<std::string_view> hash;
  for (uint32_t i = 0; i < apply_order_.size(); ++i) {
    apply_order_[i] = {hash(decoded[i].record.key), i};
  }
  std::sort(apply_order_.begin(), apply_order_.end());
  // The records and the employees' states are cold here (the records were
  // written on the decoding thread, the states touched a batch ago): each
  // event's first touches were cache misses in a row. Prefetched a few
  // events ahead, in stages that each follow what the previous one brought
  // in, they overlap (docs/performance.md, forty-fourth pass).
  const size_t count = apply_order_.size();
  for (size_t k = 0; k < count; ++k) {
    if (k + kPrefetchRecordAhead < count) {
      PrefetchLines(&decoded[apply_order_[k + kPrefetchRecordAhead].second], sizeof(DecodedRecord));
    }
    if (k + kPrefetchEmployeeAhead < count) {
      // Stage 2 needs the hash only: the record may not be in the cache yet.
      projector_->PrefetchEmployee({}, apply_order_[k + kPrefetchEmployeeAhead].first, 2);
    }
    if (k + kPrefetchEmployeeAhead / 2 < count) {
      const auto& [ahead_hash, ahead] = apply_order_[k + kPrefetchEmployeeAhead / 2];
      const Event& event = decoded[ahead].event;
      for (const std::string* text : {&event.id, &event.source, &event.subject}) {
        __builtin_prefetch(text->data());
      }
      projector_->PrefetchEmployee(decoded[ahead].record.key, ahead_hash, 1);
    }
    if (k + kPrefetchStateAhead < count) {
      const auto& [ahead_hash, ahead] = apply_order_[k + kPrefetchStateAhead];
      projector_->PrefetchEmployee(decoded[ahead].record.key, ahead_hash, 0);
    }
    const uint32_t i = apply_order_[k].second;
    JIRITSU_RETURN_IF_ERROR(ApplyTaskRecord(decoded[i].record, &decoded[i]));
  }
  return CheckpointIfOverMemory();
}

void ProjectionRuntime::FlushHotCounters() {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.events_applied += unflushed_events_applied_;
  stats_.bytes_read += unflushed_bytes_read_;
  unflushed_events_applied_ = 0;
  unflushed_bytes_read_ = 0;
}

Status ProjectionRuntime::DrainGlobalInputs(bool block_until_end) {
  std::map<TopicPartition, int64_t> targets;
  if (block_until_end) {
    for (const auto& [tp, position] : positions_) {
      if (!IsGlobalTopic(tp.topic)) continue;
      JIRITSU_ASSIGN_OR_RETURN(int64_t end, log_->EndOffset(tp));
      auto stop = options_.stop_offsets.find(tp);
      if (stop != options_.stop_offsets.end()) end = std::min(end, stop->second);
      targets[tp] = end;
    }
  }
  auto reached = [&] {
    for (const auto& [tp, end] : targets) {
      if (positions_[tp] < end) return false;
    }
    return true;
  };
  std::vector<LogRecord> records;
  while (!stop_requested_.load()) {
    if (block_until_end && reached()) break;
    records.clear();
    JIRITSU_RETURN_IF_ERROR(global_consumer_->Poll(
        std::chrono::milliseconds(block_until_end ? 200 : 0), options_.poll_batch, &records));
    if (records.empty() && !block_until_end) break;
    for (const auto& record : records) {
      JIRITSU_RETURN_IF_ERROR(ApplyGlobalRecord(record));
      // Facts read back (a whole checkpoint's worth) are dirty aggregates.
      JIRITSU_RETURN_IF_ERROR(CheckpointIfOverMemory());
    }
    if (pending_dlq_rows_.size() > 10000) {
      JIRITSU_RETURN_IF_ERROR(Checkpoint(/*facts_may_follow=*/true));
    }
  }
  return Status::Ok();
}

// One flush of the producer at a time, off the runtime thread. Request(n)
// asks for the facts of the first n projector checkpoints; a flush that
// starts after the request covers them (they were appended before it).
class ProjectionRuntime::FactsFlusher {
 public:
  explicit FactsFlusher(LogProducer* producer)
      : producer_(producer), thread_([this] {
          NameCurrentThread("jr-facts-flush");
          Loop();
        }) {}
  ~FactsFlusher() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  void Request(uint64_t checkpoints) {
    {
      std::lock_guard lock(mu_);
      requested_ = std::max(requested_, checkpoints);
    }
    wake_.notify_all();
  }
  // Through which checkpoint the facts are durable, or the flush's error.
  Result<uint64_t> Durable() {
    std::lock_guard lock(mu_);
    if (!error_.ok()) return error_;
    return durable_;
  }
  // Blocks until the facts of the first `checkpoints` checkpoints are
  // durable or a flush failed (a flush gives up after its own timeout).
  Result<uint64_t> WaitFor(uint64_t checkpoints) {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return durable_ >= checkpoints || !error_.ok(); });
    if (!error_.ok()) return error_;
    return durable_;
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || (requested_ > durable_ && error_.ok()); });
      if (stopping_) return;
      const uint64_t target = requested_;
      lock.unlock();
      Status flushed = producer_->Flush(std::chrono::seconds(60));
      lock.lock();
      if (flushed.ok()) {
        durable_ = target;
      } else {
        error_ = flushed.WithContext("publishing facts");
      }
      done_.notify_all();
    }
  }

  LogProducer* const producer_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t requested_ = 0;
  uint64_t durable_ = 0;
  Status error_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

Status ProjectionRuntime::Checkpoint(bool facts_may_follow) {
  const int64_t started_ms = SteadyNowMs();
  // Facts an earlier checkpoint left to the flusher: confirmed if durable by
  // now; a checkpoint that waits for its own facts waits for those first.
  const bool facts_later = facts_flusher_ && facts_may_follow && pending_dead_letters_.empty();
  if (facts_flusher_) {
    Result<uint64_t> durable =
        facts_later ? facts_flusher_->Durable() : facts_flusher_->WaitFor(facts_flush_requested_);
    if (!durable.ok()) return durable.status();
    if (*durable > facts_confirmed_) {
      facts_confirmed_ = *durable;
      projector_->OnFactsDurable(facts_confirmed_);
    }
    projector_->SetFactsConfirmedLater(facts_later);
  }
  StateBatch batch;
  // A rebuild's checkpoint can change gigabytes (the KPI rows of a burst of
  // facts): it goes to the unlogged store as it is built.
  if (options_.rebuild_mode) JIRITSU_RETURN_IF_ERROR(batch.SpillTo(store_.get(), kUnloggedWriteChunkBytes));
  size_t facts_count = 0;  // published, or applied here when local_only
  if (options_.local_only) {
    std::vector<FactsRecord> facts;
    ++projector_checkpoints_;
    JIRITSU_RETURN_IF_ERROR(projector_->Checkpoint(&batch, CollectFacts(&facts)));
    // No log to publish to: the facts feed this store's global tables
    // directly, and the aggregates they change join the same batch (kLog
    // replays read the published facts from the log instead).
    if (!SkipsDerivedTopics()) facts.clear();
    if (projector_applies_own_facts_) {
      facts_count = facts.size();  // applied as the projector built them
      facts.clear();
    }
    if (options_.rebuild_mode) DeferFacts(&facts);
    for (auto& record : facts) {
      LogRecord local{std::string(kFactsTopic), 0, -1, record.key, record.value, 0};
      JIRITSU_RETURN_IF_ERROR(projector_->ApplyFacts(local));
    }
    facts_count += facts.size();
    std::vector<FactsRecord> more;
    ++projector_checkpoints_;
    JIRITSU_RETURN_IF_ERROR(projector_->Checkpoint(&batch, CollectFacts(&more)));
    if (!more.empty()) return Internal("projector produced facts while applying facts");
  } else {
    auto append = [&](std::string_view topic, const std::string& key,
                      const std::string& value) -> Status {
      for (int attempt = 0;; ++attempt) {
        Status status = producer_->Append(std::string(topic), key, value);
        if (status.code() != StatusCode::kResourceExhausted || attempt > 100) return status;
        JIRITSU_RETURN_IF_ERROR(producer_->Flush(std::chrono::seconds(60)));
      }
    };
    // Appended as the projector builds them: a checkpoint's facts (hundreds
    // of MB when tens of thousands of long histories change) never sit in
    // memory together, only the producer's bounded buffer does.
    ++projector_checkpoints_;
    JIRITSU_RETURN_IF_ERROR(projector_->Checkpoint(&batch, [&](FactsRecord record) {
      ++facts_count;
      return append(kFactsTopic, record.key, record.value);
    }));
    for (const auto& [key, value] : pending_dead_letters_) {
      JIRITSU_RETURN_IF_ERROR(append(kDeadLetterTopic, key, value));
    }
    if (facts_later && facts_count > 0) {
      facts_flush_requested_ = projector_checkpoints_;
      facts_flusher_->Request(facts_flush_requested_);
    } else if (facts_count > 0 || !pending_dead_letters_.empty()) {
      Status flushed = producer_->Flush(std::chrono::seconds(60));
      if (!flushed.ok()) return flushed.WithContext("publishing facts/dead letters");
    }
  }
  // A dead letter read again (its record re-published after a crash) is
  // the same row: counted once.
  int64_t dead_letters = dead_letter_count_;
  if (!pending_dlq_rows_.empty()) {
    std::set<std::string_view> added;
    std::string existing;
    for (const auto& [key, value] : pending_dlq_rows_) {
      if (!added.insert(key).second) continue;
      Status found = store_->Get(kDeadLetterFamily, key, &existing);
      if (found.code() == StatusCode::kNotFound) {
        ++dead_letters;
      } else if (!found.ok()) {
        return found.WithContext("counting dead letters");
      }
    }
  }
  for (const auto& [key, value] : pending_dlq_rows_) batch.Put(kDeadLetterFamily, key, value);
  const bool store_dead_letter_count =
      dead_letters != dead_letter_count_ || !dead_letter_count_stored_;
  if (store_dead_letter_count) {
    batch.Put(kMetaFamily, kDeadLetterCountKey, std::to_string(dead_letters));
  }
  if (options_.view_version != 0) {
    batch.Put(kMetaFamily, kViewVersionKey, std::to_string(options_.view_version));
  }
  for (const auto& [tp, position] : positions_) {
    batch.Put(kOffsetsFamily, OffsetKey(tp), EncodeOffset(position));
  }
  for (const auto& [tp, position] : derived_positions_) {
    batch.Put(kOffsetsFamily, OffsetKey(tp), EncodeOffset(position));
  }
  const size_t batch_bytes = batch.ApproximateBytes() + batch.SpilledBytes();
  JIRITSU_RETURN_IF_ERROR(store_->Write(&batch));
  dead_letter_count_ = dead_letters;
  dead_letter_count_stored_ = dead_letter_count_stored_ || store_dead_letter_count;
  projector_->OnCheckpointCommitted();
  FactsDeferral deferral = projector_->TakeFactsDeferral();
  const uint64_t refolds = projector_->TakeRefolds();
#if defined(__GLIBC__)
  // A rebuild checkpoint that applied a burst of facts frees hundreds of MB
  // of small objects (the decoded facts, the dirty rows it flushed) among
  // live ones; glibc keeps those pages unless asked, and RSS stayed ~900 MB
  // above the heap in use. Not after every checkpoint: pages given back are
  // faulted in again.
  if (options_.rebuild_mode && facts_count > 0) ::malloc_trim(0);
#endif
  if (Logger()->should_log(spdlog::level::debug)) LogCheckpointMemory(batch_bytes, facts_count);
  const int64_t committed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    for (int64_t appended_ms : pending_append_times_ms_) {
      ++stats_.visible_latency_ms[std::max<int64_t>(0, committed_ms - appended_ms)];
    }
    stats_.facts_published += facts_count;
    stats_.facts_waiting = deferral.waiting;
    stats_.facts_cost_us = deferral.cost_us;
    stats_.refolds += refolds;
    for (const auto& [ms, count] : deferral.published_after_ms) stats_.facts_deferral_ms[ms] += count;
    ++stats_.checkpoints;
    stats_.partitions.clear();
    for (const auto& [tp, position] : positions_) {
      auto end = ends_.find(tp);
      stats_.partitions[tp] = PartitionProgress{position, end == ends_.end() ? position : end->second};
    }
  }
  pending_dead_letters_.clear();
  pending_dlq_rows_.clear();
  pending_append_times_ms_.clear();
  events_since_checkpoint_ = 0;
  // The interval runs from checkpoint start to checkpoint start: counted
  // from the end, a checkpoint that took 15 ms made a live run's cycle
  // 25 ms, and the events that came meanwhile waited for all of it.
  last_checkpoint_ms_ = started_ms;
  return Status::Ok();
}

// Where the memory is at a checkpoint (JIRITSU_LOG_LEVEL=debug): what each
// share of the budget holds, next to the process RSS.
void ProjectionRuntime::LogCheckpointMemory(size_t batch_bytes, size_t facts) const {
  const ProjectorMemory projector = projector_->Memory();
  const StoreMemoryUsage rocks = store_->MemoryUsage();
  const LogMemoryUsage log = log_->MemoryUsage();
  long rss_pages = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    long size_pages = 0;
    if (std::fscanf(statm, "%ld %ld", &size_pages, &rss_pages) != 2) rss_pages = 0;
    std::fclose(statm);
  }
  constexpr double kMb = 1 << 20;
  double heap_mb = 0;  // bytes malloc handed out and not freed (vs. rss: fragmentation)
#if defined(__GLIBC__)
  const struct mallinfo2 heap = ::mallinfo2();
  heap_mb = (heap.uordblks + heap.hblkhd) / kMb;
#endif
  Logger()->debug(
      "checkpoint: batch {:.1f} MB, {} facts; projector cached {:.1f} MB ({} entries), "
      "uncommitted {:.1f} MB; views store memtables {:.1f} MB, block cache {:.1f} MB, "
      "table readers {:.1f} MB, pinned {:.1f} MB; log memtables {:.1f} MB, block cache {:.1f} MB; "
      "deferred facts {:.1f} MB; heap in use {:.0f} MB, rss {:.0f} MB",
      batch_bytes / kMb, facts, projector.cached_bytes / kMb, projector.cached_entries,
      projector.uncommitted_bytes / kMb, rocks.memtables / kMb, rocks.block_cache / kMb,
      rocks.table_readers / kMb, rocks.pinned / kMb, log.memtables / kMb, log.block_cache / kMb,
      deferred_facts_bytes_ / kMb, heap_mb,
      rss_pages * static_cast<double>(::sysconf(_SC_PAGESIZE)) / kMb);
}

Status ProjectionRuntime::PublishHeldBackFacts() {
  struct Timed {
    ProjectionRuntime* runtime;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    ~Timed() {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      std::lock_guard<std::mutex> lock(runtime->stats_mutex_);
      runtime->stats_.held_back_publish_seconds += took.count();
    }
  } timed{this};
  size_t before = std::numeric_limits<size_t>::max();
  while (true) {
    projector_->PublishDeferredFactsAtNextCheckpoint();
    JIRITSU_RETURN_IF_ERROR(Checkpoint());
    const size_t left = projector_->FactsHeldBack();
    if (left == 0) return Status::Ok();
    if (left >= before) {
      Logger()->warn("{} employees' facts still held back after a checkpoint that published none",
                     left);
      return Status::Ok();
    }
    before = left;
  }
}

Status ProjectionRuntime::CompactCompleteFamiliesEarly() {
  if (!options_.rebuild_mode || early_compaction_started_ || !store_->bulk_loading()) {
    return Status::Ok();
  }
  early_compaction_started_ = true;
  const std::vector<std::string> families = projector_->FamiliesCompleteBeforeHeldBackFacts();
  if (families.empty()) return Status::Ok();
  // The last events read reach those families at this checkpoint. The
  // compaction then runs on the core the reader no longer needs: at
  // 100 000 x 36 the journal's took ~12 s, serial at the end of the run.
  JIRITSU_RETURN_IF_ERROR(Checkpoint());
  JIRITSU_RETURN_IF_ERROR(store_->CompactFamiliesEarly(families));
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.families_compacted_early = families.size();
  return Status::Ok();
}

Status ProjectionRuntime::CheckpointIfOverMemory() {
  if (options_.checkpoint_uncommitted_bytes == 0 ||
      projector_->Memory().uncommitted_bytes <= options_.checkpoint_uncommitted_bytes) {
    return Status::Ok();
  }
  JIRITSU_RETURN_IF_ERROR(Checkpoint(/*facts_may_follow=*/true));
#if defined(__GLIBC__)
  // The states and events just released are small objects among live ones:
  // without a trim glibc keeps their pages and a live run's RSS creeps
  // toward twice the budget. (A rebuild trims in Checkpoint() already.)
  if (!options_.rebuild_mode) ::malloc_trim(0);
#endif
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.memory_checkpoints;
  return Status::Ok();
}

Status ProjectionRuntime::RefreshTaskEnds() {
  for (auto& [tp, end] : ends_) {
    JIRITSU_ASSIGN_OR_RETURN(int64_t latest, log_->EndOffset(tp));
    end = EndWithinStop(tp, latest);
  }
  return Status::Ok();
}

bool ProjectionRuntime::TasksCaughtUp() const {
  if (!listener_->assigned_once) return false;
  for (const auto& [tp, end] : ends_) {
    auto it = positions_.find(tp);
    if (it == positions_.end() || it->second < end) return false;
  }
  return true;
}

void ProjectionRuntime::MaybeReportProgress(bool force) {
  if (options_.progress_every_ms <= 0) return;
  const int64_t now = SteadyNowMs();
  if (!force && now - last_progress_ms_ < options_.progress_every_ms) return;
  last_progress_ms_ = now;
  {
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats_.seconds = (now - started_ms_) / 1000.0;
    for (const auto& [tp, position] : positions_) {
      auto end = ends_.find(tp);
      stats_.partitions[tp] = PartitionProgress{position, end == ends_.end() ? position : end->second};
    }
  }
  if (options_.on_progress) {
    options_.on_progress(stats());
    return;
  }
  int64_t remaining = 0;
  for (const auto& [tp, end] : ends_) {
    auto it = positions_.find(tp);
    if (it != positions_.end()) remaining += std::max<int64_t>(0, end - it->second);
  }
  RuntimeStats snapshot = stats();
  const double seconds = std::max(1e-3, (now - started_ms_) / 1000.0);
  const double rate = snapshot.events_applied / seconds;
  std::fprintf(stderr, "[run] applied=%llu dead_letters=%llu %.0f ev/s remaining=%lld eta=%.0fs\n",
               static_cast<unsigned long long>(snapshot.events_applied),
               static_cast<unsigned long long>(snapshot.dead_letters), rate,
               static_cast<long long>(remaining), rate > 0 ? remaining / rate : 0.0);
}

Status ProjectionRuntime::Run() {
  started_ms_ = SteadyNowMs();
  last_checkpoint_ms_ = started_ms_;
  if (options_.low_priority_compactions && !options_.rebuild_mode) {
    const Status lowered = LowerCompactionThreadPriority();
    if (!lowered.ok()) {
      Logger()->warn("compactions keep their CPU priority: {}", lowered.ToString());
    }
  }
  // Reference data and global tables first, so a batch run knows every
  // programme and org unit before the events that name them.
  JIRITSU_RETURN_IF_ERROR(DrainGlobalInputs(/*block_until_end=*/true));
  std::vector<LogRecord> records;
  std::vector<DecodedRecord> decoded;
  while (!stop_requested_.load()) {
    JIRITSU_RETURN_IF_ERROR(DrainGlobalInputs(/*block_until_end=*/false));
    records.clear();
    size_t batch = options_.poll_batch;
    if (options_.interleave_seed != 0) {
      if (interleave_state_ == 0) interleave_state_ = options_.interleave_seed;
      batch = 1 + (interleave_state_ * 2654435761ULL >> 7) % std::max<size_t>(1, batch);
    }
    Status applied;
    size_t polled = 0;
    // Applied events wait for a checkpoint: a poll that finds nothing new
    // must not hold them past it (at the end of a burst they waited the
    // whole 100 ms).
    std::chrono::milliseconds wait(100);
    if (events_since_checkpoint_ > 0) {
      const int64_t until_due = options_.checkpoint_every_ms - (SteadyNowMs() - last_checkpoint_ms_);
      wait = std::chrono::milliseconds(std::clamp<int64_t>(until_due, 0, 100));
    }
    // Positions advance per record, so a checkpoint mid-batch commits
    // exactly what was applied.
    JIRITSU_RETURN_IF_ERROR(UpdateCatchUpReader());
    if (ordered_reader_) {
      JIRITSU_RETURN_IF_ERROR(ordered_reader_->Next(wait, &decoded));
      JIRITSU_RETURN_IF_ERROR(rebalance_status_);
      // A rebalance inside that poll: UpdateCatchUpReader reads again.
      if (assignment_changed_ && CatchUpMerges()) continue;
      polled = decoded.size();
      if (options_.rebuild_mode && options_.rebuild_group_by_key) {
        applied = ApplyGroupedByKey(decoded);
      } else {
        for (const auto& record : decoded) {
          applied = ApplyTaskRecord(record.record, &record);
          if (applied.ok()) applied = CheckpointIfOverMemory();
          if (!applied.ok()) break;
        }
      }
    } else {
      JIRITSU_RETURN_IF_ERROR(
          task_consumer_->Poll(wait, batch, &records));
      JIRITSU_RETURN_IF_ERROR(rebalance_status_);
      // The first poll of an assignment: what it returned is read again
      // through the catch-up reader if there is a backlog.
      if (assignment_changed_ && CatchUpMerges()) continue;
      if (options_.interleave_seed != 0) Interleave(&records);
      polled = records.size();
      for (const auto& record : records) {
        applied = ApplyTaskRecord(record);
        if (applied.ok()) applied = CheckpointIfOverMemory();
        if (!applied.ok()) break;
      }
    }
    FlushHotCounters();
    JIRITSU_RETURN_IF_ERROR(applied);
    // The ordered reader hands out what the merge released, rarely a full
    // batch: any record from it means the rebuild is still reading.
    const bool backlog =
        ordered_reader_ ? polled > 0 : polled >= batch && options_.interleave_seed == 0;
    const bool due =
        backlog ? events_since_checkpoint_ >=
                      std::max(options_.checkpoint_every_events, options_.catch_up_checkpoint_events)
                : events_since_checkpoint_ >= options_.checkpoint_every_events ||
                      SteadyNowMs() - last_checkpoint_ms_ >= options_.checkpoint_every_ms;
    if (due) JIRITSU_RETURN_IF_ERROR(Checkpoint(/*facts_may_follow=*/true));
    MaybeReportProgress(false);
    // With stop offsets, records past them keep arriving: do not wait for an
    // empty poll.
    const bool idle = polled == 0 || !options_.stop_offsets.empty();
    if (options_.until_caught_up && idle && TasksCaughtUp()) {
      JIRITSU_RETURN_IF_ERROR(RefreshTaskEnds());
      if (!TasksCaughtUp()) continue;
      // Publish the last facts, then read every global input (including
      // those facts) to its end, then commit the aggregates they changed.
      JIRITSU_RETURN_IF_ERROR(CompactCompleteFamiliesEarly());
      JIRITSU_RETURN_IF_ERROR(PublishHeldBackFacts());
      JIRITSU_RETURN_IF_ERROR(DrainGlobalInputs(/*block_until_end=*/true));
      break;
    }
  }
  ordered_reader_.reset();  // caught up or stopped: no more reading ahead
  if (SkipsDerivedTopics()) JIRITSU_RETURN_IF_ERROR(RefreshDerivedPositions());
  flush_deferred_facts_ = true;
  JIRITSU_RETURN_IF_ERROR(CompactCompleteFamiliesEarly());
  JIRITSU_RETURN_IF_ERROR(PublishHeldBackFacts());
  facts_flusher_.reset();  // those checkpoints waited for every flush
  if (options_.rebuild_mode) {
    const auto sync_started = std::chrono::steady_clock::now();
    JIRITSU_RETURN_IF_ERROR(store_->SyncAndFlush());
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - sync_started;
    std::lock_guard<std::mutex> lock(stats_mutex_);
    stats_.final_sync_seconds += took.count();
  }
  MaybeReportProgress(true);
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.seconds = (SteadyNowMs() - started_ms_) / 1000.0;
  return Status::Ok();
}

RuntimeStats ProjectionRuntime::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  RuntimeStats copy = stats_;
  return copy;
}

}  // namespace jiritsu
