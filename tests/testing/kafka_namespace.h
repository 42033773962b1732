// Kafka tests on a real broker (JIRITSU_KAFKA_BOOTSTRAP) as well as on
// librdkafka's mock cluster: a real broker keeps topics and consumer groups
// between runs, so each test works in a topic namespace of its own
// (KafkaLogOptions::topic_prefix, `--kafka-topic-prefix`).
//
// Thread-safety: reentrant. Failure: none (an unset variable reads as "").
#pragma once

#include <string>
#include <string_view>

namespace jiritsu::testing {

inline constexpr char kRealBrokerSkip[] =
    "set JIRITSU_KAFKA_BOOTSTRAP=host:port to run against a real broker";

// JIRITSU_KAFKA_BOOTSTRAP, or "" when it is unset or empty (skip the case).
std::string RealBrokerBootstrap();

// A namespace no other test or run uses: "jiritsu-test-<stem>-<pid>-<random>.".
std::string FreshTopicPrefix(std::string_view stem);

}  // namespace jiritsu::testing
