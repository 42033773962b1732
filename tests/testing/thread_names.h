// This process's threads by name (/proc/self/task/*/comm), for tests of
// what names Jiritsu's threads carry (core/thread_name.h) and of RocksDB's
// thread priorities (thread_priority.h).
//
// Thread-safety: reentrant; a snapshot, so threads may start or end while
// it reads. Failure: a thread that ends while it is read is left out.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace jiritsu::testing {

// The ids of this process's threads named exactly `name`.
std::vector<pid_t> ThreadIdsNamed(const std::string& name);

}  // namespace jiritsu::testing
