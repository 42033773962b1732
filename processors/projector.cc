// JiritsuProjector: see jiritsu_projector.h.
#include <algorithm>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/prefetch.h"
#include "core/thread_name.h"
#include "processors/aggregates.h"
#include "processors/employee_fold.h"
#include "processors/facts.h"
#include "processors/facts_applier.h"
#include "processors/jiritsu_projector.h"
#include "processors/journal_tail.h"
#include "processors/recency_map.h"
#include "processors/reference_table.h"
#include "processors/rows.h"
#include "processors/stored_event.h"
#include "schemas/codec.h"

namespace jiritsu::processors {

std::vector<std::string> JiritsuColumnFamilies() {
  return {std::string(kReferenceFamily), std::string(kJournalFamily),
          std::string(kEmployeeFamily),  std::string(kRejectionsFamily),
          std::string(kFactsFamily),     std::string(kKpiFamily),
          std::string(kOrgIndexFamily)};
}

namespace {

struct PendingEvent {
  Event event;
  SourcePosition position;
};

constexpr int64_t kNeverPublished = std::numeric_limits<int64_t>::min();

struct IndexEntry {
  int64_t last_time_us = 0;
  int32_t partition = -1;
  // When this process last published the employee's facts
  // (ProjectorOptions::clock_ms); kNeverPublished after a start.
  int64_t facts_published_ms = kNeverPublished;
  // The store knew the employee when this process started (its facts were
  // published by an earlier run).
  bool known_at_start = false;
};

// Facts held back (ProjectorOptions::facts_interval_ms): at least this many
// are published per checkpoint when due, so a backlog of them drains even
// when checkpoints come faster than the estimate below expects.
constexpr size_t kMinWaitingFactsPerCheckpoint = 64;
// Heap estimate of one held-back employee (a hash-map node and a set node,
// each with the id).
constexpr size_t kWaitingFactsEntryBytes = 192;

// Heap estimates of the byte-bounded employee cache (docs/performance.md,
// "Memory", says how they were calibrated). Cost figures only: what is cached
// never changes a view.
constexpr size_t kEntryOverheadBytes = 320;       // hash node, LRU node, CacheEntry
// Decoded EmployeeState / its encoding, as a fraction: 3 per portable-binary
// byte, and the compact encoding (state format 3) is 0.71 of that on the
// generated workloads.
constexpr size_t kStateBytesPerEncodedByteTimes4 = 17;
constexpr size_t kKeySetNodeBytes = 64;           // std::set node + string header
// What an event folded into a live run's journal tail adds to the encoded
// state until its next snapshot re-measures it: 100 000 x 36 states encoded
// to ~3 KB for ~110 events in portable binary, ~0.71 of that compact.
constexpr size_t kFoldedEventEncodedBytes = 28;
// What an event folded at once (a rebuild's unlogged store) adds: its state
// is measured only when written (CacheEntry::state_unwritten), so this is a
// whole state's bytes per event, the fixed part included. At 100 000 x 36
// the 120 400 states written encoded to 514 MB for 11.1 M events.
constexpr size_t kFoldedAtOnceEventEncodedBytes = 46;

// A pending event (map node, Event, position) plus what applying it adds to
// the state until the next checkpoint re-measures the state (calibrated on
// generated workloads: ~600 heap bytes per pending event).
size_t PendingEventBytes(const Event& event, const std::string& sort_key) {
  const size_t strings = event.id.size() + event.source.size() + event.subject.size();
  return sizeof(Event) + 160 + sort_key.size() + strings + 192;
}

struct CacheEntry {
  EmployeeState state;
  std::map<std::string, PendingEvent> pending;  // sort key -> not yet written
  std::set<std::string> deleted;                // committed sort keys to delete
  std::set<std::string> committed_rejections;  // rejection keys in the store
  // state.rejections[0, n) are in the store: folding only appends rejections,
  // so a flush without a re-fold puts just the ones after them.
  size_t stored_rejections = 0;
  bool dirty = false;
  bool needs_refold = false;
  // The store holds a state (snapshot) of the employee; its journal rows
  // after it are the tail (journal_tail.h).
  bool snapshot_stored = false;
  // A rebuild's: the state has events the stored one lacks. A rebuild folds
  // no journal tail on a load, so the entry stays cached until the state is
  // written: when its facts are published, or when it is the least recently
  // used and the cache is over its limits (WriteBackColdStates).
  bool state_unwritten = false;
  int32_t partition = -1;
  uint64_t flushed_generation = 0;
  size_t encoded_state_bytes = 0;  // size of the state when last read or written
  size_t pending_event_bytes = 0;  // PendingEventBytes of the events since
  size_t folded_unflushed_bytes = 0;  // estimated encoded growth since, folded at once
  size_t charged_bytes = 0;        // this entry's part of cached_bytes_
  // The employee's slot in the projector's index (its nodes never move and
  // are never erased): at 100 000 employees a second hash lookup per event
  // was a cache miss of its own.
  IndexEntry* index = nullptr;
};
using CachedEmployee = RecencyMap<CacheEntry>::Node;

// Events the journal already holds under another sort key or position are
// resolved by this total order, so which copy survives is arrival-independent.
bool CopyWins(const std::string& candidate_key, const Event& candidate,
              const SourcePosition& candidate_pos, const std::string& existing_key,
              const Event& existing, const SourcePosition& existing_pos) {
  const std::string a = EncodeBinaryEvent(candidate);
  const std::string b = EncodeBinaryEvent(existing);
  return std::tie(candidate_key, a, candidate_pos.topic, candidate_pos.partition,
                  candidate_pos.offset) <
         std::tie(existing_key, b, existing_pos.topic, existing_pos.partition, existing_pos.offset);
}

// source '\0' id, as embedded in a sort key after the 9 fixed bytes.
bool SortKeyHasIdentity(std::string_view sort_key, std::string_view source, std::string_view id) {
  if (sort_key.size() != 9 + source.size() + 1 + id.size()) return false;
  return sort_key.substr(9, source.size()) == source && sort_key[9 + source.size()] == '\0' &&
         sort_key.substr(10 + source.size()) == id;
}

// An employee's facts and their encoding, as published.
struct BuiltFacts {
  EmployeeFacts facts;
  std::string bytes;  // EncodeFacts(facts)
};

BuiltFacts BuildEncodedFacts(const EmployeeState& state, const ReferenceTable& reference,
                             const ProjectorOptions& options, std::string views_hash) {
  BuiltFacts built;
  built.facts = BuildFacts(state, reference, options, std::move(views_hash));
  built.bytes = EncodeFacts(built.facts);
  return built;
}

// A rebuild's held-back facts, built from the stored states of employees
// the cache does not hold, in the order the runtime thread publishes them,
// by a helper thread and by the runtime thread itself while it waits for
// the helper. Reading, decoding and re-encoding those states and
// building their facts was ~40% of the runtime thread's final publishing,
// while the other core was mostly idle (docs/performance.md).
// The states it reads are committed and final: in a rebuild every flush
// writes the state (FlushEmployee), only clean, committed entries leave the
// cache, and nothing but this publish touches a held-back employee that is
// not cached. An employee whose state is missing or in an older format is
// not built here (Take says so) and takes the runtime thread's own path.
// Lifecycle: one checkpoint's publishing; the destructor stops and joins.
// Thread-safety: Take from the one consumer thread. The store's reads and
// the reference table's const methods run on the helper meanwhile (both
// allow that), so the consumer must not change the reference table.
class HeldBackFactsBuilder {
 public:
  HeldBackFactsBuilder(const StateStore* store, const ReferenceTable* reference,
                       const ProjectorOptions* options, std::vector<std::string> employees)
      : store_(store),
        reference_(reference),
        options_(options),
        employees_(std::move(employees)),
        ring_(kAhead),
        built_(kAhead, false),
        thread_([this] {
          NameCurrentThread("jr-facts-build");
          Run();
        }) {}
  ~HeldBackFactsBuilder() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    changed_.notify_all();
    thread_.join();
  }
  HeldBackFactsBuilder(const HeldBackFactsBuilder&) = delete;
  HeldBackFactsBuilder& operator=(const HeldBackFactsBuilder&) = delete;

  // The facts of `employee` if they are next on the list (the consumer asks
  // in list order, skipping only employees not on the list); while the
  // helper is still building them, this thread builds later ones. nullopt
  // when `employee` is not next on the list, or cannot be built here.
  std::optional<BuiltFacts> Take(const std::string& employee) {
    const size_t position = taken_;  // written by this thread only
    if (position >= employees_.size() || employees_[position] != employee) return std::nullopt;
    std::unique_lock<std::mutex> lock(mu_);
    // Until this one is built, build the next unclaimed one here (into the
    // ring, as the helper would).
    while (!built_[position % kAhead]) {
      if (!ClaimableLocked()) {
        changed_.wait(lock);
        continue;
      }
      BuildNextLocked(lock);
    }
    std::optional<BuiltFacts> built = std::move(ring_[position % kAhead]);
    built_[position % kAhead] = false;
    taken_ = position + 1;
    lock.unlock();
    changed_.notify_all();
    return built;
  }

