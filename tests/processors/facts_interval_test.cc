// Facts held back in live runs (ProjectorOptions::facts_interval_ms): an
// employee's facts are published at most once per interval, the row that
// says they wait survives a restart, a wave of due facts is spread over
// checkpoints, and the facts finally published are the ones publishing at
// every checkpoint gives. The end-to-end digest check with shuffled feeds is
// DeterminismTest.FactsHeldBackForAnIntervalEndInTheSameDigest.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <tuple>

#include "processors/aggregates.h"
#include "processors/rows.h"
#include "processors/time_util.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

std::string Time(int64_t t) { return FormatTime(t, 540); }

// A projector whose facts interval is 1 s on a clock the test moves.
struct Clocked {
  int64_t now_ms = 0;
  ProjectorOptions Options(int64_t interval_ms = 1000) {
    ProjectorOptions options;
    options.facts_interval_ms = interval_ms;
    options.clock_ms = [this] { return now_ms; };
    return options;
  }
};

class FactsIntervalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_ = StandardReference(f_);
    t_ = At("2025-05-01T09:00:00+09:00");
  }
  Fed NextEvent(const std::string& employee) {
    t_ += 3600 * kMicrosPerSecond;
    return f_.Enroll(Time(t_), employee, "c-sec");
  }
  Fed HireNow(const std::string& employee) {
    t_ += 3600 * kMicrosPerSecond;
    return f_.Hire(Time(t_), employee, "dev", "m1");
  }
  // The reference data and a hire of each of `employees`, applied to `h`.
  std::vector<Fed> HireAll(Harness& h, const std::vector<std::string>& employees) {
    std::vector<Fed> fed = reference_;
    for (const std::string& employee : employees) fed.push_back(HireNow(employee));
    h.Apply(fed);
    return fed;
  }
  // "<prefix>000", "<prefix>001", ...: `count` employee ids in order.
  static std::vector<std::string> NumberedIds(const std::string& prefix, int count) {
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      char number[8];
      std::snprintf(number, sizeof(number), "%03d", i);
      ids.push_back(prefix + number);
    }
    return ids;
  }
  // A 1 s facts interval and `percent` budget on a clock that moves 1 ms at
  // every reading (so publishing a facts record costs ~1 ms).
  static ProjectorOptions TickingOptions(int32_t percent, int64_t* now_ms) {
    ProjectorOptions options;
    options.facts_interval_ms = 1000;
    options.facts_budget_percent = percent;
    options.clock_ms = [now_ms] { return (*now_ms)++; };
    return options;
  }
  // A change of `employee` at `now_ms` whose facts the checkpoint holds back.
  void ChangeHeldBack(Harness& h, Clocked& clock, int64_t now_ms, std::vector<Fed>* fed,
                      const std::string& employee) {
    clock.now_ms = now_ms;
    fed->push_back(NextEvent(employee));
    h.Apply(fed->back());
    EXPECT_TRUE(h.CheckpointOnly().empty()) << "at " << now_ms << " ms";
    EXPECT_TRUE(WaitingRow(h, employee).has_value()) << "at " << now_ms << " ms";
  }
  static std::optional<std::string> WaitingRow(Harness& h, const std::string& employee) {
    std::string value;
    Status s = h.store()->Get(kEmployeeFamily, FactsWaitingKey(employee), &value);
    if (s.code() == StatusCode::kNotFound) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }
  // events_folded of the stored state (without its journal tail).
  static uint64_t StoredEventsFolded(Harness& h, const std::string& employee) {
    std::string bytes;
    EXPECT_TRUE(h.store()->Get(kEmployeeFamily, EmployeeStateKey(employee), &bytes).ok());
    auto state = DecodeEmployeeState(bytes);
    EXPECT_TRUE(state.ok()) << state.status().ToString();
    return state.ok() ? state->events_folded : 0;
  }
  // The facts record of `employee` that publishing at every checkpoint gives
  // after `events`.
  static std::string FactsOfPublishingAlways(const std::vector<Fed>& events,
                                             const std::string& employee) {
    Harness always;
    always.Apply(events);
    for (const FactsRecord& record : always.CheckpointOnly()) {
      if (record.key == employee) return record.value;
    }
    ADD_FAILURE() << "no facts for " << employee;
    return "";
  }

  EventFactory f_;
  std::vector<Fed> reference_;
  int64_t t_ = 0;
};

