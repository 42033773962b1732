#include "core/ordered_reader.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/prefetch.h"
#include "core/thread_name.h"
#include "schemas/codec.h"

namespace jiritsu {
namespace {

// Merge key: event time, then the family rank the fold orders by. Records
// that did not decode go first: they only become dead letters.
std::pair<int64_t, int> OrderKey(const DecodedRecord& record) {
  if (!record.decode_status.ok()) return {std::numeric_limits<int64_t>::min(), -1};
  return {record.event.time_us, EventFamilyRank(record.event.type)};
}

// Writes every field but safe_position (set when handed out): `decoded` may
// be a reused pool entry.
void Decode(LogRecord&& record, DecodedRecord* decoded) {
  Result<Event> event = DecodeJsonEvent(record.value);
  if (event.ok()) {
    decoded->event = std::move(event).value();
    decoded->decode_status = Status::Ok();
  } else {
    decoded->event = Event();
    decoded->decode_status = event.status();
  }
  decoded->record = std::move(record);
}

}  // namespace

std::unique_ptr<OrderedReader> OrderedReader::Start(LogConsumer* consumer,
                                                    OrderedReaderOptions options) {
  std::unique_ptr<OrderedReader> reader(new OrderedReader(consumer, std::move(options)));
  if (reader->options_.background) {
    reader->thread_ = std::thread([r = reader.get()] {
      NameCurrentThread("jr-log-read");
      r->Loop();
    });
  }
  return reader;
}

OrderedReader::OrderedReader(LogConsumer* consumer, OrderedReaderOptions options)
    : consumer_(consumer), options_(std::move(options)) {
  if (options_.batch == 0) options_.batch = 1;
  if (options_.partition_lookahead == 0) options_.partition_lookahead = 1;
  for (const auto& [tp, range] : options_.ranges) {
    auto slot = std::make_unique<Slot>();
    slot->tp = tp;
    slot->next_offset = range.start;
    slot->end = range.end;
    slot->merged = options_.merge;
    slot->by_event_time = options_.merge && options_.reorder_held;
    slot->wave = options_.wave_partitions == 0 ? 0 : tp.partition / static_cast<int64_t>(options_.wave_partitions);
    last_wave_ = std::max(last_wave_, slot->wave);
    slot_index_[tp] = slot.get();
    slots_.push_back(std::move(slot));
  }
}

OrderedReader::~OrderedReader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  space_.notify_all();
  if (thread_.joinable()) thread_.join();
}

OrderedReader::Slot& OrderedReader::SlotFor(const LogRecord& record) {
  if (last_slot_ != nullptr && last_slot_->tp.partition == record.partition &&
      last_slot_->tp.topic == record.topic) {
    return *last_slot_;
  }
  TopicPartition tp{record.topic, record.partition};
  auto it = slot_index_.find(tp);
  if (it == slot_index_.end()) {
    auto slot = std::make_unique<Slot>();
    slot->tp = tp;  // not in ranges: handed out as it comes
    it = slot_index_.emplace(std::move(tp), slot.get()).first;
    slots_.push_back(std::move(slot));
  }
  last_slot_ = it->second;
  return *last_slot_;
}

bool OrderedReader::HandsOutLater(bool by_event_time, const Held& a, const Held& b) {
  if (by_event_time) {
    if (a.time != b.time) return a.time > b.time;
    if (a.rank != b.rank) return a.rank > b.rank;
  }
  return a.offset > b.offset;
}

void OrderedReader::PushHeld(Slot* slot, const Held& held) {
  slot->heap.push_back(held);
  std::push_heap(slot->heap.begin(), slot->heap.end(),
                 [by_time = slot->by_event_time](const Held& a, const Held& b) {
                   return HandsOutLater(by_time, a, b);
                 });
}

OrderedReader::Held OrderedReader::PopHeld(Slot* slot) {
  std::pop_heap(slot->heap.begin(), slot->heap.end(),
                [by_time = slot->by_event_time](const Held& a, const Held& b) {
                  return HandsOutLater(by_time, a, b);
                });
  const Held held = slot->heap.back();
  slot->heap.pop_back();
  return held;
}

