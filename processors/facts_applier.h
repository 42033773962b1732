// FactsApplier: a rebuild's own facts applied to GlobalAggregates on a second
// thread while the runtime thread builds the next ones (the held-back facts a
// rebuild publishes at its end). Applying them was ~22% of the runtime
// thread's samples there, serial with the building, while the other core
// was partly idle (docs/performance.md, thirtieth pass). The facts are
// applied in the order they are handed in, as the caller would have applied
// them itself, so the aggregates end the same.
//
// Lifecycle: one checkpoint's publishing. Finish() applies what is queued and
// stops the thread; the destructor stops it and drops what is still queued
// (the checkpoint failed). Thread-safety: Apply() and Finish() from one
// thread; until Finish() returns (or the applier is destroyed) only the
// applier's thread touches the aggregates. Failure: the first error of
// GlobalAggregates::ApplyDecodedFacts (a store read, an undecodable stored
// row) stops the applying; Apply() returns it from then on, Finish() always.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "processors/aggregates.h"
#include "processors/facts.h"

namespace jiritsu::processors {

class FactsApplier {
 public:
  // Apply() waits while `max_queued` records wait to be applied (they hold
  // their decoded facts until then).
  explicit FactsApplier(GlobalAggregates* aggregates, size_t max_queued = 512);
  ~FactsApplier();
  FactsApplier(const FactsApplier&) = delete;
  FactsApplier& operator=(const FactsApplier&) = delete;

  // Queues one record: `bytes` is EncodeFacts(facts).
  Status Apply(std::string employee, std::string bytes, EmployeeFacts facts);
  // Applies what is queued, stops the thread, returns the first error.
  Status Finish();

 private:
  struct Item {
    std::string employee;
    std::string bytes;
    EmployeeFacts facts;
  };
  void Run();

  GlobalAggregates* const aggregates_;
  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  bool finishing_ = false;
  bool stopping_ = false;
  Status error_ = Status::Ok();
  std::thread thread_;  // last: starts once the rest is initialised
};

}  // namespace jiritsu::processors