std::vector<std::string> Keys(const std::vector<FactsRecord>& records) {
  std::vector<std::string> keys;
  for (const FactsRecord& record : records) keys.push_back(record.key);
  return keys;
}

TEST_F(FactsIntervalTest, AnEmployeeChangingAtEveryCheckpointGetsOneFactsRecordPerInterval) {
  Clocked clock;
  Harness h(clock.Options());
  std::vector<Fed> fed = HireAll(h, {"e1"});
  // New to the store: due at once.
  std::vector<FactsRecord> facts = h.CheckpointOnly();
  EXPECT_EQ(Keys(facts), std::vector<std::string>{"e1"});
  h.ApplyFacts(facts);
  EXPECT_EQ(h.projector()->TakeFactsDeferral().waiting, 0u);

  // Two more checkpoints within the interval: the state is committed, the
  // facts wait, and a row says so.
  for (int64_t at : {100, 500}) ChangeHeldBack(h, clock, at, &fed, "e1");
  // The employee's own views are current: the stored state (written with
  // the facts) is behind, and its journal tail is folded on read.
  EXPECT_EQ(StoredEventsFolded(h, "e1"), 1u);
  const std::string status = Harness::Ok(h.Query().StepStatus("e1", std::nullopt));
  EXPECT_NE(status.find("\"events_folded\":3"), std::string::npos) << status;
  FactsDeferral waiting = h.projector()->TakeFactsDeferral();
  EXPECT_EQ(waiting.waiting, 1u);
  EXPECT_TRUE(waiting.published_after_ms.empty());

  // An interval after the last publish: published with nothing new, equal
  // to what publishing at every checkpoint ends with; the row is gone.
  clock.now_ms = 999;
  EXPECT_TRUE(h.CheckpointOnly().empty());
  clock.now_ms = 1000;
  facts = h.CheckpointOnly();
  ASSERT_EQ(Keys(facts), std::vector<std::string>{"e1"});
  EXPECT_EQ(facts[0].value, FactsOfPublishingAlways(fed, "e1"));
  EXPECT_FALSE(WaitingRow(h, "e1").has_value());
  EXPECT_EQ(StoredEventsFolded(h, "e1"), 3u);  // written with the facts
  const FactsDeferral published = h.projector()->TakeFactsDeferral();
  EXPECT_EQ(published.waiting, 0u);
  EXPECT_EQ(published.published_after_ms, (std::map<int64_t, uint64_t>{{900, 1}}));
}

TEST_F(FactsIntervalTest, HeldBackFactsArePublishedAfterARestart) {
  Clocked clock;
  Harness h(clock.Options());
  std::vector<Fed> fed = HireAll(h, {"e1", "e2"});
  h.Commit();
  ChangeHeldBack(h, clock, 10, &fed, "e2");
  ASSERT_FALSE(::testing::Test::HasFailure());

  h.Restart();  // a crash after that checkpoint committed
  clock.now_ms = 20;
  const std::vector<FactsRecord> facts = h.CheckpointOnly();
  ASSERT_EQ(Keys(facts), std::vector<std::string>{"e2"});
  EXPECT_EQ(facts[0].value, FactsOfPublishingAlways(fed, "e2"));
  EXPECT_FALSE(WaitingRow(h, "e2").has_value());
}

