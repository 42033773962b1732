#include "core/kafka_log.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/logging.h"

namespace jiritsu {
namespace {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------
// Logging: librdkafka's log lines go to the "kafka" spdlog logger.

std::shared_ptr<spdlog::logger> Logger() {
  static const std::shared_ptr<spdlog::logger> logger = ModuleLogger("kafka");
  return logger;
}

void LogCallback(const rd_kafka_t* /*rk*/, int level, const char* facility,
                 const char* message) {
  // Producer/consumer properties applied to every client type are expected:
  // librdkafka's "will be ignored by this consumer instance" warning is noise.
  // librdkafka's mock cluster answers Metadata < v4, so librdkafka warns that
  // allow.auto.create.topics=false cannot be honoured; KafkaLog checks topic
  // existence itself before producing or consuming, so it does not matter.
  if (std::strstr(message, "will be ignored by this") != nullptr ||
      std::strstr(message, "allow.auto.create.topics=false not supported") != nullptr) {
    Logger()->debug("[{}] {}", facility, message);
    return;
  }
  // librdkafka uses syslog levels.
  if (level <= 3) {
    Logger()->error("[{}] {}", facility, message);
  } else if (level == 4) {
    Logger()->warn("[{}] {}", facility, message);
  } else if (level <= 6) {
    Logger()->info("[{}] {}", facility, message);
  } else {
    Logger()->debug("[{}] {}", facility, message);
  }
}

// ---------------------------------------------------------------------------
// Error translation: the one place librdkafka error codes become Statuses.

Status TranslateError(rd_kafka_resp_err_t err, std::string_view context,
                      const char* detail = nullptr) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string message = std::string(context) + ": " + rd_kafka_err2name(err) +
                        " (" +
                        (detail != nullptr && *detail != '\0' ? detail : rd_kafka_err2str(err)) +
                        ")";
  switch (err) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return ResourceExhausted(std::move(message));

    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return DeadlineExceeded(std::move(message));

    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return NotFound(std::move(message));

    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return AlreadyExists(std::move(message));

    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE:
      return InvalidArgument(std::move(message));

    // The cluster refuses us: a configuration or ACL problem, not transient.
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_SASL_MECHANISM:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR__STATE:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      return FailedPrecondition(std::move(message));

    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR__BAD_COMPRESSION:
      return Corruption(std::move(message));

    // Idempotence/sequence violations: the producer instance is unusable.
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_DUPLICATE_SEQUENCE_NUMBER:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID:
    case RD_KAFKA_RESP_ERR__GAPLESS_GUARANTEE:
    case RD_KAFKA_RESP_ERR__INCONSISTENT:
    case RD_KAFKA_RESP_ERR__FENCED:
      return Internal(std::move(message));

    default:
      break;
  }
  // Broker errors not listed above (leader moves, coordinator loading, not
  // enough replicas, network exceptions) and local transport errors are
  // transient by Kafka's design: the client recovers on its own.
  return Unavailable(std::move(message));
}

// Describes a fatal producer error (idempotence guarantees could not be kept).
Status FatalProducerError(rd_kafka_t* rk, std::string_view context) {
  std::array<char, 512> reason{};
  rd_kafka_resp_err_t underlying = rd_kafka_fatal_error(rk, reason.data(), reason.size());
  return Internal(std::string(context) + ": fatal producer error " +
                  rd_kafka_err2name(underlying) + " (" + reason.data() +
                  "); this producer is unusable, create a new one");
}

// ---------------------------------------------------------------------------
// RAII for librdkafka objects.

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using Conf = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};
using Message = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using Error = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* options) const {
    rd_kafka_AdminOptions_destroy(options);
  }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* topic) const { rd_kafka_NewTopic_destroy(topic); }
};

Status StatusFromError(rd_kafka_error_t* raw, std::string_view context) {
  if (raw == nullptr) return Status::Ok();
  Error error(raw);
  return TranslateError(rd_kafka_error_code(error.get()), context,
                        rd_kafka_error_string(error.get()));
}

int ToMillis(std::chrono::milliseconds duration) {
  return static_cast<int>(std::clamp<int64_t>(duration.count(), 0, INT32_MAX));
}

// A cluster's topic name without the namespace prefix
// (KafkaLogOptions::topic_prefix); only prefixed topics are ever subscribed,
// assigned or listed, so every name met here carries it.
std::string_view Unprefixed(std::string_view topic, std::string_view prefix) {
  if (topic.starts_with(prefix)) topic.remove_prefix(prefix.size());
  return topic;
}

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list,
                                     std::string_view prefix) {
  std::vector<TopicPartition> result;
  if (list == nullptr) return result;
  result.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    result.push_back(
        {std::string(Unprefixed(list->elems[i].topic, prefix)), list->elems[i].partition});
  }
  std::sort(result.begin(), result.end());
  return result;
}

// Properties KafkaLog sets itself because Jiritsu's guarantees depend on them.
constexpr std::array<std::string_view, 12> kManagedProperties = {
    "bootstrap.servers",  "metadata.broker.list", "client.id",
    "group.id",           "enable.idempotence",   "acks",
    "request.required.acks", "partitioner",       "enable.auto.commit",
    "enable.auto.offset.store", "auto.offset.reset", "enable.partition.eof"};

enum class ClientKind { kProducer, kConsumer, kAdmin };

class KafkaLog;

// ---------------------------------------------------------------------------
// Producer.

class KafkaProducer final : public LogProducer {
 public:
  KafkaProducer(KafkaLog* log, std::chrono::milliseconds close_timeout)
      : log_(log), close_timeout_(close_timeout) {}

  ~KafkaProducer() override {
    if (!handle_) return;
    // Best effort: deliver what is queued; report what could not be.
    Status status = Flush(close_timeout_);
    if (!status.ok()) {
      Logger()->error("producer closed with undelivered records: {}", status.ToString());
    }
    handle_.reset();  // before the members its callbacks use
  }

