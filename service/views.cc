#include "service/views.h"

#include <chrono>
#include <filesystem>

#include "core/view_generations.h"

namespace jiritsu::service {

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Result<const std::map<std::string, std::vector<std::string>>*> ViewSnapshot::Reports() const {
  std::call_once(reports_once_, [this] {
    Result<std::map<std::string, std::vector<std::string>>> computed = query->ReportsByManager();
    if (computed.ok()) {
      reports_ = std::move(computed).value();
    } else {
      reports_status_ = computed.status();
    }
  });
  if (!reports_status_.ok()) return reports_status_;
  return &reports_;
}

ViewReader::ViewReader(std::string views_root, std::vector<std::string> families,
                       int64_t refresh_ms, std::string as_of_dir, KeyStore* keys)
    : views_root_(std::move(views_root)), families_(std::move(families)),
      refresh_ms_(refresh_ms), as_of_dir_(std::move(as_of_dir)), keys_(keys) {}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::Open(const std::string& dir) {
  auto snapshot = std::make_shared<ViewSnapshot>();
  snapshot->dir = dir;
  // The runner may delete files (compaction) while we open: retry once.
  Result<std::unique_ptr<StateStore>> store = StateStore::OpenReadOnly(dir, families_);
  if (!store.ok()) store = StateStore::OpenReadOnly(dir, families_);
  if (!store.ok()) return store.status();
  snapshot->store = std::move(store).value();
  processors::ProjectorOptions options;
  options.key_store = keys_;
  JIRITSU_ASSIGN_OR_RETURN(snapshot->query,
                           processors::QueryService::Open(snapshot->store.get(), options));
  snapshot->opened_ms = SteadyMs();
  return std::shared_ptr<const ViewSnapshot>(std::move(snapshot));
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::Current() {
  std::unique_lock lock(mutex_);
  if (current_ && (SteadyMs() - current_->opened_ms < refresh_ms_ || refreshing_)) {
    // Fresh enough, or another request is reopening: serve the snapshot we
    // have rather than wait for RocksDB to open (keeps query latency flat).
    return current_;
  }
  refreshing_ = true;
  lock.unlock();
  Result<std::shared_ptr<const ViewSnapshot>> opened = OpenCurrent();
  lock.lock();
  refreshing_ = false;
  if (!opened.ok()) {
    // Keep serving the previous snapshot rather than failing every query.
    if (current_) return current_;
    return opened.status();
  }
  current_ = *opened;
  return current_;
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::OpenCurrent() {
  ViewGenerations generations(views_root_);
  JIRITSU_ASSIGN_OR_RETURN(int generation, generations.Current());
  const std::string dir = generations.DirFor(generation);
  if (generation == 0 || !std::filesystem::is_directory(dir)) {
    return NotFound("no views yet under " + views_root_);
  }
  return Open(dir);
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::AsOf(const std::string& name) {
  if (as_of_dir_.empty()) return NotFound("no as-of stores are configured ([query] as_of_dir)");
  if (name.empty() || name.size() > 128 || name.front() == '.' ||
      name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
          std::string::npos) {
    return InvalidArgument("as_of_store: must match [A-Za-z0-9._-]{1,128} and not start with '.'");
  }
  std::lock_guard lock(mutex_);
  auto it = as_of_.find(name);
  if (it != as_of_.end()) return it->second;
  const std::string dir = as_of_dir_ + "/" + name;
  if (!std::filesystem::is_directory(dir)) return NotFound("as-of store \"" + name + "\" does not exist");
  JIRITSU_ASSIGN_OR_RETURN(std::shared_ptr<const ViewSnapshot> snapshot, Open(dir));
  // As-of stores never change (the runtime refuses to advance them).
  if (as_of_.size() >= 16) as_of_.erase(as_of_.begin());
  as_of_[name] = snapshot;
  return snapshot;
}

void ViewReader::Invalidate() {
  std::lock_guard lock(mutex_);
  current_.reset();
}

}  // namespace jiritsu::service
