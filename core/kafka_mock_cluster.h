// KafkaMockCluster: librdkafka's built-in mock Kafka cluster, for tests and
// `jiritsu devcluster`.
//
// What it is: N brokers inside this process, listening on 127.0.0.1
// ephemeral ports and speaking the real Kafka wire protocol, so KafkaLog,
// kcat or any other Kafka client can connect to bootstrap_servers().
//
// What it is NOT: durable or complete. Everything is kept in memory and lost
// when the object is destroyed or the process exits. It implements produce,
// fetch, list offsets, metadata, consumer groups and idempotent/transactional
// producers, but not the Admin API (no CreateTopics, DescribeConfigs):
// create topics with CreateTopic() or pass TopicCreator() to
// KafkaLogOptions::topic_creator. Topic configs (cleanup.policy=compact) are
// not modelled: nothing is ever compacted or deleted.
//
// Fault injection (for reliability tests) works on protocol requests and
// brokers: SetBrokerDown/Up, PushRequestErrors, SetBrokerRtt,
// SetPartitionLeader. Broker ids are 1..num_brokers.
//
// Lifecycle: construct, Start(), use, destroy (stops the brokers; clients
// still connected see their connections drop). Clients created against it
// should be destroyed first, or they will log connection errors.
// Thread-safety: all methods are thread-safe after Start() returned (they
// post to the mock cluster's own thread); Start() itself is not.
// Failure: Start() -> kUnavailable if the brokers cannot be created; fault
// injection on an unknown broker/topic -> kNotFound or kInvalidArgument.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/event_log.h"
#include "core/status.h"

struct rd_kafka_s;
struct rd_kafka_mock_cluster_s;

namespace jiritsu {

// Kafka protocol request types (ApiKey) for PushRequestErrors.
namespace kafka_api {
inline constexpr int16_t kProduce = 0;
inline constexpr int16_t kFetch = 1;
inline constexpr int16_t kListOffsets = 2;
inline constexpr int16_t kMetadata = 3;
inline constexpr int16_t kOffsetCommit = 8;
inline constexpr int16_t kOffsetFetch = 9;
inline constexpr int16_t kFindCoordinator = 10;
inline constexpr int16_t kJoinGroup = 11;
inline constexpr int16_t kHeartbeat = 12;
inline constexpr int16_t kLeaveGroup = 13;
inline constexpr int16_t kSyncGroup = 14;
inline constexpr int16_t kInitProducerId = 22;
}  // namespace kafka_api

// Kafka protocol error codes for PushRequestErrors (subset; any code works).
namespace kafka_error {
inline constexpr int kNone = 0;
inline constexpr int kUnknownTopicOrPartition = 3;
inline constexpr int kLeaderNotAvailable = 5;
inline constexpr int kNotLeaderForPartition = 6;
inline constexpr int kRequestTimedOut = 7;
inline constexpr int kNotCoordinator = 16;
inline constexpr int kNotEnoughReplicas = 19;
inline constexpr int kTopicAuthorizationFailed = 29;
inline constexpr int kGroupAuthorizationFailed = 30;
}  // namespace kafka_error

class KafkaMockCluster {
 public:
  KafkaMockCluster() = default;
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // Starts `num_brokers` (>= 1) brokers; returns the bootstrap servers
  // ("127.0.0.1:port,..."). kFailedPrecondition if already started.
  Result<std::string> Start(int num_brokers = 1);
  // Empty before Start().
  const std::string& bootstrap_servers() const { return bootstrap_servers_; }
  int num_brokers() const { return num_brokers_; }

  // Creates a topic (replication_factor <= num_brokers). kAlreadyExists if
  // it exists (whatever its partition count).
  Status CreateTopic(const std::string& name, int32_t partitions, int replication_factor = 1);
  // For KafkaLogOptions::topic_creator: creates spec.name with
  // spec.partitions and replication min(3, num_brokers). The cluster must
  // outlive the log using it.
  std::function<Status(const TopicSpec&)> TopicCreator();

  // The broker stops answering (connections are closed, new ones refused)
  // until SetBrokerUp.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  // Adds `rtt` latency to every response of the broker.
  Status SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt);
  Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);
  // The next requests of type `api_key` (any broker) fail with these Kafka
  // error codes, one per request, in order (kafka_error::kNone = succeed).
  void PushRequestErrors(int16_t api_key, const std::vector<int>& error_codes);
  // Forgets errors pushed for `api_key` and not consumed yet.
  void ClearRequestErrors(int16_t api_key);

 private:
  rd_kafka_s* host_ = nullptr;  // dedicated client handle the cluster runs in
  rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_servers_;
  int num_brokers_ = 0;
};

}  // namespace jiritsu
