#include "processors/aggregates.h"

#include <algorithm>
#include <bit>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <functional>
#include <type_traits>
#include <utility>

#include "processors/cereal_io.h"

namespace jiritsu::processors {

bool KpiRow::IsZero() const {
  return contributors == 0 && lead_minutes.empty() &&
         std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 0; });
}

void KpiRow::AddContributor(const EventRef& ref) {
  ++contributors;
  if (holding_last > 0 && EventRefLess(ref, last_changed_by)) return;
  if (holding_last > 0 && ref == last_changed_by) {
    ++holding_last;
    return;
  }
  // Greater than the recorded ref, or equal to / greater than a stale one:
  // a stale ref is >= every remaining contributor's, so this one is the
  // greatest (an equal stale ref has no remaining holder).
  if (holding_last == 0 && EventRefLess(ref, last_changed_by)) return;  // still stale
  last_changed_by = ref;
  holding_last = 1;
}

void KpiRow::RemoveContributor(const EventRef& ref) {
  --contributors;
  if (holding_last > 0 && ref == last_changed_by) --holding_last;
  if (contributors == 0) {
    last_changed_by = EventRef();
    holding_last = 0;
  }
}

std::string EncodeKpiRow(const KpiRow& row) {
  return EncodeCompact(256, kKpiRowFormat, row.values, row.lead_minutes, row.contributors,
                       row.last_changed_by, row.holding_last);
}

Result<KpiRow> DecodeKpiRow(std::string_view bytes) {
  const uint8_t format = bytes.empty() ? 0 : static_cast<uint8_t>(bytes[0]);
  if (format != 2 && format != kKpiRowFormat) {
    return Corruption("kpi row: unknown format version " + std::to_string(format) +
                      " (format 1 predates view version 4: rebuild with jiritsu replay --swap)");
  }
  KpiRow row;
  const auto error =
      format == 2 ? DecodeCereal(bytes.substr(1), row.values, row.lead_minutes, row.contributors,
                                 row.last_changed_by, row.holding_last)
                  : DecodeCompact(bytes.substr(1), row.values, row.lead_minutes, row.contributors,
                                  row.last_changed_by, row.holding_last);
  if (error) return Corruption("kpi row: " + *error);
  return row;
}

std::string EncodeOrgIndexValue(const EventRef& last_event) {
  return EncodeCereal(kOrgIndexValueFormat, last_event);
}

Result<EventRef> DecodeOrgIndexValue(std::string_view bytes) {
  if (bytes.empty() || static_cast<uint8_t>(bytes[0]) != kOrgIndexValueFormat) {
    return Corruption("org_index value: unknown format version");
  }
  EventRef ref;
  if (auto error = DecodeCereal(bytes.substr(1), ref)) return Corruption("org_index value: " + *error);
  return ref;
}

namespace {

// The row keys below, built into `*key` (its capacity reused).
void BuildRowKey(std::string_view org, std::string_view kind, std::string_view label,
                 std::string_view profile, std::string* key) {
  key->clear();
  key->reserve(org.size() + kind.size() + label.size() + 1 + profile.size());
  key->append(org);
  key->append(kind);
  key->append(label);
  key->push_back('\0');
  key->append(profile);
}
constexpr std::string_view kStateRowKind("\0S\0", 3);
constexpr std::string_view kPeriodRowKind("\0P\0", 3);

}  // namespace

std::string StateRowKey(std::string_view org, MonthIndex month, std::string_view profile) {
  std::string key;
  BuildRowKey(org, kStateRowKind, MonthLabel(month), profile, &key);
  return key;
}

std::string PeriodRowKey(std::string_view org, std::string_view period, std::string_view profile) {
  std::string key;
  BuildRowKey(org, kPeriodRowKind, period, profile, &key);
  return key;
}

std::string OrgIndexKey(std::string_view org, std::string_view employee) {
  std::string key(org);
  key.push_back('\0');
  key.append(employee);
  return key;
}

std::string EncodeViewTime(int64_t time_us) {
  std::string out(8, '\0');
  const uint64_t v = static_cast<uint64_t>(time_us) ^ (uint64_t{1} << 63);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
  return out;
}

std::optional<int64_t> DecodeViewTime(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (unsigned char c : bytes) v = (v << 8) | c;
  return static_cast<int64_t>(v ^ (uint64_t{1} << 63));
}

