// PrefetchLines: asks the CPU to bring a memory range into its caches ahead
// of use (a hint: nothing is read, so any address is safe).
//
// Why: a rebuild's applying and reading threads touch records and states
// written long before or on the other core; fetched a few steps ahead, those
// cache misses overlap instead of following one another
// (docs/performance.md, forty-fourth pass).
//
// Lifecycle: none. Thread-safety: any thread. Failure: none; on a compiler
// without __builtin_prefetch it does nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace jiritsu {

inline void PrefetchLines(const void* start, size_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
  constexpr uintptr_t kLine = 64;
  const auto begin = reinterpret_cast<uintptr_t>(start);
  for (uintptr_t line = begin & ~(kLine - 1); line < begin + bytes; line += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
    // A loop of prefetches alone has no side effect, so GCC may delete it
    // (C++ loops are assumed to end, -ffinite-loops): it did in
    // StateStore::IngestSorted. The empty volatile asm is one.
    __asm__ __volatile__("");
  }
#else
  (void)start;
  (void)bytes;
#endif
}

}  // namespace jiritsu
