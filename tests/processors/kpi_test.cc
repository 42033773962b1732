// Cross-measure KPIs per org unit x period x profile, hand-computed.
#include <gtest/gtest.h>

#include "tests/processors/harness.h"

namespace jiritsu::processors::testing {
namespace {

// FY2025 = 2025-04 .. 2026-03 (+09:00).
//   k1 dev-a, dx_literacy: career interview 05-10; enrols 06-01 (22 days later);
//      passes c-mind 06-20 and c-sec 07-05 (step 1); declares learning state 2
//      on 05-20; step-2 declaration 07-10, confirmed 07-12, finalised 07-20
//      (lead time 10 days, step 2 = mature).
//   k2 dev-a -> sales on 08-01, dx_literacy: career interview 06-01, 1on1
//      06-15; learning state 5 on 09-01; enrols 10-01 (122 days after the
//      interview: too late for "started within 90"); passes c-sec 10-20
//      (141 days: within 180); practice declaration 11-01, finalised 11-05
//      (lead time 4 days, in sales).
//   k3 dev since FY2024, dx_promoter: career interview 04-20, certification
//      05-01, cancelled interview 05-15, left 09-30.
//   k4 dev-a from 2025-12-01, nothing else.
class KpiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.Apply(StandardReference(f_));
    h_.Apply({
        f_.Hire("2025-04-01T09:00:00+09:00", "k1", "dev-a", "m1"),
        f_.Interview("2025-05-10T10:00:00+09:00", "k1", InterviewKind::kCareer),
        f_.SubmitLearningState("2025-05-20T10:00:00+09:00", "k1", "ls1", 2),
        f_.Enroll("2025-06-01T10:00:00+09:00", "k1", "c-mind"),
        f_.Complete("2025-06-20T10:00:00+09:00", "k1", "c-mind", 2),
        f_.Complete("2025-07-05T10:00:00+09:00", "k1", "c-sec", 3),
        f_.SubmitStep("2025-07-10T10:00:00+09:00", "k1", "d1", "dx_lit", 2),
        f_.Confirm("2025-07-12T10:00:00+09:00", "k1", "d1", "m1"),
        f_.Finalize("2025-07-20T10:00:00+09:00", "k1", "d1"),
    });
    h_.Apply({
        f_.Hire("2025-04-01T09:00:00+09:00", "k2", "dev-a", "m1"),
        f_.Interview("2025-06-01T10:00:00+09:00", "k2", InterviewKind::kCareer),
        f_.Interview("2025-06-15T10:00:00+09:00", "k2", InterviewKind::kOneOnOne),
        f_.Transfer("2025-08-01T09:00:00+09:00", "k2", "sales"),
        f_.SubmitLearningState("2025-09-01T10:00:00+09:00", "k2", "ls1", 5),
        f_.Enroll("2025-10-01T10:00:00+09:00", "k2", "c-sec"),
        f_.Complete("2025-10-20T10:00:00+09:00", "k2", "c-sec", 1.5),
        f_.SubmitPractice("2025-11-01T10:00:00+09:00", "k2", "p1", "dx_lit", 6),
        f_.Confirm("2025-11-02T10:00:00+09:00", "k2", "p1", "m1"),
        f_.Finalize("2025-11-05T10:00:00+09:00", "k2", "p1"),
    });
    h_.Apply({
        f_.Hire("2024-04-01T09:00:00+09:00", "k3", "dev", "m2", "dx_promoter"),
        f_.Interview("2025-04-20T10:00:00+09:00", "k3", InterviewKind::kCareer),
        f_.Certify("2025-05-01T10:00:00+09:00", "k3", "dx_passport_1"),
        f_.CancelInterview("2025-05-15T10:00:00+09:00", "k3"),
        f_.Leave("2025-09-30T18:00:00+09:00", "k3"),
    });
    h_.Apply(f_.Hire("2025-12-01T09:00:00+09:00", "k4", "dev-a", "m1"));
    h_.Apply({
        f_.Target("2025-04-01T00:00:00+09:00", "corp", "FY2025", "", "required_training_rate", 0.8),
        f_.Target("2025-04-01T00:00:00+09:00", "corp", "FY2025", "", "interviews_career", 6),
        f_.Target("2025-04-01T00:00:00+09:00", "corp", "FY2025", "", "no_such_metric", 1),
        // A later revision of a target replaces the earlier one.
        f_.Target("2025-03-01T00:00:00+09:00", "corp", "FY2025", "", "maturity_count", 9),
        f_.Target("2025-05-01T00:00:00+09:00", "corp", "FY2025", "", "maturity_count", 4),
    });
    h_.Commit();
  }

