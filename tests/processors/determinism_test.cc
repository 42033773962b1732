// Determinism: the views are a function of the set of events only.
//   * The same events fed in 60 seeded shuffled orders, with checkpoints at
//     random points, give the same Digest() as the sorted feed; so do
//     feeds into an unlogged (rebuild) store, which folds on arrival.
//   * Employees split across two projector instances (each with its own
//     store, both reading every facts record, as through jiritsu.facts) give
//     the same global views (facts, kpi_agg, org_index, reference) as one.
//   * Facts and states written at most once per interval (live runs): the
//     employee views read between two snapshots (state + journal tail) and
//     the final store are those of writing everything at every checkpoint.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "processors/rows.h"
#include "processors/time_util.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

std::string Time(int64_t t) { return FormatTime(t, 540); }

// A seeded, rule-exercising event set: 12 employees over a year, with valid
// and invalid approvals, returns and amendments, transfers, manager changes,
// a programme revision in the middle of the year, duplicates (same record
// twice, and the same event at a second log position).
std::vector<Fed> RichEventSet() {
  EventFactory f;
  std::vector<Fed> events = StandardReference(f);
  events.push_back(f.Program("2025-08-01T00:00:00+09:00", "dx_lit", "dx_literacy",
                             {ProgramStep{1, "basics", {"c-mind", "c-sec", "c-ai"}, false},
                              ProgramStep{2, "practice", {}, true},
                              ProgramStep{3, "mentoring", {}, true}}));
  events.push_back(f.Target("2025-04-01T00:00:00+09:00", "corp", "FY2025", "", "maturity_count", 5));
  const int64_t start = At("2025-04-01T09:00:00+09:00");
  const char* orgs[] = {"dev", "dev-a", "sales"};
  const char* courses[] = {"c-mind", "c-sec", "c-pro", "c-ai"};
  for (int i = 0; i < 12; ++i) {
    std::mt19937 rng(1000 + i);
    const std::string e = "r" + std::to_string(i);
    std::string manager = "m" + std::to_string(i % 3);
    int64_t t = start + i * kMicrosPerDay;
    events.push_back(f.Hire(Time(t), e, orgs[i % 3], manager,
                            i % 2 == 0 ? "dx_literacy" : "dx_promoter"));
    std::vector<std::string> declarations;
    int next_declaration = 0;
    for (int n = 0; n < 28; ++n) {
      t += (1 + rng() % 14) * kMicrosPerDay + (rng() % 600) * 60 * kMicrosPerSecond;
      const std::string at = Time(t);
      const std::string some_declaration =
          declarations.empty() ? "none" : declarations[rng() % declarations.size()];
      switch (rng() % 16) {
        case 0: events.push_back(f.Interview(at, e, static_cast<InterviewKind>(rng() % 3))); break;
        case 1: events.push_back(f.Enroll(at, e, courses[rng() % 4])); break;
        case 2: events.push_back(f.Progress(at, e, courses[rng() % 4], (rng() % 40) / 4.0)); break;
        case 3:
        case 4: events.push_back(f.Complete(at, e, courses[rng() % 4], (rng() % 20) / 4.0, rng() % 5 != 0)); break;
        case 5: events.push_back(f.Certify(at, e, "it_passport")); break;
        case 6: events.push_back(f.SubmitLearningState(at, e, "ls" + std::to_string(n), 1 + rng() % 6)); break;
        case 7:
        case 8: {
          const std::string id = e + "-d" + std::to_string(next_declaration++);
          declarations.push_back(id);
          events.push_back(f.SubmitStep(at, e, id, i % 2 == 0 ? "dx_lit" : "dx_pro", 1 + rng() % 3));
          break;
        }
        case 9: events.push_back(f.Confirm(at, e, some_declaration, rng() % 4 ? manager : "m9")); break;
        case 10: events.push_back(f.Return(at, e, some_declaration, manager)); break;
        case 11: events.push_back(f.Amend(at, e, some_declaration)); break;
        case 12: events.push_back(f.Finalize(at, e, some_declaration, rng() % 5 ? "hr1" : e)); break;
        case 13: events.push_back(f.WithdrawDeclaration(at, e, some_declaration)); break;
        case 14:
          manager = "m" + std::to_string(rng() % 4);
          events.push_back(f.ManagerChange(at, e, manager));
          break;
        case 15: events.push_back(f.Transfer(at, e, orgs[rng() % 3])); break;
      }
    }
    if (i == 7) events.push_back(f.Leave(Time(t + kMicrosPerDay), e));
  }
  // Duplicates: the same record again, and the same event at another position.
  const std::vector<Fed> some(events.begin() + 10, events.begin() + 20);
  events.insert(events.end(), some.begin(), some.end());
  Fed moved = events[30];
  moved.position.offset += 10000;
  events.push_back(moved);
  return events;
}

