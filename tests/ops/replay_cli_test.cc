// End-to-end replay through the real `jiritsu` binary and the real
// projector (tests/core/replay_*_test.cc prove the Replayer's mechanics with
// a fake projector; this proves the product's views replay exactly):
// rebuild == live, verify names a corrupted view, as-of == a live run over
// only the events up to the date, snapshot + tail == full, and a swap with a
// `jiritsu run` serving in another process.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/state_store.h"
#include "core/swap_coordinator.h"
#include "core/view_generations.h"
#include "schemas/codec.h"
#include "tests/testing/log_reading.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {

using testing::Child;
using testing::CommandResult;
using testing::JiritsuBinary;
using testing::RunJiritsu;
using testing::JsonField;
using testing::RunCommand;
using testing::TempDir;

class ReplayCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new TempDir();
    events_ = shared_->path() + "/events.jsonl";
    CommandResult gen = RunJiritsu({"gen", "--employees", "150", "--months", "18", "--seed", "41",
                                 "--out", events_});
    ASSERT_EQ(gen.exit_code, 0) << gen.stderr_text;
  }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }

  void Ingest(const std::string& store, const std::string& file) {
    CommandResult ingest =
        // One key store for every log of a test: personal fields are sealed
        // deterministically per key, so logs compared with each other share it.
        RunJiritsu({"ingest", "--store", store, "--keys", dir_.path() + "/keys", "--rejects",
                    dir_.path() + "/rejects.jsonl", file});
    // The generator plants invalid lines: ingest reports them with exit 1.
    ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
    ASSERT_NE(JsonField(ingest.stdout_text, "accepted"), "0") << ingest.stdout_text;
  }
  void Run(const std::string& store) {
    CommandResult run = RunJiritsu({"run", "--store", store, "--until-caught-up"});
    ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  }
  std::string Digest(const std::vector<std::string>& location) {
    std::vector<std::string> args = {"digest"};
    args.insert(args.end(), location.begin(), location.end());
    CommandResult digest = RunJiritsu(args);
    EXPECT_EQ(digest.exit_code, 0) << digest.stderr_text;
    std::string value = JsonField(digest.stdout_text, "digest");
    EXPECT_EQ(value.size(), 64u) << digest.stdout_text;
    return value;
  }
  CommandResult Replay(std::vector<std::string> args) {
    args.insert(args.begin(), {"replay", "--quiet"});
    return RunJiritsu(args);
  }
  // Lines of the generated file whose event time is <= `limit` (and lines
  // that do not decode, which ingest rejects either way), in file order.
  std::string WriteEventsUpTo(const std::string& limit, const std::string& path) {
    int32_t offset = 0;
    auto limit_us = ParseRfc3339(limit, &offset);
    EXPECT_TRUE(limit_us.ok());
    std::ifstream in(events_);
    std::ofstream out(path);
    std::string line;
    int kept = 0, dropped = 0;
    while (std::getline(in, line)) {
      auto event = DecodeJsonEvent(line);
      if (event.ok() && event->time_us > *limit_us) {
        ++dropped;
        continue;
      }
      out << line << '\n';
      ++kept;
    }
    EXPECT_GT(kept, 1000);
    EXPECT_GT(dropped, 1000) << "the date must cut the history";
    return path;
  }

  static TempDir* shared_;
  static std::string events_;
  TempDir dir_;
};

TempDir* ReplayCliTest::shared_ = nullptr;
std::string ReplayCliTest::events_;

