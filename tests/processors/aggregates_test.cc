// GlobalAggregates replacing an employee's facts record: the KPI rows must
// be those built from the final record alone, whatever rows the two records
// share, at which index, and whatever their lead-time histograms hold; and
// the same whether the older record's rows are reached through its cached
// row pointers (a large cache) or looked up by key (a one-entry cache, which
// evicts everything at each commit). And a new store's reads skipped for
// keys never written change nothing; an employee's first record is kept
// encoded until a replacement decodes it; facts and KPI rows are evicted oldest flush
// first, through records of their age that never outlive their entries.
#include "processors/aggregates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "core/state_store.h"
#include "processors/facts.h"
#include "tests/processors/aggregates_store.h"
#include "tests/testing/subprocess.h"

namespace jiritsu::processors {
namespace {

using testing::ReadFamily;

StateDeltaRow State(const std::string& org, MonthIndex month, int64_t population) {
  StateDeltaRow row;
  row.org_unit = org;
  row.profile = "eng";
  row.month = month;
  row.values[kPopulation] = population;
  return row;
}

PeriodRow Period(const std::string& org, const std::string& period, int64_t interviews,
                 std::vector<std::pair<int64_t, int64_t>> lead_minutes = {}) {
  PeriodRow row;
  row.org_unit = org;
  row.profile = "eng";
  row.period = period;
  row.values[kInterviewsCareer] = interviews;
  row.lead_minutes = std::move(lead_minutes);
  return row;
}

EmployeeFacts Facts(uint64_t events, const std::string& last_id) {
  EmployeeFacts facts;
  facts.employee_id = "e1";
  facts.events_folded = events;
  facts.last_event.id = last_id;
  facts.last_event.source = "hr";
  facts.last_event.time_us = static_cast<int64_t>(events) * 1'000'000;
  facts.last_event_time_us = facts.last_event.time_us;
  return facts;
}

class AggregatesReplaceTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> OpenStore(const std::string& name) {
    return testing::OpenAggregatesStore(dir_.path() + "/" + name);
  }

  // Applies each record in turn to a fresh store (checkpointing after each
  // when `flush_each`) and returns the KPI family.
  std::map<std::string, std::string> KpiRowsAfter(const std::string& name,
                                                  const std::vector<EmployeeFacts>& records,
                                                  bool flush_each) {
    return FamilyAfter(name, records, flush_each, kKpiFamily);
  }
  // The same for any family; with skip_unwritten_ (a new store), the store
  // reads the aggregates skipped are in skipped_reads_.
  std::map<std::string, std::string> FamilyAfter(const std::string& name,
                                                 const std::vector<EmployeeFacts>& records,
                                                 bool flush_each, std::string_view family) {
    auto store = OpenStore(name + "-cache" + std::to_string(cache_entries_) +
                           (skip_unwritten_ ? "-skip" : ""));
    if (!store) return {};
    GlobalAggregates aggregates(store.get(), cache_entries_, cache_bytes_);
    EXPECT_TRUE(aggregates.Load(skip_unwritten_).ok());
    auto flush = [&] {
      StateBatch batch;
      Status flushed = aggregates.Flush(&batch);
      EXPECT_TRUE(flushed.ok()) << flushed.ToString();
      Status written = store->Write(&batch);
      EXPECT_TRUE(written.ok()) << written.ToString();
      aggregates.OnCommitted();
    };
    for (const EmployeeFacts& facts : records) {
      Status applied = aggregates.ApplyFacts(facts.employee_id, EncodeFacts(facts));
      EXPECT_TRUE(applied.ok()) << applied.ToString();
      if (flush_each) flush();
    }
    flush();
    skipped_reads_ = aggregates.skipped_reads();
    return ReadFamily(*store, family);
  }

