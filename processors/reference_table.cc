#include "processors/reference_table.h"

#include <algorithm>

#include "processors/stored_event.h"

namespace jiritsu::processors {
namespace {

template <typename T>
bool VersionLess(const Versioned<T>& a, const Versioned<T>& b) {
  return std::tie(a.time_us, a.source, a.id) < std::tie(b.time_us, b.source, b.id);
}

// The newest version at or before `time_us`, or nullptr.
template <typename T>
const T* At(const std::vector<Versioned<T>>& versions, int64_t time_us) {
  auto it = std::upper_bound(versions.begin(), versions.end(), time_us,
                             [](int64_t t, const Versioned<T>& v) { return t < v.time_us; });
  if (it == versions.begin()) return nullptr;
  return &std::prev(it)->value;
}

template <typename T>
void InsertSorted(std::vector<Versioned<T>>* versions, Versioned<T> version) {
  auto it = std::upper_bound(versions->begin(), versions->end(), version, VersionLess<T>);
  versions->insert(it, std::move(version));
}

void AppendBigEndian64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

constexpr char kOrgPrefix = 'o';
constexpr char kProgramPrefix = 'p';
constexpr char kTargetPrefix = 'k';

}  // namespace

int FamilyRankOf(EventType type) { return EventFamilyRank(type); }

std::string EventSortKey(const Event& event) {
  std::string key;
  EventSortKeyInto(event, &key);
  return key;
}

void EventSortKeyInto(const Event& event, std::string* into) {
  into->clear();
  into->reserve(10 + event.source.size() + event.id.size());
  AppendBigEndian64(into, static_cast<uint64_t>(event.time_us) ^ (uint64_t{1} << 63));
  into->push_back(static_cast<char>(FamilyRankOf(event.type)));
  into->append(event.source);
  into->push_back('\0');
  into->append(event.id);
}

bool ReferenceTable::Add(const Event& event, const SourcePosition& position) {
  return AddDecoded(event, position, /*pending=*/true);
}

bool ReferenceTable::AddDecoded(const Event& event, const SourcePosition& position, bool pending) {
  if (!seen_.emplace(event.source, event.id).second) return false;
  const EventRef ref{static_cast<uint8_t>(event.type), event.source, event.id, event.time_us,
                     position.topic, position.partition, position.offset};
  std::string row_key;
  switch (event.type) {
    case EventType::kOrgUnitDefined: {
      const auto& org = event.As<OrgUnitDefined>();
      InsertSorted(&orgs_[org.org_unit_id],
                   Versioned<OrgUnitDefined>{event.time_us, event.source, event.id, org, ref});
      row_key = std::string(1, kOrgPrefix) + '\0' + org.org_unit_id;
      break;
    }
    case EventType::kProgramDefined: {
      const auto& program = event.As<ProgramDefined>();
      ProgramDefined sorted = program;
      std::sort(sorted.steps.begin(), sorted.steps.end(),
                [](const ProgramStep& a, const ProgramStep& b) { return a.step < b.step; });
      InsertSorted(&programs_[program.program_id],
                   Versioned<ProgramDefined>{event.time_us, event.source, event.id, sorted, ref});
      program_version_times_.insert(
          std::upper_bound(program_version_times_.begin(), program_version_times_.end(),
                           event.time_us),
          event.time_us);
      row_key = std::string(1, kProgramPrefix) + '\0' + program.program_id;
      break;
    }
    case EventType::kKpiTargetSet: {
      const auto& target = event.As<KpiTargetSet>();
      InsertSorted(&targets_[TargetKey{target.org_unit_id, target.period, target.talent_profile,
                                       target.metric}],
                   Versioned<KpiTargetSet>{event.time_us, event.source, event.id, target, ref});
      row_key = std::string(1, kTargetPrefix) + '\0' + target.org_unit_id + '\0' + target.period +
                '\0' + target.talent_profile + '\0' + target.metric;
      break;
    }
    default:
      return false;  // not a reference type: the caller's bug, ignored
  }
  if (pending) {
    row_key.push_back('\0');
    row_key.append(EventSortKey(event));
    pending_rows_.emplace_back(std::move(row_key), EncodeStoredEvent(event, position));
  }
  return true;
}

const OrgUnitDefined* ReferenceTable::OrgUnitAt(std::string_view id, int64_t time_us) const {
  auto it = orgs_.find(id);
  return it == orgs_.end() ? nullptr : At(it->second, time_us);
}

const OrgUnitDefined* ReferenceTable::LatestOrgUnit(std::string_view id) const {
  auto it = orgs_.find(id);
  return it == orgs_.end() || it->second.empty() ? nullptr : &it->second.back().value;
}

const EventRef* ReferenceTable::LatestOrgUnitRef(std::string_view id) const {
  auto it = orgs_.find(id);
  return it == orgs_.end() || it->second.empty() ? nullptr : &it->second.back().ref;
}

std::vector<std::string> ReferenceTable::Children(std::string_view id) const {
  std::vector<std::string> children;
  for (const auto& [org_id, versions] : orgs_) {
    const auto& latest = versions.back().value;
    if (latest.parent_id && *latest.parent_id == id && org_id != id) children.push_back(org_id);
  }
  return children;
}

std::vector<std::string> ReferenceTable::RootOrgUnits() const {
  std::vector<std::string> roots;
  for (const auto& [org_id, versions] : orgs_) {
    const auto& parent = versions.back().value.parent_id;
    if (!parent || orgs_.find(*parent) == orgs_.end()) roots.push_back(org_id);
  }
  return roots;
}

std::vector<std::string> ReferenceTable::Subtree(std::string_view id) const {
  // Parent -> children index of the latest tree, built per call: the tree is
  // small (hundreds of units) and queries are rare compared to events.
  std::map<std::string, std::vector<std::string>, std::less<>> children;
  for (const auto& [org_id, versions] : orgs_) {
    const auto& latest = versions.back().value;
    if (latest.parent_id) children[*latest.parent_id].push_back(org_id);
  }
  std::set<std::string> visited;
  std::vector<std::string> stack{std::string(id)};
  while (!stack.empty()) {
    std::string current = std::move(stack.back());
    stack.pop_back();
    if (!visited.insert(current).second) continue;
    auto it = children.find(current);
    if (it != children.end()) stack.insert(stack.end(), it->second.begin(), it->second.end());
  }
  return std::vector<std::string>(visited.begin(), visited.end());
}

const ProgramDefined* ReferenceTable::ProgramAt(std::string_view id, int64_t time_us) const {
  auto it = programs_.find(id);
  return it == programs_.end() ? nullptr : At(it->second, time_us);
}

const ProgramDefined* ReferenceTable::LatestProgram(std::string_view id) const {
  auto it = programs_.find(id);
  return it == programs_.end() || it->second.empty() ? nullptr : &it->second.back().value;
}

std::vector<const ProgramDefined*> ReferenceTable::ProgramsAt(int64_t time_us) const {
  std::vector<const ProgramDefined*> out;
  for (const auto& [id, versions] : programs_) {
    if (const ProgramDefined* program = At(versions, time_us)) out.push_back(program);
  }
  return out;
}

const ProgramDefined* ReferenceTable::ProgramForProfile(std::string_view profile,
                                                        int64_t time_us) const {
  if (profile.empty()) return nullptr;
  for (const auto& [id, versions] : programs_) {  // program_id order
    const ProgramDefined* program = At(versions, time_us);
    if (program != nullptr && program->talent_profile == profile) return program;
  }
  return nullptr;
}

std::vector<std::string> ReferenceTable::ProgramIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, versions] : programs_) ids.push_back(id);
  return ids;
}

