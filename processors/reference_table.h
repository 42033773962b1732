// ReferenceTable: the event-time-versioned global table of org units,
// programmes and KPI targets (jiritsu.reference).
//
// Every entity keeps all its versions ordered by (event time, source, id), so
// "programme P as of time t" has exactly one answer whatever order the
// versions arrived in. A repeated (source, id) is a no-op. The org tree used
// for roll-ups is the latest one (each unit's newest version).
//
// Persistence: Add() records new versions as pending; TakePendingRows()
// returns them as rows of the "reference" column family (key order = version
// order) and Load() rebuilds the table from those rows.
//
// Lifecycle: owned by the projector or a QueryService. Thread-safety: not
// thread-safe; const methods may run concurrently with each other.
// Failure: Load() returns kCorruption for undecodable rows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <tuple>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/projector.h"
#include "core/state_store.h"
#include "core/status.h"
#include "processors/employee_state.h"
#include "schemas/event.h"

namespace jiritsu::processors {

inline constexpr std::string_view kReferenceFamily = "reference";

template <typename T>
struct Versioned {
  int64_t time_us = 0;
  std::string source;
  std::string id;
  T value;
  EventRef ref;  // the event that defined this version (audit trail)
};

class ReferenceTable {
 public:
  // Adds a reference event. Returns false when (source, id) was seen before
  // (nothing changes). Precondition: event.type is a reference type.
  // `position` is where the event was read (kept in its row as the audit
  // trail; empty for tables built outside a log).
  bool Add(const Event& event, const SourcePosition& position = {});

  const OrgUnitDefined* OrgUnitAt(std::string_view org_unit_id, int64_t time_us) const;
  const OrgUnitDefined* LatestOrgUnit(std::string_view org_unit_id) const;
  // The event that defined LatestOrgUnit (nullptr when unknown).
  const EventRef* LatestOrgUnitRef(std::string_view org_unit_id) const;
  // `org_unit_id` and every descendant in the latest tree, sorted; cycles in
  // the data are cut (each unit is visited once).
  std::vector<std::string> Subtree(std::string_view org_unit_id) const;
  std::vector<std::string> Children(std::string_view org_unit_id) const;
  // Units without a parent in the latest tree (or whose parent is unknown), sorted.
  std::vector<std::string> RootOrgUnits() const;

  const ProgramDefined* ProgramAt(std::string_view program_id, int64_t time_us) const;
  const ProgramDefined* LatestProgram(std::string_view program_id) const;
  // Programmes with a version at or before `time_us`, in program_id order.
  std::vector<const ProgramDefined*> ProgramsAt(int64_t time_us) const;
  // The same without allocating (the fold calls it for every event).
  template <typename Fn>
  void ForEachProgramAt(int64_t time_us, Fn&& fn) const {
    for (const auto& [id, versions] : programs_) {
      if (const ProgramDefined* program = VersionAt(versions, time_us)) fn(*program);
    }
  }
  // The programme of a talent profile as of `time_us`: the smallest
  // program_id whose version at that time has that talent_profile.
  const ProgramDefined* ProgramForProfile(std::string_view profile, int64_t time_us) const;
  std::vector<std::string> ProgramIds() const;
  // Number of programme versions with time <= time_us: the facts version
  // component that moves when a programme revision affects a fold.
  uint64_t ProgramVersionsAtOrBefore(int64_t time_us) const;

  // Latest target per metric for (org, period label, profile ("" = all)).
  std::map<std::string, double> TargetsFor(std::string_view org_unit_id, std::string_view period,
                                           std::string_view profile) const;
  // The kpi.target.set event behind each of TargetsFor's values.
  std::map<std::string, EventRef> TargetRefsFor(std::string_view org_unit_id,
                                                std::string_view period,
                                                std::string_view profile) const;

  // Rows added since the previous call, for the "reference" column family.
  std::vector<std::pair<std::string, std::string>> TakePendingRows();
  // Replaces the contents with the rows of the "reference" family.
  Status Load(const StateStore& store);

 private:
  using TargetKey = std::tuple<std::string, std::string, std::string, std::string>;
  template <typename T>
  static const T* VersionAt(const std::vector<Versioned<T>>& versions, int64_t time_us) {
    auto it = std::upper_bound(versions.begin(), versions.end(), time_us,
                               [](int64_t t, const Versioned<T>& v) { return t < v.time_us; });
    return it == versions.begin() ? nullptr : &std::prev(it)->value;
  }
  bool AddDecoded(const Event& event, const SourcePosition& position, bool pending);
  // fn(metric, latest version) for every metric of (org, period, profile).
  template <typename Fn>
  void ForEachLatestTarget(std::string_view org_unit_id, std::string_view period,
                           std::string_view profile, Fn&& fn) const;

  std::set<std::pair<std::string, std::string>> seen_;  // (source, id)
  std::map<std::string, std::vector<Versioned<OrgUnitDefined>>, std::less<>> orgs_;
  std::map<std::string, std::vector<Versioned<ProgramDefined>>, std::less<>> programs_;
  std::map<TargetKey, std::vector<Versioned<KpiTargetSet>>> targets_;
  std::vector<int64_t> program_version_times_;  // sorted
  std::vector<std::pair<std::string, std::string>> pending_rows_;
};

// Encoded (time, source, id) suffix shared by reference and journal keys:
// big-endian sign-flipped time, then a rank byte, then source '\0' id, so
// that byte order equals EventOrderLess order.
std::string EventSortKey(const Event& event);
// The same into `*into` (replacing what it held; its capacity is reused).
void EventSortKeyInto(const Event& event, std::string* into);
int FamilyRankOf(EventType type);

}  // namespace jiritsu::processors