// Feeds `events` in `order` (reference events wherever they fall) with a
// checkpoint after each event with probability 1/8.
std::string DigestOfFeed(const std::vector<Fed>& events, uint32_t seed, bool unlogged = false) {
  Harness h({}, unlogged);
  std::mt19937 rng(seed);
  for (const Fed& fed : events) {
    h.Apply(fed);
    if (rng() % 8 == 0) h.Commit();
  }
  h.Finish();
  return h.Digest();
}

std::vector<Fed> SortedByEventOrder(std::vector<Fed> events) {
  std::stable_sort(events.begin(), events.end(), [](const Fed& a, const Fed& b) {
    return EventOrderLess(a.event, b.event);
  });
  return events;
}

std::vector<Fed> Shuffled(std::vector<Fed> events, uint32_t seed) {
  std::shuffle(events.begin(), events.end(), std::mt19937(seed));
  return events;
}

TEST(DeterminismTest, ShuffledFeedsGiveTheSameDigest) {
  const std::vector<Fed> events = RichEventSet();
  const std::vector<Fed> sorted = SortedByEventOrder(events);
  const std::string expected = DigestOfFeed(sorted, 1);
  JsonView views(expected);
  // The set must exercise what it claims to: rejections, facts, KPI rows.
  EXPECT_GT(views.Int("/views/rejections/rows"), 5);
  EXPECT_EQ(views.Int("/views/facts/rows"), 12);
  EXPECT_GT(views.Int("/views/kpi_agg/rows"), 20);
  EXPECT_FALSE(views.Has("/views/dlq") && views.Int("/views/dlq/rows") != 0);
  for (uint32_t seed = 0; seed < 60; ++seed) {
    EXPECT_EQ(DigestOfFeed(Shuffled(events, seed), seed), expected) << "seed " << seed;
  }
}

TEST(DeterminismTest, ReferenceFirstThenReverseEmployeeOrder) {
  // The worst case for incremental folding: every employee event arrives
  // before everything that precedes it.
  const std::vector<Fed> events = RichEventSet();
  std::vector<Fed> reversed;
  for (const Fed& fed : events) {
    if (FamilyOf(fed.event.type) == Family::kReference) reversed.push_back(fed);
  }
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    if (FamilyOf(it->event.type) != Family::kReference) reversed.push_back(*it);
  }
  EXPECT_EQ(DigestOfFeed(reversed, 7), DigestOfFeed(events, 8));
}

TEST(DeterminismTest, FoldingOnArrivalOnAnUnloggedStoreGivesTheSameDigest) {
  // A rebuild's store has no WAL: in-order events are folded as they
  // arrive instead of at the checkpoint; late arrivals, voids and
  // duplicates still re-fold from the journal.
  const std::vector<Fed> events = RichEventSet();
  const std::vector<Fed> sorted = SortedByEventOrder(events);
  const std::string expected = DigestOfFeed(sorted, 1);
  EXPECT_EQ(DigestOfFeed(sorted, 1, /*unlogged=*/true), expected);
  EXPECT_EQ(DigestOfFeed(events, 2, /*unlogged=*/true), expected);
  for (uint32_t seed = 0; seed < 20; ++seed) {
    EXPECT_EQ(DigestOfFeed(Shuffled(events, seed), seed, /*unlogged=*/true), expected) << "seed " << seed;
  }
  // The sorted feed was folded on arrival: almost nothing is held as
  // pending events (only the duplicates), unlike on a logged store.
  Harness logged;
  Harness unlogged({}, /*unlogged=*/true);
  logged.Apply(sorted);
  unlogged.Apply(sorted);
  const size_t held_logged = logged.projector()->Memory().uncommitted_bytes;
  const size_t held_unlogged = unlogged.projector()->Memory().uncommitted_bytes;
  EXPECT_GT(held_logged, 100u * 300u);
  EXPECT_LT(held_unlogged * 10, held_logged);
  logged.Finish();
  unlogged.Finish();
  EXPECT_EQ(unlogged.Digest(), logged.Digest());
}