TEST_F(FactsIntervalTest, AfterAStartAKnownEmployeeWaitsAnIntervalAndANewOneDoesNot) {
  Clocked clock;
  Harness h(clock.Options());
  std::vector<Fed> fed = HireAll(h, {"e1", "e2"});
  std::vector<FactsRecord> facts = h.CheckpointOnly();
  EXPECT_EQ(Keys(facts), (std::vector<std::string>{"e1", "e2"}));  // new: at once
  h.ApplyFacts(facts);

  // A restart: e1 and e2 are known, their facts were published. A change of
  // e1 waits one interval from that change (published at once, every known
  // employee changing in a run's first interval made one storm of facts)...
  h.Restart();
  ChangeHeldBack(h, clock, 10, &fed, "e1");
  // ...while an employee new to the store is still published at once.
  clock.now_ms = 20;
  fed.push_back(HireNow("e3"));
  h.Apply(fed.back());
  facts = h.CheckpointOnly();
  EXPECT_EQ(Keys(facts), std::vector<std::string>{"e3"});
  h.ApplyFacts(facts);
  clock.now_ms = 1009;
  EXPECT_TRUE(h.CheckpointOnly().empty());
  clock.now_ms = 1010;
  facts = h.CheckpointOnly();
  ASSERT_EQ(Keys(facts), std::vector<std::string>{"e1"});
  EXPECT_EQ(facts[0].value, FactsOfPublishingAlways(fed, "e1"));
  EXPECT_FALSE(WaitingRow(h, "e1").has_value());
  EXPECT_EQ(h.projector()->TakeFactsDeferral().published_after_ms,
            (std::map<int64_t, uint64_t>{{1000, 1}}));
}

TEST_F(FactsIntervalTest, ADueWaveIsSpreadOverCheckpointsAndARequestPublishesEverything) {
  Clocked clock;
  Harness h(clock.Options());
  const std::vector<std::string> employees = NumberedIds("w", 150);
  HireAll(h, employees);
  // 150 due at once: at most 64 per checkpoint at this cadence (twice what
  // pays 150 within a second at 10 ms, but never fewer than 64), in
  // employee order, the longest due first.
  std::vector<std::string> published;
  std::vector<size_t> per_checkpoint;
  for (int n = 0; n < 4; ++n) {
    clock.now_ms = 10 * n;
    const std::vector<std::string> keys = Keys(h.CheckpointOnly());
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
    per_checkpoint.push_back(keys.size());
    published.insert(published.end(), keys.begin(), keys.end());
  }
  EXPECT_EQ(per_checkpoint, (std::vector<size_t>{64, 64, 22, 0}));
  std::sort(published.begin(), published.end());
  EXPECT_EQ(published, employees);

  // Everyone changes again within the interval: all wait...
  clock.now_ms = 100;
  for (const std::string& e : employees) h.Apply(NextEvent(e));
  EXPECT_TRUE(h.CheckpointOnly().empty());
  EXPECT_EQ(h.projector()->TakeFactsDeferral().waiting, 150u);
  // ...until the runtime asks for all of them (caught up, revocation, stop).
  clock.now_ms = 110;
  h.projector()->PublishDeferredFactsAtNextCheckpoint();
  const std::vector<FactsRecord> all = h.CheckpointOnly();
  EXPECT_EQ(Keys(all), employees);
  EXPECT_EQ(h.projector()->TakeFactsDeferral().waiting, 0u);
  clock.now_ms = 120;
  EXPECT_TRUE(h.CheckpointOnly().empty());
}

