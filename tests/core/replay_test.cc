// The replay tool (core/replay.h) on the embedded log with the fake
// projector: rebuild == live, verify, as-of, snapshots, view versions,
// partial rebuilds, rollback and failure paths.
#include "core/replay.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "core/embedded_log.h"
#include "core/swap_coordinator.h"
#include "core/topics.h"
#include "core/view_generations.h"
#include "tests/testing/fake_projector.h"
#include "tests/testing/subprocess.h"

namespace jiritsu {
namespace {
namespace fs = std::filesystem;
using testing::FakeHistory;
using testing::FakeHistoryOptions;
using testing::FakeViewFamilies;
using testing::NewFakeProjector;

Result<StoreDigest> DigestDir(const std::string& dir) {
  JIRITSU_ASSIGN_OR_RETURN(auto store, StateStore::OpenReadOnly(dir, FakeViewFamilies()));
  return DigestFamilies(*store, FakeViewFamilies());
}

std::string Meta(const std::string& dir, std::string_view key) {
  auto store = StateStore::OpenReadOnly(dir, {});
  if (!store.ok()) return "<" + store.status().ToString() + ">";
  std::string value;
  Status status = (*store)->Get(kMetaFamily, key, &value);
  return status.ok() ? value : "<" + status.ToString() + ">";
}

// The fake projector, recording the employee events it is given in order.
class RecordingProjector : public Projector {
 public:
  explicit RecordingProjector(std::vector<std::pair<std::string, std::string>>* applied)
      : inner_(NewFakeProjector()), applied_(applied) {}
  std::vector<std::string> ColumnFamilies() const override { return inner_->ColumnFamilies(); }
  Status Open(StateStore* store) override { return inner_->Open(store); }
  Status ApplyReference(const Event& event, const SourcePosition& pos) override {
    return inner_->ApplyReference(event, pos);
  }
  Status ApplyEmployeeEvent(const Event& event, const SourcePosition& pos) override {
    applied_->emplace_back(event.subject, event.id);
    return inner_->ApplyEmployeeEvent(event, pos);
  }
  Status ApplyFacts(const LogRecord& record) override { return inner_->ApplyFacts(record); }
  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    return inner_->Checkpoint(batch, facts_out);
  }
  void PublishDeferredFactsAtNextCheckpoint() override {
    inner_->PublishDeferredFactsAtNextCheckpoint();
  }
  size_t FactsHeldBack() const override { return inner_->FactsHeldBack(); }
  std::vector<std::string> FamiliesCompleteBeforeHeldBackFacts() const override {
    return inner_->FamiliesCompleteBeforeHeldBackFacts();
  }
  FactsDeferral TakeFactsDeferral() override { return inner_->TakeFactsDeferral(); }
  void OnCheckpointCommitted() override { inner_->OnCheckpointCommitted(); }
  ProjectorMemory Memory() const override { return inner_->Memory(); }
  uint64_t AppliedFactsBytes(const FactsRecord& record) const override {
    return inner_->AppliedFactsBytes(record);
  }
  void OnPartitionsRevoked(const std::vector<int32_t>& partitions) override {
    inner_->OnPartitionsRevoked(partitions);
  }
  void Close() override { inner_->Close(); }

 private:
  std::unique_ptr<Projector> inner_;
  std::vector<std::pair<std::string, std::string>>* applied_;
};

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = OpenEmbeddedLog(temp_.path() + "/log");
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    ASSERT_TRUE(testing::EnsureFakeTopics(log_.get()).ok());
    root_ = temp_.path() + "/views";
  }

  ReplayOptions Options(int32_t view_version = 1) const {
    ReplayOptions options;
    options.views_root = root_;
    options.view_version = view_version;
    options.checkpoint_every_events = 300;  // several checkpoints per build
    options.progress_every_ms = 0;
    options.swap_ready_timeout = std::chrono::seconds(30);
    return options;
  }
  // A runtime reading the log to its end in this process (no consumer
  // group, facts applied locally), into temp_/<name>; `rebuild`: as replay
  // builds (unlogged, bulk loaded). Checkpoints every 300 events.
  RuntimeOptions LocalRunOptions(const std::string& name, bool rebuild) const {
    RuntimeOptions options = testing::FakeLiveOptions(temp_.path() + "/" + name);
    options.use_consumer_group = false;
    options.until_caught_up = true;
    options.rebuild_mode = rebuild;
    options.local_only = true;
    options.checkpoint_every_events = 300;
    options.catch_up_checkpoint_events = 300;
    return options;
  }
  std::unique_ptr<Replayer> MakeReplayer(ReplayOptions options) {
    return std::make_unique<Replayer>(log_.get(), [] { return NewFakeProjector(); },
                                      std::move(options));
  }
  std::unique_ptr<Replayer> MakeReplayer(int32_t view_version = 1) {
    return MakeReplayer(Options(view_version));
  }

  void Append(const std::vector<Event>& events) {
    ASSERT_TRUE(testing::AppendEvents(log_.get(), events).ok());
  }
  // Runs the live runtime (as `jiritsu run --until-caught-up`) on CURRENT.
  std::string RunLiveOnCurrent(int32_t view_version = 1) {
    ViewGenerations generations(root_);
    auto dir = generations.CurrentDirOrCreate();
    EXPECT_TRUE(dir.ok());
    RuntimeOptions options = testing::FakeLiveOptions(*dir);
    options.view_version = view_version;
    auto stats = testing::RunFakeLive(log_.get(), options);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return *dir;
  }
  int Current() { return *ViewGenerations(root_).Current(); }

  testing::TempDir temp_;
  std::unique_ptr<EventLog> log_;
  std::string root_;
};

