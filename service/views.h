// ViewReader: read access to the views for the HTTP query endpoints.
//
// The runner in the same process writes the current generation; readers
// open it read-only (StateStore::OpenReadOnly, which sees the store as of
// opening and takes no lock) and keep that snapshot for `refresh_ms`; the
// next request after that reopens CURRENT (outside the lock: the other
// requests keep the previous snapshot meanwhile), so a swapped-in generation
// is picked up within refresh_ms and queries never block the runner. Snapshots
// are shared_ptr: a request keeps its snapshot alive while a newer one is
// opened. As-of audit stores (`jiritsu replay --as-of --target DIR`) are
// opened from <as_of_dir>/<name> on demand, read-only, cached by name.
//
// Lifecycle: outlives the server. Thread-safety: Current() and AsOf() are
// thread-safe; a snapshot's QueryService const methods are thread-safe.
// Failure: kNotFound when nothing was projected yet / no such as-of store,
// kInvalidArgument for a bad as-of store name, store errors as returned.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/state_store.h"
#include "core/status.h"
#include "processors/query.h"

namespace jiritsu::service {

struct ViewSnapshot {
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<processors::QueryService> query;
  int64_t opened_ms = 0;

  // Manager -> current reports, computed on first use (one scan of the
  // employee states per snapshot). Thread-safe.
  Result<const std::map<std::string, std::vector<std::string>>*> Reports() const;

 private:
  mutable std::once_flag reports_once_;
  mutable Status reports_status_;
  mutable std::map<std::string, std::vector<std::string>> reports_;
};

class ViewReader {
 public:
  // `keys` (may be null) reveals personal fields in query results.
  ViewReader(std::string views_root, std::vector<std::string> families, int64_t refresh_ms,
             std::string as_of_dir, KeyStore* keys = nullptr);

  Result<std::shared_ptr<const ViewSnapshot>> Current();
  Result<std::shared_ptr<const ViewSnapshot>> AsOf(const std::string& name);
  // Drops the cached snapshot (tests, after a known write).
  void Invalidate();

 private:
  Result<std::shared_ptr<const ViewSnapshot>> Open(const std::string& dir);
  Result<std::shared_ptr<const ViewSnapshot>> OpenCurrent();
  std::string views_root_;
  std::vector<std::string> families_;
  int64_t refresh_ms_;
  std::string as_of_dir_;
  KeyStore* keys_;
  std::mutex mutex_;
  std::shared_ptr<const ViewSnapshot> current_;
  bool refreshing_ = false;  // one request reopens; the others keep the old snapshot
  std::map<std::string, std::shared_ptr<const ViewSnapshot>> as_of_;
};

int64_t SteadyMs();

}  // namespace jiritsu::service