TEST_F(ReplayCliTest, RebuildEqualsTheLiveViewsAndVerifyAgrees) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  const std::string live = Digest({"--store", store});

  CommandResult rebuild = Replay({"--store", store});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.stderr_text;
  EXPECT_EQ(JsonField(rebuild.stdout_text, "digest"), live) << rebuild.stdout_text;
  EXPECT_EQ(JsonField(rebuild.stdout_text, "promoted"), "false") << "a plain rebuild is not served";
  EXPECT_GT(std::stoll(JsonField(rebuild.stdout_text, "events")), 5000);

  CommandResult verify = Replay({"--store", store, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  EXPECT_EQ(JsonField(verify.stdout_text, "equal"), "true") << verify.stdout_text;
}

TEST_F(ReplayCliTest, VerifyNamesACorruptedViewAndKeyAndExitsOne) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  ViewGenerations generations(store + "/views");
  auto current = generations.Current();
  ASSERT_TRUE(current.ok()) << current.status().ToString();
  {
    auto live = StateStore::Open(generations.DirFor(*current), {});
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    StateBatch batch;
    batch.Put("kpi_agg", "zz-planted-by-the-test", "not a real aggregate");
    ASSERT_TRUE((*live)->Write(&batch).ok());
  }
  CommandResult verify = Replay({"--store", store, "--verify"});
  EXPECT_EQ(verify.exit_code, 1) << verify.stdout_text << verify.stderr_text;
  EXPECT_EQ(JsonField(verify.stdout_text, "equal"), "false") << verify.stdout_text;
  EXPECT_NE(verify.stdout_text.find("\"view\":\"kpi_agg\""), std::string::npos) << verify.stdout_text;
  EXPECT_NE(verify.stdout_text.find("zz-planted-by-the-test"), std::string::npos)
      << verify.stdout_text;
  // The other views are not reported as different.
  EXPECT_EQ(verify.stdout_text.find("\"view\":\"employee\""), std::string::npos) << verify.stdout_text;
  // Restricted to an untouched view, verify passes.
  CommandResult step_status = Replay({"--store", store, "--verify", "--view", "step-status"});
  EXPECT_EQ(step_status.exit_code, 0) << step_status.stdout_text << step_status.stderr_text;
}

TEST_F(ReplayCliTest, AsOfEqualsALiveRunOverOnlyTheEventsUpToTheDate) {
  const std::string date = "2025-03-31T23:59:59+09:00";
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);

  const std::string cut_store = dir_.path() + "/cut";
  Ingest(cut_store, WriteEventsUpTo(date, dir_.path() + "/up-to-date.jsonl"));
  Run(cut_store);
  const std::string expected = Digest({"--store", cut_store});

  const std::string audit = dir_.path() + "/audit-2025-03";
  CommandResult as_of = Replay({"--store", store, "--as-of", date, "--target", audit});
  ASSERT_EQ(as_of.exit_code, 0) << as_of.stderr_text;
  EXPECT_EQ(JsonField(as_of.stdout_text, "digest"), expected) << as_of.stdout_text;
  EXPECT_EQ(Digest({"--views", audit}), expected);
  EXPECT_NE(Digest({"--store", store}), expected) << "the live views know more than the audit";

  // The audit store answers the same queries, and its view time is the cut.
  CommandResult view_time = RunJiritsu({"query", "--views", audit, "view-time"});
  ASSERT_EQ(view_time.exit_code, 0) << view_time.stderr_text;
  CommandResult cut_time = RunJiritsu({"query", "--store", cut_store, "view-time"});
  EXPECT_EQ(view_time.stdout_text, cut_time.stdout_text);

  // An existing target is refused, not overwritten.
  CommandResult again = Replay({"--store", store, "--as-of", date, "--target", audit});
  EXPECT_EQ(again.exit_code, 2) << again.stdout_text << again.stderr_text;
  EXPECT_EQ(Digest({"--views", audit}), expected);
}

TEST_F(ReplayCliTest, SnapshotPlusTailEqualsAFullReplay) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, WriteEventsUpTo("2024-12-31T23:59:59+09:00", dir_.path() + "/first.jsonl"));
  Run(store);
  // A rebuild takes a snapshot at the log position it reached.
  CommandResult first = Replay({"--store", store});
  ASSERT_EQ(first.exit_code, 0) << first.stderr_text;
  const std::string snapshot = JsonField(first.stdout_text, "snapshot");
  ASSERT_FALSE(snapshot.empty()) << first.stdout_text;
  CommandResult listed = Replay({"--store", store, "--snapshot-list"});
  ASSERT_EQ(listed.exit_code, 0) << listed.stderr_text;
  EXPECT_NE(listed.stdout_text.find(snapshot), std::string::npos) << listed.stdout_text;

  // The rest of the history (the dedupe index drops what is already in).
  Ingest(store, events_);
  Run(store);
  const std::string live = Digest({"--store", store});

  CommandResult tail = Replay({"--store", store, "--from-snapshot", "latest", "--no-snapshot"});
  ASSERT_EQ(tail.exit_code, 0) << tail.stderr_text;
  CommandResult full = Replay({"--store", store, "--no-snapshot"});
  ASSERT_EQ(full.exit_code, 0) << full.stderr_text;
  EXPECT_EQ(JsonField(tail.stdout_text, "digest"), JsonField(full.stdout_text, "digest"));
  EXPECT_EQ(JsonField(full.stdout_text, "digest"), live);
  EXPECT_LT(std::stoll(JsonField(tail.stdout_text, "events")),
            std::stoll(JsonField(full.stdout_text, "events")))
      << "the tail replay starts at the snapshot, not at offset 0";
}