namespace {

// Heap estimates of the cache (docs/performance.md, "Memory"): an entry's
// hash node and struct, its key, and for facts the encoded record plus the
// decoded EmployeeFacts (about three times the portable-binary encoding, and
// the compact one, facts format 3, is 0.40 of that: 7.5 times).
constexpr size_t kCacheEntryOverheadBytes = 160;
constexpr size_t kDecodedFactsPerEncodedByteTimes2 = 15;
constexpr size_t kLeadMinutesNodeBytes = 64;
constexpr size_t kEventRefBytes = 160;  // KpiRow::last_changed_by

size_t EstimateBytes(std::string_view key, std::string_view bytes, bool decoded,
                     size_t row_pointers) {
  return kCacheEntryOverheadBytes + 2 * key.size() + bytes.size() +
         (decoded ? kDecodedFactsPerEncodedByteTimes2 * bytes.size() / 2 : 0) +
         row_pointers * sizeof(void*);
}

size_t EstimateBytes(std::string_view key, const KpiRow& row) {
  return kCacheEntryOverheadBytes + kEventRefBytes + 2 * key.size() +
         row.values.capacity() * sizeof(int64_t) + row.lead_minutes.size() * kLeadMinutesNodeBytes;
}

}  // namespace

size_t GlobalAggregates::EstimatedFactsBytes(std::string_view employee_id, std::string_view bytes) {
  return EstimateBytes(employee_id, bytes, /*decoded=*/true, 0);
}

GlobalAggregates::GlobalAggregates(const StateStore* store, size_t cache_max_entries,
                                   size_t cache_max_bytes)
    : store_(store), cache_max_entries_(cache_max_entries), cache_max_bytes_(cache_max_bytes) {}

template <class Entry>
void GlobalAggregates::Recharge(Entry* entry) {
  size_t bytes = 0;
  if constexpr (std::is_same_v<Entry, CachedFacts>) {
    bytes = EstimateBytes(entry->key, entry->bytes, entry->decoded,
                          entry->state_rows.capacity() + entry->period_rows.capacity());
  } else {
    bytes = EstimateBytes(entry->key, entry->row);
  }
  cached_bytes_ = cached_bytes_ - entry->charged_bytes + bytes;
  if (entry->dirty) dirty_bytes_ = dirty_bytes_ - entry->charged_bytes + bytes;
  entry->charged_bytes = bytes;
}

template <class Entry>
void GlobalAggregates::MarkDirty(Entry* entry) {
  if (entry->dirty) return;
  entry->dirty = true;
  dirty_bytes_ += entry->charged_bytes;
  if constexpr (std::is_same_v<Entry, CachedFacts>) {
    dirty_facts_.push_back(entry);
  } else {
    dirty_rows_.push_back(entry);
  }
}

uint32_t GlobalAggregates::KeyHashSet::HashOf(std::string_view key) {
  const uint64_t wide = std::hash<std::string_view>{}(key);
  const auto hash = static_cast<uint32_t>(wide ^ (wide >> 32));
  return hash == 0 ? 1 : hash;
}

size_t GlobalAggregates::KeyHashSet::SlotOf(uint32_t hash) const {
  // Fibonacci hashing: the multiplied hash's high bits pick the slot.
  const uint64_t mixed = uint64_t{hash} * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(mixed >> (64 - std::countr_zero(slots_.size())));
}

bool GlobalAggregates::KeyHashSet::Contains(uint32_t hash) const {
  if (slots_.empty()) return false;
  const size_t mask = slots_.size() - 1;
  for (size_t slot = SlotOf(hash);; slot = (slot + 1) & mask) {
    if (slots_[slot] == hash) return true;
    if (slots_[slot] == 0) return false;
  }
}

size_t GlobalAggregates::KeyHashSet::GrowthBytes() const {
  return 2 * (size_ + 1) > slots_.size() ? NextSlots() * sizeof(uint32_t) - bytes() : 0;
}

void GlobalAggregates::KeyHashSet::Insert(uint32_t hash) {
  if (2 * (size_ + 1) > slots_.size()) {
    std::vector<uint32_t> old = std::exchange(slots_, std::vector<uint32_t>(NextSlots()));
    size_ = 0;
    for (uint32_t kept : old) {
      if (kept != 0) Insert(kept);
    }
  }
  const size_t mask = slots_.size() - 1;
  for (size_t slot = SlotOf(hash);; slot = (slot + 1) & mask) {
    if (slots_[slot] == hash) return;
    if (slots_[slot] == 0) {
      slots_[slot] = hash;
      ++size_;
      return;
    }
  }
}