uint64_t ReferenceTable::ProgramVersionsAtOrBefore(int64_t time_us) const {
  return static_cast<uint64_t>(
      std::upper_bound(program_version_times_.begin(), program_version_times_.end(), time_us) -
      program_version_times_.begin());
}

template <typename Fn>
void ReferenceTable::ForEachLatestTarget(std::string_view org_unit_id, std::string_view period,
                                         std::string_view profile, Fn&& fn) const {
  auto it = targets_.lower_bound(
      TargetKey{std::string(org_unit_id), std::string(period), std::string(profile), ""});
  for (; it != targets_.end(); ++it) {
    const auto& [org, per, prof, metric] = it->first;
    if (org != org_unit_id || per != period || prof != profile) break;
    fn(metric, it->second.back());
  }
}

std::map<std::string, double> ReferenceTable::TargetsFor(std::string_view org_unit_id,
                                                         std::string_view period,
                                                         std::string_view profile) const {
  std::map<std::string, double> out;
  ForEachLatestTarget(org_unit_id, period, profile,
                      [&](const std::string& metric, const Versioned<KpiTargetSet>& latest) {
                        out[metric] = latest.value.target;
                      });
  return out;
}

std::map<std::string, EventRef> ReferenceTable::TargetRefsFor(std::string_view org_unit_id,
                                                              std::string_view period,
                                                              std::string_view profile) const {
  std::map<std::string, EventRef> out;
  ForEachLatestTarget(org_unit_id, period, profile,
                      [&](const std::string& metric, const Versioned<KpiTargetSet>& latest) {
                        out[metric] = latest.ref;
                      });
  return out;
}

std::vector<std::pair<std::string, std::string>> ReferenceTable::TakePendingRows() {
  return std::exchange(pending_rows_, {});
}

Status ReferenceTable::Load(const StateStore& store) {
  *this = ReferenceTable();
  auto it = store.NewIterator(kReferenceFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto decoded = DecodeStoredEvent(it->value());
    if (!decoded.ok()) return decoded.status().WithContext("reference row");
    AddDecoded(decoded->event, decoded->position, /*pending=*/false);
  }
  return it->status();
}

}  // namespace jiritsu::processors
