// The audit trail of the global rows (issue 6): KPI rows, engagement facts,
// org roll-ups and reference rows record the event that last changed them,
// and that event depends only on the events, never on arrival order, on how
// many intermediate facts versions a checkpoint cadence published, on cache
// evictions or on restarts.
#include <gtest/gtest.h>

#include <algorithm>

#include "processors/aggregates.h"
#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

std::string OrgUnitOf(Harness& h) {
  auto result = h.Query().OrgUnit("dev");
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : "{}";
}

class GlobalAuditTrailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reference_ = StandardReference(f_);
    // Employee a joins dev-a on April 2nd and is quiet afterwards; e joins
    // dev-a on April 1st and completes a course in May, so e's last event
    // is the latest of dev-a's April population row until e's transfer on
    // April 20th (dated before that completion) shows up late: then e no
    // longer contributes to that row (hired and left dev-a within April).
    hire_a_ = f_.Hire("2025-04-02T09:00:00+09:00", "a", "dev-a", "m1");
    hire_e_ = f_.Hire("2025-04-01T09:00:00+09:00", "e", "dev-a", "m1");
    course_e_ = f_.Complete("2025-05-10T10:00:00+09:00", "e", "c-mind", 2);
    transfer_e_ = f_.Transfer("2025-04-20T09:00:00+09:00", "e", "sales");
  }

  std::vector<Fed> All() const {
    std::vector<Fed> all = reference_;
    for (const Fed& fed : {hire_a_, hire_e_, course_e_, transfer_e_}) all.push_back(fed);
    return all;
  }

  EventFactory f_;
  std::vector<Fed> reference_;
  Fed hire_a_, hire_e_, course_e_, transfer_e_;
};

TEST_F(GlobalAuditTrailTest, KpiRowNamesTheLatestEventOfItsContributors) {
  Harness h;
  h.Apply(reference_);
  h.Apply({hire_a_, hire_e_, course_e_});
  h.Commit();
  // dev-a's April population: a and e; e's last event (the May course) is
  // the latest of the two.
  JsonView before(h.Kpi("dev-a", "2025-04"));
  EXPECT_EQ(before.Int("/own/population"), 2);
  EXPECT_EQ(before.Str("/own/last_changed_by/id"), course_e_.event.id);
  EXPECT_EQ(before.Str("/own/last_changed_by/type"), "learning.completed");
  EXPECT_EQ(before.Str("/own/last_changed_by/topic"), "jiritsu.learning");
  EXPECT_EQ(before.Int("/own/last_changed_by/offset"), course_e_.position.offset);
  EXPECT_EQ(before.Int("/own/last_changed_by/partition"), course_e_.position.partition);

  // The late transfer moves e out of dev-a's April row: the recorded event
  // must now come from the remaining contributor (a), not stay e's.
  h.Apply(transfer_e_);
  h.Commit();
  JsonView after(h.Kpi("dev-a", "2025-04"));
  EXPECT_EQ(after.Int("/own/population"), 1);
  EXPECT_EQ(after.Str("/own/last_changed_by/id"), hire_a_.event.id);
  JsonView sales(h.Kpi("sales", "2025-04"));
  EXPECT_EQ(sales.Int("/own/population"), 1);
  EXPECT_EQ(sales.Str("/own/last_changed_by/id"), course_e_.event.id);
  // The roll-up names the latest event of all its rows.
  EXPECT_EQ(JsonView(h.Kpi("corp", "2025-04")).Str("/rolled_up/last_changed_by/id"),
            course_e_.event.id);

  // Equal to building from the final events at once.
  Harness once;
  once.Apply(All());
  once.Commit();
  EXPECT_EQ(h.Kpi("dev-a", "2025-04"), once.Kpi("dev-a", "2025-04"));
  EXPECT_EQ(h.Kpi("corp", "FY2025"), once.Kpi("corp", "FY2025"));
  EXPECT_EQ(h.Digest(), once.Digest());
}

TEST_F(GlobalAuditTrailTest, CadenceEvictionAndRestartsDoNotChangeTheRecordedEvents) {
  Harness once;
  once.Apply(All());
  once.Commit();
  const std::string digest = once.Digest();

  std::vector<Fed> events = {hire_a_, hire_e_, course_e_, transfer_e_};
  std::sort(events.begin(), events.end(),
            [](const Fed& x, const Fed& y) { return x.event.id < y.event.id; });
  int orders = 0;
  do {
    // A checkpoint after every event, an aggregates cache of one entry (so
    // rows and facts are evicted and re-read from the store), and a restart
    // in the middle.
    ProjectorOptions options;
    options.cache_max_rows = 1;
    Harness h(options);
    h.Apply(reference_);
    h.Commit();
    for (size_t i = 0; i < events.size(); ++i) {
      h.Apply(events[i]);
      h.Commit();
      if (i == 1) h.Restart();
    }
    EXPECT_EQ(h.Digest(), digest) << "order " << orders;
    EXPECT_EQ(h.Kpi("dev-a", "2025-04"), once.Kpi("dev-a", "2025-04")) << "order " << orders;
    ++orders;
  } while (std::next_permutation(events.begin(), events.end(),
                                 [](const Fed& x, const Fed& y) { return x.event.id < y.event.id; }));
  EXPECT_EQ(orders, 24);
}