bool GlobalAggregates::MayBeStored(KeyHashSet* written, std::string_view key) {
  if (!skip_unwritten_reads_) return true;
  const uint32_t hash = KeyHashSet::HashOf(key);
  if (written->Contains(hash)) return true;
  if (written_facts_.bytes() + written_rows_.bytes() + written->GrowthBytes() >
      cache_max_bytes_ / kMaxSkipShare) {
    // More keys than the cache's share allows for their hashes: every miss
    // reads the store from now on (reads are never wrong, only slower).
    skip_unwritten_reads_ = false;
    written_facts_ = {};
    written_rows_ = {};
    return true;
  }
  written->Insert(hash);
  ++skipped_reads_;
  return false;
}

Status GlobalAggregates::Load(bool skip_reads_of_unwritten_keys) {
  std::string value;
  Status s = store_->Get(kKpiFamily, kViewTimeKey, &value);
  if (s.code() == StatusCode::kNotFound) {
    if (!skip_reads_of_unwritten_keys) return Status::Ok();
    for (std::string_view family : {kKpiFamily, kFactsFamily}) {
      auto it = store_->NewIterator(family);
      it->SeekToFirst();
      JIRITSU_RETURN_IF_ERROR(it->status());
      if (it->Valid()) return Status::Ok();
    }
    skip_unwritten_reads_ = true;
    return Status::Ok();
  }
  JIRITSU_RETURN_IF_ERROR(s);
  auto t = DecodeViewTime(value);
  if (!t) return Corruption("kpi_agg: bad view_time value");
  view_time_us_ = *t;
  has_view_time_ = true;
  return Status::Ok();
}

Status GlobalAggregates::Warm(size_t max_bytes, size_t max_entries) {
  const auto full = [&] { return cached_bytes() >= max_bytes || cached_entries() >= max_entries; };
  // Rows first: each is shared by every employee of its org unit and period.
  auto rows = store_->NewIterator(kKpiFamily);
  for (rows->SeekToFirst(); rows->Valid() && !full(); rows->Next()) {
    if (rows->key() == kViewTimeKey) continue;
    auto row = DecodeKpiRow(rows->value());
    if (!row.ok()) return row.status().WithContext("kpi_agg row " + std::string(rows->key()));
    Recharge(CacheStoredRow(std::string(rows->key()), std::move(row).value()));
  }
  JIRITSU_RETURN_IF_ERROR(rows->status());
  auto facts = store_->NewIterator(kFactsFamily);
  for (facts->SeekToFirst(); facts->Valid() && !full(); facts->Next()) {
    auto decoded = DecodeFacts(facts->value());
    if (!decoded.ok()) {
      return decoded.status().WithContext("stored facts of " + std::string(facts->key()));
    }
    CacheStoredFacts(std::string(facts->key()), std::string(facts->value()),
                     std::move(decoded).value());
  }
  return facts->status();
}

GlobalAggregates::CachedFacts* GlobalAggregates::CacheStoredFacts(const std::string& employee_id,
                                                                  std::string bytes,
                                                                  EmployeeFacts facts) {
  auto inserted = facts_.try_emplace(employee_id).first;
  CachedFacts& cached = inserted->second;
  cached.key = inserted->first;
  cached.bytes = std::move(bytes);
  cached.facts = std::move(facts);
  cached.decoded = true;
  Recharge(&cached);
  facts_by_age_.emplace_back(cached.generation, &cached);
  return &cached;
}

Result<EmployeeFacts> GlobalAggregates::DecodeBytesOf(const CachedFacts& cached) {
  auto decoded = DecodeFacts(cached.bytes);
  // These bytes decoded once already, when they were applied.
  if (!decoded.ok())
    return decoded.status().WithContext("cached facts of " + std::string(cached.key));
  return decoded;
}

Status GlobalAggregates::Decode(CachedFacts* cached) {
  if (cached->decoded || cached->bytes.empty()) return Status::Ok();
  JIRITSU_ASSIGN_OR_RETURN(cached->facts, DecodeBytesOf(*cached));
  cached->decoded = true;
  Recharge(cached);
  return Status::Ok();
}