  // Creates the librdkafka handle; `this` becomes the callbacks' opaque.
  Status Init(Conf conf) {
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaProducer::OnDelivery);
    rd_kafka_conf_set_error_cb(conf.get(), &KafkaProducer::OnError);
    std::array<char, 512> errstr{};
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size());
    if (rk == nullptr) return InvalidArgument(std::string("kafka producer: ") + errstr.data());
    conf.release();  // owned by rk now
    handle_.reset(rk);
    return Status::Ok();
  }

  Status Append(const std::string& topic, std::string_view key,
                std::string_view value) override;

  Status Flush(std::chrono::milliseconds timeout) override {
    const rd_kafka_resp_err_t err = rd_kafka_flush(handle_.get(), ToMillis(timeout));
    if (Status failure = TakeFirstFailure(); !failure.ok()) return failure;
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      return DeadlineExceeded("kafka flush: " + std::to_string(rd_kafka_outq_len(handle_.get())) +
                              " records/requests still undelivered after " +
                              std::to_string(timeout.count()) + " ms");
    }
    if (rd_kafka_fatal_error(handle_.get(), nullptr, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return FatalProducerError(handle_.get(), "kafka flush");
    }
    return TranslateError(err, "kafka flush");
  }

 private:
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque) {
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    // Not rd_kafka_message_errstr(): on a delivery report the payload is the
    // record itself, not an error string (ASan: heap-buffer-overflow).
    auto* self = static_cast<KafkaProducer*>(opaque);
    const std::string where = "kafka delivery to " +
                              ToString({rd_kafka_topic_name(message->rkt), message->partition});
    // A record purged by a fatal error: report the error that caused it.
    Status failure = message->err == RD_KAFKA_RESP_ERR__FATAL
                         ? FatalProducerError(rk, where)
                         : TranslateError(message->err, where);
    std::lock_guard<std::mutex> lock(self->mu_);
    ++self->failures_;
    if (self->first_failure_.ok()) self->first_failure_ = std::move(failure);
  }

  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* /*opaque*/) {
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      Logger()->error("{}", FatalProducerError(rk, "kafka producer").ToString());
      return;
    }
    // Transient (connection lost, all brokers down): librdkafka retries;
    // records that cannot be delivered in time fail through OnDelivery.
    Logger()->warn("kafka producer: {}: {}",
                   rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
  }

  // The first delivery failure since the previous call, with the count.
  Status TakeFirstFailure() {
    std::lock_guard<std::mutex> lock(mu_);
    Status failure = std::exchange(first_failure_, Status::Ok());
    const uint64_t count = std::exchange(failures_, 0);
    if (failure.ok() || count <= 1) return failure;
    return failure.WithContext(std::to_string(count) + " records failed, first");
  }

  KafkaLog* const log_;
  const std::chrono::milliseconds close_timeout_;
  Handle handle_;
  std::mutex mu_;
  Status first_failure_;      // guarded by mu_
  uint64_t failures_ = 0;     // guarded by mu_
};

// ---------------------------------------------------------------------------
// Consumer.

// librdkafka 2.0 can abort a consumer's process inside rd_kafka_destroy
// ("rd_kafka_broker_destroy_final: Assertion `thrd_is_current(rkb->rkb_thread)'
// failed", librdkafka issue #3608; seen here once in CI). Closing the consumer
// clears the group coordinator's node; the coordinator's own thread then
// drops its connection and, as for any broker that goes down, refreshes
// metadata through another broker. When rd_kafka_destroy is tearing that
// broker down at the same moment, its last reference can be dropped on the
// coordinator's thread, which librdkafka asserts against. With
// rd_kafka_destroy right after the close, the debug log showed the two
// overlapping in one close of two.
//
// CoordinatorWatch sees the coordinator's state changes (an
// on_broker_state_change interceptor, called on broker threads) so that the
// consumer's destructor waits until the coordinator has left DOWN, which it
// does only after that refresh, before destroying the handle.
// Thread-safety: OnStateChange runs on librdkafka's threads; the rest on the
// consumer's owner. Lifecycle: attached to the configuration before
// rd_kafka_new; must outlive the handle.
class CoordinatorWatch {
 public:
  // The logical broker librdkafka names after the group coordinator.
  static constexpr std::string_view kCoordinatorName = "GroupCoordinator";

  Status Attach(rd_kafka_conf_t* conf) {
    return TranslateError(
        rd_kafka_conf_interceptor_add_on_new(conf, "jiritsu-coordinator-watch", &OnNew, this),
        "kafka consumer: coordinator watch");
  }

  // Taken just before rd_kafka_consumer_close: whether closing will drop a
  // connection (and so refresh metadata), and how many times the coordinator
  // has left DOWN so far.
  struct BeforeClose {
    bool will_disconnect = false;
    uint64_t settled = 0;
  };
  BeforeClose Mark() const {
    std::lock_guard<std::mutex> lock(mu_);
    // INIT and TRY_CONNECT have no connection to drop (or none yet).
    const bool idle = state_.empty() || state_ == "INIT" || state_ == "TRY_CONNECT";
    return {!idle, settled_};
  }