void OrderedReader::Hold(LogRecord&& record, Slot* slot) {
  uint32_t index;
  if (pool_free_.empty()) {
    index = static_cast<uint32_t>(pool_.size());
    pool_.emplace_back();
  } else {
    index = pool_free_.back();
    pool_free_.pop_back();
  }
  DecodedRecord& decoded = pool_[index];
  const int64_t offset = record.offset;
  Decode(std::move(record), &decoded);  // safe_position: set when handed out
  decoded.source = &slot->tp;
  const auto [time, rank] = OrderKey(decoded);
  PushHeld(slot, Held{time, rank, index, offset});
  // Polled in offset order, so this is an append unless the consumer went
  // back (a seek): then it is inserted where it belongs.
  auto& offsets = slot->offsets;
  if (offsets.empty() || offsets.back().offset < offset) {
    offsets.push_back(HeldOffset{offset, false});
  } else {
    auto at = std::upper_bound(offsets.begin(), offsets.end(), offset,
                               [](int64_t o, const HeldOffset& h) { return o < h.offset; });
    offsets.insert(at, HeldOffset{offset, false});
  }
  ++buffered_;
}

void OrderedReader::MarkHandedOut(Slot* slot, int64_t offset) {
  auto& offsets = slot->offsets;
  if (offsets.front().offset == offset) {
    offsets.front().handed_out = true;
  } else {
    auto it = std::lower_bound(offsets.begin(), offsets.end(), offset,
                               [](const HeldOffset& h, int64_t o) { return h.offset < o; });
    while (it != offsets.end() && it->handed_out) ++it;  // a re-read offset held twice
    if (it != offsets.end()) it->handed_out = true;
  }
  while (!offsets.empty() && offsets.front().handed_out) offsets.pop_front();
}

void OrderedReader::Emit(bool drain, std::vector<DecodedRecord>* out) {
  while (out->size() < options_.batch && buffered_ > 0) {
    Slot* best = nullptr;
    bool blocked = false;
    for (const auto& slot : slots_) {
      if (!InWave(*slot)) continue;
      if (slot->Empty()) {
        // A partition with records still to read may hold an earlier one.
        if (slot->merged && slot->next_offset < slot->end) blocked = true;
        continue;
      }
      if (!slot->merged) {
        best = slot.get();
        blocked = false;
        break;
      }
      const Held& head = slot->heap.front();
      if (best == nullptr || std::pair(head.time, head.rank) <
                                 std::pair(best->heap.front().time, best->heap.front().rank)) {
        best = slot.get();
      }
    }
    if (best == nullptr) return;  // only a later wave holds records
    if (blocked && !drain && buffered_ < options_.max_buffered) return;
    const uint32_t index = PopHeld(best).index;
    // The slot's next record most likely goes out next, and a held record
    // is cold by then: fetch its lines while this one moves.
    if (!best->heap.empty()) PrefetchLines(&pool_[best->heap.front().index], sizeof(DecodedRecord));
    DecodedRecord& record = out->emplace_back(std::move(pool_[index]));
    pool_free_.push_back(index);
    MarkHandedOut(best, record.record.offset);
    record.safe_position = best->offsets.empty()
                               ? std::max(best->next_offset, record.record.offset + 1)
                               : best->offsets.front().offset;
    // Records past a range's end (a replay's stop offset) may be held and
    // handed out too, but the consumer does not apply them: a position
    // within the range never passes its end.
    if (best->merged && record.record.offset < best->end) {
      record.safe_position = std::min(record.safe_position, best->end);
    }
    --buffered_;
  }
}

void OrderedReader::ReleasePoolWhenDone() {
  if (buffered_ > 0 || pool_.empty()) return;
  for (const auto& slot : slots_) {
    if (slot->merged && !slot->Finished()) return;
  }
  // Every range is read and handed out: the pool is only moved-from entries
  // now, as many as were ever held at once.
  std::vector<DecodedRecord>().swap(pool_);
  std::vector<uint32_t>().swap(pool_free_);
}

Status OrderedReader::UpdatePauses() {
  std::vector<TopicPartition> pause, resume;
  for (const auto& slot : slots_) {
    if (!slot->merged) continue;
    const size_t held = slot->heap.size();
    if (!slot->paused && (held >= options_.partition_lookahead || !InWave(*slot))) {
      slot->paused = true;
      pause.push_back(slot->tp);
    } else if (slot->paused && InWave(*slot) && held <= options_.partition_lookahead / 2) {
      slot->paused = false;
      resume.push_back(slot->tp);
    }
  }
  if (!pause.empty()) JIRITSU_RETURN_IF_ERROR(consumer_->Pause(pause));
  if (!resume.empty()) JIRITSU_RETURN_IF_ERROR(consumer_->Resume(resume));
  return Status::Ok();
}