// The facts budget (ProjectorOptions::facts_budget_percent): on a clock
// that moves 1 ms at every reading, a facts record costs ~1 ms to publish,
// so 50% of a 10 ms cadence pays for at most 5 per checkpoint, however long
// the checkpoints run; the rest wait, oldest due first, and end as the
// records publishing at every checkpoint gives.
TEST_F(FactsIntervalTest, DueFactsBeyondTheBudgetWaitEvenWhenCheckpointsRunLong) {
  for (const int32_t percent : {50, 100}) {
    SCOPED_TRACE(::testing::Message() << "budget " << percent << "%");
    int64_t now_ms = 0;
    Harness h(TickingOptions(percent, &now_ms));
    h.projector()->SetCheckpointCadence(10);
    const std::vector<std::string> employees = NumberedIds("b", 150);
    const std::vector<Fed> fed = HireAll(h, employees);
    // 150 due at once (new employees). The first checkpoint has no cost
    // measured yet: the spread rule's 64. Later ones, a second apart, would
    // each publish every due record by that rule; the budget keeps them at
    // what 5 ms pays for.
    std::vector<size_t> per_checkpoint;
    std::map<std::string, std::string> published;
    std::vector<std::string> in_order;  // each checkpoint's keys, in key order
    while (published.size() < employees.size() && per_checkpoint.size() < 200) {
      now_ms += 1000;
      const std::vector<FactsRecord> records = h.CheckpointOnly();
      per_checkpoint.push_back(records.size());
      for (const FactsRecord& record : records) published[record.key] = record.value;
      std::vector<std::string> keys = Keys(records);
      std::sort(keys.begin(), keys.end());
      in_order.insert(in_order.end(), keys.begin(), keys.end());
    }
    // Oldest due first, ties by id: all due together, so in id order (the
    // walk over the waiting ones stops early under a budget; it must still
    // take them from the front).
    EXPECT_EQ(in_order, employees);
    ASSERT_EQ(published.size(), employees.size());
    ASSERT_GE(per_checkpoint.size(), 2u);
    EXPECT_EQ(per_checkpoint[0], 64u);
    if (percent == 100) {
      EXPECT_EQ(per_checkpoint, (std::vector<size_t>{64, 86}));
    } else {
      for (size_t n = 1; n < per_checkpoint.size(); ++n) {
        EXPECT_GE(per_checkpoint[n], 1u) << "checkpoint " << n;
        EXPECT_LE(per_checkpoint[n], 5u) << "checkpoint " << n;
      }
      EXPECT_GT(h.projector()->TakeFactsDeferral().cost_us, 900u);
    }
    for (const std::string& employee : {employees.front(), employees.back()}) {
      EXPECT_EQ(published[employee], FactsOfPublishingAlways(fed, employee)) << employee;
    }
    EXPECT_EQ(h.projector()->TakeFactsDeferral().waiting, 0u);
  }
}

// A budget too small for one record still lets one out per checkpoint (they
// drain), and a request (caught up, revocation, stop) publishes the rest.
// Without a cadence (SetCheckpointCadence never called) the budget does not
// limit: the tests above.
TEST_F(FactsIntervalTest, ABudgetTooSmallForOneRecordLetsOneOutAndARequestPublishesTheRest) {
  int64_t now_ms = 0;
  Harness h(TickingOptions(1, &now_ms));
  h.projector()->SetCheckpointCadence(10);
  HireAll(h, NumberedIds("r", 100));
  EXPECT_EQ(h.CheckpointOnly().size(), 64u);  // no cost measured yet
  now_ms += 1000;
  EXPECT_EQ(h.CheckpointOnly().size(), 1u);  // 0.1 ms pays for none: at least one
  h.projector()->PublishDeferredFactsAtNextCheckpoint();
  EXPECT_EQ(h.CheckpointOnly().size(), 35u);
  EXPECT_EQ(h.projector()->TakeFactsDeferral().waiting, 0u);
}

TEST_F(FactsIntervalTest, AZeroIntervalPublishesAtEveryCheckpoint) {
  Clocked clock;
  Harness h(clock.Options(0));
  h.Apply(reference_);
  h.Apply(HireNow("e1"));
  EXPECT_EQ(h.CheckpointOnly().size(), 1u);
  for (int n = 1; n <= 3; ++n) {
    clock.now_ms = n;
    h.Apply(NextEvent("e1"));
    EXPECT_EQ(h.CheckpointOnly().size(), 1u) << "checkpoint " << n;
    EXPECT_FALSE(WaitingRow(h, "e1").has_value());
  }
}