 private:
  // Enough to keep the consumer fed; little work lost when it stops early
  // (the checkpoint's batch bound).
  static constexpr size_t kAhead = 256;

  bool ClaimableLocked() const {
    return next_claim_ < employees_.size() && next_claim_ < taken_ + kAhead;
  }
  // Claims the next position, builds it unlocked, stores it in the ring.
  void BuildNextLocked(std::unique_lock<std::mutex>& lock) {
    const size_t position = next_claim_++;
    lock.unlock();
    std::optional<BuiltFacts> built = Build(employees_[position]);
    lock.lock();
    ring_[position % kAhead] = std::move(built);
    built_[position % kAhead] = true;
    changed_.notify_all();
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      changed_.wait(
          lock, [&] { return stopping_ || next_claim_ >= employees_.size() || ClaimableLocked(); });
      if (stopping_ || next_claim_ >= employees_.size()) return;
      BuildNextLocked(lock);
    }
  }

  // As LoadEntry and PublishWaitingFacts would: the stored state, its
  // encoding hashed, its facts. nullopt: the runtime thread builds them.
  std::optional<BuiltFacts> Build(const std::string& employee) const {
    std::string bytes;
    if (!store_->Get(kEmployeeFamily, EmployeeStateKey(employee), &bytes).ok() || bytes.empty() ||
        static_cast<uint8_t>(bytes[0]) != kEmployeeStateFormat) {
      return std::nullopt;
    }
    auto state = DecodeEmployeeState(bytes);
    if (!state.ok()) return std::nullopt;  // the runtime thread reports it
    // The stored bytes are the state's encoding (decoding and encoding again
    // gives them back byte for byte), so they are hashed as they are:
    // encoding it again was ~13% of this thread (docs/performance.md).
    return BuildEncodedFacts(*state, *reference_, *options_, Blake2b256(bytes));
  }

  const StateStore* const store_;
  const ReferenceTable* const reference_;
  const ProjectorOptions* const options_;
  const std::vector<std::string> employees_;
  std::mutex mu_;
  std::condition_variable changed_;
  size_t next_claim_ = 0;  // the first position nobody builds yet
  size_t taken_ = 0;       // the consumer's next position
  // Built ahead, at position % kAhead, until taken (built_ says which).
  std::vector<std::optional<BuiltFacts>> ring_;
  std::vector<bool> built_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

class JiritsuProjector final : public Projector {
 public:
  explicit JiritsuProjector(const ProjectorOptions& options) : options_(options) {}

  std::vector<std::string> ColumnFamilies() const override { return JiritsuColumnFamilies(); }

  Status Open(StateStore* store) override {
    store_ = store;
    // An unlogged store is a rebuild's: nobody reads it until it is synced,
    // so events that extend a state are folded on arrival and their journal
    // rows written as they come (see FoldsAtOnce).
    fold_at_once_ = store->unlogged();
    if (fold_at_once_) JIRITSU_RETURN_IF_ERROR(journal_.SpillTo(store, kUnloggedWriteChunkBytes));
    JIRITSU_RETURN_IF_ERROR(reference_.Load(*store));
    aggregates_ = std::make_unique<GlobalAggregates>(store, options_.cache_max_rows,
                                                     options_.aggregates_cache_max_bytes);
    // A rebuild's new store: facts and KPI rows never written are not read.
    JIRITSU_RETURN_IF_ERROR(aggregates_->Load(/*skip_reads_of_unwritten_keys=*/fold_at_once_));
    auto it = store->NewIterator(kEmployeeFamily);
    const std::string prefix = EmployeeHeaderKey("");
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      auto header = DecodeEmployeeHeader(it->value());
      if (!header) return Corruption("employee header of " + std::string(it->key()));
      IndexEntry& index = index_[std::string(it->key().substr(prefix.size()))];
      index.last_time_us = header->first;
      index.partition = header->second;
      index.known_at_start = true;
    }
    JIRITSU_RETURN_IF_ERROR(it->status());
    // Facts a previous run held back: due now (their state is committed).
    const int64_t now = NowMs();
    const std::string waiting_prefix = FactsWaitingKey("");
    auto waiting = store->NewIterator(kEmployeeFamily);
    for (waiting->Seek(waiting_prefix);
         waiting->Valid() && waiting->key().starts_with(waiting_prefix); waiting->Next()) {
      std::string employee(waiting->key().substr(waiting_prefix.size()));
      waiting_by_due_.emplace(now, employee);
      waiting_bytes_ += kWaitingFactsEntryBytes + 2 * employee.size();
      waiting_.emplace(std::move(employee), WaitingFacts{now, now});
    }
    JIRITSU_RETURN_IF_ERROR(waiting->status());
    return WarmCache();
  }

  Status ApplyReference(const Event& event, const SourcePosition& position) override {
    if (FamilyOf(event.type) != Family::kReference) {
      return InvalidArgument("ApplyReference: not a reference event: " +
                             std::string(EventTypeName(event.type)));
    }
    if (!reference_.Add(event, position)) return Status::Ok();  // duplicate
    if (event.type == EventType::kProgramDefined) {
      // Folds at or after this time used an older programme version.
      for (const auto& [employee, entry] : index_) {
        if (entry.last_time_us >= event.time_us) refold_queue_.insert(employee);
      }
    }
    return Status::Ok();
  }

  Status ApplyEmployeeEvent(const Event& event, const SourcePosition& position) override {
    if (!IsEmployeeScoped(event.type) || event.subject.empty()) {
      return InvalidArgument("ApplyEmployeeEvent: not an employee event with a subject: " +
                             std::string(EventTypeName(event.type)));
    }
    JIRITSU_ASSIGN_OR_RETURN(CacheEntry * entry, Lookup(event.subject));
    entry->partition = position.partition;
    // Built in a reused buffer: the fold copies it into the state's own.
    std::string& sort_key = sort_key_;
    EventSortKeyInto(event, &sort_key);
    const uint64_t hash = EventIdentityHash(event.source, event.id);
    auto& hashes = entry->state.identity_hashes;
    // One search finds both whether the hash is known and where it goes.
    auto hash_at = std::lower_bound(hashes.begin(), hashes.end(), hash);
    if (hash_at != hashes.end() && *hash_at == hash) {
      bool handled = false;
      JIRITSU_RETURN_IF_ERROR(ResolveDuplicate(event.subject, entry, sort_key, event, position,
                                               &handled));
      if (handled) {
        Recharge(event.subject, entry);
        return Status::Ok();
      }
      // A 64-bit hash collision with a different event: a new event after
      // all. (The search again: resolving may have changed the hashes.)
      hash_at = std::lower_bound(hashes.begin(), hashes.end(), hash);
    }
    // Folded at the next checkpoint, with the employee's other pending
    // events in journal order: one employee's state is touched once per
    // checkpoint (cache-friendly), and the fold order does not depend on the
    // arrival order within a checkpoint. An event that sorts before what is
    // already folded arrived late, and a void changes the meaning of an
    // earlier event: both fold the journal again. On an unlogged store an
    // event that could be folded now is (FoldsAtOnce).
    hashes.insert(hash_at, hash);
    if (FoldsAtOnce(*entry, event, sort_key)) {
      // Built in reused buffers: Put copies them, and this runs per event.
      journal_key_.assign(event.subject);
      journal_key_.push_back('\0');
      journal_key_.append(sort_key);
      EncodeJournalValueInto(event.subject, event, position, &journal_value_);
      journal_.Put(kJournalFamily, journal_key_, journal_value_);
      ApplyRecordedEvent(reference_, event, position, sort_key, hash, &entry->state);
      entry->folded_unflushed_bytes += kFoldedAtOnceEventEncodedBytes;
    } else {
      if (event.type == EventType::kLearningVoided || !SortsAfterFolded(entry->state, sort_key)) {
        entry->needs_refold = true;
      }
      const size_t event_bytes = PendingEventBytes(event, sort_key);
      entry->pending_event_bytes += event_bytes;
      pending_bytes_ += event_bytes;
      entry->pending.emplace(sort_key, PendingEvent{event, position});
    }
    MarkDirty(event.subject, entry);
    Recharge(event.subject, entry);
    if (entry->index == nullptr) entry->index = &index_[event.subject];
    IndexEntry& index = *entry->index;
    index.last_time_us = std::max(index.last_time_us, event.time_us);
    index.partition = position.partition;
    if (event.type == EventType::kEmployeeErasureRequested && options_.key_store != nullptr) {
      // Idempotent; also covers erasures that reached the log without
      // `jiritsu ingest` (another producer, or a crash before ingestion
      // deleted the key). A failure stops the run: never pretend to erase.
      JIRITSU_RETURN_IF_ERROR(options_.key_store->Erase(event.subject)
                                  .WithContext("erasure of employee " + event.subject));
    }
    return Status::Ok();
  }