TEST_F(ReplayTest, RebuildEqualsLiveViewsAfterALongHistory) {
  FakeHistoryOptions history;
  history.employees = 300;
  history.events = 20000;
  Append(FakeHistory(history));
  // A poison record and a duplicate: both paths must agree on them too.
  ASSERT_TRUE(testing::AppendRaw(log_.get(), std::string(kLearningTopic), "e1", "{not json").ok());
  Append({FakeHistory(history)[history.reference_events + 10]});
  const std::string live_dir = RunLiveOnCurrent();

  auto replayer = MakeReplayer();
  auto report = replayer->Rebuild({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->mode, "rebuild");
  EXPECT_EQ(report->generation, 2);
  EXPECT_FALSE(report->promoted) << "a plain rebuild is a shadow, not served";
  EXPECT_EQ(Current(), 1);
  EXPECT_EQ(report->events, 20001u);  // the duplicate is applied (a no-op in the views)
  EXPECT_EQ(report->dead_letters, 1u);
  EXPECT_FALSE(report->snapshot.empty());

  auto live = DigestDir(live_dir);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_EQ(report->digest, live->combined);
  auto rebuilt = DigestDir(ViewGenerations(root_).DirFor(2));
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(rebuilt->combined, live->combined);
  for (const auto& family : live->families) EXPECT_GT(family.keys, 0u) << family.family;

  const std::string json = report->ToJson();
  for (const char* field :
       {"\"events\":20001", "\"events_per_s\":", "\"digest\":\"", "\"generation\":2",
        "\"seconds\":", "\"publish_seconds\":", "\"sync_seconds\":", "\"snapshot\":\""}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  // Parts of the build: 300 employees' held-back facts took some time to
  // publish, and neither part can exceed the whole.
  EXPECT_GT(report->publish_seconds, 0.0);
  EXPECT_GE(report->sync_seconds, 0.0);
  EXPECT_LE(report->publish_seconds + report->sync_seconds, report->seconds);
  // The build's counters, not its last runtime's (the catch-up reads nothing
  // new here): every record's bytes, and at least the final checkpoint.
  EXPECT_GT(report->bytes_read, 20001u * 40);
  EXPECT_GE(report->checkpoints, 1u);
  for (const char* field : {"\"bytes_read\":", "\"checkpoints\":", "\"refolds\":"}) {
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
  }
  EXPECT_EQ(Meta(ViewGenerations(root_).DirFor(2), kViewVersionKey), "1");
}

TEST_F(ReplayTest, RebuildInputModesGiveTheSameViewsAndDeadLetters) {
  // Merged by event time or read round-robin, decoded on a second thread or
  // not, each partition in log order or reordered: the order
  // of application is a cost, never a view input; a poison record in the
  // middle of a partition is a dead letter at its position.
  FakeHistoryOptions history;
  history.employees = 80;
  history.events = 3000;
  std::vector<Event> events = FakeHistory(history);
  // Some events logged late: every 7th one after the three that follow it.
  for (size_t i = 0; i + 3 < events.size(); i += 7) {
    std::rotate(events.begin() + static_cast<long>(i), events.begin() + static_cast<long>(i) + 1,
                events.begin() + static_cast<long>(i) + 4);
  }
  Append(std::vector<Event>(events.begin(), events.begin() + 1500));
  ASSERT_TRUE(testing::AppendRaw(log_.get(), std::string(kLearningTopic), "e1", "{not json").ok());
  Append(std::vector<Event>(events.begin() + 1500, events.end()));
  std::string poison_key;
  for (int32_t p = 0; p < 4; ++p) {
    auto consumer = log_->NewConsumer({});
    ASSERT_TRUE(consumer.ok());
    ASSERT_TRUE((*consumer)->Assign({{{std::string(kLearningTopic), p}, 0}}).ok());
    std::vector<LogRecord> records;
    while (true) {
      const size_t before = records.size();
      ASSERT_TRUE((*consumer)->Poll(std::chrono::milliseconds(10), 1000, &records).ok());
      if (records.size() == before) break;
    }
    for (const auto& record : records) {
      if (record.value == "{not json") poison_key = DeadLetterKey(record);
    }
  }
  ASSERT_FALSE(poison_key.empty());
  std::string expected;
  for (const auto& [merge, thread, waves, reorder, grouped] :
       std::vector<std::tuple<bool, bool, size_t, bool, bool>>{{false, false, 1, false, false},
                                                               {true, false, 1, false, false},
                                                               {false, true, 1, false, false},
                                                               {true, true, 1, false, false},
                                                               {true, true, 0, false, false},
                                                               {true, false, 2, false, false},
                                                               {true, true, 1, true, false},
                                                               {true, false, 2, true, false},
                                                               {true, true, 0, true, false},
                                                               {true, true, 1, true, true},
                                                               {true, false, 0, false, true},
                                                               {false, true, 1, false, true}}) {
    SCOPED_TRACE(std::string(merge ? "merged" : "round-robin") + (thread ? ", decode thread" : "") +
                 ", waves of " + std::to_string(waves) + " partitions" +
                 (reorder ? ", reordered" : "") + (grouped ? ", grouped by key" : ""));
    ReplayOptions options = Options();
    options.views_root = root_ + "-" + std::to_string(merge) + std::to_string(thread) +
                         std::to_string(waves) + std::to_string(reorder) + std::to_string(grouped);
    options.wave_partitions = waves;
    options.reorder_held = reorder;
    options.group_by_key = grouped;
    options.checkpoint_every_events = 250;
    options.poll_batch = 64;
    options.merge_by_event_time = merge;
    options.decode_thread = thread;
    options.snapshot = false;
    auto report = MakeReplayer(options)->Rebuild({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->events, 3000u);
    EXPECT_EQ(report->dead_letters, 1u);
    if (expected.empty()) expected = report->digest;
    EXPECT_EQ(report->digest, expected);
    auto store = StateStore::OpenReadOnly(ViewGenerations(options.views_root).DirFor(1),
                                          FakeViewFamilies());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::string dead_letter;
    ASSERT_TRUE((*store)->Get(kDeadLetterFamily, poison_key, &dead_letter).ok()) << poison_key;
    EXPECT_NE(dead_letter.find("\"offset\":"), std::string::npos);
  }
}

// The merged input alternates topics and partitions at nearly every record:
// each partition's stored position is its own end offset, whichever other
// topic shares its partition number (ProjectionRuntime::PositionOf).
TEST_F(ReplayTest, ARebuildStoresTheEndOffsetOfEveryPartitionOfEveryTopicItRead) {
  FakeHistoryOptions history;
  history.employees = 40;
  history.events = 1200;
  const std::vector<Event> events = FakeHistory(history);
  const std::vector<std::string> other_topics = {std::string(kInterviewTopic),
                                                 std::string(kDeclarationTopic)};
  size_t poison = 0;
  for (size_t part = 0; part < 3; ++part) {
    Append(std::vector<Event>(events.begin() + static_cast<long>(part * 400),
                              events.begin() + static_cast<long>((part + 1) * 400)));
    // Records no decoder accepts: dead letters, whose positions move too.
    for (int i = 0; i < 7; ++i) {
      const std::string& topic = other_topics[(part + static_cast<size_t>(i)) % 2];
      ASSERT_TRUE(testing::AppendRaw(log_.get(), topic, "e" + std::to_string(i + 3 * part),
                                     "{not json " + std::to_string(i))
                      .ok());
      ++poison;
    }
  }
  ReplayOptions options = Options();
  options.checkpoint_every_events = 200;
  options.snapshot = false;
  auto replayer = MakeReplayer(options);
  // A position kept for the wrong partition never reaches its end offset:
  // the build would wait for it forever, so a watchdog stops it.
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mutex);
    if (!done_cv.wait_for(lock, std::chrono::seconds(60), [&] { return done; })) replayer->Stop();
  });
  auto report = replayer->Rebuild({});
  {
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
  }
  done_cv.notify_one();
  watchdog.join();
  ASSERT_TRUE(report.ok()) << report.status().ToString() << " (stopped after 60 s?)";
  EXPECT_EQ(report->dead_letters, poison);
  size_t partitions_read = 0;
  for (const std::string& topic : {std::string(kLearningTopic), other_topics[0], other_topics[1]}) {
    for (int32_t p = 0; p < 4; ++p) {
      const TopicPartition tp{topic, p};
      auto end = log_->EndOffset(tp);
      ASSERT_TRUE(end.ok()) << end.status().ToString();
      if (*end == 0) continue;
      ++partitions_read;
      auto stored = report->offsets.find(tp);
      ASSERT_NE(stored, report->offsets.end()) << ToString(tp);
      EXPECT_EQ(stored->second, *end) << ToString(tp);
    }
  }
  // Every topic on at least two partition numbers shared with another topic.
  EXPECT_GE(partitions_read, 8u);
}

