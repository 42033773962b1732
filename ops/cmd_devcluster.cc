// `jiritsu devcluster [--brokers N] [--partitions P] [--topic-prefix X]`: a throwaway Kafka for
// development and demos, when no broker is at hand.
//
// Starts librdkafka's mock cluster (core/kafka_mock_cluster.h: real Kafka
// protocol on 127.0.0.1, IN MEMORY ONLY), creates every Jiritsu topic
// (core/topics.h AllTopicSpecs with P employee partitions), prints the
// bootstrap address as the first line of stdout, so scripts can read it:
//
//   BOOTSTRAP=$(jiritsu devcluster | head -n1) &   # or read the first line
//
// then a human hint, and serves until SIGINT or SIGTERM. Everything written
// to it is lost when it exits. The mock cannot create topics through the
// Admin API, so other commands must use the same --partitions. It keeps at
// most 5 MiB of record batches per partition (fixed in librdkafka) and
// deletes the oldest beyond that.
//
// Exit codes: 0 stopped by a signal; 2 usage; 3 the cluster or its topics
// could not be created.
#include <CLI/CLI.hpp>

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/kafka_log.h"
#include "core/kafka_mock_cluster.h"
#include "core/topics.h"
#include "ops/cli.h"

namespace jiritsu {
namespace {

struct DevclusterFlags {
  int brokers = 1;
  int32_t partitions = kDefaultEmployeePartitions;
  std::string topic_prefix;
};

int RunDevcluster(const DevclusterFlags& flags) {
  // Block the stop signals before librdkafka starts its threads (they inherit
  // the mask), then wait for them synchronously: no async handler needed.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  KafkaMockCluster cluster;
  Result<std::string> bootstrap = cluster.Start(flags.brokers);
  if (!bootstrap.ok()) {
    std::fprintf(stderr, "jiritsu devcluster: %s\n", bootstrap.status().ToString().c_str());
    return 3;
  }
  {
    // Through KafkaLog, so partition counts are verified the way every other
    // command will see them.
    KafkaLogOptions options;
    options.bootstrap_servers = *bootstrap;
    options.topic_creator = cluster.TopicCreator();
    options.request_timeout = std::chrono::seconds(10);
    options.topic_prefix = flags.topic_prefix;
    Result<std::unique_ptr<EventLog>> log = OpenKafkaLog(options);
    Status created = log.ok() ? (*log)->EnsureTopics(AllTopicSpecs(flags.partitions))
                              : log.status();
    if (!created.ok()) {
      std::fprintf(stderr, "jiritsu devcluster: %s\n", created.ToString().c_str());
      return 3;
    }
  }

  std::printf("%s\n", bootstrap->c_str());
  std::printf(
      "# Kafka mock cluster: %d broker(s), Jiritsu topics created with %d employee "
      "partitions.\n"
      "# IN MEMORY ONLY: everything written here is lost when this process exits.\n"
      "# At most 5 MiB of compressed batches per partition (librdkafka mock limit): older\n"
      "# records are deleted and readers of them fail; use more --partitions for big data.\n"
      "# Try: kcat -L -b %s    or    jiritsu ingest --kafka %s --partitions %d ...\n"
      "# Stop with Ctrl-C (SIGINT) or SIGTERM.\n",
      flags.brokers, flags.partitions, bootstrap->c_str(), bootstrap->c_str(), flags.partitions);
  std::fflush(stdout);

  int received = 0;
  sigwait(&stop_signals, &received);
  std::fprintf(stderr, "jiritsu devcluster: %s, stopping; in-memory data discarded\n",
               strsignal(received));
  return 0;
}

}  // namespace

Command AddDevclusterCommand(CLI::App& root) {
  auto flags = std::make_shared<DevclusterFlags>();
  Command command;
  command.app = root.add_subcommand(
      "devcluster",
      "Run an in-memory Kafka mock cluster with the Jiritsu topics (development only: data is "
      "lost on exit); prints the bootstrap address on the first line");
  command.app->add_option("--brokers", flags->brokers, "Number of mock brokers")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  command.app->add_option("--partitions", flags->partitions,
                          "Partitions of the employee-keyed topics")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  command.app->add_option("--topic-prefix", flags->topic_prefix,
                          "Create the topics under this namespace (pass the same "
                          "--kafka-topic-prefix to the other commands)");
  command.run = [flags] { return RunDevcluster(*flags); };
  return command;
}

}  // namespace jiritsu
