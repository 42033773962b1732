// ViewReader: read access to the views for the HTTP query endpoints.
//
// The runner in the same process writes the current generation; readers
// open it read-only (StateStore::OpenReadOnly, which sees the store as of
// opening and takes no lock) and share that snapshot (shared_ptr: a request
// keeps its snapshot alive while a newer one is published). As-of audit
// stores (`jiritsu replay --as-of --target DIR`) are opened from
// <as_of_dir>/<name> on demand, read-only, cached by name.
//
// How the current snapshot is refreshed, by `refresh_ms`:
// - > 0 with Start() called (serve): a background refresher thread owned by
//   the reader reopens CURRENT every refresh_ms (counted from the previous
//   attempt's end), prepares the new snapshot (computes Reports(), the scan
//   manager authorization needs, and recomputes the org roll-up answers
//   requests used on the previous snapshot: WarmMemoFrom) and publishes it
//   under the mutex. Requests
//   only take the published pointer; a request opens the store itself only
//   when there is no snapshot at all (before the first publish, after
//   Invalidate(), or while every open so far failed). A failed refresh (the
//   open or the Reports() scan) keeps the previous snapshot, is logged (warn;
//   "no views yet" at debug) and counted (stats(),
//   jiritsu_views_open_errors_total).
// - > 0 without Start(): the request that finds its snapshot older than
//   refresh_ms reopens it (outside the lock; the others keep the old one).
// - 0: every request reopens synchronously ("every query sees the latest
//   checkpoint"; the tests rely on it). The refresher is not started.
// Where a snapshot's RocksDB instance closes: a snapshot the refresher
// replaced stays on its retire list until no request holds it, and is
// destroyed on the refresher thread, so with the refresher running no request
// thread closes a DB. Without it (refresh_ms = 0, or no Start()), the thread
// dropping the last reference closes it: the request that replaced it or the
// last request that used it; Invalidate() and the destructor on their caller.
// All snapshots share one RocksDB block cache of kViewsBlockCacheBytes, so a
// reopen finds the unchanged table files' blocks cached.
//
// Lifecycle: construct -> Start() (optional) -> ... -> Stop() or destroy
// (Stop joins the refresher; idempotent). Outlives the server's requests.
// Thread-safety: Current(), AsOf(), Invalidate(), stats() are thread-safe;
// Start()/Stop() from the owner's thread; a snapshot's const methods
// (QueryService, Reports(), Memoized()) are thread-safe.
// Failure: kNotFound when nothing was projected yet / no such as-of store,
// kInvalidArgument for a bad as-of store name, store errors as returned.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/metrics.h"
#include "core/state_store.h"
#include "core/status.h"
#include "processors/query.h"

namespace jiritsu::service {

// Block cache shared by every snapshot one ViewReader opens (current and
// as-of). 64 MiB, as a private read-only store's cache; it replaces one
// such cache per open snapshot.
inline constexpr size_t kViewsBlockCacheBytes = 64 << 20;
// Per-snapshot memo of org roll-up answers: at most this many answers and
// bytes; the least recently used goes first.
inline constexpr size_t kOrgMemoEntries = 256;
inline constexpr size_t kOrgMemoBytes = 16 << 20;
// The refresher recomputes at most this many of the previous snapshot's
// used memo entries before publishing the next one.
inline constexpr size_t kOrgMemoWarmEntries = 32;

struct ViewSnapshot {
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<processors::QueryService> query;
  int64_t opened_ms = 0;
  uint64_t ticket = 0;  // order in which opens started: a later ticket is newer data
  Counter* memo_hits = nullptr;    // optional metrics
  Counter* memo_misses = nullptr;

  // Manager -> current reports, computed on first use (one scan of the
  // employee states per snapshot; the refresher computes it before
  // publishing). Thread-safe.
  Result<const std::map<std::string, std::vector<std::string>>*> Reports() const;

  // How a memoized answer is computed from a snapshot's QueryService; kept
  // with the answer so the next snapshot can recompute it (WarmMemoFrom).
  using Computation = std::function<Result<std::string>(const processors::QueryService&)>;
  // The answer memoized under `key` (the full request parameters, after
  // authorization), or compute(*query) stored under it when it succeeds. The
  // snapshot is immutable, so the memo is exact; errors are not stored. Two
  // concurrent misses of one key both compute (same answer). Thread-safe.
  Result<std::string> Memoized(const std::string& key, Computation compute) const;
  // Recomputes on this snapshot the memo entries of `previous` that requests
  // used while it was current (most recent first, at most `max`), so the
  // first request after a refresh finds its answer. An entry only warmed and
  // never asked for is not carried further. Returns how many were stored.
  size_t WarmMemoFrom(const ViewSnapshot& previous, size_t max) const;
  size_t memo_entries() const;

