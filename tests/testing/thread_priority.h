// Observing the CPU priority of RocksDB's background threads, for the tests
// of LowerCompactionThreadPriority (core/state_store.h) and of the live
// runtime that calls it. The priority is process-wide and not undone, and a
// forked child would inherit pools whose threads it does not have, so each
// case runs as a (disabled) test of its own in a fresh process.
//
// Thread-safety: reentrant. Failure: RunTestInFreshProcess returns 127 when
// the binary cannot be executed and -signal when the child was killed.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace jiritsu::testing {

// Runs only `test_name` (DISABLED_ tests included) of this test binary in a
// new process with `env` added to the environment; its exit code (0: the
// test passed).
int RunTestInFreshProcess(const std::string& test_name, const std::vector<std::string>& env);

// Opens a bulk-loading store in `dir`, writes 1 000 keys and syncs it, so
// that the low-priority pool runs the load's compaction (a pool thread
// applies a lowered priority before its next job), then checks the nice
// values of RocksDB's threads: some compaction thread ("rocksdb:low") at 19
// if `expect_lowered` and none otherwise, none at any value but 19 or the
// calling thread's, and every flush thread ("rocksdb:high") at the calling
// thread's. FailedPrecondition names what differed.
Status CheckCompactionPriorityAfterALoad(const std::string& dir, bool expect_lowered);

}  // namespace jiritsu::testing
