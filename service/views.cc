#include "service/views.h"

#include <chrono>
#include <filesystem>

#include "core/logging.h"
#include "core/thread_name.h"
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

Result<std::string> ViewSnapshot::Memoized(const std::string& key, Computation compute) const {
  {
    std::lock_guard lock(memo_mutex_);
    auto it = memo_index_.find(key);
    if (it != memo_index_.end()) {
      memo_.splice(memo_.begin(), memo_, it->second);
      it->second->used = true;
      if (memo_hits != nullptr) memo_hits->Increment();
      return it->second->body;
    }
  }
  if (memo_misses != nullptr) memo_misses->Increment();
  Result<std::string> computed = compute(*query);
  if (!computed.ok() || computed->size() > kOrgMemoBytes / 4) return computed;
  std::lock_guard lock(memo_mutex_);
  StoreLocked(MemoEntry{key, *computed, std::move(compute), true});
  return computed;
}

void ViewSnapshot::StoreLocked(MemoEntry entry) const {
  if (memo_index_.contains(entry.key)) return;  // a concurrent miss stored it
  memo_bytes_ += entry.key.size() + entry.body.size();
  memo_.push_front(std::move(entry));
  memo_index_.emplace(memo_.front().key, memo_.begin());
  while (memo_.size() > kOrgMemoEntries || memo_bytes_ > kOrgMemoBytes) {
    const MemoEntry& old = memo_.back();
    memo_bytes_ -= old.key.size() + old.body.size();
    memo_index_.erase(old.key);
    memo_.pop_back();
  }
}

size_t ViewSnapshot::WarmMemoFrom(const ViewSnapshot& previous, size_t max) const {
  std::vector<std::pair<std::string, Computation>> wanted;
  {
    std::lock_guard lock(previous.memo_mutex_);
    for (const MemoEntry& entry : previous.memo_) {
      if (wanted.size() == max) break;
      if (entry.used) wanted.emplace_back(entry.key, entry.compute);
    }
  }
  size_t stored = 0;
  // Least recent first, so the LRU order of the new memo matches the old one.
  for (auto it = wanted.rbegin(); it != wanted.rend(); ++it) {
    Result<std::string> computed = it->second(*query);
    if (!computed.ok() || computed->size() > kOrgMemoBytes / 4) continue;
    std::lock_guard lock(memo_mutex_);
    StoreLocked(MemoEntry{it->first, std::move(computed).value(), it->second, false});
    ++stored;
  }
  return stored;
}

size_t ViewSnapshot::memo_entries() const {
  std::lock_guard lock(memo_mutex_);
  return memo_.size();
}

ViewReader::ViewReader(std::string views_root, std::vector<std::string> families,
                       int64_t refresh_ms, std::string as_of_dir, KeyStore* keys,
                       MetricsRegistry* metrics)
    : views_root_(std::move(views_root)), families_(std::move(families)),
      refresh_ms_(refresh_ms), as_of_dir_(std::move(as_of_dir)), keys_(keys),
      block_cache_(StateStore::NewBlockCache(kViewsBlockCacheBytes)) {
  if (metrics != nullptr) {
    const std::string opens = "jiritsu_views_opens_total";
    const std::string opens_help = "Opens of the current views snapshot, by who opened it";
    opens_by_request_metric_ = metrics->GetCounter(opens, opens_help, {{"by", "request"}});
    opens_by_refresher_metric_ = metrics->GetCounter(opens, opens_help, {{"by", "refresher"}});
    open_errors_metric_ = metrics->GetCounter(
        "jiritsu_views_open_errors_total",
        "Failed opens of the current views (the previous snapshot stays served)");
    const std::string memo = "jiritsu_views_org_memo_total";
    const std::string memo_help = "Org roll-up queries answered from the per-snapshot memo (hit) or computed (miss)";
    memo_hits_metric_ = metrics->GetCounter(memo, memo_help, {{"result", "hit"}});
    memo_misses_metric_ = metrics->GetCounter(memo, memo_help, {{"result", "miss"}});
    memo_warmed_metric_ = metrics->GetCounter(
        "jiritsu_views_org_memo_warmed_total",
        "Org roll-up answers the refresher computed on a new snapshot before publishing it");
  }
}

ViewReader::~ViewReader() { Stop(); }

void ViewReader::Start() {
  std::lock_guard lock(mutex_);
  if (refresh_ms_ <= 0 || refresher_running_) return;
  stopping_ = false;
  refresher_running_ = true;
  refresher_ = std::thread([this] {
    NameCurrentThread("jr-views");
    RefreshLoop();
  });
}

void ViewReader::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!refresher_running_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  refresher_.join();
  retired_.clear();  // requests still holding one keep it alive
  std::lock_guard lock(mutex_);
  refresher_running_ = false;
}