void OrderedReader::AdvanceWave() {
  while (wave_ < last_wave_) {
    for (const auto& slot : slots_) {
      if (slot->merged && slot->wave == wave_ && !slot->Finished()) return;
    }
    ++wave_;
  }
}

Status OrderedReader::Produce(std::chrono::milliseconds timeout, std::vector<DecodedRecord>* out) {
  if (!options_.merge) {
    polled_.clear();
    JIRITSU_RETURN_IF_ERROR(consumer_->Poll(timeout, options_.batch, &polled_));
    for (LogRecord& record : polled_) {
      DecodedRecord& decoded = out->emplace_back();
      decoded.safe_position = record.offset + 1;
      decoded.source = &SlotFor(record).tp;
      Decode(std::move(record), &decoded);
    }
    return Status::Ok();
  }
  // Later waves are paused before anything of them is polled.
  AdvanceWave();
  JIRITSU_RETURN_IF_ERROR(UpdatePauses());
  // Poll unless every partition that still has records to read is paused
  // (held back because it is ahead, or in a later wave): then only the held
  // records can move.
  bool poll = buffered_ == 0;
  for (size_t i = 0; i < slots_.size() && !poll; ++i) {
    const Slot& slot = *slots_[i];
    poll = !slot.merged || (!slot.paused && slot.next_offset < slot.end);
  }
  bool drain = false;
  if (poll) {
    polled_.clear();
    JIRITSU_RETURN_IF_ERROR(consumer_->Poll(timeout, options_.batch, &polled_));
    drain = polled_.empty();  // nothing more to wait for right now
    for (LogRecord& record : polled_) {
      Slot& slot = SlotFor(record);
      slot.next_offset = record.offset + 1;
      Hold(std::move(record), &slot);
    }
  }
  const size_t before = out->size();
  Emit(drain, out);
  if (!poll && out->size() == before) Emit(/*drain=*/true, out);
  ReleasePoolWhenDone();
  return Status::Ok();
}

void OrderedReader::Loop() {
  std::vector<std::vector<DecodedRecord>> spent;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      // Two batches ahead keep the applying thread busy without holding much.
      space_.wait(lock, [this] { return stopping_ || batches_.size() < 2 || !spent_.empty(); });
      if (stopping_) return;
      spent.swap(spent_);
      if (batches_.size() >= 2) {
        lock.unlock();
        spent.clear();  // frees the records here, not on the applying thread
        continue;
      }
    }
    // Refill a spent batch: its capacity (options_.batch records) is kept.
    std::vector<DecodedRecord> batch;
    if (!spent.empty()) {
      batch = std::move(spent.back());
      spent.pop_back();
    }
    spent.clear();
    batch.clear();
    batch.reserve(options_.batch);
    Status status = Produce(options_.poll_timeout, &batch);
    std::lock_guard<std::mutex> lock(mutex_);
    if (!batch.empty()) batches_.push_back(std::move(batch));
    if (!status.ok()) failure_ = std::move(status);
    ready_.notify_one();
    if (!failure_.ok()) return;
  }
}

Status OrderedReader::Next(std::chrono::milliseconds timeout, std::vector<DecodedRecord>* out) {
  if (!options_.background) {
    out->clear();
    return Produce(std::min(timeout, options_.poll_timeout), out);
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (out->capacity() > 0 && !stopping_ && failure_.ok()) {
    spent_.push_back(std::move(*out));
    space_.notify_one();
  }
  out->clear();
  ready_.wait_for(lock, timeout, [this] { return !batches_.empty() || !failure_.ok(); });
  if (!batches_.empty()) {
    *out = std::move(batches_.front());
    batches_.pop_front();
    space_.notify_one();
    return Status::Ok();
  }
  return failure_;
}

bool OrderedReader::Drained() const {
  if (options_.background || buffered_ > 0) return false;  // the polling thread owns the state
  for (const auto& slot : slots_) {
    if (slot->merged && slot->next_offset < slot->end) return false;
  }
  return true;
}

Status OrderedReader::ResumePaused() {
  if (options_.background) {
    return FailedPrecondition("OrderedReader::ResumePaused: the polling thread owns the consumer");
  }
  std::vector<TopicPartition> resume;
  for (const auto& slot : slots_) {
    if (!slot->paused) continue;
    slot->paused = false;
    resume.push_back(slot->tp);
  }
  return resume.empty() ? Status::Ok() : consumer_->Resume(resume);
}

}  // namespace jiritsu