// A rebuild publishes its held-back facts at its end; those of employees the
// cache no longer holds are built on a helper thread from their stored
// states, in publishing order. With a batch bound of a few records, each
// checkpoint stops the helper with facts built past the bound (built again
// at the next one), and the cached employees are published in between.
// Asked to (as a rebuild's runtime with local derived inputs asks), the
// projector applies those facts itself, on a second thread, as it builds
// them, and the runtime no longer hands them back: the same digest. A batch
// that spills as it grows (as a rebuild's does) publishes no facts in the
// runtime's second call of a checkpoint (Harness::Finish fails if it does).
TEST(DeterminismTest, HeldBackFactsBuiltOnAHelperThreadGiveTheSameDigest) {
  const std::vector<Fed> events = RichEventSet();
  const std::string expected = DigestOfFeed(SortedByEventOrder(events), 1);
  for (const bool own_facts : {false, true}) {
    for (const size_t cached : {size_t{2}, size_t{6}}) {
      for (const size_t bound : {size_t{1}, size_t{8} << 10, size_t{64} << 20}) {
        for (const size_t spill : {size_t{0}, size_t{4} << 10}) {
          ProjectorOptions options;
          options.cache_max_employees = cached;
          options.cache_max_rows = own_facts ? 4 : options.cache_max_rows;  // rows read back
          options.held_back_publish_batch_bytes = bound;
          Harness h(options, /*unlogged=*/true);
          h.SpillBatchesAt(spill);
          if (own_facts) {
            ASSERT_TRUE(h.AskToApplyOwnFacts());
          }
          std::mt19937 rng(static_cast<uint32_t>(cached * 31 + bound));
          for (const Fed& fed : Shuffled(events, static_cast<uint32_t>(bound))) {
            h.Apply(fed);
            if (rng() % 8 == 0) h.Commit();
          }
          EXPECT_GT(h.projector()->FactsHeldBack(), cached);
          h.Finish();
          EXPECT_EQ(h.projector()->FactsHeldBack(), 0u);
          EXPECT_EQ(h.Digest(), expected) << cached << " cached, bound " << bound << ", spill "
                                          << spill << (own_facts ? ", own facts" : "");
        }
      }
    }
  }
}

// Employee "a": hired in April with course c-mind passed, then c-sec passed
// in May and step 2 of dx_lit declared. The step needs both courses, so a
// fold that lost either half ends at a different step.
struct CoursesBeforeAndAfter {
  explicit CoursesBeforeAndAfter(EventFactory& f)
      : first_a{f.Hire("2025-04-01T09:00:00+09:00", "a", "dev", "m0", "dx_literacy"),
                f.Enroll("2025-04-02T09:00:00+09:00", "a", "c-mind"),
                f.Complete("2025-04-03T09:00:00+09:00", "a", "c-mind", 2.0, true)},
        later_a{f.Complete("2025-05-01T09:00:00+09:00", "a", "c-sec", 3.0, true),
                f.SubmitStep("2025-05-02T09:00:00+09:00", "a", "a-d1", "dx_lit", 2)} {}
  std::vector<Fed> first_a, later_a;
};

// A live projector's digest of `parts` fed in order (DigestOfFeed).
std::string LiveDigest(const std::vector<std::vector<Fed>>& parts) {
  std::vector<Fed> all;
  for (const std::vector<Fed>& part : parts) all.insert(all.end(), part.begin(), part.end());
  return DigestOfFeed(all, /*seed=*/1);
}