ViewReader::Stats ViewReader::stats() const {
  Stats stats;
  stats.opens_by_request = opens_by_request_.load();
  stats.opens_by_refresher = opens_by_refresher_.load();
  stats.open_errors = open_errors_.load();
  stats.closed_by_refresher = closed_by_refresher_.load();
  stats.memo_warmed = memo_warmed_.load();
  return stats;
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::Open(const std::string& dir,
                                                             uint64_t ticket) {
  auto snapshot = std::make_shared<ViewSnapshot>();
  snapshot->dir = dir;
  snapshot->ticket = ticket;
  snapshot->memo_hits = memo_hits_metric_;
  snapshot->memo_misses = memo_misses_metric_;
  // The runner may delete files (compaction) while we open: retry once.
  Result<std::unique_ptr<StateStore>> store = StateStore::OpenReadOnly(dir, families_, block_cache_);
  if (!store.ok()) store = StateStore::OpenReadOnly(dir, families_, block_cache_);
  if (!store.ok()) return store.status();
  snapshot->store = std::move(store).value();
  processors::ProjectorOptions options;
  options.key_store = keys_;
  JIRITSU_ASSIGN_OR_RETURN(snapshot->query,
                           processors::QueryService::Open(snapshot->store.get(), options));
  snapshot->opened_ms = SteadyMs();
  return std::shared_ptr<const ViewSnapshot>(std::move(snapshot));
}

std::shared_ptr<const ViewSnapshot> ViewReader::PublishLocked(
    std::shared_ptr<const ViewSnapshot> opened) {
  if (current_ && current_->ticket > opened->ticket) return opened;  // raced by a newer open
  std::swap(current_, opened);
  return opened;
}

void ViewReader::CountOpenError(const Status& status, const char* by) {
  ++open_errors_;
  if (open_errors_metric_ != nullptr) open_errors_metric_->Increment();
  if (status.code() == StatusCode::kNotFound) {
    ModuleLogger("service")->debug("views not opened ({}): {}", by, status.ToString());
  } else {
    ModuleLogger("service")->warn("views not opened ({}), serving the previous snapshot: {}", by,
                                  status.ToString());
  }
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::Current() {
  std::unique_lock lock(mutex_);
  if (current_ && (refresher_running_ || SteadyMs() - current_->opened_ms < refresh_ms_ ||
                   refreshing_)) {
    // Kept fresh by the refresher, fresh enough, or another request is
    // reopening: serve the snapshot we have rather than wait for RocksDB to
    // open (keeps query latency flat).
    return current_;
  }
  refreshing_ = true;
  const uint64_t ticket = ++next_ticket_;
  lock.unlock();
  Result<std::shared_ptr<const ViewSnapshot>> opened = OpenCurrent(ticket);
  std::shared_ptr<const ViewSnapshot> previous;  // released after the unlock
  lock.lock();
  refreshing_ = false;
  if (!opened.ok()) {
    lock.unlock();
    CountOpenError(opened.status(), "request");
    lock.lock();
    // Keep serving the previous snapshot rather than failing every query.
    if (current_) return current_;
    return opened.status();
  }
  ++opens_by_request_;
  if (opens_by_request_metric_ != nullptr) opens_by_request_metric_->Increment();
  previous = PublishLocked(*opened);
  std::shared_ptr<const ViewSnapshot> result = current_;
  lock.unlock();
  return result;
}

void ViewReader::RefreshLoop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, std::chrono::milliseconds(refresh_ms_), [this] { return stopping_; });
    if (stopping_) break;
    const uint64_t ticket = ++next_ticket_;
    lock.unlock();
    RefreshOnce(ticket);
    ReleaseRetired();
    lock.lock();
  }
}

void ViewReader::RefreshOnce(uint64_t ticket) {
  Result<std::shared_ptr<const ViewSnapshot>> opened = OpenCurrent(ticket);
  if (opened.ok()) {
    // Prepare before publishing: the first manager request after a refresh
    // must not pay the scan of every employee state.
    Result<const std::map<std::string, std::vector<std::string>>*> reports = (*opened)->Reports();
    if (!reports.ok()) return CountOpenError(reports.status(), "refresher");
  } else {
    return CountOpenError(opened.status(), "refresher");
  }
  std::shared_ptr<const ViewSnapshot> previous;
  {
    std::lock_guard lock(mutex_);
    previous = current_;
  }
  if (previous) {
    // The org answers requests asked for on the previous snapshot, computed
    // here instead of by the first request after the publish.
    const size_t warmed = (*opened)->WarmMemoFrom(*previous, kOrgMemoWarmEntries);
    memo_warmed_ += warmed;
    if (memo_warmed_metric_ != nullptr) memo_warmed_metric_->Increment(static_cast<double>(warmed));
    previous.reset();
  }
  {
    std::lock_guard publish(mutex_);
    previous = PublishLocked(*opened);
  }
  ++opens_by_refresher_;
  if (opens_by_refresher_metric_ != nullptr) opens_by_refresher_metric_->Increment();
  if (previous) retired_.push_back(std::move(previous));
}

void ViewReader::ReleaseRetired() {
  // A retired snapshot cannot be handed out again, so use_count() == 1 means
  // no request holds it any more: destroying it here closes its DB on this
  // thread instead of on the request that happened to finish last.
  for (auto it = retired_.begin(); it != retired_.end();) {
    if (it->use_count() == 1) {
      it->reset();
      ++closed_by_refresher_;
      it = retired_.erase(it);
    } else {
      ++it;
    }
  }
}

Result<std::shared_ptr<const ViewSnapshot>> ViewReader::OpenCurrent(uint64_t ticket) {
  ViewGenerations generations(views_root_);
  JIRITSU_ASSIGN_OR_RETURN(int generation, generations.Current());
  const std::string dir = generations.DirFor(generation);
  if (generation == 0 || !std::filesystem::is_directory(dir)) {
    return NotFound("no views yet under " + views_root_);
  }
  return Open(dir, ticket);
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
  JIRITSU_ASSIGN_OR_RETURN(std::shared_ptr<const ViewSnapshot> snapshot, Open(dir, 0));
  // As-of stores never change (the runtime refuses to advance them).
  if (as_of_.size() >= 16) as_of_.erase(as_of_.begin());
  as_of_[name] = snapshot;
  return snapshot;
}

void ViewReader::Invalidate() {
  std::shared_ptr<const ViewSnapshot> dropped;
  std::lock_guard lock(mutex_);
  dropped = std::move(current_);
}

}  // namespace jiritsu::service
