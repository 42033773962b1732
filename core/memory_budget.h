// MemoryBudget: one byte budget for a projection process (`jiritsu run`,
// `jiritsu serve`'s runner, replays) and how it is split between the parts
// that grow with the data. Every share is a cost knob, never a view input:
// the views do not depend on what is cached or when a checkpoint comes
// (tests/processors/memory_test.cc, tests/ops/pipeline_test.cc).
//
//   views store    RocksDB block cache of the views store, with the
//                  memtables of all its column families charged to it
//                  (one rocksdb::WriteBufferManager)            25%
//   employee cache per-employee states kept between checkpoints
//                  (processors/projector.cc, estimated bytes)    30%
//   aggregates     facts + KPI rows kept between checkpoints, and
//                  a rebuild's hashes of the keys it wrote
//                  (processors/aggregates.cc)                    15%
//   uncommitted    a checkpoint is forced when the projector's
//                  uncommitted bytes exceed this: pending events
//                  plus the dirty states that overflow half
//                  the employee cache's share                   15%
//   not split      the rest: the log's own RocksDB (embedded: at most
//                  64 MiB of memtables, 16 MiB of cache, adaptive
//                  readahead; core/embedded_log.h), the employee index,
//                  the reference table, a checkpoint's transient batch
//                  and the producer's buffer of its facts (published as
//                  they are built, core/projector.h), allocator
//                  overhead                                       15%
//
// Dirty entries cannot be evicted until a checkpoint commits them: the
// employee cache holds them within half its own share, and what overflows
// that half is charged to the uncommitted one, so dirty states and pending
// events together stay within half the cache's share plus the uncommitted
// one (the whole cache's share put a live run's peak RSS over its target),
// and the caches are back within their own shares once a checkpoint has
// run. A rebuild holds almost no pending events: it folds in-order events
// on arrival (processors/jiritsu_projector.h). Estimates are of heap bytes, not exact:
// the budget is what the process aims at, peak RSS is measured in
// docs/performance.md ("Memory").
//
// Thread-safety: a value type. Failure: none (a budget below the minimum is
// raised to it).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace jiritsu {

struct MemoryBudget {
  static constexpr size_t kDefaultMb = 1024;
  // Below this the shares get too small to hold one employee's history.
  static constexpr size_t kMinimumBytes = size_t{4} << 20;

  size_t total_bytes = kDefaultMb << 20;

  static constexpr MemoryBudget FromMb(size_t mb) {
    return MemoryBudget{std::max(mb << 20, kMinimumBytes)};
  }
  constexpr size_t views_store_bytes() const { return total_bytes / 4; }
  constexpr size_t employee_cache_bytes() const { return total_bytes * 3 / 10; }
  constexpr size_t aggregates_cache_bytes() const { return total_bytes * 15 / 100; }
  constexpr size_t uncommitted_bytes() const { return total_bytes * 15 / 100; }
  // A rebuild's burst of deferred facts (RuntimeOptions::deferred_facts_bytes):
  // applied facts are the aggregates' dirty entries until the burst commits.
  constexpr size_t deferred_facts_bytes() const {
    return aggregates_cache_bytes() + uncommitted_bytes();
  }
};

}  // namespace jiritsu
