#include "processors/facts_applier.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "core/thread_name.h"

namespace jiritsu::processors {

FactsApplier::FactsApplier(GlobalAggregates* aggregates, size_t max_queued)
    : aggregates_(aggregates), max_queued_(std::max<size_t>(1, max_queued)), thread_([this] {
        NameCurrentThread("jr-facts-apply");
        Run();
      }) {}

FactsApplier::~FactsApplier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    queue_.clear();
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status FactsApplier::Apply(std::string employee, std::string bytes, EmployeeFacts facts) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return queue_.size() < max_queued_ || !error_.ok(); });
  if (!error_.ok()) return error_;
  queue_.push_back(Item{std::move(employee), std::move(bytes), std::move(facts)});
  lock.unlock();
  changed_.notify_all();
  return Status::Ok();
}

Status FactsApplier::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    finishing_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void FactsApplier::Run() {
  std::vector<Item> taken;  // applied unlocked, in queue order
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    changed_.wait(lock, [&] { return stopping_ || finishing_ || !queue_.empty(); });
    if (stopping_ || (finishing_ && queue_.empty())) return;
    taken.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
    lock.unlock();
    changed_.notify_all();  // room for Apply()
    Status applied = Status::Ok();
    for (Item& item : taken) {
      applied = aggregates_->ApplyDecodedFacts(item.employee, item.bytes, std::move(item.facts));
      if (!applied.ok()) {
        applied = applied.WithContext("applying the facts of " + item.employee);
        break;
      }
    }
    taken.clear();
    lock.lock();
    if (!applied.ok()) {
      error_ = applied;
      queue_.clear();
      changed_.notify_all();
      return;
    }
  }
}

}  // namespace jiritsu::processors