// A rebuild (unlogged store) holds every facts record, whatever the interval,
// until the runtime asks for them at its end: each employee's facts are then
// built once, from the final state, and go out in batches bounded by the
// facts they hold (the rebuild's state batch spills, so it bounds nothing),
// the employees still dirty at that last checkpoint included.
TEST_F(FactsIntervalTest, ARebuildHoldsEveryFactsRecordUntilItsEndThenPublishesTheFinalOnes) {
  for (const int64_t interval_ms : {int64_t{0}, int64_t{1000}}) {
    SCOPED_TRACE("facts interval " + std::to_string(interval_ms) + " ms");
    Clocked clock;
    ProjectorOptions options = clock.Options(interval_ms);
    options.held_back_publish_batch_bytes = 4096;
    Harness h(options, /*unlogged=*/true);
    const std::vector<std::string> employees = NumberedIds("r", 40);
    std::vector<Fed> fed = HireAll(h, employees);
    EXPECT_TRUE(h.CheckpointOnly().empty());
    EXPECT_EQ(h.projector()->FactsHeldBack(), employees.size());
    EXPECT_TRUE(WaitingRow(h, employees.front()).has_value());
    for (int round = 1; round <= 2; ++round) {
      clock.now_ms += 5000;  // far past any interval: still held
      for (const std::string& e : employees) {
        fed.push_back(NextEvent(e));
        h.Apply(fed.back());
      }
      if (round == 1) {
        EXPECT_TRUE(h.CheckpointOnly().empty());
      }
    }
    // Round 2's events are still dirty when the runtime asks for everything.
    std::map<std::string, std::string> published;
    std::vector<size_t> per_checkpoint;
    while (h.projector()->FactsHeldBack() > 0 && per_checkpoint.size() < 100) {
      h.projector()->PublishDeferredFactsAtNextCheckpoint();
      const std::vector<FactsRecord> facts = h.CheckpointOnly();
      per_checkpoint.push_back(facts.size());
      for (const FactsRecord& record : facts) {
        EXPECT_TRUE(published.emplace(record.key, record.value).second) << "twice: " << record.key;
      }
    }
    EXPECT_GT(per_checkpoint.size(), 2u) << "4 KiB of facts holds a few records per checkpoint";
    EXPECT_EQ(std::count(per_checkpoint.begin(), per_checkpoint.end(), 0), 0);
    ASSERT_EQ(published.size(), employees.size());
    for (const std::string& e : employees) {
      EXPECT_EQ(published[e], FactsOfPublishingAlways(fed, e)) << e;
      EXPECT_FALSE(WaitingRow(h, e).has_value()) << e;
      // Three events folded: the stored snapshot is the final state.
      EXPECT_EQ(StoredEventsFolded(h, e), 3u) << e;
    }
    EXPECT_TRUE(h.CheckpointOnly().empty());
    // A later change waits again, and is published when asked.
    fed.push_back(NextEvent(employees.back()));
    h.Apply(fed.back());
    EXPECT_TRUE(h.CheckpointOnly().empty());
    h.projector()->PublishDeferredFactsAtNextCheckpoint();
    const std::vector<FactsRecord> last = h.CheckpointOnly();
    ASSERT_EQ(Keys(last), std::vector<std::string>{employees.back()});
    EXPECT_EQ(last[0].value, FactsOfPublishingAlways(fed, employees.back()));
  }
}