// A rebuild writes an employee's state when its facts are published, or
// earlier when its cache entry is the least recently used of a cache over
// its limits (then evicted): not at every checkpoint. An evicted employee's
// next events continue from the state written back.
TEST(DeterminismTest, ARebuildWritesAStateOnlyWhenPublishedOrWrittenBackForEviction) {
  EventFactory f;
  std::vector<Fed> events = StandardReference(f);
  const CoursesBeforeAndAfter a(f);
  const std::vector<Fed>& first_a = a.first_a;
  const std::vector<Fed>& later_a = a.later_a;
  const std::vector<Fed> first_b = {
      f.Hire("2025-04-01T10:00:00+09:00", "b", "sales", "m1", "dx_promoter"),
      f.Interview("2025-04-04T09:00:00+09:00", "b", InterviewKind::kCareer)};
  ProjectorOptions options;
  options.cache_max_employees = 1;
  Harness rebuild(options, /*unlogged=*/true);
  auto stored = [&](const std::string& employee) {
    std::string bytes;
    const Status s = rebuild.store()->Get(kEmployeeFamily, EmployeeStateKey(employee), &bytes);
    EXPECT_TRUE(s.ok() || s.code() == StatusCode::kNotFound) << s.ToString();
    return s.ok();
  };
  rebuild.Apply(events);
  rebuild.Apply(first_a);
  rebuild.Commit();
  EXPECT_FALSE(stored("a")) << "a cached employee's state written before its facts";
  EXPECT_EQ(rebuild.projector()->Memory().cached_entries, 1u);
  rebuild.Apply(first_b);
  rebuild.Commit();
  EXPECT_TRUE(stored("a")) << "the least recently used state was not written back";
  EXPECT_FALSE(stored("b"));
  EXPECT_EQ(rebuild.projector()->Memory().cached_entries, 1u) << "a was not evicted";
  rebuild.Apply(later_a);  // a is read back from its written state
  rebuild.Commit();
  EXPECT_TRUE(stored("b"));
  rebuild.Finish();
  EXPECT_TRUE(stored("a"));

  EXPECT_EQ(rebuild.Digest(), LiveDigest({events, first_a, first_b, later_a}));
  EXPECT_EQ(JsonView(rebuild.StepStatus("a", "dx_lit")).Int("/programs/0/current_step"), 1);
}

// The projector remembers the entry it looked up last (a grouped batch
// brings one employee's events one after another). When that very entry is
// evicted, the employee's next event must read its written state back.
TEST(DeterminismTest, TheEmployeeLookedUpLastIsReadBackAfterItsEviction) {
  EventFactory f;
  const std::vector<Fed> events = StandardReference(f);
  const CoursesBeforeAndAfter a(f);
  ProjectorOptions options;
  options.cache_max_bytes = 1;  // every entry goes once it is written
  Harness rebuild(options, /*unlogged=*/true);
  rebuild.Apply(events);
  rebuild.Apply(a.first_a);  // "a" is the entry looked up last
  rebuild.Commit();
  EXPECT_EQ(rebuild.projector()->Memory().cached_entries, 0u) << "a was not evicted";
  rebuild.Apply(a.later_a);
  EXPECT_EQ(rebuild.projector()->Memory().cached_entries, 1u)
      << "a's next events went to an entry no longer cached";
  rebuild.Finish();

  EXPECT_EQ(rebuild.Digest(), LiveDigest({events, a.first_a, a.later_a}));
  // c-mind before the eviction and c-sec after it: both count.
  EXPECT_EQ(JsonView(rebuild.StepStatus("a", "dx_lit")).Int("/programs/0/current_step"), 1);
}

// Only a rebuild's projector (an unlogged store) applies its own facts: a
// live one leaves them to the runtime, which reads them back from
// jiritsu.facts like every other instance's.
TEST(DeterminismTest, OnlyARebuildAppliesItsOwnFacts) {
  Harness logged;
  EXPECT_FALSE(logged.AskToApplyOwnFacts());
  Harness unlogged({}, /*unlogged=*/true);
  EXPECT_TRUE(unlogged.AskToApplyOwnFacts());
}

