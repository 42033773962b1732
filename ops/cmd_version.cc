#include <CLI/CLI.hpp>

#include <cstdio>

#include "core/key_store.h"
#include "ops/cli.h"
#include "schemas/event.h"

namespace jiritsu {

void AddLogOptions(CLI::App* app, LogSelection* selection) {
  app->add_option("--store", selection->store_dir,
                  "Embedded durable log directory (default when --kafka is not given)")
      ->capture_default_str();
  app->add_option("--kafka", selection->kafka_bootstrap,
                  "Kafka bootstrap servers (host:port,...): use Kafka instead of the embedded log");
  app->add_option("--kafka-property", selection->kafka_properties,
                  "librdkafka property key=value (security, tuning); repeatable");
  app->add_option("--kafka-topic-prefix", selection->kafka_topic_prefix,
                  "Namespace on a shared Kafka cluster: prefixed to every Jiritsu topic and "
                  "consumer group (e.g. acme-staging.)");
  app->add_option("--partitions", selection->partitions,
                  "Partitions of the employee-keyed topics when creating them")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
}

void AddKafkaDeploymentOptions(CLI::App* app, LogSelection* selection) {
  app->add_option("--kafka", selection->kafka_bootstrap,
                  "Kafka deployment (views default to ./jiritsu-state)");
  app->add_option("--kafka-topic-prefix", selection->kafka_topic_prefix,
                  "The deployment's topic namespace (not needed to read views)");
}

void AddStateOptions(CLI::App* app, LogSelection* selection) {
  app->add_option("--state-dir", selection->state_dir,
                  "Views directory (generations root). Default: <store>/views on the embedded "
                  "log, ./jiritsu-state with --kafka");
}

void AddKeyOptions(CLI::App* app, LogSelection* selection) {
  app->add_option("--keys", selection->keys_dir,
                  "Employee key store directory (personal data encryption). Default: "
                  "<store>/keys on the embedded log, ./jiritsu-keys with --kafka");
}

std::string KeysDir(const LogSelection& selection) {
  if (!selection.keys_dir.empty()) return selection.keys_dir;
  return DefaultKeysDir(selection.store_dir, !selection.kafka_bootstrap.empty());
}

std::string ViewsRoot(const LogSelection& selection) {
  if (!selection.state_dir.empty()) return selection.state_dir;
  if (!selection.kafka_bootstrap.empty()) return "./jiritsu-state";
  return selection.store_dir + "/views";
}

Command AddVersionCommand(CLI::App& root) {
  Command command;
  command.app = root.add_subcommand("version", "Print version and schema version");
  command.run = [] {
    std::printf("jiritsu 0.1.0 (event schema version %u)\n", kCurrentSchemaVersion);
    return 0;
  };
  return command;
}

}  // namespace jiritsu
