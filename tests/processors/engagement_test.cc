// Engagement indicators per employee and their org roll-ups, on a small
// hand-made population with hand-computed expectations (see comments).
#include <gtest/gtest.h>

#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

// View time T = 2025-06-30T12:00+09:00 (e2's transfer, the latest event).
//   90-day window:  (2025-04-01T12:00, T]
//   365-day window: (2024-06-30T12:00, T]
//   180-day at-risk window: (2025-01-01T12:00, T]
class EngagementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.Apply(StandardReference(f_));
    const char* hired = "2024-01-10T09:00:00+09:00";
    // e1 (dev-a): active learner, leading.
    h_.Apply({
        f_.Hire(hired, "e1", "dev-a", "m1"),
        f_.Interview("2024-11-01T10:00:00+09:00", "e1", InterviewKind::kCareer),
        f_.Enroll("2025-01-15T10:00:00+09:00", "e1", "c-x"),
        f_.Progress("2025-03-20T10:00:00+09:00", "e1", "c-x", 4.5),
        f_.Complete("2025-04-05T10:00:00+09:00", "e1", "c-x", 2),
        f_.Interview("2025-04-15T10:00:00+09:00", "e1", InterviewKind::kCareer),
        f_.SubmitLearningState("2025-04-20T10:00:00+09:00", "e1", "ls1", 4),
        f_.Interview("2025-04-25T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
        f_.Progress("2025-05-10T10:00:00+09:00", "e1", "c-y", 1.25),
        f_.Interview("2025-05-25T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
        f_.Complete("2025-06-01T10:00:00+09:00", "e1", "c-y", 3, /*passed=*/false),
        f_.SubmitLearningState("2025-06-10T10:00:00+09:00", "e1", "ls2", 2),
        f_.Certify("2025-06-15T10:00:00+09:00", "e1", "it_passport"),
        f_.Interview("2025-06-20T10:00:00+09:00", "e1", InterviewKind::kOneOnOne),
    });
    // e2 (sales -> dev at T): nothing at all for 1.5 years: at risk, lagging.
    h_.Apply({f_.Hire(hired, "e2", "sales", "m2"),
              f_.Transfer("2025-06-30T12:00:00+09:00", "e2", "dev")});
    // e3 (dev-a): hired a month ago, no activity: lagging, not at risk (tenure).
    h_.Apply(f_.Hire("2025-06-01T09:00:00+09:00", "e3", "dev-a", "m1"));
    // e4 (sales): declared 6; learned 7 months ago; no interview: lagging, at risk.
    h_.Apply({f_.Hire(hired, "e4", "sales", "m2"),
              f_.Progress("2024-12-01T10:00:00+09:00", "e4", "c-z", 1),
              f_.SubmitLearningState("2025-02-01T10:00:00+09:00", "e4", "ls1", 6)});
    // e5 (dev): enrolled in February, one 1on1 in May: middle, not at risk.
    h_.Apply({f_.Hire(hired, "e5", "dev", "m2"),
              f_.Enroll("2025-02-01T10:00:00+09:00", "e5", "c-q"),
              f_.Interview("2025-05-01T10:00:00+09:00", "e5", InterviewKind::kOneOnOne)});
    h_.Commit();
  }

  EventFactory f_;
  Harness h_;
};

TEST_F(EngagementTest, ViewTimeIsTheLatestEventTime) {
  auto t = h_.Query().ViewTime();
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->has_value());
  EXPECT_EQ(**t, At("2025-06-30T12:00:00+09:00"));
}

TEST_F(EngagementTest, ActiveLearnerIndicators) {
  JsonView e(h_.Engagement("e1"));
  EXPECT_EQ(e.Str("/as_of"), "2025-06-30T12:00:00+09:00");
  EXPECT_TRUE(e.Bool("/employed"));
  EXPECT_EQ(e.Str("/org_unit"), "dev-a");
  EXPECT_EQ(e.Int("/learning_state/value"), 2);
  EXPECT_EQ(e.Str("/learning_state/declared_at"), "2025-06-10T10:00:00+09:00");
  EXPECT_EQ(e.Str("/last_learning_activity"), "2025-06-15T10:00:00+09:00");  // certification
  // 90d: 2 (c-x done 04-05) + 1.25 (05-10) + 3 (c-y failed 06-01) = 6.25
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_90d"), 6.25);
  // 365d: + 4.5 (03-20) = 10.75 (enrolments carry no hours)
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_365d"), 10.75);
  EXPECT_EQ(e.Int("/completions_90d"), 1);  // the failed completion does not count
  EXPECT_EQ(e.Int("/completions_365d"), 1);
  // Active months 2025-01, 03, 04, 05, 06: streak 06-05-04-03 = 4.
  EXPECT_EQ(e.Int("/active_month_streak"), 4);
  EXPECT_EQ(e.Str("/last_career_interview"), "2025-04-15T10:00:00+09:00");
  EXPECT_EQ(e.Int("/one_on_ones_90d/count"), 3);
  EXPECT_EQ(e.Int("/one_on_ones_90d/expected"), 3);
  EXPECT_EQ(e.Str("/one_on_ones_90d/bucket"), "on_rhythm");
  EXPECT_EQ(e.Str("/career_interviews_fy/fiscal_year"), "FY2025");
  EXPECT_EQ(e.Int("/career_interviews_fy/count"), 1);  // 2024-11-01 is FY2024
  EXPECT_EQ(e.Str("/career_interviews_fy/bucket"), "recommended");
  EXPECT_EQ(e.Int("/breadth_fy/count"), 4);
  EXPECT_EQ(e.Size("/breadth_fy/measures"), 4u);
  EXPECT_EQ(e.Str("/segment"), "leading");
  EXPECT_FALSE(e.Bool("/at_risk"));
}