  // Waits (bounded) until the coordinator left DOWN after `mark`; true if it
  // did or had nothing to drop.
  bool AwaitSettled(const BeforeClose& mark, std::chrono::milliseconds timeout) const {
    if (!mark.will_disconnect) return true;
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return settled_ > mark.settled; });
  }

 private:
  static rd_kafka_resp_err_t OnNew(rd_kafka_t* rk, const rd_kafka_conf_t* /*conf*/, void* opaque,
                                   char* /*errstr*/, size_t /*errstr_size*/) {
    return rd_kafka_interceptor_add_on_broker_state_change(rk, "jiritsu-coordinator-watch",
                                                           &OnStateChange, opaque);
  }
  static rd_kafka_resp_err_t OnStateChange(rd_kafka_t* /*rk*/, int32_t /*broker_id*/,
                                           const char* /*secproto*/, const char* name, int /*port*/,
                                           const char* state, void* opaque) {
    if (name == nullptr || state == nullptr || name != kCoordinatorName) {
      return RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    auto* watch = static_cast<CoordinatorWatch*>(opaque);
    {
      std::lock_guard<std::mutex> lock(watch->mu_);
      if (watch->state_ == "DOWN" && std::strcmp(state, "DOWN") != 0) ++watch->settled_;
      watch->state_ = state;
    }
    watch->changed_.notify_all();
    return RD_KAFKA_RESP_ERR_NO_ERROR;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::string state_;     // guarded by mu_; the coordinator's last state
  uint64_t settled_ = 0;  // guarded by mu_; times it left DOWN
};

class KafkaConsumer final : public LogConsumer {
 public:
  KafkaConsumer(KafkaLog* log, const ConsumerOptions& options) : log_(log), options_(options) {}

  ~KafkaConsumer() override {
    if (!handle_) return;
    // Leave the group promptly; the listener is not called from here.
    closing_ = true;
    if (subscribed_) LeaveGroupBeforeClose();
    const CoordinatorWatch::BeforeClose before_close = coordinator_.Mark();
    rd_kafka_resp_err_t err = rd_kafka_consumer_close(handle_.get());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Logger()->warn("kafka consumer close: {}", rd_kafka_err2str(err));
    }
    if (!coordinator_.AwaitSettled(before_close, kCoordinatorSettleTimeout)) {
      Logger()->warn(
          "kafka consumer close: the group coordinator's connection did not close within {} ms; "
          "destroying the client anyway (librdkafka issue #3608 may abort the process)",
          kCoordinatorSettleTimeout.count());
    }
    handle_.reset();  // before the members its callbacks use
  }

  Status Init(Conf conf) {
    rd_kafka_conf_set_opaque(conf.get(), this);
    rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaConsumer::OnRebalance);
    JIRITSU_RETURN_IF_ERROR(coordinator_.Attach(conf.get()));
    std::array<char, 512> errstr{};
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr.data(), errstr.size());
    if (rk == nullptr) return InvalidArgument(std::string("kafka consumer: ") + errstr.data());
    conf.release();
    handle_.reset(rk);
    // Serve every event (rebalances, errors) from rd_kafka_consumer_poll.
    return TranslateError(rd_kafka_poll_set_consumer(rk), "kafka consumer");
  }

  Status Subscribe(const std::vector<std::string>& topics, RebalanceListener* listener) override;
  Status Assign(const std::map<TopicPartition, int64_t>& start_offsets) override;
  Status Seek(const TopicPartition& tp, int64_t offset) override;
  Status SetPaused(const std::vector<TopicPartition>& partitions, bool paused);
  Status Poll(std::chrono::milliseconds timeout, size_t max_records,
              std::vector<LogRecord>* out) override;

  Status Pause(const std::vector<TopicPartition>& partitions) override {
    return SetPaused(partitions, true);
  }
  Status Resume(const std::vector<TopicPartition>& partitions) override {
    return SetPaused(partitions, false);
  }

  const std::string& log_prefix() const;

  std::vector<TopicPartition> Assignment() const override {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(handle_.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    PartitionList list(raw);
    return ToVector(list.get(), log_prefix());
  }

 private:
  static void OnRebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<KafkaConsumer*>(opaque)->HandleRebalance(err, partitions);
  }
  void HandleRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  // librdkafka 2.0 can hang for ever inside rd_kafka_consumer_close when the
  // group's final revocation (or an assignment still in flight) is handled
  // during the close itself: the (incremental) unassign our rebalance
  // callback must make waits on a group queue that is being torn down
  // (librdkafka issues #4527, #4041; seen here as a stuck
  // CooperativeRebalance test). The maintainers' workaround: unsubscribe,
  // serve the rebalance callbacks until nothing is assigned and no
  // rebalance is pending, then close. Bounded, so a dead broker cannot
  // keep a destructor waiting; records fetched meanwhile are dropped
  // (positions are ours, nothing is committed).
  void LeaveGroupBeforeClose();
  // The end offset now, so that "start at the end" means the end as of the
  // assignment (before OnAssigned returns), not whenever librdkafka's fetcher
  // gets to resolve it; librdkafka's logical END if the lookup fails.
  int64_t EndNow(const TopicPartition& tp);
  // Keeps the first error for the next Poll (rebalance failures happen inside
  // librdkafka's callback, where nothing can be returned).
  void Defer(Status status) {
    if (deferred_error_.ok()) deferred_error_ = std::move(status);
  }

  // Bounds the wait for the coordinator before destroying (see
  // CoordinatorWatch); it normally takes well under a millisecond.
  static constexpr std::chrono::milliseconds kCoordinatorSettleTimeout{2000};

  KafkaLog* const log_;
  const ConsumerOptions options_;
  CoordinatorWatch coordinator_;  // before handle_: its callbacks use it
  Handle handle_;
  RebalanceListener* listener_ = nullptr;
  bool subscribed_ = false;
  bool assigned_manually_ = false;
  bool closing_ = false;
  // The group's rebalance protocol as last reported by librdkafka.
  bool cooperative_ = false;
  // While the listener's OnAssigned runs: start offsets of the partitions
  // being assigned, so that Seek() from the listener sets where they start.
  std::map<TopicPartition, int64_t>* pending_assignment_ = nullptr;
  // Partitions revoked during the current Poll: records of theirs fetched in
  // that Poll are dropped (their new owner reads them).
  std::set<TopicPartition> revoked_in_poll_;
  // An error seen after records were already collected (or inside a
  // callback): returned by the next Poll, so records are never lost.
  Status deferred_error_;
};