// Grouped by key, a rebuild applies each batch of the merged input one
// employee after another, and each employee's events in the order the
// ungrouped rebuild applies them (ProjectionRuntime::ApplyGroupedByKey).
TEST_F(ReplayTest, AGroupedRebuildAppliesEachEmployeesEventsTogetherAndInTheirOrder) {
  FakeHistoryOptions history;
  history.employees = 30;
  history.events = 3000;
  Append(FakeHistory(history));
  using Applied = std::vector<std::pair<std::string, std::string>>;
  auto rebuild = [&](bool grouped, Applied* applied) {
    ReplayOptions options = Options();
    options.views_root = root_ + (grouped ? "-grouped" : "-merged");
    options.poll_batch = 600;  // ~20 events of each employee per batch
    options.group_by_key = grouped;
    options.snapshot = false;
    Replayer replayer(
        log_.get(), [applied] { return std::make_unique<RecordingProjector>(applied); }, options);
    auto report = replayer.Rebuild({});
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report->digest : "";
  };
  Applied merged;
  Applied grouped;
  const std::string merged_digest = rebuild(false, &merged);
  EXPECT_EQ(rebuild(true, &grouped), merged_digest);
  ASSERT_EQ(merged.size(), 3000u);
  ASSERT_EQ(grouped.size(), 3000u);
  auto by_employee = [](const Applied& applied) {
    std::map<std::string, std::vector<std::string>> events;
    for (const auto& [employee, id] : applied) events[employee].push_back(id);
    return events;
  };
  EXPECT_EQ(by_employee(grouped), by_employee(merged));
  auto switches = [](const Applied& applied) {
    size_t count = 0;
    for (size_t i = 1; i < applied.size(); ++i) count += applied[i].first != applied[i - 1].first;
    return count;
  };
  // Merged by event time the employees alternate; grouped, a batch of
  // ~600 events changes employee ~30 times.
  EXPECT_GT(switches(merged), 2000u);
  EXPECT_LT(switches(grouped), 600u);
}

