// OrderedReader: the employee input of a rebuild, polled and decoded ahead
// (on a second thread) and merged across partitions by event time. Live
// runs read the backlog of an assignment through one too, without the
// second thread (core/projection_runtime.h, catch_up_merge_by_event_time).
//
// Why: a rebuild reads every employee partition of five topics of very
// different densities (learning ~70% of the events, employee ~2%). Read
// round-robin, the sparse topics run months ahead of the dense ones in event
// time, so nearly every event of an employee reached the projector after a
// later one of the same employee and forced a re-fold of its whole journal
// at every checkpoint (docs/performance.md). Merged by event time, events
// arrive in the order the fold needs and are applied incrementally; the
// cross-partition order is a cost, never a view input (views are a function
// of the set of events), so a merge the lookahead cannot complete is only
// slower, never different.
//
// What it guarantees: every record the consumer returns is handed out
// exactly once (one it returns again, e.g. after a seek back, once more),
// with the result of DecodeJsonEvent; the records of one
// partition in their log order (unless `reorder_held`, below). Across the
// partitions of `ranges`, the record with the earliest (event time, family
// rank) at the head of a
// partition goes first, as long as no partition that still has records
// below its end is waiting to be read; a partition holding
// `partition_lookahead` records is paused (LogConsumer::Pause) so the others
// catch up. Records that do not decode sort first (they are dead letters at
// their position; only their partition's order matters). When the consumer
// returns nothing, or `max_buffered` records are held, what is held goes out
// in merged order without waiting.
//
// Reordering within a partition (`reorder_held`): the head of a merged
// partition is the record it holds with the earliest (event time, family
// rank), not the oldest; it holds up to `partition_lookahead` records, so
// that is how far back a late record can move. Why: sources deliver late
// (LMS batch uploads hours to days after the fact), so a partition's log
// order is not its event-time order, and an event that reaches its
// employee after a later one forces a re-fold of the employee's whole
// journal. The reorder never waits for records: a partition that holds few
// (just resumed, or its fetch still in flight) hands out what it has
// (waiting until it held a minimum number halved a Kafka replay's speed:
// every resume stalled the merge). Records then leave a partition out of
// log order, so each carries `safe_position`: every record of its
// partition below that offset has been handed out, and never past its
// range's end. A consumer position advanced to it (never to offset + 1)
// stays a valid resume point.
//
// Waves (`wave_partitions` > 0): the partitions of `ranges` are read in waves
// of that many partition numbers (partition p is in wave p / wave_partitions,
// across all topics); a later wave's partitions stay paused until every
// partition of the earlier ones reached its end. Why: an employee's events
// are all in one partition number (every employee topic has the same
// partition count and key), so a wave holds the complete histories of a
// fraction of the employees, and the projector's cache holds that fraction
// instead of everybody (a rebuild merged over all partitions touched each of
// 100 000 employees once per checkpoint: docs/performance.md). Partitions not
// listed in `ranges` and records past a range's end are never held back by
// a wave.
//
// Lifecycle: Start() with an assigned consumer; from then until destruction
// nothing else may use that consumer (with `background`, a second thread
// polls it). Destruction stops and joins that thread (at most one poll
// timeout). Thread-safety: Next() from one thread at a time. With
// `background`, the batch a Next() replaces goes back to the polling thread,
// which frees its records and refills it: freeing a batch of records
// allocated on another thread was ~10% of a replay's applying thread.
// Failure: a consumer error is returned by Next() after the batches released
// before it; the reader then stops (records it still held are not handed
// out: the caller stops too and resumes from its last checkpoint).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "core/event_log.h"
#include "core/status.h"
#include "schemas/event.h"

namespace jiritsu {

struct DecodedRecord {
  LogRecord record;
  Status decode_status;  // DecodeJsonEvent's verdict
  Event event;           // the decoded event when ok, else Event()
  // Every record of this partition below this offset has been handed out,
  // this one included (record.offset + 1 when the partition is in log order).
  int64_t safe_position = 0;
  // The reader's own copy of record.topic and record.partition, shared by
  // every record of the partition and valid while the reader lives. Why:
  // each record's topic is a separate heap string, cold by the time the
  // applying thread compares it; this one is hot (docs/performance.md,
  // thirty-second pass).
  const TopicPartition* source = nullptr;
};

struct OrderedReaderOptions {
  // Partitions merged by event time: first offset to read, end offset. A
  // partition whose next offset reached its end never holds the merge back;
  // records of partitions not listed are handed out as they come.
  struct Range {
    int64_t start = 0;
    int64_t end = 0;
  };
  std::map<TopicPartition, Range> ranges;
  size_t batch = 20000;                // records per consumer poll and per Next()
  size_t partition_lookahead = 4096;   // a partition holding this many is paused
  size_t max_buffered = 262144;        // beyond this, emit without waiting
  bool merge = true;                   // false: in poll order (decode ahead only)
  // Merged partitions hand out their held records earliest event first
  // (false: log order).
  bool reorder_held = false;
  bool background = true;              // poll and decode on a second thread
  size_t wave_partitions = 0;          // partition numbers per wave (0: one wave)
  std::chrono::milliseconds poll_timeout{100};
};

class OrderedReader {
 public:
  static std::unique_ptr<OrderedReader> Start(LogConsumer* consumer, OrderedReaderOptions options);
  ~OrderedReader();
  OrderedReader(const OrderedReader&) = delete;
  OrderedReader& operator=(const OrderedReader&) = delete;