// A rebuild compacts the families that publishing its held-back facts does
// not write while it publishes them (StateStore::CompactFamiliesEarly): once
// what was read is committed, that publishing leaves them as they are, and
// it does write the families the facts change.
TEST_F(FactsIntervalTest, PublishingARebuildsHeldBackFactsLeavesTheCompleteFamiliesAsTheyAre) {
  Clocked clock;
  Harness h(clock.Options(1000), /*unlogged=*/true);
  const std::vector<std::string> complete = h.projector()->FamiliesCompleteBeforeHeldBackFacts();
  EXPECT_EQ(complete, (std::vector<std::string>{std::string(kJournalFamily),
                                                std::string(kRejectionsFamily)}));
  const std::vector<std::string> employees = NumberedIds("c", 30);
  HireAll(h, employees);
  for (const std::string& e : employees) h.Apply(NextEvent(e));
  EXPECT_TRUE(h.CheckpointOnly().empty());  // what was read, committed; facts held
  auto rows_of = [&](std::string_view family) {
    std::map<std::string, std::string> rows;
    auto it = h.store()->NewIterator(family);
    for (it->SeekToFirst(); it->Valid(); it->Next()) rows[std::string(it->key())] = it->value();
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return rows;
  };
  std::map<std::string, std::map<std::string, std::string>> before;
  for (const std::string& family : complete) before[family] = rows_of(family);
  EXPECT_EQ(before[std::string(kJournalFamily)].size(), 2 * employees.size());
  const auto facts_before = rows_of(kFactsFamily);
  EXPECT_EQ(h.projector()->FactsHeldBack(), employees.size());
  h.Finish();  // what the runtime does at the end of the rebuild
  EXPECT_EQ(h.projector()->FactsHeldBack(), 0u);
  for (const std::string& family : complete) EXPECT_EQ(rows_of(family), before[family]) << family;
  EXPECT_TRUE(facts_before.empty());
  EXPECT_EQ(rows_of(kFactsFamily).size(), employees.size());
}

// A rebuild publishes its held-back facts grouped by the org unit each
// employee's final state is in, then by id (a KPI row belongs to one org
// unit, so the rows of a unit are finished within a few checkpoints instead
// of being evicted and read back for each later member); an employee still
// dirty when the runtime asks goes first. A transfer after the facts were
// first held back moves the employee to its new unit's group.
TEST_F(FactsIntervalTest, ARebuildPublishesItsHeldBackFactsGroupedByOrgUnit) {
  Clocked clock;
  ProjectorOptions options = clock.Options();
  options.held_back_publish_batch_bytes = 1024;
  Harness h(options, /*unlogged=*/true);
  const std::vector<std::string> employees = NumberedIds("g", 20);
  std::vector<Fed> fed = reference_;
  std::map<std::string, std::string> unit_of;
  for (size_t i = 0; i < employees.size(); ++i) {
    t_ += 3600 * kMicrosPerSecond;
    unit_of[employees[i]] = i % 2 == 0 ? "sales" : "dev";
    fed.push_back(f_.Hire(Time(t_), employees[i], unit_of[employees[i]], "m1"));
  }
  h.Apply(fed);
  EXPECT_TRUE(h.CheckpointOnly().empty());
  ASSERT_EQ(h.projector()->FactsHeldBack(), employees.size());
  // Held back already: g000 moves to dev-a, g001 to sales.
  for (const auto& [employee, unit] : {std::pair{"g000", "dev-a"}, std::pair{"g001", "sales"}}) {
    t_ += 3600 * kMicrosPerSecond;
    fed.push_back(f_.Transfer(Time(t_), employee, unit));
    h.Apply(fed.back());
    unit_of[employee] = unit;
  }
  EXPECT_TRUE(h.CheckpointOnly().empty());
  fed.push_back(NextEvent("g019"));  // dirty when the runtime asks
  h.Apply(fed.back());

  std::vector<std::string> published;
  size_t checkpoints = 0;
  while (h.projector()->FactsHeldBack() > 0 && checkpoints < 100) {
    h.projector()->PublishDeferredFactsAtNextCheckpoint();
    for (const std::string& key : Keys(h.CheckpointOnly())) published.push_back(key);
    ++checkpoints;
  }
  EXPECT_GT(checkpoints, 2u) << "1 KiB of facts holds a few records per checkpoint";
  std::vector<std::string> grouped;
  for (const std::string& e : employees) {
    if (e != "g019") grouped.push_back(e);
  }
  std::sort(grouped.begin(), grouped.end(), [&](const std::string& a, const std::string& b) {
    return std::tie(unit_of[a], a) < std::tie(unit_of[b], b);
  });
  grouped.insert(grouped.begin(), "g019");
  EXPECT_EQ(published, grouped);
  for (const char* e : {"g000", "g001", "g019"}) {
    EXPECT_FALSE(WaitingRow(h, e).has_value()) << e;
  }
}

