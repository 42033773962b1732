// FactsApplier: a rebuild's facts applied on a second thread must leave the
// aggregates exactly as applying them on the calling thread does, in the
// order handed in (a later record of an employee replaces an earlier one),
// whatever the queue bound; a store error stops the applying and is
// returned; an applier destroyed unfinished leaves the aggregates to the
// caller.
#include "processors/facts_applier.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/state_store.h"
#include "processors/aggregates.h"
#include "processors/facts.h"
#include "tests/processors/aggregates_store.h"
#include "tests/testing/subprocess.h"

namespace jiritsu::processors {
namespace {

using testing::ReadFamily;

// Employee `employee`'s facts after `events` events: a state row per month
// up to `months` and a period row, in org `org`.
EmployeeFacts Facts(const std::string& employee, uint64_t events, const std::string& org,
                    int months) {
  EmployeeFacts facts;
  facts.employee_id = employee;
  facts.events_folded = events;
  facts.last_event.source = "hr";
  facts.last_event.id = employee + "-" + std::to_string(events);
  facts.last_event.time_us = static_cast<int64_t>(events) * 1'000'000;
  facts.last_event_time_us = facts.last_event.time_us;
  for (MonthIndex month = 0; month < months; ++month) {
    StateDeltaRow row;
    row.org_unit = org;
    row.profile = "eng";
    row.month = month;
    row.values[kPopulation] = 1;
    facts.state_deltas.push_back(row);
  }
  PeriodRow period;
  period.org_unit = org;
  period.profile = "eng";
  period.period = "FY2025";
  period.values[kInterviewsCareer] = static_cast<int64_t>(events);
  period.lead_minutes = {{60 * static_cast<int64_t>(events), 1}};
  facts.period_rows.push_back(period);
  Attribution attribution;
  attribution.employed = true;
  attribution.org_unit = org;
  attribution.profile = "eng";
  facts.timeline.push_back(attribution);
  return facts;
}

// Forty employees in four orgs, then newer records of every third one (some
// moved to another org): replacements among the first applications.
std::vector<EmployeeFacts> Records() {
  std::vector<EmployeeFacts> records;
  for (int i = 0; i < 40; ++i) {
    records.push_back(Facts("e" + std::to_string(i), 3, "org" + std::to_string(i % 4), 1 + i % 5));
  }
  for (int i = 0; i < 40; i += 3) {
    records.push_back(Facts("e" + std::to_string(i), 7, "org" + std::to_string((i + 1) % 4), 6));
  }
  return records;
}

class FactsApplierTest : public ::testing::Test {
 protected:
  std::unique_ptr<StateStore> OpenStore(const std::string& name) {
    return testing::OpenAggregatesStore(dir_.path() + "/" + name);
  }

  // The facts, KPI and org-index families after applying `records` to a new
  // store, on this thread (max_queued 0) or through an applier.
  std::map<std::string, std::map<std::string, std::string>> FamiliesAfter(
      const std::string& name, const std::vector<EmployeeFacts>& records, size_t max_queued) {
    auto store = OpenStore(name);
    if (!store) return {};
    GlobalAggregates aggregates(store.get(), 1'000'000);
    EXPECT_TRUE(aggregates.Load(/*skip_reads_of_unwritten_keys=*/true).ok());
    if (max_queued == 0) {
      for (const EmployeeFacts& facts : records) {
        Status applied = aggregates.ApplyDecodedFacts(facts.employee_id, EncodeFacts(facts), facts);
        EXPECT_TRUE(applied.ok()) << applied.ToString();
      }
    } else {
      FactsApplier applier(&aggregates, max_queued);
      for (const EmployeeFacts& facts : records) {
        Status queued = applier.Apply(facts.employee_id, EncodeFacts(facts), facts);
        EXPECT_TRUE(queued.ok()) << queued.ToString();
      }
      Status finished = applier.Finish();
      EXPECT_TRUE(finished.ok()) << finished.ToString();
    }
    StateBatch batch;
    EXPECT_TRUE(aggregates.Flush(&batch).ok());
    EXPECT_TRUE(store->Write(&batch).ok());
    std::map<std::string, std::map<std::string, std::string>> families;
    for (std::string_view family : {kFactsFamily, kKpiFamily, kOrgIndexFamily}) {
      families[std::string(family)] = ReadFamily(*store, family);
    }
    return families;
  }

