// The byte-bounded caches (ProjectorOptions::cache_max_bytes,
// aggregates_cache_max_bytes; core/memory_budget.h): they evict above their
// budget, report uncommitted bytes until a checkpoint, and never change a
// view.
#include <gtest/gtest.h>

#include "processors/aggregates.h"
#include "processors/rows.h"
#include "processors/time_util.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

std::string Time(int64_t t) { return FormatTime(t, 540); }

// `employees` employees with `events_each` learning and interview events
// each, grouped by employee (the order a partition-by-employee log gives).
std::vector<Fed> Workload(int employees, int events_each) {
  EventFactory f;
  std::vector<Fed> events = StandardReference(f);
  const int64_t start = At("2025-04-01T09:00:00+09:00");
  const char* orgs[] = {"dev", "dev-a", "sales"};
  const char* courses[] = {"c-mind", "c-sec", "c-pro", "c-ai"};
  for (int i = 0; i < employees; ++i) {
    const std::string e = "mem" + std::to_string(i);
    int64_t t = start + (i % 30) * kMicrosPerDay;
    events.push_back(f.Hire(Time(t), e, orgs[i % 3], "m1"));
    for (int n = 0; n < events_each; ++n) {
      t += kMicrosPerDay + n * 60 * kMicrosPerSecond;
      const std::string course = courses[(i + n) % 4];
      switch (n % 4) {
        case 0: events.push_back(f.Enroll(Time(t), e, course)); break;
        case 1: events.push_back(f.Progress(Time(t), e, course, 1.5)); break;
        case 2: events.push_back(f.Complete(Time(t), e, course, 2.0)); break;
        case 3: events.push_back(f.Interview(Time(t), e, InterviewKind::kOneOnOne)); break;
      }
    }
  }
  return events;
}

// Feeds `events`, committing every `commit_every` events; checks the cache
// against the limits after each commit.
std::string FeedAndCheck(Harness* h, const std::vector<Fed>& events, size_t commit_every,
                         const ProjectorOptions& options, uint64_t* max_entries) {
  *max_entries = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    h->Apply(events[i]);
    if ((i + 1) % commit_every != 0) continue;
    h->Commit();
    const ProjectorMemory memory = h->projector()->Memory();
    // Everything is committed: nothing is pinned, so both caches are within
    // their byte limits.
    EXPECT_EQ(memory.uncommitted_bytes, 0u) << "after event " << i;
    EXPECT_LE(memory.cached_bytes, options.cache_max_bytes + options.aggregates_cache_max_bytes)
        << "after event " << i;
    *max_entries = std::max(*max_entries, memory.cached_entries);
  }
  h->Commit();
  return h->Digest();
}

TEST(MemoryTest, CachesStayWithinTheirByteBudgetAndViewsDoNotChange) {
  const std::vector<Fed> events = Workload(/*employees=*/150, /*events_each=*/40);

  ProjectorOptions large;  // defaults: hundreds of MiB, everything stays cached
  Harness reference(large);
  uint64_t large_entries = 0;
  const std::string expected = FeedAndCheck(&reference, events, 500, large, &large_entries);

  ProjectorOptions tiny;
  tiny.cache_max_bytes = 64 << 10;
  tiny.aggregates_cache_max_bytes = 16 << 10;
  Harness bounded(tiny);
  uint64_t tiny_entries = 0;
  EXPECT_EQ(FeedAndCheck(&bounded, events, 500, tiny, &tiny_entries), expected);

  // The limit is what evicted: the default budget kept every employee and
  // row; the tiny one far fewer.
  EXPECT_GE(large_entries, 150u);
  EXPECT_LT(tiny_entries * 3, large_entries);
  EXPECT_GT(bounded.projector()->Memory().cached_bytes, 0u);
}