GlobalAggregates::CachedRow* GlobalAggregates::CacheStoredRow(std::string_view key, KpiRow row) {
  auto inserted = rows_.try_emplace(std::string(key)).first;
  CachedRow& cached = inserted->second;
  cached.key = inserted->first;
  cached.row = std::move(row);
  rows_by_age_.emplace_back(cached.generation, &cached);
  return &cached;
}

Result<GlobalAggregates::CachedFacts*> GlobalAggregates::FindFacts(const std::string& employee_id,
                                                                   bool* found) {
  auto it = facts_.find(employee_id);
  if (it != facts_.end()) {
    *found = true;
    return &it->second;
  }
  std::string bytes;
  Status s = MayBeStored(&written_facts_, employee_id)
                 ? store_->Get(kFactsFamily, employee_id, &bytes)
                 : NotFound("never written");
  if (s.code() == StatusCode::kNotFound) {
    *found = false;
    auto inserted = facts_.try_emplace(employee_id).first;
    inserted->second.key = inserted->first;
    facts_by_age_.emplace_back(inserted->second.generation, &inserted->second);
    return &inserted->second;
  }
  JIRITSU_RETURN_IF_ERROR(s);
  auto decoded = DecodeFacts(bytes);
  if (!decoded.ok()) return decoded.status().WithContext("stored facts of " + employee_id);
  *found = true;
  return CacheStoredFacts(employee_id, std::move(bytes), std::move(decoded).value());
}

Result<GlobalAggregates::CachedRow*> GlobalAggregates::Row(std::string_view key, size_t width) {
  auto it = rows_.find(key);
  CachedRow* cached = it == rows_.end() ? nullptr : &it->second;
  if (cached == nullptr) {
    KpiRow row;
    std::string bytes;
    Status s = MayBeStored(&written_rows_, key) ? store_->Get(kKpiFamily, key, &bytes)
                                                : NotFound("never written");
    if (s.ok()) {
      auto decoded = DecodeKpiRow(bytes);
      if (!decoded.ok()) return decoded.status();
      row = std::move(decoded).value();
    } else if (s.code() != StatusCode::kNotFound) {
      return s;
    }
    cached = CacheStoredRow(key, std::move(row));
  }
  Touch(cached, width);
  return cached;
}

void GlobalAggregates::Touch(CachedRow* cached, size_t width) {
  if (cached->row.values.size() < width) cached->row.values.resize(width, 0);
  MarkDirty(cached);
}

void GlobalAggregates::Unpin(const std::vector<CachedRow*>& rows) {
  for (CachedRow* row : rows) --row->pins;
}

namespace {

// The two kinds of KPI rows an employee's facts contribute to, for
// ReplaceRows: key, width, identity, and the arithmetic of one contribution.
// The row's key, built into `*key`.
const std::string& RowKey(const StateDeltaRow& r, std::string* key) {
  BuildRowKey(r.org_unit, kStateRowKind, MonthLabel(r.month), r.profile, key);
  return *key;
}
const std::string& RowKey(const PeriodRow& r, std::string* key) {
  BuildRowKey(r.org_unit, kPeriodRowKind, r.period, r.profile, key);
  return *key;
}
size_t RowWidth(const StateDeltaRow&) { return kStateMeasureCount; }
size_t RowWidth(const PeriodRow&) { return kPeriodCounterCount; }

bool SameRow(const StateDeltaRow& a, const StateDeltaRow& b) {
  return a.month == b.month && a.org_unit == b.org_unit && a.profile == b.profile;
}
bool SameRow(const PeriodRow& a, const PeriodRow& b) {
  return a.period == b.period && a.org_unit == b.org_unit && a.profile == b.profile;
}

void AddValues(KpiRow* row, const StateDeltaRow& delta, int64_t sign) {
  for (int i = 0; i < kStateMeasureCount; ++i) row->values[i] += sign * delta.values[i];
}
void AddValues(KpiRow* row, const PeriodRow& period, int64_t sign) {
  for (int i = 0; i < kPeriodCounterCount; ++i) row->values[i] += sign * period.values[i];
  for (const auto& [minutes, count] : period.lead_minutes) {
    int64_t& slot = row->lead_minutes[minutes];
    slot += sign * count;
    if (slot == 0) row->lead_minutes.erase(minutes);
  }
}

bool SameValues(const StateDeltaRow& a, const StateDeltaRow& b) { return a.values == b.values; }
bool SameValues(const PeriodRow& a, const PeriodRow& b) {
  return a.values == b.values && a.lead_minutes == b.lead_minutes;
}

template <class RowT>
void AddContribution(KpiRow* row, const RowT& contribution, int64_t sign, const EventRef& last_event) {
  AddValues(row, contribution, sign);
  if (sign > 0) {
    row->AddContributor(last_event);
  } else {
    row->RemoveContributor(last_event);
  }
}

}  // namespace