  EventFactory f_;
  Harness h_;
};

TEST_F(KpiTest, FiscalYearRolledUpOverTheSubtree) {
  JsonView k(h_.Kpi("dev", "FY2025"));
  EXPECT_EQ(k.Str("/period"), "FY2025");
  EXPECT_EQ(k.Str("/period_kind"), "fiscal_year");
  EXPECT_EQ(k.Str("/first_month"), "2025-04");
  EXPECT_EQ(k.Str("/last_month"), "2026-03");
  // Population at the end of March 2026: k1, k4 (k2 moved to sales, k3 left).
  EXPECT_EQ(k.Int("/rolled_up/population"), 2);
  EXPECT_EQ(k.Int("/rolled_up/required_training/completed"), 1);  // k1
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/required_training/rate"), 0.5);
  EXPECT_EQ(k.Int("/rolled_up/awareness/aware"), 1);
  EXPECT_EQ(k.Int("/rolled_up/awareness/declared"), 1);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/awareness/rate"), 0.5);
  EXPECT_EQ(k.Int("/rolled_up/maturity/at_step_2_plus"), 1);
  // Process counts, by the org unit at event time.
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_held/career"), 3);
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_held/one_on_one"), 1);
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_held/counseling"), 0);
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_held/total"), 4);
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_cancelled"), 1);
  EXPECT_EQ(k.Int("/rolled_up/process/trainings_enrolled"), 1);   // k2's was in sales
  EXPECT_EQ(k.Int("/rolled_up/process/trainings_completed"), 2);
  EXPECT_EQ(k.Int("/rolled_up/process/certifications"), 1);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/process/learning_hours"), 5.0);
  EXPECT_EQ(k.Int("/rolled_up/process/declarations_submitted"), 2);  // k1: state + step
  EXPECT_EQ(k.Int("/rolled_up/process/declarations_finalized"), 1);
  // The line: k1, k2, k3 had a career interview here in FY2025.
  EXPECT_EQ(k.Int("/rolled_up/line/interviewed"), 3);
  EXPECT_EQ(k.Int("/rolled_up/line/started_learning_90d/count"), 1);    // k1
  EXPECT_NEAR(k.Num("/rolled_up/line/started_learning_90d/rate"), 1.0 / 3, 1e-6);
  EXPECT_EQ(k.Int("/rolled_up/line/completed_learning_180d/count"), 2);  // k1, k2
  EXPECT_EQ(k.Int("/rolled_up/line/declared_365d/count"), 2);            // k1, k2
  EXPECT_EQ(k.Int("/rolled_up/line/finalized_365d/count"), 2);           // k1, k2
  EXPECT_EQ(k.Int("/rolled_up/line/finalized_365d/of"), 3);
  // Lead time: only k1's finalisation happened in dev/dev-a.
  EXPECT_EQ(k.Int("/rolled_up/approval_lead_time_days/count"), 1);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/approval_lead_time_days/p50"), 10);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/approval_lead_time_days/p90"), 10);
}

TEST_F(KpiTest, OwnCountsOnlyTheUnitItself) {
  JsonView k(h_.Kpi("dev", "FY2025"));
  EXPECT_EQ(k.Int("/own/population"), 0);  // k3 left
  EXPECT_EQ(k.Int("/own/process/interviews_held/career"), 1);
  EXPECT_EQ(k.Int("/own/process/interviews_cancelled"), 1);
  EXPECT_EQ(k.Int("/own/process/certifications"), 1);
  EXPECT_EQ(k.Int("/own/line/interviewed"), 1);
  EXPECT_EQ(k.Int("/own/line/started_learning_90d/count"), 0);
  EXPECT_DOUBLE_EQ(k.Num("/own/line/started_learning_90d/rate"), 0);
  EXPECT_TRUE(k.IsNull("/own/required_training/rate"));  // population 0
  EXPECT_TRUE(k.IsNull("/own/approval_lead_time_days/p50"));
  JsonView a(h_.Kpi("dev-a", "FY2025"));
  EXPECT_EQ(a.Int("/own/population"), 2);
  EXPECT_EQ(a.Int("/own/process/interviews_held/career"), 2);
}

