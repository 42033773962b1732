// QueryService: the read API over the processors' views, returning canonical
// JSON (sorted keys, one line; see json.h) so outputs are diffable.
// Definitions of every field: docs/views.md.
//
// Works on any StateStore that has the projector's column families,
// including a read-only one opened next to a running `jiritsu run` (it sees
// the state as of opening). Employee-private views (step status, rejections)
// exist only on the instance owning the employee; global views (engagement,
// org roll-ups, KPIs, digest of facts/kpi_agg) exist on every instance.
//
// Lifecycle: Open() loads the reference table once; the store must outlive
// the service. Thread-safety: const methods may be called concurrently.
// Failure: kNotFound for unknown employees/org units, kInvalidArgument for a
// bad period, kFailedPrecondition when the store holds no employee events
// yet (no view time), kCorruption/kIOError from the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/state_store.h"
#include "core/status.h"
#include "processors/options.h"
#include "processors/reference_table.h"

namespace jiritsu::processors {

class QueryService {
 public:
  static Result<std::unique_ptr<QueryService>> Open(const StateStore* store,
                                                    const ProjectorOptions& options = {});

  // Step status of one employee, all programmes or just `program`.
  Result<std::string> StepStatus(std::string_view employee,
                                 std::optional<std::string_view> program = std::nullopt) const;
  // Engagement indicators of one employee as of `as_of_us` (default: view time T).
  Result<std::string> Engagement(std::string_view employee,
                                 std::optional<int64_t> as_of_us = std::nullopt) const;
  // Engagement roll-up of an org unit: own members and the whole subtree.
  Result<std::string> OrgEngagement(std::string_view org_unit,
                                    std::optional<int64_t> as_of_us = std::nullopt) const;
  // Cross-measure KPIs; period "FY2025" | "2025Q3" (fiscal quarter) | "2025-07".
  Result<std::string> Kpi(std::string_view org_unit, std::string_view period,
                          std::optional<std::string_view> profile = std::nullopt) const;
  // Recorded rule violations, in (employee, event order); at most `limit` rows.
  Result<std::string> Rejections(std::optional<std::string_view> employee = std::nullopt,
                                 size_t limit = 100) const;
  // A page of rejections in key order, starting after `after_key` (empty:
  // from the first; a key returned in `next_key` by the previous page).
  // `next_key` is set to the last row's key when more rows follow, else
  // cleared. Output: {"employee", "limit", "rejections": [...]}.
  Result<std::string> RejectionsPage(std::optional<std::string_view> employee,
                                     std::string_view after_key, size_t limit,
                                     std::string* next_key) const;
  // The employee's current manager as folded into their step status
  // (employee.hired / employee.manager.changed); kNotFound when the
  // employee is unknown on this store, "" when no manager is recorded.
  Result<std::string> ManagerOf(std::string_view employee) const;
  // Manager id -> the employed employees whose current manager it is, each
  // list sorted. Scans every employee state on this store: O(employees),
  // meant to be computed once per opened snapshot and cached by the caller.
  Result<std::map<std::string, std::vector<std::string>>> ReportsByManager() const;
  // One BLAKE2b-256 over every view column family (and "dlq" when present),
  // in family-name then key order, plus a digest per family.
  Result<std::string> Digest() const;

  // Top-level org units of the latest tree, sorted.
  std::vector<std::string> RootOrgUnits() const { return reference_.RootOrgUnits(); }
  // An org unit of the latest tree: {"org_unit", "name", "parent", "children"}
  // (children sorted); kNotFound when no org.unit.defined names it.
  Result<std::string> OrgUnit(std::string_view org_unit) const;
  // Step distribution: per programme, employed employees by current step
  // (highest reached, 0 = none) among those whose talent profile is the
  // programme's or who reached a step of it; `org_unit` limits it to that
  // unit's subtree (latest org tree). Reads the employee family, so on Kafka
  // it covers the employees this instance owns. Output:
  // {"org_unit", "employees", "programs": [{"program", "name", "talent_profile", "steps": [n0, n1, ...]}]}.
  Result<std::string> StepDistribution(std::optional<std::string_view> org_unit) const;
  // The view time T: the greatest employee event time folded into the facts.
  Result<std::optional<int64_t>> ViewTime() const;

 private:
  QueryService(const StateStore* store, const ProjectorOptions& options)
      : store_(store), options_(options) {}
  Result<int64_t> ResolveAsOf(std::optional<int64_t> as_of_us) const;

  const StateStore* store_;
  ProjectorOptions options_;
  ReferenceTable reference_;
};

}  // namespace jiritsu::processors
