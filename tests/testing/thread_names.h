// This process's threads by name (ProcessThreads, ops/thread_cpu.h), for tests of
// what names Jiritsu's threads carry (core/thread_name.h) and of RocksDB's
// thread priorities (thread_priority.h).
//
// Thread-safety: reentrant; a snapshot, so threads may start or end while
// it reads. Failure: a thread that ends while it is read is left out.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace jiritsu::testing {

// The ids of this process's threads named exactly `name`.
std::vector<pid_t> ThreadIdsNamed(const std::string& name);

// How many threads are named `name`, once that is `expected` or `patience`
// has passed (then the last count). Why wait: a thread names itself when it
// starts, which may be after its owner's constructor returned, and a joined
// thread leaves /proc/self/task a moment after the join returns.
size_t CountOfThreadsNamedOnceItIs(const std::string& name, size_t expected,
                                   std::chrono::milliseconds patience = std::chrono::seconds(10));

}  // namespace jiritsu::testing