// A bulk-loaded rebuild compacts the families its held-back facts do not
// write (Projector::FamiliesCompleteBeforeHeldBackFacts) while it publishes
// them; the end of the run compacts only the others, and the views are the
// ones a live run builds.
TEST_F(ReplayTest, ARebuildCompactsItsCompleteFamiliesWhileItPublishesTheHeldBackFacts) {
  FakeHistoryOptions history;
  history.employees = 200;
  history.events = 6000;
  Append(FakeHistory(history));
  auto run = [&](const std::string& name, bool rebuild) -> Result<RuntimeStats> {
    RuntimeOptions options = LocalRunOptions(name, rebuild);
    options.store_memory_bytes = 8 << 20;  // small write buffers
    JIRITSU_ASSIGN_OR_RETURN(auto runtime,
                             ProjectionRuntime::Create(log_.get(), NewFakeProjector(), options));
    JIRITSU_RETURN_IF_ERROR(runtime->Run());
    if (rebuild) {
      // Every family but the dedupe index, compacted early and complete by then.
      const std::vector<std::string> families = testing::FakeViewFamilies();
      for (const std::string& family : families) {
        JIRITSU_ASSIGN_OR_RETURN(uint64_t level0, runtime->store()->Level0FileCount(family));
        if (level0 != 0) return Internal(family + " has level-0 files after the rebuild");
      }
      // + default, meta, offsets; - fake_seen
      if (runtime->store()->families_compacted_at_sync() != families.size() + 3 - 1) {
        return Internal("compacted at the end: " +
                        std::to_string(runtime->store()->families_compacted_at_sync()));
      }
    }
    return runtime->stats();
  };
  auto rebuilt = run("rebuilt", true);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->families_compacted_early, 1u);
  auto live = run("live", false);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_EQ(live->families_compacted_early, 0u);
  auto rebuilt_digest = DigestDir(temp_.path() + "/rebuilt");
  auto live_digest = DigestDir(temp_.path() + "/live");
  ASSERT_TRUE(rebuilt_digest.ok() && live_digest.ok());
  EXPECT_EQ(rebuilt_digest->combined, live_digest->combined);
}

// Wraps the fake projector: asked, it applies the facts it publishes itself
// as it hands them out (Projector::ApplyPublishedFactsItself), and counts
// the records the runtime still hands back to ApplyFacts.
class SelfApplyingProjector : public Projector {
 public:
  std::vector<std::string> ColumnFamilies() const override { return inner_->ColumnFamilies(); }
  std::vector<std::string> FamiliesCompleteBeforeHeldBackFacts() const override {
    return inner_->FamiliesCompleteBeforeHeldBackFacts();
  }
  Status Open(StateStore* store) override { return inner_->Open(store); }
  Status ApplyReference(const Event& event, const SourcePosition& pos) override {
    return inner_->ApplyReference(event, pos);
  }
  Status ApplyEmployeeEvent(const Event& event, const SourcePosition& pos) override {
    return inner_->ApplyEmployeeEvent(event, pos);
  }
  bool ApplyPublishedFactsItself() override {
    *asked_ = true;
    return true;
  }
  Status ApplyFacts(const LogRecord& record) override {
    ++*handed_back_;
    return inner_->ApplyFacts(record);
  }
  Status Checkpoint(StateBatch* batch, const FactsSink& facts_out) override {
    return inner_->Checkpoint(batch, [&](FactsRecord record) -> Status {
      if (*asked_) {
        // Applied before the inner projector writes its facts family below.
        const LogRecord local{std::string(kFactsTopic), 0, -1, record.key, record.value, 0};
        JIRITSU_RETURN_IF_ERROR(inner_->ApplyFacts(local));
      }
      return facts_out(std::move(record));
    });
  }
  void OnPartitionsRevoked(const std::vector<int32_t>& partitions) override {
    inner_->OnPartitionsRevoked(partitions);
  }
  void Close() override { inner_->Close(); }

  SelfApplyingProjector(bool* asked, uint64_t* handed_back)
      : asked_(asked), handed_back_(handed_back) {}

 private:
  std::unique_ptr<Projector> inner_ = NewFakeProjector();
  bool* asked_;
  uint64_t* handed_back_;
};

// A rebuild that derives its global views from its own facts asks the
// projector whether it applies them itself; if so, it hands none back, and
// the views are those of a live run, which is not asked and hands them all
// back.
TEST_F(ReplayTest, ARebuildHandsNoFactsBackToAProjectorThatAppliesThemItself) {
  FakeHistoryOptions history;
  history.employees = 50;
  history.events = 1500;
  Append(FakeHistory(history));
  struct Outcome {
    bool asked = false;
    uint64_t handed_back = 0;
    RuntimeStats stats;
  };
  auto run = [&](const std::string& name, bool rebuild) -> Result<Outcome> {
    Outcome outcome;
    JIRITSU_ASSIGN_OR_RETURN(auto runtime,
                             ProjectionRuntime::Create(log_.get(),
                                                       std::make_unique<SelfApplyingProjector>(
                                                           &outcome.asked, &outcome.handed_back),
                                                       LocalRunOptions(name, rebuild)));
    JIRITSU_RETURN_IF_ERROR(runtime->Run());
    outcome.stats = runtime->stats();
    return outcome;
  };
  auto rebuilt = run("rebuilt", true);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_TRUE(rebuilt->asked);
  EXPECT_EQ(rebuilt->handed_back, 0u);
  EXPECT_EQ(rebuilt->stats.facts_bursts, 0u);
  EXPECT_GE(rebuilt->stats.facts_published, 50u);
  auto live = run("live", false);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  EXPECT_FALSE(live->asked);
  EXPECT_GE(live->handed_back, 50u);
  auto rebuilt_digest = DigestDir(temp_.path() + "/rebuilt");
  auto live_digest = DigestDir(temp_.path() + "/live");
  ASSERT_TRUE(rebuilt_digest.ok() && live_digest.ok());
  EXPECT_EQ(rebuilt_digest->combined, live_digest->combined);
}