template <class RowT>
Status GlobalAggregates::ReplaceRows(const std::vector<RowT>& before,
                                     const std::vector<CachedRow*>& before_rows,
                                     const EventRef& before_ref, const std::vector<RowT>& after,
                                     const EventRef& after_ref,
                                     std::vector<CachedRow*>* after_rows) {
  // Rows of `before` and `after` at the same index with the same key (BuildFacts
  // emits rows in key order, so a newer record mostly has the older one's
  // rows, plus a few) are visited once; the cached rows of `before`, when
  // known, are reached by pointer instead of by key.
  const bool before_known = before_rows.size() == before.size();
  const size_t common = std::min(before.size(), after.size());
  auto paired = [&](size_t i) { return i < common && SameRow(before[i], after[i]); };
  auto row_of_before = [&](size_t i) -> Result<CachedRow*> {
    if (!before_known) return Row(RowKey(before[i], &row_key_), RowWidth(before[i]));
    Touch(before_rows[i], RowWidth(before[i]));
    return before_rows[i];
  };
  for (size_t i = 0; i < before.size(); ++i) {
    if (paired(i)) continue;
    JIRITSU_ASSIGN_OR_RETURN(CachedRow * row, row_of_before(i));
    AddContribution(&row->row, before[i], -1, before_ref);
    Recharge(row);
  }
  if (after_rows != nullptr) after_rows->reserve(after.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CachedRow* row = nullptr;
    if (!paired(i)) {
      JIRITSU_ASSIGN_OR_RETURN(row, Row(RowKey(after[i], &row_key_), RowWidth(after[i])));
      AddContribution(&row->row, after[i], +1, after_ref);
    } else {
      JIRITSU_ASSIGN_OR_RETURN(row, row_of_before(i));
      if (SameValues(before[i], after[i])) {
        // Subtracting and adding the same values leaves them as they are
        // (lead-time counts too): only the contributor changes. Most rows
        // of a replaced record are of months its new events did not touch.
        row->row.RemoveContributor(before_ref);
        row->row.AddContributor(after_ref);
      } else {
        AddContribution(&row->row, before[i], -1, before_ref);
        AddContribution(&row->row, after[i], +1, after_ref);
      }
    }
    Recharge(row);
    if (after_rows != nullptr) {
      ++row->pins;
      after_rows->push_back(row);
    }
  }
  return Status::Ok();
}

Status GlobalAggregates::Replace(CachedFacts* cached, const EmployeeFacts& after,
                                 bool keep_row_pointers) {
  // Every row sees the same operations in the same order as removing all of
  // the cached facts and then adding all of `after`: its removal, then its
  // addition (state and period rows never share a key).
  static const EmployeeFacts kNone;
  const EmployeeFacts& before = cached->bytes.empty() ? kNone : cached->facts;
  std::vector<CachedRow*> state_rows;
  std::vector<CachedRow*> period_rows;
  Status replaced =
      ReplaceRows(before.state_deltas, cached->state_rows, before.last_event, after.state_deltas,
                  after.last_event, keep_row_pointers ? &state_rows : nullptr);
  if (replaced.ok()) {
    replaced =
        ReplaceRows(before.period_rows, cached->period_rows, before.last_event, after.period_rows,
                    after.last_event, keep_row_pointers ? &period_rows : nullptr);
  }
  if (!replaced.ok()) {
    Unpin(state_rows);
    Unpin(period_rows);
    return replaced;
  }
  Unpin(cached->state_rows);
  Unpin(cached->period_rows);
  cached->state_rows = std::move(state_rows);
  cached->period_rows = std::move(period_rows);
  return Status::Ok();
}

Status GlobalAggregates::ApplyFacts(std::string_view employee_id, std::string_view bytes) {
  auto decoded = DecodeFacts(bytes);
  // A record no projector wrote: bad input (the runtime skips it), not a
  // damaged store.
  if (!decoded.ok()) return InvalidArgument("facts record: " + decoded.status().message());
  return ApplyDecodedFacts(employee_id, bytes, std::move(decoded).value());
}

