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
  CLI11_PARSE(root, argc, argv);
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  return 2;
}