// A rebuild applies the facts it publishes in bursts bounded by what they
// hold once applied (Projector::AppliedFactsBytes), not by their encoded
// size; how many bursts there are never changes a view.
TEST_F(ReplayTest, FactsBurstsAreBoundedByTheirAppliedBytesAndChangeNoView) {
  FakeHistoryOptions history;
  history.employees = 200;
  history.events = 6000;
  Append(FakeHistory(history));

  constexpr uint64_t kBound = 2 << 20;
  auto rebuild = [&](const std::string& name, uint64_t applied_bytes) -> Result<RuntimeStats> {
    RuntimeOptions options = LocalRunOptions(name, /*rebuild=*/true);  // about 20 checkpoints
    options.deferred_facts_bytes = kBound;
    JIRITSU_ASSIGN_OR_RETURN(auto runtime, ProjectionRuntime::Create(
                                               log_.get(), NewFakeProjector(applied_bytes), options));
    JIRITSU_RETURN_IF_ERROR(runtime->Run());
    return runtime->stats();
  };
  auto by_encoded_size = rebuild("encoded", 0);  // a few bytes each: one burst at the end
  ASSERT_TRUE(by_encoded_size.ok()) << by_encoded_size.status().ToString();
  EXPECT_EQ(by_encoded_size->facts_bursts, 1u);

  constexpr uint64_t kAppliedBytes = 256 << 10;  // per facts record
  auto bounded = rebuild("applied", kAppliedBytes);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  // Every checkpoint publishes the facts of many of the 200 employees, far
  // more than 2 MiB once applied: a burst at each.
  EXPECT_GE(bounded->facts_bursts, 10u);
  EXPECT_GE(bounded->largest_facts_burst_bytes, kBound);
  // An employee's latest facts are applied once per burst that holds them.
  EXPECT_GT(bounded->facts_published, by_encoded_size->facts_published);

  auto encoded_digest = DigestDir(temp_.path() + "/encoded");
  auto applied_digest = DigestDir(temp_.path() + "/applied");
  ASSERT_TRUE(encoded_digest.ok() && applied_digest.ok());
  EXPECT_EQ(applied_digest->combined, encoded_digest->combined);
}