// ---------------------------------------------------------------------------
// The log.

class KafkaLog final : public EventLog {
 public:
  explicit KafkaLog(KafkaLogOptions options) : options_(std::move(options)) {}

  Status Init() {
    JIRITSU_ASSIGN_OR_RETURN(Conf conf, NewConf(ClientKind::kAdmin));
    std::array<char, 512> errstr{};
    // A producer-type handle: it can send metadata, admin and ListOffsets
    // requests without joining anything.
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr.data(), errstr.size());
    if (rk == nullptr) return InvalidArgument(std::string("kafka admin client: ") + errstr.data());
    conf.release();
    admin_.reset(rk);
    return Status::Ok();
  }

  // A configuration for one client kind: our defaults, then the user's
  // properties verbatim, then the settings Jiritsu's guarantees need.
  Result<Conf> NewConf(ClientKind kind, const ConsumerOptions* consumer = nullptr) const {
    Conf conf(rd_kafka_conf_new());
    std::array<char, 512> errstr{};
    auto set = [&](const std::string& key, const std::string& value) -> Status {
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr.data(),
                            errstr.size()) != RD_KAFKA_CONF_OK) {
        return InvalidArgument("kafka property '" + key + "': " + errstr.data());
      }
      return Status::Ok();
    };
    rd_kafka_conf_set_log_cb(conf.get(), &LogCallback);
    // Defaults the user may override.
    JIRITSU_RETURN_IF_ERROR(set("allow.auto.create.topics", "false"));
    JIRITSU_RETURN_IF_ERROR(
        set("message.timeout.ms", std::to_string(ToMillis(options_.delivery_timeout))));
    JIRITSU_RETURN_IF_ERROR(set("linger.ms", "5"));
    JIRITSU_RETURN_IF_ERROR(set("batch.num.messages", "10000"));
    // Event JSON compresses ~4x: less broker disk and network (and a mock
    // cluster's 5 MiB per-partition cap holds 4x more).
    JIRITSU_RETURN_IF_ERROR(set("compression.type", "lz4"));
    // Match the broker's default record size limit (1 MiB + overhead) rather
    // than librdkafka's smaller one, so 1 MB values fit.
    JIRITSU_RETURN_IF_ERROR(set("message.max.bytes", "1048588"));
    for (const auto& [key, value] : options_.properties) {
      if (std::find(kManagedProperties.begin(), kManagedProperties.end(), key) !=
          kManagedProperties.end()) {
        return InvalidArgument("kafka property '" + key +
                               "' is managed by KafkaLog and may not be overridden");
      }
      JIRITSU_RETURN_IF_ERROR(set(key, value));
    }
    // The consumer's own need wins over the log-wide properties (see
    // ConsumerOptions::empty_fetch_wait).
    if (kind == ClientKind::kConsumer && consumer != nullptr &&
        consumer->empty_fetch_wait.count() > 0) {
      JIRITSU_RETURN_IF_ERROR(
          set("fetch.wait.max.ms", std::to_string(consumer->empty_fetch_wait.count())));
    }
    // Managed.
    JIRITSU_RETURN_IF_ERROR(set("bootstrap.servers", options_.bootstrap_servers));
    JIRITSU_RETURN_IF_ERROR(set("client.id", options_.client_id));
    switch (kind) {
      case ClientKind::kProducer:
        JIRITSU_RETURN_IF_ERROR(set("enable.idempotence", "true"));
        JIRITSU_RETURN_IF_ERROR(set("acks", "all"));
        JIRITSU_RETURN_IF_ERROR(set("partitioner", "murmur2_random"));
        break;
      case ClientKind::kConsumer:
        JIRITSU_RETURN_IF_ERROR(set(
            "group.id",
            options_.topic_prefix + (consumer != nullptr ? consumer->group_id : "jiritsu")));
        JIRITSU_RETURN_IF_ERROR(set("enable.auto.commit", "false"));
        JIRITSU_RETURN_IF_ERROR(set("enable.auto.offset.store", "false"));
        JIRITSU_RETURN_IF_ERROR(set("enable.partition.eof", "false"));
        // Positions are always explicit (stored offsets, or the beginning /
        // end resolved by the listener). An explicit position the broker no
        // longer has means records were deleted (retention, a mock cluster's
        // size cap, a recreated topic): silently jumping to the earliest one
        // would build views from an incomplete history, so it is an error.
        JIRITSU_RETURN_IF_ERROR(set("auto.offset.reset", "error"));
        break;
      case ClientKind::kAdmin:
        break;
    }
    return conf;
  }

  // The topic's name on the cluster.
  std::string Prefixed(std::string_view topic) const {
    return options_.topic_prefix + std::string(topic);
  }
  std::string Prefixed(const TopicPartition& tp) const {
    return ToString({Prefixed(tp.topic), tp.partition});
  }
  const std::string& prefix() const { return options_.topic_prefix; }

  // Partition counts of every topic the cluster reports (one metadata
  // request for all topics: unlike a request naming a topic, it never
  // auto-creates one). Refreshes the cache CheckPartitionsExist uses.
  Result<std::map<std::string, int32_t>> ListTopics() const {
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(admin_.get(), /*all_topics=*/1, nullptr, &metadata, timeout_ms());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return TranslateError(err, "kafka metadata from " + options_.bootstrap_servers);
    }
    std::map<std::string, int32_t> topics;  // by unprefixed name, only those in the namespace
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
      const std::string_view name = topic.topic;
      if (topic.err == RD_KAFKA_RESP_ERR_NO_ERROR && topic.partition_cnt > 0 &&
          name.starts_with(options_.topic_prefix) && name.size() > options_.topic_prefix.size()) {
        topics[std::string(Unprefixed(name, options_.topic_prefix))] = topic.partition_cnt;
      }
    }
    rd_kafka_metadata_destroy(metadata);
    std::lock_guard<std::mutex> lock(known_topics_mu_);
    known_topics_ = topics;
    return topics;
  }

  // kNotFound unless every partition exists. Checked before librdkafka is
  // asked about a topic by name, which could auto-create it (the mock cluster
  // always does) or hold records for it until a timeout. Cached: only a miss
  // costs a metadata request.
  Status CheckPartitionsExist(const std::vector<TopicPartition>& partitions) const {
    auto all_known = [&](const std::map<std::string, int32_t>& topics) {
      return std::all_of(partitions.begin(), partitions.end(), [&](const TopicPartition& tp) {
        auto it = topics.find(tp.topic);
        return it != topics.end() && tp.partition >= 0 && tp.partition < it->second;
      });
    };
    {
      std::lock_guard<std::mutex> lock(known_topics_mu_);
      if (all_known(known_topics_)) return Status::Ok();
    }
    JIRITSU_ASSIGN_OR_RETURN(auto topics, ListTopics());
    for (const auto& tp : partitions) {
      auto it = topics.find(tp.topic);
      if (it == topics.end()) {
        return NotFound("kafka topic '" + Prefixed(tp.topic) + "' does not exist");
      }
      if (tp.partition < 0 || tp.partition >= it->second) {
        return NotFound("kafka partition " + Prefixed(tp) + " does not exist (topic has " +
                        std::to_string(it->second) + " partitions)");
      }
    }
    return Status::Ok();
  }

  Status EnsureTopics(const std::vector<TopicSpec>& specs) override {
    for (const auto& spec : specs) {
      if (spec.name.empty() || spec.partitions < 1) {
        return InvalidArgument("topic spec '" + spec.name + "' with " +
                               std::to_string(spec.partitions) + " partitions");
      }
    }
    JIRITSU_ASSIGN_OR_RETURN(auto existing, ListTopics());
    std::vector<TopicSpec> missing;
    for (const auto& spec : specs) {
      if (!existing.contains(spec.name)) missing.push_back(spec);
    }
    if (!missing.empty()) {
      if (options_.topic_creator) {
        for (TopicSpec spec : missing) {
          spec.name = Prefixed(spec.name);
          Status status = options_.topic_creator(spec);
          if (!status.ok() && status.code() != StatusCode::kAlreadyExists) {
            return status.WithContext("create kafka topic '" + spec.name + "'");
          }
        }
      } else {
        JIRITSU_RETURN_IF_ERROR(CreateTopics(missing));
      }
    }
    // Verify through metadata. A new topic takes a moment to appear in every
    // broker's metadata, so retry until it does (bounded).
    const auto deadline = Clock::now() + options_.request_timeout;
    while (true) {
      JIRITSU_ASSIGN_OR_RETURN(existing, ListTopics());
      std::string absent;
      for (const auto& spec : specs) {
        auto it = existing.find(spec.name);
        if (it == existing.end()) {
          absent += (absent.empty() ? "" : ", ") + Prefixed(spec.name);
        } else if (it->second != spec.partitions) {
          return FailedPrecondition("kafka topic '" + Prefixed(spec.name) + "' has " +
                                    std::to_string(it->second) + " partitions, wanted " +
                                    std::to_string(spec.partitions));
        }
      }
      if (absent.empty()) return Status::Ok();
      if (Clock::now() >= deadline) {
        return DeadlineExceeded("kafka topics not visible in metadata after creation: " + absent);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  Result<int32_t> PartitionCount(const std::string& topic) override {
    JIRITSU_ASSIGN_OR_RETURN(auto topics, ListTopics());
    auto it = topics.find(topic);
    if (it == topics.end()) return NotFound("kafka topic '" + Prefixed(topic) + "' does not exist");
    return it->second;
  }

  Result<int64_t> EndOffset(const TopicPartition& tp) override {
    JIRITSU_RETURN_IF_ERROR(CheckPartitionsExist({tp}));
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        admin_.get(), Prefixed(tp.topic).c_str(), tp.partition, &low, &high, timeout_ms());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return TranslateError(err, "kafka end offset of " + Prefixed(tp));
    }
    return high;
  }

  Result<std::unique_ptr<LogProducer>> NewProducer() override {
    JIRITSU_ASSIGN_OR_RETURN(Conf conf, NewConf(ClientKind::kProducer));
    auto producer = std::make_unique<KafkaProducer>(this, options_.close_timeout);
    JIRITSU_RETURN_IF_ERROR(producer->Init(std::move(conf)));
    return std::unique_ptr<LogProducer>(std::move(producer));
  }

  Result<std::unique_ptr<LogConsumer>> NewConsumer(const ConsumerOptions& options) override {
    if (options.group_id.empty()) return InvalidArgument("kafka consumer: empty group id");
    JIRITSU_ASSIGN_OR_RETURN(Conf conf, NewConf(ClientKind::kConsumer, &options));
    auto consumer = std::make_unique<KafkaConsumer>(this, options);
    JIRITSU_RETURN_IF_ERROR(consumer->Init(std::move(conf)));
    return std::unique_ptr<LogConsumer>(std::move(consumer));
  }

  std::string Describe() const override {
    if (options_.topic_prefix.empty()) return "kafka:" + options_.bootstrap_servers;
    return "kafka:" + options_.bootstrap_servers + " (topic prefix " + options_.topic_prefix + ")";
  }

  int timeout_ms() const { return ToMillis(options_.request_timeout); }

 private:
  Status CreateTopics(const std::vector<TopicSpec>& specs) {
    std::vector<std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>> owned;
    std::vector<rd_kafka_NewTopic_t*> raw;
    std::array<char, 512> errstr{};
    for (TopicSpec spec : specs) {
      spec.name = Prefixed(spec.name);
      rd_kafka_NewTopic_t* topic =
          rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, options_.replication_factor,
                                errstr.data(), errstr.size());
      if (topic == nullptr) {
        return InvalidArgument("create kafka topic '" + spec.name + "': " + errstr.data());
      }
      owned.emplace_back(topic);
      raw.push_back(topic);
      if (spec.compacted) {
        JIRITSU_RETURN_IF_ERROR(TranslateError(
            rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "compact"),
            "create kafka topic '" + spec.name + "'"));
      } else {
        // The log is the system of record: replays and audits read it from
        // offset 0, so nothing may expire.
        for (const char* name : {"retention.ms", "retention.bytes"}) {
          JIRITSU_RETURN_IF_ERROR(TranslateError(rd_kafka_NewTopic_set_config(topic, name, "-1"),
                                                 "create kafka topic '" + spec.name + "'"));
        }
      }
    }
    std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> admin_options(
        rd_kafka_AdminOptions_new(admin_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
    JIRITSU_RETURN_IF_ERROR(TranslateError(
        rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), timeout_ms(),
                                                  errstr.data(), errstr.size()),
        "kafka CreateTopics options", errstr.data()));
    // Let the controller finish creating before it answers.
    JIRITSU_RETURN_IF_ERROR(TranslateError(
        rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), timeout_ms(),
                                                    errstr.data(), errstr.size()),
        "kafka CreateTopics options", errstr.data()));
    std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(admin_.get()));
    rd_kafka_CreateTopics(admin_.get(), raw.data(), raw.size(), admin_options.get(),
                          queue.get());
    // The request carries its own timeout; the margin only guards against a
    // lost reply.
    std::unique_ptr<rd_kafka_event_t, EventDeleter> event(
        rd_kafka_queue_poll(queue.get(), timeout_ms() + 5000));
    if (!event) return DeadlineExceeded("kafka CreateTopics: no reply");
    if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      Status status = TranslateError(rd_kafka_event_error(event.get()), "kafka CreateTopics",
                                     rd_kafka_event_error_string(event.get()));
      // The usual cause when developing: librdkafka's mock cluster has no
      // controller and no CreateTopics.
      if (status.code() == StatusCode::kDeadlineExceeded) {
        status = status.WithContext(
            "no controller answered (a mock cluster such as `jiritsu devcluster` cannot create "
            "topics: create them when starting it)");
      }
      return status;
    }
    const rd_kafka_CreateTopics_result_t* result =
        rd_kafka_event_CreateTopics_result(event.get());
    size_t count = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        continue;  // created, or by someone else meanwhile: counts are checked next
      }
      return TranslateError(err,
                            std::string("create kafka topic '") +
                                rd_kafka_topic_result_name(topics[i]) + "'",
                            rd_kafka_topic_result_error_string(topics[i]));
    }
    return Status::Ok();
  }

  const KafkaLogOptions options_;
  Handle admin_;
  mutable std::mutex known_topics_mu_;
  mutable std::map<std::string, int32_t> known_topics_;  // guarded by known_topics_mu_
};

