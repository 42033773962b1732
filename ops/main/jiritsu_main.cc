// jiritsu: one binary, one subcommand per job. See README.md and `jiritsu --help`.
#include <CLI/CLI.hpp>

#include <vector>

#include "ops/cli.h"

int main(int argc, char** argv) {
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