Status GlobalAggregates::ApplyDecodedFacts(std::string_view employee_id, std::string_view bytes,
                                           EmployeeFacts facts) {
  const std::string id(employee_id);
  bool found = false;
  JIRITSU_ASSIGN_OR_RETURN(CachedFacts * current, FindFacts(id, &found));
  if (found) JIRITSU_RETURN_IF_ERROR(Decode(current));
  if (found && !FactsNewer(facts, bytes, current->facts, current->bytes)) return Status::Ok();
  // See "Decoded facts" above: the first record of an employee is kept
  // encoded only; one that replaces another is kept decoded.
  const bool keep_decoded = found;
  JIRITSU_RETURN_IF_ERROR(Replace(current, facts, /*keep_row_pointers=*/keep_decoded));
  if (found && !current->facts.timeline.empty()) {
    org_index_changes_[OrgIndexKey(current->facts.timeline.back().org_unit, id)] = std::nullopt;
  }
  if (!facts.timeline.empty()) {
    org_index_changes_[OrgIndexKey(facts.timeline.back().org_unit, id)] = facts.last_event;
  }
  if (facts.events_folded > 0 && (!has_view_time_ || facts.last_event_time_us > view_time_us_)) {
    view_time_us_ = facts.last_event_time_us;
    has_view_time_ = true;
    view_time_dirty_ = true;
  }
  current->bytes.assign(bytes);
  current->decoded = keep_decoded;
  if (keep_decoded) {
    current->facts = std::move(facts);
  } else {
    retired_bytes_ += kDecodedFactsPerEncodedByteTimes2 * bytes.size() / 2;
    retired_facts_.push_back(std::move(facts));
  }
  MarkDirty(current);
  Recharge(current);
  return Status::Ok();
}

bool GlobalAggregates::OverLimits() const {
  return facts_.size() + rows_.size() > cache_max_entries_ || cached_bytes() > cache_max_bytes_;
}

void GlobalAggregates::Evict(uint64_t evictable_before) {
  // Facts first: each employee's record is touched about once per
  // checkpoint, while KPI rows are shared by many employees.
  while (!facts_by_age_.empty() && OverLimits()) {
    const auto [generation, cached] = facts_by_age_.front();
    if (cached->generation != generation || cached->dirty) {
      facts_by_age_.pop_front();  // stale: a later record (or flush) has it
      continue;
    }
    // The records behind it were flushed no earlier (a cache miss's record,
    // generation 0, may wait behind it until the next eviction).
    if (generation >= evictable_before) break;
    facts_by_age_.pop_front();
    cached_bytes_ -= cached->charged_bytes;
    Unpin(cached->state_rows);
    Unpin(cached->period_rows);
    facts_.erase(facts_.find(cached->key));
  }
  // Rows the same way, oldest first. A pinned row is reachable from a cached
  // facts record (its pointers): its record goes to the back, still its
  // row's last, and each record is looked at once per call.
  for (size_t looked_at = 0, records = rows_by_age_.size();
       looked_at < records && !rows_by_age_.empty() && OverLimits(); ++looked_at) {
    const auto [generation, cached] = rows_by_age_.front();
    if (cached->generation != generation || cached->dirty) {
      rows_by_age_.pop_front();  // stale
      continue;
    }
    if (generation >= evictable_before) break;
    rows_by_age_.pop_front();
    if (cached->pins > 0) {
      rows_by_age_.emplace_back(generation, cached);
      continue;
    }
    cached_bytes_ -= cached->charged_bytes;
    rows_.erase(rows_.find(cached->key));
  }
}

void GlobalAggregates::OnCommitted() {
  if (OverLimits()) Evict(generation_ + 1);
}

void GlobalAggregates::DropStaleAgeRecords() {
  const auto stale = [](const auto& record) {
    return record.second->generation != record.first || record.second->dirty;
  };
  if (facts_by_age_.size() > 2 * facts_.size() + 1024) std::erase_if(facts_by_age_, stale);
  if (rows_by_age_.size() > 2 * rows_.size() + 1024) std::erase_if(rows_by_age_, stale);
}

