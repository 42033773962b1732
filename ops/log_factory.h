// Opening the event log the command line selected (ops/cli.h LogSelection):
// the embedded log at <store>/log (default) or Kafka (--kafka BOOTSTRAP with
// --kafka-property key=value passed through to librdkafka).
//
// Store layout of the embedded default (--store DIR, default ./jiritsu-data):
//   DIR/log           the embedded event log (core/embedded_log.h)
//   DIR/ingest-index  ingestion's dedupe index (core/dedupe_index.h)
//   DIR/views         view generations (ops/cli.h ViewsRoot)
//
// Lifecycle: the returned log is owned by the caller and must outlive the
// producers/consumers it creates.
// Thread-safety: functions are reentrant.
// Failure: bad --kafka-property syntax -> kInvalidArgument; an embedded log
// held by another process -> kUnavailable; a missing log opened for reading
// -> kNotFound; EnsureTopics failures as returned by the log (a partition
// count that differs from an existing topic -> kFailedPrecondition).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/status.h"
#include "ops/cli.h"

namespace jiritsu {

enum class LogAccess {
  // Read-write; creates every Jiritsu topic that is missing
  // (AllTopicSpecs(selection.partitions)).
  kReadWriteEnsureTopics,
  // Read-only: the embedded log is opened as a follower (works while another
  // process writes it); Kafka is opened without creating topics.
  kReadOnly,
};

Result<std::unique_ptr<EventLog>> OpenLog(const LogSelection& selection,
                                          LogAccess access = LogAccess::kReadWriteEnsureTopics);

// "key=value" strings -> map; kInvalidArgument naming the bad entry.
Result<std::map<std::string, std::string>> ParseKafkaProperties(
    const std::vector<std::string>& properties);

std::string EmbeddedLogDir(const LogSelection& selection);  // <store>/log

// Where ingestion keeps its dedupe index: `dedupe_dir` when given, else
// <store>/ingest-index on the embedded log, ./jiritsu-ingest-index on Kafka.
std::string IngestIndexDir(const LogSelection& selection, const std::string& dedupe_dir);

}  // namespace jiritsu
