// EventLog: partitioned, offset-addressed, append-only topics.
//
// Two implementations pass the same contract suite
// (tests/core/event_log_contract.h):
//   - embedded_log.h: durable, RocksDB-backed, single process (the default);
//   - kafka_log.h: Apache Kafka via librdkafka (real protocol).
//
// Semantics shared by both:
//   * A topic has a fixed number of partitions, each an ordered sequence of
//     records with offsets 0, 1, 2, ... (Kafka may skip offsets after
//     transactions/compaction; readers must not assume contiguity).
//   * A record's partition is chosen from its key with Kafka's Java default
//     partitioner (murmur2(key) & 0x7fffffff) % partitions, so that the same
//     key lands in the same partition number on both logs and topics with
//     equal partition counts are co-partitioned. Empty key: partition 0.
//   * Order is preserved per partition (hence per key).
//   * Appended records are durable once Flush() returned OK.
//
// Lifecycle: an EventLog outlives the producers and consumers it creates.
// Thread-safety: EventLog and LogProducer are thread-safe. A LogConsumer is
// used by one thread at a time.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace jiritsu {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};
std::string ToString(const TopicPartition& tp);  // "jiritsu.learning[3]"

struct LogRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
  int64_t append_time_ms = 0;  // log append/create time: informational only
};

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  bool compacted = false;  // Kafka cleanup.policy=compact; embedded: ignored
};

// Kafka's default partitioner, exposed for co-partitioning checks and tests.
int32_t PartitionForKey(std::string_view key, int32_t partition_count);

class LogProducer {
 public:
  virtual ~LogProducer() = default;
  // Queues one record. kResourceExhausted when the local queue is full (the
  // caller should Flush or back off); never blocks indefinitely.
  virtual Status Append(const std::string& topic, std::string_view key,
                        std::string_view value) = 0;
  // Waits until every queued record is durable. Returns the first delivery
  // failure since the previous Flush (records that failed are NOT durable;
  // the message names topic and error). kDeadlineExceeded on timeout.
  virtual Status Flush(std::chrono::milliseconds timeout) = 0;
};

// Called on consumer-group membership changes, on the consumer's thread,
// from inside Poll(). Revoked is called before the partitions are given away,
// so the owner can checkpoint them.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

struct ConsumerOptions {
  // Consumer group for Subscribe(). Offsets are NOT committed to the group:
  // Jiritsu keeps offsets with its state (docs/architecture.md).
  std::string group_id = "jiritsu";
  // Where a newly assigned partition starts when the listener does not Seek.
  bool start_from_beginning = true;
  // How long a fetch that finds no new records may wait at the broker before
  // it is answered (Kafka's fetch.wait.max.ms; 0: the log's default). For a
  // consumer that reads a backlog while pausing and resuming partitions (a
  // rebuild's merge): a Kafka client has one fetch per broker in flight, so
  // a resumed partition waits until the fetch of the others is answered,
  // and once those reached their end that took up to the default 500 ms at
  // every resume (docs/performance.md, forty-first pass). Set here, it
  // overrides the log's own properties. The embedded log has no broker
  // fetches and ignores it.
  std::chrono::milliseconds empty_fetch_wait{0};
};

class LogConsumer {
 public:
  virtual ~LogConsumer() = default;
  // Joins the group and receives partitions of `topics` through `listener`
  // (embedded log: a single member gets every partition at the first Poll).
  virtual Status Subscribe(const std::vector<std::string>& topics,
                           RebalanceListener* listener) = 0;
  // Manual assignment (no group): reads exactly these partitions, each from
  // the given offset. Replaces any previous assignment.
  virtual Status Assign(const std::map<TopicPartition, int64_t>& start_offsets) = 0;
  // Moves the read position of an assigned partition.
  virtual Status Seek(const TopicPartition& tp, int64_t offset) = 0;
  // Appends up to `max_records` records to `out`, waiting up to `timeout` for
  // the first one. Returns OK with nothing appended on timeout. Transient
  // fetch errors the client recovers from (Kafka: a request timed out, a
  // leader moved, brokers down) are logged and waited out, not returned.
  virtual Status Poll(std::chrono::milliseconds timeout, size_t max_records,
                      std::vector<LogRecord>* out) = 0;
  // Currently assigned partitions.
  virtual std::vector<TopicPartition> Assignment() const = 0;
  // Flow control: Poll stops fetching from paused partitions until they are
  // resumed, without moving their positions. A hint: records already
  // fetched may still be returned. The default ignores it.
  virtual Status Pause(const std::vector<TopicPartition>& partitions) {
    (void)partitions;
    return Status::Ok();
  }
  virtual Status Resume(const std::vector<TopicPartition>& partitions) {
    (void)partitions;
    return Status::Ok();
  }
};

// Process memory a log client holds for itself, in bytes (0: not measured,
// e.g. librdkafka's queues). Cost figures for operators (debug log of
// jiritsu run, docs/performance.md "Memory").
struct LogMemoryUsage {
  uint64_t memtables = 0;    // in memory: not yet flushed, or pinned by readers
  uint64_t block_cache = 0;  // cached table blocks
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  // Creates the topics that do not exist; fails (kFailedPrecondition) if an
  // existing topic has a different partition count.
  virtual Status EnsureTopics(const std::vector<TopicSpec>& topics) = 0;
  virtual Result<int32_t> PartitionCount(const std::string& topic) = 0;
  // The offset the next appended record will get (Kafka's high watermark).
  virtual Result<int64_t> EndOffset(const TopicPartition& tp) = 0;
  virtual Result<std::unique_ptr<LogProducer>> NewProducer() = 0;
  virtual Result<std::unique_ptr<LogConsumer>> NewConsumer(
      const ConsumerOptions& options) = 0;
  // "embedded:/path" or "kafka:host:port": for logs and reports.
  virtual std::string Describe() const = 0;
  // Thread-safe; never fails (a figure it cannot read is 0).
  virtual LogMemoryUsage MemoryUsage() const { return {}; }
};

}  // namespace jiritsu