// ---------------------------------------------------------------------------
// Producer and consumer methods that need KafkaLog.

const std::string& KafkaConsumer::log_prefix() const { return log_->prefix(); }

Status KafkaProducer::Append(const std::string& topic, std::string_view key,
                             std::string_view value) {
  // kNotFound at once for a missing topic (librdkafka would hold the record
  // for topic.metadata.propagation.max.ms before failing it).
  JIRITSU_RETURN_IF_ERROR(log_->CheckPartitionsExist({{topic, 0}}));
  std::string prefixed;  // built only in a namespace: no copy per record otherwise
  if (!log_->prefix().empty()) prefixed = log_->Prefixed(topic);
  const std::string& name = log_->prefix().empty() ? topic : prefixed;
  rd_kafka_poll(handle_.get(), 0);  // serve delivery reports of earlier records
  // An empty key goes to partition 0 without a key (Kafka's "no key"), as on
  // the embedded log; any other key is placed by murmur2_random.
  const int32_t partition = key.empty() ? 0 : RD_KAFKA_PARTITION_UA;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      handle_.get(), RD_KAFKA_V_TOPIC(name.c_str()), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  if (err == RD_KAFKA_RESP_ERR__FATAL) return FatalProducerError(handle_.get(), "kafka append");
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    return ResourceExhausted("kafka append to '" + name + "': local queue full (" +
                             std::to_string(rd_kafka_outq_len(handle_.get())) +
                             " outstanding); Flush or back off");
  }
  return TranslateError(err, "kafka append to '" + name + "'");
}

