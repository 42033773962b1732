// Subcommands of the `jiritsu` binary. Each lives in its own ops/cmd_*.cc and
// registers its options on the root app; main() runs the one that was parsed.
//
// Exit codes (all commands): 0 success, 1 the command ran but reported
// failures (e.g. rejected events), 2 usage or configuration error, 3 I/O or
// log unavailable.
#pragma once

#include <functional>
#include <string>
#include <vector>
#include <cstdint>

namespace CLI {
class App;
}

namespace jiritsu {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// Common log selection: --store DIR (embedded, default ./jiritsu-data) or
// --kafka BOOTSTRAP [--kafka-property k=v ...].
struct LogSelection {
  std::string store_dir = "./jiritsu-data";
  std::string kafka_bootstrap;
  std::vector<std::string> kafka_properties;  // "key=value"
  // Namespace on a shared cluster (KafkaLogOptions::topic_prefix).
  std::string kafka_topic_prefix;
  int32_t partitions = 8;
  // Root of the view generations (core/view_generations.h). Empty: the
  // default, <store>/views on the embedded log, ./jiritsu-state on Kafka.
  std::string state_dir;
  // The employee key store (core/key_store.h). Empty: the default, <store>/keys
  // on the embedded log, ./jiritsu-keys on Kafka.
  std::string keys_dir;
};
void AddLogOptions(CLI::App* app, LogSelection* selection);
// --kafka and --kafka-topic-prefix for commands that only read views: they
// say which deployment the views belong to (the default views directory),
// and are accepted so that one set of Kafka flags works on every command.
void AddKafkaDeploymentOptions(CLI::App* app, LogSelection* selection);
// Adds --state-dir (for commands that read or write views).
void AddStateOptions(CLI::App* app, LogSelection* selection);
std::string ViewsRoot(const LogSelection& selection);
// Adds --keys (for commands that seal, erase or reveal personal data).
void AddKeyOptions(CLI::App* app, LogSelection* selection);
std::string KeysDir(const LogSelection& selection);

// `jiritsu ingest` and `jiritsu dlq replay` (which re-submits fixed dead
// letters through the same validation and dedupe): the options and the run.
struct IngestFlags {
  LogSelection log;
  std::string rejects = "./jiritsu-rejects.jsonl";
  std::string dedupe_dir;
  std::string input;  // file or "-"
  size_t flush_every = 4096;
};
// Log options, --rejects, --dedupe-dir, --flush-every (not the input).
void AddIngestOptions(CLI::App* app, IngestFlags* flags);
// Exit codes of `jiritsu ingest`; messages prefixed with `command_name`.
int RunIngest(const IngestFlags& flags, const char* command_name);

Command AddVersionCommand(CLI::App& root);
Command AddDevclusterCommand(CLI::App& root);
Command AddGenCommand(CLI::App& root);
Command AddIngestCommand(CLI::App& root);
Command AddLogStatsCommand(CLI::App& root);
Command AddRunCommand(CLI::App& root);
Command AddQueryCommand(CLI::App& root);
Command AddDigestCommand(CLI::App& root);
Command AddSummaryCommand(CLI::App& root);
Command AddReplayCommand(CLI::App& root);
Command AddServeCommand(CLI::App& root);
Command AddTokenCommand(CLI::App& root);
Command AddBenchCommand(CLI::App& root);
Command AddDlqCommand(CLI::App& root);

}  // namespace jiritsu
