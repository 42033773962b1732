#include "tests/testing/thread_priority.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "core/state_store.h"
#include "tests/testing/thread_names.h"

namespace jiritsu::testing {
namespace {

// The nice value of each of this process's threads named `name`.
std::vector<int> NiceOfThreadsNamed(const std::string& name) {
  std::vector<int> nice_values;
  for (const pid_t id : ThreadIdsNamed(name)) {
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(id));
    if (errno == 0) nice_values.push_back(nice);
  }
  return nice_values;
}

std::string Join(const std::vector<int>& values) {
  std::string out;
  for (int value : values) out += (out.empty() ? "" : ",") + std::to_string(value);
  return "[" + out + "]";
}

}  // namespace

Status CheckCompactionPriorityAfterALoad(const std::string& dir, bool expect_lowered) {
  const int own = ::getpriority(PRIO_PROCESS, 0);
  {
    StateStoreOptions options;
    options.column_families = {"views"};
    options.disable_wal = true;
    JIRITSU_ASSIGN_OR_RETURN(auto store, StateStore::Open(dir, options));
    StateBatch batch;
    for (int i = 0; i < 1000; ++i) {
      batch.Put("views", "key" + std::to_string(i), std::string(100, 'v'));
    }
    JIRITSU_RETURN_IF_ERROR(store->Write(&batch));
    JIRITSU_RETURN_IF_ERROR(store->SyncAndFlush());
  }
  const std::vector<int> compaction = NiceOfThreadsNamed("rocksdb:low");
  const std::vector<int> flush = NiceOfThreadsNamed("rocksdb:high");
  const std::string seen = "compaction threads' nice " + Join(compaction) + ", flush threads' " +
                           Join(flush) + ", own " + std::to_string(own);
  const auto lowered = std::count(compaction.begin(), compaction.end(), 19);
  if (compaction.empty()) return FailedPrecondition("no compaction thread: " + seen);
  if (expect_lowered ? lowered == 0 : lowered != 0) {
    return FailedPrecondition(std::string(expect_lowered ? "none lowered: " : "lowered: ") + seen);
  }
  for (int nice : compaction) {
    if (nice != 19 && nice != own) return FailedPrecondition("unexpected nice: " + seen);
  }
  for (int nice : flush) {
    if (nice != own) return FailedPrecondition("a flush thread's nice changed: " + seen);
  }
  return Status::Ok();
}

}  // namespace jiritsu::testing