Status KafkaConsumer::Subscribe(const std::vector<std::string>& topics,
                                RebalanceListener* listener) {
  if (topics.empty()) return InvalidArgument("kafka subscribe: no topics");
  if (assigned_manually_) {
    return FailedPrecondition("kafka subscribe: consumer uses manual assignment");
  }
  std::vector<TopicPartition> check;
  for (const auto& topic : topics) check.push_back({topic, 0});
  JIRITSU_RETURN_IF_ERROR(log_->CheckPartitionsExist(check));
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), log_->Prefixed(topic).c_str(),
                                      RD_KAFKA_PARTITION_UA);
  }
  listener_ = listener;
  JIRITSU_RETURN_IF_ERROR(TranslateError(rd_kafka_subscribe(handle_.get(), list.get()),
                                         "kafka subscribe"));
  subscribed_ = true;
  return Status::Ok();
}

Status KafkaConsumer::Assign(const std::map<TopicPartition, int64_t>& start_offsets) {
  // Mixing modes would let a later group revocation wipe the manual
  // assignment: a consumer is either in a group or assigned manually.
  if (subscribed_) {
    return FailedPrecondition("kafka assign: consumer is subscribed to a group");
  }
  std::vector<TopicPartition> partitions;
  for (const auto& [tp, offset] : start_offsets) {
    if (offset < 0) {
      return InvalidArgument("kafka assign: negative offset " + std::to_string(offset) +
                             " for " + log_->Prefixed(tp));
    }
    partitions.push_back(tp);
  }
  JIRITSU_RETURN_IF_ERROR(log_->CheckPartitionsExist(partitions));
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(start_offsets.size())));
  for (const auto& [tp, offset] : start_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), log_->Prefixed(tp.topic).c_str(), tp.partition)
        ->offset = offset;
  }
  JIRITSU_RETURN_IF_ERROR(
      TranslateError(rd_kafka_assign(handle_.get(), list.get()), "kafka assign"));
  assigned_manually_ = true;
  return Status::Ok();
}

