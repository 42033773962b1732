// GlobalAggregates: the cross-partition tables every instance maintains from
// jiritsu.facts: the latest facts per employee ("facts" family), KPI rows
// ("kpi_agg"), the org-unit membership index ("org_index") and the view
// time T.
//
// ApplyFacts() keeps, per employee, the facts record that FactsNewer() ranks
// highest; replacing a record subtracts its contribution from the KPI rows
// and adds the new one. All arithmetic is on integers, so the result is the
// same for any order of records and any number of instances.
//
// KPI rows (kpi_agg keys, values = format byte + cereal):
//   <org>\0S\0<YYYY-MM>\0<profile>  state-measure deltas of that month
//   <org>\0P\0<period>\0<profile>   event counters + lead-time histogram
//   \0view_time                     greatest employee event time (8 bytes BE)
// A row without contributors is deleted, so the stored table equals the one
// built from the final facts alone.
//
// Audit trail: a KPI row records, as last_changed_by, the greatest
// (EventRefLess) last_event among the facts that contribute to it now, with
// the number of contributors holding it. Removing the contribution that held
// the greatest ref leaves the row "stale"; Flush() recomputes stale rows from
// every employee's facts (rare: it needs a contribution that shrank or moved
// to a smaller ref), so the recorded event depends only on the final facts,
// never on how many intermediate versions a checkpoint cadence published.
// The org_index rows record the member's facts last_event.
//
// Lifecycle: Load() after the store is open; ApplyFacts() between
// checkpoints; Flush() at each checkpoint; OnCommitted() once that batch is
// written. Changes stay in memory until Flush() adds them to the batch. A
// Flush costs what changed since the previous one (the entries are listed as
// they are marked dirty), not the size of the cache.
// Reads skipped in a new store: with Load(/*skip_reads_of_unwritten_keys=*/
// true) on a store that holds no facts and no KPI rows (a rebuild's), every
// key that enters the cache is remembered as a 32-bit hash; a miss on a key
// never remembered cannot be in the store (only this instance writes those
// families), so it is not read. A hash collision only costs the read. In a
// rebuild's final burst of facts most row reads and every facts read found
// nothing (docs/performance.md). The hashes count in cached_bytes(); when
// they would pass a quarter of the byte limit, skipping stops for good.
// Decoded facts: the first record applied for an employee the cache does
// not hold is kept encoded only (its bytes, for the flush), and decoded
// again if a newer one replaces it; from then on, and for records read from
// the store, the decoded facts and their rows are kept for the next
// replacement. A rebuild applies each employee's facts once, so keeping them
// decoded cost it memory (7.5 times the bytes) until their eviction
// (docs/performance.md, thirty-third pass); a live run decodes once per
// employee more. The decoded facts of a record kept encoded are freed at
// the next Flush (see retired_facts_).
// Memory: facts and rows are cached; clean ones are dropped (facts first,
// oldest flush first) when the count or the estimated bytes exceed the
// limits, dirty ones stay until a flush (the runtime checkpoints early on
// dirty_bytes(), see core/memory_budget.h), and a row that a cached facts
// record points at stays while that record is cached.
// Thread-safety: single thread (the runtime's). Failure: store read errors
// and undecodable facts/rows are returned as Status (kCorruption, kIOError).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"
#include "processors/employee_state.h"
#include "processors/facts.h"

namespace jiritsu::processors {

inline constexpr std::string_view kFactsFamily = "facts";
inline constexpr std::string_view kKpiFamily = "kpi_agg";
inline constexpr std::string_view kOrgIndexFamily = "org_index";
inline constexpr std::string_view kViewTimeKey = std::string_view("\0view_time", 10);
// 2: + contributors and the audit trail (view version 4).
// 3: the same fields in the compact archive (view version 5); 2 still decodes.
inline constexpr uint8_t kKpiRowFormat = 3;
// org_index values: cereal portable binary of the member's last_event.
inline constexpr uint8_t kOrgIndexValueFormat = 2;

struct KpiRow {
  std::vector<int64_t> values;
  std::map<int64_t, int64_t> lead_minutes;
  int64_t contributors = 0;   // employees whose facts add to this row
  EventRef last_changed_by;   // greatest last_event among them
  int64_t holding_last = 0;   // contributors whose last_event == last_changed_by
  bool IsZero() const;
  // Contributors remain but none holds last_changed_by: recompute it.
  bool AuditStale() const { return contributors > 0 && holding_last == 0; }
  void AddContributor(const EventRef& ref);
  void RemoveContributor(const EventRef& ref);
};
std::string EncodeKpiRow(const KpiRow& row);
Result<KpiRow> DecodeKpiRow(std::string_view bytes);
std::string StateRowKey(std::string_view org, MonthIndex month, std::string_view profile);
std::string PeriodRowKey(std::string_view org, std::string_view period, std::string_view profile);
std::string OrgIndexKey(std::string_view org, std::string_view employee);
std::string EncodeViewTime(int64_t time_us);
// org_index values: the member's facts last_event.
std::string EncodeOrgIndexValue(const EventRef& last_event);
Result<EventRef> DecodeOrgIndexValue(std::string_view bytes);
std::optional<int64_t> DecodeViewTime(std::string_view bytes);

class GlobalAggregates {
 public:
  GlobalAggregates(const StateStore* store, size_t cache_max_entries,
                   size_t cache_max_bytes = SIZE_MAX);