// Facts confirmed later (Projector::SetFactsConfirmedLater, a live runtime
// that commits before its facts are flushed): the batch keeps a waiting row
// for each employee whose facts it published, so a crash before they are
// durable publishes them again after the restart; the row goes once the
// runtime says they are durable, or when later facts are durable first.
TEST_F(FactsIntervalTest, FactsNotYetConfirmedArePublishedAgainAfterARestart) {
  Clocked clock;
  Harness h(clock.Options(0));
  std::vector<Fed> fed = HireAll(h, {"e1", "e2"});
  h.Commit();
  fed.push_back(NextEvent("e1"));
  h.Apply(fed.back());
  h.projector()->SetFactsConfirmedLater(true);
  const std::vector<FactsRecord> lost = h.CheckpointOnly();  // never reaches the log
  ASSERT_EQ(Keys(lost), std::vector<std::string>{"e1"});
  EXPECT_TRUE(WaitingRow(h, "e1").has_value());
  EXPECT_FALSE(WaitingRow(h, "e2").has_value());

  h.Restart();  // a crash before the flush
  const std::vector<FactsRecord> again = h.CheckpointOnly();
  ASSERT_EQ(Keys(again), std::vector<std::string>{"e1"});
  EXPECT_EQ(again[0].value, lost[0].value);
  EXPECT_EQ(again[0].value, FactsOfPublishingAlways(fed, "e1"));
  EXPECT_FALSE(WaitingRow(h, "e1").has_value());  // published durably this time
  h.Restart();
  EXPECT_TRUE(h.CheckpointOnly().empty());
}

TEST_F(FactsIntervalTest, ConfirmedFactsLoseTheirRowAtTheNextCheckpoint) {
  Clocked clock;
  Harness h(clock.Options(0));
  std::vector<Fed> fed = HireAll(h, {"e1", "e2"});
  h.Commit();
  h.projector()->SetFactsConfirmedLater(true);
  h.Apply(NextEvent("e1"));
  ASSERT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e1"});
  const uint64_t e1_published_by = h.checkpoints();
  h.Apply(NextEvent("e2"));
  ASSERT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e2"});

  // Durable through the checkpoint before e1's: nothing to drop.
  h.projector()->OnFactsDurable(e1_published_by - 1);
  EXPECT_TRUE(h.CheckpointOnly().empty());
  EXPECT_TRUE(WaitingRow(h, "e1").has_value());
  // Through e1's: its row goes at the next checkpoint; e2's stays.
  h.projector()->OnFactsDurable(e1_published_by);
  EXPECT_TRUE(WaitingRow(h, "e1").has_value());
  EXPECT_TRUE(h.CheckpointOnly().empty());
  EXPECT_FALSE(WaitingRow(h, "e1").has_value());
  EXPECT_TRUE(WaitingRow(h, "e2").has_value());

  h.Restart();  // only e2's facts were unconfirmed
  EXPECT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e2"});
}

TEST_F(FactsIntervalTest, FactsDurableBeforeTheirBatchEndAnEarlierUnconfirmedRecord) {
  Clocked clock;
  Harness h(clock.Options(0));
  std::vector<Fed> fed = HireAll(h, {"e1"});
  h.Commit();
  h.projector()->SetFactsConfirmedLater(true);
  h.Apply(NextEvent("e1"));
  ASSERT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e1"});
  ASSERT_TRUE(WaitingRow(h, "e1").has_value());
  // The next checkpoint waits for its facts (the runtime's end of a run):
  // they supersede the unconfirmed ones.
  h.projector()->SetFactsConfirmedLater(false);
  h.Apply(NextEvent("e1"));
  ASSERT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e1"});
  EXPECT_FALSE(WaitingRow(h, "e1").has_value());
  h.Restart();
  EXPECT_TRUE(h.CheckpointOnly().empty());
}