TEST(DeterminismTest, SmallCacheGivesTheSameDigest) {
  const std::vector<Fed> events = RichEventSet();
  ProjectorOptions options;
  options.cache_max_employees = 2;  // constant eviction and reload
  options.cache_max_rows = 4;
  Harness h(options);
  std::mt19937 rng(3);
  std::vector<Fed> shuffled = events;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const Fed& fed : shuffled) {
    h.Apply(fed);
    if (rng() % 4 == 0) h.Commit();
  }
  h.Commit();
  EXPECT_EQ(h.Digest(), DigestOfFeed(events, 9));
}

// The rebuild's prefetch hints (Projector::PrefetchEmployee) read the cache
// and change nothing: hints for every stage, for employees cached, evicted,
// never seen, and under another employee's hash, between the events of a
// rebuild whose small cache evicts constantly, leave the views of a rebuild
// that got none.
TEST(DeterminismTest, PrefetchHintsChangeNoView) {
  const std::vector<Fed> events = RichEventSet();
  ProjectorOptions options;
  options.cache_max_employees = 3;
  Harness hinted(options, /*unlogged=*/true);
  Harness plain(options, /*unlogged=*/true);
  const std::hash<std::string_view> hash;
  std::mt19937 rng(11);
  const std::vector<std::string> keys = {"r0", "r3", "r7", "r11", "nobody", ""};
  for (const Fed& fed : events) {
    for (int hint = 0; hint < 3; ++hint) {
      const std::string& key = keys[rng() % keys.size()];
      const std::string& other = keys[rng() % keys.size()];
      const int stage = static_cast<int>(rng() % 3);
      hinted.projector()->PrefetchEmployee(key, hash(key), stage);
      hinted.projector()->PrefetchEmployee(key, hash(other), stage);  // a hash not the key's
    }
    hinted.Apply(fed);
    plain.Apply(fed);
  }
  hinted.Finish();
  plain.Finish();
  EXPECT_GT(hinted.projector()->Memory().cached_entries, 0u);
  EXPECT_EQ(hinted.Digest(), plain.Digest());
  EXPECT_EQ(hinted.Digest(), DigestOfFeed(events, 12));
}

// Facts held back for an interval, as live runs do
// (ProjectorOptions::facts_interval_ms), with a two-employee cache (held-back
// facts of evicted employees are built from the stored state) and restarts
// after commits (the waiting rows are read back): once the runtime asks for
// every held-back record, the views are those of publishing at every
// checkpoint.
TEST(DeterminismTest, FactsHeldBackForAnIntervalEndInTheSameDigest) {
  const std::vector<Fed> events = RichEventSet();
  int64_t now_ms = 0;
  ProjectorOptions options;
  options.facts_interval_ms = 100;
  options.clock_ms = [&now_ms] { return now_ms; };
  options.cache_max_employees = 2;
  Harness h(options);
  std::mt19937 rng(5);
  uint64_t most_waiting = 0;
  uint64_t published_after_waiting = 0;
  for (const Fed& fed : Shuffled(events, 11)) {
    h.Apply(fed);
    now_ms += 7;
    if (rng() % 4 != 0) continue;
    h.Commit();
    const FactsDeferral deferral = h.projector()->TakeFactsDeferral();
    most_waiting = std::max(most_waiting, deferral.waiting);
    for (const auto& [ms, employees] : deferral.published_after_ms) published_after_waiting += employees;
    if (rng() % 5 == 0) h.Restart();
  }
  h.projector()->PublishDeferredFactsAtNextCheckpoint();
  h.Commit();
  EXPECT_GT(most_waiting, 0u);
  EXPECT_GT(published_after_waiting, 0u);
  EXPECT_EQ(h.Digest(), DigestOfFeed(events, 9));
}