TEST_F(EngagementTest, InactiveEmployeeIsAtRiskAndLagging) {
  JsonView e(h_.Engagement("e2"));
  EXPECT_EQ(e.Str("/org_unit"), "dev");
  EXPECT_TRUE(e.IsNull("/learning_state"));
  EXPECT_TRUE(e.IsNull("/last_learning_activity"));
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_365d"), 0);
  EXPECT_EQ(e.Int("/active_month_streak"), 0);
  EXPECT_EQ(e.Str("/one_on_ones_90d/bucket"), "none");
  EXPECT_EQ(e.Str("/career_interviews_fy/bucket"), "none");
  EXPECT_EQ(e.Int("/breadth_fy/count"), 0);
  EXPECT_EQ(e.Str("/segment"), "lagging");
  EXPECT_TRUE(e.Bool("/at_risk"));
}

TEST_F(EngagementTest, NewHireIsNotAtRiskBeforeTheAtRiskPeriodElapsed) {
  JsonView e(h_.Engagement("e3"));
  EXPECT_EQ(e.Str("/segment"), "lagging");
  EXPECT_FALSE(e.Bool("/at_risk"));
}

TEST_F(EngagementTest, DeclaredSixWithOldActivityIsLaggingAndAtRisk) {
  JsonView e(h_.Engagement("e4"));
  EXPECT_EQ(e.Int("/learning_state/value"), 6);
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_365d"), 1);  // 2024-12-01 is inside 365d
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_90d"), 0);
  EXPECT_EQ(e.Str("/segment"), "lagging");
  EXPECT_TRUE(e.Bool("/at_risk"));  // last activity 2024-12-01 is before T-180d
}

TEST_F(EngagementTest, SomeActivityAndA1on1IsMiddleAndNotAtRisk) {
  JsonView e(h_.Engagement("e5"));
  EXPECT_EQ(e.Str("/segment"), "middle");  // active in 365d, not in 90d, no state
  EXPECT_FALSE(e.Bool("/at_risk"));        // the 1on1 of 05-01 is within 180 days
  EXPECT_EQ(e.Int("/one_on_ones_90d/count"), 1);
  EXPECT_EQ(e.Str("/one_on_ones_90d/bucket"), "below");
  // February was active but neither June nor May: no running streak.
  EXPECT_EQ(e.Int("/active_month_streak"), 0);
  // FY2025: the 1on1 only (the February enrolment is FY2024).
  EXPECT_EQ(e.Int("/breadth_fy/count"), 1);
  EXPECT_EQ(e.Str("/breadth_fy/measures/0"), "interview");
}

TEST_F(EngagementTest, ExplicitAsOfEvaluatesThePast) {
  JsonView e(h_.Engagement("e1", At("2025-04-30T12:00:00+09:00")));
  EXPECT_EQ(e.Str("/as_of"), "2025-04-30T12:00:00+09:00");
  EXPECT_EQ(e.Int("/learning_state/value"), 4);
  // (2025-01-30T12:00, as_of]: 4.5 (03-20) + 2 (04-05).
  EXPECT_DOUBLE_EQ(e.Num("/learning_hours_90d"), 6.5);
  EXPECT_EQ(e.Int("/completions_90d"), 1);
  EXPECT_EQ(e.Int("/active_month_streak"), 2);  // 04, 03
  EXPECT_EQ(e.Int("/one_on_ones_90d/count"), 1);
  EXPECT_EQ(e.Str("/segment"), "middle");  // active, but state 4 and 1 completion
}