Status KafkaConsumer::SetPaused(const std::vector<TopicPartition>& partitions, bool paused) {
  if (partitions.empty()) return Status::Ok();
  // librdkafka drops what it prefetched for a paused partition and fetches
  // again from the consumer's position on resume: nothing is lost or doubled.
  PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), log_->Prefixed(tp.topic).c_str(), tp.partition);
  }
  const char* what = paused ? "kafka pause" : "kafka resume";
  JIRITSU_RETURN_IF_ERROR(TranslateError(
      paused ? rd_kafka_pause_partitions(handle_.get(), list.get())
             : rd_kafka_resume_partitions(handle_.get(), list.get()),
      what));
  for (int i = 0; i < list->cnt; ++i) {
    JIRITSU_RETURN_IF_ERROR(TranslateError(list->elems[i].err, std::string(what) + " " +
                                                                   list->elems[i].topic + "[" +
                                                                   std::to_string(list->elems[i].partition) + "]"));
  }
  return Status::Ok();
}

Status KafkaConsumer::Seek(const TopicPartition& tp, int64_t offset) {
  if (offset < 0) {
    return InvalidArgument("kafka seek: negative offset " + std::to_string(offset) + " for " +
                           log_->Prefixed(tp));
  }
  // From OnAssigned: the partition is not assigned yet; it will start here.
  if (pending_assignment_ != nullptr) {
    auto it = pending_assignment_->find(tp);
    if (it != pending_assignment_->end()) {
      it->second = offset;
      return Status::Ok();
    }
  }
  const auto assigned = Assignment();
  if (!std::binary_search(assigned.begin(), assigned.end(), tp)) {
    return FailedPrecondition("kafka seek: " + log_->Prefixed(tp) + " is not assigned");
  }
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), log_->Prefixed(tp.topic).c_str(), tp.partition)
      ->offset = offset;
  JIRITSU_RETURN_IF_ERROR(StatusFromError(
      rd_kafka_seek_partitions(handle_.get(), list.get(), log_->timeout_ms()),
      "kafka seek " + log_->Prefixed(tp)));
  return TranslateError(list->elems[0].err, "kafka seek " + log_->Prefixed(tp));
}

int64_t KafkaConsumer::EndNow(const TopicPartition& tp) {
  Result<int64_t> end = log_->EndOffset(tp);
  if (end.ok()) return *end;
  Logger()->warn("{}; {} starts at the end offset librdkafka finds", end.status().ToString(),
                 log_->Prefixed(tp));
  return RD_KAFKA_OFFSET_END;
}

void KafkaConsumer::LeaveGroupBeforeClose() {
  rd_kafka_t* rk = handle_.get();
  if (rd_kafka_resp_err_t err = rd_kafka_unsubscribe(rk); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    Logger()->warn("kafka unsubscribe before close: {}", rd_kafka_err2str(err));
    return;
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  // Quiet = nothing assigned and a whole poll interval without any event
  // (an assignment still in flight arrives as an event and is answered).
  int quiet_polls = 0;
  while (quiet_polls < 3 && Clock::now() < deadline) {
    Message message(rd_kafka_consumer_poll(rk, 100));
    if (message || !Assignment().empty()) {
      quiet_polls = 0;
    } else {
      ++quiet_polls;
    }
  }
  if (!Assignment().empty()) {
    Logger()->warn("kafka consumer: partitions still assigned 10 s after unsubscribe; closing anyway");
  }
}

void KafkaConsumer::HandleRebalance(rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t* partitions) {
  rd_kafka_t* rk = handle_.get();
  // rd_kafka_rebalance_protocol() is NULL while the consumer closes (the
  // group's queue is already disabled when the final revocation arrives):
  // keep the protocol seen last (strcmp on NULL crashed group members).
  if (const char* protocol = rd_kafka_rebalance_protocol(rk); protocol != nullptr) {
    cooperative_ = std::strcmp(protocol, "COOPERATIVE") == 0;
  }
  const bool cooperative = cooperative_;
  const std::vector<TopicPartition> tps = ToVector(partitions, log_->prefix());
  const bool notify = listener_ != nullptr && !closing_ && !tps.empty();

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Explicit start offsets: never a group-committed offset (we commit none,
    // but monitoring tools might).
    std::map<TopicPartition, int64_t> start;
    for (const auto& tp : tps) {
      start[tp] = options_.start_from_beginning ? RD_KAFKA_OFFSET_BEGINNING : EndNow(tp);
    }
    if (notify) {
      pending_assignment_ = &start;
      listener_->OnAssigned(tps);
      pending_assignment_ = nullptr;
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      const TopicPartition tp{std::string(Unprefixed(partitions->elems[i].topic, log_->prefix())),
                              partitions->elems[i].partition};
      partitions->elems[i].offset = start[tp];
    }
    if (cooperative) {
      Status status = StatusFromError(rd_kafka_incremental_assign(rk, partitions),
                                      "kafka incremental assign");
      if (!status.ok()) Defer(std::move(status));
    } else {
      Status status = TranslateError(rd_kafka_assign(rk, partitions), "kafka assign");
      if (!status.ok()) Defer(std::move(status));
    }
    for (const auto& tp : tps) revoked_in_poll_.erase(tp);
    return;
  }

  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    if (notify) listener_->OnRevoked(tps);
    revoked_in_poll_.insert(tps.begin(), tps.end());
    if (cooperative) {
      Status status = StatusFromError(rd_kafka_incremental_unassign(rk, partitions),
                                      "kafka incremental unassign");
      if (!status.ok()) Defer(std::move(status));
    } else {
      Status status = TranslateError(rd_kafka_assign(rk, nullptr), "kafka unassign");
      if (!status.ok()) Defer(std::move(status));
    }
    return;
  }

  // A rebalance error: drop the assignment (as librdkafka requires) and tell
  // the caller through the next Poll.
  Defer(TranslateError(err, "kafka rebalance"));
  const auto current = Assignment();
  if (notify && !current.empty()) listener_->OnRevoked(current);
  revoked_in_poll_.insert(current.begin(), current.end());
  Status status = TranslateError(rd_kafka_assign(rk, nullptr), "kafka unassign");
  if (!status.ok()) Logger()->warn("{}", status.ToString());
}