  // Replaces *out with the next records (up to options.batch), waiting up to
  // `timeout` for some; OK and empty when none came in time. What *out held
  // is discarded (with `background`, on the polling thread).
  Status Next(std::chrono::milliseconds timeout, std::vector<DecodedRecord>* out);

  // Without `background` only (the caller's thread owns the state): true once
  // nothing is held and every partition of `ranges` was read to its end, so
  // the caller may read the consumer directly again (a catch-up is over).
  // Always false with `background`.
  bool Drained() const;
  // Without `background` only: resumes the partitions this reader paused,
  // before the caller polls the consumer itself. kFailedPrecondition with
  // `background`.
  Status ResumePaused();

 private:
  // A held record's place in its slot's heap: its OrderKey() (event time,
  // family rank), offset and pool entry, so heads compare without touching
  // the records. Slots that reorder hand out (time, rank, offset) order,
  // others offset order.
  struct Held {
    int64_t time = 0;
    int32_t rank = 0;
    uint32_t index = 0;  // into pool_
    int64_t offset = 0;
  };
  struct HeldOffset {
    int64_t offset = 0;
    bool handed_out = false;
  };
  // Held records live in one pool of reused entries (pool_), each slot's
  // ordered by a binary heap, not in a node-based map: a rebuild holds and
  // hands out every record once, and a map node per record (with a set node
  // for its offset) cost two allocations and two frees, in a thread that
  // spent about half its time in glibc's allocator (docs/performance.md,
  // twenty-fifth pass). One pool for all slots, so it is as large as the
  // most records held at once, not the sum of every slot's peak.
  struct Slot {
    TopicPartition tp;
    std::vector<Held> heap;      // min-heap (HandsOutLater): the head at front()
    bool by_event_time = false;  // merged and options.reorder_held
    // Held offsets in log order (polled in offset order; one read again
    // after a seek back is inserted in place), so the safe position is the
    // first not handed out.
    std::deque<HeldOffset> offsets;
    int64_t next_offset = 0;
    int64_t end = 0;
    bool merged = false;  // listed in options.ranges
    bool paused = false;
    int64_t wave = 0;     // merged slots: partition / wave_partitions
    bool Empty() const { return heap.empty(); }
    bool Finished() const { return heap.empty() && next_offset >= end; }
  };

  OrderedReader(LogConsumer* consumer, OrderedReaderOptions options);
  // One poll (waiting up to `timeout`) + decode + merge step; appends what
  // may go out to *out.
  Status Produce(std::chrono::milliseconds timeout, std::vector<DecodedRecord>* out);
  Slot& SlotFor(const LogRecord& record);
  void Hold(LogRecord&& record, Slot* slot);  // decodes it into the slot
  void Emit(bool drain, std::vector<DecodedRecord>* out);
  // std::push_heap/pop_heap order of a slot's heap: a max-heap on "later"
  // keeps the next to hand out at the front.
  static bool HandsOutLater(bool by_event_time, const Held& a, const Held& b);
  static void PushHeld(Slot* slot, const Held& held);
  static Held PopHeld(Slot* slot);
  // Marks a held offset handed out and drops the handed-out prefix.
  static void MarkHandedOut(Slot* slot, int64_t offset);
  Status UpdatePauses();
  // Frees the pool once nothing is held and every range was read to its end
  // (a rebuild's reading is over; what follows should not pay for it).
  void ReleasePoolWhenDone();
  // Moves to the next wave once every merged slot of the current one is
  // finished.
  void AdvanceWave();
  bool InWave(const Slot& slot) const { return !slot.merged || slot.wave <= wave_; }
  void Loop();

  LogConsumer* consumer_;
  OrderedReaderOptions options_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::map<TopicPartition, Slot*> slot_index_;
  Slot* last_slot_ = nullptr;
  size_t buffered_ = 0;
  int64_t wave_ = 0;       // the highest wave handed out
  int64_t last_wave_ = 0;
  std::vector<LogRecord> polled_;  // reused
  std::vector<DecodedRecord> pool_;  // held records; those in pool_free_ are moved-from
  std::vector<uint32_t> pool_free_;

  // Background mode: batches handed from the polling thread to Next().
  std::mutex mutex_;
  std::condition_variable ready_;    // a batch, an error or the end
  std::condition_variable space_;    // Next() took a batch
  std::deque<std::vector<DecodedRecord>> batches_;
  // Batches Next() is done with, freed and reused by the polling thread.
  std::vector<std::vector<DecodedRecord>> spent_;
  Status failure_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace jiritsu