TEST_F(EngagementTest, OrgRollupOwnAndSubtree) {
  JsonView o(h_.OrgEngagement("dev"));
  EXPECT_EQ(o.Str("/as_of"), "2025-06-30T12:00:00+09:00");
  EXPECT_EQ(o.Size("/org_units"), 2u);  // dev, dev-a
  // Own members: e2 (transferred in at T) and e5.
  EXPECT_EQ(o.Int("/own/population"), 2);
  EXPECT_EQ(o.Int("/own/at_risk"), 1);
  EXPECT_EQ(o.Int("/own/segments/lagging"), 1);
  EXPECT_EQ(o.Int("/own/segments/middle"), 1);
  EXPECT_EQ(o.Int("/own/learning_state/undeclared"), 2);
  EXPECT_EQ(o.Int("/own/breadth/0"), 1);
  EXPECT_EQ(o.Int("/own/breadth/1"), 1);
  // Subtree: e1, e3 (dev-a) + e2, e5 (dev).
  EXPECT_EQ(o.Int("/rolled_up/population"), 4);
  EXPECT_EQ(o.Int("/rolled_up/at_risk"), 1);
  EXPECT_DOUBLE_EQ(o.Num("/rolled_up/at_risk_rate"), 0.25);
  EXPECT_EQ(o.Int("/rolled_up/segments/leading"), 1);
  EXPECT_EQ(o.Int("/rolled_up/segments/middle"), 1);
  EXPECT_EQ(o.Int("/rolled_up/segments/lagging"), 2);
  EXPECT_EQ(o.Int("/rolled_up/learning_state/2"), 1);
  EXPECT_EQ(o.Int("/rolled_up/learning_state/undeclared"), 3);
  EXPECT_DOUBLE_EQ(o.Num("/rolled_up/aware_rate"), 0.25);
  EXPECT_EQ(o.Int("/rolled_up/one_on_one_cadence/on_rhythm"), 1);
  EXPECT_EQ(o.Int("/rolled_up/one_on_one_cadence/below"), 1);
  EXPECT_EQ(o.Int("/rolled_up/one_on_one_cadence/none"), 2);
  EXPECT_EQ(o.Int("/rolled_up/career_interview_cadence/recommended"), 1);
  EXPECT_EQ(o.Int("/rolled_up/career_interview_cadence/none"), 3);
  EXPECT_EQ(o.Int("/rolled_up/breadth/4"), 1);
  EXPECT_EQ(o.Int("/rolled_up/breadth/1"), 1);
  EXPECT_EQ(o.Int("/rolled_up/breadth/0"), 2);
  EXPECT_EQ(o.Int("/rolled_up/active_last_90d"), 1);
  EXPECT_DOUBLE_EQ(o.Num("/rolled_up/learning_hours_365d_total"), 10.75);
  EXPECT_DOUBLE_EQ(o.Num("/rolled_up/learning_hours_365d_mean"), 10.75 / 4);
  // Per segment.
  EXPECT_EQ(o.Int("/rolled_up/by_segment/lagging/population"), 2);
  EXPECT_EQ(o.Int("/rolled_up/by_segment/lagging/at_risk"), 1);
  EXPECT_EQ(o.Int("/rolled_up/by_segment/leading/learning_state/2"), 1);
}

TEST_F(EngagementTest, RootRollupCoversEveryone) {
  JsonView o(h_.OrgEngagement("corp"));
  EXPECT_EQ(o.Int("/own/population"), 0);
  EXPECT_EQ(o.Int("/rolled_up/population"), 5);
  EXPECT_EQ(o.Int("/rolled_up/at_risk"), 2);  // e2, e4
  EXPECT_EQ(o.Int("/rolled_up/segments/lagging"), 3);
  EXPECT_EQ(o.Int("/rolled_up/learning_state/6"), 1);
}

TEST_F(EngagementTest, PastAsOfUsesTheOrgUnitAtThatTime) {
  // On 2025-05-31 e2 was still in sales and e3 not hired yet.
  JsonView o(h_.OrgEngagement("dev", At("2025-05-31T12:00:00+09:00")));
  EXPECT_EQ(o.Int("/rolled_up/population"), 2);  // e1, e5
  EXPECT_EQ(o.Int("/own/population"), 1);        // e5
  JsonView s(h_.OrgEngagement("sales", At("2025-05-31T12:00:00+09:00")));
  EXPECT_EQ(s.Int("/own/population"), 2);  // e2, e4
}

TEST(EngagementOptionsTest, AtRiskDaysIsConfigurable) {
  ProjectorOptions options;
  options.at_risk_days = 30;
  EventFactory f;
  Harness h(options);
  h.Apply(StandardReference(f));
  h.Apply({f.Hire("2024-01-10T09:00:00+09:00", "e5", "dev", "m2"),
           f.Interview("2025-05-01T10:00:00+09:00", "e5", InterviewKind::kOneOnOne),
           f.Progress("2025-06-30T12:00:00+09:00", "x", "c", 1)});
  h.Apply(f.Hire("2024-01-10T09:00:00+09:00", "x", "dev", "m2"));  // late hire: re-fold
  h.Commit();
  JsonView e(h.Engagement("e5"));
  EXPECT_TRUE(e.Bool("/at_risk"));  // the 1on1 is 60 days before T
  EXPECT_EQ(e.Int("/at_risk_days"), 30);
  JsonView x(h.Engagement("x"));
  EXPECT_FALSE(x.Bool("/at_risk"));
  EXPECT_DOUBLE_EQ(x.Num("/learning_hours_90d"), 1);
}

}  // namespace
}  // namespace jiritsu::processors::testing