  // `skip_reads_of_unwritten_keys`: see "Reads skipped in a new store"
  // above; taken only when the store holds no facts and no KPI rows.
  Status Load(bool skip_reads_of_unwritten_keys = false);
  // After Load(), before any ApplyFacts: reads stored KPI rows, then stored
  // facts, in key order, into the cache until either reaches `max_bytes` /
  // `max_entries` (estimated as the cache limits are), so a live run's first
  // facts after a start do not each pay a store read per row they change.
  // Only what a miss would load; fails on a store error or an undecodable
  // row or record (kCorruption), like a miss.
  Status Warm(size_t max_bytes, size_t max_entries);
  Status ApplyFacts(std::string_view employee_id, std::string_view bytes);
  // The same with `facts` = DecodeFacts(bytes), already decoded by the caller.
  Status ApplyDecodedFacts(std::string_view employee_id, std::string_view bytes,
                           EmployeeFacts facts);
  // Adds every change since the previous Flush to `batch`. Fails only when
  // the facts needed to recompute a stale audit trail cannot be read.
  Status Flush(StateBatch* batch);
  // How many Flushes had to recompute a stale audit trail (a full facts scan).
  uint64_t stale_recomputations() const { return stale_recomputations_; }
  // The batch of the latest Flush is written: evict down to the limits.
  void OnCommitted();
  // Estimated heap bytes a facts record of `employee_id` costs in the cache
  // once applied (Projector::AppliedFactsBytes).
  static size_t EstimatedFactsBytes(std::string_view employee_id, std::string_view bytes);
  // Estimated heap bytes of the cache (cost figures, never view inputs).
  // Includes the remembered keys' hashes, if any, the age records, and the
  // decoded facts waiting for the next Flush (in dirty_bytes() too).
  size_t cached_bytes() const {
    return cached_bytes_ + retired_bytes_ + written_facts_.bytes() + written_rows_.bytes() +
           (facts_by_age_.size() + rows_by_age_.size()) * kAgeRecordBytes;
  }
  size_t cached_entries() const { return facts_.size() + rows_.size(); }
  size_t dirty_bytes() const { return dirty_bytes_ + retired_bytes_; }
  // Store reads a miss skipped (Load's skip_reads_of_unwritten_keys).
  uint64_t skipped_reads() const { return skipped_reads_; }

 private:
  // A set of 32-bit key hashes: open addressing, linear probing, at most
  // half full; 0 marks an empty slot.
  class KeyHashSet {
   public:
    static uint32_t HashOf(std::string_view key);
    bool Contains(uint32_t hash) const;
    void Insert(uint32_t hash);
    size_t bytes() const { return slots_.capacity() * sizeof(uint32_t); }
    // What inserting one more hash adds to bytes() (0 unless it grows).
    size_t GrowthBytes() const;

   private:
    size_t NextSlots() const { return std::max<size_t>(1024, 2 * slots_.size()); }
    size_t SlotOf(uint32_t hash) const;
    std::vector<uint32_t> slots_;
    size_t size_ = 0;
  };
  // The remembered hashes may take at most 1/kMaxSkipShare of the byte
  // limit; past it, skipping stops and they are freed.
  static constexpr size_t kMaxSkipShare = 4;
  // Whether the store may hold `key` of its family: false only for a key
  // never remembered while `skip_unwritten_reads_`. Remembers it.
  bool MayBeStored(KeyHashSet* written, std::string_view key);