// The private views a query reads between two snapshots of a state (the
// stored state plus its journal tail, journal_tail.h) are those of writing
// every state at every checkpoint: checked at every checkpoint of a shuffled
// feed (late events and voids re-fold, duplicates), with a two-employee cache
// so that states are also read back with their tails.
TEST(DeterminismTest, EmployeeViewsBetweenSnapshotsAreThoseOfTheFullState) {
  const std::vector<Fed> events = RichEventSet();
  std::set<std::string> employees;
  for (const Fed& fed : events) {
    if (FamilyOf(fed.event.type) != Family::kReference) employees.insert(fed.event.subject);
  }
  int64_t now_ms = 0;
  ProjectorOptions held;
  held.facts_interval_ms = 1'000'000;  // states are written once, at the first flush
  held.clock_ms = [&now_ms] { return now_ms; };
  held.cache_max_employees = 2;
  Harness h(held);
  Harness always;
  std::mt19937 rng(8);
  int checkpoints = 0;
  for (const Fed& fed : Shuffled(events, 21)) {
    h.Apply(fed);
    always.Apply(fed);
    ++now_ms;
    if (rng() % 3 != 0) continue;
    h.Commit();
    always.Commit();
    ++checkpoints;
    for (const std::string& e : employees) {
      auto held_status = h.Query().StepStatus(e, std::nullopt);
      auto full_status = always.Query().StepStatus(e, std::nullopt);
      ASSERT_EQ(held_status.status().code(), full_status.status().code()) << e;
      if (held_status.ok()) {
        EXPECT_EQ(*held_status, *full_status) << e << " at checkpoint " << checkpoints;
      }
      auto held_manager = h.Query().ManagerOf(e);
      auto full_manager = always.Query().ManagerOf(e);
      ASSERT_EQ(held_manager.status().code(), full_manager.status().code()) << e;
      if (held_manager.ok()) {
        EXPECT_EQ(*held_manager, *full_manager) << e;
      }
    }
    EXPECT_EQ(Harness::Ok(h.Query().StepDistribution(std::nullopt)),
              Harness::Ok(always.Query().StepDistribution(std::nullopt)))
        << "checkpoint " << checkpoints;
    auto held_reports = h.Query().ReportsByManager();
    auto full_reports = always.Query().ReportsByManager();
    ASSERT_TRUE(held_reports.ok() && full_reports.ok());
    EXPECT_EQ(*held_reports, *full_reports) << "checkpoint " << checkpoints;
  }
  EXPECT_GT(checkpoints, 20);
  // The stored states were behind (the test would not test tails otherwise)...
  size_t behind = 0;
  for (const std::string& e : employees) {
    std::string held_bytes, full_bytes;
    if (!h.store()->Get(kEmployeeFamily, EmployeeStateKey(e), &held_bytes).ok()) continue;
    ASSERT_TRUE(always.store()->Get(kEmployeeFamily, EmployeeStateKey(e), &full_bytes).ok());
    behind += held_bytes != full_bytes;
  }
  EXPECT_GT(behind, 0u);
  // ...and publishing every held-back record writes them: the same store.
  h.projector()->PublishDeferredFactsAtNextCheckpoint();
  h.Commit();
  EXPECT_EQ(h.Digest(), always.Digest());
}

// Two instances sharing one facts topic.
struct Instance {
  Harness harness;
  size_t facts_cursor = 0;
};

void CatchUpFacts(Instance* instance, const std::vector<FactsRecord>& topic) {
  std::vector<FactsRecord> unread(topic.begin() + instance->facts_cursor, topic.end());
  instance->facts_cursor = topic.size();
  instance->harness.ApplyFacts(unread);
}

