// Bad input at the command line (docs/reliability.md "Bad-input inventory"):
// every case runs the real `jiritsu` binary and asserts the exit code
// (ops/cli.h: 2 usage or configuration, 3 I/O or log unavailable, 4 nothing
// to read yet for queries) and that stderr names what was wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::CommandResult;
using testing::RunJiritsu;
using testing::TempDir;

void ExpectFailure(const CommandResult& result, int exit_code, const std::string& message) {
  EXPECT_EQ(result.exit_code, exit_code) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find(message), std::string::npos)
      << "stderr lacks \"" << message << "\":\n" << result.stderr_text;
}

TEST(CliBadInputTest, UnknownSubcommandExitsTwo) {
  // CLI11 reads an unknown word as a stray positional: "A subcommand is required".
  ExpectFailure(RunJiritsu({"no-such-command"}), 2, "A subcommand is required");
}

TEST(CliBadInputTest, MissingSubcommandExitsTwo) {
  ExpectFailure(RunJiritsu({}), 2, "subcommand");
}

TEST(CliBadInputTest, UnknownFlagExitsTwo) {
  TempDir dir;
  ExpectFailure(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--no-such-flag", "x"}), 2,
                "--no-such-flag");
}

TEST(CliBadInputTest, FlagValueOfTheWrongTypeOrRangeExitsTwo) {
  TempDir dir;
  ExpectFailure(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--flush-every", "abc", "-"}), 2,
                "--flush-every");
  ExpectFailure(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--flush-every", "0", "-"}), 2,
                "--flush-every");
  ExpectFailure(RunJiritsu({"gen", "--employees", "3", "--out", dir.path() + "/g.jsonl"}), 2,
                "--employees: must be 10..999999, got 3");
  ExpectFailure(RunJiritsu({"gen", "--duplicate-share", "2", "--out", "-"}), 2, "--duplicate-share");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/s"));  // nothing created on a usage error
}

TEST(CliBadInputTest, HelpStillExitsZero) {
  const CommandResult help = RunJiritsu({"ingest", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.stderr_text;
  EXPECT_NE(help.stdout_text.find("--flush-every"), std::string::npos);
}

TEST(CliBadInputTest, StoreThatIsAFileExitsThree) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-dir";
  std::ofstream(file) << "x";
  ExpectFailure(RunJiritsu({"ingest", "--store", file, "-"}), 3, "Not a directory");
  ExpectFailure(RunJiritsu({"log-stats", "--store", file}), 3, "does not exist");
}

TEST(CliBadInputTest, InputThatIsADirectoryExitsThree) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/input");
  ExpectFailure(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--rejects", dir.path() + "/r.jsonl",
                            dir.path() + "/input"}),
                3, "Is a directory");
}

TEST(CliBadInputTest, QueryBeforeAnyViewsExitsFour) {
  TempDir dir;
  const std::string empty = dir.path() + "/empty.jsonl";
  std::ofstream(empty).flush();
  ASSERT_EQ(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--rejects", dir.path() + "/r.jsonl", empty})
                .exit_code,
            0);
  ExpectFailure(RunJiritsu({"query", "--store", dir.path() + "/s", "step-status", "--employee", "E1"}), 4,
                "no views under");
  ExpectFailure(RunJiritsu({"digest", "--store", dir.path() + "/s"}), 4, "no views under");
}

TEST(CliBadInputTest, BadAsOfExitsTwo) {
  TempDir dir;
  ExpectFailure(RunJiritsu({"query", "--store", dir.path() + "/s", "engagement", "--employee", "E1",
                            "--as-of", "yesterday"}),
                2, "--as-of: must be RFC 3339");
  ExpectFailure(RunJiritsu({"replay", "--store", dir.path() + "/s", "--as-of", "2025-99-01T00:00:00Z",
                            "--target", dir.path() + "/t"}),
                2, "must be a valid calendar date");
  ExpectFailure(RunJiritsu({"replay", "--store", dir.path() + "/s", "--as-of", "2025-01-01T00:00:00Z"}), 2,
                "--as-of needs --target");
}

TEST(CliBadInputTest, ConflictingReplayOperationsExitTwo) {
  TempDir dir;
  ExpectFailure(RunJiritsu({"replay", "--store", dir.path() + "/s", "--verify", "--rollback"}), 2,
                "choose one of");
}

TEST(CliBadInputTest, AsOfTargetThatIsNotEmptyExitsTwo) {
  TempDir dir;
  const std::string empty = dir.path() + "/empty.jsonl";
  std::ofstream(empty).flush();
  ASSERT_EQ(RunJiritsu({"ingest", "--store", dir.path() + "/s", "--rejects", dir.path() + "/r.jsonl", empty})
                .exit_code,
            0);
  std::filesystem::create_directories(dir.path() + "/t");
  std::ofstream(dir.path() + "/t/keep") << "x";
  ExpectFailure(RunJiritsu({"replay", "--store", dir.path() + "/s", "--as-of", "2025-01-01T00:00:00Z",
                            "--target", dir.path() + "/t"}),
                2, "is not empty");
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/t/keep"));
}

TEST(CliBadInputTest, MalformedKafkaPropertyExitsTwo) {
  ExpectFailure(RunJiritsu({"ingest", "--kafka", "127.0.0.1:1", "--kafka-property", "nonsense", "-"}), 2,
                "expected key=value, got \"nonsense\"");
  ExpectFailure(
      RunJiritsu({"ingest", "--kafka", "127.0.0.1:1", "--kafka-property", "no.such.property=1", "-"}), 2,
      "no.such.property");
  ExpectFailure(RunJiritsu({"run", "--kafka", "127.0.0.1:1", "--kafka-topic-prefix", "acme/prod.",
                            "--until-caught-up"}),
                2, "kafka topic prefix 'acme/prod.': only letters, digits");
}

TEST(CliBadInputTest, MissingFilesExitTwo) {
  TempDir dir;
  ExpectFailure(RunJiritsu({"dlq", "replay", "--store", dir.path() + "/s", "--fixed", dir.path() + "/nope.jsonl"}),
                2, "nope.jsonl");
  ExpectFailure(RunJiritsu({"serve", "--config", dir.path() + "/nope.toml"}), 2, "cannot read");
  ExpectFailure(RunJiritsu({"token", "--config", dir.path() + "/nope.toml", "--sub", "x", "--role", "hr"}), 2,
                "cannot read");
}

}  // namespace
}  // namespace jiritsu