  struct CachedRow {
    std::string_view key;  // the map's own key (nodes do not move)
    KpiRow row;
    bool dirty = false;
    uint64_t generation = 0;
    size_t charged_bytes = 0;
    uint32_t pins = 0;  // cached facts whose row pointers include this row
  };
  struct CachedFacts {
    std::string_view key;  // the map's own key (nodes do not move)
    std::string bytes;
    EmployeeFacts facts;  // DecodeFacts(bytes) when `decoded`, else empty
    bool decoded = false;
    // The cached rows of facts.state_deltas / facts.period_rows, index for
    // index, once a replacement looked them up (empty before): the next
    // replacement of this employee finds its shared rows without a key
    // build and a hash lookup each. Pinned: a pinned row is not evicted.
    std::vector<CachedRow*> state_rows;
    std::vector<CachedRow*> period_rows;
    bool dirty = false;
    uint64_t generation = 0;
    size_t charged_bytes = 0;  // part of cached_bytes_
  };
  template <class Entry>
  void Recharge(Entry* entry);
  template <class Entry>
  void MarkDirty(Entry* entry);
  Result<CachedFacts*> FindFacts(const std::string& employee_id, bool* found);
  Result<CachedRow*> Row(std::string_view key, size_t width);
  // A new clean cache entry of what the store holds (a miss, Warm). The facts
  // entry is charged at once; a row is charged by its caller (Row() marks it
  // dirty, Warm() recharges it).
  CachedFacts* CacheStoredFacts(const std::string& employee_id, std::string bytes,
                                EmployeeFacts facts);
  CachedRow* CacheStoredRow(std::string_view key, KpiRow row);
  // DecodeFacts(cached.bytes), kCorruption naming the employee if they no
  // longer decode.
  static Result<EmployeeFacts> DecodeBytesOf(const CachedFacts& cached);
  // Decodes the bytes of an entry kept encoded only, and keeps them decoded.
  Status Decode(CachedFacts* cached);
  // Replaces the contribution of `cached`'s facts (none when it has no
  // bytes; decoded otherwise) with that of `after`, and points its row
  // pointers at after's rows (or at none, unless `keep_row_pointers`).
  Status Replace(CachedFacts* cached, const EmployeeFacts& after, bool keep_row_pointers);
  // `before_rows`: the cached rows of `before`, or empty when not known.
  // `after_rows` (unless null) receives the cached rows of `after`, pinned;
  // the caller unpins `before_rows`.
  template <class RowT>
  Status ReplaceRows(const std::vector<RowT>& before, const std::vector<CachedRow*>& before_rows,
                     const EventRef& before_ref, const std::vector<RowT>& after,
                     const EventRef& after_ref, std::vector<CachedRow*>* after_rows);
  // The cached row is in use again: dirty, wide enough.
  void Touch(CachedRow* cached, size_t width);
  static void Unpin(const std::vector<CachedRow*>& rows);
  // Recomputes last_changed_by of the stale cached rows from all facts.
  Status RecomputeStaleAudit();
  // Drops clean entries flushed before `evictable_before` while over a limit.
  void Evict(uint64_t evictable_before);
  bool OverLimits() const;

  const StateStore* store_;
  size_t cache_max_entries_;
  size_t cache_max_bytes_;
  size_t cached_bytes_ = 0;
  size_t dirty_bytes_ = 0;
  uint64_t generation_ = 1;
  // Both maps are looked up by string_view: ReplaceRows builds each row key
  // in row_key_ rather than in a new string (two allocations each, per
  // contribution), and Evict finds a facts entry by its own key.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, CachedFacts, KeyHash, std::equal_to<>> facts_;
  std::unordered_map<std::string, CachedRow, KeyHash, std::equal_to<>> rows_;
  std::string row_key_;
  // The entries marked dirty since the last Flush, so a checkpoint costs what
  // changed rather than a scan of the whole cache (dirty entries are never
  // evicted, so the pointers stay valid until Flush).
  std::vector<CachedFacts*> dirty_facts_;
  std::vector<CachedRow*> dirty_rows_;
  // Facts entries in the order they were cached or flushed, with the
  // generation they had then: eviction takes the oldest without walking the
  // dirty and the young ones (walking facts_ at every flush was ~11% of a
  // rebuild's publishing thread, docs/performance.md). A record whose entry
  // was flushed again since (another generation) or is dirty is stale and
  // dropped. An entry's generations only grow, so its current record is its
  // last one: erasing it through that record leaves none behind.
  std::deque<std::pair<uint64_t, CachedFacts*>> facts_by_age_;
  // The same for the KPI rows (walking rows_ from its start at every
  // eviction, past the dirty, pinned and young ones, was ~7% of a rebuild's
  // publishing thread, docs/performance.md).
  std::deque<std::pair<uint64_t, CachedRow*>> rows_by_age_;
  // The decoded facts of records kept encoded only, freed at the next Flush
  // rather than at once: a rebuild applies them on a second thread while
  // others build the next ones, and freeing them there, into the builders'
  // malloc arenas, cost the builders more than it saved (docs/performance.md).
  std::vector<EmployeeFacts> retired_facts_;
  size_t retired_bytes_ = 0;  // their estimate, as a decoded cache entry's
  static constexpr size_t kAgeRecordBytes =
      sizeof(std::pair<uint64_t, const void*>);  // either queue's
  // Drops the stale records once they outnumber the entries (a cache under
  // its limits never evicts, and each flush adds a record per entry).
  void DropStaleAgeRecords();
  // key -> the member's last_event to put, or nullopt to delete
  std::map<std::string, std::optional<EventRef>> org_index_changes_;
  int64_t view_time_us_ = 0;
  bool has_view_time_ = false;
  bool view_time_dirty_ = false;
  uint64_t stale_recomputations_ = 0;
  bool skip_unwritten_reads_ = false;
  KeyHashSet written_facts_;  // employee ids cached since Load (when skipping)
  KeyHashSet written_rows_;   // KPI row keys cached since Load (when skipping)
  uint64_t skipped_reads_ = 0;
};

}  // namespace jiritsu::processors
