// Names of Jiritsu's threads, as `ps -L`, `top -H`, `perf` and `gdb` show
// them (docs/operations.md, "Threads"): which thread is busy, without
// matching thread ids to code.
//
// Lifecycle: a thread names itself when it starts. Thread-safety: each
// call affects only the calling thread. Failure: none reported; a name is a
// diagnostic, so a thread that cannot be named (another OS) runs unnamed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace jiritsu {

// Linux keeps at most 15 bytes of a thread name; longer names are cut.
inline constexpr size_t kMaxThreadNameBytes = 15;

// Names the calling thread `name`, cut to kMaxThreadNameBytes.
void NameCurrentThread(std::string_view name);
// The calling thread's name ("" if it cannot be read).
std::string CurrentThreadName();

}  // namespace jiritsu
