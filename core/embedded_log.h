// The embedded event log: a durable, single-process EventLog in one RocksDB
// database (the default log; `jiritsu` passes `<store>/log`).
//
// Why RocksDB and not segment files: records are keyed by (topic, partition,
// offset), so a partition is one contiguous key range that RocksDB keeps
// sorted, compressed and crash-safe (WAL + atomic WriteBatch), and a reader
// process can follow the writer through a secondary instance.
//
// On-disk format (format version 1; see embedded_log.cc):
//   column family "records":
//     key   = topic + '\0' + big-endian u32 partition + big-endian u64 offset
//     value = u8 version (1) + varint64 append_time_ms + varint32 key size
//             + key bytes + value bytes (the rest)
//   column family "meta":
//     "format"       -> "jiritsu-embedded-log/1"
//     "topic/" + name -> u8 version (1) + big-endian u32 partitions
//                        + u8 compacted flag
// Topic names are Kafka-legal ([A-Za-z0-9._-], 1..249 chars), so '\0' cannot
// occur in a topic and the key order is (topic, partition, offset).
//
// Semantics (beyond core/event_log.h):
//   * Append assigns the offset immediately (under the log's mutex) and
//     buffers the record in memory; Flush writes everything buffered by any
//     producer of this log as one atomic WriteBatch, in (topic, partition,
//     offset) order, and with `sync_on_flush` fsyncs the WAL before
//     returning. So after a crash the log holds exactly the records of the
//     flushes that completed, and offsets stay contiguous from 0.
//   * Records become visible to consumers (and to EndOffset) only once they
//     are written: EndOffset is the offset after the last written record,
//     like Kafka's high watermark.
//   * A failed Flush keeps its records buffered (their offsets are already
//     taken), so the next Flush retries them and no gap can appear.
//   * Subscribe: the single group member receives every partition of the
//     subscribed topics, reported to the listener from inside the next Poll.
//   * Poll reads the assigned partitions round-robin (a different partition
//     goes first on every call, and each gets a share of max_records), so no
//     partition starves.
//
// Lifecycle: OpenEmbeddedLog -> NewProducer/NewConsumer -> destroy producers
// and consumers -> destroy the log (closes the DB). Destroying the log while
// a producer or consumer still exists is undefined behaviour.
// Thread-safety: the log and its producers are thread-safe; a consumer is
// used by one thread at a time (core/event_log.h). Consumers blocked in Poll
// are woken by Flushes of this process.
// Failure: RocksDB errors are translated here, once: a directory locked by
// another process -> kUnavailable ("embedded log <dir> is in use by another
// process"); unknown topic -> kNotFound naming it; damaged records ->
// kCorruption naming topic[partition] and offset; too much unflushed data ->
// kResourceExhausted (Flush, then retry); disk errors -> kIOError.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/event_log.h"
#include "core/status.h"

namespace jiritsu {

struct EmbeddedLogOptions {
  // Backpressure: Append returns kResourceExhausted while this much is
  // buffered and not yet flushed (whichever limit is hit first). A single
  // record larger than max_pending_bytes is accepted when nothing is pending.
  size_t max_pending_bytes = 64 << 20;
  size_t max_pending_records = 500'000;
  // fsync the WAL on every Flush (durable against power loss). Without it a
  // flushed record survives a process crash but not an OS crash.
  bool sync_on_flush = true;
  // RocksDB block cache for the records (reads are mostly sequential scans
  // that bypass the cache, so it can stay small).
  size_t block_cache_bytes = 16 << 20;
  // Memtables of all the log's column families together (one
  // rocksdb::WriteBufferManager; each write buffer is a quarter of it). At
  // 64 MiB x 3 per family a projection process held ~150-190 MB of log
  // memtables, outside its memory budget (docs/performance.md, "Memory").
  size_t memtable_bytes = 64 << 20;
};

// Opens (creating if needed) the read-write log in `dir`. Only one process
// (and one EventLog instance) may have a directory open read-write.
Result<std::unique_ptr<EventLog>> OpenEmbeddedLog(const std::string& dir,
                                                  const EmbeddedLogOptions& options = {});

// Opens a read-only follower of the log in `dir`, which another process may
// be writing to (replay, queries). It is a RocksDB secondary instance (its
// own small info-log directory under the system temp dir,
// jiritsu-log-follower-<pid>-XXXXXX, removed on close; a follower that was
// killed leaves it behind, and the next follower opened on this machine
// removes the directories of processes that no longer exist);
// Poll (when it has nothing to return) and EndOffset catch up with the
// writer's flushed records. Topics created by the writer after opening are
// discovered when first used. NewProducer -> kFailedPrecondition;
// EnsureTopics succeeds only if every topic already exists as specified.
// kNotFound if `dir` holds no log.
Result<std::unique_ptr<EventLog>> OpenEmbeddedLogReadOnly(const std::string& dir);

}  // namespace jiritsu