  void PrefetchEmployee(std::string_view key, uint64_t key_hash, int stage) override {
    if (stage == 2) {
      cache_.PrefetchSlot(key_hash);
      return;
    }
    const CachedEmployee* node = cache_.PeekNode(key_hash);
    if (node == nullptr) return;
    if (stage == 1) {
      // The key Find compares, the state's head, and the recency links
      // Touch follows (after the state: a node spans many lines).
      PrefetchLines(node, 192);
      __builtin_prefetch(&node->newer);
      return;
    }
    if (node->key != key) return;  // another employee's hash
    const EmployeeState& state = node->value.state;
    // What ApplyEmployeeEvent reads next: the identity hashes it searches
    // (their middle first: a binary search), the last sort key, the
    // neighbours Touch relinks and the index entry.
    const std::vector<uint64_t>& hashes = state.identity_hashes;
    if (!hashes.empty()) {
      __builtin_prefetch(hashes.data() + hashes.size() / 2);
      __builtin_prefetch(hashes.data() + hashes.size() / 4);
      __builtin_prefetch(hashes.data() + 3 * hashes.size() / 4);
    }
    __builtin_prefetch(state.last_sort_key.data());
    if (!state.activities.empty()) __builtin_prefetch(&state.activities.back());
    if (node->newer != nullptr) __builtin_prefetch(node->newer, 1);
    if (node->older != nullptr) __builtin_prefetch(node->older, 1);
    if (node->value.index != nullptr) __builtin_prefetch(node->value.index, 1);
  }

  // A rebuild's facts: applied as they are built (see FactsApplier).
  bool ApplyPublishedFactsItself() override {
    applies_published_facts_ = fold_at_once_;
    return applies_published_facts_;
  }