TEST_F(ReplayTest, FirstBuildOfAnEmptyRootIsPromoted) {
  Append(FakeHistory({}));
  auto report = MakeReplayer()->Rebuild({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->promoted);
  EXPECT_EQ(Current(), report->generation);
}

TEST_F(ReplayTest, VerifyAcceptsALiveStoreWhoseGlobalViewsLagByACheckpoint) {
  FakeHistoryOptions history;
  history.events = 3000;
  Append(FakeHistory(history));
  ASSERT_TRUE(testing::AppendRaw(log_.get(), std::string(kApprovalTopic), "e2", "garbage").ok());
  RunLiveOnCurrent();
  // More events, processed live and stopped without catching up the facts:
  // the totals then lag behind the per-employee counts, as in any busy store.
  history.seed = 2;
  Append(FakeHistory(history));
  const std::string live_dir = ViewGenerations(root_).DirFor(1);
  {
    RuntimeOptions options = testing::FakeLiveOptions(live_dir);
    options.view_version = 1;
    options.checkpoint_every_events = 1'000'000;
    options.checkpoint_every_ms = 1'000'000;
    options.progress_every_ms = 1;
    ProjectionRuntime* running = nullptr;
    options.on_progress = [&](const RuntimeStats& stats) {
      if (stats.events_applied >= 3000) running->Stop();
    };
    auto runtime = ProjectionRuntime::Create(log_.get(), NewFakeProjector(), options);
    ASSERT_TRUE(runtime.ok()) << runtime.status().ToString();
    running = runtime->get();
    ASSERT_TRUE((*runtime)->Run().ok());
  }
  {
    auto live = StateStore::OpenReadOnly(live_dir, FakeViewFamilies());
    ASSERT_TRUE(live.ok());
    std::string total;
    ASSERT_TRUE((*live)->Get(testing::kFakeTotalsFamily, "events", &total).ok());
    EXPECT_EQ(total, "3000") << "the second batch's facts are published but not yet read";
    EXPECT_EQ(*testing::SumFakeCounts(**live), 6000);
  }
  auto report = MakeReplayer()->Verify({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->equal) << report->ToJson();
  EXPECT_EQ(report->digest, report->live_digest);

  // A rebuild that derives the facts itself has the complete totals.
  auto rebuilt = MakeReplayer()->Rebuild({});
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  auto store = StateStore::OpenReadOnly(rebuilt->store_dir, FakeViewFamilies());
  ASSERT_TRUE(store.ok());
  std::string total;
  ASSERT_TRUE((*store)->Get(testing::kFakeTotalsFamily, "events", &total).ok());
  EXPECT_EQ(total, "6000");
}

TEST_F(ReplayTest, VerifyDetectsACorruptedLiveViewAndNamesIt) {
  Append(FakeHistory({}));
  const std::string live_dir = RunLiveOnCurrent();
  {
    auto live = StateStore::Open(live_dir, {});
    ASSERT_TRUE(live.ok());
    StateBatch batch;
    batch.Put(testing::kFakeCountsFamily, "e7", "999");
    batch.Put(testing::kFakeReferenceFamily, "zz-extra", "1");
    ASSERT_TRUE((*live)->Write(&batch).ok());
  }
  auto report = MakeReplayer()->Verify({});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->equal);
  EXPECT_NE(report->digest, report->live_digest);
  ASSERT_EQ(report->differences.size(), 2u);
  EXPECT_EQ(report->differences[0].family, testing::kFakeCountsFamily);
  ASSERT_EQ(report->differences[0].first_differences.size(), 1u);
  const KeyDifference& counts = report->differences[0].first_differences[0];
  EXPECT_EQ(counts.key, "e7");
  EXPECT_EQ(counts.kind, KeyDifference::Kind::kValueDiffers);
  EXPECT_EQ(counts.left_value, "999");  // left = live
  EXPECT_EQ(report->differences[1].family, testing::kFakeReferenceFamily);
  EXPECT_EQ(report->differences[1].first_differences[0].kind, KeyDifference::Kind::kOnlyLeft);
  const std::string json = report->ToJson();
  EXPECT_NE(json.find("\"equal\":false"), std::string::npos);
  EXPECT_NE(json.find("\"view\":\"fake_counts\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"key\":\"e7\""), std::string::npos) << json;

  // Only the requested view is compared with --view.
  auto only_totals = MakeReplayer()->Verify({testing::kFakeTotalsFamily});
  ASSERT_TRUE(only_totals.ok());
  EXPECT_TRUE(only_totals->equal);
  // No temp directory is left behind.
  for (const auto& entry : fs::directory_iterator(root_)) {
    EXPECT_EQ(entry.path().filename().string().rfind("replay-tmp-", 0), std::string::npos)
        << entry.path();
  }
}

TEST_F(ReplayTest, AsOfReplayEqualsALiveRunOverOnlyTheEventsUpToThatDate) {
  FakeHistoryOptions history;
  history.events = 4000;
  std::vector<Event> events = FakeHistory(history);
  const int64_t as_of = events[2500].time_us;
  // A late arrival: appended after everything, stamped before the date.
  Event late = testing::FakeEmployeeEvent("e3", "late-1", as_of - 1'000'000);
  events.push_back(late);
  Append(events);

  auto other_log = OpenEmbeddedLog(temp_.path() + "/log-until-date");
  ASSERT_TRUE(other_log.ok());
  ASSERT_TRUE(testing::EnsureFakeTopics(other_log->get()).ok());
  std::vector<Event> until_date;
  for (const auto& event : events) {
    if (event.time_us <= as_of) until_date.push_back(event);
  }
  ASSERT_TRUE(testing::AppendEvents(other_log->get(), until_date).ok());
  const std::string expected_dir = temp_.path() + "/expected";
  ASSERT_TRUE(testing::RunFakeLive(other_log->get(), testing::FakeLiveOptions(expected_dir)).ok());

  AsOfRequest request;
  request.as_of_time_us = as_of;
  request.as_of_utc_offset_minutes = 9 * 60;
  request.target_dir = temp_.path() + "/audit";
  auto report = MakeReplayer()->BuildAsOf(request);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, until_date.size() - static_cast<size_t>(history.reference_events));
  EXPECT_GT(report->skipped_as_of, 0u);
  auto expected = DigestDir(expected_dir);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(report->digest, expected->combined);

  // Read-only: marked in meta, refused by the runtime.
  EXPECT_NE(Meta(request.target_dir, kReadOnlyMarkerKey).find("as-of 2024-"), std::string::npos)
      << Meta(request.target_dir, kReadOnlyMarkerKey);
  EXPECT_EQ(Meta(request.target_dir, kAsOfTimeKey), std::to_string(as_of));
  auto runtime = ProjectionRuntime::Create(log_.get(), NewFakeProjector(),
                                           testing::FakeLiveOptions(request.target_dir));
  EXPECT_EQ(runtime.status().code(), StatusCode::kFailedPrecondition);

  // The target must be new.
  auto again = MakeReplayer()->BuildAsOf(request);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(ReplayTest, AsOfOffsetReflectsWhatWasKnownAtThatLogPosition) {
  FakeHistoryOptions history;
  history.events = 2000;
  Append(FakeHistory(history));
  const std::string then_dir = temp_.path() + "/then";
  ASSERT_TRUE(testing::RunFakeLive(log_.get(), testing::FakeLiveOptions(then_dir)).ok());
  std::map<TopicPartition, int64_t> then_offsets;
  {
    auto then = StateStore::OpenReadOnly(then_dir, {});
    ASSERT_TRUE(then.ok());
    then_offsets = *ReadStoredOffsets(**then);
  }
  // Later appends, including a late event stamped long before: not known then.
  history.seed = 9;
  Append(FakeHistory(history));
  Append({testing::FakeEmployeeEvent("e1", "late", history.start_time_us)});

  AsOfRequest request;
  for (const auto& [tp, offset] : then_offsets) {
    if (tp.topic != kFactsTopic && tp.topic != kDeadLetterTopic) request.as_of_offsets[tp] = offset;
  }
  request.target_dir = temp_.path() + "/audit";
  auto report = MakeReplayer()->BuildAsOf(request);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, 2000u);
  auto then = DigestDir(then_dir);
  ASSERT_TRUE(then.ok());
  EXPECT_EQ(report->digest, then->combined);
  for (const auto& [tp, offset] : request.as_of_offsets) {
    EXPECT_EQ(report->offsets[tp], offset) << ToString(tp) << ": positions stop at the bound";
  }
}

