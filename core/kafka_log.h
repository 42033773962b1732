// KafkaLog: the EventLog implementation on Apache Kafka, through librdkafka's
// C API (the only Jiritsu code that talks to Kafka).
//
// What Jiritsu relies on, and how it is enforced here:
//   * Producer: enable.idempotence=true, acks=all (no duplicates or reordering
//     from retries), partitioner=murmur2_random (Kafka's Java default, so a key
//     lands in PartitionForKey(key, n) exactly as on the embedded log). An
//     empty key is produced without a key to partition 0, as on the embedded
//     log.
//   * Consumer: offsets are never committed (enable.auto.commit=false,
//     enable.auto.offset.store=false): Jiritsu keeps offsets with its state.
//     A newly assigned partition starts at the beginning or the end
//     (ConsumerOptions::start_from_beginning) unless the rebalance listener
//     seeks it, never at a group-committed offset.
//   * Topics are never auto-created by producing, consuming or asking for
//     metadata (allow.auto.create.topics=false): EnsureTopics creates them with
//     the right partition counts, through the Admin API (CreateTopics) or
//     through KafkaLogOptions::topic_creator.
//
// Lifecycle: OpenKafkaLog() validates the configuration and creates one
// client used for metadata, watermarks and admin requests; it does not wait
// for the cluster (an unreachable cluster shows up as kUnavailable or
// kDeadlineExceeded on the first call that needs it). The KafkaLog must
// outlive every producer and consumer it created. Destroying a producer
// flushes it for at most KafkaLogOptions::close_timeout; records still
// undelivered then are lost (only Flush() == OK promises durability).
// Destroying a consumer leaves its group WITHOUT calling the rebalance
// listener (its owner checkpoints before destroying it), then waits (at most
// 2 s, normally well under 1 ms) for the group coordinator's connection to
// close before destroying the client (librdkafka issue #3608, see
// docs/reliability.md).
//
// Thread-safety: as EventLog (core/event_log.h): the log and its producers are
// thread-safe; a consumer is used by one thread at a time, and its rebalance
// listener runs on that thread, inside Poll().
//
// Failure: librdkafka errors are translated here, once:
//   retriable broker/transport errors -> kUnavailable; timeouts ->
//   kDeadlineExceeded; local queue full -> kResourceExhausted; unknown topic or
//   partition -> kNotFound; authorization/authentication/configuration
//   rejected by the cluster -> kFailedPrecondition; bad property or record ->
//   kInvalidArgument; fatal producer (idempotence) errors -> kInternal with
//   librdkafka's message (the producer is unusable: create a new one).
//   Messages name the topic/partition and the librdkafka error name.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/event_log.h"
#include "core/status.h"

namespace jiritsu {

struct KafkaLogOptions {
  // "host:port,host:port" (librdkafka bootstrap.servers). Required.
  std::string bootstrap_servers;
  // librdkafka properties passed through verbatim to the producer, consumer
  // and admin clients: security.protocol, sasl.*, ssl.*, tuning (linger.ms,
  // queue.buffering.max.messages, message.timeout.ms, partition.assignment.
  // strategy, ...). An unknown property or an invalid value fails
  // OpenKafkaLog with kInvalidArgument naming it. Properties KafkaLog manages
  // itself (bootstrap.servers, client.id, group.id, enable.idempotence, acks,
  // partitioner, enable.auto.commit, enable.auto.offset.store,
  // auto.offset.reset) are rejected the same way rather than silently
  // overridden. Consumer-only properties are ignored by producers and vice
  // versa (librdkafka behaviour).
  std::map<std::string, std::string> properties;
  // Kafka client.id, visible in broker logs and quotas.
  std::string client_id = "jiritsu";
  // Bound on each metadata, watermark and admin request (EnsureTopics,
  // PartitionCount, EndOffset, and the topic check of Subscribe/Assign).
  std::chrono::milliseconds request_timeout{30000};
  // How long a produced record may stay undelivered before Flush reports it
  // as failed (librdkafka message.timeout.ms). Overridden by an explicit
  // "message.timeout.ms" in `properties`.
  std::chrono::milliseconds delivery_timeout{60000};
  // Best-effort flush when a producer is destroyed without a final Flush().
  std::chrono::milliseconds close_timeout{10000};
  // Replication factor of topics created by EnsureTopics; -1 = broker default
  // (default.replication.factor, needs Kafka >= 2.4).
  int replication_factor = -1;
  // A namespace on a shared cluster: prefixed to every topic name the log
  // uses on the cluster and to every consumer group id (e.g. "acme-staging.":
  // jiritsu.employee is acme-staging.jiritsu.employee there). Callers keep
  // using the unprefixed names: records, assignments and partition lists
  // come back without the prefix, and topics without it are invisible.
  // Error messages name the topic as the cluster does. Empty: no prefix.
  // Invalid characters (Kafka allows [A-Za-z0-9._-]) fail OpenKafkaLog with
  // kInvalidArgument.
  std::string topic_prefix;
  // When set, EnsureTopics calls this for each missing topic instead of the
  // Admin API. For librdkafka's mock cluster, which does not implement
  // CreateTopics: pass KafkaMockCluster::TopicCreator(). It is given the
  // prefixed name.
  std::function<Status(const TopicSpec&)> topic_creator;
};

// Validates `options` and connects lazily. kInvalidArgument: empty bootstrap,
// unknown/invalid/managed property (named in the message).
Result<std::unique_ptr<EventLog>> OpenKafkaLog(const KafkaLogOptions& options);

}  // namespace jiritsu