// A live runner that holds facts back (and so writes states only with them)
// leaves snapshots with journal tails and waiting rows in its store; verify
// compares what they stand for, so it agrees while the runner serves.
TEST_F(ReplayCliTest, VerifyAgreesWithARunnerThatHoldsFactsBack) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  // The smallest memory budget forces a checkpoint every few hundred events,
  // so an employee published once changes again within the hour: its state
  // gets a journal tail.
  Child runner({JiritsuBinary(), "run", "--store", store, "--memory-budget-mb", "4",
                "--facts-interval-ms", "3600000"},
               dir_.path() + "/run.out", dir_.path() + "/run.err");
  ViewGenerations generations(store + "/views");
  // Wait until it caught up (its offsets stop moving) with facts held back.
  size_t waiting = 0;
  std::string offsets, previous;
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto current = generations.Current();
    if (!current.ok() || *current == 0) continue;
    auto live = StateStore::OpenReadOnly(generations.DirFor(*current),
                                         {"employee", std::string(kOffsetsFamily)});
    if (!live.ok()) continue;
    waiting = 0;
    auto it = (*live)->NewIterator("employee");
    for (it->Seek(std::string("f\0", 2)); it->Valid() && it->key().starts_with(std::string("f\0", 2));
         it->Next()) {
      ++waiting;
    }
    previous = std::exchange(offsets, "");
    auto positions = (*live)->NewIterator("offsets");
    for (positions->SeekToFirst(); positions->Valid(); positions->Next()) {
      offsets += std::string(positions->key()) + "=" + std::string(positions->value()) + ";";
    }
    if (waiting > 0 && !offsets.empty() && offsets == previous) break;
  }
  ASSERT_GT(waiting, 0u) << "the runner held no facts back";
  CommandResult verify = Replay({"--store", store, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  EXPECT_EQ(JsonField(verify.stdout_text, "equal"), "true") << verify.stdout_text;

  // The final checkpoint publishes every held-back record and writes every
  // state; the next run applies those facts: the replay's exact store.
  runner.Kill(SIGTERM);
  EXPECT_EQ(runner.Wait(), 0) << "SIGTERM is a clean stop";
  Run(store);
  CommandResult rebuild = Replay({"--store", store});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.stderr_text;
  EXPECT_EQ(JsonField(rebuild.stdout_text, "digest"), Digest({"--store", store}));
}

TEST_F(ReplayCliTest, SwapWithARunnerInAnotherProcessAndRollback) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  const std::string live = Digest({"--store", store});
  ViewGenerations generations(store + "/views");
  const int before = *generations.Current();

  Child runner({JiritsuBinary(), "run", "--store", store, "--checkpoint-ms", "100"},
               dir_.path() + "/run.out", dir_.path() + "/run.err");
  // The runner announces itself in the views root before it serves.
  for (int i = 0; i < 300 && !std::ifstream(store + "/views/" + kRunningFile).good(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CommandResult swap = Replay({"--store", store, "--swap"});
  ASSERT_EQ(swap.exit_code, 0) << swap.stdout_text << swap.stderr_text;
  EXPECT_EQ(JsonField(swap.stdout_text, "promoted"), "true") << swap.stdout_text;
  EXPECT_EQ(JsonField(swap.stdout_text, "handshake"), "true") << swap.stdout_text;
  EXPECT_EQ(JsonField(swap.stdout_text, "digest"), live);
  EXPECT_EQ(*generations.Current(), before + 1);
  EXPECT_EQ(*generations.Previous(), before);

  CommandResult rollback = Replay({"--store", store, "--rollback"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.stdout_text << rollback.stderr_text;
  EXPECT_EQ(*generations.Current(), before);
  runner.Kill(SIGTERM);
  const int exit_code = runner.Wait();
  EXPECT_EQ(exit_code, 0) << "SIGTERM is a clean stop";
  EXPECT_EQ(Digest({"--store", store}), live);
}

TEST_F(ReplayCliTest, AMemoryBudgetChangesCostNotViews) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  const std::string live = Digest({"--store", store});
  // 4 MiB: checkpoints forced by uncommitted bytes all along the rebuild.
  CommandResult small = Replay({"--store", store, "--no-snapshot", "--memory-budget-mb", "4"});
  ASSERT_EQ(small.exit_code, 0) << small.stderr_text;
  EXPECT_EQ(JsonField(small.stdout_text, "digest"), live) << small.stdout_text;
  CommandResult too_small = Replay({"--store", store, "--memory-budget-mb", "1"});
  EXPECT_EQ(too_small.exit_code, 2) << too_small.stdout_text;
  EXPECT_NE(too_small.stderr_text.find("--memory-budget-mb"), std::string::npos) << too_small.stderr_text;
}

TEST_F(ReplayCliTest, PruneKeepsTheServedAndTheRollbackGeneration) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  const std::string live = Digest({"--store", store});
  ViewGenerations generations(store + "/views");
  const int first = *generations.Current();
  ASSERT_EQ(Replay({"--store", store, "--no-snapshot"}).exit_code, 0);  // complete, never served
  CommandResult swap = Replay({"--store", store, "--swap", "--no-snapshot"});
  ASSERT_EQ(swap.exit_code, 0) << swap.stderr_text;
  const int served = *generations.Current();
  ASSERT_EQ(generations.List(), (std::vector<int>{first, first + 1, served}));

  CommandResult prune = Replay({"--store", store, "--prune"});
  ASSERT_EQ(prune.exit_code, 0) << prune.stdout_text << prune.stderr_text;
  EXPECT_EQ(prune.stdout_text, "{\"mode\":\"prune\",\"removed\":[" + std::to_string(first + 1) +
                                   "],\"current\":" + std::to_string(served) +
                                   ",\"previous\":" + std::to_string(first) + "}\n");
  EXPECT_EQ(generations.List(), (std::vector<int>{first, served}));
  EXPECT_EQ(Digest({"--store", store}), live);
  // The rollback target survived; a second prune has nothing to do.
  ASSERT_EQ(Replay({"--store", store, "--rollback"}).exit_code, 0);
  EXPECT_EQ(*generations.Current(), first);
  EXPECT_EQ(Digest({"--store", store}), live);
  CommandResult again = Replay({"--store", store, "--prune"});
  ASSERT_EQ(again.exit_code, 0) << again.stderr_text;
  EXPECT_NE(again.stdout_text.find("\"removed\":[]"), std::string::npos) << again.stdout_text;
  // Prune is an operation of its own.
  CommandResult both = Replay({"--store", store, "--prune", "--verify"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.stderr_text.find("choose one of"), std::string::npos) << both.stderr_text;
}

TEST_F(ReplayCliTest, OrgSubtreeVerifyAndRepairTouchOnlyThatSubtree) {
  const std::string store = dir_.path() + "/store";
  Ingest(store, events_);
  Run(store);
  ViewGenerations generations(store + "/views");
  const int before = *generations.Current();
  std::string member;
  {
    auto live = StateStore::Open(generations.DirFor(before), {});
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    // A member of the Sales division's subtree (C01-D01 or a unit under it).
    auto it = (*live)->NewIterator("org_index");
    for (it->Seek("C01-D01"); it->Valid() && it->key().substr(0, 7) == "C01-D01"; it->Next()) {
      member = std::string(it->key().substr(it->key().find('\0') + 1));
      break;
    }
    ASSERT_FALSE(member.empty());
    StateBatch batch;
    batch.Delete("facts", member);                                     // damage inside
    batch.Put("kpi_agg", std::string("C01-D01\0zz-planted", 18), "x");  // inside
    batch.Put("kpi_agg", std::string("C01-HR\0zz-planted", 17), "x");   // outside
    ASSERT_TRUE((*live)->Write(&batch).ok());
  }
  CommandResult inside = Replay({"--store", store, "--verify", "--org", "C01-D01"});
  EXPECT_EQ(inside.exit_code, 1) << inside.stdout_text << inside.stderr_text;
  EXPECT_NE(inside.stdout_text.find("\"scope\":\"org subtree C01-D01: "), std::string::npos)
      << inside.stdout_text;
  EXPECT_NE(inside.stdout_text.find("\"view\":\"facts\""), std::string::npos) << inside.stdout_text;
  EXPECT_NE(inside.stdout_text.find("\"key\":\"" + member + "\""), std::string::npos)
      << inside.stdout_text;
  EXPECT_EQ(inside.stdout_text.find("C01-HR"), std::string::npos) << "outside the scope";

  CommandResult unknown = Replay({"--store", store, "--verify", "--org", "NO-SUCH-UNIT"});
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.stderr_text.find("org unit NO-SUCH-UNIT is not defined"), std::string::npos)
      << unknown.stderr_text;
  CommandResult needs_swap = Replay({"--store", store, "--org", "C01-D01"});
  EXPECT_EQ(needs_swap.exit_code, 2) << needs_swap.stderr_text;

  // Repair the subtree only: its rows verify, the planted row outside stays.
  CommandResult repair = Replay({"--store", store, "--swap", "--org", "C01-D01"});
  ASSERT_EQ(repair.exit_code, 0) << repair.stdout_text << repair.stderr_text;
  EXPECT_EQ(JsonField(repair.stdout_text, "mode"), "partial");
  EXPECT_EQ(*generations.Current(), before + 1);
  CommandResult repaired = Replay({"--store", store, "--verify", "--org", "C01-D01"});
  EXPECT_EQ(repaired.exit_code, 0) << repaired.stdout_text << repaired.stderr_text;
  CommandResult everything = Replay({"--store", store, "--verify"});
  EXPECT_EQ(everything.exit_code, 1) << everything.stdout_text;
  EXPECT_NE(everything.stdout_text.find("C01-HR\\\\x00zz-planted"), std::string::npos)
      << everything.stdout_text;
  EXPECT_EQ(everything.stdout_text.find("C01-D01\\\\x00zz-planted"), std::string::npos)
      << everything.stdout_text;
  EXPECT_EQ(everything.stdout_text.find("\"view\":\"facts\""), std::string::npos)
      << everything.stdout_text;
}

// A `replay --swap` killed while building leaves its generation directory
// marked unfinished (gen-NNNNNN.unfinished); the next `jiritsu run` and the
// next `jiritsu replay` remove it, and never the served generations.
TEST(ReplayLeftoversTest, KilledReplayShadowIsRemovedByTheNextRunAndReplay) {
  TempDir dir;
  const std::string store = dir.path() + "/store";
  const std::string events = dir.path() + "/events.jsonl";
  ASSERT_EQ(RunJiritsu({"gen", "--employees", "10", "--months", "2", "--out", events}).exit_code, 0);
  CommandResult ingest = RunJiritsu({"ingest", "--store", store, "--rejects", dir.path() + "/r.jsonl", events});
  ASSERT_TRUE(ingest.exit_code == 0 || ingest.exit_code == 1) << ingest.stderr_text;
  ASSERT_EQ(RunJiritsu({"run", "--store", store, "--until-caught-up"}).exit_code, 0);
  const std::string views = store + "/views";
  const CommandResult before = RunJiritsu({"digest", "--store", store});
  ASSERT_EQ(before.exit_code, 0) << before.stderr_text;
  auto leave_shadow = [&](const std::string& name) {
    std::filesystem::create_directories(views + "/" + name);
    std::ofstream(views + "/" + name + "/000007.sst") << "half-built";
    std::ofstream(views + "/" + name + ".unfinished") << "being built\n";
  };

  leave_shadow("gen-000007");
  CommandResult run = RunJiritsu({"run", "--store", store, "--until-caught-up"});
  ASSERT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(views + "/gen-000007"));
  EXPECT_FALSE(std::filesystem::exists(views + "/gen-000007.unfinished"));
  EXPECT_NE(run.stderr_text.find("removed unfinished generation 7"), std::string::npos) << run.stderr_text;
  EXPECT_TRUE(std::filesystem::is_directory(views + "/gen-000001"));

  leave_shadow("gen-000008");
  CommandResult verify = RunJiritsu({"replay", "--quiet", "--store", store, "--verify"});
  EXPECT_EQ(verify.exit_code, 0) << verify.stdout_text << verify.stderr_text;
  EXPECT_FALSE(std::filesystem::exists(views + "/gen-000008"));
  EXPECT_FALSE(std::filesystem::exists(views + "/gen-000008.unfinished"));

  // A complete plain rebuild (not promoted, not marked) stays.
  CommandResult rebuild = RunJiritsu({"replay", "--quiet", "--store", store});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.stderr_text;
  const std::string built = JsonField(rebuild.stdout_text, "store");
  ASSERT_FALSE(built.empty()) << rebuild.stdout_text;
  ASSERT_EQ(RunJiritsu({"run", "--store", store, "--until-caught-up"}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_directory(built)) << built;
  const CommandResult after = RunJiritsu({"digest", "--store", store});
  EXPECT_EQ(JsonField(after.stdout_text, "digest"), JsonField(before.stdout_text, "digest"));
}

}  // namespace
}  // namespace jiritsu