TEST_F(ReplayTest, SnapshotPlusTailReplayEqualsAFullReplay) {
  FakeHistoryOptions history;
  history.events = 3000;
  Append(FakeHistory(history));
  auto first = MakeReplayer()->Rebuild({});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_FALSE(first->snapshot.empty());
  history.seed = 3;
  history.events = 1000;
  Append(FakeHistory(history));

  auto replayer = MakeReplayer();
  auto snapshots = replayer->ListSnapshots();
  ASSERT_TRUE(snapshots.ok()) << snapshots.status().ToString();
  ASSERT_EQ(snapshots->size(), 1u);
  EXPECT_EQ((*snapshots)[0].name, first->snapshot);
  EXPECT_EQ((*snapshots)[0].events, 3000u);
  EXPECT_EQ((*snapshots)[0].view_version, 1);
  EXPECT_EQ((*snapshots)[0].offsets, first->offsets);

  auto tail = replayer->Rebuild({"latest"});
  ASSERT_TRUE(tail.ok()) << tail.status().ToString();
  EXPECT_EQ(tail->events, 1000u) << "only the tail after the snapshot is replayed";
  auto full = replayer->Rebuild({});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(full->events, 4000u);
  EXPECT_EQ(tail->digest, full->digest);
  EXPECT_EQ(tail->offsets, full->offsets);

  // Restore: the first snapshot becomes a new current generation as is.
  auto restored = replayer->RestoreSnapshot(first->snapshot);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_TRUE(restored->promoted);
  EXPECT_EQ(Current(), restored->generation);
  EXPECT_EQ(restored->digest, first->digest);
  EXPECT_EQ(restored->offsets, first->offsets);
  // The runner then catches it up from the snapshot's offsets.
  const std::string dir = RunLiveOnCurrent();
  auto caught_up = DigestDir(dir);
  ASSERT_TRUE(caught_up.ok());
  EXPECT_EQ(caught_up->combined, full->digest);

  EXPECT_EQ(replayer->RestoreSnapshot("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(replayer->Rebuild({"nope"}).status().code(), StatusCode::kNotFound);
}

TEST_F(ReplayTest, SnapshotRetentionKeepsTheNewest) {
  Append(FakeHistory({}));
  ReplayOptions options = Options();
  options.keep_snapshots = 2;
  auto replayer = MakeReplayer(options);
  std::vector<std::string> names;
  for (int i = 0; i < 3; ++i) {
    auto report = replayer->Rebuild({});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    names.push_back(report->snapshot);
  }
  auto snapshots = replayer->ListSnapshots();
  ASSERT_TRUE(snapshots.ok());
  ASSERT_EQ(snapshots->size(), 2u);
  EXPECT_EQ((*snapshots)[0].name, names[1]);
  EXPECT_EQ((*snapshots)[1].name, names[2]);
}

TEST_F(ReplayTest, ViewVersionBumpForcesARebuild) {
  Append(FakeHistory({}));
  const std::string v1_dir = RunLiveOnCurrent(/*view_version=*/1);
  EXPECT_FALSE(*NeedsRebuild(v1_dir, 1));
  EXPECT_TRUE(*NeedsRebuild(v1_dir, 2));
  EXPECT_FALSE(*NeedsRebuild(temp_.path() + "/nothing-here", 2));
  // The runtime refuses to advance views of another version.
  RuntimeOptions v2_options = testing::FakeLiveOptions(v1_dir);
  v2_options.view_version = 2;
  auto refused = ProjectionRuntime::Create(log_.get(), NewFakeProjector(), v2_options);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  // A snapshot of version 1 cannot seed version 2.
  auto v1_build = MakeReplayer(1)->Rebuild({});
  ASSERT_TRUE(v1_build.ok());
  auto v2 = MakeReplayer(2);
  EXPECT_EQ(v2->Rebuild({v1_build->snapshot}).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(v2->Rebuild({"latest"}).status().code(), StatusCode::kNotFound);
  // Partial rebuilds and verify need the same version.
  EXPECT_EQ(v2->Rebuild({"", true, testing::kFakeCountsFamily}).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(v2->Verify({}).status().code(), StatusCode::kFailedPrecondition);

  auto swapped = v2->Rebuild({"", /*swap=*/true});
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_TRUE(swapped->promoted);
  const std::string v2_dir = ViewGenerations(root_).DirFor(Current());
  EXPECT_EQ(Meta(v2_dir, kViewVersionKey), "2");
  EXPECT_FALSE(*NeedsRebuild(v2_dir, 2));
  EXPECT_EQ(swapped->digest, (*DigestDir(v1_dir)).combined) << "same fake views, new version";
  // The new version's runner continues on it.
  RunLiveOnCurrent(/*view_version=*/2);
}

TEST_F(ReplayTest, SwapWithoutARunnerCatchesUpToTheLogEndAndRollbackServesTheOldGeneration) {
  Append(FakeHistory({}));
  const std::string old_dir = RunLiveOnCurrent();
  // A runner that died: its RUNNING file is stale.
  {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    std::ofstream(root_ + "/" + kRunningFile) << "pid=" << pid << "\nhost=" << host << "\n";
  }
  FakeHistoryOptions more;
  more.seed = 4;
  more.events = 500;
  Append(FakeHistory(more));  // not yet in the live views
  auto report = MakeReplayer()->Rebuild({"", /*swap=*/true});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->promoted);
  EXPECT_FALSE(report->handshake);
  EXPECT_EQ(Current(), 2);
  EXPECT_EQ(*ViewGenerations(root_).Previous(), 1);
  {
    auto store = StateStore::OpenReadOnly(report->store_dir, FakeViewFamilies());
    ASSERT_TRUE(store.ok());
    EXPECT_EQ(*testing::SumFakeCounts(**store), 2500) << "caught up to the log end";
  }
  EXPECT_FALSE(fs::exists(root_ + "/" + kSwapRequestFile));

  auto old_digest = DigestDir(old_dir);
  auto rolled = MakeReplayer()->Rollback();
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->generation, 1);
  EXPECT_EQ(Current(), 1);
  EXPECT_EQ(rolled->digest, old_digest->combined);
  EXPECT_EQ(*ViewGenerations(root_).Previous(), 2);
  // Rolling back again returns to the rebuilt generation.
  ASSERT_TRUE(MakeReplayer()->Rollback().ok());
  EXPECT_EQ(Current(), 2);
}

TEST_F(ReplayTest, RollbackWithoutPreviousGenerationFails) {
  Append(FakeHistory({}));
  RunLiveOnCurrent();
  EXPECT_EQ(MakeReplayer()->Rollback().status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(ReplayTest, PartialRebuildReplacesOnlyTheNamedView) {
  Append(FakeHistory({}));
  const std::string live_dir = RunLiveOnCurrent();
  const auto good = DigestDir(live_dir);
  std::string good_e7;
  {
    auto live = StateStore::Open(live_dir, {});
    ASSERT_TRUE(live.ok());
    ASSERT_TRUE((*live)->Get(testing::kFakeCountsFamily, "e7", &good_e7).ok());
    StateBatch batch;
    batch.Put(testing::kFakeCountsFamily, "e7", "999");
    batch.Put(testing::kFakeReferenceFamily, "ou-1", "999");
    ASSERT_TRUE((*live)->Write(&batch).ok());
  }
  ReplayOptions options = Options();
  options.view_families["counts"] = {testing::kFakeCountsFamily, testing::kFakeSeenFamily};
  auto replayer = MakeReplayer(options);
  EXPECT_EQ(replayer->Rebuild({"", false, "counts"}).status().code(), StatusCode::kInvalidArgument)
      << "--view needs --swap";
  auto unknown = replayer->Rebuild({"", true, "step-status"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("counts"), std::string::npos) << "lists the views";

  auto report = replayer->Rebuild({"", true, "counts"});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->promoted);
  EXPECT_EQ(report->families,
            (std::vector<std::string>{testing::kFakeCountsFamily, testing::kFakeSeenFamily}));
  auto store = StateStore::OpenReadOnly(report->store_dir, FakeViewFamilies());
  ASSERT_TRUE(store.ok());
  std::string e7, ou1;
  ASSERT_TRUE((*store)->Get(testing::kFakeCountsFamily, "e7", &e7).ok());
  ASSERT_TRUE((*store)->Get(testing::kFakeReferenceFamily, "ou-1", &ou1).ok());
  EXPECT_EQ(e7, good_e7) << "the named view is rebuilt";
  EXPECT_EQ(ou1, "999") << "other views are the live ones";
  store->reset();

  auto counts = replayer->Verify({"counts"});
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_TRUE(counts->equal);
  auto reference = replayer->Verify({testing::kFakeReferenceFamily});
  ASSERT_TRUE(reference.ok());
  EXPECT_FALSE(reference->equal);
  // Repairing the other view too brings back the original digest.
  ASSERT_TRUE(replayer->Rebuild({"", true, testing::kFakeReferenceFamily}).ok());
  EXPECT_EQ((*DigestDir(ViewGenerations(root_).DirFor(Current()))).combined, good->combined);
}

TEST_F(ReplayTest, SwapFailsCleanlyWhenTheRunnerNeverAcknowledges) {
  Append(FakeHistory({}));
  RunLiveOnCurrent();
  ASSERT_TRUE(SwapCoordinator(root_).MarkRunning().ok());  // alive, but never answers
  ReplayOptions options = Options();
  options.swap_ready_timeout = std::chrono::milliseconds(100);
  auto report = MakeReplayer(options)->Rebuild({"", true});
  EXPECT_EQ(report.status().code(), StatusCode::kDeadlineExceeded) << report.status().ToString();
  EXPECT_EQ(Current(), 1);
  EXPECT_FALSE(fs::exists(root_ + "/" + kSwapRequestFile));
  EXPECT_FALSE(fs::exists(ViewGenerations(root_).DirFor(2))) << "the half-built shadow is removed";
}

TEST_F(ReplayTest, ConcurrentReplaysOfOneRootAreRefused) {
  Append(FakeHistory({}));
  fs::create_directories(root_);
  const int fd = ::open((root_ + "/REPLAY-LOCK").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(MakeReplayer()->Rebuild({}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(MakeReplayer()->Verify({}).status().code(), StatusCode::kUnavailable);
  ::close(fd);
  EXPECT_TRUE(MakeReplayer()->Rebuild({}).ok());
}

TEST_F(ReplayTest, RequestErrorsAreReportedBeforeAnyWork) {
  Append(FakeHistory({}));
  auto replayer = MakeReplayer();
  EXPECT_EQ(replayer->Verify({}).status().code(), StatusCode::kNotFound) << "nothing live yet";
  AsOfRequest nothing;
  nothing.target_dir = temp_.path() + "/audit";
  EXPECT_EQ(replayer->BuildAsOf(nothing).status().code(), StatusCode::kInvalidArgument);
  AsOfRequest no_target;
  no_target.as_of_time_us = 1;
  EXPECT_EQ(replayer->BuildAsOf(no_target).status().code(), StatusCode::kInvalidArgument);
  AsOfRequest with_snapshot;
  with_snapshot.as_of_time_us = 1;
  with_snapshot.target_dir = temp_.path() + "/audit";
  with_snapshot.from_snapshot = "latest";
  EXPECT_EQ(replayer->BuildAsOf(with_snapshot).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(with_snapshot.target_dir));
  ReplayOptions no_root = Options();
  no_root.views_root.clear();
  EXPECT_EQ(MakeReplayer(no_root)->Rebuild({}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ReplayTest, StopAbandonsTheBuildAndLeavesCurrentAlone) {
  FakeHistoryOptions history;
  history.events = 5000;
  Append(FakeHistory(history));
  RunLiveOnCurrent();
  ReplayOptions options = Options();
  options.progress_every_ms = 1;
  options.progress_bar = false;
  Replayer* self = nullptr;
  // Deterministic: stop between the build and the catch-up of the swap.
  options.before_catch_up = [&] { self->Stop(); };
  auto replayer = MakeReplayer(options);
  self = replayer.get();
  auto report = replayer->Rebuild({"", true});
  EXPECT_EQ(replayer->stats().events_applied, 5000u) << "the last run's stats stay readable";
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition) << report.status().ToString();
  EXPECT_EQ(Current(), 1);
  EXPECT_FALSE(fs::exists(ViewGenerations(root_).DirFor(2)));
  EXPECT_FALSE(fs::exists(root_ + "/" + kSwapRequestFile));
  // The progress file of the interrupted run is there for the metrics endpoint.
  std::ifstream progress(root_ + "/" + kReplayProgressFile);
  std::string text((std::istreambuf_iterator<char>(progress)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"partitions\":["), std::string::npos) << text;
}

}  // namespace
}  // namespace jiritsu
