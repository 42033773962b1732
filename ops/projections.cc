#include "ops/projections.h"

#include <filesystem>

#include "core/projection_runtime.h"
#include "core/view_generations.h"
#include "processors/aggregates.h"
#include "processors/jiritsu_projector.h"
#include "processors/reference_table.h"

namespace jiritsu {

std::unique_ptr<Projector> NewProjector(KeyStore* keys, MemoryBudget memory,
                                        ProjectorTuning tuning) {
  ProjectorOptions options;
  options.facts_interval_ms = tuning.facts_interval_ms;
  options.facts_budget_percent = tuning.facts_budget_percent;
  options.warm_cache_percent = tuning.warm_cache_percent;
  options.key_store = keys;
  options.cache_max_bytes = memory.employee_cache_bytes();
  options.aggregates_cache_max_bytes = memory.aggregates_cache_bytes();
  return NewJiritsuProjector(options);
}

void ApplyMemoryBudget(MemoryBudget memory, RuntimeOptions* options) {
  options->store_memory_bytes = memory.views_store_bytes();
  options->checkpoint_uncommitted_bytes = memory.uncommitted_bytes();
  options->deferred_facts_bytes = memory.deferred_facts_bytes();
}

Result<std::unique_ptr<KeyStore>> OpenKeyStore(const LogSelection& selection) {
  JIRITSU_ASSIGN_OR_RETURN(std::unique_ptr<FileKeyStore> store,
                           FileKeyStore::Open(KeysDir(selection)));
  return std::unique_ptr<KeyStore>(std::move(store));
}

std::vector<std::string> ViewColumnFamilies() {
  std::vector<std::string> families = processors::JiritsuColumnFamilies();
  families.emplace_back(kDeadLetterFamily);
  return families;
}

std::vector<std::string> GlobalViewFamilies() {
  return {std::string(processors::kReferenceFamily), std::string(processors::kFactsFamily),
          std::string(processors::kKpiFamily), std::string(processors::kOrgIndexFamily),
          std::string(kDeadLetterFamily)};
}

Result<std::string> ResolveViewsDir(const LogSelection& selection,
                                    const std::string& explicit_dir) {
  if (!explicit_dir.empty()) {
    if (!std::filesystem::is_directory(explicit_dir)) {
      return NotFound("views directory " + explicit_dir + " does not exist");
    }
    return explicit_dir;
  }
  ViewGenerations generations(ViewsRoot(selection));
  JIRITSU_ASSIGN_OR_RETURN(int current, generations.Current());
  if (current == 0 || !std::filesystem::is_directory(generations.DirFor(current))) {
    return NotFound("no views under " + generations.root() +
                    " yet: run `jiritsu run` (or `jiritsu replay`) first");
  }
  return generations.DirFor(current);
}

Result<std::unique_ptr<StateStore>> OpenViewsForReading(const std::string& views_dir) {
  return StateStore::OpenReadOnly(views_dir, ViewColumnFamilies());
}

}  // namespace jiritsu