Status KafkaConsumer::Poll(std::chrono::milliseconds timeout, size_t max_records,
                           std::vector<LogRecord>* out) {
  if (!deferred_error_.ok()) return std::exchange(deferred_error_, Status::Ok());
  const size_t first = out->size();
  const auto deadline = Clock::now() + timeout;
  revoked_in_poll_.clear();
  size_t collected = 0;
  // One message per rd_kafka_consumer_poll: nothing is ever fetched past
  // max_records, so nothing needs buffering between calls.
  while (collected < max_records) {
    const auto now = Clock::now();
    const int wait_ms =
        collected > 0 || now >= deadline
            ? 0
            : ToMillis(std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
    Message message(rd_kafka_consumer_poll(handle_.get(), wait_ms));
    if (!message) {
      if (wait_ms == 0) break;
      continue;  // woke up early (e.g. after a rebalance): wait out the rest
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Informational: end of partition, one broker connection lost
      // (librdkafka reconnects).
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
          message->err == RD_KAFKA_RESP_ERR__TRANSPORT) {
        continue;
      }
      std::string where = "kafka poll";
      if (message->rkt != nullptr) {
        where += " " + ToString({rd_kafka_topic_name(message->rkt), message->partition});
      }
      Status failure = TranslateError(message->err, where, rd_kafka_message_errstr(message.get()));
      if (message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
          message->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        failure = failure.WithContext(
            "the broker no longer has the requested records (deleted by retention, by a mock "
            "cluster's per-partition size cap, or the topic was recreated): views built from the "
            "rest would silently miss events");
      } else if (failure.IsRetryable()) {
        // Fetch errors librdkafka recovers from by itself (a request timed
        // out, a leader moved, a broker is down): informational, so the
        // consumer waits instead of failing its owner (logged).
        Logger()->warn("{} (librdkafka retries; waiting)", failure.ToString());
        continue;
      }
      Defer(std::move(failure));
      break;
    }
    LogRecord record;
    record.topic = Unprefixed(rd_kafka_topic_name(message->rkt), log_->prefix());
    record.partition = message->partition;
    record.offset = message->offset;
    if (message->key != nullptr) {
      record.key.assign(static_cast<const char*>(message->key), message->key_len);
    }
    if (message->payload != nullptr) {
      record.value.assign(static_cast<const char*>(message->payload), message->len);
    }
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    record.append_time_ms = std::max<int64_t>(0, rd_kafka_message_timestamp(message.get(), &type));
    out->push_back(std::move(record));
    ++collected;
  }
  if (!revoked_in_poll_.empty()) {
    out->erase(std::remove_if(out->begin() + static_cast<std::ptrdiff_t>(first), out->end(),
                              [&](const LogRecord& r) {
                                return revoked_in_poll_.contains({r.topic, r.partition});
                              }),
               out->end());
  }
  // Records first; an error met after them is returned by the next Poll.
  if (out->size() > first) return Status::Ok();
  return std::exchange(deferred_error_, Status::Ok());
}

}  // namespace

Result<std::unique_ptr<EventLog>> OpenKafkaLog(const KafkaLogOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return InvalidArgument("kafka: bootstrap servers are required");
  }
  // Kafka's legal topic characters; a prefix outside them would only fail
  // later, at topic creation, on some brokers and not others.
  for (const char c : options.topic_prefix) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return InvalidArgument("kafka topic prefix '" + options.topic_prefix +
                             "': only letters, digits, '.', '_' and '-' are allowed in Kafka "
                             "topic names");
    }
  }
  // Leave the longest Jiritsu topic name room under Kafka's 249 characters.
  if (options.topic_prefix.size() > 200) {
    return InvalidArgument("kafka topic prefix of " + std::to_string(options.topic_prefix.size()) +
                           " characters: at most 200 (Kafka topic names are at most 249)");
  }
  auto log = std::make_unique<KafkaLog>(options);
  // Validate every client kind's configuration now, not at first use.
  ConsumerOptions consumer_defaults;
  JIRITSU_ASSIGN_OR_RETURN(Conf producer_conf, log->NewConf(ClientKind::kProducer));
  JIRITSU_ASSIGN_OR_RETURN(Conf consumer_conf,
                           log->NewConf(ClientKind::kConsumer, &consumer_defaults));
  JIRITSU_RETURN_IF_ERROR(log->Init());
  return std::unique_ptr<EventLog>(std::move(log));
}

}  // namespace jiritsu
