#include "processors/view_scopes.h"

#include <memory>
#include <set>
#include <string>

#include "processors/aggregates.h"
#include "processors/jiritsu_projector.h"
#include "processors/reference_table.h"

namespace jiritsu::processors {
namespace {

struct SubtreeMembers {
  std::set<std::string, std::less<>> units;
  std::set<std::string, std::less<>> employees;
};

Status AddSubtree(const StateStore& store, std::string_view org_unit, SubtreeMembers* members) {
  ReferenceTable reference;
  JIRITSU_RETURN_IF_ERROR(reference.Load(store));
  if (reference.LatestOrgUnit(org_unit) == nullptr) return Status::Ok();
  for (auto& unit : reference.Subtree(org_unit)) members->units.insert(std::move(unit));
  return Status::Ok();
}

Status AddMembers(const StateStore& store, SubtreeMembers* members) {
  for (const auto& unit : members->units) {
    const std::string prefix = unit + '\0';
    auto it = store.NewIterator(kOrgIndexFamily);
    for (it->Seek(prefix); it->Valid() && it->key().substr(0, prefix.size()) == prefix; it->Next()) {
      members->employees.emplace(it->key().substr(prefix.size()));
    }
    if (it->status().code() == StatusCode::kNotFound) continue;  // no such family yet
    JIRITSU_RETURN_IF_ERROR(it->status());
  }
  return Status::Ok();
}

std::string_view FirstSegment(std::string_view key) { return key.substr(0, key.find('\0')); }

}  // namespace

Result<KeyScope> OrgSubtreeScope(const StateStore& live, const StateStore& rebuilt,
                                 std::string_view org_unit) {
  auto members = std::make_shared<SubtreeMembers>();
  JIRITSU_RETURN_IF_ERROR(AddSubtree(live, org_unit, members.get()));
  JIRITSU_RETURN_IF_ERROR(AddSubtree(rebuilt, org_unit, members.get()));
  if (members->units.empty()) {
    return NotFound("org unit " + std::string(org_unit) +
                    " is not defined in the live or the rebuilt reference data");
  }
  JIRITSU_RETURN_IF_ERROR(AddMembers(live, members.get()));
  JIRITSU_RETURN_IF_ERROR(AddMembers(rebuilt, members.get()));

  KeyScope scope;
  scope.description = "org subtree " + std::string(org_unit) + ": " +
                      std::to_string(members->units.size()) + " units, " +
                      std::to_string(members->employees.size()) + " employees";
  scope.contains = [members](std::string_view family, std::string_view key) {
    if (family == kJournalFamily || family == kRejectionsFamily) {
      return members->employees.count(FirstSegment(key)) > 0;
    }
    if (family == kEmployeeFamily) {  // "h\0<employee>", "s\0<employee>"
      return key.size() > 2 && key[1] == '\0' && members->employees.count(key.substr(2)) > 0;
    }
    if (family == kFactsFamily) return members->employees.count(key) > 0;
    if (family == kKpiFamily || family == kOrgIndexFamily) {
      return members->units.count(FirstSegment(key)) > 0;
    }
    return false;
  };
  return scope;
}

}  // namespace jiritsu::processors
