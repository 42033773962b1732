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
// A row whose counters are all zero is deleted, so the stored table equals
// the one built from the final facts alone.
//
// Lifecycle: Load() after the store is open; ApplyFacts() between
// checkpoints; Flush() at each checkpoint. Changes stay in memory until
// Flush() adds them to the batch.
// Thread-safety: single thread (the runtime's). Failure: store read errors
// and undecodable facts/rows are returned as Status (kCorruption, kIOError).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"
#include "processors/facts.h"

namespace jiritsu::processors {

inline constexpr std::string_view kFactsFamily = "facts";
inline constexpr std::string_view kKpiFamily = "kpi_agg";
inline constexpr std::string_view kOrgIndexFamily = "org_index";
inline constexpr std::string_view kViewTimeKey = std::string_view("\0view_time", 10);
inline constexpr uint8_t kKpiRowFormat = 1;

struct KpiRow {
  std::vector<int64_t> values;
  std::map<int64_t, int64_t> lead_minutes;
  bool IsZero() const;
};
std::string EncodeKpiRow(const KpiRow& row);
Result<KpiRow> DecodeKpiRow(std::string_view bytes);
std::string StateRowKey(std::string_view org, MonthIndex month, std::string_view profile);
std::string PeriodRowKey(std::string_view org, std::string_view period, std::string_view profile);
std::string OrgIndexKey(std::string_view org, std::string_view employee);
std::string EncodeViewTime(int64_t time_us);
std::optional<int64_t> DecodeViewTime(std::string_view bytes);

class GlobalAggregates {
 public:
  GlobalAggregates(const StateStore* store, size_t cache_max_entries);

  Status Load();
  Status ApplyFacts(std::string_view employee_id, std::string_view bytes);
  // Adds every change since the previous Flush to `batch`.
  void Flush(StateBatch* batch);

 private:
  struct CachedFacts {
    std::string bytes;
    EmployeeFacts facts;
    bool dirty = false;
    uint64_t generation = 0;
  };
  struct CachedRow {
    KpiRow row;
    bool dirty = false;
    uint64_t generation = 0;
  };
  Result<CachedFacts*> FindFacts(const std::string& employee_id, bool* found);
  Result<CachedRow*> Row(const std::string& key, size_t width);
  Status Contribute(const EmployeeFacts& facts, int64_t sign);
  void Evict();

  const StateStore* store_;
  size_t cache_max_entries_;
  uint64_t generation_ = 1;
  std::unordered_map<std::string, CachedFacts> facts_;
  std::unordered_map<std::string, CachedRow> rows_;
  std::map<std::string, bool> org_index_changes_;  // key -> put (true) / delete
  int64_t view_time_us_ = 0;
  bool has_view_time_ = false;
  bool view_time_dirty_ = false;
};

}  // namespace jiritsu::processors