 private:
  mutable std::once_flag reports_once_;
  mutable Status reports_status_;
  mutable std::map<std::string, std::vector<std::string>> reports_;

  struct MemoEntry {
    std::string key;
    std::string body;
    Computation compute;
    bool used = false;  // a request asked for it (not only warmed)
  };
  using MemoList = std::list<MemoEntry>;  // most recent first
  void StoreLocked(MemoEntry entry) const;
  mutable std::mutex memo_mutex_;
  mutable MemoList memo_;
  mutable std::unordered_map<std::string, MemoList::iterator> memo_index_;
  mutable size_t memo_bytes_ = 0;
};

class ViewReader {
 public:
  struct Stats {
    uint64_t opens_by_request = 0;    // synchronous opens of CURRENT on a request
    uint64_t opens_by_refresher = 0;  // snapshots the refresher published
    uint64_t open_errors = 0;         // failed opens of CURRENT (request or refresher)
    uint64_t closed_by_refresher = 0; // retired snapshots destroyed on the refresher
    uint64_t memo_warmed = 0;         // org answers the refresher computed ahead
  };

  // `keys` (may be null) reveals personal fields in query results;
  // `metrics` (may be null) receives the open and memo counters.
  ViewReader(std::string views_root, std::vector<std::string> families, int64_t refresh_ms,
             std::string as_of_dir, KeyStore* keys = nullptr, MetricsRegistry* metrics = nullptr);
  ~ViewReader();
  ViewReader(const ViewReader&) = delete;
  ViewReader& operator=(const ViewReader&) = delete;

  // Starts the refresher thread when refresh_ms > 0 (no-op otherwise or when
  // running). Stop() wakes and joins it and releases its retired snapshots.
  void Start();
  void Stop();

  Result<std::shared_ptr<const ViewSnapshot>> Current();
  Result<std::shared_ptr<const ViewSnapshot>> AsOf(const std::string& name);
  // Drops the cached snapshot (tests, after a known write).
  void Invalidate();
  Stats stats() const;

 private:
  Result<std::shared_ptr<const ViewSnapshot>> Open(const std::string& dir, uint64_t ticket);
  Result<std::shared_ptr<const ViewSnapshot>> OpenCurrent(uint64_t ticket);
  // Publishes `opened` unless the current snapshot is newer; returns the
  // snapshot that is no longer current (to be released outside the lock).
  std::shared_ptr<const ViewSnapshot> PublishLocked(std::shared_ptr<const ViewSnapshot> opened);
  void CountOpenError(const Status& status, const char* by);
  void RefreshLoop();
  void RefreshOnce(uint64_t ticket);  // refresher thread
  void ReleaseRetired();  // refresher thread only

  std::string views_root_;
  std::vector<std::string> families_;
  int64_t refresh_ms_;
  std::string as_of_dir_;
  KeyStore* keys_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  Counter* opens_by_request_metric_ = nullptr;
  Counter* opens_by_refresher_metric_ = nullptr;
  Counter* open_errors_metric_ = nullptr;
  Counter* memo_hits_metric_ = nullptr;
  Counter* memo_misses_metric_ = nullptr;
  Counter* memo_warmed_metric_ = nullptr;

  mutable std::mutex mutex_;
  std::shared_ptr<const ViewSnapshot> current_;
  uint64_t next_ticket_ = 0;
  bool refreshing_ = false;  // a request reopens; the others keep the old snapshot
  bool refresher_running_ = false;
  bool stopping_ = false;
  std::condition_variable wake_;
  std::thread refresher_;
  std::vector<std::shared_ptr<const ViewSnapshot>> retired_;  // refresher thread only
  std::map<std::string, std::shared_ptr<const ViewSnapshot>> as_of_;

  std::atomic<uint64_t> opens_by_request_{0};
  std::atomic<uint64_t> opens_by_refresher_{0};
  std::atomic<uint64_t> open_errors_{0};
  std::atomic<uint64_t> closed_by_refresher_{0};
  std::atomic<uint64_t> memo_warmed_{0};
};

int64_t SteadyMs();

}  // namespace jiritsu::service
