// Glue between the CLI and the processors: the one place that knows which
// Projector the product runs and how its views are opened for reading.
//
// Thread-safety: free functions, reentrant.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/key_store.h"
#include "core/memory_budget.h"
#include "core/projection_runtime.h"
#include "core/projector.h"
#include "core/state_store.h"
#include "ops/cli.h"
#include "processors/options.h"
#include "processors/view_version.h"

namespace jiritsu {

inline constexpr int32_t kViewVersion = processors::kViewVersion;

// Live runs (jiritsu run, serve, bench): an employee's facts are published
// at most this often (ProjectorOptions::facts_interval_ms), so the global
// views follow the private ones by up to about two seconds. At 1 s the
// facts took ~13% more CPU and a live run's p99 latency stayed at ~50-60 ms
// (docs/performance.md, thirteenth pass).
inline constexpr int64_t kDefaultFactsIntervalMs = 2000;

// `keys` (may be nullptr: keys are then left alone) is where the projector
// deletes the key of an employee whose erasure it projects; it must outlive
// the projector. `memory` sizes its caches (core/memory_budget.h).
// `tuning`: the live run's knobs that never change a view.
struct ProjectorTuning {
  // ProjectorOptions::facts_interval_ms (0: every checkpoint; rebuilds
  // always publish at once).
  int64_t facts_interval_ms = 0;
  int32_t facts_budget_percent = processors::kDefaultFactsBudgetPercent;
  int32_t warm_cache_percent = processors::kDefaultWarmCachePercent;
};
std::unique_ptr<Projector> NewProjector(KeyStore* keys = nullptr, MemoryBudget memory = {},
                                        ProjectorTuning tuning = {});
// Sets the runtime's shares of `memory` (views store, uncommitted bytes).
void ApplyMemoryBudget(MemoryBudget memory, RuntimeOptions* options);
// The key store of the selection (KeysDir); its directory is created by the
// first key or erasure written.
Result<std::unique_ptr<KeyStore>> OpenKeyStore(const LogSelection& selection);
// Every column family holding views (the projector's plus the dead letters).
std::vector<std::string> ViewColumnFamilies();
// The families whose content is identical on every instance of a consumer
// group (global tables; the facts carry a hash of each employee's private
// views), so their digest compares one instance with N.
std::vector<std::string> GlobalViewFamilies();

// Resolves the views to read: `explicit_dir` (an as-of store or a
// generation) when given, else the current generation under ViewsRoot().
// kNotFound when nothing was projected there yet.
Result<std::string> ResolveViewsDir(const LogSelection& selection, const std::string& explicit_dir);
Result<std::unique_ptr<StateStore>> OpenViewsForReading(const std::string& views_dir);

}  // namespace jiritsu
