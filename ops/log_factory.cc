#include "ops/log_factory.h"

#include <filesystem>
#include <system_error>

#include "core/embedded_log.h"
#include "core/kafka_log.h"
#include "core/topics.h"

namespace jiritsu {

Result<std::map<std::string, std::string>> ParseKafkaProperties(
    const std::vector<std::string>& properties) {
  std::map<std::string, std::string> parsed;
  for (const std::string& property : properties) {
    const size_t equals = property.find('=');
    if (equals == std::string::npos || equals == 0) {
      return InvalidArgument("--kafka-property: expected key=value, got \"" + property + "\"");
    }
    parsed[property.substr(0, equals)] = property.substr(equals + 1);
  }
  return parsed;
}

std::string EmbeddedLogDir(const LogSelection& selection) { return selection.store_dir + "/log"; }

std::string IngestIndexDir(const LogSelection& selection, const std::string& dedupe_dir) {
  if (!dedupe_dir.empty()) return dedupe_dir;
  if (!selection.kafka_bootstrap.empty()) return "./jiritsu-ingest-index";
  return selection.store_dir + "/ingest-index";
}

Result<std::unique_ptr<EventLog>> OpenLog(const LogSelection& selection, LogAccess access) {
  std::unique_ptr<EventLog> log;
  if (!selection.kafka_bootstrap.empty()) {
    JIRITSU_ASSIGN_OR_RETURN(auto properties, ParseKafkaProperties(selection.kafka_properties));
    KafkaLogOptions options;
    options.bootstrap_servers = selection.kafka_bootstrap;
    options.properties = std::move(properties);
    options.topic_prefix = selection.kafka_topic_prefix;
    JIRITSU_ASSIGN_OR_RETURN(log, OpenKafkaLog(options));
  } else if (access == LogAccess::kReadOnly) {
    JIRITSU_ASSIGN_OR_RETURN(log, OpenEmbeddedLogReadOnly(EmbeddedLogDir(selection)));
  } else {
    std::error_code error;
    std::filesystem::create_directories(selection.store_dir, error);
    if (error) {
      return IOError("cannot create store directory " + selection.store_dir + ": " +
                     error.message());
    }
    JIRITSU_ASSIGN_OR_RETURN(log, OpenEmbeddedLog(EmbeddedLogDir(selection)));
  }
  if (access == LogAccess::kReadWriteEnsureTopics) {
    const Status ensured = log->EnsureTopics(AllTopicSpecs(selection.partitions));
    if (!ensured.ok()) return ensured.WithContext(log->Describe());
  }
  return log;
}

}  // namespace jiritsu