TEST_F(KpiTest, RootRollupAndLeadTimePercentiles) {
  JsonView k(h_.Kpi("corp", "FY2025"));
  EXPECT_EQ(k.Size("/org_units"), 4u);
  EXPECT_EQ(k.Int("/rolled_up/population"), 3);  // k1, k2, k4
  EXPECT_EQ(k.Int("/rolled_up/required_training/completed"), 1);  // k2 lacks c-mind
  EXPECT_EQ(k.Int("/rolled_up/awareness/aware"), 1);
  EXPECT_EQ(k.Int("/rolled_up/awareness/declared"), 2);
  EXPECT_EQ(k.Int("/rolled_up/process/trainings_completed"), 3);
  EXPECT_EQ(k.Int("/rolled_up/process/trainings_enrolled"), 2);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/process/learning_hours"), 6.5);
  EXPECT_EQ(k.Int("/rolled_up/process/declarations_submitted"), 4);
  EXPECT_EQ(k.Int("/rolled_up/process/declarations_finalized"), 2);
  // Lead times {4, 10} days, nearest rank: p50 = 1st = 4, p90 = 2nd = 10.
  EXPECT_EQ(k.Int("/rolled_up/approval_lead_time_days/count"), 2);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/approval_lead_time_days/p50"), 4);
  EXPECT_DOUBLE_EQ(k.Num("/rolled_up/approval_lead_time_days/p90"), 10);
  EXPECT_EQ(k.Int("/rolled_up/line/interviewed"), 3);
}

TEST_F(KpiTest, FiscalQuartersAndMonths) {
  // 2025Q1 = Apr-Jun 2025: at the end of June k1, k2 (dev-a) and k3 (dev).
  JsonView q1(h_.Kpi("dev", "2025Q1"));
  EXPECT_EQ(q1.Str("/period_kind"), "fiscal_quarter");
  EXPECT_EQ(q1.Str("/first_month"), "2025-04");
  EXPECT_EQ(q1.Str("/last_month"), "2025-06");
  EXPECT_EQ(q1.Int("/rolled_up/population"), 3);
  EXPECT_EQ(q1.Int("/rolled_up/required_training/completed"), 0);  // c-sec came 07-05
  EXPECT_EQ(q1.Int("/rolled_up/awareness/aware"), 1);
  EXPECT_EQ(q1.Int("/rolled_up/process/interviews_held/career"), 3);
  EXPECT_EQ(q1.Int("/rolled_up/line/interviewed"), 3);
  EXPECT_EQ(q1.Int("/rolled_up/line/completed_learning_180d/count"), 2);
  // 2025Q2 = Jul-Sep: k3 left on 09-30, k2 is in sales.
  JsonView q2(h_.Kpi("dev", "2025Q2"));
  EXPECT_EQ(q2.Int("/rolled_up/population"), 1);
  EXPECT_EQ(q2.Int("/rolled_up/required_training/completed"), 1);
  EXPECT_EQ(q2.Int("/rolled_up/maturity/at_step_2_plus"), 1);
  EXPECT_EQ(q2.Int("/rolled_up/process/declarations_submitted"), 1);
  EXPECT_EQ(q2.Int("/rolled_up/line/interviewed"), 0);
  EXPECT_TRUE(q2.IsNull("/rolled_up/line/started_learning_90d/rate"));
  EXPECT_DOUBLE_EQ(q2.Num("/rolled_up/approval_lead_time_days/p50"), 10);
  // A calendar month.
  JsonView m(h_.Kpi("dev-a", "2025-07"));
  EXPECT_EQ(m.Str("/period_kind"), "month");
  EXPECT_EQ(m.Int("/own/process/trainings_completed"), 1);
  EXPECT_EQ(m.Int("/own/process/declarations_submitted"), 1);
  EXPECT_EQ(m.Int("/own/process/declarations_finalized"), 1);
  EXPECT_EQ(m.Int("/own/population"), 2);  // k1, k2 at the end of July
  // The previous fiscal year: only k3 was employed.
  JsonView fy24(h_.Kpi("corp", "FY2024"));
  EXPECT_EQ(fy24.Int("/rolled_up/population"), 1);
  EXPECT_EQ(fy24.Int("/rolled_up/process/interviews_held/total"), 0);
}