TEST(MemoryTest, DirtyStatesWithinHalfTheCacheShareAreNotUncommittedOverflowIs) {
  // Dirty states pinned in a cache that has room for them need no early
  // checkpoint; only pending events and what overflows half the share do.
  const std::vector<Fed> events = Workload(/*employees=*/40, /*events_each=*/30);
  ProjectorOptions roomy;
  ProjectorOptions tight;
  tight.cache_max_bytes = 1;
  Harness with_room(roomy);
  Harness without_room(tight);
  for (const Fed& fed : events) {
    with_room.Apply(fed);
    without_room.Apply(fed);
  }
  const ProjectorMemory roomy_memory = with_room.projector()->Memory();
  const ProjectorMemory tight_memory = without_room.projector()->Memory();
  EXPECT_GT(roomy_memory.uncommitted_bytes, 40u * 30u * 100u);  // the pending events
  EXPECT_LT(roomy_memory.uncommitted_bytes, roomy_memory.cached_bytes);
  // Same states and events; in the 1-byte cache the dirty states overflow
  // the share and count too.
  EXPECT_EQ(roomy_memory.cached_bytes, tight_memory.cached_bytes);
  EXPECT_GT(tight_memory.uncommitted_bytes, roomy_memory.uncommitted_bytes);
  // Only half the share is free for dirty states: with a share exactly as
  // large as the dirty states, the other half counts as uncommitted.
  const size_t dirty_states = tight_memory.uncommitted_bytes - roomy_memory.uncommitted_bytes;
  ProjectorOptions exact;
  exact.cache_max_bytes = dirty_states;
  Harness exact_share(exact);
  for (const Fed& fed : events) exact_share.Apply(fed);
  EXPECT_EQ(exact_share.projector()->Memory().uncommitted_bytes,
            roomy_memory.uncommitted_bytes + (dirty_states - dirty_states / 2));
  with_room.Commit();
  without_room.Commit();
  exact_share.Commit();
  EXPECT_EQ(with_room.projector()->Memory().uncommitted_bytes, 0u);
  EXPECT_EQ(with_room.Digest(), without_room.Digest());
  EXPECT_EQ(with_room.Digest(), exact_share.Digest());
}

TEST(MemoryTest, UncommittedBytesGrowWithPendingEventsAndCheckpointReleasesThem) {
  const std::vector<Fed> events = Workload(/*employees=*/20, /*events_each=*/30);
  ProjectorOptions options;
  options.cache_max_bytes = 1;  // evict everything evictable
  options.aggregates_cache_max_bytes = 1;
  Harness h(options);
  uint64_t previous = 0;
  for (const Fed& fed : events) {
    h.Apply(fed);
    const ProjectorMemory memory = h.projector()->Memory();
    // Dirty entries are never evicted: they are all still cached.
    EXPECT_GE(memory.uncommitted_bytes, previous);
    EXPECT_GE(memory.cached_bytes, memory.uncommitted_bytes);
    previous = memory.uncommitted_bytes;
  }
  EXPECT_GT(previous, 20u * 30u * 100u);  // estimates grow with every event
  h.Commit();
  const ProjectorMemory after = h.projector()->Memory();
  EXPECT_EQ(after.uncommitted_bytes, 0u);
  EXPECT_EQ(after.cached_entries, 0u);  // limits of 1 byte: all evicted once committed
  EXPECT_EQ(after.cached_bytes, 0u);

  // Reloading every employee from the store gives the same views as a
  // projector that kept them.
  Harness kept;
  kept.Apply(events);
  kept.Commit();
  // A second batch touching every (evicted) employee again.
  for (const Fed& fed : Workload(20, 32)) h.Apply(fed);
  for (const Fed& fed : Workload(20, 32)) kept.Apply(fed);
  h.Commit();
  kept.Commit();
  EXPECT_EQ(h.Digest(), kept.Digest());
}

// A live run's start (ProjectorOptions::warm_cache_percent): the projector
// fills a share of its caches from the store before the first event.

// Workload(kWarmEmployees, 8) in two parts: the reference data and each
// employee's hire and first four events, then each employee's last four.
constexpr int kWarmEmployees = 30;
std::pair<std::vector<Fed>, std::vector<Fed>> WarmWorkloadParts() {
  const std::vector<Fed> events = Workload(kWarmEmployees, 8);
  const size_t employee_events = static_cast<size_t>(kWarmEmployees) * 9;
  const size_t reference = events.size() - employee_events;
  std::vector<Fed> first(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(reference));
  std::vector<Fed> second;
  for (size_t i = reference; i < events.size(); ++i) {
    ((i - reference) % 9 < 5 ? first : second).push_back(events[i]);
  }
  return {first, second};
}

// Employee states only: a warm start of half of a 10-employee cache, and no
// share for the facts and KPI rows (cache_max_rows 0).
ProjectorOptions WarmStatesOnly(int32_t percent) {
  ProjectorOptions options;
  options.warm_cache_percent = percent;
  options.cache_max_employees = 10;
  options.cache_max_rows = 0;
  return options;
}

// Opens a new projector on `h`'s store, as a restart does.
Status OpenAnother(Harness& h, const ProjectorOptions& options, ProjectorMemory* memory) {
  std::unique_ptr<Projector> projector = NewJiritsuProjector(options);
  Status opened = projector->Open(h.store());
  *memory = projector->Memory();
  projector->Close();
  return opened;
}

void PutRow(Harness& h, std::string_view family, const std::string& key, const std::string& value) {
  StateBatch batch;
  batch.Put(family, key, value);
  ASSERT_TRUE(h.store()->Write(&batch).ok());
}