TEST_F(GlobalAuditTrailTest, EngagementAndOrgRollupsNameTheLatestMemberEvent) {
  Harness h;
  h.Apply(All());
  h.Commit();
  EXPECT_EQ(JsonView(h.Engagement("a")).Str("/last_changed_by/id"), hire_a_.event.id);
  EXPECT_EQ(JsonView(h.Engagement("e")).Str("/last_changed_by/id"), course_e_.event.id);
  JsonView dev(h.OrgEngagement("dev"));
  EXPECT_EQ(dev.Str("/rolled_up/last_changed_by/id"), hire_a_.event.id);
  EXPECT_TRUE(dev.At("/own/last_changed_by").is_null());  // nobody sits in dev itself
  EXPECT_EQ(JsonView(h.OrgEngagement("corp")).Str("/rolled_up/last_changed_by/id"),
            course_e_.event.id);
}

TEST_F(GlobalAuditTrailTest, ReferenceRowsNameTheirDefiningEventAndPosition) {
  Harness h;
  const Fed target = f_.Target("2025-02-01T00:00:00+09:00", "dev", "FY2025", "", "population", 10);
  const Fed renamed = f_.OrgUnit("2025-03-01T00:00:00+09:00", "dev", "corp");
  h.Apply(All());
  h.Apply({target, renamed});
  h.Commit();
  JsonView org(OrgUnitOf(h));
  EXPECT_EQ(org.Str("/last_changed_by/id"), renamed.event.id);
  EXPECT_EQ(org.Str("/last_changed_by/type"), "org.unit.defined");
  EXPECT_EQ(org.Str("/last_changed_by/topic"), "jiritsu.reference");
  EXPECT_EQ(org.Int("/last_changed_by/offset"), renamed.position.offset);
  JsonView kpi(h.Kpi("dev", "FY2025"));
  EXPECT_EQ(kpi.Str("/targets/0/set_by/id"), target.event.id);
  EXPECT_EQ(kpi.Int("/targets/0/set_by/offset"), target.position.offset);
  // Loaded back from the store (a restart) the positions are still there.
  h.Restart();
  EXPECT_EQ(JsonView(OrgUnitOf(h)).Int("/last_changed_by/offset"),
            renamed.position.offset);
}

TEST(KpiRowAuditTest, TracksTheGreatestRefUnderAddAndRemove) {
  const auto ref = [](int64_t time_us, std::string id) {
    EventRef r;
    r.type = static_cast<uint8_t>(EventType::kEmployeeHired);
    r.source = "s";
    r.id = std::move(id);
    r.time_us = time_us;
    r.topic = "jiritsu.employee";
    return r;
  };
  KpiRow row;
  row.AddContributor(ref(10, "x"));
  row.AddContributor(ref(30, "z"));
  row.AddContributor(ref(20, "y"));
  EXPECT_EQ(row.last_changed_by.id, "z");
  EXPECT_EQ(row.contributors, 3);
  EXPECT_FALSE(row.AuditStale());
  row.RemoveContributor(ref(10, "x"));  // not the greatest: nothing to recompute
  EXPECT_FALSE(row.AuditStale());
  row.RemoveContributor(ref(30, "z"));  // the greatest left: y is not known here
  EXPECT_TRUE(row.AuditStale());
  row.AddContributor(ref(40, "w"));  // greater than every remaining one
  EXPECT_FALSE(row.AuditStale());
  EXPECT_EQ(row.last_changed_by.id, "w");
  row.RemoveContributor(ref(40, "w"));
  row.RemoveContributor(ref(20, "y"));
  EXPECT_EQ(row.contributors, 0);
  EXPECT_FALSE(row.AuditStale());
  EXPECT_TRUE(row.IsZero());
  // Round trip of the stored form, and a row of the older format is refused
  // with the way out.
  row.AddContributor(ref(5, "v"));
  auto decoded = DecodeKpiRow(EncodeKpiRow(row));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->last_changed_by, row.last_changed_by);
  EXPECT_EQ(decoded->contributors, 1);
  std::string old_format = EncodeKpiRow(row);
  old_format[0] = 1;
  EXPECT_NE(DecodeKpiRow(old_format).status().message().find("replay --swap"), std::string::npos);
}

TEST(EventRefOrderTest, FoldOrderThenPosition) {
  EventRef early, late, late_other_pos, empty;
  early.source = late.source = late_other_pos.source = "s";
  early.id = "b";
  early.time_us = 1;
  late.id = "a";
  late.time_us = 2;
  late_other_pos = late;
  late_other_pos.offset = 7;
  EXPECT_TRUE(EventRefLess(early, late));  // time first, before id
  EXPECT_TRUE(EventRefLess(late, late_other_pos));
  EXPECT_TRUE(EventRefLess(empty, early));
  EXPECT_FALSE(EventRefLess(late, late));
}

}  // namespace
}  // namespace jiritsu::processors::testing