  Status ApplyFacts(const LogRecord& record) override {
    if (!aggregates_) return FailedPrecondition("ApplyFacts before Open");
    auto published = published_.find(record.key);
    if (published == published_.end() || published->second.bytes != record.value) {
      return aggregates_->ApplyFacts(record.key, record.value);
    }
    // The record this projector built and published: the same bytes, so the
    // decoded facts it still holds are what DecodeFacts would return.
    EmployeeFacts facts = std::move(published->second.facts);
    published_bytes_ -= published->second.charged_bytes;
    published_.erase(published);
    const int64_t started_us = NowUs();
    Status applied = aggregates_->ApplyDecodedFacts(record.key, record.value, std::move(facts));
    facts_work_us_ += NowUs() - started_us;
    return applied;
  }

  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    if (!aggregates_) return FailedPrecondition("Checkpoint before Open");
    ForgetPublishedFacts();  // not read back by now: decoded if they come
    JIRITSU_RETURN_IF_ERROR(WriteFoldedJournal());  // re-folds below read the journal
    ++generation_;
    for (const auto& [key, value] : reference_.TakePendingRows()) {
      batch->Put(kReferenceFamily, key, value);
    }
    const std::set<std::string> queue = std::exchange(refold_queue_, {});
    for (const std::string& employee : queue) {
      JIRITSU_ASSIGN_OR_RETURN(CacheEntry * entry, Lookup(employee));
      entry->needs_refold = true;
      MarkDirty(employee, entry);
    }
    ++checkpoints_;
    // Facts of earlier checkpoints now durable: their rows go, unless the
    // employee waits again or has facts still unconfirmed (a later Put of
    // the row in this batch wins over this Delete).
    for (const std::string& employee : std::exchange(confirmed_, {})) {
      if (!waiting_.count(employee) && !unconfirmed_.count(employee)) {
        batch->Delete(kEmployeeFamily, FactsWaitingKey(employee));
      }
    }
    const std::set<std::string> dirty = std::exchange(dirty_, {});
    const FactsPlan plan = PlanFacts(dirty);
    // Dirty employees and held-back facts published now, in employee order
    // (or, grouped by org unit, the dirty ones first).
    const std::vector<std::string>& waiting = plan.waiting_to_publish;
    auto next_waiting = waiting.begin();
    // Asked for everything held back: as many as fit the batch bound now.
    bool held_back_left = false;
    auto bound_reached = [&] {
      // A rebuild's batch spills as it grows, and its facts go to this
      // checkpoint's aggregates: what the bound holds there is the facts
      // themselves. (The batch's unspilled bytes also shrink at a spill, so
      // the runtime's second call could publish again: it must not.)
      const size_t checkpoint_bytes =
          fold_at_once_ ? checkpoint_facts_bytes_ : batch->ApproximateBytes();
      return publish_all_facts_ && checkpoint_bytes >= options_.held_back_publish_batch_bytes;
    };
    // A rebuild publishing everything held back: the facts of employees not
    // cached are built on a helper thread meanwhile.
    std::unique_ptr<HeldBackFactsBuilder> prebuilt;
    if (fold_at_once_ && plan.everyone) {
      std::vector<std::string> uncached;
      for (const std::string& employee : waiting) {
        if (cache_.Find(employee) == nullptr) uncached.push_back(employee);
      }
      if (!uncached.empty()) {
        prebuilt = std::make_unique<HeldBackFactsBuilder>(store_, &reference_, &options_,
                                                          std::move(uncached));
      }
    }
    // Publishing everything: the facts go to the aggregates on a second
    // thread meanwhile (joined before the flush below, or on any return).
    std::unique_ptr<FactsApplier> applier;
    if (applies_published_facts_ && plan.everyone) {
      applier = std::make_unique<FactsApplier>(aggregates_.get());
    }
    struct ApplierInUse {
      FactsApplier** slot;
      ~ApplierInUse() { *slot = nullptr; }
    } applier_in_use{&applier_};
    applier_ = applier.get();
    auto publish_waiting = [&](const std::string& employee) {
      if (bound_reached()) {
        held_back_left = true;
        return Status::Ok();
      }
      return PublishWaitingFacts(employee, batch, facts_out, prebuilt.get());
    };
    for (auto employee = dirty.begin(); employee != dirty.end(); ++employee) {
      for (;
           !plan.grouped_by_org_unit && next_waiting != waiting.end() && *next_waiting < *employee;
           ++next_waiting) {
        JIRITSU_RETURN_IF_ERROR(publish_waiting(*next_waiting));
      }
      CachedEmployee* cached = cache_.Find(*employee);
      if (cached == nullptr) continue;  // revoked meanwhile
      bool publish = plan.everyone || plan.dirty_to_publish.count(*employee) > 0;
      // A rebuild's last checkpoint has every employee of its final stretch
      // dirty: past the bound they wait for the next one, as held-back ones do.
      if (publish && fold_at_once_ && bound_reached()) {
        publish = false;
        held_back_left = true;
      }
      Status s = FlushEmployee(*employee, &cached->value, batch, facts_out, publish);
      if (!s.ok()) {
        dirty_.insert(employee, dirty.end());  // still dirty; the runtime will stop
        return s;
      }
    }
    for (; next_waiting != waiting.end(); ++next_waiting) {
      JIRITSU_RETURN_IF_ERROR(publish_waiting(*next_waiting));
    }
    prebuilt.reset();  // what it built past the bound is built again next time
    publish_all_facts_ = held_back_left;
    if (fold_at_once_) WriteBackColdStates(batch);
    if (applier) {
      applier_ = nullptr;
      const Status applied = applier->Finish();
      applier.reset();
      JIRITSU_RETURN_IF_ERROR(applied);
    }
    // Writing the KPI rows that facts read back changed is facts work too.
    const int64_t flush_started_us = NowUs();
    Status flushed = aggregates_->Flush(batch);
    facts_work_us_ += NowUs() - flush_started_us;
    return flushed;
  }

  void PublishDeferredFactsAtNextCheckpoint() override { publish_all_facts_ = true; }
  size_t FactsHeldBack() const override { return waiting_.size(); }
  // Publishing held-back facts folds no new event: it writes states, facts,
  // KPI rows and the org index, not journal rows (a re-fold queued earlier
  // may still rewrite an employee's rejections: compacted again then).
  std::vector<std::string> FamiliesCompleteBeforeHeldBackFacts() const override {
    return {std::string(kJournalFamily), std::string(kRejectionsFamily)};
  }

  uint64_t TakeRefolds() override { return std::exchange(refolds_, 0); }

  void SetCheckpointCadence(int64_t every_ms) override { checkpoint_cadence_ms_ = every_ms; }

  FactsDeferral TakeFactsDeferral() override {
    return FactsDeferral{waiting_.size(), std::exchange(published_after_ms_, {}),
                         static_cast<uint64_t>(std::llround(facts_cost_us_))};
  }

  bool RecordsUnconfirmedFacts() const override { return true; }
  void SetFactsConfirmedLater(bool later) override { facts_confirmed_later_ = later; }
  void OnFactsDurable(uint64_t checkpoints) override {
    for (auto it = unconfirmed_.begin(); it != unconfirmed_.end();) {
      if (it->second <= checkpoints) {
        confirmed_.push_back(it->first);
        it = unconfirmed_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void OnCheckpointCommitted() override {
    committed_generation_ = generation_;
    waiting_considered_ = false;
    checkpoint_facts_bytes_ = 0;
    // Everything flushed so far is in the store: get back under the limits.
    EvictIfNeeded(std::numeric_limits<size_t>::max(), /*room_for_one=*/false);
    if (aggregates_) aggregates_->OnCommitted();
  }

  uint64_t AppliedFactsBytes(const FactsRecord& record) const override {
    return GlobalAggregates::EstimatedFactsBytes(record.key, record.value);
  }

  ProjectorMemory Memory() const override {
    ProjectorMemory memory;
    memory.cached_bytes = cached_bytes_ + published_bytes_ + waiting_bytes_;
    memory.cached_entries = cache_.size();
    // Dirty states stay cached until a checkpoint, but up to half the
    // cache's own share they cost nothing more than the clean entries they
    // push out: only what overflows that half, and the pending events, need
    // a checkpoint to be released. (Counting every dirty state here forced a
    // checkpoint per ~1 event per employee once the employees being folded
    // outnumbered what the share holds; allowing the whole share put a live
    // run's peak RSS over its target: docs/performance.md.)
    const size_t dirty_states = uncommitted_bytes_ - std::min(uncommitted_bytes_, pending_bytes_);
    const size_t free_dirty = options_.cache_max_bytes / 2;
    const size_t overflow = dirty_states > free_dirty ? dirty_states - free_dirty : 0;
    memory.uncommitted_bytes = pending_bytes_ + overflow;
    if (aggregates_) {
      memory.cached_bytes += aggregates_->cached_bytes();
      memory.cached_entries += aggregates_->cached_entries();
      memory.uncommitted_bytes += aggregates_->dirty_bytes();
    }
    return memory;
  }

  void OnPartitionsRevoked(const std::vector<int32_t>& partitions) override {
    // Live runs only: a rebuild reads without a consumer group, so no state
    // it has not written yet (state_unwritten) is ever dropped here.
    const std::unordered_set<int32_t> revoked(partitions.begin(), partitions.end());
    ForgetLastLookup();
    for (CachedEmployee* node = cache_.LeastRecent(); node != nullptr;) {
      CachedEmployee* newer = node->newer;
      const CacheEntry& entry = node->value;
      if (revoked.count(entry.partition)) {
        dirty_.erase(node->key);
        cached_bytes_ -= entry.charged_bytes;
        if (entry.dirty) uncommitted_bytes_ -= entry.charged_bytes;
        pending_bytes_ -= entry.pending_event_bytes;
        cache_.Erase(node);
      }
      node = newer;
    }
    // The runtime publishes held-back facts before a revocation; any left
    // are another member's now (their rows stay until this store publishes
    // them after a restart: facts are absolute, so that is harmless).
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      auto index = index_.find(it->first);
      if (index != index_.end() && revoked.count(index->second.partition)) {
        waiting_by_due_.erase({it->second.due_ms, it->first});
        waiting_bytes_ -= kWaitingFactsEntryBytes + 2 * it->first.size();
        it = waiting_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Close() override {
    ForgetPublishedFacts();
    unconfirmed_.clear();
    confirmed_.clear();
    waiting_.clear();
    waiting_by_due_.clear();
    waiting_bytes_ = 0;
    published_after_ms_.clear();
    ForgetLastLookup();
    cache_.Clear();
    dirty_.clear();
    refold_queue_.clear();
    journal_.Clear();
    cached_bytes_ = 0;
    uncommitted_bytes_ = 0;
    pending_bytes_ = 0;
    aggregates_.reset();
    store_ = nullptr;
  }

 private:
  // On an unlogged store, an event that sorts after everything the state
  // holds, with nothing pending and no re-fold due, is folded on arrival:
  // the same fold, in the same order, as at the next checkpoint, without
  // keeping the event until then (a rebuild's checkpoints then come from
  // the states alone, not from every ~150 MB of events). Voids, late
  // arrivals and duplicates take the pending path as in live runs.
  bool FoldsAtOnce(const CacheEntry& entry, const Event& event, const std::string& sort_key) const {
    return fold_at_once_ && !entry.needs_refold && entry.pending.empty() &&
           event.type != EventType::kLearningVoided && SortsAfterFolded(entry.state, sort_key);
  }

  // The journal rows of events folded on arrival, into the store before
  // anything reads the journal.
  Status WriteFoldedJournal() {
    if (!fold_at_once_) return Status::Ok();
    Status written = store_->Write(&journal_);
    journal_.Clear();
    return written.WithContext("journal rows of events folded on arrival");
  }

  void MarkDirty(const std::string& employee, CacheEntry* entry) {
    if (entry->dirty) return;
    entry->dirty = true;
    uncommitted_bytes_ += entry->charged_bytes;
    dirty_.insert(employee);
  }

  void MarkClean(CacheEntry* entry) {
    if (!entry->dirty) return;
    entry->dirty = false;
    uncommitted_bytes_ -= entry->charged_bytes;
  }

  // Re-estimates the entry's bytes after it changed.
  void Recharge(const std::string& employee, CacheEntry* entry) {
    const size_t key_sets = entry->deleted.size() + entry->committed_rejections.size();
    const size_t bytes = kEntryOverheadBytes + 2 * employee.size() +
                         kStateBytesPerEncodedByteTimes4 *
                             (entry->encoded_state_bytes + entry->folded_unflushed_bytes) / 4 +
                         entry->pending_event_bytes +
                         key_sets * (kKeySetNodeBytes + employee.size() + 48);
    cached_bytes_ = cached_bytes_ - entry->charged_bytes + bytes;
    if (entry->dirty) uncommitted_bytes_ = uncommitted_bytes_ - entry->charged_bytes + bytes;
    entry->charged_bytes = bytes;
  }

  // The cached entry of `employee`, loading the committed state on a miss.
  Result<CacheEntry*> Lookup(const std::string& employee) {
    // A grouped batch brings an employee's events one after another: the
    // hash lookup walked cold buckets and nodes (docs/performance.md,
    // thirty-second pass).
    if (last_lookup_ != nullptr && last_lookup_->key == employee) {
      cache_.Touch(last_lookup_);  // a no-op when nothing was used since
      return &last_lookup_->value;
    }
    CachedEmployee* node = cache_.Find(employee);
    if (node == nullptr) {
      EvictIfNeeded(64, /*room_for_one=*/true);
      JIRITSU_ASSIGN_OR_RETURN(node, LoadEntry(employee, /*journal=*/nullptr));
    } else {
      cache_.Touch(node);
    }
    last_lookup_ = node;
    return &node->value;
  }

  // Before an entry leaves cache_ (Lookup's memo would point at it).
  void ForgetLastLookup() { last_lookup_ = nullptr; }

  // Reads `employee`'s committed state (and in a live run the journal tail
  // after it, through `journal`, or a new iterator when that is null: a
  // rebuild's misses, most of them new employees, need none) into a new,
  // clean, most recently used cache entry.
  // With `only_current_format`, a state stored in an older format is left
  // alone (nullptr): loading it would mark it for a re-fold.
  Result<CachedEmployee*> LoadEntry(const std::string& employee, StateIterator* journal,
                                    bool only_current_format = false) {
    CacheEntry entry;
    std::string& bytes = loaded_state_;
    bytes.clear();
    Status s = store_->Get(kEmployeeFamily, EmployeeStateKey(employee), &bytes);
    if (s.ok()) {
      const bool current_format =
          bytes.empty() || static_cast<uint8_t>(bytes[0]) == kEmployeeStateFormat;
      if (!current_format && only_current_format) return nullptr;
      if (!current_format) {
        // Older state format: rebuild from the journal.
        entry.needs_refold = true;
        entry.state.employee_id = employee;
        JIRITSU_RETURN_IF_ERROR(ScanRejectionKeys(employee, &entry.committed_rejections));
      } else {
        auto state = DecodeEmployeeState(bytes);
        if (!state.ok()) return state.status().WithContext("employee " + employee);
        entry.state = std::move(state).value();
        entry.snapshot_stored = true;
        // A live run may have committed events after the snapshot (a
        // rebuild's store has none).
        if (!fold_at_once_) {
          std::unique_ptr<StateIterator> own_journal;
          if (journal == nullptr) {
            own_journal = store_->NewIterator(kJournalFamily);
            journal = own_journal.get();
          }
          JIRITSU_ASSIGN_OR_RETURN(const size_t tail,
                                   FoldJournalTail(journal, reference_, employee, &entry.state));
          entry.folded_unflushed_bytes = tail * kFoldedEventEncodedBytes;
        }
        for (const Rejection& r : entry.state.rejections) {
          entry.committed_rejections.insert(RejectionKey(employee, r.event));
        }
        entry.stored_rejections = entry.state.rejections.size();
      }
    } else if (s.code() == StatusCode::kNotFound) {
      entry.state.employee_id = employee;
    } else {
      return s;
    }
    auto index = index_.find(employee);
    if (index != index_.end()) entry.partition = index->second.partition;
    entry.encoded_state_bytes = bytes.size();
    CachedEmployee* inserted = cache_.Insert(employee);
    inserted->value = std::move(entry);
    Recharge(employee, &inserted->value);
    if (inserted->value.needs_refold) MarkDirty(employee, &inserted->value);
    return inserted;
  }

  // A live run's start: fills up to ProjectorOptions::warm_cache_percent of
  // the cache's limits with the employees whose last events are the latest,
  // in chunks read in key order through one journal iterator. Without it the
  // first event of each employee after a start paid a random read, a new
  // journal iterator and its seek: the first seconds of a restarted run were
  // its slowest (docs/performance.md, "A warm start"). What is cached never
  // changes a view; a rebuild's empty store has nothing to warm.
  Status WarmCache() {
    if (fold_at_once_ || options_.warm_cache_percent <= 0 || index_.empty()) return Status::Ok();
    const size_t percent = static_cast<size_t>(std::min(options_.warm_cache_percent, 100));
    // percent of `limit`, without overflow for any limit
    const auto share = [percent](size_t limit) {
      return limit / 100 * percent + limit % 100 * percent / 100;
    };
    JIRITSU_RETURN_IF_ERROR(aggregates_->Warm(share(options_.aggregates_cache_max_bytes),
                                              share(options_.cache_max_rows)));
    const size_t max_entries = share(options_.cache_max_employees);
    const size_t max_bytes = share(options_.cache_max_bytes);
    std::vector<std::pair<int64_t, const std::string*>> latest;
    latest.reserve(index_.size());
    for (const auto& [employee, index] : index_) latest.emplace_back(index.last_time_us, &employee);
    // Ties by id, so what is warmed does not depend on the hash map's order.
    auto later = [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : *a.second < *b.second;
    };
    if (latest.size() > max_entries) {
      std::nth_element(latest.begin(), latest.begin() + static_cast<std::ptrdiff_t>(max_entries),
                       latest.end(), later);
      latest.resize(max_entries);
    }
    std::sort(latest.begin(), latest.end(), later);
    constexpr size_t kChunk = 4096;
    auto journal = store_->NewIterator(kJournalFamily);
    for (size_t begin = 0; begin < latest.size() && cached_bytes_ < max_bytes; begin += kChunk) {
      const auto first = latest.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto end = latest.begin() +
                       static_cast<std::ptrdiff_t>(std::min(latest.size(), begin + kChunk));
      std::sort(first, end, [](const auto& a, const auto& b) { return *a.second < *b.second; });
      for (auto it = first; it != end && cached_bytes_ < max_bytes; ++it) {
        if (cache_.Find(*it->second) != nullptr) continue;
        JIRITSU_RETURN_IF_ERROR(
            LoadEntry(*it->second, journal.get(), /*only_current_format=*/true).status());
      }
    }
    return Status::Ok();
  }

  Status ScanRejectionKeys(const std::string& employee, std::set<std::string>* keys) const {
    const std::string prefix = employee + '\0';
    auto it = store_->NewIterator(kRejectionsFamily);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      keys->emplace(it->key());
    }
    return it->status();
  }

  bool OverLimits(bool room_for_one) const {
    return cache_.size() + (room_for_one ? 1 : 0) > options_.cache_max_employees ||
           cached_bytes_ > options_.cache_max_bytes;
  }

  // Walks at most `max_steps` entries from the least recently used end while
  // over a limit. Dirty entries stay, and so do those flushed into a batch
  // not known to be written yet (a reload would read the older state): the
  // runtime writes each checkpoint's batch before the next checkpoint, and
  // says so earlier through OnCheckpointCommitted().
  void EvictIfNeeded(size_t max_steps, bool room_for_one) {
    for (CachedEmployee* node = cache_.LeastRecent();
         node != nullptr && OverLimits(room_for_one) && max_steps-- > 0;) {
      CachedEmployee* newer = node->newer;
      const CacheEntry& candidate = node->value;
      if (!candidate.dirty && !candidate.state_unwritten &&
          (candidate.flushed_generation < generation_ ||
           candidate.flushed_generation <= committed_generation_)) {
        cached_bytes_ -= candidate.charged_bytes;
        if (node == last_lookup_) ForgetLastLookup();
        cache_.Erase(node);
      }
      node = newer;
    }
  }

  // Handles an event whose identity hash is known. Sets *handled unless the
  // journal holds no event with this (source, id) (hash collision).
  Status ResolveDuplicate(const std::string& employee, CacheEntry* entry,
                          const std::string& sort_key, const Event& event,
                          const SourcePosition& position, bool* handled) {
    *handled = false;
    for (auto& [key, pending] : entry->pending) {
      if (!SortKeyHasIdentity(key, event.source, event.id)) continue;
      *handled = true;
      if (!CopyWins(sort_key, event, position, key, pending.event, pending.position)) {
        return Status::Ok();
      }
      entry->pending.erase(key);
      entry->pending.emplace(sort_key, PendingEvent{event, position});
      entry->needs_refold = true;
      MarkDirty(employee, entry);
      return Status::Ok();
    }
    JIRITSU_RETURN_IF_ERROR(WriteFoldedJournal());
    const std::string prefix = employee + '\0';
    auto it = store_->NewIterator(kJournalFamily);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string key(it->key().substr(prefix.size()));
      if (entry->deleted.count(key) || !SortKeyHasIdentity(key, event.source, event.id)) continue;
      auto stored = DecodeJournalRow(employee, key, it->value());
      if (!stored.ok()) return stored.status().WithContext("journal of " + employee);
      *handled = true;
      if (!CopyWins(sort_key, event, position, key, stored->event, stored->position)) {
        return Status::Ok();
      }
      entry->deleted.insert(key);
      entry->pending.emplace(sort_key, PendingEvent{event, position});
      entry->needs_refold = true;
      MarkDirty(employee, entry);
      return Status::Ok();
    }
    return it->status();
  }

  // Rebuilds the state from the committed journal plus pending events.
  Status Refold(const std::string& employee, CacheEntry* entry) {
    ++refolds_;
    std::map<std::string, StoredEvent> committed;
    const std::string prefix = employee + '\0';
    auto it = store_->NewIterator(kJournalFamily);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string key(it->key().substr(prefix.size()));
      if (entry->deleted.count(key) || entry->pending.count(key)) continue;
      auto stored = DecodeJournalRow(employee, key, it->value());
      if (!stored.ok()) return stored.status().WithContext("journal of " + employee);
      committed.emplace(std::move(key), std::move(stored).value());
    }
    JIRITSU_RETURN_IF_ERROR(it->status());
    std::map<std::string_view, std::pair<const Event*, const SourcePosition*>> merged;
    for (const auto& [key, stored] : committed) merged[key] = {&stored.event, &stored.position};
    for (const auto& [key, pending] : entry->pending) merged[key] = {&pending.event, &pending.position};
    EmployeeState state;
    state.employee_id = employee;
    // Voids first, so a voided event is a no-op wherever it sorts.
    for (const auto& [key, event] : merged) {
      if (event.first->type != EventType::kLearningVoided) continue;
      const auto& data = event.first->As<LearningVoided>();
      MarkVoided(&state, EventIdentityHash(data.voided_source, data.voided_id));
    }
    for (const auto& [key, event] : merged) ApplyEvent(reference_, *event.first, *event.second, &state);
    entry->state = std::move(state);
    entry->needs_refold = false;
    return Status::Ok();
  }

  // Puts the employee's state (a snapshot) into `batch`; returns its bytes.
  // The entry is not evicted before the batch is written (a reload would
  // read the older state). The caller recharges it.
  std::string WriteState(const std::string& employee, CacheEntry* entry, StateBatch* batch) {
    std::string state_bytes = EncodeEmployeeState(entry->state);
    batch->Put(kEmployeeFamily, EmployeeStateKey(employee), state_bytes);
    entry->snapshot_stored = true;
    entry->state_unwritten = false;
    entry->encoded_state_bytes = state_bytes.size();
    entry->folded_unflushed_bytes = 0;
    entry->flushed_generation = generation_;
    return state_bytes;
  }

  // A rebuild's write-back: the states not yet written of the least recently
  // used entries, until evicting the entries up to there would bring the
  // cache within its limits (OnCheckpointCommitted evicts them). At the end
  // of a wave these are its employees, each written once.
  void WriteBackColdStates(StateBatch* batch) {
    size_t entries_left = cache_.size();
    size_t bytes_left = cached_bytes_;
    for (CachedEmployee* node = cache_.LeastRecent();
         node != nullptr &&
         (entries_left > options_.cache_max_employees || bytes_left > options_.cache_max_bytes);
         node = node->newer) {
      CacheEntry& entry = node->value;
      if (entry.dirty) continue;  // re-folded at the next checkpoint: not evictable
      if (entry.state_unwritten) {
        WriteState(node->key, &entry, batch);
        Recharge(node->key, &entry);
      }
      --entries_left;
      bytes_left -= std::min(bytes_left, entry.charged_bytes);
    }
  }

  // Flushes a dirty employee; its facts are published (`publish_facts`) or
  // held back for a later checkpoint.
  Status FlushEmployee(const std::string& employee, CacheEntry* entry, StateBatch* batch,
                       const FactsSink& facts_out, bool publish_facts) {
    const bool refolded = entry->needs_refold;
    if (refolded) {
      JIRITSU_RETURN_IF_ERROR(Refold(employee, entry));
    } else {
      for (const auto& [key, pending] : entry->pending) {
        ApplyEvent(reference_, pending.event, pending.position, key, &entry->state);
      }
    }
    for (const auto& [key, pending] : entry->pending) {
      batch->Put(kJournalFamily, employee + '\0' + key,
                 EncodeJournalValue(employee, pending.event, pending.position));
    }
    for (const auto& key : entry->deleted) {
      if (!entry->pending.count(key)) batch->Delete(kJournalFamily, employee + '\0' + key);
    }
    const EmployeeState& state = entry->state;
    // The state is written with the facts (journal_tail.h): between two of
    // its snapshots the journal rows above carry the change. Encoding the
    // whole state at every checkpoint was the largest cost of a live run
    // after the facts. A re-fold (the journal changed before the snapshot's
    // last event) and an employee's first flush always write it. A rebuild
    // writes it once its facts are published, or earlier if the entry is to
    // be evicted (state_unwritten): every checkpoint of its reading wrote
    // each state being folded again, ~3.1 times per employee at 100 000 x 36.
    const bool snapshot =
        fold_at_once_ ? publish_facts
                      : publish_facts || refolded || !entry->snapshot_stored || !DefersFacts();
    std::string state_bytes;
    if (snapshot) {
      state_bytes = WriteState(employee, entry, batch);
    } else if (fold_at_once_) {
      entry->state_unwritten = true;
    } else {
      entry->folded_unflushed_bytes += entry->pending.size() * kFoldedEventEncodedBytes;
    }
    batch->Put(kEmployeeFamily, EmployeeHeaderKey(employee),
               EncodeEmployeeHeader(state.last_time_us, entry->partition));
    if (refolded || entry->stored_rejections > state.rejections.size()) {
      // A re-fold may drop, reorder or re-reason rejections: rewrite them all.
      std::set<std::string> new_rejections;
      for (const Rejection& rejection : state.rejections) {
        std::string key = RejectionKey(employee, rejection.event);
        batch->Put(kRejectionsFamily, key, EncodeRejection(rejection));
        new_rejections.insert(std::move(key));
      }
      for (const auto& key : entry->committed_rejections) {
        if (!new_rejections.count(key)) batch->Delete(kRejectionsFamily, key);
      }
      entry->committed_rejections = std::move(new_rejections);
    } else {
      // Rewriting every rejection at every flush made a live run's batches
      // grow with each employee's history of rejected events.
      for (size_t i = entry->stored_rejections; i < state.rejections.size(); ++i) {
        std::string key = RejectionKey(employee, state.rejections[i].event);
        batch->Put(kRejectionsFamily, key, EncodeRejection(state.rejections[i]));
        entry->committed_rejections.insert(std::move(key));
      }
    }
    entry->stored_rejections = state.rejections.size();
    IndexEntry& index = index_[employee];
    if (publish_facts) {
      JIRITSU_RETURN_IF_ERROR(
          PublishFacts(employee, state, Blake2b256(state_bytes), &index, batch, facts_out));
    } else {
      HoldFacts(employee, index, state, batch);
    }
    index.last_time_us = state.last_time_us;
    index.partition = entry->partition;
    entry->pending.clear();
    entry->deleted.clear();
    MarkClean(entry);
    entry->flushed_generation = generation_;
    pending_bytes_ -= entry->pending_event_bytes;
    entry->pending_event_bytes = 0;
    Recharge(employee, entry);
    return Status::Ok();
  }

  // Builds and publishes the employee's facts from `state`, whose stored
  // bytes hash to `views_hash`; they no longer wait.
  Status PublishFacts(const std::string& employee, const EmployeeState& state,
                      std::string views_hash, IndexEntry* index, StateBatch* batch,
                      const FactsSink& facts_out) {
    const int64_t started_us = NowUs();
    return PublishBuiltFacts(employee,
                             BuildEncodedFacts(state, reference_, options_, std::move(views_hash)),
                             index, batch, facts_out, started_us);
  }
  // The same with the facts already built; the facts work counted from
  // `started_us` (UpdateFactsCost).
  Status PublishBuiltFacts(const std::string& employee, BuiltFacts built, IndexEntry* index,
                           StateBatch* batch, const FactsSink& facts_out, int64_t started_us) {
    ++facts_published_;
    Status published = PublishBuiltFactsUntimed(employee, std::move(built.facts),
                                                std::move(built.bytes), index, batch, facts_out);
    facts_work_us_ += NowUs() - started_us;
    return published;
  }
  Status PublishBuiltFactsUntimed(const std::string& employee, EmployeeFacts facts,
                                  std::string facts_bytes, IndexEntry* index, StateBatch* batch,
                                  const FactsSink& facts_out) {
    checkpoint_facts_bytes_ += facts_bytes.size();
    if (applies_published_facts_) {
      // The runtime does not hand these back (ApplyPublishedFactsItself).
      JIRITSU_RETURN_IF_ERROR(
          applier_ != nullptr
              ? applier_->Apply(employee, facts_bytes, std::move(facts))
              : aggregates_->ApplyDecodedFacts(employee, facts_bytes, std::move(facts)));
    } else if (const size_t charge =
                   GlobalAggregates::EstimatedFactsBytes(employee, facts_bytes) + facts_bytes.size();
               published_bytes_ + charge <=
               options_.aggregates_cache_max_bytes / kPublishedFactsShare) {
      PublishedFacts& kept = published_[employee];
      published_bytes_ = published_bytes_ - kept.charged_bytes + charge;
      kept = {facts_bytes, std::move(facts), charge};
    }
    JIRITSU_RETURN_IF_ERROR(facts_out(FactsRecord{employee, std::move(facts_bytes)}));
    // Facts the runtime confirms later keep (or get) the employee's waiting
    // row in this batch, so a restart before they are durable publishes them
    // again; facts durable before this batch end an earlier such record.
    const bool row_stays = facts_confirmed_later_;
    if (row_stays) {
      unconfirmed_[employee] = checkpoints_;
      batch->Put(kEmployeeFamily, FactsWaitingKey(employee), "");
    } else if (unconfirmed_.erase(employee) > 0 && !waiting_.count(employee)) {
      batch->Delete(kEmployeeFamily, FactsWaitingKey(employee));
    }
    if (!DefersFacts() && waiting_.empty()) return Status::Ok();
    index->facts_published_ms = checkpoint_ms_;
    auto waiting = waiting_.find(employee);
    if (waiting == waiting_.end()) return Status::Ok();
    ++published_after_ms_[std::max<int64_t>(0, checkpoint_ms_ - waiting->second.since_ms)];
    waiting_by_due_.erase({waiting->second.due_ms, employee});
    waiting_bytes_ -= kWaitingFactsEntryBytes + 2 * employee.size();
    waiting_.erase(waiting);
    if (!row_stays) batch->Delete(kEmployeeFamily, FactsWaitingKey(employee));
    return Status::Ok();
  }

  // The employee's facts wait; the row says so across a restart. (Its views
  // hash is computed when they are published: hashing every held-back state
  // was 8% of a live run's runtime thread.)
  void HoldFacts(const std::string& employee, const IndexEntry& index, const EmployeeState& state,
                 StateBatch* batch) {
    auto [it, added] = waiting_.try_emplace(employee);
    WaitingFacts& waiting = it->second;
    if (fold_at_once_) NoteOrgUnit(state.org_unit, &waiting.org_unit);
    if (!added) return;
    waiting.since_ms = checkpoint_ms_;
    waiting.due_ms = index.facts_published_ms != kNeverPublished
                         ? index.facts_published_ms + options_.facts_interval_ms
                     : index.known_at_start ? checkpoint_ms_ + options_.facts_interval_ms
                                            : checkpoint_ms_;
    waiting_by_due_.emplace(waiting.due_ms, employee);
    waiting_bytes_ += kWaitingFactsEntryBytes + 2 * employee.size();
    batch->Put(kEmployeeFamily, FactsWaitingKey(employee), "");
  }

  // Held-back facts of an employee with nothing new: published with a
  // snapshot of its state (the cached state, or the stored one with its
  // journal tail: the same).
  // `prebuilt` (may be null): their facts if a helper built them.
  Status PublishWaitingFacts(const std::string& employee, StateBatch* batch,
                             const FactsSink& facts_out, HeldBackFactsBuilder* prebuilt) {
    if (!waiting_.count(employee)) return Status::Ok();
    if (prebuilt != nullptr) {
      if (std::optional<BuiltFacts> built = prebuilt->Take(employee)) {
        return PublishBuiltFacts(employee, std::move(*built), &index_[employee], batch, facts_out,
                                 NowUs());
      }
    }
    JIRITSU_ASSIGN_OR_RETURN(CacheEntry * entry, Lookup(employee));
    // An older state format is re-folded (and published) at the next checkpoint.
    if (entry->dirty) return Status::Ok();
    // A rebuild's stored state may be this one already (written back).
    std::string state_bytes;
    if (!fold_at_once_ || entry->state_unwritten || !entry->snapshot_stored) {
      state_bytes = WriteState(employee, entry, batch);
      Recharge(employee, entry);
    } else {
      state_bytes = EncodeEmployeeState(entry->state);
    }
    return PublishFacts(employee, entry->state, Blake2b256(state_bytes), &index_[employee], batch,
                        facts_out);
  }

  // `*id` names `org_unit` in org_unit_names_ (interned if new).
  void NoteOrgUnit(const std::string& org_unit, uint32_t* id) {
    if (*id != kNoOrgUnit && org_unit_names_[*id] == org_unit) return;
    auto [it, added] =
        org_unit_ids_.try_emplace(org_unit, static_cast<uint32_t>(org_unit_names_.size()));
    if (added) org_unit_names_.push_back(org_unit);
    *id = it->second;
  }

  struct FactsPlan {
    bool everyone = false;  // every dirty employee and every held-back one
    std::set<std::string> dirty_to_publish;
    // Not dirty; sorted by employee, or grouped by org unit (see below).
    std::vector<std::string> waiting_to_publish;
    // A rebuild publishing everything: waiting_to_publish is ordered by
    // (org unit, employee), and the dirty employees go first.
    bool grouped_by_org_unit = false;
  };

  // A rebuild's held-back employees not in `dirty`, ordered by the org unit
  // of the state they wait with, then by id. A KPI row belongs to one org
  // unit, and the row cache cannot hold every row of a large rebuild: in id
  // order a unit's members were spread over the publishing (hires and
  // transfers have ids far from its first members'), and its rows were
  // evicted and read back for each later one (docs/performance.md,
  // thirty-fourth pass).
  std::vector<std::string> WaitingGroupedByOrgUnit(const std::set<std::string>& dirty) const {
    std::vector<uint32_t> by_name(org_unit_names_.size());
    std::iota(by_name.begin(), by_name.end(), uint32_t{0});
    std::sort(by_name.begin(), by_name.end(),
              [&](uint32_t a, uint32_t b) { return org_unit_names_[a] < org_unit_names_[b]; });
    std::vector<uint32_t> rank(org_unit_names_.size());
    for (size_t i = 0; i < by_name.size(); ++i) rank[by_name[i]] = static_cast<uint32_t>(i);
    std::vector<std::pair<uint32_t, const std::string*>> keyed;
    keyed.reserve(waiting_.size());
    for (const auto& [employee, waiting] : waiting_) {
      if (dirty.count(employee)) continue;
      keyed.emplace_back(waiting.org_unit == kNoOrgUnit ? kNoOrgUnit : rank[waiting.org_unit],
                         &employee);
    }
    std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : *a.second < *b.second;
    });
    std::vector<std::string> ordered;
    ordered.reserve(keyed.size());
    for (const auto& [rank_of_unit, employee] : keyed) ordered.push_back(*employee);
    return ordered;
  }

  // Which facts this checkpoint publishes. Without an interval (or when
  // asked, or rebuilding): all. Otherwise those due (an interval after the
  // employee's last publish), oldest due first, at most twice what keeps
  // the due ones paid within an interval at this checkpoint cadence, so a
  // wave of them is spread over checkpoints instead of stalling one.
  FactsPlan PlanFacts(const std::set<std::string>& dirty) {
    const int64_t previous_ms = checkpoint_ms_;
    checkpoint_ms_ = NowMs();
    UpdateFactsCost();
    FactsPlan plan;
    // A rebuild holds every employee's facts until its end, when the runtime
    // asks for them (PublishHeldBackFacts): built once, from the final
    // state, instead of at every checkpoint that touched the employee, each
    // time from the whole history (docs/performance.md, "A rebuild's facts
    // wait for its end"). Nobody reads a rebuild's views before then.
    if (fold_at_once_ && !publish_all_facts_) return plan;
    if (!DefersFacts() || publish_all_facts_) {
      plan.everyone = true;
      if (fold_at_once_) {
        plan.waiting_to_publish = WaitingGroupedByOrgUnit(dirty);
        plan.grouped_by_org_unit = true;
        return plan;
      }
      for (const auto& [employee, waiting] : waiting_) {
        if (!dirty.count(employee)) plan.waiting_to_publish.push_back(employee);
      }
      std::sort(plan.waiting_to_publish.begin(), plan.waiting_to_publish.end());
      return plan;
    }
    const double elapsed_ms =
        previous_ms == kNeverPublished ? 0.0 : static_cast<double>(checkpoint_ms_ - previous_ms);
    const size_t budget = FactsWithinBudget();
    // Held-back facts due now, oldest first: at most `budget` of them can go
    // out, and the spread limit below reaches the budget once this many are
    // due, so the walk stops there. Walking every waiting employee at every
    // checkpoint was 16% of an overloaded runtime thread (all of them due,
    // docs/performance.md, "A warm start").
    size_t count_up_to = std::numeric_limits<size_t>::max();
    if (budget != std::numeric_limits<size_t>::max()) {
      count_up_to = 0;  // no elapsed time: the limit is the floor
      if (elapsed_ms > 0.0) {
        const double spread_reaches_budget = static_cast<double>(budget) *
                                             static_cast<double>(options_.facts_interval_ms) /
                                             (2.0 * elapsed_ms);
        count_up_to = static_cast<size_t>(std::ceil(std::min(spread_reaches_budget, 1e18)));
      }
    }
    std::vector<std::pair<int64_t, const std::string*>> due;
    size_t due_waiting = 0;
    if (!waiting_considered_) {  // once per committed checkpoint (local runs call twice)
      for (auto it = waiting_by_due_.begin(); it != waiting_by_due_.end() &&
                                              it->first <= checkpoint_ms_ &&
                                              (due_waiting < count_up_to || due.size() < budget);
           ++it) {
        ++due_waiting;
        if (due.size() < budget) due.emplace_back(it->first, &it->second);
      }
      waiting_considered_ = true;
    }
    const size_t collected_waiting = due.size();
    for (const std::string& employee : dirty) {
      if (waiting_.count(employee)) continue;
      auto index = index_.find(employee);
      const int64_t published =
          index == index_.end() ? kNeverPublished : index->second.facts_published_ms;
      // An employee new to the store is published at once. One whose facts
      // an earlier run published waits one interval from this change
      // (HoldFacts), as a later change waits one from the last publish: due
      // at once, every known employee changing in a run's first interval
      // was due in the same few checkpoints, a storm of facts after each
      // start as large as the active population.
      const bool known = index != index_.end() && index->second.known_at_start;
      if (published == kNeverPublished) {
        if (!known) due.emplace_back(kNeverPublished, &employee);
      } else if (published + options_.facts_interval_ms <= checkpoint_ms_) {
        due.emplace_back(published + options_.facts_interval_ms, &employee);
      }
    }
    // Counted only up to count_up_to: beyond it the limit is the budget.
    const size_t due_count = due_waiting + (due.size() - collected_waiting);
    size_t limit = std::max(
        kMinWaitingFactsPerCheckpoint,
        static_cast<size_t>(std::ceil(2.0 * static_cast<double>(due_count) * elapsed_ms /
                                      static_cast<double>(options_.facts_interval_ms))));
    limit = std::min(limit, budget);
    if (due.size() > limit) {
      std::nth_element(due.begin(), due.begin() + static_cast<std::ptrdiff_t>(limit), due.end(),
                       [](const auto& a, const auto& b) {
                         return std::tie(a.first, *a.second) < std::tie(b.first, *b.second);
                       });
      due.resize(limit);
    }
    for (const auto& [due_ms, employee] : due) {
      if (dirty.count(*employee)) {
        plan.dirty_to_publish.insert(*employee);
      } else {
        plan.waiting_to_publish.push_back(*employee);
      }
    }
    std::sort(plan.waiting_to_publish.begin(), plan.waiting_to_publish.end());
    return plan;
  }

  bool DefersFacts() const { return options_.facts_interval_ms > 0 && !fold_at_once_; }

  // The facts work measured since the previous plan (building, encoding and
  // publishing them, reading this process's own back into the aggregates,
  // writing the KPI rows they changed), per facts record published then,
  // folded into a moving average.
  void UpdateFactsCost() {
    const uint64_t published = facts_published_ - facts_published_at_plan_;
    facts_published_at_plan_ = facts_published_;
    if (published == 0) return;  // the work is charged to the next publish
    const double sample = static_cast<double>(facts_work_us_) / static_cast<double>(published);
    facts_work_us_ = 0;
    facts_cost_us_ = facts_cost_us_ == 0.0 ? sample : 0.7 * facts_cost_us_ + 0.3 * sample;
  }

  // How many due facts fit in ProjectorOptions::facts_budget_percent of the
  // runtime's checkpoint cadence, at the measured cost (at least one, so
  // they always drain). Of the cadence, not of the time since the previous
  // checkpoint: a checkpoint that ran long must not earn the next one more
  // facts, or an overloaded runtime publishes ever more per checkpoint.
  // Unlimited until a cost is measured, at 100%, or without a cadence.
  size_t FactsWithinBudget() const {
    if (options_.facts_budget_percent >= 100 || facts_cost_us_ <= 0.0 ||
        checkpoint_cadence_ms_ <= 0) {
      return std::numeric_limits<size_t>::max();
    }
    const double budget_us = static_cast<double>(checkpoint_cadence_ms_) * 1000.0 *
                             options_.facts_budget_percent / 100.0;
    return std::max<size_t>(1, static_cast<size_t>(budget_us / facts_cost_us_));
  }

  int64_t NowUs() const {
    if (options_.clock_ms) return options_.clock_ms() * 1000;
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  int64_t NowMs() const {
    if (options_.clock_ms) return options_.clock_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void ForgetPublishedFacts() {
    published_.clear();
    published_bytes_ = 0;
  }

  // The facts of the latest checkpoint, decoded, kept until the runtime
  // reads them back from jiritsu.facts, so ApplyFacts need not decode them
  // again (DecodeFacts was ~6% of the runtime thread at 20 000 events/s).
  // Only up to 1/kPublishedFactsShare of the aggregates' share of the budget
  // (a catch-up checkpoint can publish tens of thousands); dropped at the
  // next checkpoint. A cost knob: a record is taken from here only when its
  // bytes are the ones published, so the aggregates see the same facts.
  static constexpr size_t kPublishedFactsShare = 4;
  struct PublishedFacts {
    std::string bytes;
    EmployeeFacts facts;
    size_t charged_bytes = 0;
  };
  std::unordered_map<std::string, PublishedFacts> published_;
  size_t published_bytes_ = 0;

  // Facts held back (ProjectorOptions::facts_interval_ms), each with a
  // FactsWaitingKey row.
  static constexpr uint32_t kNoOrgUnit = std::numeric_limits<uint32_t>::max();
  struct WaitingFacts {
    int64_t due_ms = 0;    // an interval after the last publish
    int64_t since_ms = 0;  // the checkpoint that first held them back
    // A rebuild's: the org unit of the state held back, in org_unit_names_
    // (kNoOrgUnit: not known), to publish them grouped by it (PlanFacts).
    uint32_t org_unit = kNoOrgUnit;
  };
  std::unordered_map<std::string, WaitingFacts> waiting_;
  // A rebuild's org units, interned for WaitingFacts::org_unit (as many as
  // the reference data defines; not charged to the memory budget).
  std::vector<std::string> org_unit_names_;
  std::unordered_map<std::string, uint32_t> org_unit_ids_;
  std::set<std::pair<int64_t, std::string>> waiting_by_due_;
  size_t waiting_bytes_ = 0;
  std::map<int64_t, uint64_t> published_after_ms_;  // FactsDeferral
  bool publish_all_facts_ = false;  // PublishDeferredFactsAtNextCheckpoint
  // Encoded facts published since the last committed checkpoint (a local
  // run's checkpoint calls Checkpoint() twice, into one batch).
  size_t checkpoint_facts_bytes_ = 0;
  // Facts confirmed later (Projector::SetFactsConfirmedLater): employees
  // whose published facts are not yet durable, by the Checkpoint() call
  // that published them (checkpoints_ counts the calls), and those the
  // runtime has since confirmed, whose rows the next batch deletes.
  bool facts_confirmed_later_ = false;
  uint64_t checkpoints_ = 0;
  std::unordered_map<std::string, uint64_t> unconfirmed_;
  std::vector<std::string> confirmed_;
  bool waiting_considered_ = false;  // since the last committed checkpoint
  int64_t checkpoint_ms_ = kNeverPublished;  // NowMs() of the latest Checkpoint
  // The cost of a facts record (FactsWithinBudget): work since the last plan
  // (NowUs), the records published in all, and at that plan.
  int64_t facts_work_us_ = 0;
  uint64_t facts_published_ = 0;
  uint64_t facts_published_at_plan_ = 0;
  double facts_cost_us_ = 0.0;
  int64_t checkpoint_cadence_ms_ = 0;  // SetCheckpointCadence

  const ProjectorOptions options_;
  StateStore* store_ = nullptr;
  bool fold_at_once_ = false;  // store_ is unlogged (a rebuild)
  StateBatch journal_;         // rows of events folded on arrival; spills to store_
  std::string journal_key_;    // a folded event's journal row, built here (reused)
  std::string journal_value_;
  std::string sort_key_;      // ApplyEmployeeEvent's (reused)
  std::string loaded_state_;  // LoadEntry's read buffer (reused: states are KBs)
  ReferenceTable reference_;
  std::unique_ptr<GlobalAggregates> aggregates_;
  // ApplyPublishedFactsItself() said true: published facts go to aggregates_
  // here, through applier_ while a checkpoint publishes everything.
  bool applies_published_facts_ = false;
  FactsApplier* applier_ = nullptr;  // owned by that Checkpoint()
  // The cached states, least recently used first (the end evictions take).
  RecencyMap<CacheEntry> cache_;
  CachedEmployee* last_lookup_ = nullptr;  // Lookup's last (ForgetLastLookup)
  std::set<std::string> dirty_;
  std::set<std::string> refold_queue_;
  uint64_t refolds_ = 0;  // TakeRefolds
  std::unordered_map<std::string, IndexEntry> index_;
  uint64_t generation_ = 0;
  uint64_t committed_generation_ = 0;  // generation of the last written batch
  size_t cached_bytes_ = 0;            // sum of charged_bytes
  size_t uncommitted_bytes_ = 0;       // sum of charged_bytes of dirty entries
  size_t pending_bytes_ = 0;           // sum of pending_event_bytes
};

}  // namespace
}  // namespace jiritsu::processors

namespace jiritsu {

std::unique_ptr<Projector> NewJiritsuProjector(const ProjectorOptions& options) {
  return std::make_unique<processors::JiritsuProjector>(options);
}

}  // namespace jiritsu