TEST(DeterminismTest, TwoInstancesHoldTheSameGlobalViewsAsOne) {
  const std::vector<Fed> events = RichEventSet();
  Instance a, b;
  std::vector<FactsRecord> topic;  // jiritsu.facts
  std::mt19937 rng(42);
  std::vector<Fed> shuffled = events;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const Fed& fed : shuffled) {
    const bool reference = FamilyOf(fed.event.type) == Family::kReference;
    // Employees are owned by partition parity; reference data goes to both.
    const bool to_a = reference || fed.position.partition % 2 == 0;
    const bool to_b = reference || fed.position.partition % 2 == 1;
    if (to_a) a.harness.Apply(fed);
    if (to_b) b.harness.Apply(fed);
    for (Instance* instance : {&a, &b}) {
      if (rng() % 10 == 0) {
        for (FactsRecord& record : instance->harness.CheckpointOnly()) topic.push_back(record);
        CatchUpFacts(instance, topic);
      }
    }
  }
  for (Instance* instance : {&a, &b}) {
    for (FactsRecord& record : instance->harness.CheckpointOnly()) topic.push_back(record);
  }
  CatchUpFacts(&a, topic);
  CatchUpFacts(&b, topic);

  Harness one;
  for (const Fed& fed : events) one.Apply(fed);
  one.Commit();

  JsonView da(a.harness.Digest()), db(b.harness.Digest()), d1(one.Digest());
  ASSERT_GT(d1.Int("/views/facts/rows"), 0);
  EXPECT_GT(da.Int("/views/journal/rows"), 0);  // both instances own employees
  EXPECT_GT(db.Int("/views/journal/rows"), 0);
  for (const char* view : {"facts", "kpi_agg", "org_index", "reference"}) {
    const std::string pointer = std::string("/views/") + view + "/digest";
    EXPECT_EQ(da.Str(pointer), d1.Str(pointer)) << view;
    EXPECT_EQ(db.Str(pointer), d1.Str(pointer)) << view;
  }
  // Private views are split, but together they are the single instance's.
  EXPECT_EQ(da.Int("/views/employee/rows") + db.Int("/views/employee/rows"),
            d1.Int("/views/employee/rows"));
  EXPECT_EQ(a.harness.Kpi("corp", "FY2025"), one.Kpi("corp", "FY2025"));
  EXPECT_EQ(b.harness.OrgEngagement("corp"), one.OrgEngagement("corp"));
}

// The projector keeps the facts it just published, decoded, to spare
// decoding them again when they are read back; only a record with exactly
// those bytes may take them. Here an older record of the same employees is
// read back first (a re-delivery) while the newer ones are held.
TEST(DeterminismTest, OnlyTheFactsRecordsReadBackReachTheGlobalViews) {
  const std::vector<Fed> events = RichEventSet();
  const size_t half = events.size() / 2;
  Harness h, first_half, all;
  all.Apply(events);
  all.Commit();
  for (size_t i = 0; i < events.size(); ++i) {
    h.Apply(events[i]);
    first_half.Apply(events[i]);
    if (i + 1 == half) {
      const std::vector<FactsRecord> first = h.CheckpointOnly();
      h.ApplyFacts(first);
      first_half.Commit();
      for (size_t j = half; j < events.size(); ++j) h.Apply(events[j]);
      const std::vector<FactsRecord> second = h.CheckpointOnly();  // held, not read back yet
      ASSERT_FALSE(second.empty());
      h.ApplyFacts(first);  // changes nothing
      JsonView dh(h.Digest()), d1(first_half.Digest());
      for (const char* view : {"facts", "kpi_agg", "org_index"}) {
        const std::string pointer = std::string("/views/") + view + "/digest";
        EXPECT_EQ(dh.Str(pointer), d1.Str(pointer)) << view;
      }
      EXPECT_EQ(h.Kpi("corp", "FY2025"), first_half.Kpi("corp", "FY2025"));
      h.ApplyFacts(second);
      break;
    }
  }
  EXPECT_EQ(h.Digest(), all.Digest());
}

TEST(DeterminismTest, RedeliveredFactsChangeNothing) {
  const std::vector<Fed> events = RichEventSet();
  Harness h;
  std::vector<FactsRecord> all;
  size_t half = events.size() / 2;
  for (size_t i = 0; i < events.size(); ++i) {
    h.Apply(events[i]);
    if (i == half) {
      for (auto& r : h.CheckpointOnly()) all.push_back(r);
      h.ApplyFacts(all);
    }
  }
  for (auto& r : h.CheckpointOnly()) all.push_back(r);
  h.ApplyFacts(all);
  const std::string digest = h.Digest();
  // After a crash the facts topic is read again, old records included, in
  // any order: the global tables converge to the same content.
  std::vector<FactsRecord> replay = all;
  std::shuffle(replay.begin(), replay.end(), std::mt19937(5));
  h.ApplyFacts(replay);
  EXPECT_EQ(h.Digest(), digest);
}

}  // namespace
}  // namespace jiritsu::processors::testing
