// Observing the CPU priority of RocksDB's background threads, for the tests
// of LowerCompactionThreadPriority (core/state_store.h) and of the live
// runtime that calls it. The priority is process-wide and not undone, and a
// forked child would inherit pools whose threads it does not have, so each
// case runs as a (disabled) test of its own in a fresh process
// (RunTestInFreshProcess, tests/testing/subprocess.h).
//
// Thread-safety: reentrant. Failure: as Status.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace jiritsu::testing {

// Opens a bulk-loading store in `dir`, writes 1 000 keys and syncs it, so
// that the low-priority pool runs the load's compaction (a pool thread
// applies a lowered priority before its next job), then checks the nice
// values of RocksDB's threads: some compaction thread ("rocksdb:low") at 19
// if `expect_lowered` and none otherwise, none at any value but 19 or the
// calling thread's, and every flush thread ("rocksdb:high") at the calling
// thread's. FailedPrecondition names what differed.
Status CheckCompactionPriorityAfterALoad(const std::string& dir, bool expect_lowered);

}  // namespace jiritsu::testing