TEST(WarmStartTest, ARestartCachesTheLatestEmployeesAndChangesNoView) {
  const auto [first, second] = WarmWorkloadParts();
  // The same feed with a restart between the parts: warm, cold, and none.
  std::map<int32_t, std::string> digests;
  for (const int32_t percent : {50, 0}) {
    Harness h(WarmStatesOnly(percent));
    h.Apply(first);
    h.Commit();
    h.Restart();
    // Half of 10: the 5 employees whose last events are the latest (here the
    // last 5 hired; a cold start reads none).
    EXPECT_EQ(h.projector()->Memory().cached_entries, percent == 0 ? 0u : 5u);
    h.Apply(second);
    h.Commit();
    digests[percent] = h.Digest();
  }
  Harness unbroken(WarmStatesOnly(0));
  unbroken.Apply(first);
  unbroken.Commit();
  unbroken.Apply(second);
  unbroken.Commit();
  EXPECT_EQ(digests[50], unbroken.Digest());
  EXPECT_EQ(digests[0], unbroken.Digest());
}

// Which states the warm start reads shows in what a bad one does to it: the
// oldest employee's is never read, the latest one's fails the start as the
// miss of its first event would, and an older format is left for that miss
// to re-fold (a warm start never re-folds).
TEST(WarmStartTest, AnUnreadableLatestStateFailsTheStartWithItsEmployee) {
  const auto [first, second] = WarmWorkloadParts();
  Harness h(WarmStatesOnly(50));
  h.Apply(first);
  h.Commit();
  const std::string oldest = "mem0";
  const std::string latest = "mem" + std::to_string(kWarmEmployees - 1);
  const std::string unreadable =
      std::string(1, static_cast<char>(kEmployeeStateFormat)) + "\xff\xff";
  ProjectorMemory memory;

  PutRow(h, kEmployeeFamily, EmployeeStateKey(oldest), unreadable);
  ASSERT_TRUE(OpenAnother(h, WarmStatesOnly(50), &memory).ok());
  EXPECT_EQ(memory.cached_entries, 5u);

  PutRow(h, kEmployeeFamily, EmployeeStateKey(latest), unreadable);
  Status failed = OpenAnother(h, WarmStatesOnly(50), &memory);
  EXPECT_EQ(failed.code(), StatusCode::kCorruption) << failed.ToString();
  EXPECT_NE(failed.ToString().find("employee " + latest), std::string::npos) << failed.ToString();
  EXPECT_TRUE(OpenAnother(h, WarmStatesOnly(0), &memory).ok());  // a cold start reads none

  PutRow(h, kEmployeeFamily, EmployeeStateKey(latest), std::string(1, '\x01') + "old");
  ASSERT_TRUE(OpenAnother(h, WarmStatesOnly(50), &memory).ok());
  EXPECT_EQ(memory.cached_entries, 4u);
}

// The facts and KPI rows are warmed too (rows first), within their share;
// an undecodable row fails the start with its key, as its first use would.
TEST(WarmStartTest, KpiRowsAndFactsAreWarmedWithinTheirShare) {
  const auto [first, second] = WarmWorkloadParts();
  ProjectorOptions options;
  options.cache_max_employees = 0;  // no share for states: only the aggregates
  Harness h(options);
  h.Apply(first);
  h.Commit();
  size_t rows = 0;
  auto it = h.store()->NewIterator(kKpiFamily);
  for (it->SeekToFirst(); it->Valid(); it->Next()) rows += it->key() != kViewTimeKey;
  ASSERT_GT(rows, 4u);
  ProjectorMemory memory;
  for (const int32_t percent : {100, 0}) {
    options.warm_cache_percent = percent;
    ASSERT_TRUE(OpenAnother(h, options, &memory).ok());
    // Every row and every employee's facts record, or nothing.
    EXPECT_EQ(memory.cached_entries, percent == 0 ? 0u : rows + kWarmEmployees) << percent;
  }
  options.warm_cache_percent = 100;
  options.cache_max_rows = 4;  // a share of 4 entries: rows only
  ASSERT_TRUE(OpenAnother(h, options, &memory).ok());
  EXPECT_EQ(memory.cached_entries, 4u);

  it->SeekToFirst();
  if (it->Valid() && it->key() == kViewTimeKey) it->Next();
  ASSERT_TRUE(it->Valid());
  const std::string bad_key(it->key());
  PutRow(h, kKpiFamily, bad_key, "\x7f");
  Status failed = OpenAnother(h, options, &memory);
  EXPECT_EQ(failed.code(), StatusCode::kCorruption) << failed.ToString();
  EXPECT_NE(failed.ToString().find("kpi_agg row"), std::string::npos) << failed.ToString();
  options.warm_cache_percent = 0;
  EXPECT_TRUE(OpenAnother(h, options, &memory).ok());
}

}  // namespace
}  // namespace jiritsu::processors::testing