  jiritsu::testing::TempDir dir_;
  size_t cache_entries_ = 1'000'000;
  size_t cache_bytes_ = SIZE_MAX;
  bool skip_unwritten_ = false;
  uint64_t skipped_reads_ = 0;
};

TEST_F(AggregatesReplaceTest, ReplacedFactsLeaveTheRowsOfTheFinalRecordAlone) {
  // v1 -> v2: a month inserted before the shared ones (every shared row moves
  // one index on), a row dropped, values and lead times changed; v2 -> v3:
  // the same rows at the same indexes with new values, and a lead time
  // cancelled out.
  EmployeeFacts v1 = Facts(3, "ev3");
  v1.state_deltas = {State("dev", 10, 1), State("dev", 11, 0), State("ops", 11, 1)};
  v1.period_rows = {Period("dev", "2025-07", 1, {{30, 1}}), Period("dev", "2025Q3", 1, {{30, 1}}),
                    Period("dev", "FY2025", 1)};
  EmployeeFacts v2 = Facts(5, "ev5");
  v2.state_deltas = {State("dev", 9, 1), State("dev", 10, 0), State("dev", 11, 1)};
  v2.period_rows = {Period("dev", "2025-06", 2), Period("dev", "2025-07", 1, {{30, 1}, {45, 2}}),
                    Period("dev", "2025Q3", 3, {{45, 2}}), Period("dev", "FY2025", 4)};
  EmployeeFacts v3 = Facts(6, "ev6");
  v3.state_deltas = {State("dev", 9, 1), State("dev", 10, 1), State("dev", 11, -1)};
  v3.period_rows = {Period("dev", "2025-06", 2), Period("dev", "2025-07", 0, {{45, 1}}),
                    Period("dev", "2025Q3", 3), Period("dev", "FY2025", 5)};

  for (size_t cache_entries : {size_t{1'000'000}, size_t{1}}) {
    for (bool flush_each : {false, true}) {
      SCOPED_TRACE(flush_each ? "checkpoint after each record" : "one checkpoint");
      SCOPED_TRACE("cache of " + std::to_string(cache_entries) + " entries");
      cache_entries_ = cache_entries;
      const std::string suffix = flush_each ? "-each" : "-once";
      EXPECT_EQ(KpiRowsAfter("replaced" + suffix, {v1, v2}, flush_each),
                KpiRowsAfter("v2-alone" + suffix, {v2}, flush_each));
      const auto replaced_twice =
          KpiRowsAfter("replaced-twice" + suffix, {v1, v2, v3}, flush_each);
      EXPECT_EQ(replaced_twice, KpiRowsAfter("v3-alone" + suffix, {v3}, flush_each));
      // The rows v1 had and v3 does not are gone; the shared ones name ev6.
      EXPECT_EQ(replaced_twice.count(StateRowKey("ops", 11, "eng")), 0u);
      ASSERT_EQ(replaced_twice.count(PeriodRowKey("dev", "2025Q3", "eng")), 1u);
      auto row = DecodeKpiRow(replaced_twice.at(PeriodRowKey("dev", "2025Q3", "eng")));
      ASSERT_TRUE(row.ok()) << row.status().ToString();
      EXPECT_EQ(row->values[kInterviewsCareer], 3);
      EXPECT_TRUE(row->lead_minutes.empty());
      EXPECT_EQ(row->contributors, 1);
      EXPECT_EQ(row->last_changed_by.id, "ev6");
    }
  }
}

TEST_F(AggregatesReplaceTest, AnOlderRecordArrivingLastChangesNothing) {
  EmployeeFacts older = Facts(3, "ev3");
  older.state_deltas = {State("dev", 10, 1)};
  older.period_rows = {Period("dev", "2025-07", 1)};
  EmployeeFacts newer = Facts(5, "ev5");
  newer.state_deltas = {State("dev", 10, 1), State("dev", 11, 1)};
  newer.period_rows = {Period("dev", "2025-07", 2, {{30, 1}})};
  for (size_t cache_entries : {size_t{1'000'000}, size_t{1}}) {
    cache_entries_ = cache_entries;
    EXPECT_EQ(KpiRowsAfter("newer-then-older", {newer, older}, true),
              KpiRowsAfter("newer-alone", {newer}, true));
  }
}

EmployeeFacts OfEmployee(EmployeeFacts facts, const std::string& employee) {
  facts.employee_id = employee;
  return facts;
}

EmployeeFacts InOrgUnit(EmployeeFacts facts, const std::string& org) {
  Attribution attribution;
  attribution.org_unit = org;
  facts.timeline = {attribution};
  return facts;
}

TEST_F(AggregatesReplaceTest, ANewStoreSkipsReadsOfKeysNeverWrittenAndEndsTheSame) {
  // Four employees sharing rows, e1 and e4 replaced: with a one-entry cache
  // every row and record is evicted at each commit and read back later, so
  // a key the new store did not remember would lose what it holds.
  EmployeeFacts v1 = Facts(3, "ev3");
  v1.state_deltas = {State("dev", 10, 1), State("ops", 11, 1)};
  v1.period_rows = {Period("dev", "2025-07", 1, {{30, 1}}), Period("dev", "FY2025", 1)};
  EmployeeFacts v2 = Facts(5, "ev5");
  v2.state_deltas = {State("dev", 9, 1), State("dev", 10, 1)};
  v2.period_rows = {Period("dev", "2025-07", 2, {{45, 2}}), Period("dev", "FY2025", 4)};
  EmployeeFacts other = Facts(4, "ev4");
  other.state_deltas = {State("dev", 10, 1), State("ops", 11, 1)};
  other.period_rows = {Period("dev", "FY2025", 2)};
  const std::vector<EmployeeFacts> records = {InOrgUnit(v1, "dev"),
                                              OfEmployee(other, "e2"),
                                              InOrgUnit(v2, "ops"),
                                              OfEmployee(other, "e3"),
                                              OfEmployee(InOrgUnit(v1, "ops"), "e4"),
                                              OfEmployee(v2, "e4")};
  for (size_t cache_entries : {size_t{1'000'000}, size_t{1}}) {
    for (bool flush_each : {false, true}) {
      SCOPED_TRACE(flush_each ? "checkpoint after each record" : "one checkpoint");
      SCOPED_TRACE("cache of " + std::to_string(cache_entries) + " entries");
      cache_entries_ = cache_entries;
      for (std::string_view family : {kKpiFamily, kFactsFamily, kOrgIndexFamily}) {
        SCOPED_TRACE(std::string(family));
        const std::string name = (flush_each ? "skip-each-" : "skip-once-") + std::string(family);
        skip_unwritten_ = false;
        const auto read_all = FamilyAfter(name, records, flush_each, family);
        EXPECT_EQ(skipped_reads_, 0u);
        skip_unwritten_ = true;
        EXPECT_EQ(FamilyAfter(name, records, flush_each, family), read_all);
        // Each employee's record and each row once: the first miss on it.
        EXPECT_EQ(skipped_reads_, 4u + 5u);
        EXPECT_FALSE(read_all.empty());
      }
    }
  }
}

TEST_F(AggregatesReplaceTest, ANewStoreStopsSkippingWhenTheHashesOutgrowTheirShare) {
  // 16 KiB of cache: the hashes may take 4 KiB, one table of 1 024 slots.
  // The first facts record's is remembered; the rows' table would pass the
  // share, so from there on every miss reads the store.
  EmployeeFacts v1 = Facts(3, "ev3");
  v1.state_deltas = {State("dev", 10, 1), State("ops", 11, 1)};
  v1.period_rows = {Period("dev", "2025-07", 1, {{30, 1}})};
  EmployeeFacts v2 = Facts(5, "ev5");
  v2.state_deltas = {State("dev", 9, 1), State("dev", 10, 1)};
  v2.period_rows = {Period("dev", "2025-07", 2, {{45, 2}})};
  const std::vector<EmployeeFacts> records = {v1, OfEmployee(v1, "e2"), v2};
  cache_bytes_ = 16 << 10;
  for (std::string_view family : {kKpiFamily, kFactsFamily}) {
    SCOPED_TRACE(std::string(family));
    const std::string name = "outgrown-" + std::string(family);
    skip_unwritten_ = false;
    const auto read_all = FamilyAfter(name, records, /*flush_each=*/true, family);
    skip_unwritten_ = true;
    EXPECT_EQ(FamilyAfter(name, records, /*flush_each=*/true, family), read_all);
    EXPECT_EQ(skipped_reads_, 1u);
    EXPECT_FALSE(read_all.empty());
  }
}

TEST_F(AggregatesReplaceTest, AStoreThatHoldsRowsReadsEveryMissEvenWhenAskedToSkip) {
  // With and without a view time stored (a record that folded no event
  // sets none): either way the store is not new.
  for (const uint64_t older_events : {uint64_t{3}, uint64_t{0}}) {
    SCOPED_TRACE("older record folded " + std::to_string(older_events) + " events");
    EmployeeFacts older = Facts(older_events, "ev3");
    older.state_deltas = {State("dev", 10, 1)};
    older.period_rows = {Period("dev", "2025-07", 1)};
    EmployeeFacts newer = Facts(5, "ev5");
    newer.state_deltas = {State("dev", 10, 1), State("dev", 11, 1)};
    newer.period_rows = {Period("dev", "2025-07", 2, {{30, 1}})};
    auto store = OpenStore("holds-rows-" + std::to_string(older_events));
    ASSERT_NE(store, nullptr);
    auto apply_and_commit = [&](const EmployeeFacts& facts, uint64_t* skipped) {
      GlobalAggregates aggregates(store.get(), 1'000'000);
      ASSERT_TRUE(aggregates.Load(/*skip_reads_of_unwritten_keys=*/true).ok());
      ASSERT_TRUE(aggregates.ApplyFacts(facts.employee_id, EncodeFacts(facts)).ok());
      StateBatch batch;
      ASSERT_TRUE(aggregates.Flush(&batch).ok());
      ASSERT_TRUE(store->Write(&batch).ok());
      *skipped = aggregates.skipped_reads();
    };
    uint64_t skipped_new = 0;
    uint64_t skipped_again = 0;
    apply_and_commit(older, &skipped_new);
    std::string view_time;
    EXPECT_EQ(store->Get(kKpiFamily, kViewTimeKey, &view_time).code() == StatusCode::kNotFound,
              older_events == 0);
    // A restarted instance on the same store: the older record and its rows
    // are there, so the replacement must read them.
    apply_and_commit(newer, &skipped_again);
    EXPECT_EQ(skipped_new, 3u);  // e1's record and its two rows
    EXPECT_EQ(skipped_again, 0u);
    EXPECT_EQ(ReadFamily(*store, kKpiFamily),
              KpiRowsAfter("newer-alone-" + std::to_string(older_events), {newer}, true));
  }
}

// The record of employee e<employee> after `events` events: the months,
// periods and org unit it contributes to depend on `events`, so records of
// one employee share some rows and drop others, and employees share rows.
EmployeeFacts RecordAt(int employee, uint64_t events) {
  EmployeeFacts facts =
      Facts(events, "ev" + std::to_string(events) + "-" + std::to_string(employee));
  facts.employee_id = "e" + std::to_string(employee);
  for (MonthIndex month = 0; month < 6; ++month) {
    if ((events + static_cast<uint64_t>(month)) % 3 != 0) {
      facts.state_deltas.push_back(State("dev", month, static_cast<int64_t>(events % 4)));
    }
  }
  for (const char* period : {"2025-07", "2025Q3", "FY2025"}) {
    if ((events + static_cast<uint64_t>(period[5])) % 2 == 0) {
      facts.period_rows.push_back(Period("dev", period, static_cast<int64_t>(events % 5),
                                         {{static_cast<int64_t>(events % 7), 1}}));
    }
  }
  return InOrgUnit(facts, events % 2 == 0 ? "dev" : "ops");
}

TEST_F(AggregatesReplaceTest, AnyCacheSizeEndsWithTheSameTablesAfterManyReplacements) {
  // Twelve employees, each replaced up to five times, in an interleaved
  // order, with a checkpoint after each record: a small cache evicts the
  // oldest flushed facts while newer records of the same employees are
  // flushed again (their older age records stale), and reads them back.
  std::vector<EmployeeFacts> records;
  for (uint64_t round = 1; round <= 5; ++round) {
    for (int employee = 0; employee < 12; ++employee) {
      if ((employee + static_cast<int>(round)) % 4 != 0) {
        records.push_back(RecordAt(employee, round * 10 + static_cast<uint64_t>(employee % 3)));
      }
    }
  }
  std::map<std::string, std::string> reference[3];
  cache_entries_ = 1'000'000;
  for (int f = 0; f < 3; ++f) {
    const std::string_view family = std::array{kKpiFamily, kFactsFamily, kOrgIndexFamily}[f];
    reference[f] = FamilyAfter("many-roomy-" + std::to_string(f), records, true, family);
    EXPECT_FALSE(reference[f].empty());
  }
  for (size_t cache_entries : {size_t{1}, size_t{4}, size_t{12}}) {
    SCOPED_TRACE("cache of " + std::to_string(cache_entries) + " entries");
    cache_entries_ = cache_entries;
    for (int f = 0; f < 3; ++f) {
      const std::string_view family = std::array{kKpiFamily, kFactsFamily, kOrgIndexFamily}[f];
      EXPECT_EQ(FamilyAfter("many-" + std::to_string(cache_entries) + "-" + std::to_string(f),
                            records, true, family),
                reference[f])
          << family;
    }
  }
}

TEST_F(AggregatesReplaceTest, AnEmployeesFirstRecordIsKeptEncodedAndItsReplacementDecoded) {
  auto store = OpenStore("first-encoded");
  ASSERT_NE(store, nullptr);
  GlobalAggregates aggregates(store.get(), 1'000'000);
  ASSERT_TRUE(aggregates.Load().ok());
  const EmployeeFacts first = RecordAt(1, 10);
  EmployeeFacts replacement = first;  // the same rows: no row's charge changes
  replacement.events_folded = 11;
  const std::string first_bytes = EncodeFacts(first);
  const std::string replacement_bytes = EncodeFacts(replacement);
  ASSERT_EQ(first_bytes.size(), replacement_bytes.size());

  // The decoded facts are charged 7.5 times their encoding.
  const size_t decoded_bytes = 15 * first_bytes.size() / 2;
  ASSERT_TRUE(aggregates.ApplyFacts("e1", first_bytes).ok());
  const size_t before_flush = aggregates.cached_bytes();
  StateBatch first_batch;
  ASSERT_TRUE(aggregates.Flush(&first_batch).ok());
  ASSERT_TRUE(store->Write(&first_batch).ok());
  aggregates.OnCommitted();
  const size_t with_first = aggregates.cached_bytes();
  // The decoded first record lived until the flush, and no longer (the
  // flush adds a 16-byte record of the age of the entry and of each row).
  const size_t first_rows = first.state_deltas.size() + first.period_rows.size();
  EXPECT_EQ(before_flush - with_first, decoded_bytes - 16 * (1 + first_rows));
  ASSERT_TRUE(aggregates.ApplyFacts("e1", replacement_bytes).ok());
  const size_t with_replacement = aggregates.cached_bytes();
  // What a replacement adds: its decoded facts, and the row pointers it
  // keeps, 8 bytes each.
  const size_t row_pointers = first_rows * 8;
  EXPECT_EQ(with_replacement - with_first, decoded_bytes + row_pointers);

  // A second employee's first record, then the replacement of the first
  // one's that takes the greatest event off their shared rows: the stale
  // rows are recomputed from e2's record, kept encoded (and not stored yet).
  EmployeeFacts second = RecordAt(1, 10);
  second.employee_id = "e2";
  second.last_event.id = "ev-e2";
  second.last_event.time_us = first.last_event.time_us - 1;  // before e1's
  EmployeeFacts moved = replacement;
  moved.events_folded = 12;
  moved.last_event.time_us = first.last_event.time_us + 1;
  moved.last_event.id = "ev-moved";
  moved.state_deltas.clear();
  moved.period_rows.clear();
  ASSERT_TRUE(aggregates.ApplyFacts("e2", EncodeFacts(second)).ok());
  ASSERT_TRUE(aggregates.ApplyFacts("e1", EncodeFacts(moved)).ok());
  StateBatch batch;
  Status flushed = aggregates.Flush(&batch);
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_EQ(aggregates.stale_recomputations(), 1u);
  ASSERT_TRUE(store->Write(&batch).ok());
  const auto rows = ReadFamily(*store, kKpiFamily);
  ASSERT_GT(rows.size(), 1u);  // the view time and e2's rows
  for (const auto& [key, value] : rows) {
    if (key == kViewTimeKey) continue;
    auto row = DecodeKpiRow(value);
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    EXPECT_EQ(row->contributors, 1) << key;
    EXPECT_EQ(row->last_changed_by.id, "ev-e2") << key;
  }
}

TEST_F(AggregatesReplaceTest, FlushingOneEmployeeOverAndOverKeepsTheCacheBounded) {
  // Under its limits the cache never evicts; each flush still records the
  // age of its facts and of its row. Those records must not pile up (16
  // bytes each per flush): stale ones go once they outnumber the entries
  // twice over, plus 1 024.
  auto store = OpenStore("flushed-over-and-over");
  ASSERT_NE(store, nullptr);
  GlobalAggregates aggregates(store.get(), 1'000'000);
  ASSERT_TRUE(aggregates.Load().ok());
  size_t after_first = 0;
  constexpr uint64_t kFlushes = 5000;
  for (uint64_t events = 1; events <= kFlushes; ++events) {
    EmployeeFacts facts = Facts(events, "ev" + std::to_string(events));
    facts.state_deltas = {State("dev", 10, 1)};
    ASSERT_TRUE(aggregates.ApplyFacts("e1", EncodeFacts(facts)).ok());
    StateBatch batch;
    ASSERT_TRUE(aggregates.Flush(&batch).ok());
    ASSERT_TRUE(store->Write(&batch).ok());
    aggregates.OnCommitted();
    if (events == 1) after_first = aggregates.cached_bytes();
  }
  EXPECT_EQ(aggregates.cached_entries(), 2u);
  // The record's bytes differ by a few digits of its event id; kept, the
  // age records would be 2 * 16 * kFlushes bytes.
  EXPECT_LT(aggregates.cached_bytes(), after_first + 2 * 16 * (1024 + 2 + 1) + 64);
}

TEST_F(AggregatesReplaceTest, KpiRowsAreEvictedOldestFlushFirst) {
  // Two employees' rows, flushed one checkpoint apart, then a cache limit
  // that only half of the older rows fit beside the younger ones. The
  // younger rows must all stay cached: rows written to the store under
  // them afterwards are not read back.
  auto store = OpenStore("rows-by-age");
  ASSERT_NE(store, nullptr);
  constexpr int kRows = 20;
  GlobalAggregates aggregates(store.get(), /*cache_max_entries=*/kRows + kRows / 2);
  ASSERT_TRUE(aggregates.Load().ok());
  auto checkpoint = [&] {
    StateBatch batch;
    ASSERT_TRUE(aggregates.Flush(&batch).ok());
    ASSERT_TRUE(store->Write(&batch).ok());
    aggregates.OnCommitted();
  };
  auto facts_of = [&](const std::string& employee, const std::string& org, uint64_t events) {
    EmployeeFacts facts = Facts(events, "ev-" + employee);
    facts.employee_id = employee;
    for (int month = 0; month < kRows; ++month) facts.state_deltas.push_back(State(org, month, 1));
    return facts;
  };
  ASSERT_TRUE(aggregates.ApplyFacts("old", EncodeFacts(facts_of("old", "unit-old", 1))).ok());
  checkpoint();
  ASSERT_TRUE(aggregates.ApplyFacts("young", EncodeFacts(facts_of("young", "unit-young", 2))).ok());
  checkpoint();  // over the limit: both records and half the old rows go
  EXPECT_EQ(aggregates.cached_entries(), static_cast<size_t>(kRows + kRows / 2));

  // Every stored row of both units now says 100 employees.
  StateBatch tampered;
  for (const std::string org : {"unit-old", "unit-young"}) {
    for (int month = 0; month < kRows; ++month) {
      const std::string key = StateRowKey(org, month, "eng");
      std::string bytes;
      ASSERT_TRUE(store->Get(kKpiFamily, key, &bytes).ok()) << key;
      auto row = DecodeKpiRow(bytes);
      ASSERT_TRUE(row.ok());
      row->values[kPopulation] = 100;
      tampered.Put(kKpiFamily, key, EncodeKpiRow(*row));
    }
  }
  ASSERT_TRUE(store->Write(&tampered).ok());
  // A third employee in both units: a cached row adds to what the cache
  // holds (1 + 1), an evicted one to what it reads back (100 + 1).
  EmployeeFacts probe = facts_of("probe", "unit-young", 3);
  for (int month = 0; month < kRows; ++month)
    probe.state_deltas.push_back(State("unit-old", month, 1));
  std::sort(probe.state_deltas.begin(), probe.state_deltas.end(),
            [](const StateDeltaRow& a, const StateDeltaRow& b) {
              return std::tie(a.org_unit, a.month) < std::tie(b.org_unit, b.month);
            });
  ASSERT_TRUE(aggregates.ApplyFacts("probe", EncodeFacts(probe)).ok());
  checkpoint();
  int old_read_back = 0;
  for (const std::string org : {"unit-old", "unit-young"}) {
    for (int month = 0; month < kRows; ++month) {
      std::string bytes;
      ASSERT_TRUE(store->Get(kKpiFamily, StateRowKey(org, month, "eng"), &bytes).ok());
      auto row = DecodeKpiRow(bytes);
      ASSERT_TRUE(row.ok());
      const int64_t population = row->values[kPopulation];
      if (org == "unit-young") {
        EXPECT_EQ(population, 2) << "month " << month << ": a younger row was evicted";
      } else {
        EXPECT_TRUE(population == 2 || population == 101) << population;
        old_read_back += population == 101 ? 1 : 0;
      }
    }
  }
  EXPECT_EQ(old_read_back, kRows / 2);  // exactly the rows that had to go
}

}  // namespace
}  // namespace jiritsu::processors
