#include "core/kafka_mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <array>

#include "core/logging.h"

namespace jiritsu {
namespace {

void MockLogCallback(const rd_kafka_t* /*rk*/, int level, const char* facility,
                     const char* message) {
  // The mock's own chatter is only interesting when debugging it.
  if (level <= 3) {
    ModuleLogger("kafka")->warn("mock [{}] {}", facility, message);
  } else {
    ModuleLogger("kafka")->debug("mock [{}] {}", facility, message);
  }
}

// The mock reports through librdkafka error codes; the ones it returns are
// all about our arguments.
Status MockStatus(rd_kafka_resp_err_t err, const std::string& context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string message = context + ": " + rd_kafka_err2name(err) + " (" + rd_kafka_err2str(err) + ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return AlreadyExists(std::move(message));
    case RD_KAFKA_RESP_ERR__UNKNOWN_BROKER:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return NotFound(std::move(message));
    default:
      return InvalidArgument(std::move(message));
  }
}

}  // namespace

KafkaMockCluster::~KafkaMockCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (host_ != nullptr) rd_kafka_destroy(host_);
}

Result<std::string> KafkaMockCluster::Start(int num_brokers) {
  if (cluster_ != nullptr) return FailedPrecondition("kafka mock cluster already started");
  if (num_brokers < 1) {
    return InvalidArgument("kafka mock cluster needs >= 1 broker, got " +
                           std::to_string(num_brokers));
  }
  // The cluster lives in a client handle's threads; a producer handle with no
  // bootstrap servers never connects anywhere itself.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, &MockLogCallback);
  std::array<char, 512> errstr{};
  host_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr.data(), errstr.size());
  if (host_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Unavailable(std::string("kafka mock cluster host client: ") + errstr.data());
  }
  cluster_ = rd_kafka_mock_cluster_new(host_, num_brokers);
  if (cluster_ == nullptr) {
    rd_kafka_destroy(host_);
    host_ = nullptr;
    return Unavailable("kafka mock cluster: could not start " + std::to_string(num_brokers) +
                       " brokers");
  }
  num_brokers_ = num_brokers;
  bootstrap_servers_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  return bootstrap_servers_;
}

Status KafkaMockCluster::CreateTopic(const std::string& name, int32_t partitions,
                                     int replication_factor) {
  if (cluster_ == nullptr) return FailedPrecondition("kafka mock cluster not started");
  if (partitions < 1 || replication_factor < 1 || replication_factor > num_brokers_) {
    return InvalidArgument("kafka mock topic '" + name + "': " + std::to_string(partitions) +
                           " partitions, replication " + std::to_string(replication_factor) +
                           " on " + std::to_string(num_brokers_) + " brokers");
  }
  return MockStatus(
      rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, replication_factor),
      "kafka mock create topic '" + name + "'");
}

std::function<Status(const TopicSpec&)> KafkaMockCluster::TopicCreator() {
  return [this](const TopicSpec& spec) {
    return CreateTopic(spec.name, spec.partitions, std::min(3, num_brokers_));
  };
}

Status KafkaMockCluster::SetBrokerDown(int32_t broker_id) {
  if (cluster_ == nullptr) return FailedPrecondition("kafka mock cluster not started");
  return MockStatus(rd_kafka_mock_broker_set_down(cluster_, broker_id),
                    "kafka mock broker " + std::to_string(broker_id) + " down");
}

Status KafkaMockCluster::SetBrokerUp(int32_t broker_id) {
  if (cluster_ == nullptr) return FailedPrecondition("kafka mock cluster not started");
  return MockStatus(rd_kafka_mock_broker_set_up(cluster_, broker_id),
                    "kafka mock broker " + std::to_string(broker_id) + " up");
}

Status KafkaMockCluster::SetBrokerRtt(int32_t broker_id, std::chrono::milliseconds rtt) {
  if (cluster_ == nullptr) return FailedPrecondition("kafka mock cluster not started");
  return MockStatus(
      rd_kafka_mock_broker_set_rtt(cluster_, broker_id, static_cast<int>(rtt.count())),
      "kafka mock broker " + std::to_string(broker_id) + " rtt");
}

Status KafkaMockCluster::SetPartitionLeader(const std::string& topic, int32_t partition,
                                            int32_t broker_id) {
  if (cluster_ == nullptr) return FailedPrecondition("kafka mock cluster not started");
  return MockStatus(
      rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker_id),
      "kafka mock leader of " + ToString({topic, partition}));
}

void KafkaMockCluster::PushRequestErrors(int16_t api_key, const std::vector<int>& error_codes) {
  if (cluster_ == nullptr || error_codes.empty()) return;
  std::vector<rd_kafka_resp_err_t> errors;
  errors.reserve(error_codes.size());
  for (int code : error_codes) errors.push_back(static_cast<rd_kafka_resp_err_t>(code));
  rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
}

void KafkaMockCluster::ClearRequestErrors(int16_t api_key) {
  if (cluster_ != nullptr) rd_kafka_mock_clear_request_errors(cluster_, api_key);
}

}  // namespace jiritsu