TEST_F(KpiTest, UnknownTalentProfileIsAnErrorNotZeroes) {
  Result<std::string> typo = h_.Query().Kpi("corp", "FY2025", "dx_promotor");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(typo.status().message().find("\"dx_promotor\" is not defined by any programme"),
            std::string::npos)
      << typo.status().ToString();
  EXPECT_NE(typo.status().message().find("dx_literacy, dx_promoter"), std::string::npos);
}

TEST_F(KpiTest, TalentProfileFilter) {
  JsonView pro(h_.Kpi("corp", "FY2025", "dx_promoter"));
  EXPECT_EQ(pro.Str("/talent_profile"), "dx_promoter");
  EXPECT_EQ(pro.Int("/rolled_up/population"), 0);
  EXPECT_EQ(pro.Int("/rolled_up/process/interviews_held/career"), 1);
  EXPECT_EQ(pro.Int("/rolled_up/process/certifications"), 1);
  JsonView lit(h_.Kpi("corp", "FY2025", "dx_literacy"));
  EXPECT_EQ(lit.Int("/rolled_up/population"), 3);
  EXPECT_EQ(lit.Int("/rolled_up/process/interviews_held/career"), 2);
  EXPECT_EQ(lit.Int("/rolled_up/process/certifications"), 0);
}

TEST_F(KpiTest, ProgressAgainstTargets) {
  JsonView k(h_.Kpi("corp", "FY2025"));
  ASSERT_EQ(k.Size("/targets"), 4u);  // sorted by metric
  EXPECT_EQ(k.Str("/targets/0/metric"), "interviews_career");
  EXPECT_DOUBLE_EQ(k.Num("/targets/0/value"), 3);
  EXPECT_DOUBLE_EQ(k.Num("/targets/0/ratio"), 0.5);
  EXPECT_EQ(k.Str("/targets/1/metric"), "maturity_count");
  EXPECT_DOUBLE_EQ(k.Num("/targets/1/target"), 4);  // the later revision
  EXPECT_DOUBLE_EQ(k.Num("/targets/1/ratio"), 0.25);
  EXPECT_EQ(k.Str("/targets/2/metric"), "no_such_metric");
  EXPECT_TRUE(k.IsNull("/targets/2/value"));
  EXPECT_FALSE(k.Bool("/targets/2/known_metric"));
  EXPECT_EQ(k.Str("/targets/3/metric"), "required_training_rate");
  EXPECT_NEAR(k.Num("/targets/3/value"), 1.0 / 3, 1e-6);
  EXPECT_NEAR(k.Num("/targets/3/ratio"), (1.0 / 3) / 0.8, 1e-6);
  // Targets are per (org, period, profile).
  JsonView other(h_.Kpi("dev", "FY2025"));
  EXPECT_EQ(other.Size("/targets"), 0u);
}

TEST_F(KpiTest, PeriodSyntaxIsValidated) {
  for (const char* bad : {"2025", "FY25", "2025Q5", "2025-13", "2025-7", "Q1", "FY2025-04"}) {
    EXPECT_EQ(h_.Query().Kpi("corp", bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  // FY2025Q3 is accepted as an alias of 2025Q3.
  JsonView alias(h_.Kpi("corp", "FY2025Q3"));
  EXPECT_EQ(alias.Str("/period"), "2025Q3");
  EXPECT_EQ(alias.Str("/first_month"), "2025-10");
}

TEST_F(KpiTest, ReplacingFactsSubtractsTheOldContribution) {
  // A late, earlier transfer of k2: the June interviews now count for sales.
  h_.Apply(f_.Transfer("2025-05-15T09:00:00+09:00", "k2", "sales"));
  h_.Commit();
  JsonView k(h_.Kpi("dev", "FY2025"));
  EXPECT_EQ(k.Int("/rolled_up/process/interviews_held/career"), 2);
  EXPECT_EQ(k.Int("/rolled_up/line/interviewed"), 2);
  JsonView s(h_.Kpi("sales", "FY2025"));
  EXPECT_EQ(s.Int("/own/process/interviews_held/career"), 1);
  EXPECT_EQ(s.Int("/own/process/interviews_held/one_on_one"), 1);
  JsonView corp(h_.Kpi("corp", "FY2025"));
  EXPECT_EQ(corp.Int("/rolled_up/process/interviews_held/career"), 3);  // unchanged overall
}

}  // namespace
}  // namespace jiritsu::processors::testing
