// `jiritsu ingest [--store DIR | --kafka BOOTSTRAP] [--rejects FILE]
//  [--dedupe-dir DIR] FILE|-`: CloudEvents JSONL -> topics (core/ingest.h).
//
// Exit codes: 0 everything valid; 1 some lines rejected (all valid ones were
// still appended); 2 usage error or unreadable input; 3 log, dedupe index or
// reject file unavailable, or a delivery/flush failure.
#include <CLI/CLI.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "core/dedupe_index.h"
#include "ops/cli.h"
#include "core/ingest.h"
#include "ops/log_factory.h"
#include "ops/projections.h"

namespace jiritsu {

int RunIngest(const IngestFlags& flags, const char* command_name) {
  auto Fail = [command_name](int code, const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", command_name, message.c_str());
    return code;
  };
  std::FILE* in = stdin;
  if (flags.input != "-") {
    in = std::fopen(flags.input.c_str(), "rb");
    if (in == nullptr) {
      return Fail(2, "cannot open " + flags.input + ": " + std::strerror(errno));
    }
  }
  // Closes the input on every path.
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> input_closer(
      in == stdin ? nullptr : in, [](std::FILE* f) { return std::fclose(f); });

  Result<std::unique_ptr<EventLog>> log = OpenLog(flags.log);
  if (!log.ok()) {
    // A bad --kafka-property or --kafka-topic-prefix is configuration.
    if (log.status().code() == StatusCode::kInvalidArgument) {
      return Fail(2, "log configuration: " + log.status().ToString());
    }
    return Fail(3, "log unavailable: " + log.status().ToString());
  }
  const std::string index_dir = IngestIndexDir(flags.log, flags.dedupe_dir);
  Result<std::unique_ptr<DedupeIndex>> index = DedupeIndex::Open(index_dir);
  if (!index.ok()) return Fail(3, index.status().ToString());
  Result<std::unique_ptr<JsonlRejectFile>> rejects =
      JsonlRejectFile::Create(flags.rejects, /*echo_to_stderr=*/true);
  if (!rejects.ok()) return Fail(3, rejects.status().ToString());

  Result<std::unique_ptr<KeyStore>> keys = OpenKeyStore(flags.log);
  if (!keys.ok()) return Fail(3, keys.status().ToString());
  IngestOptions options;
  options.flush_every_lines = flags.flush_every;
  options.key_store = keys->get();
  Result<std::unique_ptr<Ingestor>> ingestor =
      Ingestor::Create(log->get(), index->get(), rejects->get(), options);
  if (!ingestor.ok()) return Fail(3, ingestor.status().ToString());

  const auto started = std::chrono::steady_clock::now();
  const Status streamed = IngestStream(in, ingestor->get());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Status closed = (*rejects)->Close();
  const IngestStats& stats = (*ingestor)->stats();
  if (!streamed.ok()) {
    return Fail(3, streamed.ToString() + " (after " + std::to_string(stats.lines) +
                       " lines; events accepted since the last successful flush may be lost)");
  }
  if (!closed.ok()) return Fail(3, closed.ToString());
  std::printf("%s\n", IngestSummaryJson((*log)->Describe(), stats, seconds).c_str());
  std::fflush(stdout);
  if (stats.rejected > 0) {
    std::fprintf(stderr, "%s: %lld line(s) rejected, see %s\n", command_name,
                 static_cast<long long>(stats.rejected), flags.rejects.c_str());
    return 1;
  }
  return 0;
}

void AddIngestOptions(CLI::App* app, IngestFlags* flags) {
  AddLogOptions(app, &flags->log);
  AddKeyOptions(app, &flags->log);
  app->add_option("--rejects", flags->rejects,
                  "Reject file (JSONL: line, reason, input); rewritten on every run")
      ->capture_default_str();
  app->add_option("--dedupe-dir", flags->dedupe_dir,
                  "Dedupe index directory (default: <store>/ingest-index, or "
                  "./jiritsu-ingest-index with --kafka)");
  app->add_option("--flush-every", flags->flush_every,
                  "Accepted events per log flush (identities are marked after each flush)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}));
}

Command AddIngestCommand(CLI::App& root) {
  auto flags = std::make_shared<IngestFlags>();
  Command command;
  command.app = root.add_subcommand(
      "ingest",
      "Validate CloudEvents JSONL, drop duplicates (source, id) and append to the event log");
  CLI::App* app = command.app;
  AddIngestOptions(app, flags.get());
  app->add_option("input", flags->input, "JSONL file, or - for stdin")->required();
  command.run = [flags] { return RunIngest(*flags, "ingest"); };
  return command;
}

}  // namespace jiritsu
