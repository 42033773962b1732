// jiritsu: one binary, one subcommand per job. See README.md and `jiritsu --help`.
#include <CLI/CLI.hpp>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cstdlib>
#include <cstring>
#include <vector>

#include "ops/cli.h"

namespace {

// Large buffers (checkpoint batches, the log's flush batch and pending
// records, memtable arena blocks) straight from mmap, so freeing one gives
// its pages back. By default glibc raises its mmap threshold up to 32 MiB
// after freeing such a buffer and serves the next ones from the heap, where
// they leave holes it keeps: at 20 000 x 12 with a 205 MB budget, mean RSS
// at the checkpoints 262 MB instead of 309, peak 347 instead of 394, for the
// same heap in use (docs/performance.md, "Memory"). A glibc tunable the
// operator set wins.
void ReturnLargeBuffersToTheSystem() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "mmap_threshold") != nullptr)) {
    return;
  }
  ::mallopt(M_MMAP_THRESHOLD, 256 << 10);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  ReturnLargeBuffersToTheSystem();
  CLI::App root{"Jiritsu: event-sourced career-autonomy and learning backend"};
  root.require_subcommand(1);
  std::vector<jiritsu::Command> commands = {
      jiritsu::AddVersionCommand(root),
      jiritsu::AddDevclusterCommand(root),
      jiritsu::AddGenCommand(root),
      jiritsu::AddIngestCommand(root),
      jiritsu::AddLogStatsCommand(root),
      jiritsu::AddRunCommand(root),
      jiritsu::AddQueryCommand(root),
      jiritsu::AddDigestCommand(root),
      jiritsu::AddSummaryCommand(root),
      jiritsu::AddReplayCommand(root),
      jiritsu::AddServeCommand(root),
      jiritsu::AddTokenCommand(root),
      jiritsu::AddBenchCommand(root),
      jiritsu::AddDlqCommand(root),
  };
  // Not CLI11_PARSE: its exit codes for usage errors are CLI11's own (105,
  // 106, 109...), while every jiritsu command promises 2 for a usage error
  // (ops/cli.h). --help and --version still exit 0.
  try {
    root.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = root.exit(error);
    return code == static_cast<int>(CLI::ExitCodes::Success) ? 0 : 2;
  }
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 2;
}