Status GlobalAggregates::RecomputeStaleAudit() {
  // Only a removed contributor makes a row stale, and that marks it dirty.
  std::map<std::string, KpiRow*> stale;
  for (CachedRow* cached : dirty_rows_) {
    if (cached->row.AuditStale()) stale.emplace(cached->key, &cached->row);
  }
  if (stale.empty()) return Status::Ok();
  for (auto& [key, row] : stale) {
    row->last_changed_by = EventRef();
    row->holding_last = 0;
  }
  const auto visit = [&](const EmployeeFacts& facts) {
    const auto credit = [&](const std::string& key) {
      auto it = stale.find(key);
      if (it == stale.end()) return;
      KpiRow& row = *it->second;
      if (row.holding_last > 0 && facts.last_event == row.last_changed_by) {
        ++row.holding_last;
      } else if (row.holding_last == 0 || EventRefLess(row.last_changed_by, facts.last_event)) {
        row.last_changed_by = facts.last_event;
        row.holding_last = 1;
      }
    };
    for (const StateDeltaRow& d : facts.state_deltas) credit(StateRowKey(d.org_unit, d.month, d.profile));
    for (const PeriodRow& p : facts.period_rows) credit(PeriodRowKey(p.org_unit, p.period, p.profile));
  };
  // The current facts: the cached ones (some not in the store yet), then the
  // stored ones of every other employee.
  for (const auto& [id, cached] : facts_) {
    if (cached.bytes.empty()) continue;
    if (cached.decoded) {
      visit(cached.facts);
      continue;
    }
    // Decoded for this visit only: the cache keeps what it kept.
    JIRITSU_ASSIGN_OR_RETURN(const EmployeeFacts facts, DecodeBytesOf(cached));
    visit(facts);
  }
  auto it = store_->NewIterator(kFactsFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (facts_.count(std::string(it->key()))) continue;
    auto facts = DecodeFacts(it->value());
    if (!facts.ok()) return facts.status().WithContext("stored facts of " + std::string(it->key()));
    visit(*facts);
  }
  JIRITSU_RETURN_IF_ERROR(it->status());
  ++stale_recomputations_;
  for (const auto& [key, row] : stale) {
    if (row->holding_last == 0) {
      return Internal("kpi_agg row has " + std::to_string(row->contributors) +
                      " contributors but no facts contribute to it");
    }
  }
  return Status::Ok();
}

Status GlobalAggregates::Flush(StateBatch* batch) {
  JIRITSU_RETURN_IF_ERROR(RecomputeStaleAudit());
  retired_facts_.clear();
  retired_bytes_ = 0;
  // Entries flushed by an earlier Flush are in the store by now (the runtime
  // writes each batch before the next checkpoint); the ones flushed by the
  // latest Flush may not be (unless OnCommitted said so), so they stay.
  if (OverLimits()) Evict(generation_);
  ++generation_;
  // Deterministic batch order (not required for correctness, but it keeps
  // batches reproducible for debugging).
  const auto by_key = [](const auto* a, const auto* b) { return a->key < b->key; };
  std::sort(dirty_facts_.begin(), dirty_facts_.end(), by_key);
  for (CachedFacts* cached : dirty_facts_) {
    batch->Put(kFactsFamily, cached->key, cached->bytes);
    dirty_bytes_ -= cached->charged_bytes;
    cached->dirty = false;
    cached->generation = generation_;
    facts_by_age_.emplace_back(generation_, cached);
  }
  dirty_facts_.clear();
  std::sort(dirty_rows_.begin(), dirty_rows_.end(), by_key);
  for (CachedRow* cached : dirty_rows_) {
    if (cached->row.IsZero()) {
      batch->Delete(kKpiFamily, cached->key);
    } else {
      batch->Put(kKpiFamily, cached->key, EncodeKpiRow(cached->row));
    }
    dirty_bytes_ -= cached->charged_bytes;
    cached->dirty = false;
    cached->generation = generation_;
    rows_by_age_.emplace_back(generation_, cached);
  }
  dirty_rows_.clear();
  DropStaleAgeRecords();
  for (const auto& [key, last_event] : org_index_changes_) {
    if (last_event) {
      batch->Put(kOrgIndexFamily, key, EncodeOrgIndexValue(*last_event));
    } else {
      batch->Delete(kOrgIndexFamily, key);
    }
  }
  org_index_changes_.clear();
  if (view_time_dirty_) {
    batch->Put(kKpiFamily, kViewTimeKey, EncodeViewTime(view_time_us_));
    view_time_dirty_ = false;
  }
  return Status::Ok();
}

}  // namespace jiritsu::processors