TEST_F(FactsIntervalTest, AConfirmedEmployeeHeldBackAgainKeepsItsWaitingRow) {
  Clocked clock;
  Harness h(clock.Options(1000));
  std::vector<Fed> fed = HireAll(h, {"e1"});
  h.projector()->SetFactsConfirmedLater(true);
  ASSERT_EQ(Keys(h.CheckpointOnly()), std::vector<std::string>{"e1"});  // new: due at once
  const uint64_t published_by = h.checkpoints();
  // Changed within the interval: held back, the row now says they wait.
  clock.now_ms = 100;
  fed.push_back(NextEvent("e1"));
  h.Apply(fed.back());
  EXPECT_TRUE(h.CheckpointOnly().empty());
  // The first facts are confirmed; the held-back ones still wait.
  h.projector()->OnFactsDurable(published_by);
  clock.now_ms = 200;
  EXPECT_TRUE(h.CheckpointOnly().empty());
  EXPECT_TRUE(WaitingRow(h, "e1").has_value());
  h.Restart();
  clock.now_ms = 300;
  const std::vector<FactsRecord> facts = h.CheckpointOnly();
  ASSERT_EQ(Keys(facts), std::vector<std::string>{"e1"});
  EXPECT_EQ(facts[0].value, FactsOfPublishingAlways(fed, "e1"));
}

// Asked for every held-back record, a checkpoint takes held-back employees
// only while its batch is under held_back_publish_batch_bytes; the rest go
// out at the checkpoints after, which the runtime asks for while
// FactsHeldBack() says some remain, and they are the same records.
TEST_F(FactsIntervalTest, EverythingHeldBackGoesOutInBatchesOfBoundedSize) {
  Clocked clock;
  ProjectorOptions options = clock.Options();
  options.held_back_publish_batch_bytes = 4096;
  Harness h(options);
  const std::vector<std::string> employees = NumberedIds("b", 40);
  std::vector<Fed> fed = HireAll(h, employees);
  ASSERT_EQ(h.CheckpointOnly().size(), employees.size());  // new: due at once
  clock.now_ms = 100;
  for (const std::string& e : employees) {
    fed.push_back(NextEvent(e));
    h.Apply(fed.back());
  }
  EXPECT_TRUE(h.CheckpointOnly().empty());
  ASSERT_EQ(h.projector()->FactsHeldBack(), employees.size());

  std::map<std::string, std::string> published;
  std::vector<size_t> per_checkpoint;
  while (h.projector()->FactsHeldBack() > 0 && per_checkpoint.size() < 100) {
    h.projector()->PublishDeferredFactsAtNextCheckpoint();
    const std::vector<FactsRecord> facts = h.CheckpointOnly();
    per_checkpoint.push_back(facts.size());
    for (const FactsRecord& record : facts) published[record.key] = record.value;
  }
  EXPECT_GT(per_checkpoint.size(), 2u) << "a 4 KiB bound holds a few states per batch";
  EXPECT_EQ(std::count(per_checkpoint.begin(), per_checkpoint.end(), 0), 0);
  ASSERT_EQ(published.size(), employees.size());
  for (const std::string& e : {employees.front(), employees.back()}) {
    EXPECT_EQ(published[e], FactsOfPublishingAlways(fed, e)) << e;
  }
  for (const std::string& e : employees) EXPECT_FALSE(WaitingRow(h, e).has_value()) << e;
  // Nothing left: a later checkpoint publishes nothing.
  clock.now_ms = 200;
  EXPECT_TRUE(h.CheckpointOnly().empty());
}

}  // namespace
}  // namespace jiritsu::processors::testing