  jiritsu::testing::TempDir dir_;
};

TEST_F(FactsApplierTest, EndsAsApplyingOnTheCallingThreadWhateverTheQueueBound) {
  const std::vector<EmployeeFacts> records = Records();
  const auto direct = FamiliesAfter("direct", records, 0);
  ASSERT_EQ(direct.size(), 3u);
  EXPECT_EQ(direct.at(std::string(kFactsFamily)).size(), 40u);
  EXPECT_FALSE(direct.at(std::string(kKpiFamily)).empty());
  EXPECT_EQ(direct.at(std::string(kOrgIndexFamily)).size(), 40u);
  // One at a time (Apply waits for the worker at each record), and all at once.
  EXPECT_EQ(FamiliesAfter("one-queued", records, 1), direct);
  EXPECT_EQ(FamiliesAfter("all-queued", records, 1000), direct);
}

TEST_F(FactsApplierTest, AnOlderRecordHandedInLastIsTheOneThatLoses) {
  // Order matters only through FactsNewer: the newer record of e0 wins
  // whether it comes first or last, as on the calling thread.
  std::vector<EmployeeFacts> newer_last = {Facts("e0", 3, "org0", 2), Facts("e0", 9, "org1", 4)};
  std::vector<EmployeeFacts> newer_first = {newer_last[1], newer_last[0]};
  const auto expected = FamiliesAfter("direct", {newer_last[1]}, 0);
  EXPECT_EQ(FamiliesAfter("newer-last", newer_last, 4), expected);
  EXPECT_EQ(FamiliesAfter("newer-first", newer_first, 4), expected);
}

TEST_F(FactsApplierTest, AnUndecodableStoredRowStopsTheApplyingAndIsReturned) {
  auto store = OpenStore("corrupt");
  ASSERT_NE(store, nullptr);
  // A stored KPI row that e0's facts add to, not a row this build can read.
  const EmployeeFacts first = Facts("e0", 3, "org0", 1);
  StateBatch batch;
  batch.Put(kKpiFamily, PeriodRowKey("org0", "FY2025", "eng"), "\xff not a kpi row");
  ASSERT_TRUE(store->Write(&batch).ok());
  GlobalAggregates aggregates(store.get(), 1'000'000);
  ASSERT_TRUE(aggregates.Load().ok());
  FactsApplier applier(&aggregates, 1);
  ASSERT_TRUE(applier.Apply(first.employee_id, EncodeFacts(first), first).ok());
  const EmployeeFacts second = Facts("e1", 3, "org1", 1);
  Status later = applier.Apply(second.employee_id, EncodeFacts(second), second);
  Status finished = applier.Finish();
  EXPECT_EQ(finished.code(), StatusCode::kCorruption) << finished.ToString();
  EXPECT_NE(finished.message().find("applying the facts of e0"), std::string::npos)
      << finished.ToString();
  // Queued before or after the failure: either accepted (and dropped) or
  // refused with the same error, never applied after it.
  if (!later.ok()) {
    EXPECT_EQ(later.code(), StatusCode::kCorruption);
  }
  // Apply after the failure is refused (the caller's checkpoint fails, its
  // batch is never written).
  Status refused = applier.Apply(second.employee_id, EncodeFacts(second), second);
  EXPECT_EQ(refused.code(), StatusCode::kCorruption) << refused.ToString();
}

TEST_F(FactsApplierTest, DestroyedUnfinishedItLeavesTheAggregatesToTheCaller) {
  auto store = OpenStore("dropped");
  ASSERT_NE(store, nullptr);
  GlobalAggregates aggregates(store.get(), 1'000'000);
  ASSERT_TRUE(aggregates.Load(true).ok());
  {
    FactsApplier applier(&aggregates, 2);
    for (const EmployeeFacts& facts : Records()) {
      ASSERT_TRUE(applier.Apply(facts.employee_id, EncodeFacts(facts), facts).ok());
    }
  }  // stopped: some applied, the rest dropped
  // The caller's thread owns the aggregates again (TSan checks the hand-over).
  const EmployeeFacts last = Facts("e99", 5, "org9", 2);
  ASSERT_TRUE(aggregates.ApplyDecodedFacts(last.employee_id, EncodeFacts(last), last).ok());
  StateBatch batch;
  ASSERT_TRUE(aggregates.Flush(&batch).ok());
  ASSERT_TRUE(store->Write(&batch).ok());
  const auto facts = ReadFamily(*store, kFactsFamily);
  EXPECT_EQ(facts.count("e99"), 1u);
  EXPECT_LE(facts.size(), 41u);
}

}  // namespace
}  // namespace jiritsu::processors
